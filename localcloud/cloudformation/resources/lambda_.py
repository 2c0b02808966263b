"""AWS::Lambda::Function, Version, Alias, LayerVersion, Permission, EventInvokeConfig."""

from __future__ import annotations

import io
import zipfile
from typing import Any

from .base import (
    MUTABLE,
    REPLACE,
    Context,
    Provisioned,
    ResourceFailed,
    ResourceType,
    changed_properties,
    name_from_arn,
    register,
    tags_dict,
    unless_gone,
)

# Function properties that UpdateFunctionConfiguration sets, with the value a removed one returns to.
_CONFIG_DEFAULTS: dict[str, Any] = {
    "Handler": None,
    "Runtime": None,
    "Role": None,
    "MemorySize": 128,
    "Timeout": 3,
    "Environment": {"Variables": {}},
    "Layers": [],
    "Description": "",
    "TracingConfig": {"Mode": "PassThrough"},
    "EphemeralStorage": {"Size": 512},
    "DeadLetterConfig": {},
    "KmsKeyArn": "",
    "LoggingConfig": {},  # LogGroup, LogFormat, levels; removed: Lambda's defaults (lambda_runner.logging_config)
}
_API_NAME = {"KmsKeyArn": "KMSKeyArn"}


def split_qualified(name_or_arn: str) -> tuple[str, str | None]:
    """Function name and qualifier of ``name``, ``name:qual``, or a (qualified) function ARN."""
    name = name_from_arn(name_or_arn, "function")
    base, _, qualifier = name.partition(":")
    return base, qualifier or None


