"""CloudWatch metric alarm evaluation, pure: a definition, datapoints per period and a clock in;
a state and its reason out. No moto, no I/O, no threads, so every rule is unit-testable.

The rules follow AWS's "Configuring how CloudWatch alarms treat missing data":

* the evaluator looks at an *evaluation range* wider than EvaluationPeriods (N); here N + 2
  periods, which is what AWS's worked examples use (N = 3, range 5);
* with at least N real datapoints in the range, the N most recent real ones are evaluated and
  TreatMissingData is not consulted;
* with fewer, ``breaching``/``notBreaching`` fill the shortfall (only as many fills as needed);
  ``missing``/``ignore`` decide from the real datapoints alone: M breaching -> ALARM; any
  non-breaching -> OK; otherwise only breaching datapoints, fewer than M: ALARM if the oldest of
  them is at least M periods old ("premature alarm" rule), else INSUFFICIENT_DATA (``missing``)
  or the current state kept (``ignore``);
* with no datapoint at all: INSUFFICIENT_DATA / keep / ALARM / OK for missing / ignore /
  breaching / notBreaching.
"""

from __future__ import annotations

import json
import math
import re
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from . import expressions

OK = "OK"
ALARM = "ALARM"
INSUFFICIENT_DATA = "INSUFFICIENT_DATA"
STATES = (OK, ALARM, INSUFFICIENT_DATA)

STATISTICS = ("SampleCount", "Average", "Sum", "Minimum", "Maximum")
TREAT_MISSING_DATA = ("missing", "ignore", "breaching", "notBreaching")
COMPARISONS: dict[str, tuple[str, Callable[[float, float], bool]]] = {
    "GreaterThanOrEqualToThreshold": ("greater than or equal to", lambda v, t: v >= t),
    "GreaterThanThreshold": ("greater than", lambda v, t: v > t),
    "LessThanThreshold": ("less than", lambda v, t: v < t),
    "LessThanOrEqualToThreshold": ("less than or equal to", lambda v, t: v <= t),
}
# Anomaly-detection operators: they compare against a band from ThresholdMetricId, which needs
# ANOMALY_DETECTION_BAND (a trained model) - refused at put time, see validation.py.
BAND_COMPARISONS = (
    "LessThanLowerOrGreaterThanUpperThreshold",
    "LessThanLowerThreshold",
    "GreaterThanUpperThreshold",
)
PERCENTILE = re.compile(r"p(\d{1,2}(?:\.\d{1,10})?|100(?:\.0+)?)")
EXTRA_RANGE = 2  # evaluation range = EvaluationPeriods + EXTRA_RANGE periods


# ---- definitions ------------------------------------------------------------------------------
@dataclass(frozen=True)
class MetricId:
    namespace: str
    name: str
    dimensions: tuple[tuple[str, str], ...] = ()  # sorted (name, value) pairs


@dataclass(frozen=True)
class Query:
    """One entry of an alarm's ``Metrics`` (a single-metric alarm is one MetricStat query)."""

    id: str
    metric: MetricId | None = None
    stat: str | None = None
    period: int | None = None
    unit: str | None = None
    expression: str | None = None
    label: str | None = None
    return_data: bool = True


@dataclass(frozen=True)
class AlarmDefinition:
    name: str
    arn: str
    period: int
    evaluation_periods: int
    datapoints_to_alarm: int
    comparison: str
    threshold: float
    queries: tuple[Query, ...]
    treat_missing_data: str = "missing"
    statistic: str | None = None  # Statistic or ExtendedStatistic of a single-metric alarm
    description: str | None = None
    low_sample_count_percentile: str | None = None  # EvaluateLowSampleCountPercentile
    metric_math: bool = False

    @property
    def returned(self) -> Query:
        return next(q for q in self.queries if q.return_data)

    @property
    def effective_treat_missing_data(self) -> str:
        """AWS: alarms on AWS/DynamoDB metrics always ignore missing data, whatever the setting."""
        if any(q.metric is not None and q.metric.namespace == "AWS/DynamoDB" for q in self.queries):
            return "ignore"
        return self.treat_missing_data

    @property
    def evaluation_range(self) -> int:
        return self.evaluation_periods + EXTRA_RANGE


