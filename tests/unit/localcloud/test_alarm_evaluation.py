"""The pure alarm evaluation: AWS's documented tables, every TreatMissingData, M of N, statistics,
metric math and put-time validation."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from localcloud.alarms import expressions
from localcloud.alarms.evaluation import (
    ALARM,
    INSUFFICIENT_DATA,
    OK,
    AlarmDefinition,
    MetricId,
    PeriodValue,
    Query,
    Samples,
    StatisticSet,
    configuration_metrics,
    decide,
    evaluate,
    period_starts,
    series,
    single_metric_query,
    statistic,
)
from localcloud.alarms.validation import InvalidAlarm, parse_alarm

THRESHOLD = 5.0
NOW = datetime(2024, 10, 2, 17, 5, 0, 300_000, tzinfo=UTC)
ARN = "arn:aws:cloudwatch:us-east-1:123456789012:alarm:test"
RETAIN = "retain current state"
TREATMENTS = ("missing", "ignore", "breaching", "notBreaching")


def definition(n: int = 3, m: int = 3, treat: str = "missing", **overrides) -> AlarmDefinition:
    metric = MetricId("App", "Errors", (("Service", "api"),))
    fields = dict(
        name="test",
        arn=ARN,
        period=60,
        evaluation_periods=n,
        datapoints_to_alarm=m,
        comparison="GreaterThanThreshold",
        threshold=THRESHOLD,
        queries=(single_metric_query(ARN, metric, "Maximum", 60, None),),
        treat_missing_data=treat,
        statistic="Maximum",
    )
    fields.update(overrides)
    return AlarmDefinition(**fields)


def datapoints(row: str) -> list[PeriodValue]:
    """AWS's notation, oldest first: 0 = not breaching, X = breaching, - = missing."""
    marks = row.split()
    start = NOW.replace(second=0, microsecond=0) - timedelta(minutes=len(marks))
    value = {"0": 1.0, "X": 10.0, "-": None}
    return [
        PeriodValue(start + timedelta(minutes=k), value[mark], None if value[mark] is None else 1.0)
        for k, mark in enumerate(marks)
    ]


# AWS, "Configuring how CloudWatch alarms treat missing data": columns MISSING, IGNORE, BREACHING,
# NOT BREACHING; evaluation range 5.
AWS_TABLE_3_OF_3 = [
    ("0 - X - X", OK, OK, OK, OK),
    ("0 - - - -", OK, OK, OK, OK),
    ("- - - - -", INSUFFICIENT_DATA, RETAIN, ALARM, OK),
    ("0 X X - X", ALARM, ALARM, ALARM, ALARM),
    ("- - X - -", ALARM, RETAIN, ALARM, OK),
]
AWS_TABLE_2_OF_3 = [
    ("0 - X - X", ALARM, ALARM, ALARM, ALARM),
    ("0 0 X 0 X", ALARM, ALARM, ALARM, ALARM),
    ("0 - X - -", OK, OK, ALARM, OK),
    ("- - - - 0", OK, OK, ALARM, OK),
    ("- - - X -", ALARM, RETAIN, ALARM, OK),
]


def table_cases():
    for m, table in ((3, AWS_TABLE_3_OF_3), (2, AWS_TABLE_2_OF_3)):
        for row, *expected in table:
            for treat, want in zip(TREATMENTS, expected, strict=True):
                yield pytest.param(m, row, treat, want, id=f"{m}of3 [{row}] {treat}")


@pytest.mark.parametrize("m,row,treat,expected", list(table_cases()))
@pytest.mark.parametrize("current", [OK, ALARM, INSUFFICIENT_DATA])
def test_given_the_aws_documented_examples_when_evaluated_then_the_state_is_the_documented_one(
    m, row, treat, expected, current
):
    result = evaluate(definition(3, m, treat), datapoints(row), current, NOW)

    if expected == RETAIN:
        assert result.state == current
        assert result.changed is False
    else:
        assert result.state == expected
        assert result.changed is (expected != current)


