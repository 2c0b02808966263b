"""Bench: Lambda Invoke through the local cloud (localcloud/lambda_runner). Target: warm p50 <= 10 ms.

Starts its own local cloud as a child process (`sprout local up --port 0`, as developers run it),
then measures through boto3:
- cold start: first invoke of a new function (client round trip, and the Init Duration it logged);
- warm invoke round trip p50/p95 over --calls calls (Python, and Node.js if `node` is installed);
- where the warm time goes: the function's own Duration (REPORT lines), a no-op moto call through
  boto3 (GetFunctionConfiguration: server dispatch + boto3, no runner), the same invoke as a raw
  HTTP POST without boto3, and a bare TCP connect (werkzeug closes every connection, so each
  boto3 call opens a new one);
- 8 concurrent invokes: wall time for a trivial function and for one that sleeps 200 ms
  (4 workers per version: ideal is 2 rounds).

    .venv/bin/python bench/bench_invoke.py [--calls 200]
"""

from __future__ import annotations

import argparse
import http.client
import io
import json
import re
import shutil
import socket
import statistics
import sys
import time
import zipfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import boto3
from botocore.config import Config

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.cloud import bench_cloud  # noqa: E402
from bench.smoke import parse  # noqa: E402

PY_CODE = """
import time
def handler(event, context):
    if event.get("sleep"):
        time.sleep(event["sleep"])
    return {"ok": True}
"""
NODE_CODE = "exports.handler = async (event) => ({ ok: true });\n"


def client(endpoint: str, service: str):
    return boto3.client(
        service,
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="localcloud",
        aws_secret_access_key="localcloud",
        config=Config(retries={"max_attempts": 1}, max_pool_connections=16),
    )


def zip_of(name: str, text: str) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr(name, text)
    return buf.getvalue()


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def timed(fn, n: int) -> list[float]:
    out = []
    for _ in range(n):
        t0 = time.perf_counter()
        fn()
        out.append((time.perf_counter() - t0) * 1000)
    return out


def line(label: str, ms: list[float]) -> None:
    print(f"  {label:<44} p50 {statistics.median(ms):7.2f} ms   p95 {pct(ms, 95):7.2f} ms   n={len(ms)}")


def report_durations(logs, name: str) -> tuple[list[float], list[float]]:
    """(Duration ms, Init Duration ms) from the function's REPORT lines."""
    time.sleep(0.6)  # the runner flushes logs every 200 ms
    durations, inits = [], []
    for stream in logs.describe_log_streams(logGroupName=f"/aws/lambda/{name}")["logStreams"]:
        kwargs = {
            "logGroupName": f"/aws/lambda/{name}",
            "logStreamName": stream["logStreamName"],
            "startFromHead": True,
        }
        for event in logs.get_log_events(**kwargs)["events"]:
            message = event["message"]
            if message.startswith("REPORT"):
                durations.append(float(re.search(r"\tDuration: ([\d.]+) ms", message).group(1)))
                init = re.search(r"Init Duration: ([\d.]+) ms", message)
                if init:
                    inits.append(float(init.group(1)))
    return durations, inits


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=200)
    args = parse(parser, calls=5)
    with bench_cloud("bench-invoke-", with_sprout=False) as (cloud, _):  # the bare cloud: no Sprout stack needed
        run(cloud.endpoint, args.calls)