def single_metric_query(arn: str, metric: MetricId, stat: str, period: int, unit: str | None) -> Query:
    # AWS shows a generated id for the metric of a single-metric alarm; a stable one here.
    return Query(
        id=str(uuid.uuid5(uuid.NAMESPACE_URL, arn)), metric=metric, stat=stat, period=period, unit=unit
    )


# ---- statistics -------------------------------------------------------------------------------
@dataclass(frozen=True)
class StatisticSet:
    sample_count: float
    sum: float
    minimum: float
    maximum: float


@dataclass(frozen=True)
class Samples:
    """What was put for one metric within one period: raw values and statistic sets."""

    values: tuple[float, ...] = ()
    sets: tuple[StatisticSet, ...] = ()

    @property
    def sample_count(self) -> float:
        return len(self.values) + sum(s.sample_count for s in self.sets)

    def __bool__(self) -> bool:
        return bool(self.values or self.sets)


def percentile_of(stat: str) -> float | None:
    m = PERCENTILE.fullmatch(stat)
    return float(m.group(1)) if m else None


def statistic(stat: str, samples: Samples) -> float | None:
    """The statistic of one period's samples; None when the period has no datapoint."""
    if not samples:
        return None
    count = samples.sample_count
    total = sum(samples.values) + sum(s.sum for s in samples.sets)
    if stat == "SampleCount":
        return float(count)
    if stat == "Sum":
        return float(total)
    if stat == "Average":
        return total / count if count else None
    if stat == "Minimum":
        return min([*samples.values, *(s.minimum for s in samples.sets)])
    if stat == "Maximum":
        return max([*samples.values, *(s.maximum for s in samples.sets)])
    p = percentile_of(stat)
    if p is None:
        raise ValueError(f"unsupported statistic {stat!r}")
    if not samples.values:  # percentiles need raw values; statistic sets do not carry them
        return None
    ordered = sorted(samples.values)
    rank = max(1, math.ceil(p / 100 * len(ordered)))  # nearest-rank
    return ordered[rank - 1]


def low_sample_count(stat: str, count: float) -> bool:
    """AWS: for p in [0.5, 1) fewer than 10/(1-p) samples; for p in (0, 0.5) fewer than 10/p."""
    p = percentile_of(stat)
    if p is None:
        return False
    q = p / 100
    if 0.5 <= q < 1:
        return count < 10 / (1 - q)
    if 0 < q < 0.5:
        return count < 10 / q
    return False


# ---- datapoints per period --------------------------------------------------------------------
@dataclass(frozen=True)
class PeriodValue:
    start: datetime  # UTC, start of the period
    value: float | None  # None: no datapoint in that period
    sample_count: float | None = None


SamplesFor = Callable[[Query, datetime, datetime], Samples]


def period_starts(definition: AlarmDefinition, now: datetime) -> list[datetime]:
    """Starts of the periods in the evaluation range, oldest first; the newest ends at the last
    period boundary at or before ``now`` (periods are aligned to the epoch, as CloudWatch's are)."""
    p = definition.period
    end = math.floor(now.timestamp() / p) * p
    return [datetime.fromtimestamp(end - p * k, UTC) for k in range(definition.evaluation_range, 0, -1)]


def series(definition: AlarmDefinition, now: datetime, samples_for: SamplesFor) -> list[PeriodValue]:
    """The alarm's datapoint for each period of its evaluation range (oldest first)."""
    out: list[PeriodValue] = []
    returned = definition.returned
    node = expressions.parse(returned.expression) if returned.expression else None
    for start in period_starts(definition, now):
        end = datetime.fromtimestamp(start.timestamp() + definition.period, UTC)
        values: dict[str, float | None] = {}
        count: float | None = None
        for q in definition.queries:
            if q.metric is not None and q.stat is not None:
                samples = samples_for(q, start, end)
                values[q.id] = statistic(q.stat, samples)
                if q is returned:
                    count = samples.sample_count if samples else None
        if node is not None:
            values[returned.id] = _math(definition, node, values)
        out.append(PeriodValue(start, values.get(returned.id), count))
    return out


