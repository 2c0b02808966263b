"""Watching a stage for automatic rollback: the settings item in Sprout's table, the CloudWatch
alarms Sprout owns for the stage, and the subscription filters that feed the fast signal.

The settings item (pk ``APP#{app}``, sk ``AUTOROLLBACK#{stage}``) holds ``enabled``,
``errorThreshold``, ``errorRate``, ``periodSeconds``, ``cooldownSeconds``, ``updatedAt``,
``updatedBy`` and ``alarms`` (the names of the alarms it created, so that turning off or a changed
stage removes exactly those). The rollback path reads it with ``AutoRollbackSettings().get``.

Each alarm is also recorded in the lineage (``WatchedAlarmRepository``: name, ARN, stage, signal,
the digest of its definition) once it is put, and forgotten before it is deleted: the rollback
path acts only on alarms recorded there, never on an alarm's name prefix or tags.

Watching a stage (turning it on and off, the alarms' report) is a use case:
``sprout.services.watch.Watcher``, handed these as its ports by ``sprout.wiring``.
"""

from __future__ import annotations

from typing import Any

import boto3
from pynamodb.attributes import BooleanAttribute, ListAttribute, NumberAttribute, UnicodeAttribute
from pynamodb.exceptions import DoesNotExist

from sprout.adapters.lineage.items import Item, app_pk
from sprout.adapters.lineage.table import now_iso
from sprout.domain.auto_rollback import AlarmSpec, Settings
from sprout.domain.errors import Conflict


def settings_sk(stage: str) -> str:
    return f"AUTOROLLBACK#{stage}"


class AutoRollbackItem(Item):
    enabled = BooleanAttribute(default=False)
    error_threshold = NumberAttribute(attr_name="errorThreshold")
    error_rate = NumberAttribute(attr_name="errorRate")
    period_seconds = NumberAttribute(attr_name="periodSeconds")
    cooldown_seconds = NumberAttribute(attr_name="cooldownSeconds")
    updated_at = UnicodeAttribute(attr_name="updatedAt")
    updated_by = UnicodeAttribute(attr_name="updatedBy", null=True)
    alarms = ListAttribute(of=UnicodeAttribute, default=list)


class AutoRollbackSettings:
    """The settings item of a stage, as the contract's dict (API field names)."""

    def get(self, app: str, stage: str) -> dict | None:
        """``{"enabled","errorThreshold","errorRate","periodSeconds","cooldownSeconds","updatedAt",
        "updatedBy","alarms"}``, or None when the stage was never watched."""
        try:
            item = AutoRollbackItem.get(app_pk(app), settings_sk(stage), consistent_read=True)
        except DoesNotExist:
            return None
        return {
            "enabled": bool(item.enabled),
            "errorThreshold": int(item.error_threshold),
            "errorRate": float(item.error_rate),
            "periodSeconds": int(item.period_seconds),
            "cooldownSeconds": int(item.cooldown_seconds),
            "updatedAt": item.updated_at,
            "updatedBy": item.updated_by,
            "alarms": list(item.alarms or []),
        }

    def put(self, app: str, stage: str, settings: Settings, alarms: list[str], by: str | None) -> None:
        AutoRollbackItem(
            app_pk(app), settings_sk(stage), enabled=settings.enabled, error_threshold=settings.error_threshold,
            error_rate=settings.error_rate, period_seconds=settings.period_seconds,
            cooldown_seconds=settings.cooldown_seconds, updated_at=now_iso(), updated_by=by, alarms=alarms,
        ).save()


class Alarms:
    """Sprout's alarms of a stage (PutMetricAlarm with Tags; TagResource when the alarm existed,
    since PutMetricAlarm ignores Tags on an update)."""

    def __init__(self, cloudwatch: Any = None):
        self._cw = cloudwatch or boto3.client("cloudwatch")

    def describe(self, names: list[str]) -> dict[str, dict]:
        found: dict[str, dict] = {}
        for start in range(0, len(names), 100):
            answer = self._cw.describe_alarms(AlarmNames=names[start : start + 100], MaxRecords=100,
                                              AlarmTypes=["MetricAlarm"])
            for alarm in answer.get("MetricAlarms", []):
                found[alarm["AlarmName"]] = alarm
        return found

    def put(self, spec: AlarmSpec, existed: dict | None) -> None:
        self._cw.put_metric_alarm(**spec.request)
        if existed is not None:
            self._cw.tag_resource(ResourceARN=existed["AlarmArn"], Tags=spec.tags)

    def delete(self, names: list[str]) -> None:
        for start in range(0, len(names), 100):
            if names[start : start + 100]:
                self._cw.delete_alarms(AlarmNames=names[start : start + 100])


class Subscriptions:
    """Sprout's subscription filters: the fast signal's on a watched stage's access-log groups, the
    issues' on every deployed stage's function log groups (``sprout.services.issues``)."""

    def __init__(self, logs: Any = None):
        self._logs = logs or boto3.client("logs")

    def present(self, group: str, name: str) -> bool:
        try:
            answer = self._logs.describe_subscription_filters(logGroupName=group, filterNamePrefix=name)
        except self._logs.exceptions.ResourceNotFoundException:
            return False
        return any(f["filterName"] == name for f in answer.get("subscriptionFilters", []))

    def put(self, group: str, name: str, destination_arn: str) -> None:
        # every line: the function counts requests and 5xx itself (one invocation per batch)
        try:
            self._logs.put_subscription_filter(logGroupName=group, filterName=name, filterPattern="",
                                               destinationArn=destination_arn)
        except self._logs.exceptions.LimitExceededException:
            others = [f["filterName"] for f in
                      self._logs.describe_subscription_filters(logGroupName=group).get("subscriptionFilters", [])]
            raise Conflict(
                f"log group {group} already has {len(others)} subscription filters ({', '.join(others)}), the most "
                "CloudWatch Logs allows: remove one so that Sprout can subscribe its own"
            ) from None

    def ensure_group(self, group: str) -> None:
        """The group exists (a function that never logged has none yet); its retention is left as is."""
        try:
            self._logs.create_log_group(logGroupName=group)
        except self._logs.exceptions.ResourceAlreadyExistsException:
            pass

    def delete(self, group: str, name: str) -> None:
        try:
            self._logs.delete_subscription_filter(logGroupName=group, filterName=name)
        except self._logs.exceptions.ResourceNotFoundException:
            pass  # the group or the filter is gone already: nothing to remove


__all__ = ["Alarms", "AutoRollbackItem", "AutoRollbackSettings", "Subscriptions", "settings_sk"]
