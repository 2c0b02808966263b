"""AWS::SQS::Queue, AWS::SQS::QueuePolicy, AWS::SNS::Topic, AWS::SNS::Subscription, AWS::SNS::TopicPolicy.

As CloudFormation documents them: a queue's ``Ref`` is its URL (``Arn``, ``QueueName``, ``QueueUrl``
attributes), a topic's ``Ref`` its ARN (``TopicArn``, ``TopicName``), a subscription's ``Ref`` its
ARN. A queue or topic without a name gets ``{stack}-{logicalId}-{SUFFIX}`` (``.fifo`` appended for a
FIFO one). moto keeps the queues and topics and their semantics (visibility timeout, redrive to a
dead-letter queue, SNS fan-out to SQS); deliveries to Lambda are localcloud.event_sources'.
"""

from __future__ import annotations

import json
from typing import Any

from .base import (
    MUTABLE,
    REPLACE,
    Context,
    Provisioned,
    ResourceFailed,
    ResourceType,
    as_json_text,
    changed_properties,
    register,
    tags_dict,
    unless_gone,
)

# CloudFormation property -> (SQS attribute, the value a removed property returns to). RedriveAllowPolicy
# (which source queues may use this one as their dead-letter queue) is not enforced by moto: refused.
_QUEUE_ATTRIBUTES: dict[str, tuple[str, str]] = {
    "DelaySeconds": ("DelaySeconds", "0"),
    "MaximumMessageSize": ("MaximumMessageSize", "1048576"),
    "MessageRetentionPeriod": ("MessageRetentionPeriod", "345600"),
    "ReceiveMessageWaitTimeSeconds": ("ReceiveMessageWaitTimeSeconds", "0"),
    "VisibilityTimeout": ("VisibilityTimeout", "30"),
    "RedrivePolicy": ("RedrivePolicy", ""),
    "KmsMasterKeyId": ("KmsMasterKeyId", ""),
    "KmsDataKeyReusePeriodSeconds": ("KmsDataKeyReusePeriodSeconds", "300"),
    "SqsManagedSseEnabled": ("SqsManagedSseEnabled", "false"),
    "ContentBasedDeduplication": ("ContentBasedDeduplication", "false"),
    "DeduplicationScope": ("DeduplicationScope", "queue"),
    "FifoThroughputLimit": ("FifoThroughputLimit", "perQueue"),
}


def _attr_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dict, list)):
        return json.dumps(value)
    return str(value)


def _is_true(value: Any) -> bool:
    return value is True or str(value).lower() == "true"


def _queue_arn(ctx: Context, name: str) -> str:
    return f"arn:aws:sqs:{ctx.region}:{ctx.account_id}:{name}"


@register
class Queue(ResourceType):
    type_name = "AWS::SQS::Queue"
    properties = {
        "QueueName": REPLACE,
        "FifoQueue": REPLACE,
        "Tags": MUTABLE,
        **{k: MUTABLE for k in _QUEUE_ATTRIBUTES},
    }
    attributes = ("Arn", "QueueName", "QueueUrl")

    def create(self, ctx: Context, logical_id: str, props: dict[str, Any]) -> Provisioned:
        fifo = _is_true(props.get("FifoQueue"))
        name = props.get("QueueName")
        if not name:
            name = ctx.physical_name(logical_id, 80 - (5 if fifo else 0)) + (".fifo" if fifo else "")
        if fifo and not name.endswith(".fifo"):
            raise ResourceFailed(f"QueueName {name}: the name of a FIFO queue must end with .fifo")
        attributes = {
            api: _attr_text(props[prop]) for prop, (api, _) in _QUEUE_ATTRIBUTES.items() if prop in props
        }
        if fifo:
            attributes["FifoQueue"] = "true"
        kwargs: dict[str, Any] = {"QueueName": name, "Attributes": attributes}
        if props.get("Tags"):
            kwargs["tags"] = tags_dict(props["Tags"])
        url = ctx.client("sqs").create_queue(**kwargs)["QueueUrl"]
        return Provisioned(url, {"Arn": _queue_arn(ctx, name), "QueueName": name, "QueueUrl": url})

    def update(
        self, ctx: Context, logical_id: str, current: Provisioned, old: dict[str, Any], new: dict[str, Any]
    ) -> Provisioned:
        sqs = ctx.client("sqs")
        url = current.physical_id
        changed = set(changed_properties(old, new))
        attributes = {
            api: _attr_text(new[prop]) if prop in new else default
            for prop, (api, default) in _QUEUE_ATTRIBUTES.items()
            if prop in changed
        }
        if attributes:
            sqs.set_queue_attributes(QueueUrl=url, Attributes=attributes)
        if "Tags" in changed:
            old_tags, new_tags = tags_dict(old.get("Tags")), tags_dict(new.get("Tags"))
            gone = [k for k in old_tags if k not in new_tags]
            if gone:
                sqs.untag_queue(QueueUrl=url, TagKeys=gone)
            if new_tags:
                sqs.tag_queue(QueueUrl=url, Tags=new_tags)
        return current

    def delete(self, ctx: Context, current: Provisioned, props: dict[str, Any]) -> None:
        unless_gone(ctx.client("sqs").delete_queue, QueueUrl=current.physical_id)


