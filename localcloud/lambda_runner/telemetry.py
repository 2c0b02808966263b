"""Logs and metrics of invocations, written by the local cloud's one telemetry writer
(localcloud/telemetry.py), so that the invoke path only appends to a queue.

Also turns Embedded Metric Format lines (JSON with ``_aws.CloudWatchMetrics``, as Powertools
Metrics prints them) into metrics, as CloudWatch Logs does for Lambda log groups; a directive into
one of AWS's own namespaces (``AWS/...``) gives none, as PutMetricData refuses them to customers.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any

from localcloud.telemetry import Datum, LogEvent, TelemetryWriter, service_namespace

__all__ = ["Datum", "LogEvent", "Telemetry", "emf_metrics"]

UNITS = frozenset(
    "Seconds Microseconds Milliseconds Bytes Kilobytes Megabytes Gigabytes Terabytes Bits Kilobits Megabits "
    "Gigabits Terabits Percent Count Bytes/Second Kilobytes/Second Megabytes/Second Gigabytes/Second "
    "Terabytes/Second Bits/Second Kilobits/Second Megabits/Second Gigabits/Second Terabits/Second "
    "Count/Second None".split()
)


def Telemetry(client: Callable[..., Any]) -> TelemetryWriter:  # noqa: N802 (a factory in a class's place)
    """The runner's writer: functions' log lines, ``AWS/Lambda`` metrics, and EMF lines' metrics."""
    return TelemetryWriter(client, "lambda", derive_metrics=emf_metrics)


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
        if service_namespace(str(namespace)):
            continue  # the function's own publication: AWS's namespaces are not its to write (monitoring/namespaces.py)
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
