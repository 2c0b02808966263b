"""Access logs of a stage's REST APIs: turned on and off in one call, their settings, and their
entries newest first (filtered on the server side with a CloudWatch Logs filter pattern)."""

from __future__ import annotations

import json

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import Router

from sprout import wiring
from sprout.adapters.apigateway import AccessLogging
from sprout.adapters.logs import LogReader
from sprout.domain.errors import AccessLogsOff, InvalidInput
from sprout.domain.monitoring import (
    access_log_group,
    decode_cursor,
    encode_cursor,
    parse_access_entry,
    parse_limit,
    status_filter,
    time_range,
)
from sprout.domain.tokens import listing
from sprout.handlers.http import json_response
from sprout.handlers.monitoring.common import DeployedStage, deployed, now, query, stage_of
from sprout.observability import logger

router = Router()
logging_api = AccessLogging()
reader = LogReader()


def _role() -> str:
    return wiring.settings().need("access_log_role_arn")


def _group_of(destination: str | None) -> str | None:
    if not destination or ":log-group:" not in destination:
        return None
    return destination.split(":log-group:", 1)[1].removesuffix(":*")


def _settings(stage: DeployedStage) -> dict:
    account = logging_api.account_role()
    apis = []
    enabled = bool(stage.inventory.apis)
    retention = None
    for api in stage.inventory.apis:
        setting = logging_api.setting(api)
        group = _group_of(setting.destination_arn) or access_log_group(api.api_id, api.stage)
        enabled = enabled and setting.destination_arn is not None
        retention = retention or reader.retention(group)
        apis.append({"apiId": api.api_id, "stage": api.stage, "logGroup": group, "destinationArn": setting.destination_arn})
    return {
        "enabled": enabled,
        "apis": apis,
        "accountRole": {"arn": account, "kept": account is not None and account != _role()},
        "retentionDays": retention,
    }


def _require_api(stage: DeployedStage) -> None:
    if not stage.inventory.apis:
        raise AccessLogsOff(f"{stage.where} has no REST API (AWS::ApiGateway::Stage) in its stack: there are no access logs")


@router.put("/apps/<app>/stages/<stage>/access-logs")
def put_access_logs(app: str, stage: str) -> Response:
    stage_of(app, stage)
    try:
        body = json.loads(router.current_event.decoded_body or "")
    except (ValueError, UnicodeDecodeError):
        body = None
    if not isinstance(body, dict) or not isinstance(body.get("enabled"), bool):
        raise InvalidInput("enabled", 'the body must be {"enabled": true} or {"enabled": false}')
    target = deployed(app, stage, checked=True)
    _require_api(target)
    if body["enabled"]:
        logging_api.turn_on(target.inventory.apis, _role(), reader.ensure_group)
    else:
        for api in target.inventory.apis:
            logging_api.disable(api)  # the log group and its logs stay
    logger.info("access logs set", extra={"app": app, "stage": stage, "enabled": body["enabled"]})
    return json_response(200, _settings(target))


@router.get("/apps/<app>/stages/<stage>/access-logs/settings")
def get_access_log_settings(app: str, stage: str) -> Response:
    return json_response(200, _settings(deployed(app, stage)))


@router.get("/apps/<app>/stages/<stage>/access-logs")
def get_access_logs(app: str, stage: str) -> Response:
    stage_of(app, stage)
    q = query(router)
    span = time_range(q.get("since"), q.get("until"), now())
    pattern = status_filter(q.get("status"))
    limit = parse_limit(q.get("limit"))
    logs_of = listing("access-logs", app, stage)
    cursor = decode_cursor(logs_of, q["nextToken"]) if q.get("nextToken") else None
    target = deployed(app, stage, checked=True)
    _require_api(target)
    groups = []
    for api in target.inventory.apis:
        group = _group_of(logging_api.setting(api).destination_arn)
        if group:
            groups.append(group)
    if not groups:
        raise AccessLogsOff(
            f"access logs are off for {target.where}: turn them on with PUT /apps/{app}/stages/{stage}/access-logs "
            f'{{"enabled": true}} (sprout access-logs enable {app} {stage})'
        )
    events, next_cursor = reader.newest(groups, pattern, span.since_ms, span.until_ms, limit, cursor)
    entries = [e for e in (parse_access_entry(ev.message) for ev in events) if e is not None]
    return json_response(200, {"entries": entries, "nextToken": encode_cursor(logs_of, next_cursor) if next_cursor else None})
