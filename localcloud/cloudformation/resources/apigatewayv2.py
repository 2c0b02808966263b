"""AWS::ApiGatewayV2::Api, ::Route, ::Integration, ::Stage: HTTP APIs (what SAM's
``AWS::Serverless::HttpApi`` and ``HttpApi`` events become), made through the API Gateway V2 API.

An Api's ``Ref`` is its id; ``ApiEndpoint`` is ``https://{apiId}.execute-api.{region}.amazonaws.com``
as AWS gives it (stack outputs show it localized to the local gateway, see localcloud.urls). A
``Body`` (OpenAPI 3, as SAM writes it) is imported here: each path and method with an
``x-amazon-apigateway-integration`` becomes an integration and a route (``x-amazon-apigateway-any-method``
-> ``ANY``, the path ``$default`` -> the ``$default`` route), ``x-amazon-apigateway-cors`` the CORS
configuration, ``security`` with an ``awsSigv4`` scheme the route's ``AWS_IAM`` authorization. What
localcloud does not serve fails naming it: WebSocket APIs, JWT and Lambda authorizers, integrations
other than Lambda proxy, and OpenAPI extensions it does not know.
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
    changed_properties,
    register,
    tags_dict,
    unless_gone,
)

_METHODS = {"get", "put", "post", "delete", "patch", "head", "options", "x-amazon-apigateway-any-method"}
_OPERATION_KEYS_IGNORED = {"responses", "parameters", "summary", "description", "operationId", "tags", "isDefaultRoute", "requestBody"}
_TOP_KEYS_IGNORED = {"openapi", "swagger", "info", "tags", "servers", "components", "x-amazon-apigateway-cors", "paths"}


def _endpoint(ctx: Context, api_id: str) -> str:
    return f"https://{api_id}.execute-api.{ctx.region}.amazonaws.com"


def _cors(value: dict[str, Any]) -> dict[str, Any]:
    """CloudFormation's / OpenAPI's CORS keys (``AllowOrigins``, ``allowOrigins``) as the API takes them."""
    names = {k.lower(): k for k in ("AllowCredentials", "AllowHeaders", "AllowMethods", "AllowOrigins", "ExposeHeaders", "MaxAge")}
    out = {}
    for key, item in value.items():
        name = names.get(key.lower())
        if name is None:
            raise ResourceFailed(f"CorsConfiguration: {key} is not a CORS setting")
        out[name] = int(item) if name == "MaxAge" else (item in (True, "true") if name == "AllowCredentials" else item)
    return out


def _integration_args(spec: dict[str, Any], where: str) -> dict[str, Any]:
    unknown = sorted(set(spec) - {"type", "httpMethod", "uri", "payloadFormatVersion", "timeoutInMillis", "connectionType"})
    if unknown:
        raise ResourceFailed(f"Body {where}: x-amazon-apigateway-integration {', '.join(unknown)} is not supported by localcloud")
    if str(spec.get("type", "")).upper() != "AWS_PROXY":
        raise ResourceFailed(f"Body {where}: integration type {spec.get('type')} is not supported by localcloud (only aws_proxy)")
    args: dict[str, Any] = {
        "IntegrationType": "AWS_PROXY",
        "IntegrationUri": spec["uri"],
        "PayloadFormatVersion": str(spec.get("payloadFormatVersion", "2.0")),
    }
    if spec.get("timeoutInMillis") is not None:
        args["TimeoutInMillis"] = int(spec["timeoutInMillis"])
    return args


def _authorization(security: Any, schemes: dict[str, Any], where: str) -> str:
    """NONE or AWS_IAM for an OpenAPI ``security`` requirement; other authorizers fail loudly."""
    names = [name for requirement in security or [] for name in (requirement or {})]
    if not names or names == ["NONE"]:
        return "NONE"
    if len(names) == 1 and (schemes.get(names[0]) or {}).get("x-amazon-apigateway-authtype") == "awsSigv4":
        return "AWS_IAM"
    raise ResourceFailed(
        f"Body {where}: security {names}: HTTP API authorizers other than AWS_IAM (JWT, Lambda) are not supported by localcloud"
    )


def import_body(ctx: Context, api_id: str, body: dict[str, Any]) -> None:
    """Routes and integrations of an OpenAPI body, replacing the API's current ones."""
    v2 = ctx.client("apigatewayv2")
    unknown = sorted(k for k in body if k not in _TOP_KEYS_IGNORED | {"security"})
    if unknown:
        raise ResourceFailed(f"Body: {', '.join(unknown)} is not supported by localcloud")
    schemes = ((body.get("components") or {}).get("securitySchemes")) or {}
    default_auth = _authorization(body.get("security"), schemes, "security")
    plan = []
    for path, methods in (body.get("paths") or {}).items():
        for method, operation in (methods or {}).items():
            if method == "parameters":
                continue
            where = f"paths.{path}.{method}"
            if method not in _METHODS:
                raise ResourceFailed(f"Body {where}: {method} is not an HTTP method")
            auth = _authorization(operation["security"], schemes, where) if "security" in operation else default_auth
            unsupported = sorted(
                k for k in operation if k not in _OPERATION_KEYS_IGNORED and k not in ("x-amazon-apigateway-integration", "security")
            )
            if unsupported:
                raise ResourceFailed(f"Body {where}: {', '.join(unsupported)} is not supported by localcloud")
            spec = operation.get("x-amazon-apigateway-integration")
            if spec is None:
                raise ResourceFailed(f"Body {where}: no x-amazon-apigateway-integration")
            verb = "ANY" if method == "x-amazon-apigateway-any-method" else method.upper()
            route_key = "$default" if path == "$default" else f"{verb} {path}"
            plan.append((route_key, auth, _integration_args(spec, where)))
    for route in v2.get_routes(ApiId=api_id).get("Items", []):
        v2.delete_route(ApiId=api_id, RouteId=route["RouteId"])
    for integration in v2.get_integrations(ApiId=api_id).get("Items", []):
        v2.delete_integration(ApiId=api_id, IntegrationId=integration["IntegrationId"])
    for route_key, auth, args in plan:
        integration_id = v2.create_integration(ApiId=api_id, **args)["IntegrationId"]
        v2.create_route(ApiId=api_id, RouteKey=route_key, Target=f"integrations/{integration_id}", AuthorizationType=auth)


