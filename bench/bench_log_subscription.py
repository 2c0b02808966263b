"""Bench: seconds from PutLogEvents of an access-log line to the metric datapoint a subscribed
function puts for it, on an in-process local cloud. This is the fast signal's lag before the
alarm evaluator (localcloud.alarms: every period end + 0.3 s) can count the line. Target: median
<= 0.5 s, every round <= 1.5 s (warm function).

A log group has a subscription filter delivering to a Python function that, like Sprout's
FastSignalFunction, decodes ``awslogs.data`` and puts one high-resolution datum per line. Each
round puts one line carrying a unique value and polls GetMetricData until that value is there.

    .venv/bin/python bench/bench_log_subscription.py [--rounds 10]
"""

from __future__ import annotations

import argparse
import io
import json
import statistics
import sys
import tempfile
import time
import zipfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing

from bench.smoke import parse  # noqa: E402
from localcloud.cloud import LocalCloud  # noqa: E402

GROUP = "API-Gateway-Access-Logs_bench/prod"
NAMESPACE = "Bench/Subscription"
FUNCTION = """
import base64, gzip, json, boto3

cw = boto3.client("cloudwatch")

def handler(event, context):
    doc = json.loads(gzip.decompress(base64.b64decode(event["awslogs"]["data"])))
    data = [{"MetricName": "Round", "Value": float(json.loads(e["message"])["round"]), "StorageResolution": 1}
            for e in doc["logEvents"]]
    cw.put_metric_data(Namespace="Bench/Subscription", MetricData=data)
"""
TRUST = {"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]}


def setup(cloud: LocalCloud) -> None:
    role = cloud.client("iam").create_role(RoleName="bench-subscriber", AssumeRolePolicyDocument=json.dumps(TRUST))
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("app.py", FUNCTION)
    lam = cloud.client("lambda")
    arn = lam.create_function(FunctionName="bench-subscriber", Runtime="python3.11", Handler="app.handler",
                              Role=role["Role"]["Arn"], Code={"ZipFile": buf.getvalue()}, Timeout=30)["FunctionArn"]
    lam.add_permission(FunctionName="bench-subscriber", StatementId="logs", Action="lambda:InvokeFunction",
                       Principal="logs.amazonaws.com", SourceArn=f"arn:aws:logs:{cloud.region}:{cloud.account_id}:log-group:*")
    logs = cloud.client("logs")
    logs.create_log_group(logGroupName=GROUP)
    logs.create_log_stream(logGroupName=GROUP, logStreamName="s")
    logs.put_subscription_filter(logGroupName=GROUP, filterName="bench", filterPattern="", destinationArn=arn)


def seen(cloud: LocalCloud, value: float) -> bool:
    now = datetime.now(UTC)
    answer = cloud.client("cloudwatch").get_metric_data(
        MetricDataQueries=[{"Id": "m", "MetricStat": {"Metric": {"Namespace": NAMESPACE, "MetricName": "Round"},
                                                      "Period": 1, "Stat": "Maximum"}}],
        StartTime=now - timedelta(seconds=30), EndTime=now + timedelta(seconds=2),
    )
    return value in answer["MetricDataResults"][0]["Values"]


def one_round(cloud: LocalCloud, n: int, timeout: float = 30) -> float:
    started = time.time()
    cloud.client("logs").put_log_events(logGroupName=GROUP, logStreamName="s", logEvents=[
        {"timestamp": int(started * 1000), "message": json.dumps({"status": "502", "round": n})}])
    while time.time() - started < timeout:
        if seen(cloud, float(n)):
            return time.time() - started
        time.sleep(0.02)
    raise TimeoutError(f"round {n}: no datapoint within {timeout} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=10)
    args = parse(parser, rounds=1)
    with tempfile.TemporaryDirectory() as data, LocalCloud(port=0, data_dir=data) as cloud:
        setup(cloud)
        cold = one_round(cloud, 0)
        lags = [one_round(cloud, n) for n in range(1, args.rounds + 1)]
    print(f"log line -> subscribed function -> metric datapoint, {args.rounds} rounds (after one cold start: {cold:.3f} s)")
    print("  " + ", ".join(f"{v:.3f}" for v in lags) + " s")
    met = statistics.median(lags) <= 0.5 and max(lags) <= 1.5
    print(f"  median {statistics.median(lags):.3f} s, max {max(lags):.3f} s "
          f"(target: median <= 0.5 s, max <= 1.5 s: {'met' if met else 'MISSED'})")


if __name__ == "__main__":
    main()
