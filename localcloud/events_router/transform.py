"""What a rule's target receives: the event, ``Input``, ``InputPath`` or ``InputTransformer``.

AWS semantics (EventBridge "Amazon EventBridge input transformation"):

- no input setting: the whole event, as JSON;
- ``Input``: that JSON text, as given (the event is not passed);
- ``InputPath``: the part of the event the JSON path selects, as JSON;
- ``InputTransformer``: ``InputPathsMap`` names values of the event by JSON path, and each
  ``<name>`` in ``InputTemplate`` is replaced. Inside a JSON string (between quotes) a placeholder
  becomes the value's text, unescaped (a string without its quotes); elsewhere in a JSON template it
  becomes the value as JSON (a string with quotes). A template that is not JSON (plain text) gets
  every value as text. A path that matches nothing creates no variable: its placeholder becomes
  ``null`` (or nothing, inside a string). Reserved variables: ``aws.events.rule-arn``,
  ``aws.events.rule-name``, ``aws.events.event.ingestion-time`` (ISO 8601),
  ``aws.events.event`` (the event without ``detail``) and ``aws.events.event.json`` (the whole
  event). JSON results are passed on minified.

JSON paths: AWS supports dot notation, dashes, underscores, array indices and wildcards; so does
``json_path``.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from typing import Any

_MISSING = object()
_EVENT_KEYS = ("version", "id", "detail-type", "source", "account", "time", "region", "resources", "detail")
_PLACEHOLDER = re.compile(r"<([A-Za-z0-9_.\-]+)>")


class InvalidJsonPath(ValueError):
    pass


def iso_time(value: Any) -> Any:
    """moto keeps event times as epoch seconds; AWS sends ``2015-11-11T21:29:54Z``."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return datetime.fromtimestamp(value, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return value


def aws_event(moto_event: dict[str, Any]) -> dict[str, Any]:
    """The event as AWS delivers it to a target, from moto's internal message."""
    event = {k: moto_event[k] for k in _EVENT_KEYS if k in moto_event}
    for k, v in moto_event.items():
        if k not in event and k != "ingestion-time":
            event[k] = v
    event["time"] = iso_time(event.get("time"))
    return event


def _path_tokens(path: str) -> list[str | int]:
    if not path.startswith("$"):
        raise InvalidJsonPath(f"JSON path {path!r} must start with '$'")
    tokens: list[str | int] = []
    for m in re.finditer(r"\.([^.\[\]]+)|\[(\d+|\*)\]|(.)", path[1:]):
        key, index, junk = m.groups()
        if junk is not None:
            raise InvalidJsonPath(f"JSON path {path!r}: unexpected {junk!r}")
        tokens.append(key if key is not None else (index if index == "*" else int(index)))
    return tokens


def json_path(document: Any, path: str) -> Any:
    """The value at ``path``; a list of values when the path has a wildcard; ``_MISSING`` if none."""
    tokens = _path_tokens(path)
    nodes = [document]
    wildcard = False
    for token in tokens:
        found: list[Any] = []
        for node in nodes:
            if token == "*":
                wildcard = True
                found.extend(
                    node.values() if isinstance(node, dict) else node if isinstance(node, list) else []
                )
            elif isinstance(token, int):
                if isinstance(node, list) and token < len(node):
                    found.append(node[token])
            elif isinstance(node, dict) and token in node:
                found.append(node[token])
        nodes = found
    if wildcard:
        return nodes
    return nodes[0] if nodes else _MISSING


def _as_text(value: Any) -> str:
    if isinstance(value, str):
        return value
    if value is _MISSING:
        return ""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def _as_json(value: Any) -> str:
    if value is _MISSING:
        return "null"
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def render_template(template: str, variables: dict[str, Any], placeholder: re.Pattern[str] = _PLACEHOLDER) -> str:
    """Fill ``<name>`` placeholders; see the module docstring for string vs JSON placement."""
    json_mode = template.lstrip()[:1] in ("{", "[", '"')
    out: list[str] = []
    in_string = False
    i = 0
    while i < len(template):
        c = template[i]
        if c == "<":
            m = placeholder.match(template, i)
            if m and m.group(1) in variables:
                value = variables[m.group(1)]
                out.append(_as_json(value) if json_mode and not in_string else _as_text(value))
                i = m.end()
                continue
        if json_mode:
            if c == "\\" and in_string:
                out.append(template[i : i + 2])
                i += 2
                continue
            if c == '"':
                in_string = not in_string
        out.append(c)
        i += 1
    return "".join(out)


def _minified(text: str) -> str:
    try:
        return json.dumps(json.loads(text), separators=(",", ":"), ensure_ascii=False)
    except ValueError:
        return text


def target_input(target: dict[str, Any], moto_event: dict[str, Any], rule_arn: str, rule_name: str) -> str:
    """The text a target receives for ``moto_event`` (moto's internal message of the event)."""
    event = aws_event(moto_event)
    if target.get("Input") is not None:
        return target["Input"]
    if target.get("InputPath"):
        return _as_json(json_path(event, target["InputPath"]))
    transformer = target.get("InputTransformer")
    if transformer:
        variables: dict[str, Any] = {}
        for name, path in (transformer.get("InputPathsMap") or {}).items():
            value = json_path(event, path)
            variables[name] = value
        variables.update(
            {
                "aws.events.rule-arn": rule_arn,
                "aws.events.rule-name": rule_name,
                "aws.events.event.ingestion-time": iso_time(
                    moto_event.get("ingestion-time", event.get("time"))
                ),
                "aws.events.event": {k: v for k, v in event.items() if k != "detail"},
                "aws.events.event.json": event,
            }
        )
        return _minified(render_template(transformer["InputTemplate"], variables))
    return _as_json(event)


def value_of(value: Any, event: dict[str, Any]) -> str:
    """A static value, or the value at a JSON path (a string as is, anything else as JSON)."""
    text = str(value)
    if not text.startswith("$."):
        return text
    found = json_path(event, text)
    if found is _MISSING:
        return ""
    return found if isinstance(found, str) else json.dumps(found, separators=(",", ":"), ensure_ascii=False)
