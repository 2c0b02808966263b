"""The WSGI app serving ``{endpoint}/_aws/execute-api/{apiId}/{stage}/{path}`` as API Gateway serves
``https://{apiId}.execute-api.{region}.amazonaws.com/{stage}/{path}``."""

from __future__ import annotations

import base64
import http
import json
import logging
import os
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, quote, unquote

from localcloud import iam
from localcloud.cloud import ACCOUNT_ID, REGION
from localcloud.iam import actions as iam_actions
from localcloud.urls import EXECUTE_API_PREFIX

from . import api_keys, authorizers, cognito, config, proxy, sigv4, telemetry

log = logging.getLogger("localcloud.gateway")

MAX_BODY = 10 * 1024 * 1024  # API Gateway's payload limit
DEFAULT_TIMEOUT_MS = 29_000


@dataclass
class Answer:
    status: int
    headers: list[tuple[str, str]]
    body: bytes
    error_message: str | None = None
    error_type: str | None = None
    response_type: str | None = None
    close: bool = False


def _request_path(req: Request) -> str:
    """The request's path below the stage (``/notes/abc``), unquoted."""
    return "/" + "/".join(unquote(s) for s in req.raw_path[len(EXECUTE_API_PREFIX) :].split("/")[2:] if s)


def _signed_headers(environ: dict) -> dict[str, str]:
    """The headers IAM reads a caller's key and session token from."""
    return {
        name: environ[key]
        for name, key in (("Authorization", "HTTP_AUTHORIZATION"), ("X-Amz-Security-Token", "HTTP_X_AMZ_SECURITY_TOKEN"))
        if environ.get(key)
    }


def gateway_error(status: int, message: str | None, error_type: str, response_type: str, close: bool = False) -> Answer:
    # API Gateway's own bodies: 4XX compact, 5XX with a space after the colon.
    sep = (",", ": ") if status >= 500 else (",", ":")
    body = json.dumps({"message": message}, separators=sep).encode()
    headers = [("Content-Type", "application/json"), ("x-amzn-ErrorType", error_type)]
    return Answer(status, headers, body, message, error_type, response_type, close)


def missing_token() -> Answer:
    return gateway_error(403, "Missing Authentication Token", "MissingAuthenticationTokenException", "MISSING_AUTHENTICATION_TOKEN")


def forbidden() -> Answer:
    return gateway_error(403, "Forbidden", "ForbiddenException", "DEFAULT_4XX")


def internal_error(response_type: str = "DEFAULT_5XX", status: int = 500) -> Answer:
    return gateway_error(status, "Internal server error", "InternalServerErrorException", response_type)


@dataclass
class Request:
    """One request as the gateway sees it, plus what it learns while serving it."""

    environ: dict
    raw_path: str
    raw_query: str
    epoch: float
    started: float
    request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    extended_id: str = field(default_factory=lambda: base64.b64encode(os.urandom(11)).decode().replace("+", "-").replace("/", "_"))
    api: Any = None
    stage_name: str | None = None
    stage: Any = None
    match: config.Match | None = None
    method: Any = None
    identity: sigv4.Identity | None = None
    integration_latency_ms: float | None = None
    integration_status: int | None = None
    integration_request_id: str | None = None  # the Lambda invocation's (its Invoke's x-amzn-RequestId)
    authorization: authorizers.Outcome | None = None

    @property
    def http_method(self) -> str:
        return self.environ.get("REQUEST_METHOD", "GET").upper()

    @property
    def resource_path(self) -> str | None:
        return self.match.resource_path if self.match else None