@pytest.mark.parametrize(
    "row,treat,expected",
    [
        # "the alarm does not go immediately into ALARM state when the data is - - - - X or - - - X -"
        ("- - - - X", "missing", INSUFFICIENT_DATA),
        ("- - - X -", "missing", INSUFFICIENT_DATA),
        ("- - - - X", "ignore", RETAIN),
        ("- - - - X", "breaching", ALARM),
        ("- - - - X", "notBreaching", OK),
        # the oldest breaching datapoint is at least M periods old and nothing more recent is good
        ("X - - - -", "missing", ALARM),
        ("X - - - -", "ignore", RETAIN),
    ],
)
def test_given_intermittent_breaching_data_when_evaluated_then_premature_alarms_are_avoided(
    row, treat, expected
):
    result = evaluate(definition(3, 3, treat), datapoints(row), OK, NOW)

    assert result.state == (OK if expected == RETAIN else expected)
    if expected == RETAIN:
        assert result.changed is False


def test_given_an_aws_dynamodb_metric_when_data_is_missing_then_missing_data_is_always_ignored():
    metric = MetricId("AWS/DynamoDB", "ThrottledRequests", (("TableName", "orders"),))
    d = definition(1, 1, "breaching", queries=(single_metric_query(ARN, metric, "Sum", 60, None),))

    result = evaluate(d, datapoints("- - -"), OK, NOW)

    assert (result.state, result.changed) == (OK, False)


def test_given_enough_real_datapoints_when_some_are_missing_then_treat_missing_data_is_not_consulted():
    states = {evaluate(definition(3, 3, t), datapoints("X - X - X"), OK, NOW).state for t in TREATMENTS}

    assert states == {ALARM}


def test_given_fewer_real_datapoints_than_n_when_breaching_then_only_the_shortfall_is_filled():
    d = decide(
        [1.0, None, 10.0, None, None],
        comparison="GreaterThanThreshold",
        threshold=THRESHOLD,
        evaluation_periods=3,
        datapoints_to_alarm=3,
        treat_missing_data="breaching",
    )

    assert (d.state, d.filled, d.breaching, d.evaluated) == (OK, 1, 2, (0, 2))


@pytest.mark.parametrize(
    "values,m,expected",
    [
        ([1, 10, 1, 10, 1], 2, OK),  # the last three are 1 10 1: one breaching, fewer than M
        ([1, 1, 10, 1, 10], 2, ALARM),
        ([10, 10, 1, 1, 10], 2, OK),
        ([1, 1, 10, 10, 10], 3, ALARM),
        ([10, 10, 10, 10, 1], 3, OK),
        ([10, 1, 10, 10, 10], 1, ALARM),
    ],
)
def test_given_m_of_n_when_all_datapoints_are_present_then_the_last_n_decide(values, m, expected):
    d = decide(
        [float(v) for v in values],
        comparison="GreaterThanThreshold",
        threshold=THRESHOLD,
        evaluation_periods=3,
        datapoints_to_alarm=m,
    )

    assert d.state == expected
    assert d.evaluated == (2, 3, 4)


@pytest.mark.parametrize(
    "comparison,value,breaching",
    [
        ("GreaterThanThreshold", 5.0, False),
        ("GreaterThanThreshold", 5.1, True),
        ("GreaterThanOrEqualToThreshold", 5.0, True),
        ("LessThanThreshold", 5.0, False),
        ("LessThanThreshold", 4.9, True),
        ("LessThanOrEqualToThreshold", 5.0, True),
    ],
)
def test_given_each_comparison_operator_when_at_or_near_the_threshold_then_it_compares_as_named(
    comparison, value, breaching
):
    d = decide([value], comparison=comparison, threshold=5.0, evaluation_periods=1, datapoints_to_alarm=1)

    assert d.state == (ALARM if breaching else OK)


