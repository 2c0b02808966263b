"""Reading a stage's monitoring data through Sprout's API, over a day's worth of data.

Starts ``sprout local up`` (sprout.cli.local.LocalSprout), registers and pushes the notes app
(build 1 on dev), turns its access logs on through the API, then seeds the local cloud directly
(PutLogEvents / PutMetricData in bulk):

- 100 000 access-log lines in the stage's access-log group, spread over the last 24 hours, 5% of
  them 5xx;
- a day of one-minute ``AWS/ApiGateway`` metrics for the stage (Count, 4XXError, 5XXError as
  statistic sets; Latency as Values/Counts, so percentiles can be computed);
- 100 000 lines in the ``create`` function's log group over the last 24 hours (START/END/REPORT
  and Powertools-style INFO lines, 1% ``[ERROR]`` lines with a traceback);

and measures, through Sprout's SigV4-signed API, ``--runs`` times each:

- ``GET .../access-logs?status=5xx&limit=50`` (target p50 <= 200 ms),
- ``GET .../metrics?since=1d&period=300`` (target p50 <= 300 ms),
- ``GET .../functions/create/logs?errors=true&limit=50`` (target p50 <= 200 ms).

    .venv/bin/python bench/bench_monitoring.py [--runs 20] [--lines 100000]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import boto3

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT))

from bench.cloud import bench_cloud  # noqa: E402
from bench.smoke import parse  # noqa: E402
from sprout.cli.client import SproutClient  # noqa: E402
from sprout.cli.local import LocalSprout  # noqa: E402

NOTES = ROOT / "examples" / "notes"
DAY_MS = 86_400_000
BATCH = 10_000
TARGETS_MS = {"access logs, 5xx, newest 50": 200, "API metrics, 1 day at 5 min": 300, "function errors, newest 50": 200}
GIT_ENV = {
    "GIT_AUTHOR_NAME": "Bench", "GIT_AUTHOR_EMAIL": "bench@example.com",
    "GIT_COMMITTER_NAME": "Bench", "GIT_COMMITTER_EMAIL": "bench@example.com", "GIT_CONFIG_NOSYSTEM": "1",
}


def git(work: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=work, env={**os.environ, **GIT_ENV}, check=True, capture_output=True)


def put_lines(logs, group: str, stream: str, lines: list[tuple[int, str]]) -> None:
    try:
        logs.create_log_group(logGroupName=group)
    except logs.exceptions.ResourceAlreadyExistsException:
        pass
    logs.create_log_stream(logGroupName=group, logStreamName=stream)
    lines.sort()
    for start in range(0, len(lines), BATCH):
        chunk = lines[start : start + BATCH]
        logs.put_log_events(logGroupName=group, logStreamName=stream, logEvents=[{"timestamp": t, "message": m} for t, m in chunk])


def access_lines(count: int, now_ms: int) -> list[tuple[int, str]]:
    rng = random.Random(1)
    out = []
    for i in range(count):
        t = now_ms - DAY_MS + int(i * DAY_MS / count)
        status = 502 if rng.random() < 0.05 else (404 if rng.random() < 0.05 else 200)
        out.append((t, json.dumps({
            "requestId": f"r-{i}", "extendedRequestId": f"x-{i}", "ip": "127.0.0.1", "caller": "-", "user": "-",
            "requestTime": "-", "requestTimeEpoch": str(t), "httpMethod": "POST", "resourcePath": "/notes",
            "path": "/dev/notes", "status": str(status), "protocol": "HTTP/1.1", "responseLength": "36",
            "latency": str(rng.randint(5, 400)), "integrationLatency": str(rng.randint(4, 390)),
            "integrationStatus": "200", "errorMessage": "Internal server error" if status == 502 else "-",
        }, separators=(",", ":"))))
    return out


def function_lines(count: int, now_ms: int) -> list[tuple[int, str]]:
    out = []
    for i in range(count):
        t = now_ms - DAY_MS + int(i * DAY_MS / count)
        kind = i % 4
        if i % 100 == 99:
            message = "[ERROR] NameError: name 'gibberish' is not defined\nTraceback (most recent call last):\n  File \"/var/task/create.py\", line 1"
        elif kind == 0:
            message = f"START RequestId: {i} Version: 1"
        elif kind == 1:
            message = json.dumps({"level": "INFO", "message": "note created", "service": "notes"})
        elif kind == 2:
            message = f"END RequestId: {i}"
        else:
            message = f"REPORT RequestId: {i}\tDuration: 12.3 ms\tBilled Duration: 13 ms"
        out.append((t, message))
    return out


def seed_metrics(cloudwatch, api_name: str, stage: str, now: datetime) -> None:
    rng = random.Random(2)
    dims = [{"Name": "ApiName", "Value": api_name}, {"Name": "Stage", "Value": stage}]
    data = []
    start = now.replace(second=0, microsecond=0) - timedelta(days=1)
    for minute in range(1440):
        t = start + timedelta(minutes=minute)
        requests = rng.randint(50, 80)
        e4, e5 = rng.randint(0, 4), rng.randint(0, 3)
        for name, value in (("Count", requests), ("4XXError", e4), ("5XXError", e5)):
            data.append({"MetricName": name, "Dimensions": dims, "Timestamp": t, "Unit": "Count",
                         "StatisticValues": {"SampleCount": requests, "Sum": value, "Minimum": 0, "Maximum": 1 if name != "Count" else 1}})
        latencies = sorted({rng.randint(5, 400) for _ in range(requests)})
        data.append({"MetricName": "Latency", "Dimensions": dims, "Timestamp": t, "Unit": "Milliseconds",
                     "Values": [float(v) for v in latencies], "Counts": [1.0] * len(latencies)})
    for start_at in range(0, len(data), 500):
        cloudwatch.put_metric_data(Namespace="AWS/ApiGateway", MetricData=data[start_at : start_at + 500])


def seeded_stage(cloud: LocalSprout, data_dir: Path, lines: int, stages: list[dict]) -> tuple[SproutClient, str]:
    """The notes app registered with ``stages``, pushed and live on dev with access logs on, and its
    dev stage seeded in bulk: ``lines`` access-log lines, as many create-function log lines, a day
    of 1-minute API metrics. Sprout's client and the stage's REST API name, for the measurements."""
    sprout = SproutClient(cloud.api_url)
    clone_url = boto3.client("codecommit").create_repository(repositoryName="notes")["repositoryMetadata"]["cloneUrlHttp"]
    sprout.request("POST", "/apps", {"name": "notes", "repository": "notes", "stages": stages})
    work = data_dir / "notes"
    shutil.copytree(NOTES, work, ignore=shutil.ignore_patterns("__pycache__", ".pytest_cache"))
    git(work, "init", "-q", "-b", "main")
    git(work, "add", "-A")
    git(work, "commit", "-q", "-m", "The notes app")
    git(work, "push", "-q", clone_url, "main")
    sprout.wait_for_build("notes", 1, "dev", 180)
    settings = sprout.request("PUT", "/apps/notes/stages/dev/access-logs", {"enabled": True})
    api = settings["apis"][0]
    api_name = boto3.client("apigateway").get_rest_api(restApiId=api["apiId"])["name"]
    functions = {f["logicalId"]: f for f in sprout.request("GET", "/apps/notes/stages/dev/functions")["functions"]}
    create_group = functions["CreateNoteFunction"]["logGroup"]  # /aws/lambda/notes-dev/CreateNoteFunction
    t = time.monotonic()
    now_ms = int(time.time() * 1000)
    logs = boto3.client("logs")
    put_lines(logs, api["logGroup"], "seeded", access_lines(lines, now_ms))
    put_lines(logs, create_group, "2026/12/02/[1]seeded", function_lines(lines, now_ms))
    seed_metrics(boto3.client("cloudwatch"), api_name, "dev", datetime.now(UTC))
    print(f"seeded {lines} access-log lines, {lines} function log lines and a day of 1-minute "
          f"API metrics in {time.monotonic() - t:.1f} s\n", flush=True)
    return sprout, api_name


def measure(sprout: SproutClient, path: str, query: dict, runs: int) -> tuple[list[float], dict]:
    times, answer = [], {}
    for _ in range(runs):
        t = time.perf_counter()
        answer = sprout.request("GET", path, query=query)
        times.append((time.perf_counter() - t) * 1000)
    return times, answer


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--lines", type=int, default=100_000)
    args = parse(parser, runs=1, lines=200)
    with bench_cloud("bench-monitoring-") as (cloud, data_dir):
        sprout, api_name = seeded_stage(cloud, data_dir, args.lines, [{"name": "dev", "branch": "main", "autoDeploy": True}])

        cases = {
            "access logs, 5xx, newest 50": ("/apps/notes/stages/dev/access-logs", {"status": "5xx", "limit": "50", "since": "1d"}),
            "API metrics, 1 day at 5 min": ("/apps/notes/stages/dev/metrics", {"since": "1d", "period": "300"}),
            "function errors, newest 50": ("/apps/notes/stages/dev/functions/create/logs", {"errors": "true", "limit": "50", "since": "1d"}),
        }
        print(f"{'through Sprout API (ms)':32s} {'p50':>7s} {'p95':>7s} {'max':>7s} {'target':>7s}  result")
        for label, (path, query) in cases.items():
            times, answer = measure(sprout, path, query, args.runs)
            size = len(answer.get("entries") or answer.get("events") or answer.get("points") or [])
            p50, p95 = statistics.median(times), sorted(times)[max(0, int(len(times) * 0.95) - 1)]
            verdict = "met" if p50 <= TARGETS_MS[label] else "MISSED"
            print(f"{label:32s} {p50:7.1f} {p95:7.1f} {max(times):7.1f} {TARGETS_MS[label]:7d}  {verdict} ({size} items)")
        # the same GetMetricData called directly (what the local cloud costs, without Sprout's function)
        dims = [{"Name": "ApiName", "Value": api_name}, {"Name": "Stage", "Value": "dev"}]
        stats = [("Count", "Sum"), ("4XXError", "Sum"), ("5XXError", "Sum"), ("Latency", "Average"), ("Latency", "p90"), ("Latency", "p95"), ("Latency", "p99")]
        queries = [{"Id": f"q{n}", "MetricStat": {"Metric": {"Namespace": "AWS/ApiGateway", "MetricName": m, "Dimensions": dims}, "Period": 300, "Stat": st}} for n, (m, st) in enumerate(stats)]
        cw = boto3.client("cloudwatch")
        direct = []
        for _ in range(args.runs):
            t = time.perf_counter()
            end = datetime.now(UTC)
            cw.get_metric_data(MetricDataQueries=queries, StartTime=end - timedelta(days=1), EndTime=end)
            direct.append((time.perf_counter() - t) * 1000)
        print(f"{'(GetMetricData directly, boto3)':32s} {statistics.median(direct):7.1f}")


if __name__ == "__main__":
    main()
