"""GetMetricData as CloudWatch answers it, for ``MetricStat`` queries.

moto 5.2.5 computes only SampleCount/Sum/Average/Minimum/Maximum (a percentile reads back as
nothing), starts periods at ``StartTime`` instead of on period boundaries, accepts any period and
scans every stored datapoint once per period. Here, as the GetMetricData reference says:

* ``Period`` is 1, 5, 10, 20, 30, 60 or a multiple of 60 (else ValidationError);
* ``StartTime`` is rounded down as CloudWatch rounds it - to the minute when less than 15 days
  ago, to 5 minutes up to 63 days, to the hour beyond; with a period of 1 to 30 s, to a multiple
  of the period - and the periods follow one another from there; a datapoint counts when
  ``StartTime <= t < EndTime`` (end exclusive); periods without data are left out;
* statistics: SampleCount, Sum, Average, Minimum, Maximum, percentiles ``pNN(.N)`` and trimmed
  means ``tmNN``. Percentiles need the values themselves: data put as ``Value`` or
  ``Values``/``Counts`` has them; a statistic set has them only when its SampleCount is 1 or its
  Minimum equals its Maximum (AWS documents exactly these two cases);
* ``ScanBy`` TimestampDescending (the default) or TimestampAscending; ``Label`` defaults to the
  metric name.

Queries with an ``Expression`` (metric math, Metrics Insights) are left to moto, as before.
"""

from __future__ import annotations

import math
import re
from datetime import UTC, datetime
from typing import Any

from localcloud.alarms.evaluation import MetricId, Samples, percentile_of, statistic
from localcloud.alarms.metric_index import SeriesIndex
from localcloud.moto_hooks import hook, require

HIGH_RESOLUTION_PERIODS = (1, 5, 10, 20, 30)
TRIMMED_MEAN = re.compile(r"tm(\d{1,2}(?:\.\d+)?)")


def valid_period(period: Any) -> bool:
    return isinstance(period, int) and period > 0 and (period in HIGH_RESOLUTION_PERIODS or period % 60 == 0)


def rounded_start(start: datetime, period: int, now: datetime) -> float:
    """StartTime as CloudWatch rounds it down (GetMetricData's StartTime reference)."""
    t = start.timestamp()
    if period in HIGH_RESOLUTION_PERIODS:
        return math.floor(t / period) * period
    age = (now - start).total_seconds()
    step = 60 if age < 15 * 86400 else 300 if age < 63 * 86400 else 3600
    return math.floor(t / step) * step


def values_of(samples: Samples) -> list[float]:
    """The individual values behind a period's samples, where they are known (see module doc)."""
    values = list(samples.values)
    for s in samples.sets:
        if s.sample_count == 1 or s.minimum == s.maximum:
            values.extend([s.minimum] * int(s.sample_count))
        else:
            return []  # a spread-out statistic set: its values are not known
    return values


def compute(stat: str, samples: Samples, ordered: list[float] | None = None) -> float | None:
    """``stat`` of one period's samples; ``ordered``: their values sorted, when already known."""
    if not samples:
        return None
    p = percentile_of(stat)
    m = TRIMMED_MEAN.fullmatch(stat) if p is None else None
    if p is None and m is None:
        return statistic(stat, samples)
    if ordered is None:
        ordered = sorted(values_of(samples))
    if not ordered:
        return None
    if p is not None:
        return ordered[max(1, math.ceil(p / 100 * len(ordered))) - 1]
    assert m is not None
    kept = ordered[: max(1, math.ceil(float(m.group(1)) / 100 * len(ordered)))]
    return sum(kept) / len(kept)


def _known_stat(stat: Any) -> bool:
    return isinstance(stat, str) and (
        stat in ("SampleCount", "Average", "Sum", "Minimum", "Maximum")
        or percentile_of(stat) is not None
        or TRIMMED_MEAN.fullmatch(stat) is not None
    )


def _aware(ts: Any) -> datetime:
    if isinstance(ts, datetime):
        return ts if ts.tzinfo else ts.replace(tzinfo=UTC)
    return datetime.fromtimestamp(float(ts), UTC)


def install() -> None:
    validation_error = require("moto.cloudwatch.exceptions", "ValidationError", "GetMetricData's validation errors")
    index = SeriesIndex()

    @hook(
        "moto.cloudwatch.models",
        "CloudWatchBackend.get_metric_data",
        "GetMetricData with percentiles, epoch-aligned periods and AWS's period rules",
    )
    def get_metric_data(original: Any, self: Any, queries: list[dict[str, Any]], start_time: Any, end_time: Any, scan_by: str = "TimestampDescending") -> list[dict[str, Any]]:
        if any("Expression" in q for q in queries):
            return original(self, queries, start_time, end_time, scan_by)
        start, end = _aware(start_time), _aware(end_time)
        now = datetime.now(UTC)
        if start >= end:
            raise validation_error("The parameter EndTime must be greater than StartTime.")
        for n, q in enumerate(queries, 1):
            stat = q["MetricStat"]
            period = int(stat.get("Period") or 0)
            if not valid_period(period):
                raise validation_error(
                    f"The parameter MetricDataQueries.member.{n}.MetricStat.Period must be 1, 5, 10, 20, 30, 60 "
                    "or a multiple of 60."
                )
            if not _known_stat(stat.get("Stat")):
                raise validation_error(f"The parameter MetricDataQueries.member.{n}.MetricStat.Stat is not a valid statistic.")
        index.refresh(self.account_id, self.region_name, self)
        # several statistics of one metric (Average, p90, p99 ...) read its samples once per period
        memo: dict[tuple, tuple[Samples, list[float] | None]] = {}

        def period_samples(ident: MetricId, unit: Any, lo: float, hi: float, sort: bool) -> tuple[Samples, list[float] | None]:
            key = (ident, unit, lo, hi)
            found = memo.get(key)
            if found is None:
                found = memo[key] = (index.samples(self.account_id, self.region_name, ident, unit, lo, hi), None)
            if sort and found[1] is None:
                found = memo[key] = (found[0], sorted(values_of(found[0])))
            return found

        results = []
        for q in queries:
            stat = q["MetricStat"]
            metric = stat["Metric"]
            period = int(stat["Period"])
            ident = MetricId(
                metric["Namespace"],
                metric["MetricName"],
                tuple(sorted((d["Name"], d["Value"]) for d in metric.get("Dimensions") or [])),
            )
            first = rounded_start(start, period, now)
            timestamps: list[datetime] = []
            values: list[float] = []
            t = first
            while t < end.timestamp():
                lo, hi = t, min(t + period, end.timestamp())
                wants_values = stat["Stat"] not in ("SampleCount", "Average", "Sum", "Minimum", "Maximum")
                samples, ordered = period_samples(ident, stat.get("Unit"), lo, hi, wants_values)
                value = compute(stat["Stat"], samples, ordered)
                if value is not None:
                    timestamps.append(datetime.fromtimestamp(t, UTC))
                    values.append(value)
                t += period
            if scan_by != "TimestampAscending":
                timestamps.reverse()
                values.reverse()
            if q.get("ReturnData", True) in (False, "false", "False"):
                continue
            results.append(
                {
                    "id": q["Id"],
                    "label": q.get("Label") or metric["MetricName"],
                    "values": values,
                    "timestamps": timestamps,
                    "status_code": "Complete",
                }
            )
        return results
