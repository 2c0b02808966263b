"""Watching a stage for automatic rollback: the settings item in Sprout's table, the CloudWatch
alarms Sprout owns for the stage, and the subscription filters that feed the fast signal.

The settings item (pk ``APP#{app}``, sk ``AUTOROLLBACK#{stage}``) holds ``enabled``,
``errorThreshold``, ``errorRate``, ``periodSeconds``, ``cooldownSeconds``, ``updatedAt``,
``updatedBy`` and ``alarms`` (the names of the alarms it created, so that turning off or a changed
stage removes exactly those). The rollback path reads it with ``AutoRollbackSettings().get``.

Each alarm is also recorded in the lineage (``WatchedAlarmRepository``: name, ARN, stage, signal,
the digest of its definition) once it is put, and forgotten before it is deleted: the rollback
path acts only on alarms recorded there, never on an alarm's name prefix or tags.

Turning a stage on (``Watcher.apply``) needs, in the function's settings (``sprout.settings``),
``ACCESS_LOG_ROLE_ARN`` (API Gateway's CloudWatch role), ``FAST_SIGNAL_FUNCTION_ARN`` (the
subscription filters' destination) and ``SPROUT_STACK_NAME`` (the ``sprout:stack`` tag), and the
rights of ``AutoRollbackManagePolicy`` in template.yaml.
"""

from __future__ import annotations

from typing import Any

import boto3
from pynamodb.attributes import BooleanAttribute, ListAttribute, NumberAttribute, UnicodeAttribute
from pynamodb.exceptions import DoesNotExist

from sprout.adapters.apigateway import AccessLogging, StageInventory, StageResources
from sprout.adapters.lineage.alarms import WatchedAlarmRepository
from sprout.adapters.lineage.items import Item, app_pk
from sprout.adapters.lineage.table import now_iso
from sprout.adapters.logs import LogReader
from sprout.adapters.stacks import stack_name
from sprout.domain.auto_rollback import (
    DEFAULT_STAGE,
    AlarmSpec,
    ApiRef,
    Settings,
    WatchedAlarm,
    alarm_specs,
    definition_digest,
    filter_name,
)
from sprout.domain.errors import Conflict, NotDeployed, named
from sprout.domain.monitoring import access_log_group
from sprout.observability import logger
from sprout.settings import ENV_NAMES, MissingSetting
from sprout.settings import Settings as SproutSettings


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


