"""CloudWatch alarms on the local cloud: evaluated as their periods close, with AWS's history,
describe-alarms fields and `CloudWatch Alarm State Change` events (observed through an
EventBridge rule with an SQS target)."""

from __future__ import annotations

import json
import time

import pytest
from botocore.exceptions import ClientError

PERIOD = 10
WAIT = 3 * PERIOD  # a 10 s alarm must change within about one period (plus a margin)


@pytest.fixture
def cw(cloud):
    return cloud.client("cloudwatch")


@pytest.fixture
def state_changes(cloud, uid):
    """An SQS queue receiving the alarm state-change events of this test's alarms."""
    sqs, events = cloud.client("sqs"), cloud.client("events")
    url = sqs.create_queue(QueueName=f"alarm-events-{uid}")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    pattern = {
        "source": ["aws.cloudwatch"],
        "detail-type": ["CloudWatch Alarm State Change"],
        "detail": {"alarmName": [{"prefix": f"alarm-{uid}"}]},
    }
    events.put_rule(Name=f"alarm-events-{uid}", EventPattern=json.dumps(pattern))
    events.put_targets(Rule=f"alarm-events-{uid}", Targets=[{"Id": "queue", "Arn": arn}])
    received: list[dict] = []

    def wait_for(count: int, timeout: float = WAIT) -> list[dict]:
        deadline = time.time() + timeout
        while len(received) < count and time.time() < deadline:
            for msg in sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1).get(
                "Messages", []
            ):
                received.append(json.loads(msg["Body"]))
                sqs.delete_message(QueueUrl=url, ReceiptHandle=msg["ReceiptHandle"])
        return received

    yield wait_for
    events.remove_targets(Rule=f"alarm-events-{uid}", Ids=["queue"])
    events.delete_rule(Name=f"alarm-events-{uid}")
    sqs.delete_queue(QueueUrl=url)


def alarm_of(cw, name: str) -> dict:
    return cw.describe_alarms(AlarmNames=[name])["MetricAlarms"][0]


def wait_for_state(cw, name: str, state: str, timeout: float = WAIT) -> dict:
    deadline = time.time() + timeout
    while True:
        alarm = alarm_of(cw, name)
        if alarm["StateValue"] == state or time.time() > deadline:
            return alarm
        time.sleep(0.2)


def simple_alarm(cw, name: str, namespace: str, **overrides) -> None:
    params = dict(
        AlarmName=name,
        AlarmDescription="errors of the test service",
        Namespace=namespace,
        MetricName="Errors",
        Dimensions=[{"Name": "Service", "Value": "api"}],
        Statistic="Sum",
        Period=PERIOD,
        EvaluationPeriods=1,
        Threshold=3,
        ComparisonOperator="GreaterThanOrEqualToThreshold",
    )
    params.update(overrides)
    cw.put_metric_alarm(**params)


def put_errors(cw, namespace: str, value: float) -> None:
    cw.put_metric_data(
        Namespace=namespace,
        MetricData=[
            {
                "MetricName": "Errors",
                "Value": value,
                "Dimensions": [{"Name": "Service", "Value": "api"}],
                "StorageResolution": 1,
            }
        ],
    )


