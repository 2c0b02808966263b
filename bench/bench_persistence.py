"""Bench: what keeping the state in the data dir costs (localcloud/persistence).

Targets (issue 25): warm invoke and DynamoDB PutItem p50 with persistence on vs off <= 1.2x;
restart (killed with SIGKILL, started again, ready) <= 5 s with the demo's state, <= 15 s with ten
times it.

Starts its own bare local clouds as child processes (`sprout local up --port 0 --no-sprout`):
- per request: PutItem and a warm Invoke, p50/p95 over --calls calls, on a cloud started with
  ``--in-memory`` (persistence off) and on one with persistence on; the ratio of the p50s;
- one snapshot: its size and how long writing it took (``GET /_localcloud/persistence``), and how
  long after the last acknowledged write the snapshot held it (the window a ``kill -9`` may lose);
- restart: the state grown to --items items, --log-events log events and --functions functions,
  the cloud killed (SIGKILL) and started again: seconds until ``localcloud ready``, and the line
  ``up`` printed about what it restored.

    .venv/bin/python bench/bench_persistence.py [--calls 200] [--items 10000] [--log-events 100000]
"""

from __future__ import annotations

import argparse
import io
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


def grow(endpoint: str, items: int, log_events: int, functions: int) -> None:
    ddb, logs, lam, iam = (client(endpoint, s) for s in ("dynamodb", "logs", "lambda", "iam"))
    for start in range(0, items, 25):
        ddb.batch_write_item(RequestItems={"bench": [
            {"PutRequest": {"Item": {"pk": {"S": f"grown-{i}"}, "v": {"S": "y" * 200}}}}
            for i in range(start, min(items, start + 25))]})
    logs.create_log_group(logGroupName="/bench/grown")
    logs.create_log_stream(logGroupName="/bench/grown", logStreamName="s")
    now = int(time.time() * 1000)
    for start in range(0, log_events, 5000):
        batch = [{"timestamp": now + i, "message": f"event {i} " + "z" * 80} for i in range(start, min(log_events, start + 5000))]
        logs.put_log_events(logGroupName="/bench/grown", logStreamName="s", logEvents=batch)
    role = iam.get_role(RoleName="bench")["Role"]["Arn"]
    for n in range(functions):
        lam.create_function(FunctionName=f"grown-{n}", Runtime="python3.13", Role=role, Handler="app.handler",
                            Code={"ZipFile": zip_of(CODE + f"# {n}\n" + "#" * 20000)})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=200)
    parser.add_argument("--items", type=int, default=10000)
    parser.add_argument("--log-events", type=int, default=100000)
    parser.add_argument("--functions", type=int, default=30)
    parser.add_argument("--sprout", action="store_true",
                        help="also: Sprout's stack answering after a fresh up, and after kill -9 and up again")
    args = parse(parser, calls=5, items=50, log_events=200, functions=2, sprout=False)
    print(f"bench_persistence: {args.calls} calls per figure; restart with {args.items} items, "
          f"{args.log_events} log events, {args.functions} more functions", flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        clouds: dict[str, LocalSprout] = {}
        try:
            for mode, extra in (("off", ("--in-memory",)), ("on", ())):
                t0 = time.monotonic()
                clouds[mode] = LocalSprout.start(Path(tmp) / mode, with_sprout=False, cwd=ROOT, extra_args=extra)
                print(f"persistence {mode}: a new cloud ready in {time.monotonic() - t0:.1f} s", flush=True)
                setup(clouds[mode].endpoint)
            figures = per_request({m: c.endpoint for m, c in clouds.items()}, args.calls)
            stop_cloud(clouds.pop("off"))
            on = clouds["on"].endpoint
            window = settle(on)
            seen = status(on)
            print(f"one snapshot (small state): {seen['lastBytes'] / 1e6:.2f} MB written in "
                  f"{seen['lastSeconds'] * 1000:.1f} ms; {seen['saves']} written during the run; "
                  f"the last write was in the snapshot {window * 1000:.0f} ms after it was acknowledged",
                  flush=True)
            restart(clouds.pop("on"), Path(tmp) / "on", args)
        finally:
            for cloud in clouds.values():
                stop_cloud(cloud)
        if args.sprout:
            with_sprout(Path(tmp) / "sprout")
    print("per request, p50 / p95 (ms), persistence off -> on:")
    for what in figures["off"]:
        off, on = figures["off"][what], figures["on"][what]
        ratio = statistics.median(on) / statistics.median(off)
        verdict = "" if args.smoke else (" (target <= 1.2x: met)" if ratio <= 1.2 else " (target <= 1.2x: MISSED)")
        print(f"  {what:15} {p(off, 50):7.2f} / {p(off, 95):7.2f}  ->  {p(on, 50):7.2f} / {p(on, 95):7.2f}"
              f"   p50 x{ratio:.2f}{verdict}")


def with_sprout(data: Path) -> None:
    """Seconds until Sprout's API answers: a fresh up (deploys Sprout) vs up again after kill -9."""
    import os

    from sprout.cli.client import SproutClient

    os.environ.update(AWS_ACCESS_KEY_ID="localcloud", AWS_SECRET_ACCESS_KEY="localcloud", AWS_DEFAULT_REGION="us-east-1")
    for when in ("fresh up (deploys Sprout)", "up again after kill -9"):
        t0 = time.monotonic()
        cloud = LocalSprout.start(data, with_sprout=True, cwd=ROOT)
        apps = SproutClient(cloud.api_url).request("GET", "/apps")["apps"]
        took = time.monotonic() - t0
        restored = next((line.strip() for line in cloud.printed if "restored" in line), "")
        print(f"Sprout answering, {when}: {took:.1f} s ({len(apps)} apps)" + (f"\n  {restored}" if restored else ""),
              flush=True)
        if when.startswith("fresh"):
            settle(cloud.endpoint)
            cloud.process.kill()
            cloud.process.wait(timeout=30)
        else:
            stop_cloud(cloud)


def restart(cloud: LocalSprout, data: Path, args: argparse.Namespace) -> None:
    t0 = time.monotonic()
    grow(cloud.endpoint, args.items, args.log_events, args.functions)
    grown = time.monotonic() - t0
    settle(cloud.endpoint)
    seen = status(cloud.endpoint)
    print(f"grown state ({grown:.1f} s to make): one snapshot {seen['lastBytes'] / 1e6:.2f} MB written in "
          f"{seen['lastSeconds'] * 1000:.0f} ms", flush=True)
    cloud.process.kill()
    cloud.process.wait(timeout=30)
    t0 = time.monotonic()
    again = LocalSprout.start(data, with_sprout=False, cwd=ROOT)
    ready = time.monotonic() - t0
    try:
        restored = next((line.strip() for line in again.printed if "restored" in line), "(no restored line)")
        count = client(again.endpoint, "dynamodb").describe_table(TableName="bench")["Table"]["ItemCount"]
        expected = args.items + args.calls
        if count != expected:
            raise SystemExit(f"bench_persistence: {count} items after the restart, {expected} before the kill")
        events = client(again.endpoint, "logs").get_log_events(logGroupName="/bench/grown", logStreamName="s",
                                                               startFromHead=True, limit=1)["events"]
        if args.log_events and not events:
            raise SystemExit("bench_persistence: the log events did not come back")
        print(f"restart after kill -9: ready in {ready:.1f} s (process start to `localcloud ready`), "
              f"{count} items back\n  {restored}", flush=True)
    finally:
        stop_cloud(again)


if __name__ == "__main__":
    main()
