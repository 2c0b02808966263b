"""Sprout's monitoring API (its own function and role: reading logs and metrics does not belong
on the function that registers apps): access logs, API metrics, function logs and Lambda metrics
of a stage. Routes live in Router modules joined here."""

from __future__ import annotations

from aws_lambda_powertools.event_handler import APIGatewayRestResolver
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from sprout.handlers.errors import install_error_handlers
from sprout.handlers.monitoring import access_logs, functions, metrics
from sprout.observability import logger, tracer
from sprout.observability import metrics as emf

app = APIGatewayRestResolver()
app.include_router(access_logs.router)
app.include_router(metrics.router)
app.include_router(functions.router)


install_error_handlers(app)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@tracer.capture_lambda_handler
@emf.log_metrics
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    return app.resolve(event, context)


__all__ = ["app", "lambda_handler"]