def _math(
    definition: AlarmDefinition, node: expressions.Node, values: dict[str, float | None]
) -> float | None:
    """Evaluate an expression that may refer to other expressions (no cycles: checked at put)."""
    by_id = {q.id: q for q in definition.queries}
    resolved = dict(values)

    def resolve(ident: str, seen: frozenset[str]) -> None:
        q = by_id.get(ident)
        if ident in resolved or q is None or q.expression is None or ident in seen:
            return
        sub = expressions.parse(q.expression)
        for ref in expressions.references(sub):
            resolve(ref, seen | {ident})
        resolved[ident] = expressions.evaluate(sub, resolved)

    for ref in expressions.references(node):
        resolve(ref, frozenset())
    return expressions.evaluate(node, resolved)


# ---- the decision -----------------------------------------------------------------------------
@dataclass(frozen=True)
class Decision:
    state: str | None  # None: keep the current state (TreatMissingData=ignore)
    evaluated: tuple[int, ...] = ()  # indexes (into the range) of the real datapoints evaluated
    breaching: int = 0  # breaching datapoints among those evaluated, fills included
    filled: int = 0  # missing datapoints filled in per TreatMissingData
    kind: str = "threshold"  # threshold | insufficient | ignored | premature


def breaches(comparison: str, value: float, threshold: float) -> bool:
    return COMPARISONS[comparison][1](value, threshold)


def decide(
    values: Sequence[float | None],
    *,
    comparison: str,
    threshold: float,
    evaluation_periods: int,
    datapoints_to_alarm: int,
    treat_missing_data: str = "missing",
) -> Decision:
    """The alarm state for datapoints over the evaluation range (oldest first, None = missing)."""
    n, m = evaluation_periods, datapoints_to_alarm
    real = [(i, v) for i, v in enumerate(values) if v is not None]
    hits = {i: breaches(comparison, v, threshold) for i, v in real}
    if len(real) >= n:
        chosen = [i for i, _ in real[-n:]]
        b = sum(hits[i] for i in chosen)
        return Decision(ALARM if b >= m else OK, tuple(chosen), b)
    fill = n - len(real)
    chosen = tuple(i for i, _ in real)
    b = sum(hits.values())
    if treat_missing_data in ("breaching", "notBreaching"):
        b += fill if treat_missing_data == "breaching" else 0
        return Decision(ALARM if b >= m else OK, chosen, b, fill)
    keep_or = None if treat_missing_data == "ignore" else INSUFFICIENT_DATA
    if not real:
        return Decision(keep_or, kind="ignored" if keep_or is None else "insufficient")
    if b >= m:
        return Decision(ALARM, chosen, b)
    if b < len(real):  # a real non-breaching datapoint: not enough to alarm
        return Decision(OK, chosen, b)
    oldest_age = len(values) - real[0][0]  # 1 = the most recent period
    if oldest_age >= m:
        if keep_or is None:
            return Decision(None, chosen, b, kind="ignored")
        return Decision(ALARM, chosen, b, kind="premature")
    return Decision(keep_or, chosen, b, kind="ignored" if keep_or is None else "insufficient")


# ---- the evaluation, with AWS's reason texts --------------------------------------------------
@dataclass(frozen=True)
class Evaluation:
    state: str
    changed: bool
    reason: str | None = None
    reason_data: str | None = None  # JSON text
    decision: Decision = field(default_factory=lambda: Decision(None))


def evaluate(
    definition: AlarmDefinition, datapoints: Sequence[PeriodValue], current_state: str, now: datetime
) -> Evaluation:
    """Decide the alarm's state from its datapoints over the evaluation range (oldest first)."""
    stat = definition.returned.stat or ""
    if definition.low_sample_count_percentile == "ignore" and any(
        p.value is not None and low_sample_count(stat, p.sample_count or 0) for p in datapoints
    ):
        return Evaluation(current_state, False, decision=Decision(None, kind="ignored"))
    decision = decide(
        [p.value for p in datapoints],
        comparison=definition.comparison,
        threshold=definition.threshold,
        evaluation_periods=definition.evaluation_periods,
        datapoints_to_alarm=definition.datapoints_to_alarm,
        treat_missing_data=definition.effective_treat_missing_data,
    )
    if decision.state is None:
        return Evaluation(current_state, False, decision=decision)
    reason = _reason(definition, datapoints, decision)
    data = _reason_data(definition, datapoints, decision, now)
    return Evaluation(decision.state, decision.state != current_state, reason, data, decision)


def _plural(k: int, word: str) -> str:
    return f"{k} {word}" if k == 1 else f"{k} {word}s"


def _was(k: int) -> str:
    return "was" if k == 1 else "were"


