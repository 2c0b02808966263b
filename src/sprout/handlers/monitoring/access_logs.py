"""Access logs of a stage's REST APIs (sprout.services.access_logs): turned on and off in one
call, their settings, and their entries newest first."""

from __future__ import annotations

import json

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import Router

from sprout import wiring
from sprout.domain.errors import InvalidInput
from sprout.domain.monitoring import parse_limit, status_filter, time_range
from sprout.handlers.http import json_response
from sprout.handlers.monitoring.common import now, query
from sprout.observability import logger

router = Router()
access_logs = wiring.access_logs()


@router.put("/apps/<app>/stages/<stage>/access-logs")
def put_access_logs(app: str, stage: str) -> Response:
    try:
        body = json.loads(router.current_event.decoded_body or "")
    except (ValueError, UnicodeDecodeError):
        body = None
    if not isinstance(body, dict) or not isinstance(body.get("enabled"), bool):
        access_logs.monitoring.stage_of(app, stage)  # an unknown app or stage is a 404 before a bad body
        raise InvalidInput("enabled", 'the body must be {"enabled": true} or {"enabled": false}')
    answer = access_logs.set(app, stage, body["enabled"])
    logger.info("access logs set", extra={"app": app, "stage": stage, "enabled": body["enabled"]})
    return json_response(200, answer)


@router.get("/apps/<app>/stages/<stage>/access-logs/settings")
def get_access_log_settings(app: str, stage: str) -> Response:
    return json_response(200, access_logs.settings(app, stage))


@router.get("/apps/<app>/stages/<stage>/access-logs")
def get_access_logs(app: str, stage: str) -> Response:
    q = query(router)
    access_logs.monitoring.stage_of(app, stage)  # 404 before a bad query
    span = time_range(q.get("since"), q.get("until"), now())
    return json_response(200, access_logs.entries(app, stage, span, status_filter(q.get("status")),
                                                  parse_limit(q.get("limit")), q.get("nextToken"), checked=True))
