"""The build state machine's tasks (statemachines/build.asl.json): one step each.

Named errors (sprout.domain.errors) propagate, so the state machine's Retry and Catch match them
by name; every state change is recorded in the lineage before it is acted on.
"""

from __future__ import annotations

import json
from collections import defaultdict

from aws_lambda_powertools.utilities.idempotency import (
    DynamoDBPersistenceLayer,
    IdempotencyConfig,
    idempotent_function,
)
from aws_lambda_powertools.utilities.typing import LambdaContext

from sprout.adapters.artifacts import ArtifactStore
from sprout.adapters.lineage import Lineage
from sprout.adapters.source import CodeCommitSource, commit_info, descends_from
from sprout.adapters.stacks import StageStacks, stack_name
from sprout.domain.errors import DeployError, InvalidInput
from sprout.domain.model import BuildStatus, DeploymentKind, DeploymentStatus, FunctionArtifact
from sprout.domain.packaging import package as package_commit
from sprout.observability import logger, metrics, tracer
from sprout.settings import Settings, require_env

settings = Settings.from_env()
lineage = Lineage()
artifacts = ArtifactStore(settings.artifact_bucket)
# Idempotency records share Sprout's table (pk "idempotency#<function>", sk the hashed key).
idempotency_store = DynamoDBPersistenceLayer(
    table_name=settings.table_name, key_attr="pk", sort_key_attr="sk"
)
idempotency_config = IdempotencyConfig(
    event_key_jmespath="id", raise_on_no_idempotency_key=False, expires_after_seconds=24 * 3600
)


# How long one CheckDeploy follows the stack before handing back to the state machine's Wait loop.
FOLLOW_BUDGET_S = 5.0


def _task(handler):
    """Powertools around every task: tracing, metrics, and the Step Functions execution as the
    correlation id. The state machine hands every task the envelope
    ``{"execution": $$.Execution.Id, "input": <the step's input>}``."""

    @logger.inject_lambda_context(correlation_id_path="execution")
    @tracer.capture_lambda_handler
    @metrics.log_metrics
    def wrapped(event: dict, context: LambdaContext):
        if not isinstance(event, dict) or "input" not in event:
            raise InvalidInput("input", "the task expects {execution, input} from the state machine")
        idempotency_config.register_lambda_context(context)
        return handler(event["input"])

    wrapped.__name__ = handler.__name__
    return wrapped


def _field(event: dict, name: str):
    value = event.get(name)
    if value in (None, ""):
        raise InvalidInput(name, "is required in the task input")
    return value


@_task
def resolve(event: dict) -> dict:
    """A CodeCommit push event, or a build asked for through the API → the apps to build.

    Idempotent on the EventBridge event's ``id``: an event delivered again (EventBridge delivers at
    least once) resolves to the same targets without reading the lineage again. A build asked for
    through the API has no event id, and is resolved every time."""
    return _resolve(event=event)


@idempotent_function(
    data_keyword_argument="event", persistence_store=idempotency_store, config=idempotency_config
)
def _resolve(event: dict) -> dict:
    if event.get("source") == "aws.codecommit":
        detail = event.get("detail") or {}
        repository, branch = _field(detail, "repositoryName"), _field(detail, "referenceName")
        commit = _field(detail, "commitId")
        trigger = {"type": "push", "by": detail.get("callerUserArn"), "eventId": event.get("id")}
        followers = defaultdict(list)
        for registered, stage in lineage.stages_following(repository, branch):
            followers[registered.name].append(stage)
        if not followers:
            logger.info("no app follows the branch", extra={"repository": repository, "branch": branch})
        targets = [
            _target(app_name, repository, commit, branch, stages, trigger)
            for app_name, stages in sorted(followers.items())
        ]
    elif event.get("source") == "sprout.api":
        registered = lineage.get_app(_field(event, "app"))
        repository, branch, commit = registered.repository, event.get("branch"), _field(event, "commitId")
        stages = registered.stages_following(branch) if branch else []
        trigger = event.get("trigger") or {"type": "user"}
        targets = [_target(registered.name, repository, commit, branch, stages, trigger)]
    else:
        raise InvalidInput("source", f"unknown build trigger {event.get('source')!r}")
    return {"targets": targets, "repository": repository, "branch": branch, "commitId": commit}


def _target(app_name: str, repository: str, commit: str, branch: str | None, stages, trigger: dict) -> dict:
    """One app to build at ``commit``, and the stages following the branch that deploy it at once."""
    return {
        "app": app_name,
        "repository": repository,
        "commitId": commit,
        "branch": branch,
        "deployStages": [s.name for s in stages if s.auto_deploy],
        "trigger": trigger,
    }


@_task
def record_build(event: dict) -> dict:
    info = commit_info(_field(event, "repository"), _field(event, "commitId"))
    build, created = lineage.record_build(
        event["app"], event["commitId"], event.get("branch"), info.get("message", ""), info.get("author", "")
    )
    if created:
        metrics.add_metric(name="BuildsStarted", unit="Count", value=1)
    logger.info("build recorded", extra={"app": build.app, "build": build.number, "new_build": created})
    return {"number": build.number, "created": created, "commitId": build.commit_id}


@_task
def package(event: dict) -> dict:
    app_name, number = _field(event, "app"), int(_field(event, "number"))
    registered = lineage.get_app(app_name)
    tree = CodeCommitSource(_field(event, "repository"), _field(event, "commitId"))
    result = package_commit(
        tree.read(registered.template_path), registered.template_path, tree, settings.artifact_bucket
    )
    uploaded = sum(artifacts.put_if_absent(sha, data) for sha, data in result.artifacts.items())
    template_key = artifacts.put_template(app_name, number, result.packaged_template)
    metrics.add_metric(name="ArtifactsUploaded", unit="Count", value=uploaded)
    logger.info(
        "packaged",
        extra={"app": app_name, "build": number, "functions": len(result.functions), "uploaded": uploaded},
    )
    return {
        "templateKey": template_key,
        "functions": [
            {"logicalId": f.logical_id, "sha256": f.sha256, "s3Key": f.s3_key, "config": f.config}
            for f in result.functions
        ],
    }