def test_given_a_10s_alarm_when_errors_breach_then_clear_then_it_goes_insufficient_alarm_ok_with_history_and_events(
    cw, uid, state_changes
):
    name, namespace = f"alarm-{uid}", f"LocalcloudTest/{uid}"
    simple_alarm(cw, name, namespace)
    created = alarm_of(cw, name)
    assert created["StateValue"] == "INSUFFICIENT_DATA"
    assert created["StateReason"] == "Unchecked: Initial alarm creation"

    put_errors(cw, namespace, 5)
    alarmed = wait_for_state(cw, name, "ALARM")
    assert alarmed["StateValue"] == "ALARM"
    assert alarmed["StateReason"].startswith("Threshold Crossed: 1 out of the last 1 datapoints [5.0 (")
    assert "greater than or equal to the threshold (3.0)" in alarmed["StateReason"]
    assert json.loads(alarmed["StateReasonData"])["recentDatapoints"] == [5.0]
    assert alarmed["StateUpdatedTimestamp"] > created["StateUpdatedTimestamp"]

    put_errors(cw, namespace, 1)
    cleared = wait_for_state(cw, name, "OK")
    assert cleared["StateValue"] == "OK"
    assert "was not greater than or equal to the threshold (3.0)" in cleared["StateReason"]

    history = cw.describe_alarm_history(AlarmName=name, HistoryItemType="StateUpdate")["AlarmHistoryItems"]
    assert [h["HistorySummary"] for h in history] == [
        "Alarm updated from ALARM to OK",
        "Alarm updated from INSUFFICIENT_DATA to ALARM",
    ]
    assert json.loads(history[0]["HistoryData"])["newState"]["stateValue"] == "OK"

    events = state_changes(2)
    assert [(e["detail"]["previousState"]["value"], e["detail"]["state"]["value"]) for e in events] == [
        ("INSUFFICIENT_DATA", "ALARM"),
        ("ALARM", "OK"),
    ]
    first = events[0]
    assert first["source"] == "aws.cloudwatch"
    assert first["detail-type"] == "CloudWatch Alarm State Change"
    assert first["resources"] == [alarmed["AlarmArn"]]
    assert first["detail"]["alarmName"] == name
    assert first["detail"]["state"]["reason"] == alarmed["StateReason"]
    assert json.loads(first["detail"]["state"]["reasonData"])["threshold"] == 3.0
    assert first["detail"]["state"]["timestamp"].endswith("+0000")
    assert first["detail"]["configuration"]["description"] == "errors of the test service"
    assert first["detail"]["configuration"]["metrics"][0]["metricStat"] == {
        "metric": {"dimensions": {"Service": "api"}, "name": "Errors", "namespace": namespace},
        "period": PERIOD,
        "stat": "Sum",
    }


def test_given_an_error_rate_math_alarm_when_the_rate_breaches_then_it_alarms(cw, uid):
    name, namespace = f"alarm-{uid}", f"LocalcloudTest/{uid}"

    def stat(qid: str, metric: str) -> dict:
        return {
            "Id": qid,
            "MetricStat": {
                "Metric": {"Namespace": namespace, "MetricName": metric},
                "Period": PERIOD,
                "Stat": "Sum",
            },
            "ReturnData": False,
        }

    cw.put_metric_alarm(
        AlarmName=name,
        EvaluationPeriods=1,
        Threshold=10,
        ComparisonOperator="GreaterThanThreshold",
        Metrics=[
            {"Id": "rate", "Expression": "errors / requests * 100", "ReturnData": True},
            stat("errors", "Errors"),
            stat("requests", "Requests"),
        ],
    )
    cw.put_metric_data(
        Namespace=namespace,
        MetricData=[{"MetricName": "Errors", "Value": 3}, {"MetricName": "Requests", "Value": 20}],
    )

    alarm = wait_for_state(cw, name, "ALARM")

    assert alarm["StateValue"] == "ALARM"
    assert json.loads(alarm["StateReasonData"])["recentDatapoints"] == [15.0]


def test_given_missing_data_treated_as_breaching_when_no_data_arrives_then_it_alarms(cw, uid):
    name = f"alarm-{uid}"
    simple_alarm(cw, name, f"LocalcloudTest/{uid}", TreatMissingData="breaching")

    alarm = wait_for_state(cw, name, "ALARM")

    assert alarm["StateValue"] == "ALARM"
    assert "missing datapoint was treated as [Breaching]" in alarm["StateReason"]


def test_given_a_user_sets_the_state_then_history_and_event_follow_and_an_update_keeps_the_state(
    cw, uid, state_changes
):
    name, namespace = f"alarm-{uid}", f"LocalcloudTest/{uid}"
    simple_alarm(cw, name, namespace, Period=3600, EvaluationPeriods=1)

    cw.set_alarm_state(
        AlarmName=name, StateValue="ALARM", StateReason="testing the pager", StateReasonData='{"by": "test"}'
    )
    simple_alarm(cw, name, namespace, Period=3600, EvaluationPeriods=1, Threshold=4)

    alarm = alarm_of(cw, name)
    assert (alarm["StateValue"], alarm["StateReason"], alarm["Threshold"]) == (
        "ALARM",
        "testing the pager",
        4.0,
    )
    kinds = [h["HistoryItemType"] for h in cw.describe_alarm_history(AlarmName=name)["AlarmHistoryItems"]]
    assert kinds == ["ConfigurationUpdate", "StateUpdate", "ConfigurationUpdate"]
    [event] = state_changes(1, timeout=10)
    assert event["detail"]["state"]["value"] == "ALARM"
    assert event["detail"]["state"]["reasonData"] == '{"by": "test"}'
    assert event["detail"]["previousState"]["value"] == "INSUFFICIENT_DATA"