class Watcher:
    """Turns a stage's watch on and off and reports its alarms."""

    def __init__(self, settings: AutoRollbackSettings | None = None, alarms: Alarms | None = None,
                 subscriptions: Subscriptions | None = None, resources: StageResources | None = None,
                 access_logs: AccessLogging | None = None, reader: LogReader | None = None,
                 records: WatchedAlarmRepository | None = None, config: SproutSettings | None = None):
        self.config = config  # the function's settings: the alarms' tag, the access log role, the fast signal
        self.settings = settings or AutoRollbackSettings()
        self.records = records or WatchedAlarmRepository()
        self.alarms = alarms or Alarms()
        self.subscriptions = subscriptions or Subscriptions()
        self.resources = resources or StageResources()
        self.access_logs = access_logs or AccessLogging()
        self.reader = reader or LogReader()

    def _need(self, name: str) -> str:
        if self.config is None:
            raise MissingSetting(f"{ENV_NAMES[name]} is not set: watching a stage needs it "
                                 "(template.yaml passes it to the function)")
        return self.config.need(name)

    def current(self, app: str, stage: str) -> tuple[Settings | None, list[str]]:
        doc = self.settings.get(app, stage)
        if doc is None:
            return None, []
        return Settings.from_api(doc), doc["alarms"]

    def apply(self, app: str, stage: str, wanted: Settings, by: str | None) -> None:
        """Make the stage's alarms and filters what ``wanted`` says, then record it (recorded last:
        a failure half-way leaves the previous record, and applying again completes the work)."""
        _, previous = self.current(app, stage)
        where = f"stage {named(stage)} of app {named(app)}"
        try:
            inventory = self.resources.inventory(stack_name(app, stage), where)
        except NotDeployed:
            if wanted.enabled:
                raise
            inventory = StageInventory()  # never deployed: nothing to unsubscribe
        apis = inventory.apis
        if wanted.enabled:
            specs = alarm_specs(app, stage, wanted, self._need("sprout_stack_name"),
                                [ApiRef(a.logical_id, a.api_name, a.stage) for a in apis], inventory.functions)
            if apis:
                self.access_logs.turn_on(apis, self._need("access_log_role_arn"), self.reader.ensure_group)
                destination = self._need("fast_signal_function_arn")
                for api in apis:
                    self.subscriptions.put(access_log_group(api.api_id, api.stage), filter_name(app, stage), destination)
            self._refuse_foreign(app, stage, specs)
            existing = self.alarms.describe([s.name for s in specs])
            for spec in specs:
                self.alarms.put(spec, existing.get(spec.name))
            self._record(app, stage, specs)
            names = [s.name for s in specs]
            self._remove([n for n in previous if n not in names])
        else:
            names = []
            self._remove(previous)
            for api in apis:
                self.subscriptions.delete(access_log_group(api.api_id, api.stage), filter_name(app, stage))
        self.settings.put(app, stage, wanted, names, by)
        logger.info("auto-rollback set", extra={"app": app, "stage": stage, "enabled": wanted.enabled, "alarms": names})

    def _refuse_foreign(self, app: str, stage: str, specs: list[AlarmSpec]) -> None:
        """409 before touching CloudWatch when an alarm name is recorded for another app's stage
        (stack names are claimed per stage, so names cannot collide; this holds even if they did)."""
        for spec in specs:
            recorded = self.records.watched_alarm(spec.name)
            if recorded is not None and (recorded.app, recorded.stage) != (app, stage):
                raise Conflict(f"alarm {named(spec.name)} is recorded for another app's stage")

    def _record(self, app: str, stage: str, specs: list[AlarmSpec]) -> None:
        """Record each alarm as CloudWatch shows it once put: its ARN and its definition's digest."""
        shown = self.alarms.describe([s.name for s in specs])
        for spec in specs:
            described = shown.get(spec.name)
            if described is None:
                raise RuntimeError(f"alarm {spec.name} is not there right after Sprout put it")
            self.records.record_watched_alarm(WatchedAlarm(spec.name, app, stage, spec.signal, described["AlarmArn"],
                                                           definition_digest(described)))

    def _remove(self, names: list[str]) -> None:
        """Forget the alarms, then delete them: the record never names an alarm that is not Sprout's."""
        for name in names:
            self.records.forget_watched_alarm(name)
        self.alarms.delete(names)

    def report(self, app: str, stage: str) -> dict:
        """The contract's answer: settings, and each alarm with its signal, state and metric."""
        doc = self.settings.get(app, stage)
        settings = Settings.from_api(doc) if doc else Settings(enabled=False)
        body: dict[str, Any] = {"app": app, "stage": stage, **settings.as_api(), "alarms": [],
                                "updatedAt": doc["updatedAt"] if doc else None,
                                "updatedBy": doc["updatedBy"] if doc else None, "subscriptionFilters": []}
        names = doc["alarms"] if doc else []
        if not names:
            return body
        found = self.alarms.describe(names)
        try:
            inventory = self.resources.inventory(stack_name(app, stage), f"stage {named(stage)} of app {named(app)}")
        except NotDeployed:  # the stage's stack is gone: its alarms are still Sprout's to show and remove
            inventory = StageInventory()
        specs = {s.name: s for s in alarm_specs(app, stage, settings, "", [ApiRef(a.logical_id, a.api_name, a.stage)
                                                                          for a in inventory.apis], inventory.functions)}
        for name in names:
            alarm = found.get(name)
            spec = specs.get(name)
            body["alarms"].append({
                "name": name,
                "signal": spec.signal if spec else name.rsplit("-", 1)[-1],
                "state": alarm["StateValue"] if alarm else "MISSING",
                "stateReason": alarm.get("StateReason") if alarm else "the alarm is gone: turn auto-rollback on again",
                "stateUpdatedAt": _iso(alarm.get("StateUpdatedTimestamp")) if alarm else None,
                "metric": spec.metric if spec else None,
            })
        body["subscriptionFilters"] = [
            {"logGroup": access_log_group(a.api_id, a.stage), "filterName": filter_name(app, stage),
             "present": self.subscriptions.present(access_log_group(a.api_id, a.stage), filter_name(app, stage))}
            for a in inventory.apis
        ]
        return body


def _iso(value: Any) -> str | None:
    if value is None:
        return None
    from datetime import UTC

    return value.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def ensure_default(app: str, stage: str, config: SproutSettings | None = None) -> dict | None:
    """Watch a stage named ``prod`` with the default settings the first time it is deployed:
    idempotent, does nothing (returns None) for another stage or when a settings item exists (a
    person's choice, on or off, is kept). Returns the settings it applied."""
    if stage != DEFAULT_STAGE:
        return None
    watcher = Watcher(config=config)
    if watcher.settings.get(app, stage) is not None:
        return None
    watcher.apply(app, stage, Settings(enabled=True), by="sprout:default")
    return watcher.settings.get(app, stage)


def refresh(app: str, stage: str, config: SproutSettings | None = None) -> dict | None:
    """After a deployment changed a watched stage (a function added or removed, an API renamed):
    its alarms made what the settings say again. Does nothing (None) for a stage not watched."""
    watcher = Watcher(config=config)
    current, _ = watcher.current(app, stage)
    if current is None or not current.enabled:
        return None
    watcher.apply(app, stage, current, by="sprout:deploy")
    return watcher.settings.get(app, stage)


__all__ = ["AutoRollbackSettings", "Watcher", "ensure_default", "refresh"]
