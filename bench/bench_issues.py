"""Bench: issues, on the local cloud with Sprout and the notes app (build 2, whose create raises
NameError, deployed on dev).

- latency: seconds from a POST /notes that fails (the error thrown) to the issue's count showing it
  through ``GET /apps/notes/stages/dev/issues`` (target: p50 <= 5 s);
- load: ``--errors`` NameError lines of one fingerprint written over ``--seconds`` into create's log
  group (as its live version would write them), then the seconds until the issue counts them all
  (target: one issue, the count exact, the lag after the last line no more than a few seconds —
  the subscribed function keeps up).

    .venv/bin/python bench/bench_issues.py [--rounds 10] [--errors 10000] [--seconds 60]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import time
from pathlib import Path

import boto3

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT))

from bench.bench_promote import BROKEN, MARKER, NOTES, App  # noqa: E402
from bench.cloud import bench_cloud  # noqa: E402
from bench.smoke import parse  # noqa: E402
from sprout.cli.client import ApiError, SproutClient  # noqa: E402

ISSUES = "/apps/notes/stages/dev/issues"
LINE = ("[ERROR] NameError: name 'gibberish' is not defined\nTraceback (most recent call last):\n"
        '  File "/var/task/create.py", line 5, in main\n    gibberish.what\n')
PER_CALL = 500  # log events per PutLogEvents call


def name_error(sprout: SproutClient) -> dict | None:
    return next((i for i in sprout.request("GET", ISSUES)["issues"] if i["type"] == "NameError"), None)


def wait_count(sprout: SproutClient, at_least: int, timeout: float = 120) -> float:
    deadline = time.time() + timeout
    while time.time() < deadline:
        issue = name_error(sprout)
        if issue and issue["count"] >= at_least:
            return time.time()
        time.sleep(0.1)
    raise TimeoutError(f"the NameError issue did not reach {at_least} within {timeout:g} s: {name_error(sprout)}")


def latency(sprout: SproutClient, url: str, rounds: int) -> list[float]:
    app = SproutClient(url)
    lags = []
    for _ in range(rounds):
        before = (name_error(sprout) or {}).get("count", 0)
        thrown = time.time()
        try:
            app.request("POST", "/notes", {"content": "x"})
        except ApiError as e:
            assert e.status == 502, e
        lags.append(wait_count(sprout, before + 1) - thrown)
    return lags


def load(sprout: SproutClient, group: str, errors: int, seconds: float) -> tuple[float, int, int]:
    logs = boto3.client("logs")
    stream = time.strftime("%Y/%m/%d/[2]") + "bench" + os.urandom(4).hex()
    logs.create_log_stream(logGroupName=group, logStreamName=stream)
    before = (name_error(sprout) or {}).get("count", 0)
    calls = max(1, -(-errors // PER_CALL))
    started = time.time()
    for n in range(calls):
        size = min(PER_CALL, errors - n * PER_CALL)
        now = int(time.time() * 1000)
        logs.put_log_events(logGroupName=group, logStreamName=stream,
                            logEvents=[{"timestamp": now, "message": LINE} for _ in range(size)])
        time.sleep(max(0.0, started + seconds * (n + 1) / calls - time.time()))
    last = time.time()
    done = wait_count(sprout, before + errors, timeout=max(120, seconds))
    found = [i for i in sprout.request("GET", ISSUES)["issues"] if i["type"] == "NameError"]
    return done - last, len(found), found[0]["count"] - before


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--errors", type=int, default=10_000)
    parser.add_argument("--seconds", type=float, default=60)
    args = parse(parser, rounds=2, errors=500, seconds=5)
    with bench_cloud("sprout-bench-issues-", enforce_iam=True) as (cloud, base):
        sprout = SproutClient(cloud.api_url)
        work = shutil.copytree(NOTES, base / "notes", ignore=shutil.ignore_patterns("__pycache__"))
        app = App(sprout, "notes", work)
        app.push("The notes app", 1)
        create = work / "functions" / "create" / "create.py"
        create.write_text(create.read_text().replace(MARKER, MARKER + BROKEN, 1))
        app.push("Break create", 2)
        outputs = boto3.client("cloudformation").describe_stacks(StackName="notes-dev")["Stacks"][0]["Outputs"]
        url = {o["OutputKey"]: o["OutputValue"] for o in outputs}["ApiUrl"]
        functions = sprout.request("GET", "/apps/notes/stages/dev/functions")["functions"]
        group = next(f["logGroup"] for f in functions if f["logicalId"] == "CreateNoteFunction")

        lags = latency(sprout, url, args.rounds)
        p50 = statistics.median(lags)
        print(f"error thrown -> issue readable, {args.rounds} rounds: " + ", ".join(f"{v:.2f}" for v in lags)
              + f" s; p50 {p50:.2f} s (target <= 5 s: {'met' if p50 <= 5 else 'MISSED'})", flush=True)
        lag, issues, counted = load(sprout, group, args.errors, args.seconds)
        exact = issues == 1 and counted == args.errors
        print(f"{args.errors} errors of one fingerprint over {args.seconds:g} s: {issues} issue(s), counted {counted} "
              f"({'exact' if exact else 'WRONG'}); all counted {lag:.2f} s after the last line", flush=True)


if __name__ == "__main__":
    main()
