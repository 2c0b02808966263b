"""Jinja filters and globals the console's templates share."""

from __future__ import annotations

import json
import urllib.parse
from datetime import UTC, datetime
from typing import Any

from jinja2 import Environment

from sprout.cli.client import api_path
from sprout.domain.changeset import masked_config


def parse_time(value: Any) -> datetime | None:
    """An API time (ISO 8601 UTC, ``Z`` suffix) or epoch milliseconds as an aware datetime."""
    if value in (None, ""):
        return None
    if isinstance(value, (int, float)) or (isinstance(value, str) and value.isdigit()):
        return datetime.fromtimestamp(int(value) / 1000, UTC)
    try:
        parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def when(value: Any) -> str:
    """``2026-12-02 10:31:29`` (UTC) for an API time; the value as given when it is not one."""
    parsed = parse_time(value)
    return parsed.strftime("%Y-%m-%d %H:%M:%S") if parsed else str(value or "—")


def epoch(value: Any) -> float | None:
    parsed = parse_time(value)
    return parsed.timestamp() if parsed else None


def duration(ms: Any) -> str:
    if ms is None:
        return "—"
    seconds = int(ms) / 1000
    return f"{seconds:.1f} s" if seconds < 120 else f"{seconds / 60:.1f} min"


def short(commit: Any) -> str:
    return str(commit or "")[:8]


def who(trigger: Any) -> str:
    if not isinstance(trigger, dict):
        return "—"
    by = trigger.get("by") or trigger.get("alarm") or ""
    return f"{trigger.get('type', '?')}{': ' + str(by) if by else ''}"


def link(*segments: Any, **query: Any) -> str:
    """A console URL: path segments percent-encoded as the API's paths are, query appended."""
    path = api_path(*segments) if segments else "/"
    present = {k: v for k, v in query.items() if v not in (None, "", False)}
    return path + ("?" + urllib.parse.urlencode(present) if present else "")


def pretty(value: Any) -> str:
    return json.dumps(value, indent=2, sort_keys=True, default=str)


def install(env: Environment) -> None:
    env.filters.update(when=when, duration=duration, short=short, who=who, pretty=pretty, masked=masked_config)
    env.globals.update(link=link)