def _reason(definition: AlarmDefinition, datapoints: Sequence[PeriodValue], d: Decision) -> str:
    n, m = definition.evaluation_periods, definition.datapoints_to_alarm
    if d.state == INSUFFICIENT_DATA:
        return f"Insufficient Data: {_plural(n, 'datapoint')} {_was(n)} unknown."
    word = COMPARISONS[definition.comparison][0]
    alarm = d.state == ALARM
    treated = "Breaching" if definition.effective_treat_missing_data == "breaching" else "NonBreaching"
    minimum = (
        f"(minimum {_plural(m, 'datapoint')} for OK -> ALARM transition)"
        if alarm
        else f"(minimum {_plural(n - m + 1, 'datapoint')} for ALARM -> OK transition)"
    )
    if not d.evaluated:
        return (
            f"Threshold Crossed: no datapoints were received for {_plural(n, 'period')} and "
            f"{_plural(d.filled, 'missing datapoint')} {_was(d.filled)} treated as [{treated}]."
        )
    shown = [
        i
        for i in d.evaluated
        if breaches(definition.comparison, datapoints[i].value, definition.threshold) == alarm  # type: ignore[arg-type]
    ]
    listed = ", ".join(f"{_num(datapoints[i].value)} ({_reason_date(datapoints[i].start)})" for i in shown)
    verb = f"{_was(len(shown))} {word}" if alarm else f"{_was(len(shown))} not {word}"
    filled = (
        f" and {_plural(d.filled, 'missing datapoint')} {_was(d.filled)} treated as [{treated}]"
        if d.filled
        else ""
    )
    return (
        f"Threshold Crossed: {len(shown)} out of the last {len(d.evaluated)} datapoints [{listed}] {verb} "
        f"the threshold ({_num(definition.threshold)}){filled} {minimum}."
    )


def _reason_data(
    definition: AlarmDefinition, datapoints: Sequence[PeriodValue], d: Decision, now: datetime
) -> str:
    evaluated = [datapoints[i] for i in d.evaluated]
    data: dict[str, object] = {"version": "1.0", "queryDate": aws_timestamp(now)}
    if evaluated:
        data["startDate"] = aws_timestamp(evaluated[0].start)
    if not definition.metric_math and definition.statistic:
        key = "statistic" if definition.statistic in STATISTICS else "extendedStatistic"
        data[key] = definition.statistic
    if definition.returned.unit:
        data["unit"] = definition.returned.unit
    data["period"] = definition.period
    data["recentDatapoints"] = [p.value for p in evaluated]
    data["threshold"] = definition.threshold
    data["evaluatedDatapoints"] = [
        {
            "timestamp": aws_timestamp(p.start),
            **({"sampleCount": float(p.sample_count)} if p.sample_count is not None else {}),
            "value": p.value,
        }
        for p in reversed(evaluated)
    ]
    return json.dumps(data, separators=(",", ":"))


def _num(value: float | None) -> str:
    return repr(float(value)) if value is not None else "null"


def _reason_date(ts: datetime) -> str:
    return ts.astimezone(UTC).strftime("%d/%m/%y %H:%M:%S")


def aws_timestamp(ts: datetime) -> str:
    """CloudWatch's timestamp style in reason data and events: 2019-10-02T17:04:40.985+0000."""
    ts = ts.astimezone(UTC) if ts.tzinfo else ts.replace(tzinfo=UTC)
    return ts.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ts.microsecond // 1000:03d}+0000"


# ---- what the state-change event says about the alarm ----------------------------------------
def configuration_metrics(definition: AlarmDefinition) -> list[dict[str, object]]:
    """``detail.configuration.metrics`` of a CloudWatch Alarm State Change event."""
    out: list[dict[str, object]] = []
    for q in definition.queries:
        item: dict[str, object] = {"id": q.id}
        if q.expression is not None:
            item["expression"] = q.expression
        if q.label:
            item["label"] = q.label
        if q.metric is not None:
            stat: dict[str, object] = {
                "metric": {
                    "dimensions": dict(q.metric.dimensions),
                    "name": q.metric.name,
                    "namespace": q.metric.namespace,
                },
                "period": q.period,
                "stat": q.stat,
            }
            if q.unit:
                stat["unit"] = q.unit
            item["metricStat"] = stat
        item["returnData"] = q.return_data
        out.append(item)
    return out
