"""CloudWatch metrics: several statistics of several metrics over one range, in one GetMetricData
call (up to 500 queries), as series keyed by query id."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import boto3

from sprout.domain.model import LIVE_ALIAS
from sprout.domain.monitoring import MetricQuery

__all__ = ["MetricQuery", "MetricReader"]


class MetricReader:
    def __init__(self, client: Any = None) -> None:
        self._cw = client or boto3.client("cloudwatch")

    def series(
        self, queries: list[MetricQuery], since: datetime, until: datetime, period: int
    ) -> dict[str, dict[datetime, float]]:
        request = [
            {
                "Id": q.id,
                "MetricStat": {
                    "Metric": {
                        "Namespace": q.namespace,
                        "MetricName": q.name,
                        "Dimensions": [{"Name": n, "Value": v} for n, v in q.dimensions],
                    },
                    "Period": period,
                    "Stat": q.stat,
                },
                "ReturnData": True,
            }
            for q in queries
        ]
        out: dict[str, dict[datetime, float]] = {q.id: {} for q in queries}
        token = None
        while True:
            kwargs = {"MetricDataQueries": request, "StartTime": since, "EndTime": until, "ScanBy": "TimestampAscending"}
            if token:
                kwargs["NextToken"] = token
            answer = self._cw.get_metric_data(**kwargs)
            for result in answer["MetricDataResults"]:
                out[result["Id"]].update(zip(result["Timestamps"], result["Values"], strict=False))
            token = answer.get("NextToken")
            if not token:
                return out


class VersionCounts:
    """The requests and errors of given versions behind each function's ``live`` alias: ``AWS/Lambda``
    Invocations and Errors with the dimensions Lambda publishes for an alias (``FunctionName``,
    ``Resource`` = ``name:live``, ``ExecutedVersion``) — the new version's own, never the old one's."""

    def __init__(self, reader: MetricReader | None = None) -> None:
        self._reader = reader or MetricReader()

    def counts(self, sides: dict[str, dict[str, str]], since: datetime,
               until: datetime) -> dict[str, dict[str, tuple[int, int]]]:
        """For each side (a label -> {function name: version}), each function's requests and errors of
        that version: every side in ONE GetMetricData call (its MetricDataQueries), so that a canary's
        judge tick reads the new versions and the ones they replace at once."""
        queries, keys = [], []
        for s, (side, versions) in enumerate(sorted(sides.items())):
            for i, name in enumerate(sorted(versions)):
                dims = (("FunctionName", name), ("Resource", f"{name}:{LIVE_ALIAS}"), ("ExecutedVersion", versions[name]))
                queries += [MetricQuery(f"r{s}x{i}", "AWS/Lambda", "Invocations", dims, "Sum"),
                            MetricQuery(f"e{s}x{i}", "AWS/Lambda", "Errors", dims, "Sum")]
                keys.append((side, name, f"{s}x{i}"))
        series = self._reader.series(queries, since, until, 60) if queries else {}
        found: dict[str, dict[str, tuple[int, int]]] = {side: {} for side in sides}
        for side, name, key in keys:
            found[side][name] = (int(sum(series.get(f"r{key}", {}).values())), int(sum(series.get(f"e{key}", {}).values())))
        return found
