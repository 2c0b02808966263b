"""Datapoints of moto's ``CloudWatchBackend.metric_data`` per metric and unit, indexed
incrementally, for the two readers of metrics: alarm evaluation (``localcloud.alarms.service``) and
GetMetricData (``localcloud.monitoring.metric_data``). Times are epoch seconds."""

from __future__ import annotations

import threading
from bisect import bisect_left
from datetime import UTC, datetime
from typing import Any

from localcloud.alarms.evaluation import MetricId, Samples, StatisticSet
from localcloud.moto_hooks import require


def _aware(ts: Any) -> datetime:
    if isinstance(ts, datetime):
        return ts if ts.tzinfo else ts.replace(tzinfo=UTC)
    return datetime.fromtimestamp(float(ts), UTC)


class _Arrays:
    """One metric's (one unit's) datapoints in time order: raw values apart from statistic sets,
    so that a period's values are one slice."""

    __slots__ = ("value_times", "values", "set_times", "sets")

    def __init__(self) -> None:
        self.value_times: list[float] = []
        self.values: list[float] = []
        self.set_times: list[float] = []
        self.sets: list[StatisticSet] = []

    @staticmethod
    def _add(times: list[float], items: list[Any], t: float, item: Any) -> None:
        at = len(times)
        while at and times[at - 1] > t:  # nearly always appended in order
            at -= 1
        times.insert(at, t)
        items.insert(at, item)


class SeriesIndex:
    """moto's ``CloudWatchBackend.metric_data`` (a flat list of datums) per metric and unit, updated
    incrementally: moto only appends (a reset replaces the list, which triggers a rebuild)."""

    def __init__(self) -> None:
        self._value_cls = require("moto.cloudwatch.models", "MetricDatum", "a single value put by PutMetricData")
        self._set_cls = require("moto.cloudwatch.models", "MetricAggregatedDatum", "a StatisticValues set put by PutMetricData")
        self._seen: dict[tuple[str, str], tuple[int, int]] = {}
        self._series: dict[tuple[str, str], dict[MetricId, dict[str | None, _Arrays]]] = {}
        self._lock = threading.Lock()

    def refresh(self, account: str, region: str, backend: Any) -> None:
        with self._lock:
            data = backend.metric_data
            key = (account, region)
            ident, seen = self._seen.get(key, (id(data), 0))
            if ident != id(data) or seen > len(data):
                ident, seen = id(data), 0
                self._series[key] = {}
            series = self._series.setdefault(key, {})
            upto = len(data)
            for datum in data[seen:upto]:
                metric = MetricId(
                    datum.namespace, datum.name, tuple(sorted((str(d.name), str(d.value)) for d in datum.dimensions))
                )
                arrays = series.setdefault(metric, {}).setdefault(datum.unit, _Arrays())
                t = _aware(datum.timestamp).timestamp()
                if isinstance(datum, self._set_cls):
                    item = StatisticSet(datum.sample_count, datum.sum, datum.min, datum.max)
                    _Arrays._add(arrays.set_times, arrays.sets, t, item)
                elif isinstance(datum, self._value_cls):
                    _Arrays._add(arrays.value_times, arrays.values, t, float(datum.value))
            self._seen[key] = (ident, upto)

    def samples(self, account: str, region: str, metric: MetricId, unit: str | None, start: float, end: float) -> Samples:
        units = self._series.get((account, region), {}).get(metric, {})
        chosen = [units[unit]] if unit and unit in units else ([] if unit else list(units.values()))
        values: list[float] = []
        sets: list[StatisticSet] = []
        for a in chosen:
            values += a.values[bisect_left(a.value_times, start) : bisect_left(a.value_times, end)]
            sets += a.sets[bisect_left(a.set_times, start) : bisect_left(a.set_times, end)]
        return Samples(tuple(values), tuple(sets))
