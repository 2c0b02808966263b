"""The deploy state machine's tasks (statemachines/deploy.asl.json), the one deploy path that
build, promote and rollback all start: BeginDeploy, StartChangeSet, CheckDeploy, SettleDeploy,
AbandonDeploy (sprout.services.deploy holds what they do) and WatchStage."""

from __future__ import annotations

from typing import Any

from sprout import wiring
from sprout.adapters.apigateway import StageResources
from sprout.domain.model import DeploymentKind, DeployProgress
from sprout.domain.pipeline import stack_name
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
from sprout.observability import logger
from sprout.services.deploy import Followed
from sprout.services.issues import subscribe_stage

deploys = wiring.deploys()


@with_execution
def begin_deploy_step(event: BeginRequest, execution: str | None) -> DeployState:
    """Take the stage's lock for this execution and record the deployment — unless the stage
    already runs a push that descends from this one (SUPERSEDED); with the stage's strategy when
    the deploy shifts gradually (the machine's canary loop)."""
    app, stage, number = event["app"], event["stage"], event["build"]
    begun = deploys.begin(app, stage, number, DeploymentKind(event.get("kind", DeploymentKind.DEPLOY)),
                          dict(event.get("trigger") or {"type": "user"}), bool(event.get("force")), execution)
    state: DeployState = {"app": app, "stage": stage, "build": number, "deploymentId": begun.deployment_id,
                          "status": begun.status}
    if begun.by is not None:
        state["by"] = begun.by
    if begun.strategy is not None:
        state["strategy"] = begun.strategy  # type: ignore[typeddict-item]  # a gradual strategy's view (StrategyView)
    return state


def _followed(state: ChangeSetState, found: Followed) -> ChangeSetState:
    """The machine's state after a look at the stack."""
    out: ChangeSetState = {**state, "status": found.status}
    if found.versions is not None:
        out["versions"] = found.versions
    if found.error is not None:
        out["error"] = found.error
    if found.settling_since is not None:
        out["settlingSince"] = found.settling_since
    return out


def _deploy_state(event: SettleInput) -> ChangeSetState:
    """SettleDeploy's input without what the Catch and its Pass state put there (error, failedAt)."""
    state = event.copy()
    state.pop("error", None)
    state.pop("failedAt", None)
    return state


def start_change_set_step(event: HeldDeploy) -> ChangeSetState:
    """Start (not execute) a change set of the build's packaged template on the stage's stack,
    recording it on the deployment."""
    started = deploys.start_change_set(event["app"], event["stage"], event["build"], event["deploymentId"])
    return {**event, "stackName": started["stackName"], "changeSetId": started["changeSetId"],
            "status": DeployProgress.IN_PROGRESS.value}


def check_deploy_step(event: ChangeSetState) -> ChangeSetState:
    """Follow the change set for a few seconds; once the stack settles, record the deployment. When
    CloudFormation does not answer, this task fails: the state machine then settles on what the
    stack did (SettleDeploy), never on this task's word."""
    found = deploys.check(event["app"], event["stage"], event["deploymentId"], event["stackName"], event["changeSetId"])
    return _followed(event, found)


def settle_deploy_step(event: SettleInput) -> ChangeSetState:
    """A deploy task failed while its change set may be running: wait for the stack to settle (the
    state machine loops while this says IN_PROGRESS), then record what the stack did."""
    failed_at = event.get("failedAt")
    failed = (failed_at["step"] if failed_at else None) or "CheckDeploy"
    caught = event.get("error")
    aside = event.get("taskFailure") or cut(f"{failed} failed meanwhile: {reason(failed, caught if isinstance(caught, dict) else None)}")
    state = _deploy_state(event)
    state["taskFailure"] = aside
    found = deploys.settle(event["app"], event["stage"], event["deploymentId"], event["stackName"], event["changeSetId"],
                           event.get("settlingSince"), aside)
    return _followed(state, found)


def abandon_deploy_step(event: AbandonInput) -> DeployState:
    """A step failed for good: record the deployment FAILED with the step and the error (which
    releases the stage), or — when it never started — a FAILED deployment saying why."""
    step = event["failedAt"]["step"] or "unknown"
    why = reason(step, event["error"])
    deployment = deploys.abandon(event["app"], event["stage"], event["build"], event.get("deploymentId"), step, why,
                                 event.get("kind"), dict(event.get("trigger") or {"type": "user"}))
    return {"app": event["app"], "stage": event["stage"], "build": event["build"], "deploymentId": deployment.id,
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
