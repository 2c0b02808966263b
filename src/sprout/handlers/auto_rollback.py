"""Sprout's auto-rollback API (its own function and role: it creates and deletes alarms and
subscription filters, which no other API function may): ``PUT`` and ``GET``
``/apps/{app}/stages/{stage}/auto-rollback``."""

from __future__ import annotations

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response

from sprout import wiring
from sprout.domain.auto_rollback import parse_request
from sprout.domain.previews import refuse_for_preview
from sprout.handlers.errors import install_error_handlers
from sprout.handlers.http import body_of, json_response, resolver_handler
from sprout.handlers.monitoring.common import stage_of

app = APIGatewayRestResolver()
watcher = wiring.watcher()


def _caller() -> str | None:
    identity = app.current_event.request_context.identity
    return identity.user_arn or identity.caller


@app.put("/apps/<app_name>/stages/<stage>/auto-rollback")
def put_auto_rollback(app_name: str, stage: str) -> Response:
    stage_of(app_name, stage)
    body = body_of(app)
    current, _ = watcher.current(app_name, stage)
    wanted = parse_request(body, current)
    if wanted.enabled:
        refuse_for_preview(wiring.lineage().get_app(app_name), stage, "previews are never rolled back automatically")
    watcher.apply(app_name, stage, wanted, by=_caller())
    return json_response(200, watcher.report(app_name, stage))


@app.get("/apps/<app_name>/stages/<stage>/auto-rollback")
def get_auto_rollback(app_name: str, stage: str) -> Response:
    stage_of(app_name, stage)
    return json_response(200, watcher.report(app_name, stage))


install_error_handlers(app)


lambda_handler = resolver_handler(app)


__all__ = ["app", "lambda_handler"]
