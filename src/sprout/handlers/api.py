"""Sprout's HTTP API (IAM-authenticated through API Gateway): one resolver, routes per resource
(sprout.handlers.routes), domain errors mapped to HTTP statuses in one place."""

from __future__ import annotations

import boto3
from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from sprout.adapters.artifacts import ArtifactStore
from sprout.adapters.executions import Executions
from sprout.adapters.lineage import Lineage
from sprout.domain.errors import (
    Conflict,
    DeployError,
    InvalidInput,
    NotFound,
    SourceError,
    StageBusy,
    StaleChangeSet,
)
from sprout.handlers.delivery import Delivery
from sprout.handlers.http import json_response
from sprout.handlers.routes import apps, builds, stages
from sprout.observability import logger, metrics, tracer
from sprout.settings import Settings, require_env

settings = Settings.from_env()
lineage = Lineage()
sfn = boto3.client("stepfunctions")

app = APIGatewayRestResolver()
app.include_router(apps.router)
app.include_router(builds.router)
app.include_router(stages.router)
# What the routes use, built once at cold start; Powertools clears the context after every request.
DEPENDENCIES = dict(
    lineage=lineage,
    sfn=sfn,
    build_machine=require_env("BUILD_STATE_MACHINE_ARN"),
    delivery=Delivery(
        lineage,
        ArtifactStore(settings.artifact_bucket),
        Executions(sfn),
        promote_machine=require_env("PROMOTE_STATE_MACHINE_ARN"),
        rollback_machine=require_env("ROLLBACK_STATE_MACHINE_ARN"),
    ),
)


@app.exception_handler(InvalidInput)
def invalid_input(e: InvalidInput) -> Response:
    return json_response(400, {"message": str(e), "field": e.field})


@app.exception_handler(SourceError)
def source_error(e: SourceError) -> Response:
    return json_response(400, {"message": str(e)})


@app.exception_handler(NotFound)
def not_found(e: NotFound) -> Response:
    return json_response(404, {"message": str(e), **({"field": e.field} if e.field else {})})


@app.exception_handler(StaleChangeSet)
def stale_changeset(e: StaleChangeSet) -> Response:
    return json_response(409, {"message": str(e), "changeset": e.changeset})


@app.exception_handler(StageBusy)
def stage_busy(e: StageBusy) -> Response:
    return json_response(409, {"message": str(e), "holder": e.holder})


@app.exception_handler(Conflict)
def conflict(e: Conflict) -> Response:
    return json_response(409, {"message": str(e)})


@app.exception_handler(DeployError)
def deploy_error(e: DeployError) -> Response:
    return json_response(502, {"message": str(e)})


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    app.append_context(**DEPENDENCIES)
    return app.resolve(event, context)


__all__ = ["lambda_handler", "app"]
