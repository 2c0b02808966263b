"""API metrics of a stage, from ``AWS/ApiGateway`` (``ApiName``, ``Stage``): requests, 4xx, 5xx
and latency average, p90, p95, p99 per period."""

from __future__ import annotations

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import Router

from sprout.adapters.metrics import MetricQuery, MetricReader
from sprout.domain.monitoring import iso, parse_period, points, time_range
from sprout.handlers.http import json_response
from sprout.handlers.monitoring.common import deployed, now, query, stage_of

router = Router()
reader = MetricReader()

API_FIELDS = {
    "requests": ("Count", "Sum"),
    "4xx": ("4XXError", "Sum"),
    "5xx": ("5XXError", "Sum"),
    "latencyAvg": ("Latency", "Average"),
    "latencyP90": ("Latency", "p90"),
    "latencyP95": ("Latency", "p95"),
    "latencyP99": ("Latency", "p99"),
}
COUNTS = ("requests", "4xx", "5xx")


@router.get("/apps/<app>/stages/<stage>/metrics")
def get_metrics(app: str, stage: str) -> Response:
    stage_of(app, stage)
    q = query(router)
    span = time_range(q.get("since"), q.get("until"), now())
    period = parse_period(q.get("period"), span)
    target = deployed(app, stage, checked=True)
    series: dict = {}
    if target.inventory.apis:
        api = target.inventory.apis[0]  # a stage's stack normally has one REST API
        dims = (("ApiName", api.api_name), ("Stage", api.stage))
        queries = [
            MetricQuery(f"q{n}", "AWS/ApiGateway", metric, dims, stat)
            for n, (metric, stat) in enumerate(API_FIELDS.values())
        ]
        series = reader.series(queries, span.since, span.until, period)
    fields = {field: f"q{n}" for n, field in enumerate(API_FIELDS)}
    return json_response(
        200,
        {"period": period, "since": iso(span.since), "until": iso(span.until), "points": points(series, fields, COUNTS)},
    )