# ---- reasons -------------------------------------------------------------------------------------
def test_given_an_alarm_transition_then_the_reason_reads_like_cloudwatchs():
    result = evaluate(definition(1, 1), datapoints("0 X X"), OK, NOW)

    assert result.state == ALARM
    assert result.reason == (
        "Threshold Crossed: 1 out of the last 1 datapoints [10.0 (02/10/24 17:04:00)] was greater than the "
        "threshold (5.0) (minimum 1 datapoint for OK -> ALARM transition)."
    )
    data = json.loads(result.reason_data)
    assert data["version"] == "1.0"
    assert data["statistic"] == "Maximum"
    assert data["period"] == 60
    assert data["recentDatapoints"] == [10.0]
    assert data["threshold"] == 5.0
    assert data["startDate"] == "2024-10-02T17:04:00.000+0000"
    assert data["queryDate"] == "2024-10-02T17:05:00.300+0000"


def test_given_an_ok_transition_then_the_reason_names_the_minimum_for_alarm_to_ok():
    result = evaluate(definition(3, 2), datapoints("X X 0 0 0"), ALARM, NOW)

    assert result.state == OK
    assert result.reason.startswith(
        "Threshold Crossed: 3 out of the last 3 datapoints [1.0 (02/10/24 17:02:00)"
    )
    assert result.reason.endswith(
        "were not greater than the threshold (5.0) (minimum 2 datapoints for ALARM -> OK transition)."
    )


def test_given_no_data_and_missing_then_the_reason_says_insufficient_data():
    result = evaluate(definition(3, 3), datapoints("- - - - -"), OK, NOW)

    assert (result.state, result.reason) == (
        INSUFFICIENT_DATA,
        "Insufficient Data: 3 datapoints were unknown.",
    )


def test_given_no_data_and_breaching_then_the_reason_says_missing_datapoints_were_treated_as_breaching():
    result = evaluate(definition(2, 2, "breaching"), datapoints("- - - -"), OK, NOW)

    assert result.state == ALARM
    assert "2 missing datapoints were treated as [Breaching]" in result.reason


# ---- statistics ----------------------------------------------------------------------------------
SAMPLES = Samples(values=(1.0, 2.0, 3.0, 4.0), sets=(StatisticSet(2, 20.0, 5.0, 15.0),))


@pytest.mark.parametrize(
    "stat,expected",
    [("SampleCount", 6.0), ("Sum", 30.0), ("Average", 5.0), ("Minimum", 1.0), ("Maximum", 15.0)],
)
def test_given_values_and_statistic_sets_when_aggregated_then_each_statistic_counts_both(stat, expected):
    assert statistic(stat, SAMPLES) == expected


@pytest.mark.parametrize(
    "stat,expected", [("p50", 50.0), ("p90", 90.0), ("p99", 99.0), ("p99.5", 100.0), ("p100", 100.0)]
)
def test_given_raw_values_when_a_percentile_is_asked_then_it_is_the_nearest_rank(stat, expected):
    samples = Samples(values=tuple(float(v) for v in range(100, 0, -1)))

    assert statistic(stat, samples) == expected


def test_given_no_samples_or_only_statistic_sets_then_percentiles_and_stats_have_no_datapoint():
    assert statistic("Sum", Samples()) is None
    assert statistic("p90", Samples(sets=(StatisticSet(3, 3.0, 1.0, 1.0),))) is None


def test_given_a_percentile_alarm_that_ignores_low_sample_counts_when_samples_are_few_then_the_state_is_kept():
    d = definition(1, 1, statistic="p99", low_sample_count_percentile="ignore")
    d = AlarmDefinition(
        **{**d.__dict__, "queries": (single_metric_query(ARN, MetricId("A", "B"), "p99", 60, None),)}
    )
    points = [PeriodValue(NOW - timedelta(minutes=1), 50.0, 10.0)]  # p99 wants 1000 samples

    result = evaluate(d, points, OK, NOW)

    assert (result.state, result.changed) == (OK, False)