class Gateway:
    def __init__(
        self,
        invoker: proxy.LambdaInvoker,
        recorder: telemetry.Telemetry,
        verifier: sigv4.Verifier | None = None,
        user_pools: cognito.UserPoolTokens | None = None,
    ):
        self.invoker = invoker
        self.telemetry = recorder
        self.verifier = verifier or sigv4.Verifier()
        self.routes = config.RouteCache()
        self.authorizers = authorizers.LambdaAuthorizers(invoker, user_pools)

    # ---- WSGI ----------------------------------------------------------------------------
    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        raw_uri = environ.get("REQUEST_URI") or environ.get("RAW_URI") or (
            quote(environ.get("PATH_INFO", "")) + ("?" + environ["QUERY_STRING"] if environ.get("QUERY_STRING") else "")
        )
        raw_path, _, raw_query = raw_uri.partition("?")
        req = Request(environ, raw_path, raw_query, time.time(), time.perf_counter())
        try:
            answer = self._serve(req)
        except Exception:  # never a stack trace to the client
            log.exception("gateway failed serving %s %s", req.http_method, raw_path)
            answer = internal_error()
        latency_ms = (time.perf_counter() - req.started) * 1000.0
        headers = list(answer.headers)
        headers += [
            ("x-amzn-RequestId", req.request_id),
            ("x-amz-apigw-id", req.extended_id),
            ("X-Amzn-Trace-Id", _trace_id(req)),
        ]
        body = answer.body
        headers.append(("Content-Length", str(len(body))))
        if answer.close:
            headers.append(("Connection", "close"))
        try:
            self._record(req, answer, latency_ms)
        except Exception:
            log.exception("recording gateway telemetry failed")
        start_response(_status_line(answer.status), headers)
        return [b"" if req.http_method == "HEAD" else body]

    # ---- serving -------------------------------------------------------------------------
    def _serve(self, req: Request) -> Answer:
        rest = req.raw_path[len(EXECUTE_API_PREFIX) :]
        api_id, _, rest = rest.partition("/")
        stage_name, sep, path = rest.partition("/")
        req.api = config.get_api(unquote(api_id)) if api_id else None
        if req.api is None:
            return forbidden()
        req.stage_name = unquote(stage_name)
        req.stage = req.api.stages.get(req.stage_name) if stage_name else None
        if req.stage is None:
            req.stage_name = None
            return forbidden()

        body, problem = _read_body(req.environ)
        if problem is not None:
            return problem

        segments = [unquote(s) for s in path.split("/") if s]
        req.match = self.routes.match(req.api, segments)
        if req.match is None:
            return missing_token()
        req.method = config.method_of(req.match.resource, req.http_method)
        if req.method is None:
            return missing_token()

        authorization = (req.method.authorization_type or "NONE").upper()
        if authorization in ("CUSTOM", "COGNITO_USER_POOLS"):
            refused = self._authorize(req, body)
            if refused is not None:
                return refused
        if authorization == "AWS_IAM":
            try:
                req.identity = self.verifier.verify(req.environ, req.raw_path, req.raw_query, body)
            except sigv4.AuthError as e:
                return gateway_error(403, e.message, e.error_type, e.response_type)
            try:  # the caller's policies must allow execute-api:Invoke on this method (with --enforce-iam)
                iam.authorize_request(
                    _signed_headers(req.environ),
                    req.raw_query,
                    iam_actions.Call("execute-api", "Invoke"),
                    checks=[iam_actions.Check("execute-api:Invoke", self._execute_api_arn(req))],
                )
            except iam.Denied as e:
                return gateway_error(403, e.message, "AccessDeniedException", "ACCESS_DENIED")

        if req.method.api_key_required and not api_keys.allowed(req.api, req.stage_name or "", req.environ):
            return forbidden()

        integration = req.method.method_integration
        if integration is None:
            log.warning("API %s %s %s has no integration", req.api.id, req.http_method, req.resource_path)
            return internal_error("API_CONFIGURATION_ERROR")
        kind = (integration.integration_type or "").upper()
        if kind == "AWS_PROXY":
            return self._lambda_proxy(req, integration, body)
        if kind == "MOCK":
            return _mock(integration)
        log.warning("API %s %s %s: integration type %s is not served locally", req.api.id, req.http_method, req.resource_path, kind)
        return internal_error("API_CONFIGURATION_ERROR")

    def _authorize(self, req: Request, body: bytes) -> Answer | None:
        """The method's Lambda authorizer (see authorizers.py): None when the request may go on."""
        authorizer = req.api.authorizers.get(req.method.authorizer_id or "")
        if authorizer is None:
            log.warning("API %s %s %s: authorizer %s does not exist", req.api.id, req.http_method, req.resource_path, req.method.authorizer_id)
            refusal = authorizers.CONFIGURATION_ERROR
        else:
            event = self._event(req, body, dict(req.stage.variables or {}))
            req.authorization = self.authorizers.authorize(
                authorizer,
                req.api.id,
                req.stage_name or "",
                self._execute_api_arn(req),
                event,
                list(req.method.authorization_scopes or []),
            )
            refusal = req.authorization.refusal
        if refusal is None:
            return None
        return gateway_error(refusal.status, refusal.message, refusal.error_type, refusal.response_type)

    @staticmethod
    def _execute_api_arn(req: Request) -> str:
        """``arn:aws:execute-api:{region}:{account}:{api}/{stage}/{METHOD}/{path}``: the resource of
        execute-api:Invoke, and the SourceArn API Gateway invokes a function with."""
        return f"arn:aws:execute-api:{REGION}:{ACCOUNT_ID}:{req.api.id}/{req.stage_name}/{req.http_method}{_request_path(req)}"

    def _lambda_proxy(self, req: Request, integration: Any, body: bytes) -> Answer:
        variables = dict(req.stage.variables or {})
        try:
            function, qualifier = proxy.function_target(integration.uri, variables)
        except proxy.InvokeFailed as e:
            log.warning("API %s: %s", req.api.id, e)
            return internal_error("API_CONFIGURATION_ERROR")
        # API Gateway invokes under the function's resource policy (AWS::Lambda::Permission)
        function_arn = function if function.startswith("arn:") else f"arn:aws:lambda:{REGION}:{ACCOUNT_ID}:function:{function}"
        if not iam.service_may_invoke(
            f"{function_arn}:{qualifier}" if qualifier else function_arn, "apigateway.amazonaws.com", self._execute_api_arn(req)
        ):
            log.warning("API %s: Execution failed due to configuration error: Invalid permissions on Lambda function %s", req.api.id, function)
            return internal_error("INTEGRATION_FAILURE")
        event = self._event(req, body, variables)
        timeout_ms = _timeout_ms(integration.timeout_in_millis)
        started = time.perf_counter()
        try:
            status, headers, payload = self.invoker.invoke(function, qualifier, json.dumps(event).encode(), timeout_ms / 1000.0)
        except proxy.IntegrationTimeout:
            req.integration_latency_ms = (time.perf_counter() - started) * 1000.0
            return gateway_error(504, "Endpoint request timed out", "InternalServerErrorException", "INTEGRATION_TIMEOUT")
        except proxy.InvokeFailed as e:
            log.warning("API %s: %s", req.api.id, e)
            return internal_error("INTEGRATION_FAILURE")
        req.integration_latency_ms = (time.perf_counter() - started) * 1000.0
        req.integration_status = status
        req.integration_request_id = headers.get("x-amzn-requestid")
        if status != 200:
            log.warning("API %s: Lambda Invoke of %s answered %s: %s", req.api.id, function, status, payload[:500])
            return internal_error("INTEGRATION_FAILURE")
        if headers.get("x-amz-function-error"):
            return internal_error("DEFAULT_5XX", 502)
        try:
            answer = proxy.parse_proxy_response(payload, _env_header(req.environ, "accept"), _binary_types(req.api))
        except proxy.IntegrationError as e:
            log.warning("API %s %s %s: %s", req.api.id, req.http_method, req.resource_path, e)
            return internal_error("DEFAULT_5XX", 502)
        return Answer(answer.status, answer.headers, answer.body)

    def _event(self, req: Request, body: bytes, variables: dict[str, str]) -> dict:
        env = req.environ
        headers: dict[str, str] = {}
        for key, value in env.items():
            if key.startswith("HTTP_"):
                headers[proxy.title_case(key[5:].replace("_", "-"))] = value
            elif key in ("CONTENT_TYPE", "CONTENT_LENGTH") and value:
                headers[proxy.title_case(key.replace("_", "-"))] = value
        source_ip = env.get("REMOTE_ADDR", "127.0.0.1")
        forwarded = headers.get("X-Forwarded-For")
        headers["X-Forwarded-For"] = f"{forwarded}, {source_ip}" if forwarded else source_ip
        headers["X-Forwarded-Port"] = str(env.get("SERVER_PORT", ""))
        headers["X-Forwarded-Proto"] = env.get("wsgi.url_scheme", "http")
        headers["X-Amzn-Trace-Id"] = _trace_id(req)

        query: dict[str, str] = {}
        multi_query: dict[str, list[str]] = {}
        for k, v in parse_qsl(req.raw_query, keep_blank_values=True):
            query[k] = v
            multi_query.setdefault(k, []).append(v)

        binary = proxy.media_type_matches(env.get("CONTENT_TYPE"), _binary_types(req.api))
        if not body:
            body_text, is_b64 = None, False
        elif binary:
            body_text, is_b64 = base64.b64encode(body).decode(), True
        else:
            try:
                body_text, is_b64 = body.decode("utf-8"), False
            except UnicodeDecodeError:  # AWS would mangle it; passing it base64 keeps the bytes
                body_text, is_b64 = base64.b64encode(body).decode(), True

        ident = req.identity
        path = _request_path(req)
        return {
            "resource": req.resource_path,
            "path": path,
            "httpMethod": req.http_method,
            "headers": headers,
            "multiValueHeaders": {k: [v] for k, v in headers.items()},
            "queryStringParameters": query or None,
            "multiValueQueryStringParameters": multi_query or None,
            "pathParameters": req.match.path_params or None if req.match else None,
            "stageVariables": variables or None,
            "requestContext": {
                "resourceId": req.match.resource.id if req.match else None,
                "resourcePath": req.resource_path,
                "httpMethod": req.http_method,
                "extendedRequestId": req.extended_id,
                "requestTime": proxy.request_time(req.epoch),
                "path": f"/{req.stage_name}{path if path != '/' else '/'}",
                "accountId": config.ACCOUNT_ID,
                "protocol": env.get("SERVER_PROTOCOL", "HTTP/1.1"),
                "stage": req.stage_name,
                "domainPrefix": req.api.id,
                "requestTimeEpoch": int(req.epoch * 1000),
                "requestId": req.request_id,
                "identity": {
                    "cognitoIdentityPoolId": None,
                    "accountId": ident.account_id if ident else None,
                    "cognitoIdentityId": None,
                    "caller": ident.caller if ident else None,
                    "sourceIp": source_ip,
                    "principalOrgId": None,
                    "accessKey": ident.access_key if ident else None,
                    "cognitoAuthenticationType": None,
                    "cognitoAuthenticationProvider": None,
                    "userArn": ident.user_arn if ident else None,
                    "userAgent": env.get("HTTP_USER_AGENT"),
                    "user": ident.user if ident else None,
                },
                "domainName": env.get("HTTP_HOST", ""),
                "deploymentId": getattr(req.stage, "deployment_id", None),
                "apiId": req.api.id,
                **({"authorizer": auth.authorizer} if (auth := req.authorization) and auth.authorizer else {}),
            },
            "body": body_text,
            "isBase64Encoded": is_b64,
        }

    # ---- logs and metrics ----------------------------------------------------------------
    def _record(self, req: Request, answer: Answer, latency_ms: float) -> None:
        if req.api is None or req.stage is None:
            return
        settings = req.stage.access_log_settings or {}
        group = telemetry.log_group_name(settings.get("destinationArn") or "")
        fmt = settings.get("format")
        line = stream = None
        if group and fmt:
            line = telemetry.render_access_log(fmt, self._log_context(req, answer, latency_ms))
            stream = telemetry.stream_name(req.api.id, req.stage_name or "", time.strftime("%Y%m%d", time.gmtime(req.epoch)))
        method_name = req.method.http_method if req.method is not None else None
        self.telemetry.record(
            telemetry.RequestRecord(
                timestamp_ms=int(req.epoch * 1000),
                api_name=req.api.name,
                stage=req.stage_name or "",
                status=answer.status,
                latency_ms=latency_ms,
                integration_latency_ms=req.integration_latency_ms,
                resource_path=req.resource_path,
                method=method_name,
                detailed_metrics=_detailed_metrics(req.stage, req.resource_path, method_name),
                log_group=group,
                log_stream=stream,
                log_line=line,
            )
        )

    def _log_context(self, req: Request, answer: Answer, latency_ms: float) -> dict[str, Any]:
        env = req.environ
        ident = req.identity
        path = _request_path(req)
        integ_ms = None if req.integration_latency_ms is None else int(round(req.integration_latency_ms))
        return {
            "requestId": req.request_id,
            "extendedRequestId": req.extended_id,
            "identity.sourceIp": env.get("REMOTE_ADDR"),
            "identity.caller": ident.caller if ident else None,
            "identity.user": ident.user if ident else None,
            "identity.userArn": ident.user_arn if ident else None,
            "identity.accessKey": ident.access_key if ident else None,
            "identity.accountId": ident.account_id if ident else None,
            "identity.userAgent": env.get("HTTP_USER_AGENT"),
            "requestTime": proxy.request_time(req.epoch),
            "requestTimeEpoch": int(req.epoch * 1000),
            "httpMethod": req.http_method,
            "resourcePath": req.resource_path,
            "resourceId": req.match.resource.id if req.match else None,
            "path": f"/{req.stage_name}{path}",
            "status": answer.status,
            "protocol": env.get("SERVER_PROTOCOL"),
            "responseLength": len(answer.body),
            "responseLatency": int(round(latency_ms)),
            "integrationLatency": integ_ms,
            "integrationStatus": req.integration_status,
            "integration.status": req.integration_status,
            "integration.latency": integ_ms,
            "integration.requestId": req.integration_request_id,
            "awsEndpointRequestId": req.integration_request_id,
            "error.message": answer.error_message,
            "error.messageString": json.dumps(answer.error_message) if answer.error_message else None,
            "error.responseType": answer.response_type,
            "stage": req.stage_name,
            "apiId": req.api.id,
            "accountId": config.ACCOUNT_ID,
            "domainName": env.get("HTTP_HOST"),
            "domainPrefix": req.api.id,
            "wafResponseCode": None,
            **_authorizer_log_context(req.authorization),
        }


