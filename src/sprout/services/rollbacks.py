"""Rolling a stage back: the one way a rollback opens its deployment (``begin_rollback``: by hand
from the API, by alarm from the rollback machine's ResolveAlarm), and the alarm's use case
(``AlarmRollback.resolve``): whether an alarm is Sprout's and current, whether to act, and if so
the stage taken, the failing build quarantined and the deployment to go back to.

The rules are the domain's (``sprout.domain.pipeline``, ``sprout.domain.auto_rollback``): the
cool-down, no rollback of a rollback, pre-empting a deploy of the failing build."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Protocol

from sprout.domain.auto_rollback import AlarmEvent, WatchedAlarm, untrusted_reason
from sprout.domain.canary import canary_holds
from sprout.domain.errors import NotFound, NothingToRollBackTo
from sprout.domain.model import Build, Deployment, DeploymentKind
from sprout.domain.pipeline import (
    alarm_decision,
    cooldown_of,
    last_auto_rollback_finished,
    preempted_by_alarm,
    rollback_in_progress,
    rollback_target,
)
from sprout.observability import logger, metrics
from sprout.services.ports import (
    AppReads,
    BuildReads,
    DeploymentReads,
    DeploymentWrites,
    Executions,
    HolderCheck,
)

HISTORY = 100  # an alarm looks back this many deployments for the one to go back to


def begin_rollback(lineage: DeploymentWrites, app: str, stage: str, target: Deployment, kind: DeploymentKind,
                   trigger: dict[str, Any], execution: str | None, holder_running: HolderCheck) -> Deployment:
    """Take the stage for ``execution`` and record a rollback (``kind``: by hand or by alarm) to
    ``target``'s build; the trigger names the deployment gone back to. StageBusy while another
    deployment holds the stage."""
    return lineage.begin_deployment(app, stage, target.build, kind, {**trigger, "target": target.id},
                                    execution=execution, holder_running=holder_running)


class AlarmReader(Protocol):
    def read(self, event: dict[str, Any]) -> AlarmEvent: ...

    def describe(self, name: str) -> dict[str, Any] | None: ...


class WatchSettings(Protocol):
    """A stage's auto-rollback settings item (``cooldownSeconds``…), None when never set."""

    def get(self, app: str, stage: str) -> dict[str, Any] | None: ...


class AlarmLineage(AppReads, BuildReads, DeploymentReads, DeploymentWrites, Protocol):
    def watched_alarm(self, name: str) -> WatchedAlarm | None: ...

    def claim_alarm_event(self, event_id: str, alarm: str, app: str | None, stage: str | None) -> bool: ...

    def record_alarm_outcome(self, event_id: str, alarm: str, outcome: str, reason: str | None = None,
                             deployment: str | None = None, app: str | None = None, stage: str | None = None) -> None: ...

    def quarantine(self, app: str, number: int, reason: dict[str, Any] | None) -> Build: ...


