"""CloudWatch metrics: several statistics of several metrics over one range, in one GetMetricData
call (up to 500 queries), as series keyed by query id."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import boto3


@dataclass(frozen=True)
class MetricQuery:
    id: str
    namespace: str
    name: str
    dimensions: tuple[tuple[str, str], ...]
    stat: str


class MetricReader:
    def __init__(self, client=None):
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
