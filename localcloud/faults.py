"""Fault injection for tests: make the local cloud fail the way AWS sometimes does, on purpose.

Nothing here runs unless a fault is armed, and nothing is faked: an armed fault makes a real
component misbehave at the point where AWS would — an API answering ``Throttling``, a function's
execution environment killed in the middle of an invocation, a stack operation paused while it is
``*_IN_PROGRESS``, a resource's provisioning call failing. Whoever observes it (Step Functions,
boto3's retries, Sprout) sees what it would see on AWS.

Arm and clear faults over HTTP on the local endpoint (``/_localcloud/faults``):

- ``POST`` a JSON fault → ``201`` with its ``id``; ``GET`` → the armed faults (with what each has
  done so far); ``DELETE /_localcloud/faults/{id}`` (or the whole collection) → cleared. A held
  stack goes on when its ``hold-stack`` fault is cleared.

Faults (every one takes ``skip``: let that many matching events through first, and ``count``: how
many it affects, default 1; ``0`` means until cleared):

===============  =========================================  ===============================================
kind             matches                                    does
===============  =========================================  ===============================================
``throttle``     ``service`` (signing name), ``action``,    answers the call ``Throttling`` / ``Rate exceeded``
                 optionally ``contains`` (text the request  (HTTP 400), as a throttled AWS API does
                 must carry, e.g. a stack name) and
                 ``from``: ``roles`` (not the root key,
                 which the cloud's own lookups use)
``kill-worker``  ``function`` (a function name, or a part)  kills the invocation's worker process after
                                                            ``afterSeconds`` (default 0.5): the invocation
                                                            ends in ``Runtime.ExitError``
``hold-stack``   ``stack`` (a stack name)                   a create or update of the stack stays
                                                            ``*_IN_PROGRESS`` until the fault is cleared
                                                            (at most ``maxSeconds``, default 300)
``hold-build``   ``project`` (a CodeBuild project name)     a build of the project stays in its ``BUILD``
                                                            phase (``IN_PROGRESS``) until the fault is
                                                            cleared or the build stopped (at most
                                                            ``maxSeconds``, default 300)
``fail-resource`` ``stack``, ``logicalId``, ``phase``       that resource's provisioning call fails with
                 (``create``/``update``/``rollback``)       ``message`` (as an API refusing it would)
===============  =========================================  ===============================================
"""

from __future__ import annotations

import io
import json
import re
import threading
import time
import urllib.parse
import uuid
from collections.abc import Callable, Iterable
from typing import Any

PREFIX = "/_localcloud/faults"
KINDS = {
    "throttle": ("service", "action"),
    "kill-worker": ("function",),
    "hold-stack": ("stack",),
    "hold-build": ("project",),
    "fail-resource": ("stack", "logicalId", "phase"),
}
_SCOPE = re.compile(r"Credential=([^/]+)/[^/]+/[^/]+/([^/]+)/aws4_request")
ROOT_ACCESS_KEY = "localcloud"  # the local account's root key (cloud.py), which the cloud's own calls use


