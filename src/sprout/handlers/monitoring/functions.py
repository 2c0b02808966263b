"""A stage's functions: the list (logical id, physical name, version behind ``live``), each one's
log events newest first (``errors=true``: failures only), and its ``AWS/Lambda`` metrics for the
``live`` alias and for the function as a whole (sprout.services.monitoring)."""

from __future__ import annotations

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import Router

from sprout.domain.monitoring import parse_bool, parse_limit, parse_period, time_range
from sprout.handlers.http import json_response
from sprout.handlers.monitoring.common import monitoring, now, query, stage_of

router = Router()


@router.get("/apps/<app>/stages/<stage>/functions")
def list_functions(app: str, stage: str) -> Response:
    return json_response(200, monitoring.functions(app, stage))


@router.get("/apps/<app>/stages/<stage>/functions/<fn>/logs")
def function_logs(app: str, stage: str, fn: str) -> Response:
    stage_of(app, stage)
    q = query(router)
    span = time_range(q.get("since"), q.get("until"), now())
    errors = parse_bool("errors", q.get("errors"))
    limit = parse_limit(q.get("limit"))
    return json_response(200, monitoring.function_logs(app, stage, fn, span, errors, limit, q.get("nextToken")))


@router.get("/apps/<app>/stages/<stage>/functions/<fn>/metrics")
def function_metrics(app: str, stage: str, fn: str) -> Response:
    stage_of(app, stage)
    q = query(router)
    span = time_range(q.get("since"), q.get("until"), now())
    period = parse_period(q.get("period"), span)
    return json_response(200, monitoring.function_metrics(app, stage, fn, span, period))
