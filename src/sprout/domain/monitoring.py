"""Monitoring a stage, the pure part: time ranges, status classes as CloudWatch Logs filter
patterns, the access-log format, metric periods, function short forms and page tokens.
No boto3 here: the adapters (sprout.adapters.logs, .metrics, .apigateway) do the calls."""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from dataclasses import field as dataclass_field
from datetime import UTC, datetime, timedelta
from typing import Any

from sprout.domain.errors import FunctionNotFound, InvalidInput, shown
from sprout.domain.tokens import seal, unseal


@dataclass(frozen=True)
class ApiStage:
    """A REST API stage of a stage's stack."""

    logical_id: str
    api_id: str
    stage: str
    api_name: str = ""


@dataclass(frozen=True)
class StageInventory:
    """What a stage's stack holds that monitoring reads: its functions and REST API stages."""

    functions: dict[str, str] = dataclass_field(default_factory=dict)  # logical id -> physical function name
    apis: tuple[ApiStage, ...] = ()


@dataclass(frozen=True)
class MetricQuery:
    """One statistic of one metric (a GetMetricData query)."""

    id: str
    namespace: str
    name: str
    dimensions: tuple[tuple[str, str], ...]
    stat: str

DEFAULT_SINCE = timedelta(hours=1)
MAX_LIMIT = 1000
DEFAULT_LIMIT = 50
RETENTION_DAYS = 30
HIGH_RESOLUTION_PERIODS = (1, 5, 10, 20, 30)
MAX_POINTS = 1440  # datapoints per metric per answer; CloudWatch allows 100,800 per call
LOG_GROUP_PREFIX = "API-Gateway-Access-Logs_"
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

_RELATIVE = re.compile(r"(\d+)([smhd])")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


# ---- time -----------------------------------------------------------------------------------------
def parse_time(field: str, value: str, now: datetime) -> datetime:
    """``2026-12-02T10:31:29Z`` (ISO 8601; UTC when no offset) or ``15m``/``2h``/``1d``/``30s`` (now minus)."""
    text = value.strip()
    m = _RELATIVE.fullmatch(text)
    try:
        if m:
            parsed = now - timedelta(seconds=int(m.group(1)) * _UNITS[m.group(2)])
        else:
            parsed = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
            parsed = parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)
    except (ValueError, OverflowError):
        raise InvalidInput(field, f"{shown(value)} is neither an ISO 8601 time nor a duration such as 15m, 2h, 1d") from None
    if parsed < EPOCH:
        raise InvalidInput(field, f"{shown(value)} is before 1970")
    return parsed


@dataclass(frozen=True)
class TimeRange:
    since: datetime
    until: datetime

    @property
    def since_ms(self) -> int:
        return int(self.since.timestamp() * 1000)

    @property
    def until_ms(self) -> int:
        return int(self.until.timestamp() * 1000)


def time_range(since: str | None, until: str | None, now: datetime, default: timedelta = DEFAULT_SINCE) -> TimeRange:
    end = parse_time("until", until, now) if until else now
    start = parse_time("since", since, now) if since else end - default
    if start >= end:
        raise InvalidInput("since", f"must be before until ({iso(start)} is not before {iso(end)})")
    return TimeRange(start, end)


