"""A stage's resources as its CloudFormation stack holds them (functions, REST API stages), and
API Gateway's access logging of those stages: the account's CloudWatch role and each stage's
access-log settings (``update-account``, ``update-stage`` patch operations)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import boto3
from botocore.exceptions import ClientError

from sprout.domain.errors import NotDeployed
from sprout.domain.monitoring import (
    ACCESS_LOG_FORMAT,
    RETENTION_DAYS,
    ApiStage,
    StageInventory,
    access_log_group,
)


@dataclass(frozen=True)
class AccessLogSetting:
    api: ApiStage
    destination_arn: str | None
    format: str | None


class StageResources:
    def __init__(self, cloudformation: Any = None, apigateway: Any = None) -> None:
        self._cfn = cloudformation or boto3.client("cloudformation")
        self._apigw = apigateway or boto3.client("apigateway")

    def inventory(self, stack: str, where: str) -> StageInventory:
        """The stack's ``AWS::Lambda::Function`` and ``AWS::ApiGateway::Stage`` resources."""
        try:
            resources = self._cfn.describe_stack_resources(StackName=stack)["StackResources"]
        except ClientError as e:
            if "does not exist" in str(e):
                raise NotDeployed(f"{where} was never deployed: it has no stack yet") from None
            raise
        functions = {
            r["LogicalResourceId"]: r["PhysicalResourceId"]
            for r in resources
            if r["ResourceType"] == "AWS::Lambda::Function" and r.get("PhysicalResourceId")
        }
        stages = [ApiStage(s.logical_id, s.api_id, s.stage, self._apigw.get_rest_api(restApiId=s.api_id).get("name", ""))
                  for s in api_stages(resources)]
        return StageInventory(functions, tuple(sorted(stages, key=lambda s: (s.logical_id, s.stage))))


def api_stages(resources: list[dict[str, Any]]) -> list[ApiStage]:
    """A stack's REST API stages from its DescribeStackResources answer (without the APIs' names)."""
    apis = {r["LogicalResourceId"]: r["PhysicalResourceId"] for r in resources if r["ResourceType"] == "AWS::ApiGateway::RestApi"}
    stages = []
    for r in resources:
        if r["ResourceType"] != "AWS::ApiGateway::Stage" or not r.get("PhysicalResourceId"):
            continue
        # a stage's logical id is its API's followed by the stage name (SAM: NotesApi + "devStage")
        api_logical = next((a for a in sorted(apis, key=len, reverse=True) if r["LogicalResourceId"].startswith(a)), None)
        if api_logical is None and len(apis) == 1:
            api_logical = next(iter(apis))
        if api_logical is not None:
            stages.append(ApiStage(api_logical, apis[api_logical], r["PhysicalResourceId"]))
    return stages


class AccessLogging:
    def __init__(self, apigateway: Any = None) -> None:
        self._apigw = apigateway or boto3.client("apigateway")

    def account_role(self) -> str | None:
        return self._apigw.get_account().get("cloudwatchRoleArn") or None

    def set_account_role(self, role_arn: str) -> None:
        self._apigw.update_account(patchOperations=[{"op": "replace", "path": "/cloudwatchRoleArn", "value": role_arn}])

    def setting(self, api: ApiStage) -> AccessLogSetting:
        stage = self._apigw.get_stage(restApiId=api.api_id, stageName=api.stage)
        settings = stage.get("accessLogSettings") or {}
        return AccessLogSetting(api, settings.get("destinationArn"), settings.get("format"))

    def enable(self, api: ApiStage, destination_arn: str, fmt: str) -> None:
        current = self.setting(api)
        if current.destination_arn == destination_arn and current.format == fmt:
            return  # already so: calling twice changes nothing
        self._apigw.update_stage(
            restApiId=api.api_id,
            stageName=api.stage,
            patchOperations=[
                {"op": "replace", "path": "/accessLogSettings/destinationArn", "value": destination_arn},
                {"op": "replace", "path": "/accessLogSettings/format", "value": fmt},
            ],
        )

    def turn_on(self, apis: tuple[ApiStage, ...], role_arn: str, ensure_group: Callable[[str, int], str]) -> None:
        """Access logs on for ``apis`` as ``PUT .../access-logs {"enabled": true}`` does it: the account's
        CloudWatch role set when it has none (another one already set is kept: it works for every API),
        each stage's log group created with Sprout's retention (``ensure_group(name, days) -> arn``),
        and the stage's access-log settings pointed at it in Sprout's JSON format."""
        if self.account_role() is None:
            self.set_account_role(role_arn)
        for api in apis:
            arn = ensure_group(access_log_group(api.api_id, api.stage), RETENTION_DAYS)
            self.enable(api, arn, ACCESS_LOG_FORMAT)

    def disable(self, api: ApiStage) -> None:
        if self.setting(api).destination_arn is None:
            return
        self._apigw.update_stage(
            restApiId=api.api_id, stageName=api.stage, patchOperations=[{"op": "remove", "path": "/accessLogSettings"}]
        )
