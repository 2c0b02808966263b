"""A stage's functions: the list (logical id, physical name, version behind ``live``), each one's
log events newest first (``errors=true``: failures only), and its ``AWS/Lambda`` metrics for the
``live`` alias and for the function as a whole."""

from __future__ import annotations

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import Router

from sprout.adapters.logs import LogReader
from sprout.adapters.metrics import MetricQuery, MetricReader
from sprout.domain.model import LIVE_ALIAS
from sprout.domain.monitoring import (
    ERRORS_FILTER,
    decode_cursor,
    encode_cursor,
    iso_ms,
    parse_bool,
    parse_limit,
    parse_period,
    points,
    resolve_function,
    time_range,
)
from sprout.domain.tokens import listing
from sprout.handlers.http import json_response
from sprout.handlers.monitoring.common import DeployedStage, deployed, now, query, stage_of

router = Router()
logs = LogReader()
metrics = MetricReader()

LAMBDA_FIELDS = {
    "invocations": ("Invocations", "Sum"),
    "errors": ("Errors", "Sum"),
    "throttles": ("Throttles", "Sum"),
    "durationAvg": ("Duration", "Average"),
    "durationP90": ("Duration", "p90"),
    "durationP95": ("Duration", "p95"),
    "durationP99": ("Duration", "p99"),
}
COUNTS = ("invocations", "errors", "throttles")


def _function(target: DeployedStage, fn: str) -> tuple[str, str]:
    logical_id = resolve_function(fn, list(target.inventory.functions), target.where)
    return logical_id, target.inventory.functions[logical_id]


@router.get("/apps/<app>/stages/<stage>/functions")
def list_functions(app: str, stage: str) -> Response:
    target = deployed(app, stage)
    versions = target.deployment.versions or {}
    return json_response(
        200,
        {
            "functions": [
                {"logicalId": logical_id, "functionName": name, "version": versions.get(logical_id)}
                for logical_id, name in sorted(target.inventory.functions.items())
            ]
        },
    )


@router.get("/apps/<app>/stages/<stage>/functions/<fn>/logs")
def function_logs(app: str, stage: str, fn: str) -> Response:
    stage_of(app, stage)
    q = query(router)
    span = time_range(q.get("since"), q.get("until"), now())
    errors = parse_bool("errors", q.get("errors"))
    limit = parse_limit(q.get("limit"))
    target = deployed(app, stage, checked=True)
    logical_id, name = _function(target, fn)
    logs_of = listing("function-logs", app, stage, logical_id)
    cursor = decode_cursor(logs_of, q["nextToken"]) if q.get("nextToken") else None
    events, next_cursor = logs.newest(
        [f"/aws/lambda/{name}"], ERRORS_FILTER if errors else "", span.since_ms, span.until_ms, limit, cursor
    )
    return json_response(
        200,
        {
            "function": logical_id,
            "events": [{"timestamp": iso_ms(e.timestamp), "logStream": e.stream, "message": e.message} for e in events],
            "nextToken": encode_cursor(logs_of, next_cursor) if next_cursor else None,
        },
    )


@router.get("/apps/<app>/stages/<stage>/functions/<fn>/metrics")
def function_metrics(app: str, stage: str, fn: str) -> Response:
    stage_of(app, stage)
    q = query(router)
    span = time_range(q.get("since"), q.get("until"), now())
    period = parse_period(q.get("period"), span)
    target = deployed(app, stage, checked=True)
    logical_id, name = _function(target, fn)
    scopes = {
        "live": (("FunctionName", name), ("Resource", f"{name}:{LIVE_ALIAS}")),
        "all": (("FunctionName", name),),
    }
    queries = [
        MetricQuery(f"{scope}{n}", "AWS/Lambda", metric, dims, stat)
        for scope, dims in scopes.items()
        for n, (metric, stat) in enumerate(LAMBDA_FIELDS.values())
    ]
    series = metrics.series(queries, span.since, span.until, period)
    answer: dict = {"function": logical_id, "period": period}
    for scope in scopes:
        fields = {field: f"{scope}{n}" for n, field in enumerate(LAMBDA_FIELDS)}
        answer[scope] = points(series, fields, COUNTS)
    return json_response(200, answer)