# ---- periods and metric math ---------------------------------------------------------------------
def test_given_now_just_after_a_boundary_then_the_range_ends_at_that_boundary_aligned_to_the_period():
    starts = period_starts(definition(3, 3, period=10), datetime(2024, 1, 1, 0, 0, 20, 300_000, tzinfo=UTC))

    assert [s.strftime("%H:%M:%S") for s in starts] == [
        "23:59:30",
        "23:59:40",
        "23:59:50",
        "00:00:00",
        "00:00:10",
    ]


def math_definition(expression: str) -> AlarmDefinition:
    def stat(qid: str, name: str) -> Query:
        return Query(id=qid, metric=MetricId("App", name), stat="Sum", period=60, return_data=False)

    return AlarmDefinition(
        name="math",
        arn=ARN,
        period=60,
        evaluation_periods=1,
        datapoints_to_alarm=1,
        comparison="GreaterThanThreshold",
        threshold=10.0,
        queries=(stat("m1", "Errors"), stat("m2", "Requests"), Query(id="e1", expression=expression)),
        metric_math=True,
    )


def fake_store(per_metric: dict[str, dict[int, list[float]]]):
    """samples_for over {metric name: {minute offset from the range end: values}}."""
    end = NOW.replace(second=0, microsecond=0)

    def samples_for(query: Query, start: datetime, stop: datetime) -> Samples:
        minute = int((end - start).total_seconds() // 60)
        return Samples(values=tuple(per_metric.get(query.metric.name, {}).get(minute, [])))

    return samples_for


def test_given_an_error_rate_expression_when_evaluated_then_each_period_is_computed_from_its_metrics():
    store = fake_store({"Errors": {1: [3.0, 2.0], 2: [1.0]}, "Requests": {1: [20.0], 2: [50.0], 3: [10.0]}})

    points = series(math_definition("m1/m2*100"), NOW, store)

    assert [p.value for p in points] == [None, 2.0, 25.0]  # range: EvaluationPeriods (1) + 2


def test_given_a_zero_denominator_then_the_expression_has_no_datapoint():
    points = series(
        math_definition("(m1 + 1) / m2"), NOW, fake_store({"Errors": {1: [3.0]}, "Requests": {1: [0.0]}})
    )

    assert points[-1].value is None


def test_given_configuration_metrics_then_they_have_the_event_shape():
    metrics = configuration_metrics(math_definition("m1/m2*100"))

    assert metrics[2] == {"id": "e1", "expression": "m1/m2*100", "returnData": True}
    assert metrics[0]["metricStat"] == {
        "metric": {"dimensions": {}, "name": "Errors", "namespace": "App"},
        "period": 60,
        "stat": "Sum",
    }


# ---- expressions ---------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "text,expected",
    [
        ("m1/m2*100", 25.0),
        ("m1 + m2 * 2", 9.0),
        ("(m1 + m2) * 2", 10.0),
        ("-m1 + 10", 9.0),
        ("m2 ^ 2 / 4", 4.0),
        ("2 ^ 3 ^ 2", 512.0),
        ("1.5e2 - m2", 146.0),
    ],
)
def test_given_simple_arithmetic_when_evaluated_then_precedence_is_the_usual_one(text, expected):
    assert expressions.evaluate(expressions.parse(text), {"m1": 1.0, "m2": 4.0}) == expected


@pytest.mark.parametrize(
    "text",
    [
        "m1/(m2",
        "m1 +",
        "SUM(METRICS())",
        "__import__('os')",
        "m1 ; m2",
        "",
        "m1 m2",
        "M1 + 1",
        "(" * 100 + "m1" + ")" * 100,
    ],
)
def test_given_anything_but_simple_arithmetic_when_parsed_then_it_is_refused(text):
    with pytest.raises(expressions.ExpressionError):
        expressions.parse(text)


