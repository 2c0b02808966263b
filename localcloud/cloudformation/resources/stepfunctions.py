"""AWS::StepFunctions::StateMachine (Definition, DefinitionString or DefinitionS3Location, with
DefinitionSubstitutions)."""

from __future__ import annotations

import json
import re
from typing import Any

import yaml

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

_SUBSTITUTION = re.compile(r"\$\{([^}]+)\}")


def definition_text(ctx: Context, props: dict[str, Any]) -> str:
    given = [k for k in ("Definition", "DefinitionString", "DefinitionS3Location") if k in props]
    if len(given) != 1:
        raise ResourceFailed("exactly one of Definition, DefinitionString, DefinitionS3Location is required")
    if "Definition" in props:
        text = json.dumps(props["Definition"])
    elif "DefinitionString" in props:
        text = str(props["DefinitionString"])
    else:
        loc = props["DefinitionS3Location"]
        raw = ctx.read_s3(loc["Bucket"], loc["Key"], loc.get("Version")).decode("utf-8")
        try:
            text = json.dumps(yaml.safe_load(raw))
        except yaml.YAMLError as e:
            raise ResourceFailed(
                f"DefinitionS3Location s3://{loc['Bucket']}/{loc['Key']} is not JSON or YAML: {e}"
            ) from None
    substitutions = props.get("DefinitionSubstitutions") or {}

    def repl(m: re.Match) -> str:
        key = m.group(1)
        if key not in substitutions:
            return m.group(0)
        value = substitutions[key]
        if isinstance(value, bool):
            return "true" if value else "false"
        return str(value)

    return _SUBSTITUTION.sub(repl, text)


@register
class StateMachine(ResourceType):
    type_name = "AWS::StepFunctions::StateMachine"
    properties = {
        "StateMachineName": REPLACE,
        "StateMachineType": REPLACE,
        "Definition": MUTABLE,
        "DefinitionString": MUTABLE,
        "DefinitionS3Location": MUTABLE,
        "DefinitionSubstitutions": MUTABLE,
        "RoleArn": MUTABLE,
        "LoggingConfiguration": MUTABLE,
        "TracingConfiguration": MUTABLE,
        "Tags": MUTABLE,
    }
    required = ("RoleArn",)
    attributes = ("Arn", "Name", "StateMachineRevisionId")

    def create(self, ctx: Context, logical_id: str, props: dict[str, Any]) -> Provisioned:
        name = props.get("StateMachineName") or ctx.physical_name(logical_id, 80)
        kwargs: dict[str, Any] = {
            "name": name,
            "definition": definition_text(ctx, props),
            "roleArn": props["RoleArn"],
            "type": props.get("StateMachineType", "STANDARD"),
        }
        if props.get("LoggingConfiguration"):
            kwargs["loggingConfiguration"] = _lower_keys(props["LoggingConfiguration"])
        if props.get("TracingConfiguration"):
            kwargs["tracingConfiguration"] = _lower_keys(props["TracingConfiguration"])
        if props.get("Tags"):
            kwargs["tags"] = [{"key": k, "value": v} for k, v in tags_dict(props["Tags"]).items()]
        arn = ctx.client("stepfunctions").create_state_machine(**kwargs)["stateMachineArn"]
        return Provisioned(arn, {"Arn": arn, "Name": name})

    def update(
        self, ctx: Context, logical_id: str, current: Provisioned, old: dict[str, Any], new: dict[str, Any]
    ) -> Provisioned:
        sfn = ctx.client("stepfunctions")
        arn = current.physical_id
        kwargs: dict[str, Any] = {
            "stateMachineArn": arn,
            "definition": definition_text(ctx, new),
            "roleArn": new["RoleArn"],
        }
        if new.get("LoggingConfiguration"):
            kwargs["loggingConfiguration"] = _lower_keys(new["LoggingConfiguration"])
        if new.get("TracingConfiguration"):
            kwargs["tracingConfiguration"] = _lower_keys(new["TracingConfiguration"])
        sfn.update_state_machine(**kwargs)
        if "Tags" in changed_properties(old, new):
            old_tags, new_tags = tags_dict(old.get("Tags")), tags_dict(new.get("Tags"))
            gone = [k for k in old_tags if k not in new_tags]
            if gone:
                sfn.untag_resource(resourceArn=arn, tagKeys=gone)
            if new_tags:
                sfn.tag_resource(resourceArn=arn, tags=[{"key": k, "value": v} for k, v in new_tags.items()])
        return current

    def delete(self, ctx: Context, current: Provisioned, props: dict[str, Any]) -> None:
        unless_gone(ctx.client("stepfunctions").delete_state_machine, stateMachineArn=current.physical_id)


def _lower_keys(value: Any) -> Any:
    """CloudFormation's PascalCase property -> the Step Functions API's camelCase."""
    if isinstance(value, dict):
        return {k[:1].lower() + k[1:]: _lower_keys(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_lower_keys(v) for v in value]
    return value