@register
class Api(ResourceType):
    type_name = "AWS::ApiGatewayV2::Api"
    properties = {
        "ProtocolType": REPLACE,
        "Name": MUTABLE,
        "Description": MUTABLE,
        "Version": MUTABLE,
        "Body": MUTABLE,
        "BodyS3Location": MUTABLE,
        "CorsConfiguration": MUTABLE,
        "DisableExecuteApiEndpoint": MUTABLE,
        "FailOnWarnings": MUTABLE,
        "Tags": MUTABLE,
        "Target": REPLACE,
        "RouteKey": REPLACE,
    }
    attributes = ("ApiEndpoint", "ApiId")

    def _body(self, ctx: Context, props: dict[str, Any]) -> dict[str, Any] | None:
        if props.get("Body") is not None:
            body = props["Body"]
            return json.loads(body) if isinstance(body, str) else body
        location = props.get("BodyS3Location")
        if location:
            import yaml

            text = ctx.read_s3(location["Bucket"], location["Key"], location.get("Version")).decode("utf-8")
            return yaml.safe_load(text)
        return None

    def create(self, ctx: Context, logical_id: str, props: dict[str, Any]) -> Provisioned:
        body = self._body(ctx, props)
        protocol = props.get("ProtocolType", "HTTP" if body is not None else None)
        if protocol != "HTTP":
            raise ResourceFailed(f"ProtocolType {protocol}: only HTTP APIs are supported by localcloud (not WebSocket)")
        name = props.get("Name") or ((body or {}).get("info") or {}).get("title") or logical_id
        kwargs: dict[str, Any] = {"Name": str(name), "ProtocolType": "HTTP"}
        for key in ("Description", "Version"):
            if props.get(key) is not None:
                kwargs[key] = str(props[key])
        if "DisableExecuteApiEndpoint" in props:
            kwargs["DisableExecuteApiEndpoint"] = props["DisableExecuteApiEndpoint"] in (True, "true")
        cors = props.get("CorsConfiguration") or (body or {}).get("x-amazon-apigateway-cors")
        if cors:
            kwargs["CorsConfiguration"] = _cors(cors)
        if props.get("Tags"):
            kwargs["Tags"] = tags_dict(props["Tags"])
        v2 = ctx.client("apigatewayv2")
        api_id = v2.create_api(**kwargs)["ApiId"]
        if body is not None:
            import_body(ctx, api_id, body)
        if props.get("Target"):  # quick create: a Lambda proxy route and an auto-deployed $default stage
            integration_id = v2.create_integration(
                ApiId=api_id, IntegrationType="AWS_PROXY", IntegrationUri=props["Target"], PayloadFormatVersion="2.0"
            )["IntegrationId"]
            v2.create_route(ApiId=api_id, RouteKey=props.get("RouteKey", "$default"), Target=f"integrations/{integration_id}")
            v2.create_stage(ApiId=api_id, StageName="$default", AutoDeploy=True)
        return Provisioned(api_id, {"ApiId": api_id, "ApiEndpoint": _endpoint(ctx, api_id)})

    def update(
        self, ctx: Context, logical_id: str, current: Provisioned, old: dict[str, Any], new: dict[str, Any]
    ) -> Provisioned:
        v2 = ctx.client("apigatewayv2")
        api_id = current.physical_id
        changed = set(changed_properties(old, new))
        body = self._body(ctx, new)
        kwargs: dict[str, Any] = {}
        if changed & {"Name", "Body", "BodyS3Location"}:
            kwargs["Name"] = str(new.get("Name") or ((body or {}).get("info") or {}).get("title") or logical_id)
        for key in ("Description", "Version"):
            if key in changed:
                kwargs[key] = str(new.get(key, ""))
        if "DisableExecuteApiEndpoint" in changed:
            kwargs["DisableExecuteApiEndpoint"] = new.get("DisableExecuteApiEndpoint") in (True, "true")
        if kwargs:
            v2.update_api(ApiId=api_id, **kwargs)
        cors = new.get("CorsConfiguration") or (body or {}).get("x-amazon-apigateway-cors")
        if cors:
            v2.update_api(ApiId=api_id, CorsConfiguration=_cors(cors))
        elif old.get("CorsConfiguration") or ((self._body(ctx, old) or {}).get("x-amazon-apigateway-cors")):
            unless_gone(v2.delete_cors_configuration, ApiId=api_id)
        if body is not None and changed & {"Body", "BodyS3Location"}:
            import_body(ctx, api_id, body)
        if "Tags" in changed:
            arn = f"arn:aws:apigateway:{ctx.region}::/apis/{api_id}"
            old_tags, new_tags = tags_dict(old.get("Tags")), tags_dict(new.get("Tags"))
            gone = [k for k in old_tags if k not in new_tags]
            if gone:
                v2.untag_resource(ResourceArn=arn, TagKeys=gone)
            if new_tags:
                v2.tag_resource(ResourceArn=arn, Tags=new_tags)
        return current

    def delete(self, ctx: Context, current: Provisioned, props: dict[str, Any]) -> None:
        unless_gone(ctx.client("apigatewayv2").delete_api, ApiId=current.physical_id)