def _config(props: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, default in _CONFIG_DEFAULTS.items():
        value = props.get(key, default)
        if value is None:
            continue
        if key in ("MemorySize", "Timeout"):
            value = int(value)
        if key == "Environment":
            value = {"Variables": {k: _env_text(v) for k, v in (value.get("Variables") or {}).items()}}
        if key == "EphemeralStorage":
            value = {"Size": int(value["Size"])}
        out[_API_NAME.get(key, key)] = value
    return out


def _env_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _code(props: dict[str, Any]) -> dict[str, Any]:
    code = props.get("Code") or {}
    if "ImageUri" in code:
        raise ResourceFailed("Code.ImageUri (container images) is not supported by localcloud")
    if "ZipFile" in code:
        runtime = str(props.get("Runtime", ""))
        filename = "index.js" if runtime.startswith("nodejs") else "index.py"
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
            info = zipfile.ZipInfo(filename, date_time=(1980, 1, 1, 0, 0, 0))
            info.external_attr = 0o100644 << 16
            zf.writestr(info, code["ZipFile"])
        return {"ZipFile": buf.getvalue()}
    if "S3Bucket" in code and "S3Key" in code:
        out = {"S3Bucket": code["S3Bucket"], "S3Key": code["S3Key"]}
        if code.get("S3ObjectVersion"):
            out["S3ObjectVersion"] = code["S3ObjectVersion"]
        return out
    raise ResourceFailed("Code needs S3Bucket and S3Key, or ZipFile")


@register
class Function(ResourceType):
    type_name = "AWS::Lambda::Function"
    properties = {
        **{k: MUTABLE for k in _CONFIG_DEFAULTS},
        "Code": MUTABLE,
        "Architectures": MUTABLE,
        "ReservedConcurrentExecutions": MUTABLE,
        "Tags": MUTABLE,
        "FunctionName": REPLACE,
        "PackageType": REPLACE,
    }
    required = ("Code", "Role")
    attributes = ("Arn",)

    def create(self, ctx: Context, logical_id: str, props: dict[str, Any]) -> Provisioned:
        if props.get("PackageType", "Zip") != "Zip":
            raise ResourceFailed(
                f"PackageType {props['PackageType']} is not supported by localcloud (only Zip)"
            )
        name = props.get("FunctionName") or ctx.physical_name(logical_id, 64)
        kwargs: dict[str, Any] = {
            "FunctionName": name,
            "Code": _code(props),
            "PackageType": "Zip",
            **_config(props),
        }
        if props.get("Architectures"):
            kwargs["Architectures"] = props["Architectures"]
        if props.get("Tags"):
            kwargs["Tags"] = tags_dict(props["Tags"])
        lam = ctx.client("lambda")
        arn = lam.create_function(**kwargs)["FunctionArn"]
        if props.get("ReservedConcurrentExecutions") is not None:
            lam.put_function_concurrency(
                FunctionName=name, ReservedConcurrentExecutions=int(props["ReservedConcurrentExecutions"])
            )
        return Provisioned(name, {"Arn": arn})

    def update(
        self, ctx: Context, logical_id: str, current: Provisioned, old: dict[str, Any], new: dict[str, Any]
    ) -> Provisioned:
        lam = ctx.client("lambda")
        name = current.physical_id
        changed = set(changed_properties(old, new))
        if changed & {"Code", "Architectures"}:
            kwargs = {"FunctionName": name, **_code(new)}
            if new.get("Architectures"):
                kwargs["Architectures"] = new["Architectures"]
            lam.update_function_code(**kwargs)
        if changed & set(_CONFIG_DEFAULTS):
            lam.update_function_configuration(FunctionName=name, **_config(new))
        if "Tags" in changed:
            arn = current.attrs["Arn"]
            old_tags, new_tags = tags_dict(old.get("Tags")), tags_dict(new.get("Tags"))
            gone = [k for k in old_tags if k not in new_tags]
            if gone:
                lam.untag_resource(Resource=arn, TagKeys=gone)
            if new_tags:
                lam.tag_resource(Resource=arn, Tags=new_tags)
        if "ReservedConcurrentExecutions" in changed:
            if new.get("ReservedConcurrentExecutions") is None:
                lam.delete_function_concurrency(FunctionName=name)
            else:
                lam.put_function_concurrency(
                    FunctionName=name, ReservedConcurrentExecutions=int(new["ReservedConcurrentExecutions"])
                )
        return current

    def delete(self, ctx: Context, current: Provisioned, props: dict[str, Any]) -> None:
        unless_gone(ctx.client("lambda").delete_function, FunctionName=current.physical_id)


@register
class Version(ResourceType):
    type_name = "AWS::Lambda::Version"
    properties = {"FunctionName": REPLACE, "Description": REPLACE, "CodeSha256": REPLACE}
    required = ("FunctionName",)
    attributes = ("Version", "FunctionArn")

    def create(self, ctx: Context, logical_id: str, props: dict[str, Any]) -> Provisioned:
        name, _ = split_qualified(str(props["FunctionName"]))
        kwargs = {"FunctionName": name}
        if props.get("Description"):
            kwargs["Description"] = props["Description"]
        if props.get("CodeSha256"):
            kwargs["CodeSha256"] = props["CodeSha256"]
        out = ctx.client("lambda").publish_version(**kwargs)
        arn = out["FunctionArn"]
        return Provisioned(arn, {"Version": out["Version"], "FunctionArn": arn.rsplit(":", 1)[0]})

    def delete(self, ctx: Context, current: Provisioned, props: dict[str, Any]) -> None:
        unless_gone(ctx.client("lambda").delete_function, FunctionName=current.physical_id)


@register
class Alias(ResourceType):
    type_name = "AWS::Lambda::Alias"
    properties = {
        "FunctionName": REPLACE,
        "Name": REPLACE,
        "FunctionVersion": MUTABLE,
        "Description": MUTABLE,
        "RoutingConfig": MUTABLE,
    }
    required = ("FunctionName", "FunctionVersion", "Name")
    attributes = ("AliasArn",)

    def _args(self, props: dict[str, Any]) -> dict[str, Any]:
        name, _ = split_qualified(str(props["FunctionName"]))
        kwargs = {
            "FunctionName": name,
            "Name": props["Name"],
            "FunctionVersion": str(props["FunctionVersion"]),
        }
        kwargs["Description"] = props.get("Description", "")
        if props.get("RoutingConfig"):
            kwargs["RoutingConfig"] = props["RoutingConfig"]
        return kwargs

    def create(self, ctx: Context, logical_id: str, props: dict[str, Any]) -> Provisioned:
        arn = ctx.client("lambda").create_alias(**self._args(props))["AliasArn"]
        return Provisioned(arn, {"AliasArn": arn})

    def update(
        self, ctx: Context, logical_id: str, current: Provisioned, old: dict[str, Any], new: dict[str, Any]
    ) -> Provisioned:
        kwargs = self._args(new)
        kwargs.setdefault("RoutingConfig", {"AdditionalVersionWeights": {}})
        ctx.client("lambda").update_alias(**kwargs)
        return current

    def delete(self, ctx: Context, current: Provisioned, props: dict[str, Any]) -> None:
        name, alias = split_qualified(current.physical_id)
        unless_gone(ctx.client("lambda").delete_alias, FunctionName=name, Name=alias or props["Name"])


@register
class LayerVersion(ResourceType):
    type_name = "AWS::Lambda::LayerVersion"
    properties = {
        k: REPLACE
        for k in (
            "Content",
            "CompatibleRuntimes",
            "CompatibleArchitectures",
            "Description",
            "LayerName",
            "LicenseInfo",
        )
    }
    required = ("Content",)
    attributes = ("LayerVersionArn",)

    def create(self, ctx: Context, logical_id: str, props: dict[str, Any]) -> Provisioned:
        content = props["Content"]
        if not ("S3Bucket" in content and "S3Key" in content):
            raise ResourceFailed("Content needs S3Bucket and S3Key")
        kwargs: dict[str, Any] = {
            "LayerName": props.get("LayerName") or ctx.physical_name(logical_id, 64),
            "Content": {k: content[k] for k in ("S3Bucket", "S3Key", "S3ObjectVersion") if k in content},
        }
        for key in ("CompatibleRuntimes", "CompatibleArchitectures", "Description", "LicenseInfo"):
            if props.get(key):
                kwargs[key] = props[key]
        arn = ctx.client("lambda").publish_layer_version(**kwargs)["LayerVersionArn"]
        return Provisioned(arn, {"LayerVersionArn": arn})

    def delete(self, ctx: Context, current: Provisioned, props: dict[str, Any]) -> None:
        layer_arn, _, number = current.physical_id.rpartition(":")
        unless_gone(ctx.client("lambda").delete_layer_version, LayerName=layer_arn, VersionNumber=int(number))


@register
class Permission(ResourceType):
    type_name = "AWS::Lambda::Permission"
    properties = {
        k: REPLACE
        for k in (
            "Action",
            "FunctionName",
            "Principal",
            "SourceArn",
            "SourceAccount",
            "EventSourceToken",
            "FunctionUrlAuthType",
            "InvokedViaFunctionUrl",
            "PrincipalOrgID",
        )
    }
    required = ("Action", "FunctionName", "Principal")

    def create(self, ctx: Context, logical_id: str, props: dict[str, Any]) -> Provisioned:
        name, qualifier = split_qualified(str(props["FunctionName"]))
        statement_id = ctx.physical_name(logical_id, 100)
        kwargs = {
            "FunctionName": name,
            "StatementId": statement_id,
            **{k: props[k] for k in self.properties if k in props and k != "FunctionName"},
        }
        if qualifier:
            kwargs["Qualifier"] = qualifier
        ctx.client("lambda").add_permission(**kwargs)
        return Provisioned(statement_id, {})

    def delete(self, ctx: Context, current: Provisioned, props: dict[str, Any]) -> None:
        name, qualifier = split_qualified(str(props["FunctionName"]))
        kwargs = {"FunctionName": name, "StatementId": current.physical_id}
        if qualifier:
            kwargs["Qualifier"] = qualifier
        unless_gone(ctx.client("lambda").remove_permission, **kwargs)


@register
class EventInvokeConfig(ResourceType):
    type_name = "AWS::Lambda::EventInvokeConfig"
    properties = {
        "FunctionName": REPLACE,
        "Qualifier": REPLACE,
        "MaximumEventAgeInSeconds": MUTABLE,
        "MaximumRetryAttempts": MUTABLE,
        "DestinationConfig": MUTABLE,
    }
    required = ("FunctionName", "Qualifier")

    def _put(self, ctx: Context, props: dict[str, Any]) -> None:
        name, _ = split_qualified(str(props["FunctionName"]))
        kwargs: dict[str, Any] = {"FunctionName": name, "Qualifier": str(props["Qualifier"])}
        for key in ("MaximumEventAgeInSeconds", "MaximumRetryAttempts"):
            if key in props:
                kwargs[key] = int(props[key])
        if "DestinationConfig" in props:
            kwargs["DestinationConfig"] = props["DestinationConfig"]
        ctx.client("lambda").put_function_event_invoke_config(**kwargs)

    def create(self, ctx: Context, logical_id: str, props: dict[str, Any]) -> Provisioned:
        self._put(ctx, props)
        name, _ = split_qualified(str(props["FunctionName"]))
        return Provisioned(f"{name}:{props['Qualifier']}", {})

    def update(
        self, ctx: Context, logical_id: str, current: Provisioned, old: dict[str, Any], new: dict[str, Any]
    ) -> Provisioned:
        self._put(ctx, new)
        return current

    def delete(self, ctx: Context, current: Provisioned, props: dict[str, Any]) -> None:
        name, _, qualifier = current.physical_id.rpartition(":")
        unless_gone(ctx.client("lambda").delete_function_event_invoke_config, FunctionName=name, Qualifier=qualifier)
