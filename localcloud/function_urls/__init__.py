"""function_urls: Lambda function URLs, configured through Lambda's API and served over HTTP.

moto keeps one URL configuration per function and ignores ``Qualifier`` (SAM puts a function's URL
on its alias); localcloud answers Create/Get/Update/DeleteFunctionUrlConfig itself, one URL per
function or alias as on AWS (``FunctionUrl`` is ``https://{urlId}.lambda-url.{region}.on.aws/``).
The URL is served at ``{endpoint}/_aws/lambda-url/{urlId}/{path}`` (localcloud.urls) with the
function URL event (payload format 2.0), see ``serve``.
"""

from __future__ import annotations

import json
import secrets
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import unquote

from localcloud.moto_hooks import hook
from localcloud.urls import LAMBDA_URL_PREFIX

__all__ = ["install", "UrlConfig", "find"]


@dataclass
class UrlConfig:
    url_id: str
    function_name: str
    qualifier: str | None
    function_arn: str  # as the URL invokes it (qualified by the alias)
    auth_type: str
    cors: dict[str, Any] | None
    invoke_mode: str
    created: str = field(default_factory=lambda: _now())
    modified: str = field(default_factory=lambda: _now())

    def to_api(self, region: str) -> dict[str, Any]:
        out = {
            "FunctionUrl": f"https://{self.url_id}.lambda-url.{region}.on.aws/",
            "FunctionArn": self.function_arn,
            "AuthType": self.auth_type,
            "CreationTime": self.created,
            "LastModifiedTime": self.modified,
            "InvokeMode": self.invoke_mode,
        }
        if self.cors:
            out["Cors"] = self.cors
        return out


_lock = threading.Lock()
_configs: dict[tuple[str, str | None], UrlConfig] = {}


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "+0000"


def find(url_id: str) -> UrlConfig | None:
    with _lock:
        return next((c for c in _configs.values() if c.url_id == url_id), None)


def _error(status: int, code: str, message: str) -> tuple[int, dict[str, Any], str]:
    return status, {"status": status, "x-amzn-errortype": code}, json.dumps({"Type": "User", "Message": message, "__type": code})


def install(cloud: Any) -> None:
    from .serve import FunctionUrls

    region = cloud.region

    def target(response: Any) -> tuple[str, str | None, str] | tuple[int, dict[str, Any], str]:
        """(function name, qualifier, invoked ARN) the request names, or an error answer."""
        name = unquote(response.path.split("?", 1)[0].rstrip("/").split("/")[-2])
        if name.startswith("arn:"):
            parts = name.split(":")
            name, qualifier = parts[6], (parts[7] if len(parts) > 7 else None)
        else:
            name, _, qualifier = name.partition(":")
            qualifier = qualifier or None
        qualifier = (response.querystring.get("Qualifier") or [qualifier])[0]
        if qualifier and (qualifier.isdigit()):
            return _error(400, "InvalidParameterValueException", "A function URL can be configured on $LATEST or an alias, not on a version")
        try:
            fn = response.backend.get_function(name, qualifier if qualifier != "$LATEST" else None)
        except Exception:
            return _error(404, "ResourceNotFoundException", f"Function not found: {name}{':' + qualifier if qualifier else ''}")
        base = fn.function_arn.split(":function:", 1)[0] + f":function:{name}"
        return name, qualifier, f"{base}:{qualifier}" if qualifier else base

    def body(response: Any) -> dict[str, Any]:
        return json.loads(response.body or "{}") if isinstance(response.body, (str, bytes)) else {}

    def check(config: dict[str, Any]) -> tuple[int, dict[str, Any], str] | None:
        if config.get("AuthType") not in (None, "NONE", "AWS_IAM"):
            return _error(400, "ValidationException", f"AuthType {config.get('AuthType')}: must be NONE or AWS_IAM")
        if config.get("InvokeMode", "BUFFERED") != "BUFFERED":
            return _error(400, "InvalidParameterValueException", "InvokeMode RESPONSE_STREAM is not supported by localcloud")
        return None

    @hook("moto.awslambda.responses", "LambdaResponse.create_function_url_config", "function URLs per function or alias (Qualifier)")
    def create(original, response):  # noqa: ARG001
        found = target(response)
        if isinstance(found[0], int):
            return found
        name, qualifier, arn = found
        config = body(response)
        problem = check(config) or (None if config.get("AuthType") else _error(400, "ValidationException", "AuthType is required"))
        if problem:
            return problem
        with _lock:
            if (name, qualifier) in _configs:
                return _error(409, "ResourceConflictException", f"Failed to create function url config for [functionArn = {arn}]. Error message:  FunctionUrlConfig exists for this Lambda function")
            url = UrlConfig(secrets.token_hex(16), name, qualifier, arn, config["AuthType"], config.get("Cors"), config.get("InvokeMode", "BUFFERED"))
            _configs[(name, qualifier)] = url
        return 201, {"status": 201}, json.dumps(url.to_api(region))

    @hook("moto.awslambda.responses", "LambdaResponse.get_function_url_config", "function URLs per function or alias (Qualifier)")
    def get(original, response):  # noqa: ARG001
        found = target(response)
        if isinstance(found[0], int):
            return found
        with _lock:
            url = _configs.get((found[0], found[1]))
        if url is None:
            return _error(404, "ResourceNotFoundException", "The resource you requested does not exist.")
        return 200, {"status": 200}, json.dumps(url.to_api(region))

    @hook("moto.awslambda.responses", "LambdaResponse.update_function_url_config", "function URLs per function or alias (Qualifier)")
    def update(original, response):  # noqa: ARG001
        found = target(response)
        if isinstance(found[0], int):
            return found
        config = body(response)
        problem = check(config)
        if problem:
            return problem
        with _lock:
            url = _configs.get((found[0], found[1]))
            if url is None:
                return _error(404, "ResourceNotFoundException", "The resource you requested does not exist.")
            url.auth_type = config.get("AuthType", url.auth_type)
            if "Cors" in config:
                url.cors = config["Cors"] or None
            url.modified = _now()
        return 200, {"status": 200}, json.dumps(url.to_api(region))

    @hook("moto.awslambda.responses", "LambdaResponse.delete_function_url_config", "function URLs per function or alias (Qualifier)")
    def delete(original, response):  # noqa: ARG001
        found = target(response)
        if isinstance(found[0], int):
            return found
        with _lock:
            gone = _configs.pop((found[0], found[1]), None)
        if gone is None:
            return _error(404, "ResourceNotFoundException", "The resource you requested does not exist.")
        return 204, {"status": 204}, ""

    @hook("moto.awslambda.models", "LambdaBackend.delete_function", "a deleted function's (or alias's) URL goes with it")
    def delete_function(original, backend, function_name, qualifier=None):
        out = original(backend, function_name, qualifier)
        name = function_name.split(":")[6] if function_name.startswith("arn:") else function_name.split(":")[0]
        with _lock:
            for key in [k for k in _configs if k[0] == name and (qualifier is None or k[1] == qualifier)]:
                del _configs[key]
        return out

    cloud.mount(LAMBDA_URL_PREFIX, FunctionUrls(cloud))
