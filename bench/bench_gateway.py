"""Benchmark the HTTP gateway: warm p50/p95 latency and requests/s with N concurrent clients.

Starts ``sprout local up --port 0`` (or uses ``--endpoint``), creates a trivial Python function
and an API with three routes, then measures, each with the same client:

- ``mock``:   a MOCK integration (the gateway alone, no Lambda),
- ``invoke``: Lambda ``Invoke`` called directly on the endpoint (the Lambda round trip alone),
- ``proxy``:  a Lambda proxy route end to end (gateway + Invoke + the function).

Usage: .venv/bin/python bench/bench_gateway.py [--clients 8] [--seconds 5] [--endpoint URL]
"""

from __future__ import annotations

import argparse
import http.client
import io
import json
import os
import shutil
import statistics
import sys
import tempfile
import threading
import time
import uuid
import zipfile
from pathlib import Path
from urllib.parse import urlsplit

import boto3
from botocore.config import Config

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.cloud import start_cloud, stop_cloud  # noqa: E402
from bench.smoke import parse  # noqa: E402

HANDLER = "def main(event, context):\n    return {'statusCode': 200, 'body': 'ok'}\n"


def cpu_seconds(pid: int | None) -> float | None:
    """CPU time (user+system) of ``pid`` and its descendants (Linux /proc), else None."""
    if pid is None:
        return None
    try:
        ticks = os.sysconf("SC_CLK_TCK")
        stats = {}
        for entry in os.listdir("/proc"):
            if entry.isdigit():
                try:
                    fields = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()
                except OSError:
                    continue
                stats[int(entry)] = (int(fields[1]), (int(fields[11]) + int(fields[12])) / ticks)
    except (OSError, ValueError, AttributeError):
        return None
    tree, frontier = {pid}, [pid]
    while frontier:
        parent = frontier.pop()
        for child, (ppid, _) in stats.items():
            if ppid == parent and child not in tree:
                tree.add(child)
                frontier.append(child)
    return sum(stats[p][1] for p in tree if p in stats)


def client(endpoint: str, service: str):
    return boto3.client(
        service,
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="localcloud",
        aws_secret_access_key="localcloud",
        config=Config(retries={"max_attempts": 1}, read_timeout=60),
    )


def setup(endpoint: str) -> dict[str, tuple[str, str, bytes, dict]]:
    suffix = uuid.uuid4().hex[:8]
    role = client(endpoint, "iam").create_role(
        RoleName=f"bench-{suffix}",
        AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": []}),
    )["Role"]["Arn"]
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("app.py", HANDLER)
    fn = client(endpoint, "lambda").create_function(
        FunctionName=f"bench-{suffix}", Runtime="python3.11", Role=role, Handler="app.main", Code={"ZipFile": buf.getvalue()}
    )
    uri = f"arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/{fn['FunctionArn']}/invocations"
    mock = {"type": "mock", "requestTemplates": {"application/json": '{"statusCode": 200}'}, "responses": {"default": {"statusCode": "200"}}}
    doc = {
        "openapi": "3.0.1",
        "info": {"title": f"bench-{suffix}", "version": "1"},
        "paths": {
            "/hello": {"get": {"x-amazon-apigateway-integration": {"type": "aws_proxy", "httpMethod": "POST", "uri": uri}}},
            "/mock": {"get": {"x-amazon-apigateway-integration": mock}},
        },
    }
    apigw = client(endpoint, "apigateway")
    api_id = apigw.import_rest_api(body=json.dumps(doc).encode())["id"]
    apigw.create_deployment(restApiId=api_id, stageName="bench")
    base = f"/_aws/execute-api/{api_id}/bench"
    invoke_headers = {
        "Authorization": "AWS4-HMAC-SHA256 Credential=localcloud/20240101/us-east-1/lambda/aws4_request, SignedHeaders=host, Signature=0"
    }
    return {
        "mock": ("GET", f"{base}/mock", b"", {}),
        "invoke": ("POST", f"/2015-03-31/functions/{fn['FunctionName']}/invocations", b"{}", invoke_headers),
        "proxy": ("GET", f"{base}/hello", b"", {}),
    }


def run(endpoint: str, request: tuple[str, str, bytes, dict], clients: int, seconds: float) -> dict:
    method, path, body, headers = request
    host = urlsplit(endpoint)
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    lock = threading.Lock()
    stop_at = time.perf_counter() + seconds

    def worker() -> None:
        conn = http.client.HTTPConnection(host.hostname, host.port, timeout=60)
        mine: list[float] = []
        codes: dict[int, int] = {}
        while time.perf_counter() < stop_at:
            t0 = time.perf_counter()
            conn.request(method, path, body=body, headers=headers)
            resp = conn.getresponse()
            resp.read()
            mine.append((time.perf_counter() - t0) * 1000)
            codes[resp.status] = codes.get(resp.status, 0) + 1
            if resp.will_close:
                conn.close()
                conn = http.client.HTTPConnection(host.hostname, host.port, timeout=60)
        conn.close()
        with lock:
            latencies.extend(mine)
            for k, v in codes.items():
                statuses[k] = statuses.get(k, 0) + v

    threads = [threading.Thread(target=worker) for _ in range(clients)]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - started
    latencies.sort()
    return {
        "requests": len(latencies),
        "rps": len(latencies) / elapsed,
        "p50": statistics.median(latencies),
        "p95": latencies[int(len(latencies) * 0.95) - 1],
        "statuses": statuses,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--endpoint", help="an already running local cloud (default: start one)")
    args = parse(parser, clients=2, seconds=0.5)
    proc = None
    tmp = tempfile.mkdtemp(prefix="bench-gateway-")
    endpoint = args.endpoint
    cloud = None
    if endpoint is None:
        cloud = start_cloud(Path(tmp), with_sprout=False)  # the bare cloud: no Sprout stack needed
        proc, endpoint = cloud.process, cloud.endpoint
    try:
        requests_ = setup(endpoint)
        for name, req in requests_.items():
            run(endpoint, req, 1, min(1.0, args.seconds))  # warm: the function's environment, connections, route cache
            single = run(endpoint, req, 1, args.seconds / 2)
            cpu_before = cpu_seconds(proc.pid if proc else None)
            multi = run(endpoint, req, args.clients, args.seconds)
            cpu_after = cpu_seconds(proc.pid if proc else None)
            cpu = "" if cpu_before is None or cpu_after is None else f"  cloud CPU {1000 * (cpu_after - cpu_before) / multi['requests']:.2f} ms/req"
            print(
                f"{name:7s} 1 client: p50 {single['p50']:6.2f} ms  p95 {single['p95']:6.2f} ms  {single['rps']:7.1f} req/s | "
                f"{args.clients} clients: p50 {multi['p50']:6.2f} ms  p95 {multi['p95']:6.2f} ms  {multi['rps']:7.1f} req/s  "
                f"statuses {multi['statuses']}{cpu}",
                flush=True,
            )
    finally:
        if cloud is not None:
            stop_cloud(cloud)
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