def _failure(step: str, error: dict) -> dict:
    """A Step Functions Catch output ({Error, Cause}) as the build's failure record."""
    cause = error.get("Cause", "")
    try:
        parsed = json.loads(cause)
        message = parsed.get("errorMessage", cause) if isinstance(parsed, dict) else cause
    except ValueError:
        message = cause
    return {"step": step, "error": error.get("Error", "Unknown"), "cause": message}


@_task
def finish_build(event: dict) -> dict:
    app_name, number, status = (
        _field(event, "app"),
        int(_field(event, "number")),
        BuildStatus(_field(event, "status")),
    )
    if status is BuildStatus.SUCCEEDED:
        pkg = _field(event, "package")
        functions = tuple(
            FunctionArtifact(f["logicalId"], f["sha256"], f["s3Key"], f.get("config") or {})
            for f in pkg["functions"]
        )
        lineage.finish_build(app_name, number, status, functions=functions, template_key=pkg["templateKey"])
    else:
        failure = _failure(event.get("step", "unknown"), event.get("error") or {})
        lineage.finish_build(app_name, number, status, failure=failure)
        metrics.add_metric(name="BuildsFailed", unit="Count", value=1)
    return {"app": app_name, "number": number, "status": str(status)}


def _newer_push_running(app_name: str, stage: str, build) -> int | None:
    """The number of the build the stage runs, when its commit descends from ``build``'s: pushes
    deploy in the order of their history, whatever order their builds finished in."""
    current = lineage.current_deployment(app_name, stage)
    if current is None or current.build == build.number:
        return None
    running = lineage.get_build(app_name, current.build)
    repository = lineage.get_app(app_name).repository
    return running.number if descends_from(repository, running.commit_id, build.commit_id) else None


@_task
def deploy(event: dict) -> dict:
    """Lock the stage, record the deployment, start the stage stack's change set."""
    app_name, stage, number = _field(event, "app"), _field(event, "stage"), int(_field(event, "build"))
    build = lineage.get_build(app_name, number)
    if build.status is not BuildStatus.SUCCEEDED or not build.template_key:
        raise DeployError(f"build {number} of {app_name} is {build.status}, only a succeeded build deploys")
    kind = DeploymentKind(event.get("kind", DeploymentKind.DEPLOY))
    trigger = event.get("trigger") or {"type": "user"}
    superseded_by = (
        _newer_push_running(app_name, stage, build)
        if kind is DeploymentKind.DEPLOY and trigger.get("type") == "push"
        else None
    )
    if superseded_by is not None:
        logger.info(
            "superseded", extra={"app": app_name, "stage": stage, "build": number, "current": superseded_by}
        )
        return {"app": app_name, "stage": stage, "build": number, "status": "SUPERSEDED", "by": superseded_by}
    deployment = lineage.begin_deployment(app_name, stage, number, kind, trigger)
    stack = stack_name(app_name, stage)
    try:
        change_set = StageStacks().start(
            stack,
            artifacts.template_url(build.template_key),
            {"Stage": stage},
            require_env("DEPLOY_ROLE_ARN"),
        )
    except Exception as e:
        lineage.finish_deployment(app_name, stage, deployment.id, DeploymentStatus.FAILED, error=str(e))
        raise
    logger.info(
        "deployment started",
        extra={"app": app_name, "stage": stage, "build": number, "deployment": deployment.id},
    )
    return {
        "app": app_name,
        "stage": stage,
        "build": number,
        "deploymentId": deployment.id,
        "stackName": stack,
        "changeSetId": change_set,
        "status": "IN_PROGRESS",
    }


@_task
def check_deploy(event: dict) -> dict:
    """Follow the change set; once the stack settles, record the versions behind `live`.

    Called with the ``error`` a Catch adds when following failed for good: the deployment is
    recorded FAILED with it, which releases the stage."""
    app_name, stage, deployment_id = (
        _field(event, "app"),
        _field(event, "stage"),
        _field(event, "deploymentId"),
    )
    if event.get("error"):
        reason = _failure("CheckDeploy", event["error"])
        error = f"{reason['error']}: {reason['cause']}"
        lineage.finish_deployment(app_name, stage, deployment_id, DeploymentStatus.FAILED, error=error)
        return {**event, "status": "FAILED", "error": error}
    stacks = StageStacks()
    try:
        progress = stacks.follow(_field(event, "changeSetId"), FOLLOW_BUDGET_S)
    except DeployError as e:
        lineage.finish_deployment(app_name, stage, deployment_id, DeploymentStatus.FAILED, error=str(e))
        return {**event, "status": "FAILED", "error": str(e)}
    if progress.status == "IN_PROGRESS":
        return {**event, "status": "IN_PROGRESS"}
    if progress.status == "FAILED":
        lineage.finish_deployment(
            app_name, stage, deployment_id, DeploymentStatus.FAILED, error=progress.reason
        )
        metrics.add_metric(name="DeploymentsFailed", unit="Count", value=1)
        return {**event, "status": "FAILED", "error": progress.reason}
    versions = stacks.live_versions(event["stackName"])
    lineage.finish_deployment(app_name, stage, deployment_id, DeploymentStatus.SUCCEEDED, versions=versions)
    metrics.add_metric(name="Deployments", unit="Count", value=1)
    return {**event, "status": "SUCCEEDED", "versions": versions, "changed": progress.changed}
