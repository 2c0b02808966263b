"""CloudWatch Logs: newest-first pages of a log group's events matching a filter pattern, and log
groups with a retention.

FilterLogEvents returns events oldest first. To answer "the newest N", the reader searches
backwards in time windows - from the cursor (or ``until``) back, a window that grows fourfold each
time it finds too little - reading each window whole (all its pages), until it holds N events or
reaches ``since``. The returned Cursor continues exactly where the page stopped, so nothing is
skipped or repeated, and a search that hits its call budget says so with a cursor instead of
truncating silently."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import boto3

from sprout.domain.monitoring import Cursor

FIRST_WINDOW_MS = 60_000
GROWTH = 4
MAX_CALLS = 40  # FilterLogEvents calls per page; past it the page ends early, with a cursor


@dataclass(frozen=True)
class LogEvent:
    group: str
    stream: str
    timestamp: int  # epoch ms
    event_id: str
    message: str

    @property
    def key(self) -> str:
        return f"{self.group}|{self.event_id}"


class LogReader:
    def __init__(self, client: Any = None) -> None:
        self._logs = client or boto3.client("logs")

    def newest(
        self,
        groups: list[str],
        pattern: str,
        since_ms: int,
        until_ms: int,
        limit: int,
        cursor: Cursor | None = None,
    ) -> tuple[list[LogEvent], Cursor | None]:
        """Up to ``limit`` events of ``groups`` in [since, until], newest first, and the cursor of
        the next page (None when there is no older event)."""
        seen = set(cursor.seen) if cursor else set()
        hi = min(until_ms, cursor.before_ms) if cursor else until_ms
        found: list[LogEvent] = []
        window = FIRST_WINDOW_MS
        calls = 0
        exhausted = False
        while True:
            lo = max(since_ms, hi - window + 1)
            for group in groups:
                events, used = self._window(group, pattern, lo, hi)
                calls += used
                found += [e for e in events if not (e.timestamp == (cursor.before_ms if cursor else None) and e.key in seen)]
            if lo <= since_ms:
                exhausted = True
                break
            if len(found) >= limit or calls >= MAX_CALLS:
                break
            hi = lo - 1
            window *= GROWTH
        found.sort(key=lambda e: (e.timestamp, e.key), reverse=True)
        page = found[:limit]
        if exhausted and len(found) <= limit:
            return page, None
        if not page:  # the budget ran out before anything was found: continue below this window
            return [], Cursor(lo - 1, ())
        last = page[-1].timestamp
        same = [e.key for e in page if e.timestamp == last]
        if cursor and cursor.before_ms == last:
            same = sorted(set(same) | seen)
        return page, Cursor(last, tuple(same))

    def _window(self, group: str, pattern: str, lo: int, hi: int) -> tuple[list[LogEvent], int]:
        events: list[LogEvent] = []
        token = None
        calls = 0
        while True:
            kwargs = {"logGroupName": group, "startTime": lo, "endTime": hi}
            if pattern:
                kwargs["filterPattern"] = pattern
            if token:
                kwargs["nextToken"] = token
            try:
                answer = self._logs.filter_log_events(**kwargs)
            except self._logs.exceptions.ResourceNotFoundException:
                return [], calls + 1  # no such group yet: nothing was ever logged
            calls += 1
            events += [
                LogEvent(group, e["logStreamName"], e["timestamp"], e["eventId"], e["message"]) for e in answer["events"]
            ]
            token = answer.get("nextToken")
            if not token:
                return events, calls

    # ---- groups ------------------------------------------------------------------------------------
    def ensure_group(self, group: str, retention_days: int) -> str:
        """The log group exists with ``retention_days`` (created if missing, retention set when it
        differs); returns its ARN (without the ``:*`` that DescribeLogGroups appends)."""
        try:
            self._logs.create_log_group(logGroupName=group)
        except self._logs.exceptions.ResourceAlreadyExistsException:
            pass
        found = self._describe(group) or {}
        if found.get("retentionInDays") != retention_days:
            self._logs.put_retention_policy(logGroupName=group, retentionInDays=retention_days)
        return str(found.get("arn", "")).removesuffix(":*")

    def _describe(self, group: str) -> dict | None:
        answer = self._logs.describe_log_groups(logGroupNamePrefix=group)
        return next((g for g in answer.get("logGroups", []) if g["logGroupName"] == group), None)

    def retention(self, group: str) -> int | None:
        return (self._describe(group) or {}).get("retentionInDays")
