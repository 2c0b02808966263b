"""Lambda proxy integration (REST, payload format 1.0): the event API Gateway sends, the Invoke
call on the local endpoint, and the function's proxy response mapped back to HTTP."""

from __future__ import annotations

import base64
import binascii
import http.client
import json
import re
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

INVOKE_PATH = "/2015-03-31/functions/{}/invocations"
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
    """Calls Lambda ``Invoke`` on the local endpoint over pooled keep-alive connections (no SDK on
    the request path: botocore's per-call cost is larger than the rest of the gateway's)."""

    def __init__(self, host: str, port: int, access_key: str, region: str):
        self.host = host
        self.port = port
        self.access_key = access_key
        self.region = region
        self._pool: list[http.client.HTTPConnection] = []
        self._lock = threading.Lock()

    def invoke(self, function: str, qualifier: str | None, payload: bytes, timeout: float) -> tuple[int, dict[str, str], bytes]:
        path = INVOKE_PATH.format(quote(function, safe=""))
        if qualifier:
            path += "?Qualifier=" + quote(qualifier, safe="")
        date = time.strftime("%Y%m%d", time.gmtime())
        headers = {
            "Content-Type": "application/json",
            "X-Amz-Invocation-Type": "RequestResponse",
            "X-Amz-Date": time.strftime("%Y%m%dT%H%M%SZ", time.gmtime()),
            # moto routes by the credential scope; it does not check signatures
            "Authorization": f"AWS4-HMAC-SHA256 Credential={self.access_key}/{date}/{self.region}/lambda/aws4_request, "
            "SignedHeaders=host;x-amz-date, Signature=0",
        }
        for attempt in (0, 1):
            conn, reused = self._take()
            deadline_error = False
            try:
                conn.timeout = timeout
                if conn.sock is not None:
                    conn.sock.settimeout(timeout)
                conn.request("POST", path, body=payload, headers=headers)
                resp = conn.getresponse()
                body = resp.read()
                result = resp.status, {k.lower(): v for k, v in resp.getheaders()}, body
            except TimeoutError:
                deadline_error = True
                conn.close()
            except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError) as e:
                conn.close()
                if reused and attempt == 0:
                    continue  # a stale keep-alive connection: the request never reached the server
                raise InvokeFailed(f"Lambda Invoke failed: {e}") from None
            except (OSError, http.client.HTTPException) as e:
                conn.close()
                raise InvokeFailed(f"Lambda Invoke failed: {e}") from None
            else:
                if resp.will_close:
                    conn.close()
                else:
                    self._give(conn)
                return result
            if deadline_error:
                raise IntegrationTimeout()
        raise InvokeFailed("Lambda Invoke failed")

    def _take(self) -> tuple[http.client.HTTPConnection, bool]:
        with self._lock:
            if self._pool:
                return self._pool.pop(), True
        return http.client.HTTPConnection(self.host, self.port), False

    def _give(self, conn: http.client.HTTPConnection) -> None:
        with self._lock:
            if len(self._pool) < 64:
                self._pool.append(conn)
                return
        conn.close()

    def close(self) -> None:
        with self._lock:
            pool, self._pool = self._pool, []
        for conn in pool:
            conn.close()
