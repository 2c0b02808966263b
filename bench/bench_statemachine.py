"""Bench: a state machine of 5 Lambda tasks, start to finish, on an in-process local cloud.

Prints the cold run (first execution after the functions are created) and the warm p50 / p90 over
``--runs`` executions, and where a warm run's time goes, from the execution history: time inside
the Lambda tasks (scheduled -> succeeded) versus the interpreter between them. Target: warm <= 0.5 s.

    .venv/bin/python bench/bench_statemachine.py [--runs 20]
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
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing

from bench.smoke import parse  # noqa: E402
from localcloud.cloud import LocalCloud  # noqa: E402

STEP = """
def handler(event, context):
    return {"n": event["n"] + 1}
"""
TASKS = 5


def zipped(code: str) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("app.py", code)
    return buf.getvalue()


def setup(cloud: LocalCloud) -> str:
    iam, lam, sfn = cloud.client("iam"), cloud.client("lambda"), cloud.client("stepfunctions")
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}
        ],
    }
    role = iam.create_role(RoleName="bench-fn", AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]
    states = {}
    for i in range(TASKS):
        arn = lam.create_function(
            FunctionName=f"bench-step-{i}",
            Runtime="python3.11",
            Role=role,
            Handler="app.handler",
            Code={"ZipFile": zipped(STEP)},
        )["FunctionArn"]
        states[f"Step{i}"] = {
            "Type": "Task",
            "Resource": "arn:aws:states:::lambda:invoke",
            "Parameters": {"FunctionName": arn, "Payload.$": "$"},
            "OutputPath": "$.Payload",
            **({"Next": f"Step{i + 1}"} if i < TASKS - 1 else {"End": True}),
        }
    definition = {"StartAt": "Step0", "States": states}
    return sfn.create_state_machine(
        name="bench-5-tasks",
        roleArn="arn:aws:iam::123456789012:role/bench",
        definition=json.dumps(definition),
    )["stateMachineArn"]


def run_once(sfn, machine: str) -> tuple[float, str]:
    started = time.perf_counter()
    arn = sfn.start_execution(stateMachineArn=machine, input='{"n": 0}')["executionArn"]
    while (described := sfn.describe_execution(executionArn=arn))["status"] == "RUNNING":
        time.sleep(0.005)
    took = time.perf_counter() - started
    if described["status"] != "SUCCEEDED" or json.loads(described["output"]) != {"n": TASKS}:
        raise SystemExit(
            f"execution did not succeed: {described['status']} {described.get('error')} {described.get('cause')}"
        )
    return took, arn


def breakdown(sfn, execution_arn: str) -> tuple[float, float]:
    """(seconds inside Lambda tasks, seconds of the whole execution) from the history timestamps."""
    events = sfn.get_execution_history(executionArn=execution_arn, maxResults=1000)["events"]
    scheduled: dict[int, float] = {}
    in_tasks = 0.0
    for e in events:
        ts = e["timestamp"].timestamp()
        if e["type"] == "TaskScheduled":
            scheduled[e["id"]] = ts
        elif e["type"] == "TaskSucceeded":
            in_tasks += ts - scheduled.pop(max(scheduled))
    total = events[-1]["timestamp"].timestamp() - events[0]["timestamp"].timestamp()
    return in_tasks, total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    args = parse(parser, runs=2)
    with tempfile.TemporaryDirectory() as data_dir, LocalCloud(port=0, data_dir=data_dir) as cloud:
        machine = setup(cloud)
        sfn = cloud.client("stepfunctions")
        cold, _ = run_once(sfn, machine)
        warm, arns = [], []
        for _ in range(args.runs):
            took, arn = run_once(sfn, machine)
            warm.append(took)
            arns.append(arn)
        splits = [breakdown(sfn, arn) for arn in arns]
        p50 = statistics.median(warm)
        p90 = statistics.quantiles(warm, n=10)[-1] if len(warm) >= 2 else warm[0]
        in_tasks = statistics.median(s[0] for s in splits)
        total = statistics.median(s[1] for s in splits)
        print(
            f"state machine, {TASKS} Lambda tasks (lambda:invoke), start_execution -> SUCCEEDED seen by the caller"
        )
        print(f"  cold (first run after create_function): {cold:.3f} s")
        print(
            f"  warm p50 over {args.runs}: {p50:.3f} s   p90: {p90:.3f} s   min: {min(warm):.3f} s   (target <= 0.5 s)"
        )
        print(
            f"  warm run, from history (p50): execution {total:.3f} s, inside Lambda tasks {in_tasks:.3f} s "
            f"({in_tasks / TASKS * 1000:.0f} ms/task), interpreter between tasks {total - in_tasks:.3f} s"
        )


if __name__ == "__main__":
    main()
