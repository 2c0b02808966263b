"""HTTP APIs (API Gateway V2) as the gateway reads them from moto's model: the stage a request
names, the route it matches, and the Lambda events of payload formats 2.0 and 1.0.

Route selection, as API Gateway documents it for HTTP APIs: a route's key is ``METHOD /path``,
``ANY /path`` or ``$default``; among the routes that match a request the most specific wins —
literal segments before ``{param}`` segments before a greedy ``{proxy+}``, a method before ``ANY``
— and ``$default`` takes what no route matches.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

from localcloud.moto_hooks import require

from . import proxy

_WHY = (
    "the HTTP gateway serves HTTP APIs from moto's model: Api.{api_id,name,protocol_type,routes,integrations,"
    "stages,cors_configuration}, Route.{route_key,target}, Integration.{integration_type,integration_uri,"
    "payload_format_version,timeout_in_millis}, Stage.{name,access_log_settings,stage_variables,"
    "default_route_settings}"
)
_backends = require("moto.apigatewayv2.models", "apigatewayv2_backends", _WHY)
require("moto.apigatewayv2.models", "Api", _WHY)
require("moto.apigatewayv2.models", "Route", _WHY)
require("moto.apigatewayv2.models", "Stage", _WHY)

ACCOUNT_ID = "123456789012"
REGION = "us-east-1"
TEXT_TYPES = ("text/", "application/json", "application/xml", "application/javascript", "application/x-www-form-urlencoded")


def get_api(api_id: str) -> Any | None:
    api = _backends[ACCOUNT_ID][REGION].apis.get(api_id)
    return api if api is not None and api.protocol_type == "HTTP" else None


def choose_stage(api: Any, segments: list[str]) -> tuple[Any, str, list[str]] | None:
    """(stage, stage name, path segments below it): a first segment naming a stage selects it,
    anything else goes to the ``$default`` stage with the whole path."""
    if segments and segments[0] != "$default" and segments[0] in api.stages:
        return api.stages[segments[0]], segments[0], segments[1:]
    if "$default" in api.stages:
        return api.stages["$default"], "$default", segments
    return None


@dataclass
class RouteMatch:
    route: Any
    route_key: str
    path_params: dict[str, str] = field(default_factory=dict)


def _match_path(pattern: str, segments: list[str]) -> tuple[tuple[int, ...], dict[str, str]] | None:
    """(specificity, path parameters) if ``pattern`` (``/items/{id}``) matches; lower sorts first."""
    parts = [p for p in pattern.split("/") if p]
    params: dict[str, str] = {}
    literal = variable = 0
    for n, part in enumerate(parts):
        if part.startswith("{") and part.endswith("+}"):
            if n != len(parts) - 1 or len(segments) <= n:
                return None
            params[part[1:-2]] = "/".join(segments[n:])
            return (1, -literal, variable), params
        if n >= len(segments):
            return None
        if part.startswith("{") and part.endswith("}"):
            params[part[1:-1]] = segments[n]
            variable += 1
        elif part != segments[n]:
            return None
        else:
            literal += 1
    if len(parts) != len(segments):
        return None
    return (0, -literal, variable), params


def match_route(api: Any, method: str, segments: list[str]) -> RouteMatch | None:
    best: tuple[tuple[int, ...], RouteMatch] | None = None
    default = None
    for route in list(api.routes.values()):
        key = route.route_key
        if key == "$default":
            default = route
            continue
        verb, _, pattern = key.partition(" ")
        if verb not in (method, "ANY"):
            continue
        found = _match_path(pattern, segments)
        if found is None:
            continue
        rank = (*found[0], 1 if verb == "ANY" else 0)
        if best is None or rank < best[0]:
            best = (rank, RouteMatch(route, key, found[1]))
    if best is not None:
        return best[1]
    return RouteMatch(default, "$default") if default is not None else None


def integration_of(api: Any, route: Any) -> Any | None:
    target = route.target or ""
    if not target.startswith("integrations/"):
        return None
    return api.integrations.get(target.split("/", 1)[1])


def function_of(integration_uri: str, variables: dict[str, str]) -> tuple[str, str | None]:
    """(function, qualifier) from an integration URI: the ``apigateway:...:lambda:path`` form or a function ARN."""
    if ":lambda:path/" in (integration_uri or ""):
        return proxy.function_target(integration_uri, variables)
    parts = (integration_uri or "").split(":")
    if len(parts) == 8 and parts[5] == "function":
        return ":".join(parts[:7]), parts[7]
    if len(parts) == 7 and parts[5] == "function":
        return integration_uri, None
    raise proxy.InvokeFailed(f"integration uri is not a Lambda function: {integration_uri!r}")


# ---- events -----------------------------------------------------------------------------------------
@dataclass
class Incoming:
    method: str
    raw_path: str  # as the client sent it, below the API id (includes a named stage)
    raw_query: str
    headers: list[tuple[str, str]]  # as received, lower-case names
    body: bytes
    source_ip: str
    protocol: str
    request_id: str
    epoch: float
    domain: str


def _body(incoming: Incoming) -> tuple[str | None, bool]:
    if not incoming.body:
        return None, False
    content_type = next((v for k, v in incoming.headers if k == "content-type"), "")
    try:
        text = incoming.body.decode("utf-8")
    except UnicodeDecodeError:
        return base64.b64encode(incoming.body).decode(), True
    if content_type and not content_type.lower().startswith(TEXT_TYPES) and "+json" not in content_type.lower():
        return base64.b64encode(incoming.body).decode(), True
    return text, False


def _joined_headers(incoming: Incoming) -> dict[str, str]:
    out: dict[str, str] = {}
    for name, value in incoming.headers:
        if name == "cookie":
            continue
        out[name] = f"{out[name]},{value}" if name in out else value
    return out


def event_v2(incoming: Incoming, api: Any, stage: str, match: RouteMatch, variables: dict[str, str]) -> dict[str, Any]:
    """Payload format 2.0."""
    headers = _joined_headers(incoming)
    cookies = [c.strip() for k, v in incoming.headers if k == "cookie" for c in v.split(";") if c.strip()]
    query: dict[str, str] = {}
    for k, v in parse_qsl(incoming.raw_query, keep_blank_values=True):
        query[k] = f"{query[k]},{v}" if k in query else v
    body, is_b64 = _body(incoming)
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": match.route_key,
        "rawPath": incoming.raw_path,
        "rawQueryString": incoming.raw_query,
        "headers": headers,
        "requestContext": {
            "accountId": ACCOUNT_ID,
            "apiId": api.api_id,
            "domainName": incoming.domain,
            "domainPrefix": api.api_id,
            "http": {
                "method": incoming.method,
                "path": incoming.raw_path,
                "protocol": incoming.protocol,
                "sourceIp": incoming.source_ip,
                "userAgent": headers.get("user-agent", ""),
            },
            "requestId": incoming.request_id,
            "routeKey": match.route_key,
            "stage": stage,
            "time": proxy.request_time(incoming.epoch),
            "timeEpoch": int(incoming.epoch * 1000),
        },
        "isBase64Encoded": is_b64,
    }
    if cookies:
        event["cookies"] = cookies
    if query:
        event["queryStringParameters"] = query
    if match.path_params:
        event["pathParameters"] = dict(match.path_params)
    if variables:
        event["stageVariables"] = dict(variables)
    if body is not None:
        event["body"] = body
    return event


def event_v1(incoming: Incoming, api: Any, stage: str, match: RouteMatch, variables: dict[str, str]) -> dict[str, Any]:
    """Payload format 1.0 (the REST API proxy event, as HTTP APIs send it)."""
    headers: dict[str, str] = {}
    multi_headers: dict[str, list[str]] = {}
    for name, value in incoming.headers:
        headers[name] = value
        multi_headers.setdefault(name, []).append(value)
    query: dict[str, str] = {}
    multi_query: dict[str, list[str]] = {}
    for k, v in parse_qsl(incoming.raw_query, keep_blank_values=True):
        query[k] = v
        multi_query.setdefault(k, []).append(v)
    body, is_b64 = _body(incoming)
    resource = match.route_key.partition(" ")[2] if match.route_key != "$default" else "$default"
    return {
        "version": "1.0",
        "resource": resource,
        "path": incoming.raw_path,
        "httpMethod": incoming.method,
        "headers": headers,
        "multiValueHeaders": multi_headers,
        "queryStringParameters": query or None,
        "multiValueQueryStringParameters": multi_query or None,
        "requestContext": {
            "accountId": ACCOUNT_ID,
            "apiId": api.api_id,
            "domainName": incoming.domain,
            "domainPrefix": api.api_id,
            "extendedRequestId": incoming.request_id,
            "httpMethod": incoming.method,
            "identity": {"sourceIp": incoming.source_ip, "userAgent": headers.get("user-agent", "")},
            "path": incoming.raw_path,
            "protocol": incoming.protocol,
            "requestId": incoming.request_id,
            "requestTime": proxy.request_time(incoming.epoch),
            "requestTimeEpoch": int(incoming.epoch * 1000),
            "resourceId": match.route_key,
            "resourcePath": resource,
            "stage": stage,
        },
        "pathParameters": dict(match.path_params) or None,
        "stageVariables": dict(variables) or None,
        "body": body,
        "isBase64Encoded": is_b64,
    }


# ---- CORS ---------------------------------------------------------------------------------------
def cors_settings(value: Any) -> dict[str, Any]:
    """A CORS configuration (API shape ``AllowOrigins`` or wire shape ``allowOrigins``) by lower-case key."""
    return {str(k).lower(): v for k, v in (value or {}).items()}


def cors_headers(value: Any, origin: str | None, preflight: bool) -> list[tuple[str, str]]:
    """The CORS headers API Gateway (HTTP APIs) and function URLs add for ``origin``: on a preflight
    the allowed methods, headers and max age; on any response the origin, exposed headers and credentials."""
    cors = cors_settings(value)
    if not cors or not origin:
        return []
    origins = list(cors.get("alloworigins") or [])
    if "*" not in origins and origin not in origins:
        return []
    credentials = bool(cors.get("allowcredentials"))
    out = [("Access-Control-Allow-Origin", origin if credentials or "*" not in origins else "*")]
    if credentials:
        out.append(("Access-Control-Allow-Credentials", "true"))
    if preflight:
        if cors.get("allowmethods"):
            out.append(("Access-Control-Allow-Methods", ",".join(cors["allowmethods"])))
        if cors.get("allowheaders"):
            out.append(("Access-Control-Allow-Headers", ",".join(cors["allowheaders"])))
        if cors.get("maxage") is not None:
            out.append(("Access-Control-Max-Age", str(cors["maxage"])))
    elif cors.get("exposeheaders"):
        out.append(("Access-Control-Expose-Headers", ",".join(cors["exposeheaders"])))
    return out
