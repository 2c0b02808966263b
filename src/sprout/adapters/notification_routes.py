"""EventBridge resources that deliver one notification target, and the secrets the notifier signs
with. Per target, all named ``<stack>-n-<app>-<target id>`` (the apps' roles and stacks are denied
``<stack>-*`` rules, connections and API destinations: template.yaml):

- a Connection (EventBridge requires one; ``API_KEY`` with the header ``X-Sprout-Target: <id>``,
  which tells the receiver which target it is, not a secret);
- an ApiDestination: POST to the target's URL;
- a rule on ``Sprout Notification`` events of that app and target, whose target sends
  ``$.detail.body``, with the signature as the query string parameter ``signature`` (a webhook),
  retried (``RETRIES`` attempts, events older than ``MAX_AGE`` dropped) and dead-lettered.
"""

from __future__ import annotations

import json
from typing import Any

import boto3
from botocore.exceptions import ClientError

from sprout.adapters.sprout_events import SOURCE
from sprout.domain.notifications import SIGNATURE_PARAMETER
from sprout.observability import logger, tracer

NOTIFICATION = "Sprout Notification"
RETRIES = 5
MAX_AGE = 3600
RATE = 10  # invocations per second per destination


class NotificationRoutes:
    def __init__(self, prefix: str, role_arn: str, dead_letter_arn: str, client: Any = None):
        self._prefix, self._role, self._dlq = prefix, role_arn, dead_letter_arn
        self._events = client or boto3.client("events")

    def name(self, app: str, target_id: str) -> str:
        return f"{self._prefix}-n-{app}-{target_id}"[:64]

    @tracer.capture_method(capture_response=False)
    def create(self, app: str, target_id: str, kind: str, url: str) -> dict[str, str]:
        if not self._role or not self._dlq:
            raise RuntimeError("notifications are not configured: NOTIFICATION_ROLE_ARN and NOTIFICATION_DLQ_ARN")
        name = self.name(app, target_id)
        made: dict[str, str] = {}
        try:
            connection = self._events.create_connection(
                Name=name, Description=f"Sprout notifications of {app}", AuthorizationType="API_KEY",
                AuthParameters={"ApiKeyAuthParameters": {"ApiKeyName": "X-Sprout-Target", "ApiKeyValue": target_id}},
            )["ConnectionArn"]
            made["connection"] = name
            self._events.create_api_destination(
                Name=name, Description=f"Sprout notifications of {app}", ConnectionArn=connection,
                InvocationEndpoint=url, HttpMethod="POST", InvocationRateLimitPerSecond=RATE,
            )
            made["destination"] = name
            destination = self._events.describe_api_destination(Name=name)["ApiDestinationArn"]
            pattern = {"source": [SOURCE], "detail-type": [NOTIFICATION], "detail": {"app": [app], "target": [target_id]}}
            self._events.put_rule(Name=name, EventPattern=json.dumps(pattern), State="ENABLED",
                                  Description=f"Sprout notifications of {app} to target {target_id}")
            made["rule"] = name
            target: dict[str, Any] = {
                "Id": "deliver", "Arn": destination, "RoleArn": self._role, "InputPath": "$.detail.body",
                "RetryPolicy": {"MaximumRetryAttempts": RETRIES, "MaximumEventAgeInSeconds": MAX_AGE},
                "DeadLetterConfig": {"Arn": self._dlq},
            }
            if kind == "webhook":
                target["HttpParameters"] = {"QueryStringParameters": {SIGNATURE_PARAMETER: "$.detail.signature"}}
            answer = self._events.put_targets(Rule=name, Targets=[target])
            if answer.get("FailedEntryCount"):
                raise RuntimeError(f"EventBridge refused the rule's target: {answer.get('FailedEntries')}")
        except Exception:
            self.delete(made)
            raise
        return made

    def delete(self, names: dict[str, str]) -> None:
        """Remove what ``create`` made (what is gone already is skipped)."""
        steps = []
        if names.get("rule"):
            steps += [lambda: self._events.remove_targets(Rule=names["rule"], Ids=["deliver"]),
                      lambda: self._events.delete_rule(Name=names["rule"])]
        if names.get("destination"):
            steps.append(lambda: self._events.delete_api_destination(Name=names["destination"]))
        if names.get("connection"):
            steps.append(lambda: self._events.delete_connection(Name=names["connection"]))
        for step in steps:
            try:
                step()
            except ClientError as e:
                if e.response["Error"]["Code"] != "ResourceNotFoundException":
                    logger.warning("notification route not removed", extra={"names": names, "error": str(e)})


class NotificationSecrets:
    """The webhooks' secrets, read to sign (the notifier only: GetParameter under
    ``/sprout/*/_notifications/``)."""

    def __init__(self, ssm: Any = None):
        self._ssm = ssm or boto3.client("ssm")

    @tracer.capture_method(capture_response=False)
    def read(self, path: str) -> str | None:
        if not path:
            return None
        try:
            return str(self._ssm.get_parameter(Name=path, WithDecryption=True)["Parameter"]["Value"])
        except ClientError as e:
            if e.response["Error"]["Code"] == "ParameterNotFound":
                return None
            raise
