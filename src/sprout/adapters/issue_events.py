"""Issue events on EventBridge's default bus: ``Source: sprout``, ``DetailType: Sprout Issue State
Change``, the detail ``{"event": "issue.new" | "issue.regressed", "app", "stage", "build", "issue"}``
(``issue`` is the API's summary of the issue), for notifications and users' own rules. Sent after
the issue is recorded; a failure to send is logged and does not undo the record."""

from __future__ import annotations

import json
from typing import Any

import boto3

from sprout.observability import logger

SOURCE = "sprout"
DETAIL_TYPE = "Sprout Issue State Change"
MAX_ENTRIES = 10  # per PutEvents call


class IssueEvents:
    def __init__(self, client: Any = None):
        self._events = client or boto3.client("events")

    def announce(self, events: list[dict[str, Any]]) -> None:
        entries = [{"Source": SOURCE, "DetailType": DETAIL_TYPE, "Detail": json.dumps(e, separators=(",", ":"))}
                   for e in events]
        for start in range(0, len(entries), MAX_ENTRIES):
            try:
                answer = self._events.put_events(Entries=entries[start : start + MAX_ENTRIES])
            except Exception as e:  # noqa: BLE001 - the issue is recorded; the event is best effort
                logger.error("issue events not sent", extra={"error": f"{type(e).__name__}: {e}"})
                continue
            if answer.get("FailedEntryCount"):
                logger.error("issue events refused", extra={"failed": answer.get("FailedEntryCount")})
