"""Time to restore, hands-off: under steady traffic on prod, the broken build is promoted and Sprout
rolls prod back by itself. For each of ``--runs`` runs (at least 5 for the figures to mean much), the
seconds from the first 5xx a client sees to the first 200 after the automatic rollback, broken into

- detection: first 5xx → the alarm's change to ALARM (its history),
- event delivery: the alarm → the auto-rollback deployment starting (rule, execution, ResolveAlarm),
- rollback: the deployment starting → the first 200 (alias flips, the gateway on the old version).

Targets locally: median ≤ 12 s, every run ≤ 20 s with the default 10-second fast signal; the
rollback part ≤ 1 s.

    .venv/bin/python bench/bench_restore.py [--runs 5]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from datetime import datetime
from pathlib import Path

import boto3

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT))

from bench.bench_promote import App, good_on_prod_broken_built  # noqa: E402
from bench.cloud import bench_cloud  # noqa: E402
from bench.smoke import parse  # noqa: E402
from demo.traffic import Traffic  # noqa: E402
from sprout.cli.client import SproutClient  # noqa: E402

RATE = 10.0  # requests a second on prod
FAST = "sprout-ar-notes-prod-fast"


def epoch(text: str) -> float:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def alarmed_since(name: str, since: float) -> float | None:
    items = boto3.client("cloudwatch").describe_alarm_history(AlarmName=name, HistoryItemType="StateUpdate")[
        "AlarmHistoryItems"]
    times = sorted(i["Timestamp"].timestamp() for i in items
                   if json.loads(i["HistoryData"])["newState"]["stateValue"] == "ALARM" and i["Timestamp"].timestamp() >= since)
    return times[0] if times else None


def one_run(app: App, traffic: Traffic) -> dict[str, float]:
    app.sprout.request("PUT", "/apps/notes/stages/prod/auto-rollback", {"enabled": True, "cooldownSeconds": 0})
    began = time.time()
    started, _ = app.promote(2)
    app.settled(started["deployment"])
    deadline = time.time() + 120
    while True:
        current = app.sprout.request("GET", "/apps/notes/stages/prod")["currentDeployment"]
        if current["kind"] == "auto-rollback" and current["status"] == "SUCCEEDED" and current["startedAt"] > started_at(started, app):
            break
        if time.time() > deadline:
            raise TimeoutError("Sprout did not roll prod back within 120 s")
        time.sleep(0.2)
    first_bad = traffic.first(began, ok=False)
    first_ok = traffic.wait_for(first_bad.sent, ok=True, timeout=20)
    fired = current["trigger"]["alarm"]
    alarm_at = alarmed_since(fired, first_bad.sent - 10) or first_bad.done
    rollback_at = epoch(current["startedAt"])
    return {"restore": first_ok.done - first_bad.done, "detection": alarm_at - first_bad.done,
            "delivery": rollback_at - alarm_at, "rollback": first_ok.done - rollback_at, "alarm": fired}


def started_at(started: dict, app: App) -> str:
    return app.sprout.request("GET", f"/apps/notes/stages/prod/deployments/{started['deployment']}")["startedAt"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parse(parser, runs=1)
    with bench_cloud("sprout-bench-restore-", enforce_iam=True) as (cloud, base):
        sprout = SproutClient(cloud.api_url)
        app = good_on_prod_broken_built(sprout, base)
        traffic = Traffic(app.stage_url(), rate=RATE).start()
        runs = []
        try:
            for n in range(args.runs):
                if n:
                    time.sleep(12)  # a clean period between runs: the alarm back to OK
                run = one_run(app, traffic)
                runs.append(run)
                print(f"run {n + 1}: first 5xx → first 200 {run['restore']:.1f} s = detection {run['detection']:.1f} s + "
                      f"delivery {run['delivery']:.1f} s + rollback {run['rollback']:.1f} s (alarm {run['alarm']})", flush=True)
        finally:
            traffic.stop()
        restore = [r["restore"] for r in runs]
        rollback = [r["rollback"] for r in runs]
        print(f"time to restore: median {statistics.median(restore):.1f} s, max {max(restore):.1f} s "
              f"(targets: median ≤ 12 s, every run ≤ 20 s); rollback part median {statistics.median(rollback):.2f} s (≤ 1 s)")


if __name__ == "__main__":
    main()
