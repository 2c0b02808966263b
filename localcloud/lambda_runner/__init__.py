"""lambda_runner: Lambda invocations run the function version's real code.

moto keeps Lambda's state (functions, versions, aliases, code); this component hooks where moto
dispatches an invoke, so every path that invokes a function runs its code in a warm worker:
the Invoke API (RequestResponse, Event, DryRun), Step Functions Lambda tasks (moto's interpreter
calls Invoke over HTTP), and moto's internal callers (SQS event source mappings, SNS, S3
notifications, InvokeAsync). See runner.py for the execution model.
"""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import unquote

from localcloud.lambda_runner import limits, logging_config, routing
from localcloud.lambda_runner.code import BadCode
from localcloud.lambda_runner.runner import Outcome, Runner, Target, Throttled, UnsupportedFunction
from localcloud.moto_hooks import MotoContractBroken, hook, require

__all__ = ["install", "Runner", "Target", "Outcome"]

MAX_SYNC_PAYLOAD = limits.MAX_SYNC_PAYLOAD
_FUNCTION_ARN = re.compile(r"^arn:[^:]+:lambda:[^:]+:\d{12}:function:([^:]+)(?::([^:]+))?$")


def install(cloud: Any) -> None:
    logging_config.install(cloud)  # first: the configuration read below answers LoggingConfig
    limits.install(cloud)
    routing.install(cloud)
    errors = _errors()
    layer_version_by_arn = require(
        "moto.awslambda.models",
        "LambdaBackend.layers_versions_by_arn",
        "find a layer version to read its zip",
    )
    require("moto.awslambda.models", "LayerVersion", "a layer version's zip is its code_bytes attribute")
    require(
        "moto.awslambda.models", "LambdaFunction._set_function_code", "stores a version's zip as code_bytes"
    )
    get_configuration = require(
        "moto.awslambda.models", "LambdaFunction.get_configuration", "a version's configuration (API shape)"
    )
    require(
        "moto.awslambda.models",
        "LambdaBackend.put_function_concurrency",
        "stores ReservedConcurrentExecutions as the function's reserved_concurrency attribute",
    )
    lambda_backends = require("moto.awslambda.models", "lambda_backends", "the backend that holds layers")

    def read_code(target: Target) -> bytes:
        return _code_bytes(target.source, f"function {target.name}")

    def read_layer(arn: str) -> bytes:
        backend = lambda_backends[cloud.account_id][cloud.region]
        layer = layer_version_by_arn(backend, arn)
        if layer is None:
            raise UnsupportedFunction(f"layer {arn} does not exist")
        return _code_bytes(layer, f"layer {arn}")

    runner = Runner(cloud, read_code, read_layer)
    cloud.add_service(runner)

    def target_of(fn: Any, qualifier: str | None) -> Target:
        config = get_configuration(fn)
        version = str(config.get("Version") or "$LATEST")
        name = config["FunctionName"]
        arn = config["FunctionArn"].split(":function:", 1)[0] + f":function:{name}"
        is_alias = bool(qualifier) and qualifier != "$LATEST" and not qualifier.isdigit()
        # get_code() leaves out a reserved concurrency of 0; the attribute put_function_concurrency sets has it
        reserved = getattr(fn, "reserved_concurrency", None)
        return Target(
            name=name,
            version=version,
            qualifier=qualifier,
            is_alias=is_alias,
            invoked_arn=f"{arn}:{qualifier}" if qualifier else arn,
            config=config,
            reserved_concurrency=None if reserved is None else int(reserved),
            source=fn,
        )

    def routed(backend: Any, fn: Any, qualifier: str | None) -> Any:
        """The version an alias runs for this one invocation: its primary version, or — with the
        probability its RoutingConfig gives — the additional version (Lambda's weighted alias)."""
        if not qualifier or qualifier == "$LATEST" or qualifier.isdigit():
            return fn
        name = get_configuration(fn)["FunctionName"]
        alias = backend.get_alias(qualifier, name)
        chosen = routing.choose(alias.function_version, getattr(alias, "routing_config", None))
        return fn if chosen == alias.function_version else backend.get_function(name, chosen)

    def run(target: Target, body: Any, headers: Any, response_headers: dict, default_type: str) -> bytes:
        invocation_type = _header(headers, "X-Amz-Invocation-Type") or default_type
        event = _event_json(body, errors)
        if invocation_type == "DryRun":
            payload = b""
        elif invocation_type == "Event":
            runner.submit(target, event)
            payload = b""
        elif invocation_type == "RequestResponse":
            try:
                outcome = runner.invoke(
                    target,
                    event,
                    log_tail=_header(headers, "X-Amz-Log-Type") == "Tail",
                    client_context=_client_context(_header(headers, "X-Amz-Client-Context")),
                )
            except Throttled as e:
                raise errors.throttled(e.reason, str(e)) from e
            except UnsupportedFunction as e:
                raise errors.unsupported(str(e)) from e
            except BadCode as e:
                raise errors.bad_zip(str(e)) from e
            payload = outcome.payload
            response_headers["x-amzn-requestid"] = outcome.request_id
            response_headers["x-amz-executed-version"] = outcome.executed_version
            if outcome.function_error:
                response_headers["x-amz-function-error"] = outcome.function_error
            if outcome.log_tail is not None:
                response_headers["x-amz-log-result"] = outcome.log_tail
        else:
            raise errors.invalid(
                f"Invalid value '{invocation_type}' for X-Amz-Invocation-Type: use RequestResponse, Event or DryRun"
            )
        response_headers["Content-Length"] = str(len(payload))
        return payload

    @hook("moto.awslambda.models", "LambdaBackend.invoke", "run the function's real code for every Invoke")
    def backend_invoke(original, backend, function_name, qualifier, body, headers, response_headers):  # noqa: ARG001
        fn = backend.get_function(function_name, qualifier)  # raises ResourceNotFound as moto does
        named = _qualifier(function_name, qualifier)
        target = target_of(routed(backend, fn, named), named)
        invocation_type = _header(headers, "X-Amz-Invocation-Type") or "RequestResponse"
        limit = limits.MAX_ASYNC_PAYLOAD if invocation_type == "Event" else limits.MAX_SYNC_PAYLOAD
        if len(body.encode() if isinstance(body, str) else body or b"") > limit:
            raise errors.too_large(limits.too_large_request("InvokeFunction", limit))
        return run(target, body, headers, response_headers, "RequestResponse")

    @hook(
        "moto.awslambda.models",
        "LambdaFunction.invoke",
        "moto's internal callers (SNS, S3, InvokeAsync) run real code",
    )
    def function_invoke(original, fn, body, request_headers, response_headers):  # noqa: ARG001
        # These callers are asynchronous event sources on AWS; run them as Event invocations
        # unless they ask otherwise.
        version = str(get_configuration(fn).get("Version") or "$LATEST")
        target = target_of(fn, None if version == "$LATEST" else version)
        return run(target, body, request_headers or {}, response_headers, "Event")

    @hook(
        "moto.awslambda.responses",
        "LambdaResponse.invoke",
        "moto reads the Qualifier query parameter as 'qualifier' (so never sees it); status per invocation type",
    )
    def response_invoke(original, response):  # noqa: ARG001
        function_name = unquote(response.path.split("?", 1)[0].rstrip("/").rsplit("/", 2)[-2])
        query = response.querystring
        qualifier = (query.get("Qualifier") or query.get("qualifier") or [None])[0]
        response_headers: dict[str, str] = {}
        payload = response.backend.invoke(
            function_name, qualifier, response.body, response.headers, response_headers
        )
        invocation_type = _header(response.headers, "X-Amz-Invocation-Type") or "RequestResponse"
        status = {"Event": 202, "DryRun": 204}.get(invocation_type, 200)
        if status == 200 and len(payload) > MAX_SYNC_PAYLOAD:
            message = (
                f"Response payload size ({len(payload)} bytes) exceeded maximum allowed payload size "
                f"({MAX_SYNC_PAYLOAD} bytes)."
            )
            payload = json.dumps(
                {"errorMessage": message, "errorType": "Function.ResponseSizeTooLarge"}
            ).encode()
            response_headers["x-amz-function-error"] = "Unhandled"
            response_headers["Content-Length"] = str(len(payload))
        response_headers["content-type"] = "application/json"
        response_headers["status"] = str(status)  # moto's dispatcher takes the status from here
        return status, response_headers, payload

    @hook(
        "moto.core.responses",
        "gen_amzn_requestid_long",
        "an invoke's x-amzn-RequestId is the invocation's request id (context.aws_request_id), as on Lambda",
    )
    def keep_request_id(original, headerdict=None):
        if isinstance(headerdict, dict) and headerdict.get("x-amzn-requestid"):
            return headerdict["x-amzn-requestid"]
        return original(headerdict)


