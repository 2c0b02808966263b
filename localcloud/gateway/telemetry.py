"""Access logs and ``AWS/ApiGateway`` metrics, written by the local cloud's one telemetry writer
(localcloud/telemetry.py) off the request path."""

from __future__ import annotations

import hashlib
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from localcloud.telemetry import TelemetryWriter

_CONTEXT_VAR = re.compile(r"\$context\.([A-Za-z][A-Za-z0-9]*(?:\.[A-Za-z][A-Za-z0-9]*)*)")


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


UNITS = {"Count": "Count", "4XXError": "Count", "5XXError": "Count", "Latency": "Milliseconds", "IntegrationLatency": "Milliseconds"}


class Telemetry:
    """What each request leaves behind, handed to the local cloud's telemetry writer (a service:
    ``cloud.add_service``): the access log line, and ``AWS/ApiGateway`` metrics per ``ApiName`` +
    ``Stage`` (and per resource and method when the stage enables detailed metrics)."""

    def __init__(self, client: Callable[..., Any]):
        self.writer = TelemetryWriter(client, "gateway")

    def start(self) -> None:
        self.writer.start()

    def stop(self) -> None:
        self.writer.stop()

    def flush(self) -> None:
        self.writer.flush()

    def record(self, r: RequestRecord) -> None:
        if r.log_group and r.log_stream and r.log_line is not None:
            self.writer.log(r.log_group, r.log_stream, [(r.timestamp_ms, r.log_line)])
        timestamp = datetime.fromtimestamp(r.timestamp_ms / 1000, UTC)
        dim_sets = [(("ApiName", r.api_name), ("Stage", r.stage))]
        if r.detailed_metrics and r.resource_path and r.method:
            dim_sets.append((("ApiName", r.api_name), ("Method", r.method), ("Resource", r.resource_path), ("Stage", r.stage)))
        values = {
            "Count": 1.0,
            "4XXError": 1.0 if 400 <= r.status < 500 else 0.0,
            "5XXError": 1.0 if r.status >= 500 else 0.0,
            "Latency": r.latency_ms,
        }
        if r.integration_latency_ms is not None:
            values["IntegrationLatency"] = r.integration_latency_ms
        self.writer.metrics(
            "AWS/ApiGateway",
            [
                {
                    "MetricName": metric,
                    "Dimensions": [{"Name": n, "Value": v} for n, v in dims],
                    "Timestamp": timestamp,
                    "Value": value,
                    "Unit": UNITS[metric],
                }
                for dims in dim_sets
                for metric, value in values.items()
            ],
        )


def now_ms() -> int:
    return int(time.time() * 1000)
