"""Logs and metrics that the local cloud itself writes (a function's output and ``AWS/Lambda``
metrics, API access logs and ``AWS/ApiGateway`` metrics), through the Logs and CloudWatch APIs of
the local endpoint, from one background thread: the request and invoke paths only append to a
queue.

Metric values are aggregated before they are put: every ``Value`` datum of one metric, dimension
set, unit and second becomes one datum. Counts (and any set whose values are all equal) become a
``StatisticValues`` datum (SampleCount, Sum, Minimum, Maximum); other values - durations,
latencies - become ``Values``/``Counts`` datums (at most 150 distinct values each, AWS's limit), so
that percentiles (p90, p99) can be computed from them, as CloudWatch computes them from the values
it was given and cannot from a spread-out statistic set.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections import defaultdict
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any

log = logging.getLogger("localcloud.telemetry")

FLUSH_EVERY_S = 0.2
MAX_EVENTS_PER_PUT = 10_000
MAX_BYTES_PER_PUT = 1_000_000
MAX_EVENT_BYTES = 256 * 1024 - 26
MAX_DATUMS_PER_PUT = 1000
MAX_VALUES_PER_DATUM = 150

LogEvent = tuple[int, str]  # (epoch ms, message)
Datum = dict[str, Any]  # a CloudWatch MetricDatum
# Metrics that some log lines carry (e.g. Embedded Metric Format): messages -> (namespace, datum)
DerivedMetrics = Callable[[Iterable[str]], list[tuple[str, Datum]]]
# Where AWS's services publish (AWS/Lambda, AWS/ApiGateway): no customer may write there
SERVICE_NAMESPACE_PREFIX = "AWS/"


def service_namespace(namespace: str) -> bool:
    """Whether ``namespace`` is reserved for AWS's own services ("AWS/..."), which CloudWatch
    refuses to any customer's PutMetricData."""
    return namespace.startswith(SERVICE_NAMESPACE_PREFIX)


class TelemetryWriter:
    """A service (start/stop) that batches log events and metric data, flushing every 200 ms and
    on stop. ``client(service)`` makes a boto3 client for the local cloud."""

    def __init__(self, client: Callable[..., Any], name: str, derive_metrics: DerivedMetrics | None = None):
        self._make_client = client
        self._name = name
        self._derive_metrics = derive_metrics
        self._queue: queue.SimpleQueue = queue.SimpleQueue()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._streams: set[tuple[str, str]] = set()
        self._logs: Any = None
        self._cloudwatch: Any = None

    # ---- what the hot paths call (never blocks) -------------------------------------------------
    def log(self, group: str, stream: str, events: list[LogEvent]) -> None:
        self._queue.put(("log", group, stream, events))

    def metrics(self, namespace: str, data: list[Datum]) -> None:
        self._queue.put(("metric", namespace, data))

    # ---- service --------------------------------------------------------------------------------
    def start(self) -> None:
        from botocore.config import Config

        config = Config(retries={"max_attempts": 1}, connect_timeout=2, read_timeout=5)
        self._logs = self._make_client("logs", config=config)
        self._cloudwatch = self._make_client("cloudwatch", config=config)
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name=f"{self._name}-telemetry", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=3)
            self._thread = None

    def _run(self) -> None:
        while not self._stop.wait(FLUSH_EVERY_S):
            self.flush()
        self.flush()

    def flush(self) -> None:
        items = []
        while True:
            try:
                items.append(self._queue.get_nowait())
            except queue.Empty:
                break
        if not items:
            return
        logs: dict[tuple[str, str], list[LogEvent]] = defaultdict(list)
        metrics: dict[str, list[Datum]] = defaultdict(list)
        for item in items:
            if item[0] == "log":
                _, group, stream, events = item
                logs[(group, stream)].extend(events)
                if self._derive_metrics is not None:
                    for namespace, datum in self._derive_metrics(message for _, message in events):
                        metrics[namespace].append(datum)
            else:
                metrics[item[1]].extend(item[2])
        for (group, stream), events in logs.items():
            self._put_logs(group, stream, events)
        for namespace, data in metrics.items():
            self._put_metrics(namespace, aggregate(data))

    # ---- writing --------------------------------------------------------------------------------
    def _put_logs(self, group: str, stream: str, events: list[LogEvent]) -> None:
        batch = [{"timestamp": ts, "message": msg[:MAX_EVENT_BYTES]} for ts, msg in events if msg]
        batch.sort(key=lambda e: e["timestamp"])
        try:
            self._ensure_stream(group, stream)
            for chunk in _chunks(batch):
                self._logs.put_log_events(logGroupName=group, logStreamName=stream, logEvents=chunk)
        except Exception:  # a failed write loses these lines; it must not stop the writer
            self._streams.discard((group, stream))
            log.warning("could not write %d log events to %s %s", len(batch), group, stream, exc_info=True)

    def _ensure_stream(self, group: str, stream: str) -> None:
        if (group, stream) in self._streams:
            return
        for create in (
            lambda: self._logs.create_log_group(logGroupName=group),
            lambda: self._logs.create_log_stream(logGroupName=group, logStreamName=stream),
        ):
            try:
                create()
            except self._logs.exceptions.ResourceAlreadyExistsException:
                pass
        self._streams.add((group, stream))

    def _put_metrics(self, namespace: str, data: list[Datum]) -> None:
        for start in range(0, len(data), MAX_DATUMS_PER_PUT):
            try:
                self._cloudwatch.put_metric_data(Namespace=namespace, MetricData=data[start : start + MAX_DATUMS_PER_PUT])
            except Exception:
                log.warning("could not put %d metric data in %s", len(data), namespace, exc_info=True)


