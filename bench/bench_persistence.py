"""Persistence: what keeping the state costs per request and per snapshot, and how fast a restart is.

Targets (issue 25): warm Invoke and PutItem p50 with persistence on <= 1.2x off; after kill -9,
Sprout's stack answering <= 5 s with the demo's state (--data-dir: a copy of `make demo KEEP=1`'s),
<= 15 s with ten times it (1 000 builds, 100 000 log events, 10 000 items).

Starts its own local clouds as child processes (`sprout local up --port 0`):
- per request: PutItem and a warm Invoke, p50/p95 over --calls calls, on a bare cloud started with
  ``--in-memory`` (persistence off) and on one with persistence on, each call timed on both in turn;
  the ratio of the p50s;
- one snapshot: its size and how long writing it took (``GET /_localcloud/persistence``), and how
  long after the last acknowledged write the snapshot held it (the window a ``kill -9`` may lose);
- restart with ten times the demo's state: a cloud with Sprout deployed (a fresh up, timed), grown
  by --builds builds (each a finished build-like Step Functions execution with its history, an
  artifact object in S3 and a record item), --items items and --log-events log events; killed
  (SIGKILL) and started again: seconds until Sprout's API answers, and the line ``up`` printed
  about what it restored;
- with --data-dir DIR (a stopped local cloud's data dir, e.g. the demo's): a copy of it started
  (twice: the first start may convert it) and killed, timed the same way.

    .venv/bin/python bench/bench_persistence.py [--calls 200] [--builds 1000] [--items 10000] \\
        [--log-events 100000] [--data-dir /tmp/sprout-demo-xxxx/cloud]
"""

from __future__ import annotations

import argparse
import io
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
import zipfile
from pathlib import Path

import boto3
import requests
from botocore.config import Config

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.cloud import stop_cloud  # noqa: E402
from bench.smoke import parse  # noqa: E402
from sprout.cli.local import LocalSprout  # noqa: E402

CODE = "def handler(event, context):\n    return {'ok': True}\n"


def client(endpoint: str, service: str):
    return boto3.client(service, endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id="localcloud",
                        aws_secret_access_key="localcloud", config=Config(retries={"max_attempts": 1}))


def zip_of(text: str) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("app.py", text)
    return buf.getvalue()


def p(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q / 100 * (len(ordered) - 1))))]


def status(endpoint: str) -> dict:
    return requests.get(f"{endpoint}/_localcloud/persistence", timeout=10).json()


def settle(endpoint: str, timeout: float = 120) -> float:
    """Seconds until every acknowledged change is in the snapshot."""
    start = time.monotonic()
    while status(endpoint)["pending"]:
        if time.monotonic() - start > timeout:
            raise SystemExit(f"bench_persistence: the snapshot still pending after {timeout:.0f} s")
        time.sleep(0.005)
    return time.monotonic() - start


