"""Lambda proxy integration (REST, payload format 1.0): the event API Gateway sends, the Invoke
call on the local endpoint, and the function's proxy response mapped back to HTTP."""

from __future__ import annotations

import base64
import binascii
import io
import json
import re
import sys
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

INVOKE_PATH = "/2015-03-31/functions/{}/invocations"
MAX_CONCURRENT_INVOKES = 64  # integrations in flight at once (more wait for a free thread)
_LAMBDA_URI = re.compile(r"^arn:[^:]+:apigateway:[^:]*:lambda:path/2015-03-31/functions/(?P<fn>.+?)/invocations/?$")
_STAGE_VAR = re.compile(r"\$\{stageVariables\.([A-Za-z0-9_]+)\}")
PROXY_KEYS = frozenset({"statusCode", "headers", "multiValueHeaders", "body", "isBase64Encoded"})
_HOP_BY_HOP = frozenset({"content-length", "transfer-encoding", "connection", "keep-alive"})


class IntegrationTimeout(Exception):
    pass


class IntegrationError(Exception):
    """The function failed or answered something that is not a proxy response (API Gateway: 502)."""


class InvokeFailed(Exception):
    """Lambda's Invoke API itself refused (unknown function...): API Gateway answers 500."""


def function_target(uri: str, stage_variables: dict[str, str]) -> tuple[str, str | None]:
    """(function name or ARN, qualifier) from an ``aws_proxy`` integration URI."""
    uri = _STAGE_VAR.sub(lambda m: str(stage_variables.get(m.group(1), "")), uri or "")
    m = _LAMBDA_URI.match(uri)
    if not m:
        raise InvokeFailed(f"integration uri is not a Lambda function invocation: {uri!r}")
    fn = m.group("fn")
    parts = fn.split(":")
    if fn.startswith("arn:") and len(parts) == 8:
        return ":".join(parts[:7]), parts[7]
    if not fn.startswith("arn:") and len(parts) == 2:
        return parts[0], parts[1]
    return fn, None


def media_type_matches(content_type: str | None, binary_media_types: list[str]) -> bool:
    if not content_type or not binary_media_types:
        return False
    ct = content_type.split(";", 1)[0].strip().lower()
    for pattern in binary_media_types:
        p = pattern.replace("~1", "/").strip().lower()
        if p == "*/*" or p == ct:
            return True
        if p.endswith("/*") and ct.startswith(p[:-1]):
            return True
    return False


