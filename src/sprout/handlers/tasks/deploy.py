"""The deploy state machine's tasks (statemachines/deploy.asl.json), the one deploy path that
build, promote and rollback all start: BeginDeploy, StartChangeSet, CheckDeploy, AbandonDeploy."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import yaml

from sprout import wiring
from sprout.adapters.apigateway import StageResources
from sprout.adapters.executions import Executions
from sprout.adapters.lineage.stage_settings import SettingsRepository
from sprout.adapters.source import descends_from
from sprout.adapters.stacks import Progress, StageStacks
from sprout.domain.errors import DeployError, InvalidInput, StageMoved
from sprout.domain.model import DeploymentKind, DeploymentStatus, DeployProgress
from sprout.domain.pipeline import check_deployable, iso, parse_iso, stack_name, superseded
from sprout.domain.stack_events import cut
from sprout.handlers.contracts import (
    AbandonInput,
    BeginRequest,
    ChangeSetState,
    DeployState,
    HeldDeploy,
    SettleInput,
    Watched,
)
from sprout.handlers.tasks.common import lineage, reason, settings, task, with_execution
from sprout.observability import logger, metrics
from sprout.services.issues import subscribe_stage
from sprout.services.stage_settings import deploy_parameters

artifacts = wiring.artifacts()
# How long one CheckDeploy follows the stack before handing back to the state machine's Wait loop.
FOLLOW_BUDGET_S = 5.0
# How long SettleDeploy waits for a stack to settle after a deploy task failed (the deploy machine
# itself times out after an hour; the lease is renewed at every look).
SETTLE_LIMIT = timedelta(minutes=30)


def _running_descends_from(app_name: str, stage: str, build, current) -> int | None:
    """The number of the build the stage runs (``current``, its deployment), when its commit descends
    from ``build``'s."""
    if current is None or current.build == build.number:
        return None
    running = lineage.get_build(app_name, current.build)
    repository = lineage.get_app(app_name).repository
    return running.number if descends_from(repository, running.commit_id, build.commit_id) else None


def _deploy_state(event: SettleInput) -> ChangeSetState:
    """SettleDeploy's input without what the Catch and its Pass state put there (error, failedAt)."""
    state = event.copy()
    state.pop("error", None)
    state.pop("failedAt", None)
    return state


@with_execution
def begin_deploy_step(event: BeginRequest, execution: str | None) -> DeployState:
    """Take the stage's lock for this execution and record the deployment — unless the stage
    already runs a push that descends from this one (SUPERSEDED)."""
    app_name, stage, number = event["app"], event["stage"], event["build"]
    build = lineage.get_build(app_name, number)
    check_deployable(build, stage, force=bool(event.get("force")))
    kind = DeploymentKind(event.get("kind", DeploymentKind.DEPLOY))
    trigger = dict(event.get("trigger") or {"type": "user"})
    for attempt in range(1, 6):
        # judged against the deployment the stage runs now, and the lock taken only while it still does:
        # a newer push that finished in between would otherwise be overwritten by this older one
        current = lineage.current_deployment(app_name, stage)
        newer = _running_descends_from(app_name, stage, build, current) if kind is DeploymentKind.DEPLOY else None
        if newer is not None and superseded(kind, trigger, running_descends_from_build=True):
            logger.info("superseded", extra={"app": app_name, "stage": stage, "build": number, "current": newer})
            return {"app": app_name, "stage": stage, "build": number, "deploymentId": "",
                    "status": DeployProgress.SUPERSEDED.value, "by": newer}
        try:
            deployment = lineage.begin_deployment(
                app_name, stage, number, kind, trigger, execution=execution, holder_running=Executions().is_running,
                expect_current=current.id if current else None,
            )
            break
        except StageMoved:
            if attempt == 5:
                raise
    if deployment.took_over:
        logger.warning("stage lock taken over", extra={"app": app_name, "stage": stage, **deployment.took_over})
    return {"app": app_name, "stage": stage, "build": number, "deploymentId": deployment.id,
            "status": DeployProgress.IN_PROGRESS.value}