BASE = dict(
    Namespace="LocalcloudTest",
    MetricName="Errors",
    Statistic="Sum",
    Period=60,
    EvaluationPeriods=1,
    Threshold=1,
    ComparisonOperator="GreaterThanThreshold",
)


@pytest.mark.parametrize(
    "change,field",
    [
        ({"Period": 45}, "Period"),
        ({"ExtendedStatistic": "p99"}, "ExtendedStatistic"),
        ({"Statistic": None}, "Statistic"),
        ({"DatapointsToAlarm": 2}, "DatapointsToAlarm"),
        ({"ComparisonOperator": "GreaterThan"}, "ComparisonOperator"),
        ({"TreatMissingData": "zero"}, "TreatMissingData"),
        (
            {
                "Namespace": None,
                "MetricName": None,
                "Statistic": None,
                "Period": None,
                "Metrics": [
                    {"Id": "e1", "Expression": "m1 / (m2", "ReturnData": True},
                    {
                        "Id": "m1",
                        "MetricStat": {
                            "Metric": {"Namespace": "N", "MetricName": "A"},
                            "Period": 60,
                            "Stat": "Sum",
                        },
                        "ReturnData": False,
                    },
                ],
            },
            "Expression",
        ),
    ],
)
def test_given_a_malformed_alarm_when_put_then_cloudwatch_refuses_it_with_validation_error(
    cw, uid, change, field
):
    params = {k: v for k, v in {**BASE, "AlarmName": f"alarm-{uid}", **change}.items() if v is not None}

    with pytest.raises(ClientError) as refused:
        cw.put_metric_alarm(**params)

    assert refused.value.response["Error"]["Code"] == "ValidationError"
    assert field in refused.value.response["Error"]["Message"]
    assert cw.describe_alarms(AlarmNames=[f"alarm-{uid}"])["MetricAlarms"] == []


def test_given_the_pinned_moto_then_the_alarm_and_datapoint_attributes_the_evaluator_reads_are_there():
    """The hooks and requires are checked by test_moto_contract; this checks the attributes of moto's
    Alarm and MetricDatum objects that localcloud.alarms reads, on a backend of its own."""
    from datetime import UTC, datetime, timedelta

    from moto.cloudwatch.models import CloudWatchBackend

    from localcloud.alarms import moto_patches
    from localcloud.alarms.evaluation import MetricId
    from localcloud.alarms.metric_index import SeriesIndex

    backend = CloudWatchBackend("us-east-1", "000000000000")
    backend.put_metric_alarm(
        name="contract",
        namespace="N",
        metric_name="M",
        comparison_operator="GreaterThanThreshold",
        evaluation_periods=1,
        period=60,
        threshold=1.0,
        statistic="Sum",
        description="d",
        dimensions=[{"Name": "A", "Value": "b"}],
        alarm_actions=[],
    )
    backend.put_metric_data(
        "N", [{"MetricName": "M", "Value": 2.0, "Dimensions": [{"Name": "A", "Value": "b"}]}]
    )
    backend.put_metric_data(
        "N",
        [
            {
                "MetricName": "M",
                "StatisticValues": {"SampleCount": 2, "Sum": 4, "Minimum": 1, "Maximum": 3},
                "Dimensions": [{"Name": "A", "Value": "b"}],
            }
        ],
    )
    alarm = backend.alarms["contract"]

    definition = moto_patches.alarm_definition(alarm)
    index = SeriesIndex()
    index.refresh("000000000000", "us-east-1", backend)
    now = datetime.now(UTC)
    samples = index.samples(
        "000000000000",
        "us-east-1",
        MetricId("N", "M", (("A", "b"),)),
        None,
        (now - timedelta(minutes=1)).timestamp(),
        (now + timedelta(minutes=1)).timestamp(),
    )

    assert definition.returned.metric == MetricId("N", "M", (("A", "b"),))
    assert (samples.values, samples.sample_count) == ((2.0,), 3)
    assert {
        "state_value",
        "state_reason",
        "state_reason_data",
        "state_updated_timestamp",
        "history",
        "region_name",
        "alarm_arn",
    } <= set(vars(alarm))
