"""Sprout's auto-rollback API (its own function and role: it creates and deletes alarms and
subscription filters, which no other API function may): ``PUT`` and ``GET``
``/apps/{app}/stages/{stage}/auto-rollback``."""

from __future__ import annotations

import json

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from sprout.adapters.auto_rollback import Watcher
from sprout.domain.auto_rollback import parse_request
from sprout.domain.errors import Conflict, InvalidInput, NotFound
from sprout.handlers.http import json_response
from sprout.handlers.monitoring.common import stage_of
from sprout.observability import logger, tracer
from sprout.observability import metrics as emf

app = APIGatewayRestResolver()
watcher = Watcher()


def _caller() -> str | None:
    identity = app.current_event.request_context.identity
    return identity.user_arn or identity.caller


@app.put("/apps/<app_name>/stages/<stage>/auto-rollback")
def put_auto_rollback(app_name: str, stage: str) -> Response:
    stage_of(app_name, stage)
    try:
        body = json.loads(app.current_event.decoded_body or "")
    except (ValueError, UnicodeDecodeError):
        raise InvalidInput("enabled", 'the body must be JSON such as {"enabled": true}') from None
    current, _ = watcher.current(app_name, stage)
    wanted = parse_request(body, current)
    watcher.apply(app_name, stage, wanted, by=_caller())
    return json_response(200, watcher.report(app_name, stage))


@app.get("/apps/<app_name>/stages/<stage>/auto-rollback")
def get_auto_rollback(app_name: str, stage: str) -> Response:
    stage_of(app_name, stage)
    return json_response(200, watcher.report(app_name, stage))


@app.exception_handler(InvalidInput)
def invalid_input(e: InvalidInput) -> Response:
    return json_response(400, {"message": str(e), "field": e.field})


@app.exception_handler(NotFound)
def not_found(e: NotFound) -> Response:
    return json_response(404, {"message": str(e)})


@app.exception_handler(Conflict)
def conflict(e: Conflict) -> Response:
    return json_response(409, {"message": str(e)})


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@tracer.capture_lambda_handler
@emf.log_metrics
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    return app.resolve(event, context)


__all__ = ["app", "lambda_handler"]