def _code_bytes(model: Any, what: str) -> bytes:
    data = getattr(model, "code_bytes", None)
    if data is None:
        raise MotoContractBroken(f"moto no longer keeps code_bytes on {type(model).__name__} ({what})")
    if not data:
        raise UnsupportedFunction(f"{what} has no code (was its S3 object missing when it was created?)")
    return data


def _qualifier(function_name: str, qualifier: str | None) -> str | None:
    """The qualifier the caller named: in the ARN, as ``name:qualifier``, or the Qualifier parameter."""
    match = _FUNCTION_ARN.match(function_name)
    if match:
        return match.group(2) or qualifier
    if ":" in function_name:
        return function_name.split(":", 1)[1]
    return qualifier


def _header(headers: Any, name: str) -> str | None:
    if not headers:
        return None
    value = headers.get(name)
    if value is None:
        lowered = name.lower()
        for key, candidate in headers.items():
            if key.lower() == lowered:
                return candidate
    return value


def _event_json(body: Any, errors: Any) -> str:
    if isinstance(body, bytes):
        try:
            body = body.decode("utf-8")
        except UnicodeDecodeError as e:
            raise errors.bad_content(
                f"Could not parse request body into json: payload is not UTF-8 ({e})"
            ) from e
    if body is None or (isinstance(body, str) and not body.strip()):
        return "{}"
    if not isinstance(body, str):
        return json.dumps(body)
    try:
        json.loads(body)
    except ValueError as e:
        raise errors.bad_content(f"Could not parse request body into json: {e}") from e
    return body