@register
class Integration(ResourceType):
    type_name = "AWS::ApiGatewayV2::Integration"
    properties = {
        "ApiId": REPLACE,
        "IntegrationType": MUTABLE,
        "IntegrationUri": MUTABLE,
        "IntegrationMethod": MUTABLE,
        "PayloadFormatVersion": MUTABLE,
        "TimeoutInMillis": MUTABLE,
        "Description": MUTABLE,
        "ConnectionType": MUTABLE,
    }
    required = ("ApiId", "IntegrationType")
    attributes = ("IntegrationId",)

    def _args(self, props: dict[str, Any]) -> dict[str, Any]:
        if str(props["IntegrationType"]).upper() != "AWS_PROXY":
            raise ResourceFailed(
                f"IntegrationType {props['IntegrationType']}: only AWS_PROXY (Lambda) integrations are served by localcloud"
            )
        if props.get("ConnectionType", "INTERNET") != "INTERNET":
            raise ResourceFailed(f"ConnectionType {props['ConnectionType']}: VPC links are not supported by localcloud")
        args: dict[str, Any] = {
            "IntegrationType": "AWS_PROXY",
            "IntegrationUri": props.get("IntegrationUri", ""),
            "PayloadFormatVersion": str(props.get("PayloadFormatVersion", "2.0")),
        }
        if props.get("IntegrationMethod"):
            args["IntegrationMethod"] = props["IntegrationMethod"]
        if props.get("TimeoutInMillis") is not None:
            args["TimeoutInMillis"] = int(props["TimeoutInMillis"])
        if props.get("Description"):
            args["Description"] = props["Description"]
        return args

    def create(self, ctx: Context, logical_id: str, props: dict[str, Any]) -> Provisioned:
        out = ctx.client("apigatewayv2").create_integration(ApiId=props["ApiId"], **self._args(props))
        return Provisioned(out["IntegrationId"], {"IntegrationId": out["IntegrationId"]})

    def update(
        self, ctx: Context, logical_id: str, current: Provisioned, old: dict[str, Any], new: dict[str, Any]
    ) -> Provisioned:
        ctx.client("apigatewayv2").update_integration(
            ApiId=new["ApiId"], IntegrationId=current.physical_id, **self._args(new)
        )
        return current

    def delete(self, ctx: Context, current: Provisioned, props: dict[str, Any]) -> None:
        unless_gone(ctx.client("apigatewayv2").delete_integration, ApiId=props["ApiId"], IntegrationId=current.physical_id)


