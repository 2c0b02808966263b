"""FilterLogEvents as CloudWatch Logs answers it, over moto's stored log events.

moto 5.2.5 understands only plain terms and quoted phrases (anything else matches every event),
ignores ``logStreamNamePrefix``, scans every event of every stream per call and, given a token it
does not know, answers an empty page. Here, as AWS documents FilterLogEvents:

* events of all the chosen streams, interleaved, oldest first (ties in ingestion order);
* ``startTime`` inclusive, ``endTime`` inclusive (epoch milliseconds); ``logStreamNames`` or
  ``logStreamNamePrefix`` (not both: InvalidParameterException);
* ``filterPattern`` with the full syntax of localcloud.monitoring.filter_pattern (an invalid one:
  InvalidParameterException);
* ``limit`` 1..10000 (default 10000); ``nextToken`` resumes right after the last event returned
  and is refused (InvalidParameterException) when it is not one this API gave for that group.

Each stream's timestamps are indexed once and extended as events arrive, so a time window is a
bisection, not a scan of the whole group.
"""

from __future__ import annotations

import base64
import heapq
import json
import threading
import weakref
from bisect import bisect_left, bisect_right
from typing import Any

from localcloud.moto_hooks import hook, require

from .filter_pattern import InvalidPattern, compile_pattern

MAX_LIMIT = 10_000
_WHY = (
    "FilterLogEvents reads moto's stored events: LogsBackend.groups, LogGroup.streams, "
    "LogStream.{events,log_stream_name}, LogEvent.{timestamp,message,event_id,ingestion_time}"
)


class _StreamIndex:
    """(timestamp, event_id) of one stream's events in time order, extended incrementally."""

    __slots__ = ("ident", "seen", "keys", "events")

    def __init__(self) -> None:
        self.ident = 0
        self.seen = 0
        self.keys: list[tuple[int, int]] = []
        self.events: list[Any] = []

    def refresh(self, events: list[Any]) -> None:
        if id(events) != self.ident or len(events) < self.seen:
            self.ident, self.seen, self.keys, self.events = id(events), 0, [], []
        upto = len(events)
        new = events[self.seen : upto]
        if not new:
            return
        in_order = all(new[i].timestamp <= new[i + 1].timestamp for i in range(len(new) - 1))
        if in_order and (not self.keys or self.keys[-1][0] <= new[0].timestamp):
            self.keys.extend((e.timestamp, e.event_id) for e in new)
            self.events.extend(new)
        else:  # an out-of-order batch (allowed across PutLogEvents calls): re-sort this stream
            pairs = sorted(zip(self.keys + [(e.timestamp, e.event_id) for e in new], self.events + new, strict=True), key=lambda p: p[0])
            self.keys = [k for k, _ in pairs]
            self.events = [e for _, e in pairs]
        self.seen = upto


