"""``NotificationConfiguration`` of AWS::S3::Bucket, as S3's PutBucketNotificationConfiguration takes
it: ``LambdaConfigurations`` (``Function``), ``QueueConfigurations`` (``Queue``), ``TopicConfigurations``
(``Topic``), each with ``Event`` and an optional ``Filter.S3Key.Rules`` (prefix/suffix), and
``EventBridgeConfiguration``. As S3 does, a Lambda destination is validated when the configuration
is put: the function's resource-based policy must let ``s3.amazonaws.com`` invoke it for the bucket
(checked with ``--enforce-iam``). Deliveries: localcloud.event_sources (Lambda), moto (SQS, SNS)."""

from __future__ import annotations

from typing import Any

from localcloud import iam

from .base import Context, ResourceFailed

_KINDS = {
    "LambdaConfigurations": ("LambdaFunctionConfigurations", "Function", "LambdaFunctionArn"),
    "QueueConfigurations": ("QueueConfigurations", "Queue", "QueueArn"),
    "TopicConfigurations": ("TopicConfigurations", "Topic", "TopicArn"),
}


def _filter(value: Any, where: str) -> dict[str, Any]:
    rules = ((value or {}).get("S3Key") or {}).get("Rules")
    if set(value or {}) - {"S3Key"} or not isinstance(rules, list):
        raise ResourceFailed(f"{where}.Filter: only S3Key.Rules (prefix, suffix) is supported")
    out = []
    for rule in rules:
        if str(rule.get("Name", "")).lower() not in ("prefix", "suffix"):
            raise ResourceFailed(f"{where}.Filter: a rule's Name is prefix or suffix, got {rule.get('Name')!r}")
        out.append({"Name": rule["Name"].lower(), "Value": str(rule.get("Value", ""))})
    return {"Key": {"FilterRules": out}}


def api_configuration(ctx: Context, bucket: str, value: dict[str, Any] | None) -> dict[str, Any]:
    """The S3 API's NotificationConfiguration for CloudFormation's."""
    value = value or {}
    unknown = sorted(set(value) - set(_KINDS) - {"EventBridgeConfiguration"})
    if unknown:
        raise ResourceFailed(f"NotificationConfiguration: {', '.join(unknown)} is not supported by localcloud")
    out: dict[str, Any] = {}
    for kind, (api_kind, target_key, api_target) in _KINDS.items():
        items = []
        for n, item in enumerate(value.get(kind) or []):
            where = f"NotificationConfiguration.{kind}[{n}]"
            extra = sorted(set(item) - {"Event", target_key, "Filter"})
            if extra or "Event" not in item or target_key not in item:
                raise ResourceFailed(f"{where}: needs Event and {target_key} (and an optional Filter), got {sorted(item)}")
            target = str(item[target_key])
            if kind == "LambdaConfigurations":
                account = target.split(":")[4] if target.startswith("arn:") else ctx.account_id
                if not iam.service_may_invoke(target, "s3.amazonaws.com", f"arn:aws:s3:::{bucket}", account):
                    raise ResourceFailed(
                        f"{where}: Unable to validate the following destination configurations: {target} does not let "
                        "s3.amazonaws.com invoke it for this bucket (add an AWS::Lambda::Permission and DependsOn it)"
                    )
            entry: dict[str, Any] = {api_target: target, "Events": [item["Event"]]}
            if item.get("Filter"):
                entry["Filter"] = _filter(item["Filter"], where)
            items.append(entry)
        if items:
            out[api_kind] = items
    bridge = value.get("EventBridgeConfiguration")
    if bridge:
        if set(bridge) - {"EventBridgeEnabled"}:
            raise ResourceFailed("NotificationConfiguration.EventBridgeConfiguration: only EventBridgeEnabled exists")
        if bridge.get("EventBridgeEnabled") in (True, "true"):
            out["EventBridgeConfiguration"] = {}
    return out


def put(ctx: Context, bucket: str, value: dict[str, Any] | None) -> None:
    ctx.client("s3").put_bucket_notification_configuration(
        Bucket=bucket, NotificationConfiguration=api_configuration(ctx, bucket, value)
    )