def request_time(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%d/%b/%Y:%H:%M:%S +0000")


def title_case(header_key: str) -> str:
    return "-".join(p[:1].upper() + p[1:] for p in header_key.lower().split("-"))


@dataclass
class ProxyResponse:
    status: int
    headers: list[tuple[str, str]]
    body: bytes


def parse_proxy_response(payload: bytes, accept: str | None, binary_media_types: list[str]) -> ProxyResponse:
    """The function's return value as HTTP, or IntegrationError if it is malformed."""
    try:
        doc = json.loads(payload)
    except (ValueError, UnicodeDecodeError) as e:
        raise IntegrationError(f"Malformed Lambda proxy response: not JSON ({e})") from None
    if not isinstance(doc, dict):
        raise IntegrationError("Malformed Lambda proxy response: not a JSON object")
    extra = set(doc) - PROXY_KEYS
    if extra:
        raise IntegrationError(f"Malformed Lambda proxy response: unexpected keys {sorted(extra)}")
    status = doc.get("statusCode")
    if isinstance(status, str) and status.strip().isdigit():
        status = int(status)
    if isinstance(status, bool) or not isinstance(status, int) or not 100 <= status <= 599:
        raise IntegrationError(f"Malformed Lambda proxy response: statusCode {status!r}")
    single = doc.get("headers") or {}
    multi = doc.get("multiValueHeaders") or {}
    if not isinstance(single, dict) or not isinstance(multi, dict):
        raise IntegrationError("Malformed Lambda proxy response: headers must be objects")
    headers: list[tuple[str, str]] = []
    for name, values in multi.items():
        if not isinstance(values, list):
            raise IntegrationError(f"Malformed Lambda proxy response: multiValueHeaders.{name} is not a list")
        headers.extend((str(name), _header_text(v)) for v in values)
    multi_names = {str(n).lower() for n in multi}
    for name, value in single.items():
        if isinstance(value, (dict, list)):
            raise IntegrationError(f"Malformed Lambda proxy response: headers.{name} is not a string")
        if str(name).lower() not in multi_names:
            headers.append((str(name), _header_text(value)))
    headers = [(n, v) for n, v in headers if n.lower() not in _HOP_BY_HOP and _header_ok(n, v)]
    body = doc.get("body")
    if body is None:
        data = b""
    elif isinstance(body, str):
        data = body.encode("utf-8")
    else:
        raise IntegrationError("Malformed Lambda proxy response: body is not a string")
    is_b64 = doc.get("isBase64Encoded", False)
    if not isinstance(is_b64, bool):
        raise IntegrationError("Malformed Lambda proxy response: isBase64Encoded is not a boolean")
    if is_b64 and accept_is_binary(accept, binary_media_types):
        try:
            data = base64.b64decode(data, validate=False)
        except (binascii.Error, ValueError):
            raise IntegrationError("Unable to base64 decode the body") from None
    if not any(n.lower() == "content-type" for n, _ in headers):
        headers.append(("Content-Type", "application/json"))
    return ProxyResponse(status, headers, data)


def accept_is_binary(accept: str | None, binary_media_types: list[str]) -> bool:
    """API Gateway converts a base64 proxy body to binary when the request's (first) Accept type is
    one of the API's binary media types."""
    if not accept:
        return False
    first = accept.split(",", 1)[0]
    return media_type_matches(first, binary_media_types)


def _header_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else str(value)


def _header_ok(name: str, value: str) -> bool:
    return bool(name) and not any(c in name for c in "\r\n: ") and "\r" not in value and "\n" not in value


class LambdaInvoker:
    """Calls Lambda ``Invoke`` on the local endpoint: a request to the endpoint's WSGI app made
    in-process (the same routing, hooks and checks as over HTTP, so the same single path to the
    runner, without a socket, an HTTP parser and a server thread per call). The call runs on a
    pool thread so that the integration timeout answers 504 while the invocation goes on, as on
    API Gateway."""

    def __init__(self, app: Callable[[dict, Callable], Iterable[bytes]], host: str, port: int, access_key: str, region: str):
        self.app = app
        self.host = host
        self.port = port
        self.access_key = access_key
        self.region = region
        self._pool = ThreadPoolExecutor(max_workers=MAX_CONCURRENT_INVOKES, thread_name_prefix="gateway-invoke")

    def invoke(self, function: str, qualifier: str | None, payload: bytes, timeout: float) -> tuple[int, dict[str, str], bytes]:
        try:
            future = self._pool.submit(self._call, self._environ(function, qualifier, payload))
        except RuntimeError:  # shut down: the cloud is stopping
            raise InvokeFailed("Lambda Invoke failed: the local cloud is stopping") from None
        try:
            return future.result(timeout)
        except FutureTimeout:
            raise IntegrationTimeout() from None
        except Exception as e:  # the endpoint's app failed outright (moto answers its own errors)
            raise InvokeFailed(f"Lambda Invoke failed: {e}") from None

    def _environ(self, function: str, qualifier: str | None, payload: bytes) -> dict:
        query = "Qualifier=" + quote(qualifier, safe="") if qualifier else ""
        raw_uri = INVOKE_PATH.format(quote(function, safe="")) + ("?" + query if query else "")
        now = time.gmtime()
        return {
            "REQUEST_METHOD": "POST",
            "SCRIPT_NAME": "",
            "PATH_INFO": INVOKE_PATH.format(function),
            "QUERY_STRING": query,
            "REQUEST_URI": raw_uri,
            "RAW_URI": raw_uri,
            "CONTENT_TYPE": "application/json",
            "CONTENT_LENGTH": str(len(payload)),
            "SERVER_NAME": self.host,
            "SERVER_PORT": str(self.port),
            "SERVER_PROTOCOL": "HTTP/1.1",
            "REMOTE_ADDR": "127.0.0.1",
            "REMOTE_PORT": "0",
            "HTTP_HOST": f"{self.host}:{self.port}",
            "HTTP_X_AMZ_INVOCATION_TYPE": "RequestResponse",
            "HTTP_X_AMZ_DATE": time.strftime("%Y%m%dT%H%M%SZ", now),
            # moto routes by the credential scope; it does not check signatures
            "HTTP_AUTHORIZATION": f"AWS4-HMAC-SHA256 Credential={self.access_key}/{time.strftime('%Y%m%d', now)}/"
            f"{self.region}/lambda/aws4_request, SignedHeaders=host;x-amz-date, Signature=0",
            "wsgi.version": (1, 0),
            "wsgi.url_scheme": "http",
            "wsgi.input": io.BytesIO(payload),
            "wsgi.errors": sys.stderr,
            "wsgi.multithread": True,
            "wsgi.multiprocess": False,
            "wsgi.run_once": False,
        }

    def _call(self, environ: dict) -> tuple[int, dict[str, str], bytes]:
        answer: dict[str, Any] = {}
        written: list[bytes] = []

        def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Callable[[bytes], None]:
            answer["status"], answer["headers"] = status, headers
            return written.append

        result = self.app(environ, start_response)
        try:
            written.extend(result)
        finally:
            close = getattr(result, "close", None)
            if close is not None:
                close()
        status = int(str(answer.get("status", "500")).split(" ", 1)[0])
        return status, {k.lower(): v for k, v in answer.get("headers", [])}, b"".join(written)

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