def start_change_set_step(event: HeldDeploy) -> ChangeSetState:
    """Start (not execute) a change set of the build's packaged template on the stage's stack,
    recording it on the deployment. A stack Sprout created whose first deploy failed is deleted
    first (and the deployment says so); a stack CloudFormation would refuse is refused naming why."""
    app_name, stage, deployment_id = event["app"], event["stage"], event["deploymentId"]
    build = lineage.get_build(app_name, event["build"])
    if build.template_key is None:
        raise InvalidInput("build", f"build {build.number} of {app_name} has no packaged template")
    lineage.renew_lease(app_name, stage, deployment_id)
    stack = stack_name(app_name, stage)
    parameters = _stage_parameters(app_name, stage, deployment_id, yaml.safe_load(artifacts.get_template(build.template_key)) or {})
    stacks = StageStacks()

    def deleting(note: str) -> None:
        lineage.annotate_deployment(app_name, stage, deployment_id, note=note)
        logger.warning("failed first deploy's stack deleted", extra={"app": app_name, "stage": stage, "note": note})

    stacks.clear_failed_first_deploy(stack, deleting)
    change_set = stacks.start(stack, artifacts.template_url(build.template_key), parameters, settings.need("deploy_role_arn"),
                              tags={"sprout:app": app_name, "sprout:stage": stage})
    lineage.annotate_deployment(app_name, stage, deployment_id, change_set=change_set)
    logger.info("change set started", extra={"app": app_name, "stage": stage, "deployment": deployment_id})
    return {**event, "stackName": stack, "changeSetId": change_set, "status": DeployProgress.IN_PROGRESS.value}


def _stage_parameters(app_name: str, stage: str, deployment_id: str, template: dict) -> dict[str, str]:
    """Settings and secrets (issue 22): every declared Parameter's value — ``Stage`` the stage's name,
    a setting its value, a secret its Parameter Store path. A parameter with neither a default nor a
    value fails the deploy naming it; settings the template does not declare are noted (a warning)."""
    resolved = deploy_parameters(SettingsRepository(), app_name, stage, template, lineage)
    if resolved.failure():
        raise DeployError(resolved.failure())
    if resolved.unused:
        lineage.annotate_deployment(app_name, stage, deployment_id,
                                    note="unused settings (the template declares no such Parameter): " + ", ".join(resolved.unused))
    return resolved.parameters


def _conclude(event: ChangeSetState, progress: Progress, stacks: StageStacks, step: str, aside: str = "") -> ChangeSetState:
    """Record how the stack operation ended: SUCCEEDED with the versions behind every ``live`` alias,
    or FAILED with CloudFormation's cause (``aside``: what else went wrong on the way)."""
    app_name, stage, deployment_id = event["app"], event["stage"], event["deploymentId"]
    if progress.status == DeployProgress.SUCCEEDED:
        versions = stacks.live_versions(event["stackName"])
        lineage.finish_deployment(app_name, stage, deployment_id, DeploymentStatus.SUCCEEDED, versions=versions)
        metrics.add_metric(name="Deployments", unit="Count", value=1)
        return {**event, "status": DeployProgress.SUCCEEDED.value, "versions": versions}
    why = (progress.reason or "the stack operation failed") + (f" ({aside})" if aside else "")
    lineage.finish_deployment(app_name, stage, deployment_id, DeploymentStatus.FAILED, error=why, step=step,
                              cause=progress.cause)
    metrics.add_metric(name="DeploymentsFailed", unit="Count", value=1)
    return {**event, "status": DeployProgress.FAILED.value, "error": why}


def check_deploy_step(event: ChangeSetState) -> ChangeSetState:
    """Follow the change set for a few seconds (renewing the lease); once the stack settles, record
    the deployment. When CloudFormation does not answer, this task fails: the state machine then
    settles on what the stack did (SettleDeploy), never on this task's word."""
    app_name, stage, deployment_id = event["app"], event["stage"], event["deploymentId"]
    lineage.renew_lease(app_name, stage, deployment_id)
    stacks = StageStacks()
    progress = stacks.follow(event["changeSetId"], FOLLOW_BUDGET_S)
    if progress.status == DeployProgress.IN_PROGRESS:
        return {**event, "status": DeployProgress.IN_PROGRESS.value}
    return _conclude(event, progress, stacks, "CheckDeploy")


