"""Cognito user pool authorizers of REST APIs (``COGNITO_USER_POOLS``), as API Gateway checks them.

The token is the identity-source header's value (``Authorization``, the JWT itself). API Gateway
accepts it only when: it is a JWT signed by one of the authorizer's user pools (``providerARNs``),
verified with that pool's JSON Web Key Set (the local Cognito's, read from
``{endpoint}/{poolId}/.well-known/jwks.json`` as a client reads AWS's), RS256; its ``iss`` is
``https://cognito-idp.{region}.amazonaws.com/{poolId}`` of one of them; it has not expired; and,
when the method names OAuth scopes (``authorizationScopes``), it is an access token with one of
them in ``scope``, else an ID token (``token_use: id``). Otherwise 401 ``{"message":"Unauthorized"}``.

The integration sees the token's claims in ``requestContext.authorizer.claims`` (values as text).
"""

from __future__ import annotations

import base64
import json
import threading
import time
import urllib.request
from collections.abc import Callable
from typing import Any

from joserfc import jwk, jwt
from joserfc.errors import JoseError

JWKS_TTL_S = 300.0


class InvalidToken(Exception):
    """The token is not one the authorizer accepts (API Gateway answers 401)."""


class UserPoolTokens:
    def __init__(self, endpoint: Callable[[], str]):
        self._endpoint = endpoint
        self._keys: dict[str, tuple[float, Any]] = {}
        self._lock = threading.Lock()

    def _key_set(self, pool_id: str) -> Any:
        now = time.monotonic()
        with self._lock:
            hit = self._keys.get(pool_id)
        if hit is not None and now - hit[0] < JWKS_TTL_S:
            return hit[1]
        url = f"{self._endpoint()}/{pool_id}/.well-known/jwks.json"
        try:
            with urllib.request.urlopen(url, timeout=10) as answer:  # noqa: S310 - the local endpoint
                key_set = jwk.KeySet.import_key_set(json.loads(answer.read()))
        except (OSError, ValueError, JoseError) as e:
            raise InvalidToken(f"the JSON Web Key Set of user pool {pool_id} cannot be read: {e}") from None
        with self._lock:
            self._keys[pool_id] = (now, key_set)
        return key_set

    def claims(self, token: str, provider_arns: list[str], scopes: list[str]) -> dict[str, Any]:
        """The token's claims when the authorizer accepts it (see the module doc); else InvalidToken."""
        issuer = _issuer(token)
        pools = {arn.rsplit("/", 1)[-1]: arn for arn in provider_arns}
        pool_id = issuer.rsplit("/", 1)[-1]
        region = pools.get(pool_id, "").split(":")[3] if pool_id in pools else ""
        if pool_id not in pools or issuer != f"https://cognito-idp.{region}.amazonaws.com/{pool_id}":
            raise InvalidToken(f"issuer {issuer!r} is not one of the authorizer's user pools")
        try:
            decoded = jwt.decode(token, self._key_set(pool_id), algorithms=["RS256"])
        except (JoseError, ValueError) as e:
            raise InvalidToken(f"signature: {e}") from None
        claims = dict(decoded.claims)
        if not isinstance(claims.get("exp"), (int, float)) or claims["exp"] <= time.time():
            raise InvalidToken("the token has expired")
        if scopes:
            granted = str(claims.get("scope", "")).split()
            if claims.get("token_use") != "access" or not set(scopes) & set(granted):
                raise InvalidToken(f"an access token with one of the scopes {scopes} is required")
        elif claims.get("token_use") != "id":
            raise InvalidToken("an ID token is required (the method names no OAuth scopes)")
        return claims


def _issuer(token: str) -> str:
    """The ``iss`` of a JWT's payload, read before its signature is checked (to pick the pool)."""
    try:
        payload = token.split(".")[1]
        data = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except (IndexError, ValueError) as e:
        raise InvalidToken(f"not a JWT: {e}") from None
    if not isinstance(data, dict) or not isinstance(data.get("iss"), str):
        raise InvalidToken("the token has no issuer")
    return data["iss"]


def claim_texts(claims: dict[str, Any]) -> dict[str, str]:
    """Claims as a REST API's ``requestContext.authorizer.claims`` holds them: text; ``exp`` and
    ``iat`` as dates (``Mon Dec 02 11:00:00 UTC 2026``); lists comma-joined."""
    out: dict[str, str] = {}
    for name, value in claims.items():
        if name in ("exp", "iat") and isinstance(value, (int, float)):
            out[name] = time.strftime("%a %b %d %H:%M:%S UTC %Y", time.gmtime(value))
        elif isinstance(value, bool):
            out[name] = "true" if value else "false"
        elif isinstance(value, list):
            out[name] = ",".join(str(v) for v in value)
        elif isinstance(value, dict):
            out[name] = json.dumps(value)
        else:
            out[name] = str(value)
    return out