def run(endpoint: str, calls: int) -> None:
    lam, iam, logs = client(endpoint, "lambda"), client(endpoint, "iam"), client(endpoint, "logs")
    role = iam.create_role(RoleName="bench", AssumeRolePolicyDocument="{}")["Role"]["Arn"]

    def create(name: str, runtime: str, handler: str, code: bytes) -> None:
        lam.create_function(
            FunctionName=name, Runtime=runtime, Role=role, Handler=handler, Code={"ZipFile": code}, Timeout=30
        )

    def invoke(name: str, event: dict | None = None) -> None:
        response = lam.invoke(FunctionName=name, Payload=json.dumps(event or {}))
        response["Payload"].read()
        assert "FunctionError" not in response, response

    print(f"bench_invoke: local cloud at {endpoint}, {calls} warm calls")

    # ---- cold start -------------------------------------------------------------------------
    create("bench-py", "python3.12", "app.handler", zip_of("app.py", PY_CODE))
    t0 = time.perf_counter()
    invoke("bench-py")
    cold_ms = (time.perf_counter() - t0) * 1000
    _, inits = report_durations(logs, "bench-py")
    print("cold start (Python):")
    print(
        f"  first invoke round trip                      {cold_ms:7.2f} ms   (Init Duration logged {inits[0]:.2f} ms)"
    )

    # ---- warm -------------------------------------------------------------------------------
    print("warm invoke round trip through boto3:")
    for _ in range(10):
        invoke("bench-py")
    py_warm = timed(lambda: invoke("bench-py"), calls)
    line("Python", py_warm)
    node_warm = None
    if shutil.which("node"):
        create("bench-node", "nodejs20.x", "index.handler", zip_of("index.js", NODE_CODE))
        t0 = time.perf_counter()
        invoke("bench-node")
        print(f"  (Node.js cold start round trip {(time.perf_counter() - t0) * 1000:.2f} ms)")
        for _ in range(10):
            invoke("bench-node")
        node_warm = timed(lambda: invoke("bench-node"), calls)
        line("Node.js", node_warm)
    else:
        print("  Node.js: skipped, no `node` on PATH")

    # ---- where the time goes ---------------------------------------------------------------
    print("where the warm time goes:")
    durations, _ = report_durations(logs, "bench-py")
    line("function Duration in the worker (REPORT)", durations[-calls:])
    noop = timed(lambda: lam.get_function_configuration(FunctionName="bench-py"), calls)
    line("GetFunctionConfiguration via boto3 (no runner)", noop)
    host, port = endpoint.removeprefix("http://").split(":")

    def raw_invoke() -> None:
        conn = http.client.HTTPConnection(host, int(port))
        conn.request(
            "POST",
            "/2015-03-31/functions/bench-py/invocations",
            body=b"{}",
            headers={
                "Content-Type": "application/json",
                "Authorization": "AWS4-HMAC-SHA256 Credential=localcloud/20250101/us-east-1/lambda/aws4_request, SignedHeaders=host, Signature=0",
            },
        )
        response = conn.getresponse()
        response.read()
        assert response.status == 200, response.status
        conn.close()

    line("same invoke as raw HTTP POST (no boto3)", timed(raw_invoke, calls))

    def connect() -> None:
        socket.create_connection((host, int(port))).close()

    line("bare TCP connect + close", timed(connect, calls))

    # ---- concurrency ------------------------------------------------------------------------
    print("8 concurrent invokes (4 workers per version):")
    with ThreadPoolExecutor(max_workers=8) as pool:
        for name, event, label in (
            ("bench-py", {}, "trivial function, pool warm (1 worker)"),
            ("bench-py", {}, "trivial function, again"),
        ):
            t0 = time.perf_counter()
            list(pool.map(lambda _, n=name, e=event: invoke(n, e), range(8)))
            print(f"  {label:<44} wall {(time.perf_counter() - t0) * 1000:7.2f} ms")
        create("bench-sleep", "python3.12", "app.handler", zip_of("app.py", PY_CODE))
        for label in ("200 ms function, cold pool", "200 ms function, warm pool"):
            t0 = time.perf_counter()
            list(pool.map(lambda _: invoke("bench-sleep", {"sleep": 0.2}), range(8)))
            print(f"  {label:<44} wall {(time.perf_counter() - t0) * 1000:7.2f} ms   (ideal 400 ms)")

    target = "met" if statistics.median(py_warm) <= 10 else "MISSED"
    print(f"target warm p50 <= 10 ms: {target} (Python p50 {statistics.median(py_warm):.2f} ms)")


if __name__ == "__main__":
    main()
