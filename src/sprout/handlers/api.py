"""Sprout's HTTP API (IAM-authenticated through API Gateway): one resolver, routes per resource
(sprout.handlers.routes), domain errors mapped to HTTP statuses in one place. The services the
routes call are built once at cold start by the composition root (sprout.wiring)."""

from __future__ import annotations

from aws_lambda_powertools.event_handler import APIGatewayRestResolver

from sprout import wiring
from sprout.handlers.errors import install_error_handlers
from sprout.handlers.http import resolver_handler
from sprout.handlers.routes import apps, builds, issues, notifications, pipeline, stage_settings, stages

app = APIGatewayRestResolver()
app.include_router(apps.router)
app.include_router(builds.router)
app.include_router(stages.router)
app.include_router(pipeline.router)
app.include_router(stage_settings.router)
app.include_router(issues.router)
app.include_router(notifications.router)
# What the routes use, built once at cold start; Powertools clears the context after every request.
DEPENDENCIES = wiring.api()


install_error_handlers(app)


lambda_handler = resolver_handler(app, before=lambda: app.append_context(**DEPENDENCIES))


__all__ = ["lambda_handler", "app"]
