"""AWS::Lambda::Url: a function URL (SAM's ``FunctionUrlConfig``), through Lambda's
CreateFunctionUrlConfig. ``FunctionUrl`` is ``https://{urlId}.lambda-url.{region}.on.aws/`` as AWS
gives it (stack outputs show it localized: ``{endpoint}/_aws/lambda-url/{urlId}/``); ``Ref`` and
``FunctionArn`` are the function's ARN. ``InvokeMode: RESPONSE_STREAM`` is refused."""

from __future__ import annotations

from typing import Any

from .base import MUTABLE, REPLACE, Context, Provisioned, ResourceFailed, ResourceType, register, unless_gone
from .lambda_ import split_qualified


def _target(props: dict[str, Any]) -> dict[str, Any]:
    name, qualifier = split_qualified(str(props["TargetFunctionArn"]))
    qualifier = props.get("Qualifier") or qualifier
    return {"FunctionName": name, **({"Qualifier": qualifier} if qualifier else {})}


def _config(props: dict[str, Any]) -> dict[str, Any]:
    if props.get("InvokeMode", "BUFFERED") != "BUFFERED":
        raise ResourceFailed(f"InvokeMode {props['InvokeMode']}: response streaming is not supported by localcloud")
    out: dict[str, Any] = {"AuthType": props["AuthType"]}
    if props.get("Cors"):
        out["Cors"] = props["Cors"]
    return out


@register
class Url(ResourceType):
    type_name = "AWS::Lambda::Url"
    properties = {
        "TargetFunctionArn": REPLACE,
        "Qualifier": REPLACE,
        "AuthType": MUTABLE,
        "Cors": MUTABLE,
        "InvokeMode": MUTABLE,
    }
    required = ("TargetFunctionArn", "AuthType")
    attributes = ("FunctionArn", "FunctionUrl")

    def create(self, ctx: Context, logical_id: str, props: dict[str, Any]) -> Provisioned:
        out = ctx.client("lambda").create_function_url_config(**_target(props), **_config(props))
        return Provisioned(out["FunctionArn"], {"FunctionArn": out["FunctionArn"], "FunctionUrl": out["FunctionUrl"]})

    def update(
        self, ctx: Context, logical_id: str, current: Provisioned, old: dict[str, Any], new: dict[str, Any]
    ) -> Provisioned:
        config = _config(new)
        config.setdefault("Cors", {})
        ctx.client("lambda").update_function_url_config(**_target(new), **config)
        return current

    def delete(self, ctx: Context, current: Provisioned, props: dict[str, Any]) -> None:
        unless_gone(ctx.client("lambda").delete_function_url_config, **_target(props))