# ---- helpers -----------------------------------------------------------------------------
def _authorizer_log_context(outcome: authorizers.Outcome | None) -> dict[str, Any]:
    """``$context.authorizer.*`` of access logs."""
    if outcome is None:
        return {}
    status = outcome.refusal.status if outcome.refusal else 200
    out: dict[str, Any] = {
        "authorizer.principalId": outcome.principal_id,
        "authorizer.error": outcome.error,
        "authorizer.status": status,
        "authorizer.latency": outcome.latency_ms,
        "authorizer.integrationLatency": outcome.latency_ms,
    }
    for key, value in (outcome.authorizer or {}).items():
        out.setdefault(f"authorizer.{key}", value)
    return out


def _status_line(status: int) -> str:
    try:
        return f"{status} {http.HTTPStatus(status).phrase}"
    except ValueError:
        return f"{status} Unknown"


def _trace_id(req: Request) -> str:
    return f"Root=1-{int(req.epoch):08x}-{req.request_id.replace('-', '')[:24]}"


def _env_header(environ: dict, name: str) -> str | None:
    return environ.get("HTTP_" + name.upper().replace("-", "_"))


def _binary_types(api: Any) -> list[str]:
    return list(getattr(api, "binaryMediaTypes", None) or [])


def _timeout_ms(value: Any) -> int:
    try:
        ms = int(value) if value not in (None, "") else DEFAULT_TIMEOUT_MS
    except (TypeError, ValueError):
        ms = DEFAULT_TIMEOUT_MS
    return max(50, min(ms, DEFAULT_TIMEOUT_MS))