def iso(t: datetime) -> str:
    return t.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{t.microsecond // 1000:03d}Z"


def iso_ms(epoch_ms: int) -> str:
    return iso(datetime.fromtimestamp(epoch_ms / 1000, UTC))


def parse_limit(value: str | None, default: int = DEFAULT_LIMIT, maximum: int = MAX_LIMIT) -> int:
    if value is None:
        return default
    if not re.fullmatch(r"[0-9]{1,9}", value) or not 1 <= int(value) <= maximum:
        raise InvalidInput("limit", f"must be a whole number from 1 to {maximum}")
    return int(value)


def parse_bool(field: str, value: str | None) -> bool:
    if value is None:
        return False
    if value.lower() in ("true", "1", "yes"):
        return True
    if value.lower() in ("false", "0", "no"):
        return False
    raise InvalidInput(field, "must be true or false")


# ---- access logs ------------------------------------------------------------------------------------
# The stage's access-log line: one JSON object, every value a string as in AWS's own JSON example
# (an unset variable renders "-"), read back by parse_access_entry.
ACCESS_LOG_FIELDS = {
    "requestId": "$context.requestId",
    "extendedRequestId": "$context.extendedRequestId",
    "ip": "$context.identity.sourceIp",
    "caller": "$context.identity.caller",
    "user": "$context.identity.user",
    "requestTime": "$context.requestTime",
    "requestTimeEpoch": "$context.requestTimeEpoch",
    "httpMethod": "$context.httpMethod",
    "resourcePath": "$context.resourcePath",
    "path": "$context.path",
    "status": "$context.status",
    "protocol": "$context.protocol",
    "responseLength": "$context.responseLength",
    "latency": "$context.responseLatency",
    "integrationLatency": "$context.integrationLatency",
    "integrationStatus": "$context.integrationStatus",
    # the Lambda invocation that answered (its x-amzn-RequestId): the canary's judge finds it in the
    # new version's log streams (sprout.domain.canary); "-" on older lines and without an integration
    "integrationRequestId": "$context.integration.requestId",
    "errorMessage": "$context.error.message",
}
ACCESS_LOG_FORMAT = "{" + ",".join(f'"{k}":"{v}"' for k, v in ACCESS_LOG_FIELDS.items()) + "}"
_INT_FIELDS = ("requestTimeEpoch", "status", "responseLength", "latency", "integrationLatency", "integrationStatus")


def access_log_group(api_id: str, stage: str) -> str:
    return f"{LOG_GROUP_PREFIX}{api_id}/{stage}"


def status_filter(status: str | None) -> str:
    """The CloudWatch Logs filter pattern for ``5xx``/``4xx``/``2xx``/``3xx``/``1xx`` or an exact code."""
    if status is None or status == "":
        return ""
    text = status.strip().lower()
    if re.fullmatch(r"[1-5]xx", text):
        return f"{{ $.status = {text[0]}* }}"
    if re.fullmatch(r"[1-5][0-9][0-9]", text):
        return f'{{ $.status = "{text}" }}'
    raise InvalidInput("status", f"{shown(status)} is not a status class (2xx, 4xx, 5xx ...) or a code such as 502")


def parse_access_entry(message: str) -> dict[str, Any] | None:
    """An access-log line in ACCESS_LOG_FORMAT as the API's entry; None for a line in another format."""
    try:
        doc = json.loads(message)
    except ValueError:
        return None
    if not isinstance(doc, dict):
        return None
    entry: dict[str, Any] = {}
    for key in ACCESS_LOG_FIELDS:
        value = doc.get(key)
        if value in (None, "-", ""):
            entry[key] = None
        elif key in _INT_FIELDS:
            try:
                entry[key] = int(float(value))
            except (TypeError, ValueError):
                entry[key] = None
        else:
            entry[key] = value
    return entry


# ---- function logs ----------------------------------------------------------------------------------
# Failures in a Lambda function's log group: the runtime's "[ERROR] Type: message" + traceback,
# "Task timed out", and ERROR-level lines of Powertools-style JSON logs ("level":"ERROR").
ERRORS_FILTER = '?ERROR ?Traceback ?"Task timed out"'


# ---- metrics ----------------------------------------------------------------------------------------
def parse_period(value: str | None, span: TimeRange) -> int:
    """``period`` in seconds: 1, 5, 10, 20, 30, 60 or a multiple of 60 (CloudWatch's rule), with at
    most MAX_POINTS periods in the range; by default the smallest minute multiple that fits."""
    seconds = (span.until - span.since).total_seconds()
    if value is None:
        return max(60, math.ceil(seconds / MAX_POINTS / 60) * 60)
    if not re.fullmatch(r"[0-9]{1,9}", value) or int(value) == 0:  # ASCII digits: "²" is a digit to isdigit
        raise InvalidInput("period", f"must be a whole number of seconds, got {shown(value)}")
    period = int(value)
    if period not in HIGH_RESOLUTION_PERIODS and period % 60:
        raise InvalidInput("period", f"{period} is not a period CloudWatch allows: 1, 5, 10, 20, 30, 60 or a multiple of 60")
    if seconds / period > MAX_POINTS:
        raise InvalidInput("period", f"{period} s gives more than {MAX_POINTS} points from since to until; use a longer period")
    return period


def points(series: dict[str, dict[datetime, float]], fields: dict[str, str], zero: tuple[str, ...]) -> list[dict[str, Any]]:
    """Series keyed by query id -> one point per timestamp, oldest first: ``fields`` maps an API
    field to a query id; ``zero`` lists the fields (counts) that read 0 where a period has no data."""
    stamps = sorted({t for values in series.values() for t in values})
    out = []
    for t in stamps:
        point: dict[str, Any] = {"timestamp": iso(t)}
        for field, query in fields.items():
            value = series.get(query, {}).get(t)
            if value is None and field in zero:
                value = 0.0
            point[field] = None if value is None else (int(value) if field in zero else round(value, 3))
        out.append(point)
    return out


# ---- functions --------------------------------------------------------------------------------------
def _words(logical_id: str) -> list[str]:
    return [w.lower() for w in re.findall(r"[A-Z]+(?![a-z])|[A-Z]?[a-z0-9]+", logical_id)]


def resolve_function(fn: str, logical_ids: list[str], where: str) -> str:
    """The logical id ``fn`` names: itself, case aside, or a unique short form - words of the id in
    a row, its ``Function`` suffix aside (``create``, ``createNote``, ``note`` for CreateNoteFunction).
    Raises FunctionNotFound (404) or InvalidInput on ``fn`` (400) listing the ambiguous matches."""
    wanted = fn.strip().lower()
    exact = [i for i in logical_ids if i.lower() == wanted]
    if exact:
        return exact[0]
    matches = []
    for logical_id in logical_ids:
        words = _words(logical_id)
        if words and words[-1] == "function":
            words = words[:-1]
        runs = {"".join(words[i:j]) for i in range(len(words)) for j in range(i + 1, len(words) + 1)}
        if wanted in runs:
            matches.append(logical_id)
    if len(matches) == 1:
        return matches[0]
    if matches:
        raise InvalidInput("fn", f"{shown(fn)} matches several functions of {where}: {', '.join(sorted(matches))}")
    raise FunctionNotFound(f"{where} has no function {shown(fn)} (functions: {', '.join(sorted(logical_ids)) or 'none'})")


# ---- page tokens --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Cursor:
    """Where a newest-first page stopped: events strictly older than ``before_ms``, and at exactly
    ``before_ms`` those not in ``seen`` (ids already returned)."""

    before_ms: int
    seen: tuple[str, ...] = ()


def encode_cursor(name: str, cursor: Cursor) -> str:
    """The ``nextToken`` of log listing ``name`` (``sprout.domain.tokens.listing``) at ``cursor``."""
    return seal(name, {"b": cursor.before_ms, "s": list(cursor.seen)})


def decode_cursor(name: str, token: str) -> Cursor:
    doc = unseal(name, token)
    before, seen = doc.get("b"), doc.get("s")
    if (not isinstance(before, int) or isinstance(before, bool) or not isinstance(seen, list)
            or not all(isinstance(s, str) for s in seen)):
        raise InvalidInput("nextToken", "is not a token this API gave")
    return Cursor(before, tuple(seen))
