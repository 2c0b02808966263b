"""The alarms Sprout watches stages with, and the alarm events it received.

A watched alarm is recorded (name, ARN, stage, signal, a digest of its definition) after Sprout put
it and forgotten before Sprout deletes it, so the record never names an alarm that is not Sprout's:
the rollback path acts only on recorded alarms. Each alarm event is claimed once by its EventBridge
event id, then recorded with what Sprout did about it and why."""

from __future__ import annotations

from pynamodb.exceptions import PutError

from sprout.adapters.lineage.items import AlarmEventItem, WatchedAlarmItem
from sprout.adapters.lineage.table import get, now_iso
from sprout.domain.auto_rollback import WatchedAlarm
from sprout.domain.errors import Conflict, named


def _pk(event_id: str) -> str:
    return f"ALARMEVENT#{event_id}"


def _alarm_pk(name: str) -> str:
    return f"ALARM#{name}"


class WatchedAlarmRepository:
    def record_watched_alarm(self, alarm: WatchedAlarm) -> None:
        """Record (or re-record, after Sprout put it again) an alarm of a watched stage. An alarm
        recorded for another app's stage is never taken over (409)."""
        item = WatchedAlarmItem(_alarm_pk(alarm.name), "ALARM", app=alarm.app, stage=alarm.stage, signal=alarm.signal,
                                arn=alarm.arn, definition=alarm.definition, recorded_at=now_iso())
        try:
            item.save(condition=WatchedAlarmItem.pk.does_not_exist()
                      | ((WatchedAlarmItem.app == alarm.app) & (WatchedAlarmItem.stage == alarm.stage)))
        except PutError as e:
            if e.cause_response_code == "ConditionalCheckFailedException":
                raise Conflict(f"alarm {named(alarm.name)} is recorded for another app's stage") from None
            raise

    def forget_watched_alarm(self, name: str) -> None:
        """Forget an alarm before Sprout deletes it (nothing to do when it was never recorded)."""
        WatchedAlarmItem(_alarm_pk(name), "ALARM").delete()

    def watched_alarm(self, name: str) -> WatchedAlarm | None:
        item = get(WatchedAlarmItem, _alarm_pk(name), "ALARM")
        if item is None:
            return None
        return WatchedAlarm(name, item.app, item.stage, item.signal, item.arn, item.definition)


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
