"""HTTP APIs (API Gateway V2) served as API Gateway serves them.

``https://{apiId}.execute-api.{region}.amazonaws.com/{stage}/{path}`` is served locally at
``{endpoint}/_aws/execute-api/{apiId}/{stage}/{path}``, and the ``$default`` stage at
``{endpoint}/_aws/execute-api/{apiId}/{path}`` (a first path segment naming another stage selects
that stage, as on AWS). Lambda proxy integrations with payload format 2.0 (or 1.0); an ``AWS_IAM`` route needs a SigV4
signature (service ``execute-api``) and, with ``--enforce-iam``, ``execute-api:Invoke`` on the
route's ARN (else 403 ``{"message":"Forbidden"}``); the function
is invoked only if its resource-based policy lets ``apigateway.amazonaws.com`` in for the route's
``execute-api`` ARN (with ``--enforce-iam``). Errors have HTTP APIs' bodies (``{"message":"Not
Found"}`` 404, ``{"message":"Internal Server Error"}`` 500, ``{"message":"Service Unavailable"}``
503 on an integration timeout; 403 when ``DisableExecuteApiEndpoint``). A ``CorsConfiguration``
answers preflights and adds its headers to responses. Each request leaves an access log line in the stage's
``AccessLogSettings`` destination (its ``$context`` format) and ``AWS/ApiGateway`` metrics with HTTP
APIs' names and dimensions (``Count``, ``4xx``, ``5xx``, ``Latency``, ``IntegrationLatency``,
``DataProcessed``; ``ApiId`` and ``ApiId``+``Stage``, and per route ``ApiId``+``Method``+``Resource``
+``Stage`` when the stage enables detailed metrics).
"""

from __future__ import annotations

import base64
import json
import logging
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote, unquote

from localcloud import iam
from localcloud.iam import actions as iam_actions
from localcloud.urls import EXECUTE_API_PREFIX

from . import http_routes as routes
from . import proxy, sigv4, telemetry
from .app import _read_body, _signed_headers, _status_line

log = logging.getLogger("localcloud.gateway")

TIMEOUT_MS = 30_000  # HTTP APIs' integration timeout


@dataclass
class Reply:
    status: int
    headers: list[tuple[str, str]]
    body: bytes
    error: str | None = None
    integration_status: int | None = None
    integration_ms: float | None = None
    integration_request_id: str | None = None  # the Lambda invocation's (its Invoke's x-amzn-RequestId)


def _error(status: int, message: str) -> Reply:
    return Reply(status, [("Content-Type", "application/json")], json.dumps({"message": message}, separators=(",", ":")).encode(), message)


def _function_response(payload: bytes) -> Reply:
    """Payload format 2.0's response: a JSON object with ``statusCode`` is the response; any other
    valid JSON is the body of a 200 ``application/json`` response."""
    try:
        value = json.loads(payload or b"null")
    except ValueError:
        return _error(500, "Internal Server Error")
    if not (isinstance(value, dict) and "statusCode" in value):
        return Reply(200, [("Content-Type", "application/json")], payload)
    try:
        status = int(value["statusCode"])
    except (TypeError, ValueError):
        return _error(500, "Internal Server Error")
    headers = [(str(k), str(v)) for k, v in (value.get("headers") or {}).items()]
    for name, values in (value.get("multiValueHeaders") or {}).items():
        headers += [(str(name), str(v)) for v in values or []]
    headers += [("Set-Cookie", str(c)) for c in value.get("cookies") or []]
    body = value.get("body")
    if body is None:
        data = b""
    elif value.get("isBase64Encoded"):
        try:
            data = base64.b64decode(str(body))
        except ValueError:
            return _error(500, "Internal Server Error")
    else:
        data = (body if isinstance(body, str) else json.dumps(body)).encode()
    if not any(k.lower() == "content-type" for k, _ in headers):
        headers.append(("Content-Type", "application/json"))
    return Reply(status, headers, data)


