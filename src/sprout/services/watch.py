"""Watching a stage for automatic rollback: turning the watch on and off (the stage's alarms, its
access logs and the fast signal's subscription filters), watching ``prod`` by default from its first
deploy, keeping a watched stage's alarms in step with its functions after each deploy, and the
report ``GET .../auto-rollback`` answers. Handed its ports by ``sprout.wiring`` (the settings item,
CloudWatch alarms, subscription filters, the stack's resources, API Gateway's access logging, the
lineage's record of Sprout's alarms); the rules themselves are ``sprout.domain.auto_rollback``'s.

Turning a stage on needs three of the function's settings, asked for when first used (``need``):
``sprout_stack_name`` (the alarms' ``sprout:stack`` tag), ``access_log_role_arn`` (API Gateway's
CloudWatch role) and ``fast_signal_function_arn`` (the subscription filters' destination)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any, Protocol

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
from sprout.domain.monitoring import ApiStage, StageInventory, access_log_group
from sprout.domain.pipeline import stack_name
from sprout.observability import logger


class WatchSettings(Protocol):
    """The stage's auto-rollback settings item (API field names, and the alarms it made)."""

    def get(self, app: str, stage: str) -> dict[str, Any] | None: ...

    def put(self, app: str, stage: str, settings: Settings, alarms: list[str], by: str | None) -> None: ...


class AlarmStore(Protocol):
    def describe(self, names: list[str]) -> dict[str, dict[str, Any]]: ...

    def put(self, spec: AlarmSpec, existed: dict[str, Any] | None) -> None: ...

    def delete(self, names: list[str]) -> None: ...


class SubscriptionFilters(Protocol):
    def present(self, group: str, name: str) -> bool: ...

    def put(self, group: str, name: str, destination_arn: str) -> None: ...

    def delete(self, group: str, name: str) -> None: ...


class StageInventories(Protocol):
    def inventory(self, stack: str, where: str) -> StageInventory: ...


class AccessLogSwitch(Protocol):
    def turn_on(self, apis: tuple[ApiStage, ...], role_arn: str, ensure_group: Callable[[str, int], str]) -> None: ...


class LogGroupMaker(Protocol):
    def ensure_group(self, group: str, retention_days: int) -> str: ...


class WatchedAlarmRecords(Protocol):
    def watched_alarm(self, name: str) -> WatchedAlarm | None: ...

    def record_watched_alarm(self, alarm: WatchedAlarm) -> None: ...

    def forget_watched_alarm(self, name: str) -> None: ...


class Watcher:
    """Turns a stage's watch on and off and reports its alarms."""

    def __init__(self, settings: WatchSettings, alarms: AlarmStore, subscriptions: SubscriptionFilters,
                 resources: StageInventories, access_logs: AccessLogSwitch, groups: LogGroupMaker,
                 records: WatchedAlarmRecords, need: Callable[[str], str]):
        self.settings = settings
        self.alarms = alarms
        self.subscriptions = subscriptions
        self.resources = resources
        self.access_logs = access_logs
        self.groups = groups
        self.records = records
        self.need = need  # the function's settings by name (MissingSetting naming the variable when absent)

    def current(self, app: str, stage: str) -> tuple[Settings | None, list[str]]:
        doc = self.settings.get(app, stage)
        if doc is None:
            return None, []
        return Settings.from_api(doc), list(doc["alarms"])

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
        names: list[str] = []
        if wanted.enabled:
            specs = alarm_specs(app, stage, wanted, self.need("sprout_stack_name"),
                                [ApiRef(a.logical_id, a.api_name, a.stage) for a in apis], inventory.functions)
            if apis:
                self.access_logs.turn_on(apis, self.need("access_log_role_arn"), self.groups.ensure_group)
                destination = self.need("fast_signal_function_arn")
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
            self._remove(previous)
            for api in apis:
                self.subscriptions.delete(access_log_group(api.api_id, api.stage), filter_name(app, stage))
        self.settings.put(app, stage, wanted, names, by)
        logger.info("auto-rollback set", extra={"app": app, "stage": stage, "enabled": wanted.enabled, "alarms": names})

    def watch_by_default(self, app: str, stage: str) -> dict[str, Any] | None:
        """Watch a stage named ``prod`` with the default settings the first time it is deployed:
        idempotent, does nothing (None) for another stage or when a settings item exists (a
        person's choice, on or off, is kept). Returns the settings it applied."""
        if stage != DEFAULT_STAGE or self.settings.get(app, stage) is not None:
            return None
        self.apply(app, stage, Settings(enabled=True), by="sprout:default")
        return self.settings.get(app, stage)

    def refresh(self, app: str, stage: str) -> dict[str, Any] | None:
        """After a deployment changed a watched stage (a function added or removed, an API renamed):
        its alarms made what the settings say again. Does nothing (None) for a stage not watched."""
        current, _ = self.current(app, stage)
        if current is None or not current.enabled:
            return None
        self.apply(app, stage, current, by="sprout:deploy")
        return self.settings.get(app, stage)

    def after_deploy(self, app: str, stage: str) -> dict[str, Any] | None:
        """What the deploy path does once a deployment succeeded: prod watched by default, a watched
        stage's alarms refreshed. The settings then applied, or None when the stage is not watched."""
        return self.watch_by_default(app, stage) or self.refresh(app, stage)

    def _refuse_foreign(self, app: str, stage: str, specs: Sequence[AlarmSpec]) -> None:
        """409 before touching CloudWatch when an alarm name is recorded for another app's stage
        (stack names are claimed per stage, so names cannot collide; this holds even if they did)."""
        for spec in specs:
            recorded = self.records.watched_alarm(spec.name)
            if recorded is not None and (recorded.app, recorded.stage) != (app, stage):
                raise Conflict(f"alarm {named(spec.name)} is recorded for another app's stage")

    def _record(self, app: str, stage: str, specs: Sequence[AlarmSpec]) -> None:
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

    def report(self, app: str, stage: str) -> dict[str, Any]:
        """The contract's answer: settings, and each alarm with its signal, state and metric."""
        doc = self.settings.get(app, stage)
        settings = Settings.from_api(doc) if doc else Settings(enabled=False)
        body: dict[str, Any] = {"app": app, "stage": stage, **settings.as_api(), "alarms": [],
                                "updatedAt": doc["updatedAt"] if doc else None,
                                "updatedBy": doc["updatedBy"] if doc else None, "subscriptionFilters": []}
        names: list[str] = doc["alarms"] if doc else []
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


def _iso(value: datetime | None) -> str | None:
    if value is None:
        return None
    return value.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
