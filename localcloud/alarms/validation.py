"""PutMetricAlarm input -> AlarmDefinition, refusing what CloudWatch refuses (pure).

The input is a mapping shaped like the PutMetricAlarm request (``AlarmName``, ``Period``,
``Metrics`` with ``MetricStat``/``Expression`` ...). The same function turns a stored alarm back
into a definition for evaluation, so the put-time checks and the evaluator cannot disagree.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from . import expressions
from .evaluation import (
    BAND_COMPARISONS,
    COMPARISONS,
    STATISTICS,
    TREAT_MISSING_DATA,
    AlarmDefinition,
    MetricId,
    Query,
    percentile_of,
    single_metric_query,
)

QUERY_ID = re.compile(r"[a-z][a-zA-Z0-9_]*")
ONE_DAY = 86_400
SEVEN_DAYS = 604_800


class InvalidAlarm(ValueError):
    """CloudWatch would answer ValidationError with this message."""


def _int(spec: Mapping[str, Any], key: str, where: str = "") -> int | None:
    value = spec.get(key)
    if value is None or value == "":
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise InvalidAlarm(f"{where}{key} must be an integer, got {value!r}.") from None
    if number != int(number):
        raise InvalidAlarm(f"{where}{key} must be an integer, got {value!r}.")
    return int(number)


def check_period(period: int | None, where: str = "Period") -> int:
    if period is None:
        raise InvalidAlarm(f"{where} is required.")
    if period <= 0 or (period not in (10, 20, 30) and period % 60 != 0):
        raise InvalidAlarm(f"{where} ({period}) must be 10, 20, 30 or a multiple of 60 seconds.")
    return period


def check_stat(stat: Any, where: str) -> str:
    if stat in STATISTICS:
        return stat
    p = percentile_of(stat) if isinstance(stat, str) else None
    if p is None or not 0 <= p <= 100:
        raise InvalidAlarm(
            f"{where} {stat!r} is not supported: use one of {', '.join(STATISTICS)} or a percentile "
            "such as p90 or p99.9."
        )
    return stat


def _dimensions(raw: Any, where: str) -> tuple[tuple[str, str], ...]:
    if raw in (None, ""):
        return ()
    if not isinstance(raw, Sequence) or isinstance(raw, str):
        raise InvalidAlarm(f"{where} must be a list of Name/Value pairs.")
    pairs: dict[str, str] = {}
    for d in raw:
        name = d.get("Name") if isinstance(d, Mapping) else None
        value = d.get("Value") if isinstance(d, Mapping) else None
        if not name or value is None:
            raise InvalidAlarm(f"{where}: every dimension needs a Name and a Value.")
        if name in pairs:
            raise InvalidAlarm(f"{where}: dimension {name!r} is given twice.")
        pairs[str(name)] = str(value)
    if len(pairs) > 30:
        raise InvalidAlarm(f"{where}: at most 30 dimensions.")
    return tuple(sorted(pairs.items()))


def _metric_id(metric: Any, where: str) -> MetricId:
    if not isinstance(metric, Mapping) or not metric.get("MetricName") or not metric.get("Namespace"):
        raise InvalidAlarm(f"{where}.Metric needs a Namespace and a MetricName.")
    return MetricId(
        str(metric["Namespace"]),
        str(metric["MetricName"]),
        _dimensions(metric.get("Dimensions"), f"{where}.Metric.Dimensions"),
    )


def _queries(raw: Any) -> tuple[tuple[Query, ...], int]:
    if not isinstance(raw, Sequence) or isinstance(raw, str) or not raw:
        raise InvalidAlarm("Metrics must be a non-empty list of metric data queries.")
    if len(raw) > 20:
        raise InvalidAlarm("Metrics: an alarm may have at most 20 metric data queries.")
    queries: list[Query] = []
    periods: set[int] = set()
    for n, q in enumerate(raw, start=1):
        where = f"Metrics.member.{n}"
        if not isinstance(q, Mapping):
            raise InvalidAlarm(f"{where} must be a metric data query.")
        qid = q.get("Id")
        if not isinstance(qid, str) or not QUERY_ID.fullmatch(qid) or len(qid) > 255:
            raise InvalidAlarm(
                f"{where}.Id {qid!r} must start with a lowercase letter and hold only letters, digits and _."
            )
        has_stat, has_expr = q.get("MetricStat") is not None, q.get("Expression") not in (None, "")
        if has_stat == has_expr:
            raise InvalidAlarm(f"{where} ({qid}) must have exactly one of MetricStat and Expression.")
        return_data = q.get("ReturnData")
        return_data = True if return_data is None else return_data in (True, "true", "True", 1)
        if has_stat:
            ms = q["MetricStat"]
            if not isinstance(ms, Mapping):
                raise InvalidAlarm(f"{where}.MetricStat must be a structure.")
            period = check_period(_int(ms, "Period", f"{where}.MetricStat."), f"{where}.MetricStat.Period")
            periods.add(period)
            queries.append(
                Query(
                    id=qid,
                    metric=_metric_id(ms.get("Metric"), f"{where}.MetricStat"),
                    stat=check_stat(ms.get("Stat"), f"{where}.MetricStat.Stat"),
                    period=period,
                    unit=ms.get("Unit") or None,
                    label=q.get("Label") or None,
                    return_data=return_data,
                )
            )
        else:
            try:
                expressions.parse(q["Expression"])
            except expressions.ExpressionError as e:
                raise InvalidAlarm(f"{where}.Expression {q['Expression']!r} is not valid: {e}.") from None
            period = _int(q, "Period", f"{where}.")
            if period is not None:
                periods.add(check_period(period, f"{where}.Period"))
            queries.append(
                Query(
                    id=qid, expression=q["Expression"], label=q.get("Label") or None, return_data=return_data
                )
            )
    ids = [q.id for q in queries]
    if len(set(ids)) != len(ids):
        raise InvalidAlarm("Metrics: every query Id must be unique.")
    returned = [q.id for q in queries if q.return_data]
    if len(returned) != 1:
        raise InvalidAlarm(
            f"Metrics: exactly one query must have ReturnData true (the one the alarm watches); got {len(returned)}."
        )
    _check_references(queries)
    if not periods:
        raise InvalidAlarm("Metrics: at least one query needs a MetricStat with a Period.")
    if len(periods) > 1:
        raise InvalidAlarm(
            f"Metrics: all metrics of an alarm must use the same period, got {sorted(periods)}."
        )
    return tuple(queries), periods.pop()


def _check_references(queries: list[Query]) -> None:
    by_id = {q.id: q for q in queries}
    graph: dict[str, set[str]] = {}
    for q in queries:
        if q.expression is None:
            continue
        refs = expressions.references(expressions.parse(q.expression))
        unknown = sorted(refs - by_id.keys())
        if unknown:
            raise InvalidAlarm(
                f"Metrics: expression {q.expression!r} ({q.id}) refers to unknown id(s) {', '.join(unknown)}."
            )
        graph[q.id] = refs
    state: dict[str, int] = {}

    def visit(node: str) -> None:
        if state.get(node) == 2:
            return
        if state.get(node) == 1:
            raise InvalidAlarm(f"Metrics: expression {node} refers to itself (a cycle).")
        state[node] = 1
        for ref in graph.get(node, ()):
            visit(ref)
        state[node] = 2

    for node in graph:
        visit(node)


def parse_alarm(spec: Mapping[str, Any], arn: str) -> AlarmDefinition:
    """Validate a PutMetricAlarm request (or a stored alarm) and return its definition."""
    name = spec.get("AlarmName")
    if not isinstance(name, str) or not name or len(name) > 255:
        raise InvalidAlarm("AlarmName is required (1 to 255 characters).")

    comparison = spec.get("ComparisonOperator")
    if comparison in BAND_COMPARISONS or spec.get("ThresholdMetricId"):
        raise InvalidAlarm(
            f"ComparisonOperator {comparison or ''} with ThresholdMetricId (an anomaly detection band) is not "
            "supported by the local cloud; use a static Threshold with GreaterThanThreshold, "
            "GreaterThanOrEqualToThreshold, LessThanThreshold or LessThanOrEqualToThreshold."
        )
    if comparison not in COMPARISONS:
        raise InvalidAlarm(
            f"ComparisonOperator {comparison!r} is not valid: use one of {', '.join(COMPARISONS)}."
        )
    threshold = spec.get("Threshold")
    try:
        threshold = float(threshold)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise InvalidAlarm(
            f"Threshold is required for a static threshold alarm, got {threshold!r}."
        ) from None

    n = _int(spec, "EvaluationPeriods")
    if n is None or n < 1:
        raise InvalidAlarm(f"EvaluationPeriods must be at least 1, got {spec.get('EvaluationPeriods')!r}.")
    m = _int(spec, "DatapointsToAlarm")
    if m is None:
        m = n
    if not 1 <= m <= n:
        raise InvalidAlarm(f"DatapointsToAlarm ({m}) must be between 1 and EvaluationPeriods ({n}).")

    treat = spec.get("TreatMissingData") or "missing"
    if treat not in TREAT_MISSING_DATA:
        raise InvalidAlarm(
            f"TreatMissingData {treat!r} is not valid: use one of {', '.join(TREAT_MISSING_DATA)}."
        )
    low = spec.get("EvaluateLowSampleCountPercentile") or None
    if low not in (None, "evaluate", "ignore"):
        raise InvalidAlarm(f"EvaluateLowSampleCountPercentile {low!r} is not valid: use evaluate or ignore.")

    statistic, extended = spec.get("Statistic") or None, spec.get("ExtendedStatistic") or None
    single = any(
        spec.get(k) not in (None, "", [])
        for k in ("MetricName", "Namespace", "Statistic", "ExtendedStatistic", "Dimensions", "Period", "Unit")
    )
    if spec.get("Metrics"):
        if single:
            raise InvalidAlarm(
                "An alarm with Metrics must not also set MetricName, Namespace, Statistic, ExtendedStatistic, "
                "Dimensions, Period or Unit (they go inside each MetricStat)."
            )
        queries, period = _queries(spec["Metrics"])
        stat_shown = None
    else:
        if statistic and extended:
            raise InvalidAlarm("Statistic and ExtendedStatistic are both set: give exactly one of them.")
        if not statistic and not extended:
            raise InvalidAlarm(
                "Give exactly one of Statistic and ExtendedStatistic (or Metrics for a metric math alarm)."
            )
        if statistic and statistic not in STATISTICS:
            raise InvalidAlarm(f"Statistic {statistic!r} is not valid: use one of {', '.join(STATISTICS)}.")
        stat_shown = statistic or check_stat(extended, "ExtendedStatistic")
        if not spec.get("MetricName") or not spec.get("Namespace"):
            raise InvalidAlarm("MetricName and Namespace are required (or Metrics for a metric math alarm).")
        period = check_period(_int(spec, "Period"))
        metric = MetricId(
            str(spec["Namespace"]), str(spec["MetricName"]), _dimensions(spec.get("Dimensions"), "Dimensions")
        )
        queries = (single_metric_query(arn, metric, stat_shown, period, spec.get("Unit") or None),)

    limit = ONE_DAY if period < 3600 else SEVEN_DAYS
    if period * n > limit:
        raise InvalidAlarm(
            f"Period ({period}) multiplied by EvaluationPeriods ({n}) must not exceed {limit} seconds."
        )
    return AlarmDefinition(
        name=name,
        arn=arn,
        period=period,
        evaluation_periods=n,
        datapoints_to_alarm=m,
        comparison=comparison,
        threshold=threshold,
        queries=queries,
        treat_missing_data=treat,
        statistic=stat_shown,
        description=spec.get("AlarmDescription") or None,
        low_sample_count_percentile=low,
        metric_math=bool(spec.get("Metrics")),
    )