@register
class Route(ResourceType):
    type_name = "AWS::ApiGatewayV2::Route"
    properties = {
        "ApiId": REPLACE,
        "RouteKey": MUTABLE,
        "Target": MUTABLE,
        "AuthorizationType": MUTABLE,
        "OperationName": MUTABLE,
    }
    required = ("ApiId", "RouteKey")
    attributes = ("RouteId",)

    def _args(self, props: dict[str, Any]) -> dict[str, Any]:
        auth = str(props.get("AuthorizationType", "NONE")).upper()
        if auth not in ("NONE", "AWS_IAM"):
            raise ResourceFailed(f"AuthorizationType {auth}: HTTP API authorizers other than AWS_IAM are not supported by localcloud")
        args: dict[str, Any] = {"RouteKey": props["RouteKey"], "AuthorizationType": auth}
        if props.get("Target"):
            args["Target"] = props["Target"]
        if props.get("OperationName"):
            args["OperationName"] = props["OperationName"]
        return args

    def create(self, ctx: Context, logical_id: str, props: dict[str, Any]) -> Provisioned:
        out = ctx.client("apigatewayv2").create_route(ApiId=props["ApiId"], **self._args(props))
        return Provisioned(out["RouteId"], {"RouteId": out["RouteId"]})

    def update(
        self, ctx: Context, logical_id: str, current: Provisioned, old: dict[str, Any], new: dict[str, Any]
    ) -> Provisioned:
        ctx.client("apigatewayv2").update_route(ApiId=new["ApiId"], RouteId=current.physical_id, **self._args(new))
        return current

    def delete(self, ctx: Context, current: Provisioned, props: dict[str, Any]) -> None:
        unless_gone(ctx.client("apigatewayv2").delete_route, ApiId=props["ApiId"], RouteId=current.physical_id)


def _access_logs(value: dict[str, Any]) -> dict[str, Any]:
    unknown = sorted(set(value) - {"DestinationArn", "Format"})
    if unknown:
        raise ResourceFailed(f"AccessLogSettings: {', '.join(unknown)} is not an access log setting")
    return {k: value[k] for k in ("DestinationArn", "Format") if k in value}


def _route_settings(value: dict[str, Any]) -> dict[str, Any]:
    known = {"DetailedMetricsEnabled", "ThrottlingBurstLimit", "ThrottlingRateLimit", "LoggingLevel", "DataTraceEnabled"}
    unknown = sorted(set(value) - known)
    if unknown:
        raise ResourceFailed(f"DefaultRouteSettings: {', '.join(unknown)} is not a route setting")
    return dict(value)


@register
class Stage(ResourceType):
    """A stage serves the API's current routes (``AutoDeploy`` or not: localcloud has no deployment
    snapshots, so a stage always serves what the API has now)."""

    type_name = "AWS::ApiGatewayV2::Stage"
    properties = {
        "ApiId": REPLACE,
        "StageName": REPLACE,
        "AutoDeploy": MUTABLE,
        "AccessLogSettings": MUTABLE,
        "DefaultRouteSettings": MUTABLE,
        "StageVariables": MUTABLE,
        "Description": MUTABLE,
        "DeploymentId": MUTABLE,
        "Tags": MUTABLE,
    }
    required = ("ApiId", "StageName")

    def _args(self, props: dict[str, Any]) -> dict[str, Any]:
        args: dict[str, Any] = {"AutoDeploy": props.get("AutoDeploy") in (True, "true")}
        if props.get("AccessLogSettings"):
            args["AccessLogSettings"] = _access_logs(props["AccessLogSettings"])
        if props.get("DefaultRouteSettings"):
            args["DefaultRouteSettings"] = _route_settings(props["DefaultRouteSettings"])
        if props.get("StageVariables"):
            args["StageVariables"] = {k: str(v) for k, v in props["StageVariables"].items()}
        if props.get("Description"):
            args["Description"] = props["Description"]
        return args

    def create(self, ctx: Context, logical_id: str, props: dict[str, Any]) -> Provisioned:
        kwargs = {"ApiId": props["ApiId"], "StageName": props["StageName"], **self._args(props)}
        if props.get("Tags"):
            kwargs["Tags"] = tags_dict(props["Tags"])
        ctx.client("apigatewayv2").create_stage(**kwargs)
        return Provisioned(props["StageName"])

    def update(
        self, ctx: Context, logical_id: str, current: Provisioned, old: dict[str, Any], new: dict[str, Any]
    ) -> Provisioned:
        v2 = ctx.client("apigatewayv2")
        v2.delete_stage(ApiId=new["ApiId"], StageName=current.physical_id)
        kwargs = {"ApiId": new["ApiId"], "StageName": new["StageName"], **self._args(new)}
        if new.get("Tags"):
            kwargs["Tags"] = tags_dict(new["Tags"])
        v2.create_stage(**kwargs)  # moto's UpdateStage keeps removed settings; made again, as it now should be
        return current

    def delete(self, ctx: Context, current: Provisioned, props: dict[str, Any]) -> None:
        unless_gone(ctx.client("apigatewayv2").delete_stage, ApiId=props["ApiId"], StageName=current.physical_id)
