"""Issue events on EventBridge's default bus: ``Source: sprout``, ``DetailType: Sprout Issue State
Change``, the detail ``{"event": "issue.new" | "issue.regressed", "app", "stage", "build", "issue"}``
(``issue`` is the API's summary of the issue), for notifications and users' own rules. Sent after
the issue is recorded; a failure to send is logged and does not undo the record (sprout_events)."""

from __future__ import annotations

from typing import Any

from sprout.adapters.sprout_events import SOURCE, SproutEvents

DETAIL_TYPE = "Sprout Issue State Change"

__all__ = ["SOURCE", "DETAIL_TYPE", "IssueEvents"]


class IssueEvents(SproutEvents):
    def __init__(self, client: Any = None):
        super().__init__(DETAIL_TYPE, client)