class HttpApiGateway:
    def __init__(self, invoker: proxy.LambdaInvoker, recorder: telemetry.Telemetry):
        self.invoker = invoker
        self.telemetry = recorder
        self.verifier = sigv4.Verifier()

    def serves(self, environ: dict) -> bool:
        api_id = environ.get("PATH_INFO", "")[len(EXECUTE_API_PREFIX) :].split("/", 1)[0]
        return bool(api_id) and routes.get_api(unquote(api_id)) is not None

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        started = time.perf_counter()
        epoch = time.time()
        request_id = base64.b32encode(uuid.uuid4().bytes[:10]).decode().rstrip("=")[:16]
        raw_uri = environ.get("REQUEST_URI") or environ.get("RAW_URI") or quote(environ.get("PATH_INFO", ""))
        raw_path, _, raw_query = raw_uri.partition("?")
        if not raw_query and environ.get("QUERY_STRING"):
            raw_query = environ["QUERY_STRING"]
        api_id, _, rest = raw_path[len(EXECUTE_API_PREFIX) :].partition("/")
        api = routes.get_api(unquote(api_id))
        context: dict[str, Any] = {"stage": None, "routeKey": None, "signedPath": raw_path}
        try:
            reply = self._serve(environ, api, "/" + rest, raw_query, request_id, epoch, context)
        except Exception:  # never a stack trace to the client
            log.exception("HTTP API %s failed serving %s", api_id, raw_path)
            reply = _error(500, "Internal Server Error")
        latency_ms = (time.perf_counter() - started) * 1000.0
        headers = [*reply.headers, ("apigw-requestid", request_id), ("Content-Length", str(len(reply.body)))]
        try:
            self._record(api, environ, reply, context, request_id, epoch, latency_ms)
        except Exception:
            log.exception("recording HTTP API telemetry failed")
        start_response(_status_line(reply.status), headers)
        return [b"" if environ.get("REQUEST_METHOD") == "HEAD" else reply.body]

    def _serve(
        self, environ: dict, api: Any, raw_path: str, raw_query: str, request_id: str, epoch: float, context: dict
    ) -> Reply:
        segments = [unquote(s) for s in raw_path.split("/") if s]
        chosen = routes.choose_stage(api, segments)
        if chosen is None:
            return _error(404, "Not Found")
        stage, stage_name, path = chosen
        context["stage"] = stage_name
        if api.disable_execute_api_endpoint in (True, "true"):
            return _error(403, "Forbidden")
        method = environ.get("REQUEST_METHOD", "GET").upper()
        origin = environ.get("HTTP_ORIGIN")
        if api.cors_configuration and origin and method == "OPTIONS" and environ.get("HTTP_ACCESS_CONTROL_REQUEST_METHOD"):
            # a configured CORS answers preflights itself, route or not
            return Reply(204, routes.cors_headers(api.cors_configuration, origin, preflight=True), b"")
        reply = self._route(environ, api, stage, stage_name, path, method, raw_path, raw_query, request_id, epoch, context)
        reply.headers += routes.cors_headers(api.cors_configuration, origin, preflight=False)
        return reply

    def _route(
        self, environ: dict, api: Any, stage: Any, stage_name: str, path: list[str], method: str,
        raw_path: str, raw_query: str, request_id: str, epoch: float, context: dict,
    ) -> Reply:
        body, problem = _read_body(environ)
        if problem is not None:
            return Reply(problem.status, problem.headers, problem.body, problem.error_message)
        match = routes.match_route(api, method, path)
        if match is None:
            return _error(404, "Not Found")
        context["routeKey"] = match.route_key
        route_part = "$default" if match.route_key == "$default" else f"{method}/{'/'.join(path)}"
        source_arn = f"arn:aws:execute-api:{routes.REGION}:{routes.ACCOUNT_ID}:{api.api_id}/{stage_name}/{route_part}"
        identity = None
        if (match.route.authorization_type or "NONE").upper() == "AWS_IAM":
            try:
                identity = self.verifier.verify(environ, context["signedPath"], raw_query, body)
                iam.authorize_request(
                    _signed_headers(environ),
                    raw_query,
                    iam_actions.Call("execute-api", "Invoke"),
                    checks=[iam_actions.Check("execute-api:Invoke", source_arn)],
                )
            except sigv4.AuthError as e:
                return _error(403, "Forbidden" if e.error_type == "MissingAuthenticationTokenException" else e.message)
            except iam.Denied:
                return _error(403, "Forbidden")
        integration = routes.integration_of(api, match.route)
        if integration is None or (integration.integration_type or "").upper() != "AWS_PROXY":
            log.warning("HTTP API %s route %s: no Lambda proxy integration", api.api_id, match.route_key)
            return _error(500, "Internal Server Error")
        variables = dict(getattr(stage, "stage_variables", None) or {})
        function, qualifier = routes.function_of(integration.integration_uri, variables)
        function_arn = function if function.startswith("arn:") else f"arn:aws:lambda:{routes.REGION}:{routes.ACCOUNT_ID}:function:{function}"
        if not iam.service_may_invoke(f"{function_arn}:{qualifier}" if qualifier else function_arn, "apigateway.amazonaws.com", source_arn):
            log.warning("HTTP API %s: the resource policy of %s does not let API Gateway invoke it for %s", api.api_id, function, source_arn)
            return _error(500, "Internal Server Error")
        incoming = routes.Incoming(
            method=method,
            raw_path=raw_path,  # as sent: a named stage's name included, as HTTP APIs give it
            raw_query=raw_query,
            headers=_headers(environ),
            body=body,
            source_ip=environ.get("REMOTE_ADDR", "127.0.0.1"),
            protocol=environ.get("SERVER_PROTOCOL", "HTTP/1.1"),
            request_id=request_id,
            epoch=epoch,
            domain=environ.get("HTTP_HOST", ""),
        )
        version = str(integration.payload_format_version or "2.0")
        build = routes.event_v1 if version == "1.0" else routes.event_v2
        event = build(incoming, api, stage_name, match, variables)
        if identity is not None and version == "1.0":
            event["requestContext"]["identity"].update(_iam_context(identity, version))
        elif identity is not None:
            event["requestContext"]["authorizer"] = _iam_context(identity, version)
        timeout_ms = max(50, min(int(integration.timeout_in_millis or TIMEOUT_MS), TIMEOUT_MS))
        started = time.perf_counter()
        try:
            status, headers, payload = self.invoker.invoke(function, qualifier, json.dumps(event).encode(), timeout_ms / 1000.0)
        except proxy.IntegrationTimeout:
            return _error(503, "Service Unavailable")
        except proxy.InvokeFailed as e:
            log.warning("HTTP API %s: %s", api.api_id, e)
            return _error(500, "Internal Server Error")
        integration_ms = (time.perf_counter() - started) * 1000.0
        if status != 200 or headers.get("x-amz-function-error"):
            log.info("HTTP API %s: %s answered %s %s", api.api_id, function, status, payload[:300])
            reply = _error(500, "Internal Server Error")
        elif version == "1.0":
            try:
                answer = proxy.parse_proxy_response(payload, None, [])
                reply = Reply(answer.status, answer.headers, answer.body)
            except proxy.IntegrationError:
                reply = _error(500, "Internal Server Error")
        else:
            reply = _function_response(payload)
        reply.integration_status, reply.integration_ms = status, integration_ms
        reply.integration_request_id = headers.get("x-amzn-requestid")
        return reply

    # ---- logs and metrics ----------------------------------------------------------------
    def _record(self, api: Any, environ: dict, reply: Reply, context: dict, request_id: str, epoch: float, latency_ms: float) -> None:
        stage_name = context.get("stage")
        if api is None or stage_name is None:
            return
        stage = api.stages.get(stage_name)
        settings = {k.lower(): v for k, v in ((getattr(stage, "access_log_settings", None) or {}).items())}
        group = telemetry.log_group_name(settings.get("destinationarn") or "")
        fmt = settings.get("format")
        if group and fmt:
            integ_ms = None if reply.integration_ms is None else int(round(reply.integration_ms))
            values = {
                "requestId": request_id,
                "extendedRequestId": request_id,
                "apiId": api.api_id,
                "stage": stage_name,
                "routeKey": context.get("routeKey"),
                "httpMethod": environ.get("REQUEST_METHOD"),
                "path": environ.get("PATH_INFO", "")[len(EXECUTE_API_PREFIX) + len(api.api_id) :] or "/",
                "protocol": environ.get("SERVER_PROTOCOL"),
                "status": reply.status,
                "responseLength": len(reply.body),
                "responseLatency": int(round(latency_ms)),
                "requestTime": proxy.request_time(epoch),
                "requestTimeEpoch": int(epoch * 1000),
                "integrationLatency": integ_ms,
                "integrationStatus": reply.integration_status,
                "integration.status": reply.integration_status,
                "integration.latency": integ_ms,
                "integration.requestId": reply.integration_request_id,
                "awsEndpointRequestId": reply.integration_request_id,
                "identity.sourceIp": environ.get("REMOTE_ADDR"),
                "identity.userAgent": environ.get("HTTP_USER_AGENT"),
                "domainName": environ.get("HTTP_HOST"),
                "domainPrefix": api.api_id,
                "accountId": routes.ACCOUNT_ID,
                "error.message": reply.error,
                "error.messageString": json.dumps(reply.error) if reply.error else None,
                "dataProcessed": len(reply.body),
            }
            line = telemetry.render_access_log(fmt, values)
            day = time.strftime("%Y%m%d", time.gmtime(epoch))
            self.telemetry.writer.log(group, telemetry.stream_name(api.api_id, stage_name, day), [(int(epoch * 1000), line)])
        at = datetime.fromtimestamp(epoch, UTC)
        values_m = {
            "Count": (1.0, "Count"),
            "4xx": (1.0 if 400 <= reply.status < 500 else 0.0, "Count"),
            "5xx": (1.0 if reply.status >= 500 else 0.0, "Count"),
            "Latency": (latency_ms, "Milliseconds"),
            "DataProcessed": (float(len(reply.body)), "Bytes"),
        }
        if reply.integration_ms is not None:
            values_m["IntegrationLatency"] = (reply.integration_ms, "Milliseconds")
        dim_sets = [[("ApiId", api.api_id)], [("ApiId", api.api_id), ("Stage", stage_name)]]
        route_key = context.get("routeKey")
        if route_key and _detailed_metrics(stage, route_key):
            verb, _, resource = route_key.partition(" ")
            dim_sets.append(
                [("ApiId", api.api_id), ("Method", verb if resource else route_key), ("Resource", resource or route_key), ("Stage", stage_name)]
            )
        self.telemetry.writer.metrics(
            "AWS/ApiGateway",
            [
                {
                    "MetricName": name,
                    "Dimensions": [{"Name": n, "Value": v} for n, v in dims],
                    "Timestamp": at,
                    "Value": value,
                    "Unit": unit,
                }
                for dims in dim_sets
                for name, (value, unit) in values_m.items()
            ],
        )


