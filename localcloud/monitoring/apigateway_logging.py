"""API Gateway's account CloudWatch role and stage access-log settings, checked as AWS checks them.

moto 5.2.5 stores what it is given: ``update-account`` takes any role, ``update-stage`` on a stage
that does not exist creates it, and access-log settings are taken without a look. AWS:

* ``update-account`` ``/cloudwatchRoleArn``: the role must exist and trust
  ``apigateway.amazonaws.com`` (BadRequestException "The role ARN does not have required
  permissions set to API Gateway"); an empty value clears the setting;
* ``update-stage`` of an unknown stage: NotFoundException "Invalid stage identifier specified";
* turning access logging on (``/accessLogSettings/destinationArn``) needs the account's CloudWatch
  role set ("CloudWatch Logs role ARN must be set in account settings to enable logging"), a
  CloudWatch Logs log-group ARN (or a Firehose stream ARN), and a format holding
  ``$context.requestId`` or ``$context.extendedRequestId``; ``op: remove`` on
  ``/accessLogSettings`` turns it off.

The gateway (localcloud.gateway) reads the stage's settings on every request, so a change takes
effect on the next one; a stack update leaves settings alone unless the template's
``AccessLogSetting`` itself changed (localcloud.cloudformation patches only changed properties).
"""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import unquote

from localcloud.moto_hooks import hook, require

MODELS = "moto.apigateway.models"
LOG_GROUP_ARN = re.compile(r"arn:aws[a-z-]*:logs:[a-z0-9-]+:\d{12}:log-group:[\w#./-]+(:\*)?")
FIREHOSE_ARN = re.compile(r"arn:aws[a-z-]*:firehose:[a-z0-9-]+:\d{12}:deliverystream/amazon-apigateway-[\w.-]+")
APIGATEWAY = "apigateway.amazonaws.com"


def trusts_apigateway(document: Any) -> bool:
    """Whether a role's trust policy lets API Gateway assume it."""
    if isinstance(document, str):
        try:
            document = json.loads(unquote(document))
        except ValueError:
            return False
    statements = (document or {}).get("Statement") or []
    if isinstance(statements, dict):
        statements = [statements]
    for s in statements:
        if s.get("Effect") != "Allow":
            continue
        actions = s.get("Action") or []
        actions = [actions] if isinstance(actions, str) else actions
        if not any(a in ("sts:AssumeRole", "sts:*", "*") for a in actions):
            continue
        services = (s.get("Principal") or {}).get("Service") if isinstance(s.get("Principal"), dict) else None
        services = [services] if isinstance(services, str) else services or []
        if APIGATEWAY in services or "apigateway.us-east-1.amazonaws.com" in services:  # global or regional
            return True
    return False


def check_access_log_settings(settings: dict[str, Any], account_role: str | None) -> str | None:
    """AWS's complaint about a stage's access-log settings, or None when they are acceptable."""
    destination = settings.get("destinationArn")
    if not destination:
        return None
    if not account_role:
        return "CloudWatch Logs role ARN must be set in account settings to enable logging"
    if not (LOG_GROUP_ARN.fullmatch(destination) or FIREHOSE_ARN.fullmatch(destination)):
        return f"Invalid ARN specified in the request. ARN: {destination}"
    fmt = settings.get("format") or ""
    if "$context.requestId" not in fmt and "$context.extendedRequestId" not in fmt:
        return "Access Log format must contain at least one of $context.requestId or $context.extendedRequestId"
    return None


def install() -> None:
    bad_request = require("moto.apigateway.exceptions", "BadRequestException", "API Gateway's 400 answers")
    stage_not_found = require("moto.apigateway.exceptions", "StageNotFoundException", "update-stage of an unknown stage")
    iam_backends = require("moto.iam.models", "iam_backends", "the role update-account is given must trust API Gateway")
    require(MODELS, "Stage", "Stage.access_log_settings holds what update-stage set")

    @hook(MODELS, "APIGatewayBackend.update_account", "update-account checks the CloudWatch role as AWS does")
    def update_account(original: Any, self: Any, patch_operations: list[dict[str, Any]]) -> Any:
        for op in patch_operations:
            if op.get("path") == "/cloudwatchRoleArn" and op.get("value"):
                arn = op["value"]
                try:
                    role = iam_backends[self.account_id]["aws"].get_role_by_arn(arn)
                except Exception:
                    role = None
                if role is None or not trusts_apigateway(role.assume_role_policy_document):
                    raise bad_request("The role ARN does not have required permissions set to API Gateway")
        return original(self, patch_operations)

    @hook(MODELS, "APIGatewayBackend.update_stage", "update-stage of an unknown stage is a 404; access logs checked")
    def update_stage(original: Any, self: Any, function_id: str, stage_name: str, patch_operations: Any) -> Any:
        api = self.get_rest_api(function_id)
        stage = api.stages.get(stage_name)
        if stage is None:
            raise stage_not_found()
        before = dict(stage.access_log_settings) if stage.access_log_settings else None
        updated = original(self, function_id, stage_name, patch_operations)
        settings = updated.access_log_settings or {}
        problem = check_access_log_settings(settings, self.account.cloudwatch_role_arn)
        if problem is not None:
            updated.access_log_settings = before  # AWS applies all of a request's operations or none
            raise bad_request(problem)
        return updated
