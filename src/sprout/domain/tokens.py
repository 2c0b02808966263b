"""``nextToken``: where a listing's next page starts, bound to the listing that gave it.

A token is URL-safe base64 of a small JSON object: the page's position (the listing's own keys)
and ``l``, a digest of the listing's identity — its kind and whose it is (``listing("builds",
app)``, ``listing("deployments", app, stage)``, ...). A token handed to another listing (another
app's builds, another stage's logs, builds instead of deployments) is refused: 400 naming
``nextToken``, never a page of the wrong listing. The digest binds, it does not authenticate: who
may read a listing is IAM's answer, and a token made by hand only moves within its own listing.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from typing import Any

from sprout.domain.errors import InvalidInput

MAX_TOKEN = 4096  # no token Sprout gives is near this


def listing(kind: str, *owner: str) -> str:
    """A listing's identity: its kind and whose it is (app, stage, function...)."""
    return "#".join((kind, *owner))


def _digest(name: str) -> str:
    return hashlib.sha256(name.encode()).hexdigest()[:16]


def seal(name: str, position: dict[str, Any]) -> str:
    """The ``nextToken`` of listing ``name`` for ``position`` (a JSON object without ``l``)."""
    raw = json.dumps({**position, "l": _digest(name)}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def unseal(name: str, token: str) -> dict[str, Any]:
    """The position a ``nextToken`` holds, when listing ``name`` gave it; else 400 ``nextToken``."""
    try:
        if not isinstance(token, str) or len(token) > MAX_TOKEN:
            raise ValueError(token)
        doc = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
        if not isinstance(doc, dict) or not isinstance(doc.get("l"), str):
            raise ValueError(token)
    except (binascii.Error, ValueError, TypeError, UnicodeDecodeError, RecursionError):
        raise InvalidInput("nextToken", "is not a token this API gave") from None
    if doc.pop("l") != _digest(name):
        raise InvalidInput("nextToken", "was given by another listing: pass a token back only to the listing that returned it")
    return doc