class _PolicyOnTargets(ResourceType):
    """A policy document set as an attribute of each resource its ``targets`` property lists (queue
    URLs, topic ARNs); a resource dropped from the list (or the policy deleted) gets its default back."""

    targets = ""

    def _set(self, ctx: Context, target: str, document: str) -> None:
        raise NotImplementedError

    def _reset(self, ctx: Context, target: str) -> None:
        raise NotImplementedError

    def _apply(self, ctx: Context, props: dict[str, Any], previous: list[str]) -> None:
        current = list(props.get(self.targets) or [])
        for target in current:
            self._set(ctx, target, as_json_text(props["PolicyDocument"]))
        for target in previous:
            if target not in current:
                self._reset(ctx, target)

    def create(self, ctx: Context, logical_id: str, props: dict[str, Any]) -> Provisioned:
        self._apply(ctx, props, [])
        return Provisioned(ctx.physical_name(logical_id, 128))

    def update(
        self, ctx: Context, logical_id: str, current: Provisioned, old: dict[str, Any], new: dict[str, Any]
    ) -> Provisioned:
        self._apply(ctx, new, list(old.get(self.targets) or []))
        return current

    def delete(self, ctx: Context, current: Provisioned, props: dict[str, Any]) -> None:
        self._apply(ctx, {self.targets: [], "PolicyDocument": {}}, list(props.get(self.targets) or []))


@register
class QueuePolicy(_PolicyOnTargets):
    """Sets the ``Policy`` attribute of each queue in ``Queues`` (their URLs)."""

    type_name = "AWS::SQS::QueuePolicy"
    properties = {"PolicyDocument": MUTABLE, "Queues": MUTABLE}
    required = ("PolicyDocument", "Queues")
    targets = "Queues"

    def _set(self, ctx: Context, target: str, document: str) -> None:
        ctx.client("sqs").set_queue_attributes(QueueUrl=target, Attributes={"Policy": document})

    def _reset(self, ctx: Context, target: str) -> None:
        unless_gone(ctx.client("sqs").set_queue_attributes, QueueUrl=target, Attributes={"Policy": ""})


# ---- SNS ----------------------------------------------------------------------------------------

_TOPIC_ATTRIBUTES = {
    "DisplayName": ("DisplayName", ""),
    "KmsMasterKeyId": ("KmsMasterKeyId", ""),
    "ContentBasedDeduplication": ("ContentBasedDeduplication", "false"),
    "SignatureVersion": ("SignatureVersion", "1"),
    "TracingConfig": ("TracingConfig", "PassThrough"),
}


def _topic_arn(ctx: Context, name: str) -> str:
    return f"arn:aws:sns:{ctx.region}:{ctx.account_id}:{name}"


