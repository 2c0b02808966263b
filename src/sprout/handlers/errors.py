"""Sprout's named errors as HTTP answers, in one place for every resolver (the API and the
monitoring API): 400 naming the field, 404 (naming it when a field named it), 409 with what
conflicts; never a 5xx for bad input. A message echoes names and values only through
``sprout.domain.errors.named``/``shown`` (a short prefix); ``MAX_MESSAGE`` is the last guard."""

from __future__ import annotations

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import ApiGatewayResolver

from sprout.domain.errors import (
    Conflict,
    DeployError,
    InvalidInput,
    NotFound,
    SourceError,
    StageBusy,
    StaleChangeSet,
    named,
)
from sprout.handlers.http import json_response

MAX_MESSAGE = 500


def _message(e: Exception) -> str:
    return named(str(e), MAX_MESSAGE)


def install_error_handlers(app: ApiGatewayResolver) -> None:
    @app.exception_handler(InvalidInput)
    def invalid_input(e: InvalidInput) -> Response:
        return json_response(400, {"message": _message(e), "field": e.field})

    @app.exception_handler(SourceError)
    def source_error(e: SourceError) -> Response:
        return json_response(400, {"message": _message(e)})

    @app.exception_handler(NotFound)
    def not_found(e: NotFound) -> Response:
        return json_response(404, {"message": _message(e), **({"field": e.field} if e.field else {})})

    @app.exception_handler(StaleChangeSet)
    def stale_changeset(e: StaleChangeSet) -> Response:
        return json_response(409, {"message": _message(e), "changeset": e.changeset})

    @app.exception_handler(StageBusy)
    def stage_busy(e: StageBusy) -> Response:
        return json_response(409, {"message": _message(e), "holder": e.holder})

    @app.exception_handler(Conflict)
    def conflict(e: Conflict) -> Response:
        return json_response(409, {"message": _message(e)})

    @app.exception_handler(DeployError)
    def deploy_error(e: DeployError) -> Response:
        return json_response(502, {"message": _message(e)})