def _detailed_metrics(stage: Any, route_key: str) -> bool:
    """A stage's ``DefaultRouteSettings`` (or the route's own ``RouteSettings``) with ``DetailedMetricsEnabled``."""
    settings = {k.lower(): v for k, v in (getattr(stage, "default_route_settings", None) or {}).items()}
    per_route = (getattr(stage, "route_settings", None) or {}).get(route_key) or {}
    settings.update({k.lower(): v for k, v in per_route.items()})
    return settings.get("detailedmetricsenabled") in (True, "true")


def _iam_context(identity: Any, version: str) -> dict[str, Any]:
    """Who signed an AWS_IAM route's request: ``authorizer.iam`` (2.0) or the ``identity`` (1.0)."""
    if version == "1.0":
        return {
            "accessKey": identity.access_key,
            "accountId": identity.account_id,
            "caller": identity.caller,
            "user": identity.user,
            "userArn": identity.user_arn,
        }
    return {
        "iam": {
            "accessKey": identity.access_key,
            "accountId": identity.account_id,
            "callerId": identity.caller,
            "cognitoIdentity": None,
            "principalOrgId": None,
            "userArn": identity.user_arn,
            "userId": identity.user,
        }
    }


def _headers(environ: dict) -> list[tuple[str, str]]:
    out = []
    for key, value in environ.items():
        if key.startswith("HTTP_"):
            out.append((key[5:].replace("_", "-").lower(), value))
        elif key in ("CONTENT_TYPE", "CONTENT_LENGTH") and value:
            out.append((key.replace("_", "-").lower(), value))
    forwarded = next((v for k, v in out if k == "x-forwarded-for"), None)
    source = environ.get("REMOTE_ADDR", "127.0.0.1")
    out = [(k, v) for k, v in out if k not in ("x-forwarded-for", "x-forwarded-port", "x-forwarded-proto")]
    out += [
        ("x-forwarded-for", f"{forwarded}, {source}" if forwarded else source),
        ("x-forwarded-port", str(environ.get("SERVER_PORT", ""))),
        ("x-forwarded-proto", environ.get("wsgi.url_scheme", "http")),
    ]
    return out


class Dispatcher:
    """``/_aws/execute-api/{apiId}/...``: an HTTP API's id goes to the HTTP API gateway, any other to
    the REST API gateway."""

    def __init__(self, rest: Callable, http: HttpApiGateway):
        self.rest = rest
        self.http = http

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        if self.http.serves(environ):
            return self.http(environ, start_response)
        return self.rest(environ, start_response)