def _subscribe(ctx: Context, topic_arn: str, protocol: str, endpoint: str, attributes: dict[str, str]) -> str:
    kwargs: dict[str, Any] = {
        "TopicArn": topic_arn,
        "Protocol": protocol,
        "Endpoint": endpoint,
        "ReturnSubscriptionArn": True,
    }
    if attributes:
        kwargs["Attributes"] = attributes
    return ctx.client("sns").subscribe(**kwargs)["SubscriptionArn"]


@register
class Topic(ResourceType):
    type_name = "AWS::SNS::Topic"
    properties = {
        "TopicName": REPLACE,
        "FifoTopic": REPLACE,
        "Subscription": MUTABLE,
        "Tags": MUTABLE,
        **{k: MUTABLE for k in _TOPIC_ATTRIBUTES},
    }
    attributes = ("TopicArn", "TopicName")

    def create(self, ctx: Context, logical_id: str, props: dict[str, Any]) -> Provisioned:
        fifo = _is_true(props.get("FifoTopic"))
        name = props.get("TopicName") or (
            ctx.physical_name(logical_id, 256 - (5 if fifo else 0)) + (".fifo" if fifo else "")
        )
        attributes = {
            api: _attr_text(props[prop]) for prop, (api, _) in _TOPIC_ATTRIBUTES.items() if prop in props
        }
        if fifo:
            attributes["FifoTopic"] = "true"
        kwargs: dict[str, Any] = {"Name": name}
        if attributes:
            kwargs["Attributes"] = attributes
        if props.get("Tags"):
            kwargs["Tags"] = [{"Key": k, "Value": v} for k, v in tags_dict(props["Tags"]).items()]
        arn = ctx.client("sns").create_topic(**kwargs)["TopicArn"]
        for sub in self._subscriptions(props):
            _subscribe(ctx, arn, sub[0], sub[1], {})
        return Provisioned(arn, {"TopicArn": arn, "TopicName": name})

    @staticmethod
    def _subscriptions(props: dict[str, Any]) -> list[tuple[str, str]]:
        out = []
        for sub in props.get("Subscription") or []:
            if not isinstance(sub, dict) or set(sub) != {"Endpoint", "Protocol"}:
                raise ResourceFailed(f"Subscription: each item needs exactly Endpoint and Protocol, got {sub!r}")
            out.append((str(sub["Protocol"]), str(sub["Endpoint"])))
        return out

    def update(
        self, ctx: Context, logical_id: str, current: Provisioned, old: dict[str, Any], new: dict[str, Any]
    ) -> Provisioned:
        sns = ctx.client("sns")
        arn = current.physical_id
        changed = set(changed_properties(old, new))
        for prop, (api, default) in _TOPIC_ATTRIBUTES.items():
            if prop in changed:
                value = _attr_text(new[prop]) if prop in new else default
                sns.set_topic_attributes(TopicArn=arn, AttributeName=api, AttributeValue=value)
        if "Subscription" in changed:
            before, after = set(self._subscriptions(old)), set(self._subscriptions(new))
            existing = sns.list_subscriptions_by_topic(TopicArn=arn)["Subscriptions"]
            for sub in existing:
                if (sub["Protocol"], sub["Endpoint"]) in before - after:
                    sns.unsubscribe(SubscriptionArn=sub["SubscriptionArn"])
            for protocol, endpoint in sorted(after - before):
                _subscribe(ctx, arn, protocol, endpoint, {})
        if "Tags" in changed:
            old_tags, new_tags = tags_dict(old.get("Tags")), tags_dict(new.get("Tags"))
            gone = [k for k in old_tags if k not in new_tags]
            if gone:
                sns.untag_resource(ResourceArn=arn, TagKeys=gone)
            if new_tags:
                sns.tag_resource(ResourceArn=arn, Tags=[{"Key": k, "Value": v} for k, v in new_tags.items()])
        return current

    def delete(self, ctx: Context, current: Provisioned, props: dict[str, Any]) -> None:
        unless_gone(ctx.client("sns").delete_topic, TopicArn=current.physical_id)


