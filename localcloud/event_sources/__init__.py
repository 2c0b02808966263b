"""event_sources: what invokes functions on AWS besides callers, with Lambda's semantics.

- **Event source mappings** (SQS queues, DynamoDB streams): moto stores them (Create/Get/List/
  Update/DeleteEventSourceMapping) but delivers inline, on the sender's thread, one message at a
  time, without batching, partial failures or ``Enabled``, and empties a stream shard it delivered.
  localcloud detaches moto's inline delivery when a mapping is made, and ``pollers`` read the
  sources through the public SQS and DynamoDB Streams APIs, as Lambda's pollers do.
- **SNS → Lambda**: a publish to a ``lambda`` subscription invokes the function asynchronously with
  SNS's event (subscription and topic ARNs, message id, attributes), after the subscription's
  filter policy (moto's matching). SNS → SQS is moto's delivery; with ``--enforce-iam`` only to a
  queue whose policy lets ``sns.amazonaws.com`` ``sqs:SendMessage`` for the topic, as on AWS (the
  other deliveries are dropped and logged, as SNS drops them).
- **S3 → Lambda**: a bucket's ``LambdaFunctionConfigurations`` (events, prefix/suffix filters:
  moto's matching) invoke asynchronously with S3's event.

Both pushes go through ``pushes.Pusher`` (resource-based policy checked under ``--enforce-iam``).
"""

from __future__ import annotations

import logging
import threading
import uuid
from typing import Any

from localcloud import iam
from localcloud.iam import policy
from localcloud.moto_hooks import hook, require

from . import filtering, records
from .pollers import Pollers
from .pushes import Push, Pusher

__all__ = ["install", "pusher"]

log = logging.getLogger("localcloud.event_sources")

_pusher: Pusher | None = None
_publishing = threading.local()  # the SNS subscription whose publish is under way on this thread


def pusher() -> Pusher | None:
    """The running asynchronous deliverer (tests wait on it with ``wait_idle``)."""
    return _pusher


def install(cloud: Any) -> None:
    global _pusher
    _pusher = Pusher(cloud)
    cloud.add_service(_pusher)
    pollers = Pollers(cloud)
    cloud.add_service(pollers)
    _detach_inline_delivery(cloud, pollers)
    _sns_to_lambda(cloud, _pusher)
    _s3_to_lambda(cloud, _pusher)


def _function_arn(cloud: Any, name_or_arn: str) -> str:
    if name_or_arn.startswith("arn:"):
        return name_or_arn
    return f"arn:aws:lambda:{cloud.region}:{cloud.account_id}:function:{name_or_arn}"


def _detach_inline_delivery(cloud: Any, pollers: Pollers) -> None:
    sqs_backends = require(
        "moto.sqs.models", "sqs_backends", "a queue's lambda_event_source_mappings (moto's inline delivery)"
    )
    dynamodb_backends = require(
        "moto.dynamodb.models",
        "dynamodb_backends",
        "a table's lambda_event_source_mappings (moto's inline delivery) and stream_shard.{starting_sequence_number,items}",
    )
    require("moto.dynamodb.models.table", "StreamShard", "stream_shard.{starting_sequence_number,items}: where LATEST is")

    invalid = require(
        "moto.awslambda.exceptions", "InvalidParameterValueException", "Lambda's refusal of a mapping it would not make"
    )

    def check_filters(spec: dict) -> None:
        try:
            filtering.patterns(spec.get("FilterCriteria"))
        except filtering.InvalidFilter as e:
            raise invalid(str(e)) from None

    def check_batching(spec: dict) -> None:
        if int(spec.get("BatchSize") or 0) > 10 and not int(spec.get("MaximumBatchingWindowInSeconds") or 0):
            raise invalid("Maximum batch window in seconds must be greater than 0 if maximum batch size is greater than 10")

    def check_visibility(backend: Any, spec: dict) -> None:
        """Lambda refuses an SQS mapping whose queue hides a message for less than the function may run."""
        arn = str(spec.get("EventSourceArn") or "")
        if arn.split(":")[2:3] != ["sqs"]:
            return
        account, region = arn.split(":")[4], arn.split(":")[3]
        queue = next((q for q in sqs_backends[account][region].queues.values() if q.queue_arn == arn), None)
        if queue is None:
            return  # moto answers the unknown source itself
        fn = backend.get_function(str(spec.get("FunctionName") or ""))
        visibility, timeout = int(queue.visibility_timeout), int(fn.timeout)
        if visibility < timeout:
            raise invalid(f"Queue visibility timeout: {visibility} seconds is less than Function timeout: {timeout} seconds")

    @hook(
        "moto.awslambda.models",
        "LambdaBackend.create_event_source_mapping",
        "localcloud's pollers deliver: moto's inline delivery is detached; FunctionArn is the ARN as given (an alias "
        "stays an alias); Lambda's checks of batching and of the queue's visibility timeout",
    )
    def create(original, backend, spec):
        given = str(spec.get("FunctionName") or "")
        check_filters(spec)
        if str(spec.get("EventSourceArn") or "").split(":")[2:3] == ["sqs"]:
            check_batching(spec)
            check_visibility(backend, spec)
        esm = original(backend, spec)
        esm.function_arn = _function_arn(cloud, given)
        for account in list(sqs_backends.values()):
            for regional in list(account.values()):
                for queue in list(regional.queues.values()):
                    for key, value in list(queue.lambda_event_source_mappings.items()):
                        if value is esm:
                            del queue.lambda_event_source_mappings[key]
        for account in list(dynamodb_backends.values()):
            for regional in list(account.values()):
                for table in list(regional.tables.values()):
                    for key, value in list(table.lambda_event_source_mappings.items()):
                        if value is esm:
                            del table.lambda_event_source_mappings[key]
                            shard = getattr(table, "stream_shard", None)
                            if esm.starting_position == "LATEST" and shard is not None:
                                # LATEST is where the stream ends now, not when the poller first reads it
                                pollers.positions[esm.uuid] = str(shard.starting_sequence_number + len(shard.items))
        pollers.wake()
        return esm

    @hook(
        "moto.awslambda.models",
        "LambdaBackend.update_event_source_mapping",
        "a new FunctionName is kept as given (an alias stays an alias), as CreateEventSourceMapping's",
    )
    def update(original, backend, uuid_, spec):
        check_filters(spec)
        current = backend.get_event_source_mapping(uuid_)
        if current is not None and current.event_source_arn.split(":")[2] == "sqs":
            check_batching(
                {
                    "BatchSize": spec.get("BatchSize", current.batch_size),
                    "MaximumBatchingWindowInSeconds": spec.get("MaximumBatchingWindowInSeconds", current.max_batch_window),
                }
            )
        esm = original(backend, uuid_, spec)
        if esm is not None and spec.get("FunctionName"):
            esm.function_arn = _function_arn(cloud, str(spec["FunctionName"]))
        pollers.wake()
        return esm


