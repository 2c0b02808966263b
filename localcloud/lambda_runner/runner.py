"""The runner: turns one Lambda invocation of a function version into a run of its real code in a
warm worker, with Lambda's error shapes, log lines and AWS/Lambda metrics."""

from __future__ import annotations

import base64
import json
import logging
import math
import os
import sys
import threading
import time
import uuid
from collections import defaultdict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from localcloud import faults, iam
from localcloud.cloud import ROOT_ACCESS_KEY, ROOT_SECRET_KEY
from localcloud.lambda_runner import code as codebase
from localcloud.lambda_runner import interpreters, logging_config
from localcloud.lambda_runner.telemetry import Datum, LogEvent, Telemetry
from localcloud.lambda_runner.worker import Pool, PoolClosed, Reply, Worker

log = logging.getLogger("localcloud.lambda_runner")

MAX_WORKERS_PER_VERSION = 4  # concurrent executions of one function version
SYNC_WAIT_S = 30.0  # how long a synchronous invoke waits for a free worker before throttling
INIT_TIMEOUT_S = 10.0  # Lambda's init phase limit
IDLE_TTL_S = 600.0  # a warm worker unused this long is stopped
CREDENTIALS_MARGIN_S = 300.0  # with IAM enforced, a worker whose role credentials expire sooner is replaced
ASYNC_THREADS = 16
LOG_TAIL_BYTES = 4096
# A worker dies (SIGKILL, as Lambda's out-of-memory kill) when its resident memory passes its
# MemorySize plus what this machine's interpreter takes with nothing loaded (measured: Python
# -I -S ~9 MB, Node.js ~40 MB; Lambda's own runtime counts in its Max Memory Used the same way, so
# the allowance only absorbs the difference of a local interpreter). The guard polls every 50 ms.
RUNTIME_BASELINE_KB = {"python": 16 * 1024, "nodejs": 64 * 1024}

RUNTIMES_DIR = Path(__file__).resolve().parent / "runtimes"
# The AWS SDK for JavaScript v3 that Lambda's nodejs18.x+ runtimes bundle (make setup: npm ci)
NODE_SDK_DIR = RUNTIMES_DIR / "node" / "node_modules"

# Environment variables the Lambda service sets; a function's own value for these is ignored.
RESERVED_ENV = frozenset(
    "_HANDLER _X_AMZN_TRACE_ID AWS_DEFAULT_REGION AWS_REGION AWS_EXECUTION_ENV AWS_LAMBDA_FUNCTION_NAME "
    "AWS_LAMBDA_FUNCTION_MEMORY_SIZE AWS_LAMBDA_FUNCTION_VERSION AWS_LAMBDA_INITIALIZATION_TYPE "
    "AWS_LAMBDA_LOG_GROUP_NAME AWS_LAMBDA_LOG_STREAM_NAME AWS_ACCESS_KEY AWS_ACCESS_KEY_ID "
    "AWS_SECRET_ACCESS_KEY AWS_SESSION_TOKEN AWS_LAMBDA_RUNTIME_API LAMBDA_TASK_ROOT LAMBDA_RUNTIME_DIR".split()
)


class Throttled(Exception):
    def __init__(self, reason: str, message: str):
        super().__init__(message)
        self.reason = reason


class UnsupportedFunction(Exception):
    """The function cannot run here (its runtime, its package type, its code)."""


@dataclass(frozen=True)
class Target:
    """One function version as invoked: ``qualifier`` is what the caller named (None, $LATEST,
    a version number or an alias), ``config`` its GetFunctionConfiguration shape."""

    name: str
    version: str
    qualifier: str | None
    is_alias: bool
    invoked_arn: str
    config: dict[str, Any]
    reserved_concurrency: int | None
    source: Any = field(default=None, compare=False)  # moto's model of the version (read_code reads it)

    @property
    def log_group(self) -> str:
        """Where Lambda writes the version's lines: its LoggingConfig.LogGroup, else /aws/lambda/<name>."""
        return logging_config.log_group(self.config, self.name)


