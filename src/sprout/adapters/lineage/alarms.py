"""Alarm events Sprout received: each claimed once by its EventBridge event id, then recorded with
what Sprout did about it and why."""

from __future__ import annotations

from pynamodb.exceptions import PutError

from sprout.adapters.lineage.items import AlarmEventItem
from sprout.adapters.lineage.table import get, now_iso


def _pk(event_id: str) -> str:
    return f"ALARMEVENT#{event_id}"


class AlarmEventRepository:
    def claim_alarm_event(self, event_id: str, alarm: str, app: str | None, stage: str | None) -> bool:
        """True for the first delivery of the event, False for a duplicate."""
        item = AlarmEventItem(_pk(event_id), "EVENT", alarm=alarm, app=app, stage=stage, outcome="RECEIVED", at=now_iso())
        try:
            item.save(condition=AlarmEventItem.pk.does_not_exist())
        except PutError as e:
            if e.cause_response_code == "ConditionalCheckFailedException":
                return False
            raise
        return True

    def record_alarm_outcome(self, event_id: str, alarm: str, outcome: str, reason: str | None = None,
                             deployment: str | None = None, app: str | None = None, stage: str | None = None) -> None:
        existing = get(AlarmEventItem, _pk(event_id), "EVENT")
        item = existing or AlarmEventItem(_pk(event_id), "EVENT", alarm=alarm, app=app, stage=stage, at=now_iso())
        item.outcome, item.reason, item.deployment = outcome, (reason or "")[:1000] or None, deployment
        item.save()

    def alarm_outcome(self, event_id: str) -> dict | None:
        item = get(AlarmEventItem, _pk(event_id), "EVENT")
        if item is None:
            return None
        return {"alarm": item.alarm, "app": item.app, "stage": item.stage, "outcome": item.outcome,
                "reason": item.reason, "deployment": item.deployment, "at": item.at}
