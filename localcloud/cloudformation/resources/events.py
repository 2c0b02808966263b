"""AWS::Events::Rule and AWS::CloudWatch::Alarm."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from .base import (
    MUTABLE,
    REPLACE,
    Context,
    Provisioned,
    ResourceFailed,
    ResourceType,
    as_json_text,
    is_not_found,
    register,
    tags_dict,
)

_TARGET_KEYS = (
    "Id",
    "Arn",
    "RoleArn",
    "Input",
    "InputPath",
    "InputTransformer",
    "RetryPolicy",
    "DeadLetterConfig",
    "SqsParameters",
    "HttpParameters",
)


def _targets(props: dict[str, Any]) -> list[dict[str, Any]]:
    out = []
    for target in props.get("Targets") or []:
        unknown = sorted(set(target) - set(_TARGET_KEYS))
        if unknown:
            raise ResourceFailed(f"Targets: {', '.join(unknown)} is not supported by localcloud")
        out.append(dict(target))
    return out


@register
class Rule(ResourceType):
    type_name = "AWS::Events::Rule"
    properties = {
        "Name": REPLACE,
        "EventBusName": REPLACE,
        "Description": MUTABLE,
        "EventPattern": MUTABLE,
        "ScheduleExpression": MUTABLE,
        "State": MUTABLE,
        "RoleArn": MUTABLE,
        "Targets": MUTABLE,
    }
    attributes = ("Arn",)

    def _put(self, ctx: Context, name: str, props: dict[str, Any]) -> str:
        kwargs: dict[str, Any] = {"Name": name, "State": props.get("State", "ENABLED")}
        if props.get("EventBusName"):
            kwargs["EventBusName"] = props["EventBusName"]
        if props.get("EventPattern"):
            kwargs["EventPattern"] = as_json_text(props["EventPattern"])
        if props.get("ScheduleExpression"):
            kwargs["ScheduleExpression"] = props["ScheduleExpression"]
        kwargs["Description"] = props.get("Description", "")
        if props.get("RoleArn"):
            kwargs["RoleArn"] = props["RoleArn"]
        return ctx.client("events").put_rule(**kwargs)["RuleArn"]

    def _bus(self, props: dict[str, Any]) -> dict[str, Any]:
        return {"EventBusName": props["EventBusName"]} if props.get("EventBusName") else {}

    def create(self, ctx: Context, logical_id: str, props: dict[str, Any]) -> Provisioned:
        targets = _targets(props)
        name = props.get("Name") or ctx.physical_name(logical_id, 64)
        arn = self._put(ctx, name, props)
        if targets:
            ctx.client("events").put_targets(Rule=name, Targets=targets, **self._bus(props))
        return Provisioned(name, {"Arn": arn})

    def update(
        self, ctx: Context, logical_id: str, current: Provisioned, old: dict[str, Any], new: dict[str, Any]
    ) -> Provisioned:
        events = ctx.client("events")
        targets = _targets(new)
        self._put(ctx, current.physical_id, new)
        gone = [t["Id"] for t in old.get("Targets") or [] if t["Id"] not in {n["Id"] for n in targets}]
        if gone:
            events.remove_targets(Rule=current.physical_id, Ids=gone, **self._bus(new))
        if targets:
            events.put_targets(Rule=current.physical_id, Targets=targets, **self._bus(new))
        return current

    def delete(self, ctx: Context, current: Provisioned, props: dict[str, Any]) -> None:
        events = ctx.client("events")
        try:
            ids = [
                t["Id"]
                for t in events.list_targets_by_rule(Rule=current.physical_id, **self._bus(props))["Targets"]
            ]
            if ids:
                events.remove_targets(Rule=current.physical_id, Ids=ids, **self._bus(props))
            events.delete_rule(Name=current.physical_id, **self._bus(props))
        except ClientError as e:
            if not is_not_found(e):
                raise


_ALARM_INT = ("EvaluationPeriods", "DatapointsToAlarm", "Period")


@register
class Alarm(ResourceType):
    type_name = "AWS::CloudWatch::Alarm"
    properties = {
        "AlarmName": REPLACE,
        **{
            k: MUTABLE
            for k in (
                "ActionsEnabled",
                "AlarmActions",
                "AlarmDescription",
                "ComparisonOperator",
                "DatapointsToAlarm",
                "Dimensions",
                "EvaluateLowSampleCountPercentile",
                "EvaluationPeriods",
                "ExtendedStatistic",
                "InsufficientDataActions",
                "MetricName",
                "Metrics",
                "Namespace",
                "OKActions",
                "Period",
                "Statistic",
                "Threshold",
                "ThresholdMetricId",
                "TreatMissingData",
                "Unit",
                "Tags",
            )
        },
    }
    required = ("ComparisonOperator", "EvaluationPeriods")
    attributes = ("Arn",)

    def _put(self, ctx: Context, name: str, props: dict[str, Any]) -> None:
        kwargs: dict[str, Any] = {"AlarmName": name}
        for key, value in props.items():
            if key in ("AlarmName", "Tags"):
                continue
            if key in _ALARM_INT:
                value = int(value)
            elif key == "Threshold":
                value = float(value)
            elif key == "ActionsEnabled":
                value = value in (True, "true", "True")
            kwargs[key] = value
        if props.get("Tags"):
            kwargs["Tags"] = [{"Key": k, "Value": v} for k, v in tags_dict(props["Tags"]).items()]
        ctx.client("cloudwatch").put_metric_alarm(**kwargs)

    def create(self, ctx: Context, logical_id: str, props: dict[str, Any]) -> Provisioned:
        name = props.get("AlarmName") or ctx.physical_name(logical_id, 255)
        self._put(ctx, name, props)
        return Provisioned(name, {"Arn": f"arn:aws:cloudwatch:{ctx.region}:{ctx.account_id}:alarm:{name}"})

    def update(
        self, ctx: Context, logical_id: str, current: Provisioned, old: dict[str, Any], new: dict[str, Any]
    ) -> Provisioned:
        self._put(ctx, current.physical_id, new)
        return current

    def delete(self, ctx: Context, current: Provisioned, props: dict[str, Any]) -> None:
        ctx.client("cloudwatch").delete_alarms(AlarmNames=[current.physical_id])