class AlarmRollback:
    def __init__(self, lineage: AlarmLineage, alarms: AlarmReader, executions: Executions, watch: WatchSettings):
        self.lineage = lineage
        self.alarms = alarms
        self.executions = executions
        self.watch = watch

    def _ignored(self, event_id: str, alarm: str, reason: str, app: str | None = None,
                 stage: str | None = None) -> dict[str, Any]:
        self.lineage.record_alarm_outcome(event_id, alarm, "IGNORED", reason, app=app, stage=stage)
        logger.info("alarm recorded and ignored", extra={"alarm": alarm, "app": app, "stage": stage, "reason": reason})
        metrics.add_metric(name="AlarmsIgnored", unit="Count", value=1)
        return {"status": "IGNORED", "reason": reason, **({"app": app, "stage": stage} if app else {})}

    def resolve(self, event: dict[str, Any], execution: str | None, now: datetime | None = None) -> dict[str, Any]:
        """An alarm went to ALARM: whether it is one Sprout put and recorded for a stage (and is in
        ALARM now, as DescribeAlarms shows it, with the definition Sprout put), whether to act (no
        loops, no undoing a person's later action, no acting during the cool-down, once per event),
        and if so the stage taken for ``execution``, the failing build quarantined, the previous
        good deployment to go back to. Anything else is recorded with the reason."""
        event_id = str(event.get("id") or execution or "unknown")
        try:
            alarm = self.alarms.read(event)
        except ValueError as e:
            return self._ignored(event_id, "?", f"malformed alarm event: {e}")
        recorded = self.lineage.watched_alarm(alarm.name)  # whose stage it watches: the record, never the tags
        if recorded is None:
            return self._ignored(event_id, alarm.name, untrusted_reason(alarm.name, alarm.arn, None, None) or "")
        app, stage = recorded.app, recorded.stage
        if not self.lineage.claim_alarm_event(event_id, alarm.name, app, stage):
            logger.info("duplicate alarm event", extra={"alarm": alarm.name, "event": event_id})
            return {"status": "IGNORED", "reason": "a duplicate of an alarm event already handled", "app": app, "stage": stage}
        distrust = untrusted_reason(alarm.name, alarm.arn, recorded, self.alarms.describe(alarm.name))
        if distrust is not None:
            return self._ignored(event_id, alarm.name, distrust, app, stage)
        try:
            st = self.lineage.get_stage(app, stage)
            current = self.lineage.current_deployment(app, stage)
        except NotFound as e:
            return self._ignored(event_id, alarm.name, f"the alarm's stage is gone: {e}", app, stage)
        history, _ = self.lineage.list_deployments(app, stage, limit=HISTORY)
        cooldown = cooldown_of((self.watch.get(app, stage) or {}).get("cooldownSeconds"))
        why_not = alarm_decision(current, alarm.breaching_since, last_auto_rollback_finished(history),
                                 now or datetime.now(UTC), cooldown)
        holder = None  # the deployment holding the stage, if any
        if why_not is None and st.lock is not None:
            holder = self.lineage.get_deployment(app, stage, st.lock.deployment)
            why_not = rollback_in_progress(holder) or canary_holds(holder)
        if why_not is not None or current is None:
            return self._ignored(event_id, alarm.name, why_not or "the stage runs nothing yet", app, stage)
        try:
            target = rollback_target(history, current,
                                     quarantined=lambda n: bool(self.lineage.get_build(app, n).quarantined))
        except NothingToRollBackTo as e:
            return self._ignored(event_id, alarm.name, str(e), app, stage)
        preempt = preempted_by_alarm(holder, current)
        if preempt is not None:  # a deploy or promote of the failing build still going: it is stopped
            self.executions.stop(preempt, "Sprout.AutoRollback", f"pre-empted by alarm {alarm.name}")
        trigger = {"type": "alarm", "alarm": alarm.name, "reason": alarm.reason, "datapoints": alarm.datapoints[:20],
                   "eventId": event_id, "breachingSince": alarm.breaching_since.isoformat()}

        def holder_running(arn: str) -> bool | None:
            return False if arn == preempt else self.executions.is_running(arn)

        deployment = begin_rollback(self.lineage, app, stage, target, DeploymentKind.AUTO_ROLLBACK, trigger,
                                    execution, holder_running)
        self.lineage.quarantine(app, current.build, {"stage": stage, "deployment": deployment.id, "alarm": alarm.name,
                                                     "reason": alarm.reason[:300], "at": deployment.started_at})
        self.lineage.record_alarm_outcome(event_id, alarm.name, "ROLLED_BACK", f"rolling back to build {target.build}",
                                          deployment=deployment.id, app=app, stage=stage)
        metrics.add_metric(name="AutoRollbacks", unit="Count", value=1)
        logger.warning("auto-rollback", extra={"app": app, "stage": stage, "alarm": alarm.name,
                                               "from_build": current.build, "to_build": target.build})
        return {"status": "ACT", "app": app, "stage": stage, "build": target.build, "deploymentId": deployment.id,
                "versions": target.versions, "kind": DeploymentKind.AUTO_ROLLBACK.value, "trigger": deployment.trigger}