def _detailed_metrics(stage: Any, resource_path: str | None, method: str | None) -> bool:
    settings = getattr(stage, "method_settings", None) or {}
    keys = ["*/*"]
    if resource_path and method:
        encoded = resource_path.replace("/", "~1")
        keys += [f"{encoded}/{method}", f"{resource_path.lstrip('/')}/{method}"]
    return any(bool((settings.get(k) or {}).get("metricsEnabled")) for k in keys)


def _read_body(environ: dict) -> tuple[bytes, Answer | None]:
    stream = environ.get("wsgi.input")
    length_text = environ.get("CONTENT_LENGTH") or ""
    too_large = gateway_error(413, "Request Too Long", "RequestTooLargeException", "REQUEST_TOO_LARGE", close=True)
    if length_text:
        try:
            length = int(length_text)
        except ValueError:
            return b"", gateway_error(400, "Bad Request", "BadRequestException", "DEFAULT_4XX", close=True)
        if length > MAX_BODY:
            return b"", too_large
        if length <= 0 or stream is None:
            return b"", None
        chunks, remaining = [], length
        while remaining > 0:
            chunk = stream.read(remaining)
            if not chunk:
                break
            chunks.append(chunk)
            remaining -= len(chunk)
        return b"".join(chunks), None
    if environ.get("wsgi.input_terminated") and stream is not None:  # chunked
        data = stream.read(MAX_BODY + 1)
        if len(data) > MAX_BODY:
            return b"", too_large
        return data, None
    return b"", None