def settle_deploy_step(event: SettleInput, now: Callable[[], datetime] = lambda: datetime.now(UTC)) -> ChangeSetState:
    """A deploy task failed while its change set may be running: wait for the stack to settle
    (renewing the lease; the state machine loops while this says IN_PROGRESS), then record what the
    stack did — the change set's outcome when the stack executed it, else FAILED unchanged. Gives up
    after SETTLE_LIMIT, recording that the outcome is unknown (``POST .../reconcile`` repairs it)."""
    app_name, stage, deployment_id = event["app"], event["stage"], event["deploymentId"]
    lineage.renew_lease(app_name, stage, deployment_id)
    since = event.get("settlingSince") or iso(now())
    failed_at = event.get("failedAt")
    failed = (failed_at["step"] if failed_at else None) or "CheckDeploy"
    caught = event.get("error")
    error = caught if isinstance(caught, dict) else None
    aside = event.get("taskFailure") or cut(f"{failed} failed meanwhile: {reason(failed, error)}")
    state = _deploy_state(event)
    state["taskFailure"] = aside
    stacks = StageStacks()
    progress = stacks.settle(event["stackName"], event["changeSetId"])
    if progress.status == DeployProgress.IN_PROGRESS:
        if now() - parse_iso(since) < SETTLE_LIMIT:
            return {**state, "status": DeployProgress.IN_PROGRESS.value, "settlingSince": since}
        progress = Progress("FAILED", f"stack {event['stackName']} was still in progress after "
                            f"{int(SETTLE_LIMIT.total_seconds())} s; its outcome is unknown: reconcile the stage "
                            "(POST /apps/{app}/stages/{stage}/reconcile) once it settles")
    logger.warning("settled after a failed task", extra={"app": app_name, "stage": stage, "status": progress.status})
    return _conclude(state, progress, stacks, "SettleDeploy", aside)


def abandon_deploy_step(event: AbandonInput) -> DeployState:
    """A step failed for good: record the deployment FAILED with the step and the error (which
    releases the stage), or — when it never started — a FAILED deployment saying why."""
    app_name, stage, number = event["app"], event["stage"], event["build"]
    step = event["failedAt"]["step"] or "unknown"
    why = reason(step, event["error"])
    if deployment_id := event.get("deploymentId"):
        deployment = lineage.finish_deployment(app_name, stage, deployment_id, DeploymentStatus.FAILED, error=why, step=step)
    else:
        deployment = lineage.record_failed_start(
            app_name, stage, number, event.get("kind") or DeploymentKind.DEPLOY,
            dict(event.get("trigger") or {"type": "user"}), error=why, step=step,
        )
    metrics.add_metric(name="DeploymentsFailed", unit="Count", value=1)
    logger.warning("deployment abandoned", extra={"app": app_name, "stage": stage, "step": step, "error": why})
    return {"app": app_name, "stage": stage, "build": number, "deploymentId": deployment.id,
            "status": DeployProgress.FAILED.value, "error": why}


begin_deploy = task(begin_deploy_step)
start_change_set = task(start_change_set_step)
check_deploy = task(check_deploy_step)
settle_deploy = task(settle_deploy_step)
abandon_deploy = task(abandon_deploy_step)


def watch_stage_step(event: ChangeSetState) -> Watched:
    """After a deployment succeeded: the stage's function log groups feed the issues function; a
    stage named prod is watched by auto-rollback from its first deploy (unless a person chose
    otherwise), and a watched stage's alarms follow its functions."""
    app_name, stage = event["app"], event["stage"]
    grouped = subscribe_issues(app_name, stage, event.get("deploymentId"))
    applied = wiring.watcher().after_deploy(app_name, stage)
    logger.info("stage watch", extra={"app": app_name, "stage": stage, "watched": bool(applied and applied.get("enabled"))})
    return {**event, "watched": bool(applied and applied.get("enabled")), "issues": grouped}


def subscribe_issues(app_name: str, stage: str, deployment: str | None) -> dict[str, Any]:
    """Every function log group of the stage feeds the issues function (sprout.services.issues).
    A failure here is logged and said in the step's output: the deployment is done either way."""
    try:
        functions = StageResources().inventory(stack_name(app_name, stage), f"stage {stage} of app {app_name}").functions
        return subscribe_stage(lineage, wiring.subscriptions(), app_name, stage, functions,
                               settings.need("issues_function_arn"), deployment)
    except Exception as e:  # noqa: BLE001 - the deployment succeeded; grouping its errors is extra
        logger.exception("issues not subscribed", extra={"app": app_name, "stage": stage})
        return {"error": f"{type(e).__name__}: {cut(str(e), 300)}"}


watch_stage = task(watch_stage_step)
