"""Logs and metrics of invocations, written through the local Logs and CloudWatch APIs on a
background thread so that the invoke path only appends to a queue.

Also turns Embedded Metric Format lines (JSON with ``_aws.CloudWatchMetrics``, as Powertools
Metrics prints them) into metrics, as CloudWatch Logs does for Lambda log groups.
"""

from __future__ import annotations

import json
import logging
import queue
import threading
from collections import defaultdict
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any

log = logging.getLogger("localcloud.lambda_runner")

FLUSH_EVERY_S = 0.2
MAX_EVENTS_PER_PUT = 10_000
MAX_BYTES_PER_PUT = 1_000_000
MAX_EVENT_BYTES = 256 * 1024 - 26
MAX_DATUMS_PER_PUT = 1000

UNITS = frozenset(
    "Seconds Microseconds Milliseconds Bytes Kilobytes Megabytes Gigabytes Terabytes Bits Kilobits Megabits "
    "Gigabits Terabits Percent Count Bytes/Second Kilobytes/Second Megabytes/Second Gigabytes/Second "
    "Terabytes/Second Bits/Second Kilobits/Second Megabits/Second Gigabits/Second Terabits/Second "
    "Count/Second None".split()
)

LogEvent = tuple[int, str]  # (epoch ms, message)
Datum = dict[str, Any]  # a CloudWatch MetricDatum


class Telemetry:
    """A service (start/stop) that batches log events and metric data and flushes every 200 ms."""

    def __init__(self, client: Callable[..., Any]):
        self._make_client = client
        self._queue: queue.SimpleQueue = queue.SimpleQueue()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._groups: set[str] = set()
        self._streams: set[tuple[str, str]] = set()
        self._logs: Any = None
        self._cloudwatch: Any = None

    # ---- what the invoke path calls (never blocks) --------------------------------------------
    def log(self, group: str, stream: str, events: list[LogEvent]) -> None:
        self._queue.put(("log", group, stream, events))

    def metrics(self, namespace: str, data: list[Datum]) -> None:
        self._queue.put(("metric", namespace, data))

    # ---- service ------------------------------------------------------------------------------
    def start(self) -> None:
        from botocore.config import Config

        config = Config(retries={"max_attempts": 1}, connect_timeout=2, read_timeout=5)
        self._logs = self._make_client("logs", config=config)
        self._cloudwatch = self._make_client("cloudwatch", config=config)
        self._thread = threading.Thread(target=self._run, name="lambda-telemetry", daemon=True)
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
                for namespace, datum in emf_metrics(message for _, message in events):
                    metrics[namespace].append(datum)
            else:
                metrics[item[1]].extend(item[2])
        for (group, stream), events in logs.items():
            self._put_logs(group, stream, events)
        for namespace, data in metrics.items():
            self._put_metrics(namespace, data)

    # ---- writing --------------------------------------------------------------------------------
    def _put_logs(self, group: str, stream: str, events: list[LogEvent]) -> None:
        batch = [{"timestamp": ts, "message": msg[:MAX_EVENT_BYTES]} for ts, msg in events if msg]
        batch.sort(key=lambda e: e["timestamp"])
        try:
            self._ensure_stream(group, stream)
            for chunk in _chunks(batch):
                self._logs.put_log_events(logGroupName=group, logStreamName=stream, logEvents=chunk)
        except Exception:  # a failed write loses these lines; it must not stop the writer
            self._groups.discard(group)
            self._streams.discard((group, stream))
            log.warning("could not write %d log events to %s %s", len(batch), group, stream, exc_info=True)

    def _ensure_stream(self, group: str, stream: str) -> None:
        if group not in self._groups:
            try:
                self._logs.create_log_group(logGroupName=group)
            except self._logs.exceptions.ResourceAlreadyExistsException:
                pass
            self._groups.add(group)
        if (group, stream) not in self._streams:
            try:
                self._logs.create_log_stream(logGroupName=group, logStreamName=stream)
            except self._logs.exceptions.ResourceAlreadyExistsException:
                pass
            self._streams.add((group, stream))

    def _put_metrics(self, namespace: str, data: list[Datum]) -> None:
        for start in range(0, len(data), MAX_DATUMS_PER_PUT):
            try:
                self._cloudwatch.put_metric_data(
                    Namespace=namespace, MetricData=data[start : start + MAX_DATUMS_PER_PUT]
                )
            except Exception:
                log.warning("could not put %d metric data in %s", len(data), namespace, exc_info=True)


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


def emf_metrics(messages: Iterable[str]) -> list[tuple[str, Datum]]:
    """(namespace, datum) for every metric declared by Embedded Metric Format lines."""
    out: list[tuple[str, Datum]] = []
    for message in messages:
        if not message.startswith("{") or '"_aws"' not in message:
            continue
        try:
            doc = json.loads(message)
            out.extend(_emf_document(doc))
        except (ValueError, TypeError, KeyError, AttributeError):
            continue  # not EMF after all: it stays an ordinary log line
    return out


def _emf_document(doc: dict) -> list[tuple[str, Datum]]:
    meta = doc["_aws"]
    timestamp = datetime.fromtimestamp(
        float(meta.get("Timestamp", 0)) / 1000 or datetime.now().timestamp(), tz=UTC
    )
    out = []
    for directive in meta["CloudWatchMetrics"]:
        namespace = directive["Namespace"]
        dimension_sets = directive.get("Dimensions") or [[]]
        for metric in directive["Metrics"]:
            name = metric["Name"]
            if name not in doc:
                continue
            raw = doc[name]
            values = [float(v) for v in (raw if isinstance(raw, list) else [raw])]
            unit = metric.get("Unit", "None")
            for dimension_set in dimension_sets:
                datum: Datum = {
                    "MetricName": name,
                    "Dimensions": [{"Name": d, "Value": str(doc[d])} for d in dimension_set if d in doc],
                    "Timestamp": timestamp,
                    "Unit": unit if unit in UNITS else "None",
                }
                if metric.get("StorageResolution") in (1, 60):
                    datum["StorageResolution"] = metric["StorageResolution"]
                if len(values) == 1:
                    datum["Value"] = values[0]
                else:
                    datum["Values"] = values
                out.append((namespace, datum))
    return out
