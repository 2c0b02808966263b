"""Access logs and ``AWS/ApiGateway`` metrics, written through the Logs and CloudWatch APIs of the
local endpoint by a background thread (never on the request path)."""

from __future__ import annotations

import hashlib
import logging
import queue
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

log = logging.getLogger("localcloud.gateway")

_CONTEXT_VAR = re.compile(r"\$context\.([A-Za-z][A-Za-z0-9]*(?:\.[A-Za-z][A-Za-z0-9]*)*)")
FLUSH_INTERVAL = 0.2
MAX_LOG_BATCH = 5000  # events per PutLogEvents (AWS: 10,000)
MAX_METRIC_BATCH = 500  # datums per PutMetricData (AWS: 1,000)


def render_access_log(fmt: str, context: dict[str, Any]) -> str:
    """``$context.x`` variables replaced by their values; unset ones render ``-`` as on AWS. A
    name that runs into following text (``$context.status.``) uses its longest known prefix."""

    def repl(m: re.Match) -> str:
        name = m.group(1)
        parts = name.split(".")
        for n in range(len(parts), 0, -1):
            key = ".".join(parts[:n])
            if key in context:
                value = context[key]
                rest = name[len(key):]
                return ("-" if value is None or value == "" else str(value)) + rest
        return "-"

    return _CONTEXT_VAR.sub(repl, fmt)


def log_group_name(destination_arn: str) -> str | None:
    # arn:aws:logs:us-east-1:123456789012:log-group:NAME[:*]
    marker = ":log-group:"
    if marker not in (destination_arn or ""):
        return None
    name = destination_arn.split(marker, 1)[1]
    if name.endswith(":*"):
        name = name[:-2]
    return name or None


def stream_name(api_id: str, stage: str, day: str) -> str:
    # AWS names access-log streams with an opaque hex id; one stream per stage and day here.
    return hashlib.md5(f"{api_id}/{stage}/{day}".encode()).hexdigest()


@dataclass
class RequestRecord:
    """What one request leaves behind for logs and metrics."""

    timestamp_ms: int
    api_name: str
    stage: str
    status: int
    latency_ms: float
    integration_latency_ms: float | None
    resource_path: str | None
    method: str | None
    detailed_metrics: bool
    log_group: str | None
    log_stream: str | None
    log_line: str | None


class Telemetry:
    """A background service (``cloud.add_service``): queues records, flushes ~every 200 ms and on
    stop. ``logs_client``/``metrics_client`` are factories for boto3 clients on the local cloud."""

    def __init__(self, logs_client: Callable[[], Any], metrics_client: Callable[[], Any]):
        self._make_logs = logs_client
        self._make_metrics = metrics_client
        self._queue: queue.SimpleQueue[RequestRecord] = queue.SimpleQueue()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._logs = None
        self._metrics = None
        self._known_streams: set[tuple[str, str]] = set()

    def record(self, rec: RequestRecord) -> None:
        self._queue.put(rec)

    def start(self) -> None:
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="localcloud-gateway-telemetry", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=3)
            self._thread = None

    def _run(self) -> None:
        while not self._stop.wait(FLUSH_INTERVAL):
            self.flush()
        self.flush()

    def flush(self) -> None:
        records: list[RequestRecord] = []
        while True:
            try:
                records.append(self._queue.get_nowait())
            except queue.Empty:
                break
        if not records:
            return
        try:
            self._put_logs(records)
        except Exception:  # a failing write must not stop the flusher
            log.exception("writing API access logs failed")
        try:
            self._put_metrics(records)
        except Exception:
            log.exception("writing AWS/ApiGateway metrics failed")

    # ---- logs ----------------------------------------------------------------------------
    def _put_logs(self, records: list[RequestRecord]) -> None:
        by_stream: dict[tuple[str, str], list[dict]] = {}
        for r in records:
            if r.log_group and r.log_stream and r.log_line is not None:
                by_stream.setdefault((r.log_group, r.log_stream), []).append({"timestamp": r.timestamp_ms, "message": r.log_line})
        if not by_stream:
            return
        if self._logs is None:
            self._logs = self._make_logs()
        for (group, stream), events in by_stream.items():
            events.sort(key=lambda e: e["timestamp"])
            self._ensure_stream(group, stream)
            for i in range(0, len(events), MAX_LOG_BATCH):
                self._logs.put_log_events(logGroupName=group, logStreamName=stream, logEvents=events[i : i + MAX_LOG_BATCH])

    def _ensure_stream(self, group: str, stream: str) -> None:
        if (group, stream) in self._known_streams:
            return
        errors = self._logs.exceptions
        try:
            self._logs.create_log_group(logGroupName=group)
        except errors.ResourceAlreadyExistsException:
            pass
        try:
            self._logs.create_log_stream(logGroupName=group, logStreamName=stream)
        except errors.ResourceAlreadyExistsException:
            pass
        self._known_streams.add((group, stream))

    # ---- metrics -------------------------------------------------------------------------
    def _put_metrics(self, records: list[RequestRecord]) -> None:
        # One aggregated datum (SampleCount/Sum/Min/Max) per metric, dimension set and second.
        agg: dict[tuple, list[float]] = {}

        def add(metric: str, dims: tuple, second: int, value: float) -> None:
            s = agg.get((metric, dims, second))
            if s is None:
                agg[(metric, dims, second)] = [1, value, value, value]
            else:
                s[0] += 1
                s[1] += value
                s[2] = min(s[2], value)
                s[3] = max(s[3], value)

        for r in records:
            second = r.timestamp_ms // 1000
            dim_sets = [(("ApiName", r.api_name), ("Stage", r.stage))]
            if r.detailed_metrics and r.resource_path and r.method:
                dim_sets.append((("ApiName", r.api_name), ("Method", r.method), ("Resource", r.resource_path), ("Stage", r.stage)))
            for dims in dim_sets:
                add("Count", dims, second, 1.0)
                add("4XXError", dims, second, 1.0 if 400 <= r.status < 500 else 0.0)
                add("5XXError", dims, second, 1.0 if r.status >= 500 else 0.0)
                add("Latency", dims, second, r.latency_ms)
                if r.integration_latency_ms is not None:
                    add("IntegrationLatency", dims, second, r.integration_latency_ms)
        units = {"Count": "Count", "4XXError": "Count", "5XXError": "Count", "Latency": "Milliseconds", "IntegrationLatency": "Milliseconds"}
        data = [
            {
                "MetricName": metric,
                "Dimensions": [{"Name": n, "Value": v} for n, v in dims],
                "Timestamp": datetime.fromtimestamp(second, UTC),
                "StatisticValues": {"SampleCount": s[0], "Sum": s[1], "Minimum": s[2], "Maximum": s[3]},
                "Unit": units[metric],
            }
            for (metric, dims, second), s in agg.items()
        ]
        if self._metrics is None:
            self._metrics = self._make_metrics()
        for i in range(0, len(data), MAX_METRIC_BATCH):
            self._metrics.put_metric_data(Namespace="AWS/ApiGateway", MetricData=data[i : i + MAX_METRIC_BATCH])


def now_ms() -> int:
    return int(time.time() * 1000)