class LogSearch:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        # id(stream) -> (a weak reference to that stream, its index): a deleted stream's index
        # is never mistaken for a new stream's that got the same id
        self._indexes: dict[int, tuple[weakref.ref, _StreamIndex]] = {}

    def _index(self, stream: Any) -> _StreamIndex:
        with self._lock:
            entry = self._indexes.get(id(stream))
            if entry is None or entry[0]() is not stream:
                if len(self._indexes) > 10_000:  # drop the indexes of streams that are gone
                    self._indexes = {k: v for k, v in self._indexes.items() if v[0]() is not None}
                entry = self._indexes[id(stream)] = (weakref.ref(stream), _StreamIndex())
            entry[1].refresh(stream.events)
            return entry[1]

    def search(self, group: Any, group_name: str, params: dict[str, Any]) -> dict[str, Any]:
        names = params.get("logStreamNames") or []
        prefix = params.get("logStreamNamePrefix")
        if names and prefix:
            raise _invalid("logStreamNames and logStreamNamePrefix are mutually exclusive")
        limit = params.get("limit")
        if limit is None:
            limit = MAX_LIMIT
        if not isinstance(limit, int) or isinstance(limit, bool) or not 1 <= limit <= MAX_LIMIT:
            raise _invalid(f"1 validation error detected: Value '{limit}' at 'limit' failed to satisfy constraint: Member must have value between 1 and 10000")
        try:
            matches = compile_pattern(params.get("filterPattern"))
        except InvalidPattern as e:
            raise _invalid(f"Invalid filter pattern: {e}") from e
        start = params.get("startTime")
        end = params.get("endTime")
        after: tuple[int, int] | None = None
        if params.get("nextToken"):
            after = _read_token(params["nextToken"], group_name)

        streams = [
            s
            for name, s in list(group.streams.items())
            if (not names or name in names) and (not prefix or name.startswith(prefix))
        ]
        lo_key = (start if start is not None else -(2**63), -1)
        if after is not None and after > lo_key:
            lo_key = (after[0], after[1])
            strictly_after = True
        else:
            strictly_after = False
        hi_key = (end if end is not None else 2**63, 2**63)

        def walk(stream: Any):
            index = self._index(stream)
            keys, events = index.keys, index.events
            lo = bisect_right(keys, lo_key) if strictly_after else bisect_left(keys, lo_key)
            hi = bisect_right(keys, hi_key)
            name = stream.log_stream_name
            for i in range(lo, hi):
                event = events[i]
                if matches(event.message):
                    yield (event.timestamp, event.event_id, name, event)

        page: list[dict[str, Any]] = []
        more = False
        for item in heapq.merge(*(walk(s) for s in streams)):
            if len(page) == limit:
                more = True
                break
            timestamp, event_id, name, event = item
            page.append(
                {
                    "logStreamName": name,
                    "timestamp": timestamp,
                    "message": event.message,
                    "ingestionTime": event.ingestion_time,
                    "eventId": str(event_id),
                }
            )
        answer: dict[str, Any] = {
            "events": page,
            "searchedLogStreams": [{"logStreamName": s.log_stream_name, "searchedCompletely": True} for s in streams],
        }
        if more:
            last = page[-1]
            answer["nextToken"] = _make_token(group_name, last["timestamp"], int(last["eventId"]))
        return answer


def _make_token(group: str, timestamp: int, event_id: int) -> str:
    raw = json.dumps([group, timestamp, event_id], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode()


def _read_token(token: Any, group: str) -> tuple[int, int]:
    try:
        name, timestamp, event_id = json.loads(base64.urlsafe_b64decode(str(token).encode()))
        if name != group or not isinstance(timestamp, int) or not isinstance(event_id, int):
            raise ValueError(token)
    except (ValueError, TypeError) as e:
        raise _invalid("The specified nextToken is invalid.") from e
    return timestamp, event_id


class _Invalid(Exception):
    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


def _invalid(message: str) -> _Invalid:
    return _Invalid(message)


def install() -> None:
    search = LogSearch()
    not_found = require("moto.logs.exceptions", "ResourceNotFoundException", _WHY)
    invalid = require("moto.logs.exceptions", "InvalidParameterException", _WHY)
    for name in ("LogsBackend", "LogGroup", "LogStream", "LogEvent"):
        require("moto.logs.models", name, _WHY)

    @hook("moto.logs.responses", "LogsResponse.filter_log_events", "FilterLogEvents with AWS's filter patterns, order and tokens")
    def filter_log_events(original: Any, self: Any) -> str:
        params = json.loads(self.body or "{}") if isinstance(self.body, (str, bytes)) else {}
        name = params.get("logGroupName") or params.get("logGroupIdentifier") or ""
        if isinstance(name, str) and name.startswith("arn:") and ":log-group:" in name:
            name = name.split(":log-group:", 1)[1].removesuffix(":*")
        group = self.logs_backend.groups.get(name)
        if group is None:
            raise not_found()
        try:
            answer = search.search(group, name, params)
        except _Invalid as e:
            raise invalid(e.message) from None
        return json.dumps(answer)
