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

    def counts(self, versions: dict[str, str], since: datetime, until: datetime) -> dict[str, tuple[int, int]]:
        queries = []
        names = sorted(versions)
        for i, name in enumerate(names):
            dims = (("FunctionName", name), ("Resource", f"{name}:{LIVE_ALIAS}"), ("ExecutedVersion", versions[name]))
            queries += [MetricQuery(f"r{i}", "AWS/Lambda", "Invocations", dims, "Sum"),
                        MetricQuery(f"e{i}", "AWS/Lambda", "Errors", dims, "Sum")]
        series = self._reader.series(queries, since, until, 60) if queries else {}
        return {name: (int(sum(series.get(f"r{i}", {}).values())), int(sum(series.get(f"e{i}", {}).values())))
                for i, name in enumerate(names)}
