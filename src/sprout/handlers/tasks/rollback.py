"""The rollback state machine's own tasks (statemachines/rollback.asl.json): ResolveAlarm (when an
alarm started it) and FlipAliases. The stack is then reconciled through the deploy state machine,
whose tasks record the outcome."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sprout.adapters.alarms import Alarms
from sprout.adapters.aliases import Aliases, Flip
from sprout.adapters.auto_rollback import AutoRollbackSettings
from sprout.adapters.executions import Executions
from sprout.adapters.stacks import StageStacks, stack_name
from sprout.domain.auto_rollback import untrusted_reason
from sprout.domain.errors import NotFound, NothingToRollBackTo
from sprout.domain.model import DeploymentKind, DeploymentStatus
from sprout.domain.pipeline import (
    DEFAULT_COOLDOWN,
    alarm_decision,
    parse_iso,
    rollback_target,
)
from sprout.handlers.contracts import AlarmIgnored, AlarmResolved, Flipped, FlipRequest, Trigger
from sprout.handlers.tasks.common import field, lineage, settings, task, with_execution
from sprout.observability import logger, metrics

ROLLBACK_KINDS = (DeploymentKind.ROLLBACK, DeploymentKind.AUTO_ROLLBACK)
HISTORY = 100


def _ignored(event_id: str, alarm: str, reason: str, app: str | None = None, stage: str | None = None) -> AlarmIgnored:
    lineage.record_alarm_outcome(event_id, alarm, "IGNORED", reason, app=app, stage=stage)
    logger.info("alarm recorded and ignored", extra={"alarm": alarm, "app": app, "stage": stage, "reason": reason})
    metrics.add_metric(name="AlarmsIgnored", unit="Count", value=1)
    resolved: AlarmIgnored = {"status": "IGNORED", "reason": reason}
    if app and stage:
        resolved["app"], resolved["stage"] = app, stage
    return resolved


@with_execution
def resolve_alarm_step(event: dict, execution: str | None, alarms: Alarms | None = None) -> AlarmResolved:
    """An alarm went to ALARM: whether it is one Sprout put and recorded for a stage (and is in
    ALARM now, as DescribeAlarms shows it, with the definition Sprout put), whether to act (no
    loops, no undoing a person's later action, no acting during the cool-down, once per event), and
    if so the stage taken for this execution, the failing build quarantined, the previous good
    deployment to go back to. Anything else is recorded with the reason, and the execution ends there."""
    event_id = str(event.get("id") or execution or "unknown")
    alarms = alarms or Alarms()
    try:
        alarm = alarms.read(event)
    except ValueError as e:
        return _ignored(event_id, "?", f"malformed alarm event: {e}")
    recorded = lineage.watched_alarm(alarm.name)  # whose stage it watches: the record, never the alarm's tags
    if recorded is None:
        return _ignored(event_id, alarm.name, untrusted_reason(alarm.name, alarm.arn, None, None) or "not recorded")
    app, stage = recorded.app, recorded.stage
    if not lineage.claim_alarm_event(event_id, alarm.name, app, stage):
        logger.info("duplicate alarm event", extra={"alarm": alarm.name, "event": event_id})
        return {"status": "IGNORED", "reason": "a duplicate of an alarm event already handled", "app": app, "stage": stage}
    distrust = untrusted_reason(alarm.name, alarm.arn, recorded, alarms.describe(alarm.name))
    if distrust is not None:
        return _ignored(event_id, alarm.name, distrust, app, stage)
    try:
        st = lineage.get_stage(app, stage)
        current = lineage.current_deployment(app, stage)
    except NotFound as e:
        return _ignored(event_id, alarm.name, f"the alarm's stage is gone: {e}", app, stage)
    history, _ = lineage.list_deployments(app, stage, limit=HISTORY)
    # the cool-down follows Sprout's own rollbacks: a person's rollback then promote is watched at once
    last_rollback = next((d for d in history if d.kind is DeploymentKind.AUTO_ROLLBACK
                          and d.status is DeploymentStatus.SUCCEEDED and d.finished_at), None)
    configured = (AutoRollbackSettings().get(app, stage) or {}).get("cooldownSeconds")
    cooldown = timedelta(seconds=int(configured)) if configured is not None else DEFAULT_COOLDOWN
    why_not = alarm_decision(current, alarm.breaching_since,
                             parse_iso(last_rollback.finished_at) if last_rollback and last_rollback.finished_at else None,
                             datetime.now(UTC), cooldown)
    if why_not is None and st.lock is not None:
        holder = lineage.get_deployment(app, stage, st.lock.deployment)
        if holder.kind in ROLLBACK_KINDS:
            why_not = f"rollback {holder.id} is already in progress"
    if why_not is not None:
        return _ignored(event_id, alarm.name, why_not, app, stage)
    assert current is not None  # alarm_decision refuses a stage that runs nothing
    try:
        target = rollback_target(history, current, quarantined=lambda n: bool(lineage.get_build(app, n).quarantined))
    except NothingToRollBackTo as e:
        return _ignored(event_id, alarm.name, str(e), app, stage)
    preempt = None
    if st.lock is not None:  # a deploy or promote still going: of the failing build, it is pre-empted
        holder = lineage.get_deployment(app, stage, st.lock.deployment)
        if holder.build == current.build and holder.execution:
            preempt = holder.execution
            Executions().stop(holder.execution, "Sprout.AutoRollback", f"pre-empted by alarm {alarm.name}")
    trigger: Trigger = {"type": "alarm", "alarm": alarm.name, "reason": alarm.reason, "datapoints": alarm.datapoints[:20],
               "eventId": event_id, "breachingSince": alarm.breaching_since.isoformat(), "target": target.id}
    deployment = lineage.begin_deployment(
        app, stage, target.build, DeploymentKind.AUTO_ROLLBACK, trigger, execution=execution,
        holder_running=(lambda arn: False if arn == preempt else Executions().is_running(arn)),
    )
    lineage.quarantine(app, current.build, {"stage": stage, "deployment": deployment.id, "alarm": alarm.name,
                                            "reason": alarm.reason[:300], "at": deployment.started_at})
    lineage.record_alarm_outcome(event_id, alarm.name, "ROLLED_BACK", f"rolling back to build {target.build}",
                                 deployment=deployment.id, app=app, stage=stage)
    metrics.add_metric(name="AutoRollbacks", unit="Count", value=1)
    logger.warning("auto-rollback", extra={"app": app, "stage": stage, "alarm": alarm.name,
                                           "from_build": current.build, "to_build": target.build})
    return {"status": "ACT", "app": app, "stage": stage, "build": target.build, "deploymentId": deployment.id,
            "versions": target.versions, "kind": DeploymentKind.AUTO_ROLLBACK.value, "trigger": trigger}


def flip_aliases_step(event: FlipRequest, aliases: Aliases | None = None, stacks: StageStacks | None = None) -> Flipped:
    """Point every function's ``live`` alias at the version recorded for the target deployment."""
    app_name, stage, number = field(event, "app"), field(event, "stage"), int(field(event, "build"))
    versions: dict[str, str] = field(event, "versions")
    lineage.renew_lease(app_name, stage, field(event, "deploymentId"))
    build = lineage.get_build(app_name, number)
    keys = {f.logical_id: f.s3_key for f in build.functions}
    names = (stacks or StageStacks()).function_names(stack_name(app_name, stage))
    flips = [Flip(lid, names[lid], version, keys.get(lid)) for lid, version in sorted(versions.items()) if lid in names]
    result = (aliases or Aliases(settings.artifact_bucket)).flip_all(flips)
    metrics.add_metric(name="AliasFlips", unit="Count", value=len(flips))
    logger.info(
        "aliases flipped",
        extra={"app": app_name, "stage": stage, "build": number, "functions": len(flips),
               "seconds": result.seconds, "republished": result.republished},
    )
    return {"versions": result.versions, "previous": result.previous, "republished": result.republished,
            "seconds": result.seconds}


resolve_alarm = task(resolve_alarm_step)
flip_aliases = task(flip_aliases_step)
