"""AWS::ApiGateway::RestApi (with an OpenAPI/Swagger Body or BodyS3Location), Deployment, Stage,
Account.

A body is imported with ``put_rest_api`` (the public API, mode ``merge`` on the new API), so
moto holds resources, methods and integrations. Plain moto refuses Swagger 2.0 (what SAM emits)
and drops methods' IAM auth; the gateway component's hooks on that import (localcloud/gateway/
openapi.py) fix both, so there is one import path. What moto still drops (Lambda/Cognito
authorizers, apiKeyRequired) is in the stored body below.

The resolved body itself (what a gateway may need beyond that) is kept as JSON at
``{data_dir}/cloudformation/apis/{restApiId}.json``; ``localcloud.cloudformation.rest_api_definition``
reads it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml
from botocore.exceptions import ClientError

from .base import (
    MUTABLE,
    REPLACE,
    Context,
    Provisioned,
    ResourceFailed,
    ResourceType,
    changed_properties,
    error_text,
    is_not_found,
    register,
    tags_dict,
    unless_gone,
)


def definitions_dir(ctx: Context) -> Path | None:
    return Path(ctx.data_dir, "cloudformation", "apis") if getattr(ctx, "data_dir", None) else None


def _load_body(ctx: Context, props: dict[str, Any]) -> dict[str, Any] | None:
    if "Body" in props:
        body = props["Body"]
        if isinstance(body, str):
            body = yaml.safe_load(body)
        return body
    if "BodyS3Location" in props:
        loc = props["BodyS3Location"]
        raw = ctx.read_s3(loc["Bucket"], loc["Key"], loc.get("Version")).decode("utf-8")
        try:
            return yaml.safe_load(raw)
        except yaml.YAMLError as e:
            raise ResourceFailed(
                f"BodyS3Location s3://{loc['Bucket']}/{loc['Key']} is not JSON or YAML: {e}"
            ) from None
    return None


LAMBDA_AUTHORIZERS = ("token", "request", "cognito_user_pools")


def _check_authorizers(body: dict[str, Any]) -> None:
    """Lambda (TOKEN, REQUEST) and Cognito user pool authorizers are enforced by the local gateway;
    any other authorizer type is refused here, naming it, rather than leave its methods open."""
    schemes = body.get("securityDefinitions") or (body.get("components") or {}).get("securitySchemes") or {}
    where = "securityDefinitions" if body.get("securityDefinitions") else "components.securitySchemes"
    for name, scheme in (schemes.items() if isinstance(schemes, dict) else []):
        ext = scheme.get("x-amazon-apigateway-authorizer") if isinstance(scheme, dict) else None
        if isinstance(ext, dict) and str(ext.get("type", "")).lower() not in LAMBDA_AUTHORIZERS:
            raise ResourceFailed(
                f"Body.{where}.{name}.x-amazon-apigateway-authorizer: type {ext.get('type')!r} is not supported by "
                f"localcloud (token, request and cognito_user_pools are)"
            )


def _import(ctx: Context, api_id: str, body: dict[str, Any], fail_on_warnings: bool) -> None:
    if not isinstance(body.get("paths", {}), dict):
        raise ResourceFailed("Body.paths must be a mapping")
    try:
        ctx.client("apigateway").put_rest_api(
            restApiId=api_id, mode="merge", failOnWarnings=fail_on_warnings, body=json.dumps(body).encode()
        )
    except ClientError as e:
        raise ResourceFailed(f"Body: importing the OpenAPI definition failed: {error_text(e)}") from None


@register
class RestApi(ResourceType):
    type_name = "AWS::ApiGateway::RestApi"
    properties = {
        "Name": MUTABLE,
        "Description": MUTABLE,
        "Body": MUTABLE,
        "BodyS3Location": MUTABLE,
        "EndpointConfiguration": MUTABLE,
        "BinaryMediaTypes": MUTABLE,
        "Policy": MUTABLE,
        "Parameters": MUTABLE,
        "FailOnWarnings": MUTABLE,
        "Mode": MUTABLE,
        "ApiKeySourceType": MUTABLE,
        "MinimumCompressionSize": MUTABLE,
        "DisableExecuteApiEndpoint": MUTABLE,
        "Tags": MUTABLE,
    }
    attributes = ("RootResourceId", "RestApiId")

    def create(self, ctx: Context, logical_id: str, props: dict[str, Any]) -> Provisioned:
        body = _load_body(ctx, props)
        _check_authorizers(body or {})
        info = (body or {}).get("info") or {}
        kwargs: dict[str, Any] = {"name": props.get("Name") or info.get("title") or logical_id}
        description = props.get("Description") or info.get("description")
        if description:
            kwargs["description"] = description
        binary = props.get("BinaryMediaTypes") or (body or {}).get("x-amazon-apigateway-binary-media-types")
        if binary:
            kwargs["binaryMediaTypes"] = binary
        if props.get("EndpointConfiguration"):
            kwargs["endpointConfiguration"] = {"types": props["EndpointConfiguration"].get("Types", ["EDGE"])}
        if props.get("Policy"):
            kwargs["policy"] = (
                json.dumps(props["Policy"]) if not isinstance(props["Policy"], str) else props["Policy"]
            )
        if props.get("ApiKeySourceType"):
            kwargs["apiKeySource"] = props["ApiKeySourceType"]
        if props.get("MinimumCompressionSize") is not None:
            kwargs["minimumCompressionSize"] = int(props["MinimumCompressionSize"])
        if "DisableExecuteApiEndpoint" in props:
            kwargs["disableExecuteApiEndpoint"] = bool(props["DisableExecuteApiEndpoint"])
        if props.get("Tags"):
            kwargs["tags"] = tags_dict(props["Tags"])
        api = ctx.client("apigateway").create_rest_api(**kwargs)
        current = Provisioned(
            api["id"], {"RestApiId": api["id"], "RootResourceId": api.get("rootResourceId", "")}
        )
        if body:
            _import(ctx, api["id"], body, bool(props.get("FailOnWarnings", False)))
            self._store(ctx, api["id"], body)
        if not current.attrs["RootResourceId"]:
            current.attrs["RootResourceId"] = self._root_id(ctx, api["id"])
        return current

    def _root_id(self, ctx: Context, api_id: str) -> str:
        resources = ctx.client("apigateway").get_resources(restApiId=api_id, limit=500)["items"]
        return next(r["id"] for r in resources if r["path"] == "/")

    def _store(self, ctx: Context, api_id: str, body: dict[str, Any] | None) -> None:
        folder = definitions_dir(ctx)
        if folder is None:
            return
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{api_id}.json"
        if body is None:
            path.unlink(missing_ok=True)
        else:
            tmp = path.with_suffix(".tmp")
            tmp.write_text(json.dumps(body, indent=1, sort_keys=True))
            tmp.replace(path)

    def update(
        self, ctx: Context, logical_id: str, current: Provisioned, old: dict[str, Any], new: dict[str, Any]
    ) -> Provisioned:
        apigw = ctx.client("apigateway")
        api_id = current.physical_id
        changed = set(changed_properties(old, new))
        body = _load_body(ctx, new)
        _check_authorizers(body or {})
        info = (body or {}).get("info") or {}
        ops = []
        name = new.get("Name") or info.get("title") or logical_id
        ops.append({"op": "replace", "path": "/name", "value": name})
        ops.append(
            {
                "op": "replace",
                "path": "/description",
                "value": new.get("Description") or info.get("description") or "",
            }
        )
        apigw.update_rest_api(restApiId=api_id, patchOperations=ops)
        if changed & {"Body", "BodyS3Location"}:
            existing = apigw.get_resources(restApiId=api_id, limit=500)["items"]
            for resource in sorted(existing, key=lambda r: r["path"].count("/"), reverse=True):
                if resource["path"] != "/":  # deepest first: moto does not delete children with a parent
                    apigw.delete_resource(restApiId=api_id, resourceId=resource["id"])
            root = self._root_id(ctx, api_id)
            for method in apigw.get_resource(restApiId=api_id, resourceId=root).get("resourceMethods") or {}:
                apigw.delete_method(restApiId=api_id, resourceId=root, httpMethod=method)
            if body:
                _import(ctx, api_id, body, bool(new.get("FailOnWarnings", False)))
            self._store(ctx, api_id, body)
        return current

    def delete(self, ctx: Context, current: Provisioned, props: dict[str, Any]) -> None:
        unless_gone(ctx.client("apigateway").delete_rest_api, restApiId=current.physical_id)
        self._store(ctx, current.physical_id, None)


@register
class Deployment(ResourceType):
    type_name = "AWS::ApiGateway::Deployment"
    properties = {
        "RestApiId": REPLACE,
        "StageName": REPLACE,
        "Description": MUTABLE,
    }
    required = ("RestApiId",)
    attributes = ("DeploymentId",)

    def create(self, ctx: Context, logical_id: str, props: dict[str, Any]) -> Provisioned:
        apigw = ctx.client("apigateway")
        api_id, stage = props["RestApiId"], props.get("StageName")
        kwargs: dict[str, Any] = {"restApiId": api_id}
        if props.get("Description"):
            kwargs["description"] = props["Description"]
        existing = False
        if stage:
            try:
                apigw.get_stage(restApiId=api_id, stageName=stage)
                existing = True
            except ClientError as e:
                if not is_not_found(e):
                    raise
        if stage and not existing:
            kwargs["stageName"] = stage
        deployment = apigw.create_deployment(**kwargs)
        if existing:  # API Gateway moves an existing stage to the new deployment; moto does not
            apigw.update_stage(
                restApiId=api_id,
                stageName=stage,
                patchOperations=[{"op": "replace", "path": "/deploymentId", "value": deployment["id"]}],
            )
        return Provisioned(deployment["id"], {"DeploymentId": deployment["id"]})

    def update(
        self, ctx: Context, logical_id: str, current: Provisioned, old: dict[str, Any], new: dict[str, Any]
    ) -> Provisioned:
        ctx.client("apigateway").update_deployment(
            restApiId=new["RestApiId"],
            deploymentId=current.physical_id,
            patchOperations=[{"op": "replace", "path": "/description", "value": new.get("Description", "")}],
        )
        return current

    def delete(self, ctx: Context, current: Provisioned, props: dict[str, Any]) -> None:
        apigw = ctx.client("apigateway")
        api_id = props["RestApiId"]
        try:
            if props.get("StageName"):
                stage = apigw.get_stage(restApiId=api_id, stageName=props["StageName"])
                if stage.get("deploymentId") == current.physical_id:
                    apigw.delete_stage(restApiId=api_id, stageName=props["StageName"])
        except ClientError as e:
            if not is_not_found(e):
                raise
        unless_gone(apigw.delete_deployment, restApiId=api_id, deploymentId=current.physical_id)


_METHOD_SETTINGS = {
    "LoggingLevel": "logging/loglevel",
    "MetricsEnabled": "metrics/enabled",
    "DataTraceEnabled": "logging/dataTrace",
    "ThrottlingBurstLimit": "throttling/burstLimit",
    "ThrottlingRateLimit": "throttling/rateLimit",
    "CachingEnabled": "caching/enabled",
    "CacheTtlInSeconds": "caching/ttlInSeconds",
    "CacheDataEncrypted": "caching/dataEncrypted",
}


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _stage_patches(old: dict[str, Any], new: dict[str, Any]) -> list[dict[str, str]]:
    ops: list[dict[str, str]] = []
    changed = set(changed_properties(old, new))
    if "DeploymentId" in changed:
        ops.append({"op": "replace", "path": "/deploymentId", "value": new["DeploymentId"]})
    if "Description" in changed:
        ops.append({"op": "replace", "path": "/description", "value": new.get("Description", "")})
    if "TracingEnabled" in changed:
        ops.append(
            {"op": "replace", "path": "/tracingEnabled", "value": _text(new.get("TracingEnabled", False))}
        )
    if "CacheClusterEnabled" in changed:
        ops.append(
            {
                "op": "replace",
                "path": "/cacheClusterEnabled",
                "value": _text(new.get("CacheClusterEnabled", False)),
            }
        )
    if "CacheClusterSize" in changed and new.get("CacheClusterSize"):
        ops.append({"op": "replace", "path": "/cacheClusterSize", "value": _text(new["CacheClusterSize"])})
    if "Variables" in changed:
        old_vars, new_vars = old.get("Variables") or {}, new.get("Variables") or {}
        ops += [{"op": "remove", "path": f"/variables/{k}"} for k in old_vars if k not in new_vars]
        ops += [{"op": "replace", "path": f"/variables/{k}", "value": _text(v)} for k, v in new_vars.items()]
    if "AccessLogSetting" in changed:
        setting = new.get("AccessLogSetting")
        if setting:
            ops.append(
                {
                    "op": "replace",
                    "path": "/accessLogSettings/destinationArn",
                    "value": setting["DestinationArn"],
                }
            )
            ops.append(
                {"op": "replace", "path": "/accessLogSettings/format", "value": setting.get("Format", "")}
            )
        else:
            ops.append({"op": "remove", "path": "/accessLogSettings"})
    if "MethodSettings" in changed:
        for setting in new.get("MethodSettings") or []:
            resource_path = setting.get("ResourcePath", "/*")
            encoded = "*" if resource_path in ("/*", "*") else resource_path.replace("/", "~1")
            prefix = f"/{encoded}/{setting.get('HttpMethod', '*')}"
            for key, value in setting.items():
                if key in ("ResourcePath", "HttpMethod"):
                    continue
                if key not in _METHOD_SETTINGS:
                    raise ResourceFailed(f"MethodSettings: {key} is not supported by localcloud")
                ops.append(
                    {"op": "replace", "path": f"{prefix}/{_METHOD_SETTINGS[key]}", "value": _text(value)}
                )
    return ops


@register
class Stage(ResourceType):
    type_name = "AWS::ApiGateway::Stage"
    properties = {
        "RestApiId": REPLACE,
        "StageName": REPLACE,
        "DeploymentId": MUTABLE,
        "Description": MUTABLE,
        "Variables": MUTABLE,
        "MethodSettings": MUTABLE,
        "AccessLogSetting": MUTABLE,
        "TracingEnabled": MUTABLE,
        "CacheClusterEnabled": MUTABLE,
        "CacheClusterSize": MUTABLE,
        "Tags": MUTABLE,
    }
    required = ("RestApiId", "StageName")

    def create(self, ctx: Context, logical_id: str, props: dict[str, Any]) -> Provisioned:
        apigw = ctx.client("apigateway")
        kwargs: dict[str, Any] = {
            "restApiId": props["RestApiId"],
            "stageName": props["StageName"],
            "deploymentId": props.get("DeploymentId", ""),
        }
        if props.get("Description"):
            kwargs["description"] = props["Description"]
        if props.get("Variables"):
            kwargs["variables"] = {k: _text(v) for k, v in props["Variables"].items()}
        if "TracingEnabled" in props:
            kwargs["tracingEnabled"] = bool(props["TracingEnabled"])
        if "CacheClusterEnabled" in props:
            kwargs["cacheClusterEnabled"] = bool(props["CacheClusterEnabled"])
        if props.get("CacheClusterSize"):
            kwargs["cacheClusterSize"] = str(props["CacheClusterSize"])
        if props.get("Tags"):
            kwargs["tags"] = tags_dict(props["Tags"])
        apigw.create_stage(**kwargs)
        plain = {
            k: props[k]
            for k in props
            if k
            in (
                "DeploymentId",
                "Description",
                "Variables",
                "TracingEnabled",
                "CacheClusterEnabled",
                "CacheClusterSize",
            )
        }
        ops = _stage_patches(plain, props)
        if ops:
            apigw.update_stage(
                restApiId=props["RestApiId"], stageName=props["StageName"], patchOperations=ops
            )
        return Provisioned(props["StageName"], {})

    def update(
        self, ctx: Context, logical_id: str, current: Provisioned, old: dict[str, Any], new: dict[str, Any]
    ) -> Provisioned:
        ops = _stage_patches(old, new)
        if ops:
            ctx.client("apigateway").update_stage(
                restApiId=new["RestApiId"], stageName=current.physical_id, patchOperations=ops
            )
        return current

    def delete(self, ctx: Context, current: Provisioned, props: dict[str, Any]) -> None:
        unless_gone(ctx.client("apigateway").delete_stage, restApiId=props["RestApiId"], stageName=current.physical_id)


@register
class Account(ResourceType):
    type_name = "AWS::ApiGateway::Account"
    properties = {"CloudWatchRoleArn": MUTABLE}

    def _put(self, ctx: Context, props: dict[str, Any]) -> None:
        ctx.client("apigateway").update_account(
            patchOperations=[
                {"op": "replace", "path": "/cloudwatchRoleArn", "value": props.get("CloudWatchRoleArn", "")}
            ]
        )

    def create(self, ctx: Context, logical_id: str, props: dict[str, Any]) -> Provisioned:
        self._put(ctx, props)
        return Provisioned(ctx.physical_name(logical_id, 64), {})

    def update(
        self, ctx: Context, logical_id: str, current: Provisioned, old: dict[str, Any], new: dict[str, Any]
    ) -> Provisioned:
        self._put(ctx, new)
        return current

    def delete(self, ctx: Context, current: Provisioned, props: dict[str, Any]) -> None:
        return None
