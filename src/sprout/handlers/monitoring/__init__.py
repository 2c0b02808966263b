"""Sprout's monitoring API (its own function and role: reading logs and metrics does not belong
on the function that registers apps): access logs, API metrics, function logs and Lambda metrics
of a stage. Routes live in Router modules joined here."""

from __future__ import annotations

from aws_lambda_powertools.event_handler import APIGatewayRestResolver

from sprout import wiring
from sprout.handlers.errors import install_error_handlers
from sprout.handlers.http import resolver_handler
from sprout.handlers.monitoring import access_logs, functions, metrics

settings = wiring.settings()  # what this function needs, checked at its cold start
app = APIGatewayRestResolver()
app.include_router(access_logs.router)
app.include_router(metrics.router)
app.include_router(functions.router)


install_error_handlers(app)


lambda_handler = resolver_handler(app)


__all__ = ["app", "lambda_handler"]