class Faults:
    """The armed faults, thread-safe. ``take`` is how a component asks whether to misbehave now."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._armed: dict[str, dict[str, Any]] = {}
        self._released: dict[str, threading.Event] = {}

    def arm(self, spec: dict[str, Any]) -> dict[str, Any]:
        kind = spec.get("kind")
        if kind not in KINDS:
            raise ValueError(f"kind must be one of {sorted(KINDS)}, got {kind!r}")
        missing = [k for k in KINDS[kind] if not spec.get(k)]
        if missing:
            raise ValueError(f"a {kind} fault needs {', '.join(missing)}")
        fault = {**spec, "id": uuid.uuid4().hex[:12], "skip": int(spec.get("skip", 0)),
                 "count": int(spec.get("count", 1)), "seen": 0, "done": 0}
        with self._lock:
            self._armed[fault["id"]] = fault
            self._released[fault["id"]] = threading.Event()
        return dict(fault)

    def list(self) -> list[dict[str, Any]]:
        with self._lock:
            return [dict(f) for f in self._armed.values()]

    def clear(self, fault_id: str | None = None) -> int:
        with self._lock:
            ids = [fault_id] if fault_id else list(self._armed)
            cleared = [self._armed.pop(i) for i in ids if i in self._armed]
            for f in cleared:
                self._released.pop(f["id"]).set()
        return len(cleared)

    def armed(self, kind: str) -> bool:
        with self._lock:
            return any(f["kind"] == kind for f in self._armed.values())

    def take(self, kind: str, **event: str) -> dict[str, Any] | None:
        """The fault of ``kind`` that this event triggers (counted), or None."""
        with self._lock:
            for fault in self._armed.values():
                if fault["kind"] != kind or not all(_matches(fault, k, v) for k, v in event.items()):
                    continue
                fault["seen"] += 1
                if fault["seen"] <= fault["skip"]:
                    return None
                if fault["count"] and fault["done"] >= fault["count"]:
                    continue
                fault["done"] += 1
                return dict(fault)
        return None

    def hold(self, stack: str) -> None:
        """Block while a ``hold-stack`` fault for ``stack`` is armed (until cleared or its time)."""
        self._hold(self.take("hold-stack", stack=stack), lambda: False)

    def hold_build(self, project: str, ended: Callable[[], bool]) -> None:
        """Block while a ``hold-build`` fault for ``project`` is armed (until cleared, its time, or
        ``ended()``: the build was stopped)."""
        self._hold(self.take("hold-build", project=project), ended)

    def _hold(self, fault: dict[str, Any] | None, ended: Callable[[], bool]) -> None:
        if fault is None:
            return
        with self._lock:
            released = self._released.get(fault["id"])
        if released is None:
            return
        deadline = time.monotonic() + float(fault.get("maxSeconds", 300))
        while not released.wait(0.2) and not ended() and time.monotonic() < deadline:
            pass


def _matches(fault: dict[str, Any], key: str, value: str) -> bool:
    if key == "body":  # a throttle's optional ``contains``: only requests whose body has that text
        return fault.get("contains") is None or str(fault["contains"]) in value
    if key == "caller":  # a throttle's ``from``: "roles" spares the root key (the cloud's own lookups)
        return fault.get("from", "any") == "any" or value != ROOT_ACCESS_KEY
    wanted = fault.get(key)
    if wanted is None:
        return True
    if key == "function":
        return str(wanted) in value
    return str(wanted) == value


FAULTS = Faults()


# ---- the HTTP control endpoint and the throttling interceptor ---------------------------------


def _answer(start_response: Callable, status: str, body: Any) -> Iterable[bytes]:
    data = json.dumps(body, default=str).encode()
    start_response(status, [("Content-Type", "application/json"), ("Content-Length", str(len(data)))])
    return [data]


def control(environ: dict, start_response: Callable) -> Iterable[bytes]:
    method, path = environ.get("REQUEST_METHOD", "GET"), environ.get("PATH_INFO", "")
    fault_id = path[len(PREFIX):].strip("/") or None
    if method == "GET":
        return _answer(start_response, "200 OK", {"faults": FAULTS.list()})
    if method == "DELETE":
        return _answer(start_response, "200 OK", {"cleared": FAULTS.clear(fault_id)})
    if method == "POST" and not fault_id:
        try:
            spec = json.loads(_body(environ) or b"{}")
            return _answer(start_response, "201 Created", FAULTS.arm(spec))
        except (ValueError, TypeError, AttributeError) as e:
            return _answer(start_response, "400 Bad Request", {"message": str(e)})
    return _answer(start_response, "405 Method Not Allowed", {"message": f"{method} {path}"})


def _body(environ: dict) -> bytes:
    """The request's body, read once and put back for whoever reads it next."""
    length = int(environ.get("CONTENT_LENGTH") or 0)
    data = environ["wsgi.input"].read(length) if length else b""
    environ["wsgi.input"] = io.BytesIO(data)
    return data


def _request(environ: dict) -> dict[str, str] | None:
    """An AWS API request as a throttle matches it (service, action, body text, caller's key), or None."""
    scope = _SCOPE.search(environ.get("HTTP_AUTHORIZATION", ""))
    if scope is None:
        return None
    body = _body(environ)
    called = {"service": scope.group(2), "caller": scope.group(1),
              "body": urllib.parse.unquote_plus(body.decode("utf-8", "replace"))}
    target = environ.get("HTTP_X_AMZ_TARGET")
    if target:
        return {**called, "action": target.rsplit(".", 1)[-1]}
    found = re.search(rb"(?:^|&)Action=([A-Za-z]+)", body)
    return {**called, "action": found.group(1).decode()} if found else None


def throttler(environ: dict) -> Callable | None:
    """A request filter: the WSGI app that answers ``Throttling`` when a throttle fault takes it."""
    if not FAULTS.armed("throttle"):
        return None
    called = _request(environ)
    if called is None or FAULTS.take("throttle", **called) is None:
        return None
    json_protocol = bool(environ.get("HTTP_X_AMZ_TARGET"))

    def throttled(environ: dict, start_response: Callable) -> Iterable[bytes]:
        if json_protocol:
            data = json.dumps({"__type": "ThrottlingException", "message": "Rate exceeded"}).encode()
            kind = "application/x-amz-json-1.0"
        else:
            data = (
                "<ErrorResponse><Error><Type>Sender</Type><Code>Throttling</Code><Message>Rate exceeded"
                f"</Message></Error><RequestId>{uuid.uuid4()}</RequestId></ErrorResponse>"
            ).encode()
            kind = "text/xml"
        start_response("400 Bad Request", [("Content-Type", kind), ("Content-Length", str(len(data)))])
        return [data]

    return throttled


def install(cloud: Any) -> None:
    cloud.mount(PREFIX, control)
    cloud.intercept(throttler)
