"""EventBridge resources that deliver one notification target, and the secrets the notifier signs
with. Per target, all named ``<stack>-n-<app>-<target id>`` (the apps' roles and stacks are denied
``<stack>-*`` pipes, connections and API destinations and ``<stack>-n-*`` queues: template.yaml):

- a Connection (EventBridge requires one; ``API_KEY`` with the header ``X-Sprout-Target: <id>``,
  which tells the receiver which target it is, not a secret);
- an ApiDestination: POST to the target's URL;
- an SQS queue the notifier sends the target's messages to; a message not delivered comes back
  after ``VISIBILITY`` seconds and after ``RECEIVES`` receives goes to the dead-letter queue
  (its redrive policy): bounded retries, nothing lost;
- an EventBridge pipe from the queue to the destination (one message at a time, the delivery
  role), sending ``InputTemplate`` (the notification; Slack's text and blocks) with, for a webhook,
  the header ``X-Sprout-Signature`` valued ``$.body.signature`` from the message.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from sprout.domain.notifications import (
    FAILED,
    GONE,
    QUEUED,
    SIGNATURE_HEADER,
    SIGNATURE_PATH,
    SLACK_TEMPLATE,
    WEBHOOK_TEMPLATE,
)
from sprout.observability import logger, tracer

RECEIVES = 4  # 1 delivery + 3 retries, then the dead-letter queue
VISIBILITY = 10  # seconds before a failed delivery is tried again (an API destination waits 5 s)
RETENTION = 86400  # a notification older than a day is of no use
RATE = 10  # invocations per second per destination
_GONE = ("ResourceNotFoundException", "NotFoundException", "AWS.SimpleQueueService.NonExistentQueue",
         "QueueDoesNotExist")


class NotificationRoutes:
    def __init__(self, prefix: str, role_arn: str, dead_letter_arn: str, client: Any = None, sqs: Any = None,
                 pipes: Any = None):
        self._prefix, self._role, self._dlq = prefix, role_arn, dead_letter_arn
        self._events = client or boto3.client("events")
        self._sqs = sqs or boto3.client("sqs")
        self._pipes = pipes or boto3.client("pipes")

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
            made["queue"] = self._sqs.create_queue(QueueName=name, Attributes={
                "VisibilityTimeout": str(VISIBILITY), "MessageRetentionPeriod": str(RETENTION),
                "RedrivePolicy": json.dumps({"deadLetterTargetArn": self._dlq, "maxReceiveCount": RECEIVES}),
            })["QueueUrl"]
            queue = self._sqs.get_queue_attributes(QueueUrl=made["queue"], AttributeNames=["QueueArn"])
            http: dict[str, Any] = {"HeaderParameters": {SIGNATURE_HEADER: SIGNATURE_PATH}} if kind == "webhook" else {}
            target: dict[str, Any] = {"InputTemplate": WEBHOOK_TEMPLATE if kind == "webhook" else SLACK_TEMPLATE}
            if http:
                target["HttpParameters"] = http
            self._pipes.create_pipe(
                Name=name, Description=f"Sprout notifications of {app} to target {target_id}", DesiredState="RUNNING",
                RoleArn=self._role, Source=queue["Attributes"]["QueueArn"], Target=destination,
                SourceParameters={"SqsQueueParameters": {"BatchSize": 1}}, TargetParameters=target,
            )
            made["pipe"] = name
        except Exception:
            self.delete(made)
            raise
        return made

    def delete(self, names: dict[str, str]) -> None:
        """Remove what ``create`` made (what is gone already is skipped)."""
        steps: list[Callable[[], Any]] = []
        if names.get("pipe"):
            steps.append(lambda: self._pipes.delete_pipe(Name=names["pipe"]))
        if names.get("queue"):
            steps.append(lambda: self._sqs.delete_queue(QueueUrl=names["queue"]))
        if names.get("destination"):
            steps.append(lambda: self._events.delete_api_destination(Name=names["destination"]))
        if names.get("connection"):
            steps.append(lambda: self._events.delete_connection(Name=names["connection"]))
        for step in steps:
            try:
                step()
            except ClientError as e:
                if e.response["Error"]["Code"] not in _GONE:
                    logger.warning("notification route not removed", extra={"names": names, "error": str(e)})


class NotificationQueues:
    """The notifier's outbox: one SendMessage per notification, to its target's queue."""

    def __init__(self, sqs: Any = None):
        self._sqs = sqs or boto3.client("sqs")

    @tracer.capture_method(capture_response=False)
    def send(self, messages: list[tuple[str, str]]) -> list[str]:
        outcomes = []
        for queue, body in messages:
            try:
                self._sqs.send_message(QueueUrl=queue, MessageBody=body)
                outcomes.append(QUEUED)
            except ClientError as e:
                gone = e.response["Error"]["Code"] in _GONE  # a target removed meanwhile
                logger.warning("notification not queued", extra={"queue": queue, "error": str(e), "gone": gone})
                outcomes.append(GONE if gone else FAILED)
            except BotoCoreError as e:  # the connection: may pass
                logger.warning("notification not queued", extra={"queue": queue, "error": str(e)})
                outcomes.append(FAILED)
        return outcomes


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
