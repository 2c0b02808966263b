"""Lambda's event filtering (``FilterCriteria``): a record reaches the function only if it matches
one of the mapping's filter patterns (EventBridge's pattern syntax, matched by moto's EventPattern
with localcloud's array flattening). For SQS, a message whose body is JSON is matched with the
body as that JSON (else as its text); a message that matches no filter is deleted without an
invocation. For DynamoDB streams a record that matches no filter is skipped.
(https://docs.aws.amazon.com/lambda/latest/dg/invocation-eventfiltering.html)"""

from __future__ import annotations

import json
from typing import Any

from localcloud.moto_hooks import require

_WHY = "Lambda's FilterCriteria use EventBridge's pattern syntax: parse (EventPatternParser) and match (EventPattern)"
_Parser = require("moto.events.models", "EventPatternParser", _WHY)
_Pattern = require("moto.events.models", "EventPattern", _WHY)
_Invalid = require("moto.events.exceptions", "InvalidEventPatternException", _WHY)


class InvalidFilter(ValueError):
    pass


def patterns(filter_criteria: Any) -> list[Any]:
    """The compiled patterns of ``{"Filters": [{"Pattern": "<json>"}]}``; InvalidFilter names a bad one."""
    out = []
    for item in (filter_criteria or {}).get("Filters") or []:
        text = item.get("Pattern") if isinstance(item, dict) else None
        if not isinstance(text, str):
            raise InvalidFilter(f"a filter needs a Pattern (a JSON text), got {item!r}")
        try:
            out.append(_Pattern(text, _Parser(text).parse()))
        except _Invalid as e:
            raise InvalidFilter(f"Invalid filter pattern definition: {text} ({getattr(e, 'message', e)})") from None
    return out


def matches(compiled: list[Any], record: dict[str, Any]) -> bool:
    if not compiled:
        return True
    return any(p.matches_event(record) for p in compiled)


def sqs_view(record: dict[str, Any]) -> dict[str, Any]:
    """An SQS record as filters see it: a JSON body as its JSON."""
    try:
        body = json.loads(record.get("body") or "")
    except ValueError:
        return record
    return {**record, "body": body} if isinstance(body, (dict, list)) else record
