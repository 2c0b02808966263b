"""Sprout's HTTP API (IAM-authenticated through API Gateway): apps, builds, deployments."""

from __future__ import annotations

import json
import uuid

import boto3
from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response, content_types
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from sprout.adapters.lineage import Lineage
from sprout.adapters.source import resolve_branch
from sprout.domain.errors import Conflict, InvalidInput, NotFound, SourceError
from sprout.domain.model import App, StageSpec
from sprout.handlers.views import app_view, build_summary, build_view, deployment_view
from sprout.observability import logger, metrics, tracer
from sprout.schemas import validate
from sprout.settings import require_env

BUILD_STATE_MACHINE_ARN = require_env("BUILD_STATE_MACHINE_ARN")
DEFAULT_STAGES = (StageSpec("dev", branch="main", auto_deploy=True), StageSpec("prod"))

app = APIGatewayRestResolver()
lineage = Lineage()
sfn = boto3.client("stepfunctions")


def _json(status: int, body: dict) -> Response:
    return Response(status_code=status, content_type=content_types.APPLICATION_JSON, body=json.dumps(body))


def _body() -> dict:
    raw = app.current_event.body
    if raw is None or raw == "":
        raise InvalidInput("body", "a JSON object is required")
    try:
        body = json.loads(app.current_event.decoded_body)
    except (ValueError, UnicodeDecodeError) as e:
        raise InvalidInput("body", f"is not valid JSON ({e})") from e
    if not isinstance(body, dict):
        raise InvalidInput("body", "must be a JSON object")
    return body


def _caller() -> str:
    identity = app.current_event.request_context.identity
    return identity.user_arn or identity.caller or "unknown"


def _positive_int(name: str, value: str | None, default: int | None = None, maximum: int = 100) -> int:
    if value is None:
        if default is None:
            raise InvalidInput(name, "is required")
        return default
    if not value.isdigit() or not 0 < int(value) <= maximum:
        raise InvalidInput(name, f"must be a whole number from 1 to {maximum}")
    return int(value)


@app.post("/apps")
def create_app() -> Response:
    body = _body()
    validate("app", body)
    stages = (
        tuple(
            StageSpec(s["name"], branch=s.get("branch"), auto_deploy=bool(s.get("autoDeploy", False)))
            for s in body.get("stages", ())
        )
        or DEFAULT_STAGES
    )
    names = [s.name for s in stages]
    if len(set(names)) != len(names):
        raise InvalidInput("stages", f"stage names must be unique, got {names}")
    for s in stages:
        if s.auto_deploy and not s.branch:
            raise InvalidInput("stages", f"stage {s.name} auto-deploys but follows no branch")
    created = lineage.create_app(
        App(
            name=body["name"],
            repository=body["repository"],
            template_path=body.get("templatePath", "template.yaml"),
            stages=stages,
        )
    )
    logger.info("app registered", extra={"app": created.name, "repository": created.repository})
    return _json(201, app_view(created))


@app.get("/apps")
def list_apps() -> Response:
    return _json(200, {"apps": [app_view(a) for a in lineage.list_apps()]})


@app.get("/apps/<name>")
def get_app(name: str) -> Response:
    return _json(200, app_view(lineage.get_app(name)))


@app.post("/apps/<name>/builds")
def start_build(name: str) -> Response:
    body = _body()
    validate("build_request", body)
    registered = lineage.get_app(name)
    branch = body.get("branch")
    commit = body.get("commit") or resolve_branch(registered.repository, branch)
    execution = sfn.start_execution(
        stateMachineArn=BUILD_STATE_MACHINE_ARN,
        name=f"{name}-{commit[:12]}-{uuid.uuid4().hex[:8]}",
        input=json.dumps(
            {
                "source": "sprout.api",
                "app": name,
                "branch": branch,
                "commitId": commit,
                "trigger": {"type": "user", "by": _caller()},
            }
        ),
    )
    return _json(
        202, {"app": name, "commitId": commit, "branch": branch, "executionArn": execution["executionArn"]}
    )


@app.get("/apps/<name>/builds")
def list_builds(name: str) -> Response:
    lineage.get_app(name)
    query = app.current_event.query_string_parameters or {}
    limit = _positive_int("limit", query.get("limit"), default=25)
    builds, token = lineage.list_builds(name, limit=limit, next_token=query.get("nextToken"))
    return _json(200, {"builds": [build_summary(b) for b in builds], "nextToken": token})


@app.get("/apps/<name>/builds/<number>")
def get_build(name: str, number: str) -> Response:
    lineage.get_app(name)
    n = _positive_int("number", number, maximum=10**9)
    build = lineage.get_build(name, n)
    return _json(200, build_view(build, lineage.deployments_of_build(name, n)))


@app.get("/apps/<name>/stages/<stage>/deployments")
def list_deployments(name: str, stage: str) -> Response:
    registered = lineage.get_app(name)
    if registered.stage(stage) is None:
        raise NotFound(f"app {name} has no stage {stage}")
    query = app.current_event.query_string_parameters or {}
    limit = _positive_int("limit", query.get("limit"), default=25)
    deployments, token = lineage.list_deployments(name, stage, limit=limit, next_token=query.get("nextToken"))
    return _json(200, {"deployments": [deployment_view(d) for d in deployments], "nextToken": token})


@app.exception_handler(InvalidInput)
def invalid_input(e: InvalidInput) -> Response:
    return _json(400, {"message": str(e), "field": e.field})


@app.exception_handler(SourceError)
def source_error(e: SourceError) -> Response:
    return _json(400, {"message": str(e)})


@app.exception_handler(NotFound)
def not_found(e: NotFound) -> Response:
    return _json(404, {"message": str(e)})


@app.exception_handler(Conflict)
def conflict(e: Conflict) -> Response:
    return _json(409, {"message": str(e)})


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    return app.resolve(event, context)


__all__ = ["lambda_handler", "app"]