@dataclass
class Outcome:
    request_id: str
    payload: bytes
    function_error: str | None
    executed_version: str
    log_tail: str | None


@dataclass(frozen=True)
class Spec:
    """Everything a worker of a function version is started with."""

    runtime: str
    head: tuple[str, ...]
    tail: tuple[str, ...]
    env: tuple[tuple[str, str], ...]
    task_root: str


class Runner:
    """Service: the warm pools, the async invocation threads, the telemetry writer."""

    def __init__(
        self,
        cloud: Any,
        read_code: Callable[[Any], bytes],
        read_layer: Callable[[str], bytes],
    ):
        self._cloud = cloud
        self._read_code = read_code
        self._read_layer = read_layer
        self.telemetry = Telemetry(cloud.client)
        self._log_writes = logging_config.WritePermission(cloud.region, cloud.account_id)
        self._pools: dict[tuple[str, str], tuple[tuple, Pool, Spec]] = {}
        self._lock = threading.Lock()
        self._active: dict[str, int] = defaultdict(int)
        self._async = ThreadPoolExecutor(max_workers=ASYNC_THREADS, thread_name_prefix="lambda-async")
        self._stopping = threading.Event()
        self._reaper: threading.Thread | None = None
        self._python = getattr(sys, "_base_executable", None) or sys.executable
        self._sdk_dir: str | None = None
        self._announced: set[str] = set()  # functions told to run on another version than declared
        self._notices: dict[str, str] = {}  # ... whose function logs have not said so yet

    # ---- service ------------------------------------------------------------------------------
    def start(self) -> None:
        self.telemetry.start()
        self._reaper = threading.Thread(target=self._reap, name="lambda-reaper", daemon=True)
        self._reaper.start()

    def stop(self) -> None:
        self._stopping.set()
        self._async.shutdown(wait=False, cancel_futures=True)
        with self._lock:
            pools = [pool for _, pool, _ in self._pools.values()]
            self._pools.clear()
        for pool in pools:
            pool.close()
        self.telemetry.stop()

    def _reap(self) -> None:
        while not self._stopping.wait(30):
            with self._lock:
                pools = [pool for _, pool, _ in self._pools.values()]
            for pool in pools:
                pool.reap(IDLE_TTL_S)

    # ---- invocations --------------------------------------------------------------------------
    def invoke(
        self, target: Target, event: str, log_tail: bool = False, client_context: Any = None
    ) -> Outcome:
        """A synchronous (RequestResponse) invocation. Raises Throttled or UnsupportedFunction."""
        return self._run(target, event, SYNC_WAIT_S, log_tail, client_context)

    def submit(self, target: Target, event: str) -> None:
        """An asynchronous (Event) invocation: queued, run in the background."""
        if self._stopping.is_set():
            return
        self._async.submit(self._run_async, target, event)

    def _run_async(self, target: Target, event: str) -> None:
        try:
            self._run(target, event, None, False, None)
        except Throttled as e:
            log.warning("asynchronous invocation of %s dropped: %s", target.name, e)
        except PoolClosed:
            pass
        except (UnsupportedFunction, codebase.BadCode) as e:
            log.warning("asynchronous invocation of %s failed: %s", target.name, e)
        except Exception:
            log.exception("asynchronous invocation of %s failed", target.name)

    def _run(
        self, target: Target, event: str, wait_s: float | None, log_tail: bool, client_context: Any
    ) -> Outcome:
        pool, spec = self._pool_for(target)
        request_id = str(uuid.uuid4())
        limit = target.reserved_concurrency
        with self._lock:
            if limit is not None and self._active[target.name] >= limit:
                self._throttle(target)
                raise Throttled("ReservedFunctionConcurrentInvocationLimitExceeded", "Rate Exceeded.")
            self._active[target.name] += 1
            concurrent = self._active[target.name]
        try:
            acquired = pool.acquire(wait_s)
            while acquired is not None and _credentials_expiring(acquired[0]):
                acquired[0].dead = True  # its role credentials are about to expire: a fresh environment
                pool.release(acquired[0])
                acquired = pool.acquire(wait_s)
            if acquired is None:
                self._throttle(target)
                raise Throttled("ConcurrentInvocationLimitExceeded", "Rate Exceeded.")
            worker, cold = acquired
            try:
                return self._invoke_on(
                    worker, cold, target, event, request_id, log_tail, client_context, concurrent
                )
            finally:
                pool.release(worker)
        finally:
            with self._lock:
                self._active[target.name] -= 1

    def _invoke_on(
        self,
        worker: Worker,
        cold: bool,
        target: Target,
        event: str,
        request_id: str,
        log_tail: bool,
        client_context: Any,
        concurrent: int,
    ) -> Outcome:
        timeout_s = float(target.config.get("Timeout") or 3)
        memory = int(target.config.get("MemorySize") or 128)
        events: list[LogEvent] = []
        if cold:
            with self._lock:
                notice = self._notices.pop(target.name, None)
            if notice is not None:
                events.append((_now_ms(), notice))
        if cold and worker.init_reply is not None:
            events.extend(worker.init_reply.lines)
        started_ms = _now_ms()
        events.append((started_ms, f"START RequestId: {request_id} Version: {target.version}"))
        t0 = time.perf_counter()
        if cold and worker.init_reply is not None and worker.init_reply.status != "ok":
            reply = worker.init_reply
            worker.kill()  # a failed init leaves no usable environment; the next invoke starts afresh
            reply = Reply(
                reply.status,
                [],
                error=reply.error,
                error_log=reply.error_log,
                rss_kb=reply.rss_kb,
                exit_description=reply.exit_description,
            )
        else:
            request = {
                "requestId": request_id,
                "event": event,
                "deadlineMs": started_ms + int(timeout_s * 1000),
                "traceId": _trace_id(started_ms),
                "invokedFunctionArn": target.invoked_arn,
                "clientContext": client_context,
            }
            fault = faults.FAULTS.take("kill-worker", function=target.name)
            killer = threading.Timer(float(fault.get("afterSeconds", 0.5)), worker.kill) if fault else None
            if killer is not None:  # a test's fault: the execution environment dies mid-invocation
                killer.start()
            reply = worker.invoke(request, timeout_s)
            if killer is not None:
                killer.cancel()  # an invocation that ended first keeps its environment
        duration_ms = (time.perf_counter() - t0) * 1000
        events.extend(reply.lines)

        payload, function_error, status = self._result(reply, request_id, timeout_s, events)
        end_ms = _now_ms()
        events.append((end_ms, f"END RequestId: {request_id}"))
        used_mb = max(1, math.ceil(reply.rss_kb / 1024))
        if reply.status == "crash" and reply.exit_description == "signal: killed":
            used_mb = memory  # killed at its memory limit (or by itself): Lambda reports it full
        report = (
            f"REPORT RequestId: {request_id}\tDuration: {duration_ms:.2f} ms\tBilled Duration: {math.ceil(duration_ms)} ms\t"
            f"Memory Size: {memory} MB\tMax Memory Used: {used_mb} MB\t"
        )
        if cold:
            report += f"Init Duration: {worker.init_ms:.2f} ms\t"
        if status:
            report += status
        events.append((end_ms, report))

        if self._log_writes.allows(target.config.get("Role"), target.log_group, worker.log_stream):
            self.telemetry.log(target.log_group, worker.log_stream, events)  # else lost, as on AWS
        self.telemetry.metrics(
            "AWS/Lambda",
            self._invocation_metrics(target, duration_ms, function_error is not None, concurrent),
        )
        tail = None
        if log_tail:
            text = "\n".join(message for _, message in events) + "\n"
            tail = base64.b64encode(text.encode()[-LOG_TAIL_BYTES:]).decode()
        return Outcome(request_id, payload, function_error, target.version, tail)

    @staticmethod
    def _result(
        reply: Reply, request_id: str, timeout_s: float, events: list[LogEvent]
    ) -> tuple[bytes, str | None, str]:
        """(payload, FunctionError, REPORT status suffix), adding the runtime's error lines to ``events``."""
        if reply.status == "ok":
            return (reply.payload or "null").encode(), None, ""
        if reply.status == "error":
            error = reply.error or {
                "errorType": "Runtime.Unknown",
                "errorMessage": "the runtime reported no error",
            }
            if reply.error_log:
                events.append((_now_ms(), reply.error_log))
            return json.dumps(error).encode(), "Unhandled", ""
        if reply.status == "timeout":
            stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
            message = f"{stamp} {request_id} Task timed out after {timeout_s:.2f} seconds"
            events.append((_now_ms(), message))
            return json.dumps({"errorMessage": message}).encode(), "Unhandled", "Status: timeout"
        message = f"RequestId: {request_id} Error: Runtime exited with error: {reply.exit_description}"
        events.append((_now_ms(), f"{message}\nRuntime.ExitError"))
        payload = {"errorType": "Runtime.ExitError", "errorMessage": message}
        return json.dumps(payload).encode(), "Unhandled", "Status: error\tError Type: Runtime.ExitError"

    # ---- metrics --------------------------------------------------------------------------------
    @staticmethod
    def _dimension_sets(target: Target) -> list[list[dict[str, str]]]:
        """The dimension combinations AWS publishes AWS/Lambda metrics with."""
        name = {"Name": "FunctionName", "Value": target.name}
        sets = [[name]]
        if target.qualifier and target.qualifier != "$LATEST":
            resource = {"Name": "Resource", "Value": f"{target.name}:{target.qualifier}"}
            sets.append([name, resource])
            if target.is_alias:
                executed = {"Name": "ExecutedVersion", "Value": target.version}
                sets.append([name, resource, executed])
        if target.version != "$LATEST":
            sets.append([name, {"Name": "ExecutedVersion", "Value": target.version}])
        return sets

    def _invocation_metrics(
        self, target: Target, duration_ms: float, errored: bool, concurrent: int
    ) -> list[Datum]:
        now = datetime.now(UTC)
        data = []
        for dims in self._dimension_sets(target):
            for metric, value, unit in (
                ("Invocations", 1.0, "Count"),
                ("Errors", 1.0 if errored else 0.0, "Count"),
                ("Duration", duration_ms, "Milliseconds"),
                ("ConcurrentExecutions", float(concurrent), "Count"),
            ):
                data.append(
                    {"MetricName": metric, "Dimensions": dims, "Value": value, "Unit": unit, "Timestamp": now}
                )
        return data

    def _throttle(self, target: Target) -> None:
        now = datetime.now(UTC)
        data = [
            {"MetricName": "Throttles", "Dimensions": dims, "Value": 1.0, "Unit": "Count", "Timestamp": now}
            for dims in self._dimension_sets(target)
        ]
        self.telemetry.metrics("AWS/Lambda", data)

    # ---- pools and workers ----------------------------------------------------------------------
    def _pool_for(self, target: Target) -> tuple[Pool, Spec]:
        config = target.config
        fingerprint = (
            config.get("CodeSha256"),
            config.get("Handler"),
            config.get("Runtime"),
            config.get("MemorySize"),
            json.dumps(config.get("Environment", {}).get("Variables", {}), sort_keys=True),
            tuple(layer["Arn"] for layer in config.get("Layers") or []),
            config.get("Role"),
            json.dumps(config.get("LoggingConfig"), sort_keys=True),  # the group and stream its workers log to
        )
        key = (target.name, target.version)
        with self._lock:
            current = self._pools.get(key)
            if current is not None and current[0] == fingerprint:
                return current[1], current[2]
        spec = self._spec(target)  # extracts code: outside the lock
        with self._lock:
            current = self._pools.get(key)
            if current is not None and current[0] == fingerprint:
                return current[1], current[2]
            pool = Pool(lambda: self._spawn(target, spec), MAX_WORKERS_PER_VERSION)
            self._pools[key] = (fingerprint, pool, spec)
        if current is not None:
            current[1].retire()  # $LATEST changed: its old environments go
        return pool, spec

    def _spec(self, target: Target) -> Spec:
        config = target.config
        runtime = config.get("Runtime") or ""
        if config.get("PackageType", "Zip") != "Zip":
            raise UnsupportedFunction(
                f"function {target.name} is a container image function; localcloud runs Zip functions only"
            )
        sha = codebase.sha_folder_name(config.get("CodeSha256") or "")
        version_dir = "latest" if target.version == "$LATEST" else target.version
        task_root = self._cloud.path("lambda", "functions", target.name, version_dir) / sha
        if not task_root.is_dir():
            codebase.extract_once(task_root, self._read_code(target), f"function {target.name}")
        layer_dirs: list[str] = []
        for layer in config.get("Layers") or []:
            arn = layer["Arn"]
            layer_root = self._cloud.path("lambda", "layers") / arn.split(":layer:", 1)[-1].replace(":", "-")
            if not layer_root.is_dir():
                codebase.extract_once(layer_root, self._read_layer(arn), f"layer {arn}")
            layer_dirs.extend(codebase.layer_paths(runtime, layer_root))

        env = {
            "PATH": os.environ.get("PATH", "/usr/local/bin:/usr/bin:/bin"),
            "LANG": "en_US.UTF-8",
            "TZ": ":UTC",
            "HOME": str(self._cloud.path("lambda", "home")),
            "AWS_ENDPOINT_URL": self._cloud.endpoint,
        }
        user_env = config.get("Environment", {}).get("Variables", {}) or {}
        env.update({k: str(v) for k, v in user_env.items() if k not in RESERVED_ENV})
        env.update(
            {
                "_HANDLER": config.get("Handler") or "",
                "AWS_EXECUTION_ENV": f"AWS_Lambda_{runtime}",
                "AWS_LAMBDA_FUNCTION_NAME": target.name,
                "AWS_LAMBDA_FUNCTION_VERSION": target.version,
                "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(config.get("MemorySize") or 128),
                "AWS_LAMBDA_LOG_GROUP_NAME": target.log_group,
                "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
                "AWS_REGION": self._cloud.region,
                "AWS_DEFAULT_REGION": self._cloud.region,
                "AWS_ACCESS_KEY_ID": ROOT_ACCESS_KEY,
                "AWS_SECRET_ACCESS_KEY": ROOT_SECRET_KEY,
                "AWS_SESSION_TOKEN": f"localcloud-{target.name}",
                "LAMBDA_TASK_ROOT": str(task_root),
                "LAMBDA_RUNTIME_DIR": str(RUNTIMES_DIR),
            }
        )
        if runtime.startswith("python"):
            if self._sdk_dir is None:
                self._sdk_dir = str(codebase.python_sdk_dir(self._cloud.path("lambda")))
            python = interpreters.python_for(runtime, self._python, (str(task_root), *layer_dirs))
            self._announce(target.name, python)
            if python.executable != self._python:
                interpreters.precompile(python.executable, self._sdk_dir)
            head = (python.executable, "-I", "-S", "-u", str(RUNTIMES_DIR / "python_bootstrap.py"))
            tail = (str(task_root), self._sdk_dir, *layer_dirs)
        elif runtime.startswith("nodejs"):
            node = interpreters.node_for(runtime)
            if node is None:
                raise UnsupportedFunction(
                    f"function {target.name} needs {runtime}, and there is no `node` on this machine's PATH"
                )
            self._announce(target.name, node)
            # As Lambda's NODE_PATH (/opt/nodejs/node_modules...:/var/runtime/node_modules): the
            # function's own node_modules first (Node's resolution), then its layers, then the SDK.
            sdk = [str(NODE_SDK_DIR)] if NODE_SDK_DIR.is_dir() else []
            if not sdk:
                self._warn_once("node-sdk", f"{NODE_SDK_DIR} is missing (run `make setup`): Node.js functions get no AWS SDK v3")
            if layer_dirs or sdk:
                env["NODE_PATH"] = os.pathsep.join([*layer_dirs, *sdk])
            head = (node.executable, str(RUNTIMES_DIR / "node_bootstrap.js"))
            tail = (str(task_root),)
        else:
            raise UnsupportedFunction(
                f"runtime {runtime!r} of function {target.name} is not supported (python3.x and nodejs*.x are)"
            )
        return Spec(runtime, head, tail, tuple(env.items()), str(task_root))

    def _warn_once(self, key: str, message: str) -> None:
        with self._lock:
            if key in self._announced:
                return
            self._announced.add(key)
        log.warning("%s", message)

    def _announce(self, name: str, interpreter: interpreters.Interpreter) -> None:
        """Once per function: say in up's output, and in its first log lines, that it does not run
        on the version its runtime declares."""
        if interpreter.notice is None:
            return
        with self._lock:
            if name in self._announced:
                return
            self._announced.add(name)
            self._notices[name] = f"localcloud: function {name} {interpreter.notice}"
        log.warning("function %s %s", name, interpreter.notice)

    def _spawn(self, target: Target, spec: Spec) -> Worker:
        if self._stopping.is_set():
            raise PoolClosed()
        now = datetime.now(UTC)
        stream = logging_config.log_stream(target.config, target.name, target.version, now)
        env = dict(spec.env)
        env["AWS_LAMBDA_LOG_STREAM_NAME"] = stream
        credentials = self._role_credentials(target)
        if credentials is not None:
            env.update(credentials.env())
        t0 = time.perf_counter()
        try:
            worker = Worker(list(spec.head), list(spec.tail), env, spec.task_root, stream, memory_limit_kb(target, spec))
        except OSError as e:
            raise UnsupportedFunction(
                f"could not start a {spec.runtime} worker for {target.name}: {e}"
            ) from e
        worker.credentials_expire = credentials.expires if credentials is not None else None
        worker.init_reply = worker.init(INIT_TIMEOUT_S)
        worker.init_ms = (time.perf_counter() - t0) * 1000
        return worker


    @staticmethod
    def _role_credentials(target: Target) -> iam.Credentials | None:
        """With IAM enforced, the execution role's temporary credentials (session name: the
        function's name), as Lambda gives them to an execution environment; else None (the worker
        keeps the root key, as before)."""
        if not iam.enforcing():
            return None
        try:
            return iam.credentials(target.config.get("Role"), target.name, "lambda.amazonaws.com")
        except iam.RoleNotAssumable as e:
            raise UnsupportedFunction(f"function {target.name} cannot run: {e}") from e


def memory_limit_kb(target: Target, spec: Spec) -> int:
    """Where the guard kills a worker of ``target``: its MemorySize plus the runtime's baseline."""
    memory_mb = int(target.config.get("MemorySize") or 128)
    baseline = RUNTIME_BASELINE_KB["nodejs" if spec.runtime.startswith("nodejs") else "python"]
    return memory_mb * 1024 + baseline


def _credentials_expiring(worker: Worker) -> bool:
    expires = getattr(worker, "credentials_expire", None)
    return expires is not None and expires - time.time() < CREDENTIALS_MARGIN_S


def _trace_id(epoch_ms: int) -> str:
    """An X-Ray trace header as Lambda gives each invocation (``_X_AMZN_TRACE_ID``); not sampled,
    since there is no X-Ray here: the SDK records nothing and sends nothing."""
    return f"Root=1-{epoch_ms // 1000:08x}-{os.urandom(12).hex()};Parent={os.urandom(8).hex()};Sampled=0"


def _now_ms() -> int:
    return int(time.time() * 1000)