def _mock(integration: Any) -> Answer:
    """A MOCK integration: the status its request template names, and the matching integration
    response's static header values and template (SAM's CORS preflight is this)."""
    status = 200
    templates = integration.request_templates or {}
    template = templates.get("application/json") or next(iter(templates.values()), None)
    if template:
        try:
            status = int(json.loads(template).get("statusCode", 200))
        except (ValueError, TypeError, AttributeError):
            status = 200
    responses = integration.integration_responses or {}
    chosen = responses.get(str(status))
    if chosen is None:
        chosen = next((r for r in responses.values() if not r.selection_pattern), None)
    if chosen is None:
        return Answer(status, [("Content-Type", "application/json")], b"")
    headers: list[tuple[str, str]] = []
    for key, value in (chosen.response_parameters or {}).items():
        prefix = "method.response.header."
        if key.startswith(prefix) and isinstance(value, str) and len(value) >= 2 and value[0] == value[-1] == "'":
            headers.append((key[len(prefix) :], value[1:-1]))
    body_template = (chosen.response_templates or {}).get("application/json") or ""
    body = b"" if "$" in body_template else body_template.encode()
    if not any(n.lower() == "content-type" for n, _ in headers):
        headers.append(("Content-Type", "application/json"))
    try:
        code = int(chosen.status_code)
    except (TypeError, ValueError):
        code = status
    return Answer(code, headers, body)