# RedrivePolicy (a dead-letter queue for undeliverable messages) and DeliveryPolicy (HTTP retries)
# are not honoured locally, so they are not in the table: a template using them fails naming them.
_SUBSCRIPTION_ATTRIBUTES = {
    "FilterPolicy": "FilterPolicy",
    "FilterPolicyScope": "FilterPolicyScope",
    "RawMessageDelivery": "RawMessageDelivery",
}


@register
class Subscription(ResourceType):
    type_name = "AWS::SNS::Subscription"
    properties = {
        "TopicArn": REPLACE,
        "Protocol": REPLACE,
        "Endpoint": REPLACE,
        "Region": REPLACE,
        **{k: MUTABLE for k in _SUBSCRIPTION_ATTRIBUTES},
    }
    required = ("TopicArn", "Protocol")

    def create(self, ctx: Context, logical_id: str, props: dict[str, Any]) -> Provisioned:
        region = props.get("Region")
        if region and region != ctx.region:
            raise ResourceFailed(f"Region {region}: the local cloud has one region, {ctx.region}")
        attributes = {
            api: _attr_text(props[prop]) for prop, api in _SUBSCRIPTION_ATTRIBUTES.items() if prop in props
        }
        arn = _subscribe(ctx, props["TopicArn"], props["Protocol"], str(props.get("Endpoint", "")), attributes)
        return Provisioned(arn)

    def update(
        self, ctx: Context, logical_id: str, current: Provisioned, old: dict[str, Any], new: dict[str, Any]
    ) -> Provisioned:
        sns = ctx.client("sns")
        for prop in changed_properties(old, new):
            api = _SUBSCRIPTION_ATTRIBUTES.get(prop)
            if api is None:
                continue
            default = {"RawMessageDelivery": "false", "FilterPolicyScope": "MessageAttributes"}.get(prop, "")
            value = _attr_text(new[prop]) if prop in new else default
            sns.set_subscription_attributes(
                SubscriptionArn=current.physical_id, AttributeName=api, AttributeValue=value
            )
        return current

    def delete(self, ctx: Context, current: Provisioned, props: dict[str, Any]) -> None:
        unless_gone(ctx.client("sns").unsubscribe, SubscriptionArn=current.physical_id)


def _default_topic_policy(ctx: Context, arn: str) -> dict[str, Any]:
    """The policy SNS gives a new topic: its own account may manage and publish to it."""
    actions = [
        "SNS:GetTopicAttributes", "SNS:SetTopicAttributes", "SNS:AddPermission", "SNS:RemovePermission",
        "SNS:DeleteTopic", "SNS:Subscribe", "SNS:ListSubscriptionsByTopic", "SNS:Publish",
    ]
    return {
        "Version": "2008-10-17",
        "Id": "__default_policy_ID",
        "Statement": [
            {
                "Effect": "Allow",
                "Sid": "__default_statement_ID",
                "Principal": {"AWS": "*"},
                "Action": actions,
                "Resource": arn,
                "Condition": {"StringEquals": {"AWS:SourceOwner": ctx.account_id}},
            }
        ],
    }


@register
class TopicPolicy(_PolicyOnTargets):
    """Sets the ``Policy`` attribute of each topic in ``Topics`` (their ARNs)."""

    type_name = "AWS::SNS::TopicPolicy"
    properties = {"PolicyDocument": MUTABLE, "Topics": MUTABLE}
    required = ("PolicyDocument", "Topics")
    targets = "Topics"

    def _set(self, ctx: Context, target: str, document: str) -> None:
        ctx.client("sns").set_topic_attributes(TopicArn=target, AttributeName="Policy", AttributeValue=document)

    def _reset(self, ctx: Context, target: str) -> None:  # back to the default policy a topic is created with
        unless_gone(
            ctx.client("sns").set_topic_attributes,
            TopicArn=target,
            AttributeName="Policy",
            AttributeValue=json.dumps(_default_topic_policy(ctx, target)),
        )