def _client_context(header: str | None) -> Any:
    if not header:
        return None
    try:
        import base64

        return json.loads(base64.b64decode(header))
    except ValueError:
        return None


class _Errors:
    """Lambda API errors, as moto renders them (JSON body with __type, HTTP status)."""

    def __init__(self, base: type):
        class LambdaError(base):  # type: ignore[valid-type, misc]
            def __init__(self, code: int, error_type: str, message: str, **extra: Any):
                super().__init__(error_type, message)
                self.code = code
                if extra:
                    body = json.loads(self.description)
                    body.update(extra)
                    self.description = json.dumps(body)

        self._cls = LambdaError

    def throttled(self, reason: str, message: str) -> Exception:
        return self._cls(429, "TooManyRequestsException", message, Reason=reason)

    def unsupported(self, message: str) -> Exception:
        return self._cls(502, "InvalidRuntimeException", message)

    def bad_zip(self, message: str) -> Exception:
        return self._cls(502, "InvalidZipFileException", message)

    def invalid(self, message: str) -> Exception:
        return self._cls(400, "InvalidParameterValueException", message)

    def bad_content(self, message: str) -> Exception:
        return self._cls(400, "InvalidRequestContentException", message)

    def too_large(self, message: str) -> Exception:
        return self._cls(413, "RequestEntityTooLargeException", message)


def _errors() -> _Errors:
    return _Errors(
        require("moto.core.exceptions", "JsonRESTError", "Lambda API errors rendered as moto renders its own")
    )
