"""AWS::CodeBuild::Project (through the CodeBuild API of the local endpoint; builds run for real,
see localcloud/codebuild). Sub-properties localcloud does not run are refused by name, as
top-level ones are."""

from __future__ import annotations

import random
import string
from typing import Any

from botocore.exceptions import ClientError

from .base import (
    MUTABLE,
    REPLACE,
    Context,
    Provisioned,
    ResourceFailed,
    ResourceType,
    error_text,
    register,
    tags_dict,
    unless_gone,
)

TYPE = "AWS::CodeBuild::Project"
_SOURCE = {"Type", "Location", "BuildSpec"}
_SOURCE_TYPES = ("NO_SOURCE", "S3")
_ARTIFACTS = {"Type", "Location", "Path", "Name", "NamespaceType", "Packaging", "OverrideArtifactName"}
_ENVIRONMENT = {"Type", "ComputeType", "Image", "EnvironmentVariables", "PrivilegedMode", "ImagePullCredentialsType"}
_VARIABLE = {"Name", "Value", "Type"}
_LOGS = {"CloudWatchLogs"}
_CLOUDWATCH_LOGS = {"Status", "GroupName", "StreamName"}


def _check(logical_id: str, prefix: str, value: Any, allowed: set[str]) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ResourceFailed(f"Resource {logical_id} ({TYPE}): {prefix} must be a mapping")
    unknown = sorted(set(value) - allowed)
    if unknown:
        raise ResourceFailed(
            f"Resource {logical_id} ({TYPE}): property {', '.join(f'{prefix}.{k}' for k in unknown)} is not supported "
            f"by localcloud (supported: {', '.join(sorted(allowed))})"
        )
    return value


def _api(logical_id: str, props: dict[str, Any]) -> dict[str, Any]:
    """The properties as CreateProject/UpdateProject fields."""
    source = _check(logical_id, "Source", props["Source"], _SOURCE)
    kind = str(source.get("Type") or "")
    if kind not in _SOURCE_TYPES:
        raise ResourceFailed(
            f"Resource {logical_id} ({TYPE}): Source.Type {kind} is not supported by localcloud "
            f"(supported: {', '.join(_SOURCE_TYPES)})"
        )
    api_source: dict[str, Any] = {"type": kind}
    if source.get("Location"):
        api_source["location"] = str(source["Location"])
    if source.get("BuildSpec"):
        api_source["buildspec"] = str(source["BuildSpec"])
    artifacts = _check(logical_id, "Artifacts", props["Artifacts"], _ARTIFACTS)
    if str(artifacts.get("Type")) not in ("NO_ARTIFACTS", "S3"):
        raise ResourceFailed(
            f"Resource {logical_id} ({TYPE}): Artifacts.Type {artifacts.get('Type')} is not supported by localcloud "
            "(supported: NO_ARTIFACTS, S3)"
        )
    api_artifacts = {k[:1].lower() + k[1:]: v for k, v in artifacts.items()}
    environment = _check(logical_id, "Environment", props["Environment"], _ENVIRONMENT)
    api_environment: dict[str, Any] = {
        "type": environment.get("Type"),
        "computeType": environment.get("ComputeType"),
        "image": environment.get("Image"),
        "environmentVariables": [],
    }
    for variable in environment.get("EnvironmentVariables") or []:
        _check(logical_id, "Environment.EnvironmentVariables[]", variable, _VARIABLE)
        api_environment["environmentVariables"].append(
            {"name": str(variable["Name"]), "value": str(variable.get("Value", "")), "type": str(variable.get("Type") or "PLAINTEXT")}
        )
    if "PrivilegedMode" in environment:
        api_environment["privilegedMode"] = str(environment["PrivilegedMode"]).lower() == "true"
    if environment.get("ImagePullCredentialsType"):
        api_environment["imagePullCredentialsType"] = environment["ImagePullCredentialsType"]
    out: dict[str, Any] = {
        "source": api_source,
        "artifacts": api_artifacts,
        "environment": api_environment,
        "serviceRole": str(props["ServiceRole"]),
        "description": str(props.get("Description") or ""),
        "timeoutInMinutes": int(props.get("TimeoutInMinutes") or 60),
        "queuedTimeoutInMinutes": int(props.get("QueuedTimeoutInMinutes") or 480),
        "tags": [{"key": k, "value": v} for k, v in tags_dict(props.get("Tags")).items()],
    }
    if props.get("LogsConfig"):
        logs = _check(logical_id, "LogsConfig", props["LogsConfig"], _LOGS)
        cw = _check(logical_id, "LogsConfig.CloudWatchLogs", logs.get("CloudWatchLogs") or {}, _CLOUDWATCH_LOGS)
        out["logsConfig"] = {"cloudWatchLogs": {k[:1].lower() + k[1:]: v for k, v in cw.items()}}
    return out


def _generated_name(logical_id: str) -> str:
    suffix = "".join(random.choices(string.ascii_letters + string.digits, k=12))
    return f"{logical_id[: 150 - 13]}-{suffix}"


@register
class Project(ResourceType):
    type_name = TYPE
    properties = {
        "Name": REPLACE,
        "ServiceRole": MUTABLE,
        "Source": MUTABLE,
        "Artifacts": MUTABLE,
        "Environment": MUTABLE,
        "TimeoutInMinutes": MUTABLE,
        "QueuedTimeoutInMinutes": MUTABLE,
        "LogsConfig": MUTABLE,
        "Description": MUTABLE,
        "Tags": MUTABLE,
    }
    required = ("ServiceRole", "Source", "Artifacts", "Environment")
    attributes = ("Arn",)

    def create(self, ctx: Context, logical_id: str, props: dict[str, Any]) -> Provisioned:
        name = str(props.get("Name") or _generated_name(logical_id))
        fields = _api(logical_id, props)
        try:
            project = ctx.client("codebuild").create_project(name=name, **fields)["project"]
        except ClientError as e:
            raise ResourceFailed(error_text(e)) from None
        return Provisioned(name, {"Arn": project["arn"]})

    def update(
        self, ctx: Context, logical_id: str, current: Provisioned, old: dict[str, Any], new: dict[str, Any]
    ) -> Provisioned:
        try:
            ctx.client("codebuild").update_project(name=current.physical_id, **_api(logical_id, new))
        except ClientError as e:
            raise ResourceFailed(error_text(e)) from None
        return current

    def delete(self, ctx: Context, current: Provisioned, props: dict[str, Any]) -> None:
        unless_gone(ctx.client("codebuild").delete_project, name=current.physical_id)
