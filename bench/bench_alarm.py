"""Bench: seconds from the end of a breaching period to the `CloudWatch Alarm State Change` event,
on an in-process local cloud. Target: <= 1 s.

A 10 s alarm (1 of 1, Sum >= 3) watches a metric; each round puts a breaching datapoint, then a
clearing one, and measures, for both transitions (-> ALARM, -> OK), the time from the end of the
period holding the datapoint to the event's arrival in an SQS queue (an EventBridge rule's
target). ``--extra-alarms`` other 10 s alarms are evaluated at the same boundaries, as load.

    .venv/bin/python bench/bench_alarm.py [--rounds 3] [--extra-alarms 100]
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing

from bench.smoke import parse  # noqa: E402
from localcloud.cloud import LocalCloud  # noqa: E402

PERIOD = 10
NAMESPACE = "Bench/Alarms"


def setup(cloud: LocalCloud, extra: int) -> str:
    cw, sqs, events = cloud.client("cloudwatch"), cloud.client("sqs"), cloud.client("events")
    url = sqs.create_queue(QueueName="bench-alarm-events")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    pattern = {"source": ["aws.cloudwatch"], "detail": {"alarmName": ["bench-alarm"]}}
    events.put_rule(Name="bench-alarm", EventPattern=json.dumps(pattern))
    events.put_targets(Rule="bench-alarm", Targets=[{"Id": "q", "Arn": arn}])
    for i in range(extra + 1):
        cw.put_metric_alarm(
            AlarmName="bench-alarm" if i == 0 else f"bench-extra-{i}",
            Namespace=NAMESPACE,
            MetricName="Errors",
            Dimensions=[{"Name": "Shard", "Value": str(i)}],
            Statistic="Sum",
            Period=PERIOD,
            EvaluationPeriods=1,
            Threshold=3,
            ComparisonOperator="GreaterThanOrEqualToThreshold",
        )
    return url


def put(cloud: LocalCloud, value: float) -> float:
    """Put a datapoint for shard 0 now; return the end of the period it falls in."""
    now = time.time()
    if now % PERIOD > PERIOD - 1:  # too close to a boundary: let it pass, so the period is unambiguous
        time.sleep(PERIOD - now % PERIOD + 0.05)
        now = time.time()
    cloud.client("cloudwatch").put_metric_data(
        Namespace=NAMESPACE,
        MetricData=[
            {"MetricName": "Errors", "Value": value, "Dimensions": [{"Name": "Shard", "Value": "0"}]}
        ],
    )
    return math.floor(now / PERIOD) * PERIOD + PERIOD


def wait_event(cloud: LocalCloud, url: str, state: str, timeout: float = 3 * PERIOD) -> float:
    sqs = cloud.client("sqs")
    deadline = time.time() + timeout
    while time.time() < deadline:
        for msg in sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", []):
            arrived = time.time()
            sqs.delete_message(QueueUrl=url, ReceiptHandle=msg["ReceiptHandle"])
            if json.loads(msg["Body"])["detail"]["state"]["value"] == state:
                return arrived
        time.sleep(0.02)
    raise TimeoutError(f"no {state} event within {timeout} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--extra-alarms", type=int, default=100)
    args = parse(parser, rounds=1, extra_alarms=1)

    with tempfile.TemporaryDirectory() as data, LocalCloud(port=0, data_dir=data) as cloud:
        url = setup(cloud, args.extra_alarms)
        delays: dict[str, list[float]] = {"ALARM": [], "OK": []}
        for _ in range(args.rounds):
            for state, value in (("ALARM", 5.0), ("OK", 0.0)):
                period_end = put(cloud, value)
                delays[state].append(wait_event(cloud, url, state) - period_end)
        every = delays["ALARM"] + delays["OK"]
        print(f"alarm evaluation, {PERIOD} s period, {args.extra_alarms} other alarms, {args.rounds} rounds")
        for state, values in delays.items():
            print(f"  end of period -> {state:5} event: " + ", ".join(f"{v:.3f}" for v in values) + " s")
        print(f"  median {statistics.median(every):.3f} s, max {max(every):.3f} s (target <= 1 s)")


if __name__ == "__main__":
    main()