# ---- validation ----------------------------------------------------------------------------------
GOOD = {
    "AlarmName": "errors",
    "MetricName": "Errors",
    "Namespace": "App",
    "Statistic": "Sum",
    "Period": 60,
    "EvaluationPeriods": 3,
    "DatapointsToAlarm": 2,
    "Threshold": 1,
    "ComparisonOperator": "GreaterThanOrEqualToThreshold",
    "Dimensions": [{"Name": "Service", "Value": "api"}],
}
MATH = {
    "AlarmName": "error-rate",
    "EvaluationPeriods": 1,
    "Threshold": 5,
    "ComparisonOperator": "GreaterThanThreshold",
    "Metrics": [
        {"Id": "e1", "Expression": "m1/m2*100", "ReturnData": True},
        {
            "Id": "m1",
            "MetricStat": {
                "Metric": {"Namespace": "App", "MetricName": "Errors"},
                "Period": 10,
                "Stat": "Sum",
            },
            "ReturnData": False,
        },
        {
            "Id": "m2",
            "MetricStat": {
                "Metric": {"Namespace": "App", "MetricName": "Requests"},
                "Period": 10,
                "Stat": "Sum",
            },
            "ReturnData": False,
        },
    ],
}


def test_given_a_good_single_metric_alarm_then_it_parses_with_defaults():
    d = parse_alarm(GOOD, ARN)

    assert (d.period, d.evaluation_periods, d.datapoints_to_alarm, d.treat_missing_data) == (
        60,
        3,
        2,
        "missing",
    )
    assert d.returned.metric == MetricId("App", "Errors", (("Service", "api"),))


def test_given_a_good_metric_math_alarm_then_its_period_comes_from_the_metric_stats():
    d = parse_alarm(MATH, ARN)

    assert (d.period, d.returned.id, d.metric_math) == (10, "e1", True)


def with_(base: dict, **changes) -> dict:
    out = {**base, **changes}
    return {k: v for k, v in out.items() if v is not None}


def math_with(expression: str | None = None, **query_changes) -> dict:
    metrics = [dict(q) for q in MATH["Metrics"]]
    if expression is not None:
        metrics[0]["Expression"] = expression
    metrics[0].update(query_changes)
    return {**MATH, "Metrics": metrics}


@pytest.mark.parametrize(
    "spec,field",
    [
        (with_(GOOD, Period=45), "Period"),
        (with_(GOOD, Period=0), "Period"),
        (with_(GOOD, ExtendedStatistic="p99"), "ExtendedStatistic"),
        (with_(GOOD, Statistic=None), "Statistic"),
        (with_(GOOD, Statistic="Median"), "Statistic"),
        (with_(GOOD, Statistic=None, ExtendedStatistic="tm99"), "ExtendedStatistic"),
        (with_(GOOD, DatapointsToAlarm=4), "DatapointsToAlarm"),
        (with_(GOOD, EvaluationPeriods=0), "EvaluationPeriods"),
        (with_(GOOD, ComparisonOperator="GreaterThan"), "ComparisonOperator"),
        (with_(GOOD, ComparisonOperator="LessThanLowerOrGreaterThanUpperThreshold"), "ComparisonOperator"),
        (with_(GOOD, TreatMissingData="zero"), "TreatMissingData"),
        (with_(GOOD, Threshold=None), "Threshold"),
        (with_(GOOD, EvaluationPeriods=1441, DatapointsToAlarm=1), "EvaluationPeriods"),
        (with_(GOOD, MetricName=None), "MetricName"),
        (math_with("m1/(m2"), "Expression"),
        (math_with("m1/m3"), "unknown id"),
        (math_with("e1 + 1"), "cycle"),
        (math_with(ReturnData=False), "ReturnData"),
        ({**MATH, "Period": 60}, "Metrics"),
        (
            {
                **MATH,
                "Metrics": MATH["Metrics"][:2]
                + [{**MATH["Metrics"][2], "MetricStat": {**MATH["Metrics"][2]["MetricStat"], "Period": 60}}],
            },
            "same period",
        ),
    ],
)
def test_given_a_malformed_alarm_when_put_then_it_is_refused_naming_the_field(spec, field):
    with pytest.raises(InvalidAlarm) as refused:
        parse_alarm(spec, ARN)

    assert field in str(refused.value)
