"""The local cloud's telemetry folds single values per metric and second before putting them:
counts as statistic sets, durations and latencies as Values/Counts so that percentiles stay
computable (CloudWatch computes them from values, not from a spread-out statistic set)."""

from __future__ import annotations

from datetime import UTC, datetime

from localcloud.telemetry import MAX_VALUES_PER_DATUM, aggregate

SECOND = datetime(2026, 12, 2, 10, 0, 0, tzinfo=UTC)
DIMS = [{"Name": "FunctionName", "Value": "f"}]


def datum(name: str, value: float, unit: str, ms: int = 0) -> dict:
    return {"MetricName": name, "Dimensions": DIMS, "Value": value, "Unit": unit, "Timestamp": SECOND.replace(microsecond=ms * 1000)}


def test_given_counts_and_durations_in_one_second_when_aggregated_then_counts_are_sets_and_durations_values():
    # GIVEN three invocations (one error) with three durations in the same second
    data = [datum("Invocations", 1.0, "Count", i) for i in range(3)]
    data += [datum("Errors", v, "Count") for v in (0.0, 1.0, 0.0)]
    data += [datum("Duration", v, "Milliseconds") for v in (12.5, 30.0, 12.5)]
    # WHEN aggregated
    out = {d["MetricName"]: d for d in aggregate(data)}
    # THEN counts are statistic sets, and the durations keep their values with counts
    assert out["Invocations"]["StatisticValues"] == {"SampleCount": 3, "Sum": 3.0, "Minimum": 1.0, "Maximum": 1.0}
    assert out["Errors"]["StatisticValues"] == {"SampleCount": 3, "Sum": 1.0, "Minimum": 0.0, "Maximum": 1.0}
    assert (out["Duration"]["Values"], out["Duration"]["Counts"]) == ([12.5, 30.0], [2.0, 1.0])
    assert all(d["Timestamp"] == SECOND for d in out.values())


def test_given_many_distinct_latencies_when_aggregated_then_no_datum_carries_more_than_aws_allows():
    data = [datum("Latency", float(v), "Milliseconds") for v in range(400)]
    out = aggregate(data)
    assert all(len(d["Values"]) <= MAX_VALUES_PER_DATUM for d in out)
    assert sorted(v for d in out for v in d["Values"]) == [float(v) for v in range(400)]


def test_given_emf_lines_into_an_aws_namespace_and_into_the_apps_when_read_then_only_the_apps_metrics_come_out():
    """GIVEN a function's log lines in Embedded Metric Format, one declaring ``AWS/Lambda`` (forging
    another function's Errors) and one its own namespace WHEN the runner derives metrics from them
    THEN only the app's namespace gives a metric: AWS's namespaces are not a customer's to write."""
    import json

    from localcloud.lambda_runner.telemetry import emf_metrics

    def line(namespace: str) -> str:
        return json.dumps({
            "_aws": {"Timestamp": 1764669600000, "CloudWatchMetrics": [
                {"Namespace": namespace, "Dimensions": [["FunctionName"]], "Metrics": [{"Name": "Errors", "Unit": "Count"}]},
            ]},
            "FunctionName": "someone-elses-function",
            "Errors": 100,
        })

    out = emf_metrics([line("AWS/Lambda"), line("Notes")])

    assert [namespace for namespace, _ in out] == ["Notes"]
    assert out[0][1]["Value"] == 100.0
