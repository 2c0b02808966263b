"""Sprout's own events on EventBridge's default bus, ``Source: sprout``: one mechanism for all of
them (``Sprout Issue State Change``, ``Sprout Deployment State Change``, ``Sprout Build State
Change``, ``Sprout Notification Test``). Sent after what they tell is recorded; a failure to send is
logged and does not undo the record.

Only Sprout's functions may put ``Source: sprout``: every role an app's stack makes carries the
permissions boundary, which denies ``events:PutEvents`` with ``events:source`` ``sprout``
(template.yaml, AppRoleBoundary ``NotSproutsEvents``)."""

from __future__ import annotations

import json
from typing import Any

import boto3

from sprout.observability import logger

SOURCE = "sprout"
MAX_ENTRIES = 10  # per PutEvents call


class SproutEvents:
    def __init__(self, detail_type: str, client: Any = None):
        self.detail_type = detail_type
        self._client = client

    @property
    def _events(self) -> Any:
        if self._client is None:  # made on first use: most closings of a cold start send none
            self._client = boto3.client("events")
        return self._client

    def announce(self, events: list[dict[str, Any]]) -> int:
        """Put each detail as one event; returns how many EventBridge took."""
        entries = [{"Source": SOURCE, "DetailType": self.detail_type,
                    "Detail": json.dumps(e, separators=(",", ":"), ensure_ascii=False, default=str)} for e in events]
        sent = 0
        for start in range(0, len(entries), MAX_ENTRIES):
            batch = entries[start : start + MAX_ENTRIES]
            try:
                answer = self._events.put_events(Entries=batch)
            except Exception as e:  # noqa: BLE001 - what the event tells is recorded; the event is best effort
                logger.error("events not sent", extra={"detailType": self.detail_type, "error": f"{type(e).__name__}: {e}"})
                continue
            failed = int(answer.get("FailedEntryCount") or 0)
            if failed:
                logger.error("events refused", extra={"detailType": self.detail_type, "failed": failed,
                                                      "codes": sorted({r.get("ErrorCode") for r in answer.get("Entries", [])
                                                                       if r.get("ErrorCode")})})
            sent += len(batch) - failed
        return sent