def aggregate(data: list[Datum]) -> list[Datum]:
    """Single-``Value`` datums folded per metric, dimensions, unit, storage resolution and second
    (see the module docstring); other datums (``Values``, ``StatisticValues``) as given."""
    sets: dict[tuple, dict[float, int]] = {}
    out: list[Datum] = []
    for datum in data:
        if "Value" not in datum:
            out.append(datum)
            continue
        timestamp = datum.get("Timestamp") or datetime.now(UTC)
        key = (
            datum["MetricName"],
            tuple((d["Name"], d["Value"]) for d in datum.get("Dimensions") or ()),
            datum.get("Unit", "None"),
            datum.get("StorageResolution"),
            int(timestamp.timestamp()),
        )
        counts = sets.setdefault(key, {})
        value = float(datum["Value"])
        counts[value] = counts.get(value, 0) + 1
    for (name, dims, unit, resolution, second), counts in sets.items():
        base: Datum = {
            "MetricName": name,
            "Dimensions": [{"Name": n, "Value": v} for n, v in dims],
            "Timestamp": datetime.fromtimestamp(second, UTC),
            "Unit": unit,
        }
        if resolution is not None:
            base["StorageResolution"] = resolution
        if len(counts) == 1 or unit == "Count":
            total = sum(v * c for v, c in counts.items())
            out.append(
                {
                    **base,
                    "StatisticValues": {
                        "SampleCount": sum(counts.values()),
                        "Sum": total,
                        "Minimum": min(counts),
                        "Maximum": max(counts),
                    },
                }
            )
            continue
        items = sorted(counts.items())
        for start in range(0, len(items), MAX_VALUES_PER_DATUM):
            chunk = items[start : start + MAX_VALUES_PER_DATUM]
            out.append({**base, "Values": [v for v, _ in chunk], "Counts": [float(c) for _, c in chunk]})
    return out


def _chunks(events: list[dict]) -> Iterable[list[dict]]:
    chunk: list[dict] = []
    size = 0
    for event in events:
        event_size = len(event["message"].encode()) + 26
        if chunk and (len(chunk) >= MAX_EVENTS_PER_PUT or size + event_size > MAX_BYTES_PER_PUT):
            yield chunk
            chunk, size = [], 0
        chunk.append(event)
        size += event_size
    if chunk:
        yield chunk
