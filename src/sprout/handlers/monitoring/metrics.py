"""API metrics of a stage, from ``AWS/ApiGateway`` (``ApiName``, ``Stage``): requests, 4xx, 5xx
and latency average, p90, p95, p99 per period (sprout.services.monitoring)."""

from __future__ import annotations

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import Router

from sprout.domain.monitoring import parse_period, time_range
from sprout.handlers.http import json_response
from sprout.handlers.monitoring.common import monitoring, now, query, stage_of

router = Router()


@router.get("/apps/<app>/stages/<stage>/metrics")
def get_metrics(app: str, stage: str) -> Response:
    stage_of(app, stage)
    q = query(router)
    span = time_range(q.get("since"), q.get("until"), now())
    period = parse_period(q.get("period"), span)
    return json_response(200, monitoring.api_metrics(app, stage, span, period))
