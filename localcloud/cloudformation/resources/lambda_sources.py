"""AWS::Lambda::EventSourceMapping (SQS queues and DynamoDB streams).

The mapping is made through Lambda's ``CreateEventSourceMapping`` (``Ref``: its UUID; attributes
``Id`` and ``EventSourceMappingArn``); localcloud.event_sources polls the source and invokes the
function as Lambda does (batching, FilterCriteria, ReportBatchItemFailures). Properties localcloud
does not honour (destinations, bisecting, tumbling windows, Kinesis, Kafka, MQ...) are not in the
table, so a template using them fails naming the property.
"""

from __future__ import annotations

from typing import Any

from .base import (
    MUTABLE,
    REPLACE,
    Context,
    Provisioned,
    ResourceFailed,
    ResourceType,
    changed_properties,
    register,
    tags_dict,
    unless_gone,
)

# Properties UpdateEventSourceMapping changes, as the API spells them
_UPDATABLE = (
    "FunctionName",
    "BatchSize",
    "Enabled",
    "MaximumBatchingWindowInSeconds",
    "FunctionResponseTypes",
    "MaximumRetryAttempts",
    "ParallelizationFactor",
    "ScalingConfig",
    "FilterCriteria",
)
_INTEGER = ("BatchSize", "MaximumBatchingWindowInSeconds", "MaximumRetryAttempts", "ParallelizationFactor")


def _source_kind(arn: str) -> str:
    parts = str(arn).split(":")
    service = parts[2] if len(parts) > 5 else ""
    if service == "sqs":
        return "sqs"
    if service == "dynamodb" and "/stream/" in arn:
        return "dynamodb"
    raise ResourceFailed(
        f"EventSourceArn {arn}: localcloud polls SQS queues and DynamoDB streams only "
        "(Kinesis, Kafka, MQ and DocumentDB sources are not supported)"
    )


def _args(props: dict[str, Any], keys: tuple[str, ...]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key in keys:
        if key not in props:
            continue
        value = props[key]
        if key in _INTEGER:
            value = int(value)
        elif key == "Enabled":
            value = value is True or str(value).lower() == "true"
        out[key] = value
    return out


@register
class EventSourceMapping(ResourceType):
    type_name = "AWS::Lambda::EventSourceMapping"
    properties = {
        "EventSourceArn": REPLACE,
        "StartingPosition": REPLACE,
        "Tags": MUTABLE,
        **{k: MUTABLE for k in _UPDATABLE},
    }
    required = ("FunctionName", "EventSourceArn")
    attributes = ("Id", "EventSourceMappingArn")

    def create(self, ctx: Context, logical_id: str, props: dict[str, Any]) -> Provisioned:
        kind = _source_kind(props["EventSourceArn"])
        response_types = props.get("FunctionResponseTypes") or []
        if any(t != "ReportBatchItemFailures" for t in response_types):
            raise ResourceFailed(f"FunctionResponseTypes {response_types}: only ReportBatchItemFailures exists")
        if kind == "dynamodb" and props.get("StartingPosition") not in ("TRIM_HORIZON", "LATEST"):
            raise ResourceFailed(
                "StartingPosition: a DynamoDB stream source needs TRIM_HORIZON or LATEST "
                f"(got {props.get('StartingPosition')!r})"
            )
        if kind == "sqs" and "StartingPosition" in props:
            raise ResourceFailed("StartingPosition: not valid for an SQS source")
        kwargs = {"EventSourceArn": props["EventSourceArn"], **_args(props, _UPDATABLE)}
        if props.get("StartingPosition"):
            kwargs["StartingPosition"] = props["StartingPosition"]
        if props.get("Tags"):
            kwargs["Tags"] = tags_dict(props["Tags"])
        out = ctx.client("lambda").create_event_source_mapping(**kwargs)
        arn = out.get("EventSourceMappingArn") or (
            f"arn:aws:lambda:{ctx.region}:{ctx.account_id}:event-source-mapping:{out['UUID']}"
        )
        return Provisioned(out["UUID"], {"Id": out["UUID"], "EventSourceMappingArn": arn})

    def update(
        self, ctx: Context, logical_id: str, current: Provisioned, old: dict[str, Any], new: dict[str, Any]
    ) -> Provisioned:
        changed = set(changed_properties(old, new))
        kwargs = _args(new, tuple(k for k in _UPDATABLE if k in changed))
        for key in changed & set(_UPDATABLE):
            if key not in new:  # a removed property returns to Lambda's default
                kwargs[key] = {
                    "Enabled": True,
                    "FunctionResponseTypes": [],
                    "MaximumBatchingWindowInSeconds": 0,
                    "BatchSize": 10 if _source_kind(new["EventSourceArn"]) == "sqs" else 100,
                    "MaximumRetryAttempts": -1,
                    "ParallelizationFactor": 1,
                    "ScalingConfig": {},
                    "FilterCriteria": {},
                }[key]
        lam = ctx.client("lambda")
        if kwargs:
            lam.update_event_source_mapping(UUID=current.physical_id, **kwargs)
        if "Tags" in changed:
            arn = current.attrs["EventSourceMappingArn"]
            old_tags, new_tags = tags_dict(old.get("Tags")), tags_dict(new.get("Tags"))
            gone = [k for k in old_tags if k not in new_tags]
            if gone:
                lam.untag_resource(Resource=arn, TagKeys=gone)
            if new_tags:
                lam.tag_resource(Resource=arn, Tags=new_tags)
        return current

    def delete(self, ctx: Context, current: Provisioned, props: dict[str, Any]) -> None:
        unless_gone(ctx.client("lambda").delete_event_source_mapping, UUID=current.physical_id)
