"""Sprout's HTTP API (IAM-authenticated through API Gateway): one resolver, routes per resource
(sprout.handlers.routes), domain errors mapped to HTTP statuses in one place."""

from __future__ import annotations

import boto3
from aws_lambda_powertools.event_handler import APIGatewayRestResolver
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from sprout.adapters.artifacts import ArtifactStore
from sprout.adapters.executions import Executions
from sprout.adapters.lineage import Lineage
from sprout.handlers.delivery import Delivery
from sprout.handlers.errors import install_error_handlers
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


install_error_handlers(app)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    app.append_context(**DEPENDENCIES)
    return app.resolve(event, context)


__all__ = ["lambda_handler", "app"]