def _sns_to_lambda(cloud: Any, push: Pusher) -> None:
    sqs = cloud.client("sqs")  # reads queue policies (made here: client creation is not thread-safe)

    @hook(
        "moto.sns.models",
        "Subscription.publish",
        "remember which subscription and message a Lambda delivery is for (SNS's event names them)",
    )
    def publish(original, subscription, message, message_id, *args, **kwargs):
        if subscription.protocol == "sqs" and not _queue_allows(sqs, subscription.endpoint, subscription.topic_arn):
            log.warning(
                "SNS %s cannot deliver to %s: the queue's policy does not let sns.amazonaws.com sqs:SendMessage "
                "for this topic (add an AWS::SQS::QueuePolicy)",
                subscription.topic_arn,
                subscription.endpoint,
            )
            return None
        attributes = kwargs.get("message_attributes")
        if attributes is None and len(args) >= 2:
            attributes = args[1]
        _publishing.current = (subscription.arn, subscription.topic_arn, subscription.endpoint, message_id, attributes)
        try:
            return original(subscription, message, message_id, *args, **kwargs)
        finally:
            _publishing.current = None

    @hook(
        "moto.awslambda.models",
        "LambdaBackend.send_sns_message",
        "SNS invokes the function asynchronously with SNS's event, under its resource-based policy",
    )
    def send_sns_message(original, backend, function_name, message, subject=None, qualifier=None):  # noqa: ARG001
        current = getattr(_publishing, "current", None)
        if current is None:  # not from a subscription's publish: moto's own path
            return original(backend, function_name, message, subject=subject, qualifier=qualifier)
        subscription_arn, topic_arn, endpoint, message_id, attributes = current
        event = records.sns_event(subscription_arn, topic_arn, message_id, message, subject, attributes)
        push.submit(Push(endpoint, "sns.amazonaws.com", topic_arn, event))
        return None


def _queue_allows(client: Any, queue_arn: str, topic_arn: str) -> bool:
    """Whether the queue's resource policy lets SNS send ``topic_arn``'s messages (always, unenforced)."""
    if not iam.enforcing():
        return True
    account, name = queue_arn.split(":")[4], queue_arn.split(":")[5]
    try:
        url = client.get_queue_url(QueueName=name, QueueOwnerAWSAccountId=account)["QueueUrl"]
        document = client.get_queue_attributes(QueueUrl=url, AttributeNames=["Policy"])["Attributes"].get("Policy")
    except Exception:  # no such queue: nothing to deliver to
        return False
    if not document:
        return False
    request = policy.Request(
        "sqs:SendMessage",
        queue_arn,
        {"aws:SourceArn": topic_arn, "aws:SourceAccount": topic_arn.split(":")[4]},
        policy.Caller(service="sns.amazonaws.com"),
    )
    try:
        return policy.evaluate([document], request) is policy.Decision.ALLOW
    except policy.PolicyError:
        return False


def _s3_to_lambda(cloud: Any, push: Pusher) -> None:
    @hook(
        "moto.s3.notifications",
        "_invoke_awslambda",
        "S3 invokes the function asynchronously with S3's full event, under its resource-based policy",
    )
    def invoke_lambda(original, account_id, event_body, fn_arn, region_name):  # noqa: ARG001
        request_id = uuid.uuid4().hex[:16].upper()
        event = records.s3_event(event_body, account_id, request_id)
        bucket_arn = ((event["Records"] or [{}])[0].get("s3") or {}).get("bucket", {}).get("arn", "")
        push.submit(Push(fn_arn, "s3.amazonaws.com", bucket_arn, event))
