"""Sprout's HTTP API (IAM-authenticated through API Gateway): one resolver, routes per resource
(sprout.handlers.routes), domain errors mapped to HTTP statuses in one place."""

from __future__ import annotations

import boto3
from aws_lambda_powertools.event_handler import APIGatewayRestResolver

from sprout.adapters.artifacts import ArtifactStore
from sprout.adapters.executions import Executions
from sprout.adapters.lineage import Lineage
from sprout.adapters.source import resolve_branch
from sprout.adapters.stacks import StageStacks
from sprout.handlers.delivery import Delivery
from sprout.handlers.errors import install_error_handlers
from sprout.handlers.http import resolver_handler
from sprout.handlers.routes import apps, builds, pipeline, stages
from sprout.services.previews import Previews
from sprout.services.stages import StageChanges
from sprout.settings import Settings, require_env

settings = Settings.from_env()
lineage = Lineage()
sfn = boto3.client("stepfunctions")
stage_changes = StageChanges(lineage, Executions(sfn), StageStacks(), require_env("TEARDOWN_STATE_MACHINE_ARN"),
                             require_env("SPROUT_STACK_NAME"))

app = APIGatewayRestResolver()
app.include_router(apps.router)
app.include_router(builds.router)
app.include_router(stages.router)
app.include_router(pipeline.router)
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
    stage_changes=stage_changes,
    previews=Previews(lineage, stage_changes, resolve_branch),
)


install_error_handlers(app)


lambda_handler = resolver_handler(app, before=lambda: app.append_context(**DEPENDENCIES))


__all__ = ["lambda_handler", "app"]