def setup(endpoint: str) -> None:
    client(endpoint, "dynamodb").create_table(
        TableName="bench", KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}], BillingMode="PAY_PER_REQUEST")
    role = client(endpoint, "iam").create_role(RoleName="bench", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    client(endpoint, "lambda").create_function(FunctionName="bench", Runtime="python3.13", Role=role,
                                               Handler="app.handler", Code={"ZipFile": zip_of(CODE)}, Timeout=30)


def per_request(endpoints: dict[str, str], calls: int) -> dict[str, dict[str, list[float]]]:
    """Each call timed on both clouds in turn (off, on, off, on ...): a load that drifts on a
    shared machine weighs on both alike."""
    clients = {mode: (client(e, "dynamodb"), client(e, "lambda")) for mode, e in endpoints.items()}
    for _, lam in clients.values():
        lam.invoke(FunctionName="bench", Payload=b"{}")["Payload"].read()  # cold start out of the figures
    out: dict[str, dict[str, list[float]]] = {m: {"PutItem": [], "Invoke (warm)": []} for m in endpoints}
    for i in range(calls):
        for mode, (ddb, lam) in clients.items():
            t0 = time.perf_counter()
            ddb.put_item(TableName="bench", Item={"pk": {"S": f"item-{i}"}, "v": {"S": "x" * 100}})
            out[mode]["PutItem"].append((time.perf_counter() - t0) * 1000)
            t0 = time.perf_counter()
            answer = lam.invoke(FunctionName="bench", Payload=b"{}")
            answer["Payload"].read()
            out[mode]["Invoke (warm)"].append((time.perf_counter() - t0) * 1000)
            assert "FunctionError" not in answer, answer
    return out


def grow(endpoint: str, builds: int, items: int, log_events: int) -> None:
    """Ten times the demo's state, generated: ``builds`` build-like executions (a finished Step
    Functions execution with its history, an artifact in S3, a record item each), ``items`` more
    items, ``log_events`` log events."""
    ddb, logs, s3, sfn, iam = (client(endpoint, s) for s in ("dynamodb", "logs", "s3", "stepfunctions", "iam"))
    ddb.create_table(TableName="bench-grown", KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
                     AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}], BillingMode="PAY_PER_REQUEST")
    for start in range(0, items, 25):
        ddb.batch_write_item(RequestItems={"bench-grown": [
            {"PutRequest": {"Item": {"pk": {"S": f"grown-{i}"}, "v": {"S": "y" * 200}}}}
            for i in range(start, min(items, start + 25))]})
    logs.create_log_group(logGroupName="/bench/grown")
    logs.create_log_stream(logGroupName="/bench/grown", logStreamName="s")
    now = int(time.time() * 1000)
    for start in range(0, log_events, 5000):
        batch = [{"timestamp": now + i, "message": f"event {i} " + "z" * 80} for i in range(start, min(log_events, start + 5000))]
        logs.put_log_events(logGroupName="/bench/grown", logStreamName="s", logEvents=batch)
    role = iam.create_role(RoleName="bench-builds", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    machine = sfn.create_state_machine(name="bench-builds", roleArn=role, definition=BUILD_LIKE)["stateMachineArn"]
    s3.create_bucket(Bucket="bench-artifacts")
    arns = []
    for n in range(builds):
        s3.put_object(Bucket="bench-artifacts", Key=f"builds/{n}/function.zip", Body=zip_of(CODE + f"# {n}\n"))
        ddb.put_item(TableName="bench-grown", Item={"pk": {"S": f"build#{n}"}, "status": {"S": "SUCCEEDED"}})
        arns.append(sfn.start_execution(stateMachineArn=machine, input=f'{{"build": {n}}}')["executionArn"])
    deadline = time.monotonic() + 600
    for arn in arns:
        while sfn.describe_execution(executionArn=arn)["status"] == "RUNNING":
            if time.monotonic() > deadline:
                raise SystemExit(f"bench_persistence: execution {arn} still running after 600 s")
            time.sleep(0.05)


# A build's shape in Step Functions: a few states, each leaving its events in the history.
BUILD_LIKE = json.dumps({"StartAt": "Plan", "States": {
    "Plan": {"Type": "Pass", "Result": {"functions": ["a", "b", "c"]}, "ResultPath": "$.plan", "Next": "Package"},
    "Package": {"Type": "Map", "ItemsPath": "$.plan.functions", "Iterator": {"StartAt": "Zip", "States": {
        "Zip": {"Type": "Pass", "End": True}}}, "ResultPath": "$.packaged", "Next": "Record"},
    "Record": {"Type": "Pass", "Result": "SUCCEEDED", "ResultPath": "$.status", "End": True},
}})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=200)
    parser.add_argument("--builds", type=int, default=1000)
    parser.add_argument("--items", type=int, default=10000)
    parser.add_argument("--log-events", type=int, default=100000)
    parser.add_argument("--data-dir", type=Path, default=None,
                        help="also: restart a copy of this stopped local cloud's data dir (e.g. the demo's)")
    args = parse(parser, calls=5, builds=3, items=50, log_events=200)
    print(f"bench_persistence: {args.calls} calls per figure; restart with {args.builds} builds, {args.items} items, "
          f"{args.log_events} log events", flush=True)
    os.environ.update(AWS_ACCESS_KEY_ID="localcloud", AWS_SECRET_ACCESS_KEY="localcloud", AWS_DEFAULT_REGION="us-east-1")
    with tempfile.TemporaryDirectory() as tmp:
        clouds: dict[str, LocalSprout] = {}
        try:
            for mode, extra in (("off", ("--in-memory",)), ("on", ())):
                t0 = time.monotonic()
                clouds[mode] = LocalSprout.start(Path(tmp) / mode, with_sprout=False, cwd=ROOT, extra_args=extra)
                print(f"persistence {mode}: a new cloud ready in {time.monotonic() - t0:.1f} s", flush=True)
                setup(clouds[mode].endpoint)
            figures = per_request({m: c.endpoint for m, c in clouds.items()}, args.calls)
            on = clouds["on"].endpoint
            window = settle(on)
            seen = status(on)
            print(f"one snapshot (small state): {seen['lastBytes'] / 1e6:.2f} MB written in "
                  f"{seen['lastSeconds'] * 1000:.1f} ms; {seen['saves']} written during the run; "
                  f"the last write was in the snapshot {window * 1000:.0f} ms after it was acknowledged",
                  flush=True)
        finally:
            for cloud in clouds.values():
                stop_cloud(cloud)
        print("per request, p50 / p95 (ms), persistence off -> on:")
        for what in figures["off"]:
            off, on_ = figures["off"][what], figures["on"][what]
            ratio = statistics.median(on_) / statistics.median(off)
            print(f"  {what:15} {p(off, 50):7.2f} / {p(off, 95):7.2f}  ->  {p(on_, 50):7.2f} / {p(on_, 95):7.2f}"
                  f"   p50 x{ratio:.2f}{verdict(args, ratio, 1.2, 'x')}", flush=True)
        grown(Path(tmp) / "grown", args)
        if args.data_dir is not None:
            copy = Path(tmp) / "copy"
            shutil.copytree(args.data_dir, copy, ignore=shutil.ignore_patterns("lock"))
            for attempt in ("first", "second"):
                restart_with_sprout(copy, f"restart of a copy of {args.data_dir} ({attempt})", args, target=5.0)


