"""The deploy state machine's tasks (statemachines/deploy.asl.json), the one deploy path that
build, promote and rollback all start: BeginDeploy, StartChangeSet, CheckDeploy, AbandonDeploy."""

from __future__ import annotations

import yaml

from sprout.adapters import auto_rollback
from sprout.adapters.artifacts import ArtifactStore
from sprout.adapters.executions import Executions
from sprout.adapters.source import descends_from
from sprout.adapters.stacks import StageStacks
from sprout.domain.errors import DeployError
from sprout.domain.model import DeploymentKind, DeploymentStatus, DeployProgress
from sprout.domain.pipeline import check_deployable, stack_name, superseded
from sprout.handlers.contracts import AbandonInput, DeployRequest, DeployState
from sprout.handlers.tasks.common import field, lineage, reason, settings, task, with_execution
from sprout.observability import logger, metrics
from sprout.settings import require_env

artifacts = ArtifactStore(settings.artifact_bucket)
# How long one CheckDeploy follows the stack before handing back to the state machine's Wait loop.
FOLLOW_BUDGET_S = 5.0


def _running_descends_from(app_name: str, stage: str, build) -> int | None:
    """The number of the build the stage runs, when its commit descends from ``build``'s."""
    current = lineage.current_deployment(app_name, stage)
    if current is None or current.build == build.number:
        return None
    running = lineage.get_build(app_name, current.build)
    repository = lineage.get_app(app_name).repository
    return running.number if descends_from(repository, running.commit_id, build.commit_id) else None


@with_execution
def begin_deploy_step(event: DeployRequest, execution: str | None) -> DeployState:
    """Take the stage's lock for this execution and record the deployment — unless the stage
    already runs a push that descends from this one (SUPERSEDED)."""
    app_name, stage, number = field(event, "app"), field(event, "stage"), int(field(event, "build"))
    build = lineage.get_build(app_name, number)
    check_deployable(build, stage, force=bool(event.get("force")))
    kind = DeploymentKind(event.get("kind", DeploymentKind.DEPLOY))
    trigger = dict(event.get("trigger") or {"type": "user"})
    newer = _running_descends_from(app_name, stage, build) if kind is DeploymentKind.DEPLOY else None
    if superseded(kind, trigger, newer is not None):
        logger.info("superseded", extra={"app": app_name, "stage": stage, "build": number, "current": newer})
        return {"app": app_name, "stage": stage, "build": number, "deploymentId": "",
                "status": DeployProgress.SUPERSEDED.value, "by": newer}
    deployment = lineage.begin_deployment(
        app_name, stage, number, kind, trigger, execution=execution, holder_running=Executions().is_running
    )
    if deployment.took_over:
        logger.warning("stage lock taken over", extra={"app": app_name, "stage": stage, **deployment.took_over})
    return {"app": app_name, "stage": stage, "build": number, "deploymentId": deployment.id,
            "status": DeployProgress.IN_PROGRESS.value}


def start_change_set_step(event: DeployState) -> DeployState:
    """Start (not execute) a change set of the build's packaged template on the stage's stack."""
    app_name, stage, deployment_id = field(event, "app"), field(event, "stage"), field(event, "deploymentId")
    build = lineage.get_build(app_name, int(field(event, "build")))
    lineage.renew_lease(app_name, stage, deployment_id)
    stack = stack_name(app_name, stage)
    declared = (yaml.safe_load(artifacts.get_template(build.template_key)) or {}).get("Parameters") or {}
    parameters = {"Stage": stage} if "Stage" in declared else {}  # an app that declares Stage learns its name
    change_set = StageStacks().start(
        stack, artifacts.template_url(build.template_key), parameters, require_env("DEPLOY_ROLE_ARN")
    )
    logger.info("change set started", extra={"app": app_name, "stage": stage, "deployment": deployment_id})
    return {**event, "stackName": stack, "changeSetId": change_set, "status": DeployProgress.IN_PROGRESS.value}


def check_deploy_step(event: DeployState) -> DeployState:
    """Follow the change set for a few seconds (renewing the lease); once the stack settles,
    record the deployment with the Lambda versions behind every ``live`` alias."""
    app_name, stage, deployment_id = field(event, "app"), field(event, "stage"), field(event, "deploymentId")
    lineage.renew_lease(app_name, stage, deployment_id)
    stacks = StageStacks()
    try:
        progress = stacks.follow(field(event, "changeSetId"), FOLLOW_BUDGET_S)
    except DeployError as e:
        lineage.finish_deployment(app_name, stage, deployment_id, DeploymentStatus.FAILED, error=str(e), step="CheckDeploy")
        return {**event, "status": DeployProgress.FAILED.value, "error": str(e)}
    if progress.status == DeployProgress.IN_PROGRESS:
        return {**event, "status": DeployProgress.IN_PROGRESS.value}
    if progress.status == DeployProgress.FAILED:
        lineage.finish_deployment(
            app_name, stage, deployment_id, DeploymentStatus.FAILED, error=progress.reason, step="CheckDeploy"
        )
        metrics.add_metric(name="DeploymentsFailed", unit="Count", value=1)
        return {**event, "status": DeployProgress.FAILED.value, "error": progress.reason or ""}
    versions = stacks.live_versions(field(event, "stackName"))
    lineage.finish_deployment(app_name, stage, deployment_id, DeploymentStatus.SUCCEEDED, versions=versions)
    metrics.add_metric(name="Deployments", unit="Count", value=1)
    return {**event, "status": DeployProgress.SUCCEEDED.value, "versions": versions}


def abandon_deploy_step(event: AbandonInput) -> DeployState:
    """A step failed for good: record the deployment FAILED with the step and the error (which
    releases the stage), or — when it never started — a FAILED deployment saying why."""
    app_name, stage, number = field(event, "app"), field(event, "stage"), int(field(event, "build"))
    step = (event.get("failedAt") or {}).get("step") or event.get("step") or "unknown"
    why = reason(step, event.get("error"))
    if event.get("deploymentId"):
        deployment = lineage.finish_deployment(
            app_name, stage, event["deploymentId"], DeploymentStatus.FAILED, error=why, step=step
        )
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
abandon_deploy = task(abandon_deploy_step)


def watch_stage_step(event: DeployState) -> DeployState:
    """After a deployment succeeded: a stage named prod is watched by auto-rollback from its first
    deploy (unless a person chose otherwise), and a watched stage's alarms follow its functions."""
    app_name, stage = field(event, "app"), field(event, "stage")
    applied = auto_rollback.ensure_default(app_name, stage) or auto_rollback.refresh(app_name, stage)
    logger.info("stage watch", extra={"app": app_name, "stage": stage, "watched": bool(applied and applied.get("enabled"))})
    return {**event, "watched": bool(applied and applied.get("enabled"))}


watch_stage = task(watch_stage_step)