def verdict(args: argparse.Namespace, value: float, target: float, unit: str) -> str:
    if args.smoke:
        return ""
    return f" (target <= {target:g}{unit}: {'met' if value <= target else 'MISSED'})"


def answering(data: Path) -> tuple[LocalSprout, float]:
    """``sprout local up`` on ``data`` and seconds until Sprout's API answers ``GET /apps``."""
    from sprout.cli.client import SproutClient

    t0 = time.monotonic()
    cloud = LocalSprout.start(data, with_sprout=True, cwd=ROOT)
    SproutClient(cloud.api_url).request("GET", "/apps")
    return cloud, time.monotonic() - t0


def restart_with_sprout(data: Path, what: str, args: argparse.Namespace, target: float) -> None:
    """Start ``data`` (a stopped or killed cloud's), time until Sprout answers, kill it (SIGKILL)."""
    cloud, took = answering(data)
    try:
        restored = next((line.strip() for line in cloud.printed if "restored" in line), "(no restored line)")
        print(f"Sprout answering after {what}: {took:.1f} s{verdict(args, took, target, ' s')}\n  {restored}", flush=True)
        settle(cloud.endpoint)
    finally:
        cloud.process.kill()
        cloud.process.wait(timeout=30)


def grown(data: Path, args: argparse.Namespace) -> None:
    """A fresh up (deploys Sprout), the state grown, kill -9, up again: Sprout answering in how long."""
    cloud, took = answering(data)
    try:
        print(f"Sprout answering after a fresh up (deploys Sprout): {took:.1f} s", flush=True)
        t0 = time.monotonic()
        grow(cloud.endpoint, args.builds, args.items, args.log_events)
        made = time.monotonic() - t0
        settle(cloud.endpoint)
        seen = status(cloud.endpoint)
        print(f"grown state ({made:.1f} s to make): one snapshot {seen['lastBytes'] / 1e6:.2f} MB written in "
              f"{seen['lastSeconds'] * 1000:.0f} ms", flush=True)
    finally:
        cloud.process.kill()
        cloud.process.wait(timeout=30)
    restart_with_sprout(data, f"kill -9 with {args.builds} builds, {args.items} items, {args.log_events} log events",
                        args, target=15.0)
    again = LocalSprout.start(data, with_sprout=False, cwd=ROOT)
    try:  # what was acknowledged before the kill is back
        ddb, logs = client(again.endpoint, "dynamodb"), client(again.endpoint, "logs")
        count = ddb.describe_table(TableName="bench-grown")["Table"]["ItemCount"]
        if count != args.items + args.builds:
            raise SystemExit(f"bench_persistence: {count} items after the restart, {args.items + args.builds} before the kill")
        events = logs.get_log_events(logGroupName="/bench/grown", logStreamName="s", startFromHead=True, limit=1)["events"]
        if args.log_events and not events:
            raise SystemExit("bench_persistence: the log events did not come back")
    finally:
        stop_cloud(again)


if __name__ == "__main__":
    main()
