"""Canary promotes, measured (issue 23), on the local cloud with IAM enforced:

* a bad canary (build 2 fails every POST /notes), 10 % at ``--rate`` requests a second: the failed
  requests before the abort (target <= 25) and seconds from the promote call to all traffic back on
  the old version (target <= 12 s) — beside what CodeDeploy's Canary10Percent5Minutes with a
  one-minute alarm lets fail for the same traffic (at least one minute at 10 %);
* a good canary (build 3), 10 % with a 10 s step: seconds from the step's start to the final flip
  (target <= step + 2 s), and the whole promote call -> SUCCEEDED (the stack converging included);
* the abort flip (every weight back to 0, in parallel) for generated apps of 1, 5 and 25 functions
  (target <= 1 s), as the deployment record's ``cause.flipSeconds`` says.

    .venv/bin/python bench/bench_canary.py [--rate 50] [--interval 10] [--sizes 1,5,25] [--flips-only]

``--flips-only`` measures the abort flips alone (the notes app's canaries skipped); ``--smoke``
runs the notes canaries at 10 req/s and the flip of a 1-function app.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT))

from bench.bench_promote import BROKEN, FUNCTION, MARKER, NOTES, App  # noqa: E402
from bench.cloud import bench_cloud  # noqa: E402
from bench.executions import state_visits  # noqa: E402
from bench.smoke import parse  # noqa: E402
from sprout.cli.client import ApiError, SproutClient  # noqa: E402
from sprout.domain.canary import parse_strategy  # noqa: E402
from sprout.domain.pipeline import parse_iso  # noqa: E402


class Traffic:
    """POST /notes on prod at ``rate`` a second (several callers), each answer timed."""

    def __init__(self, url: str, rate: float):
        self.client, self.rate = SproutClient(url, timeout=30), rate
        self.answers: list[tuple[float, int]] = []
        self.stop = threading.Event()
        self.pool = ThreadPoolExecutor(max_workers=8)
        self.thread = threading.Thread(target=self._pace, daemon=True)

    def _one(self) -> None:
        try:
            self.client.request("POST", "/notes", {"content": "bench"})
            status = 200
        except ApiError as e:
            status = e.status
        self.answers.append((time.monotonic(), status))

    def _pace(self) -> None:
        gap, at = 1.0 / self.rate, time.monotonic()
        while not self.stop.is_set():
            self.pool.submit(self._one)
            at += gap
            self.stop.wait(max(0.0, at - time.monotonic()))

    def __enter__(self) -> Traffic:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join()
        self.pool.shutdown(wait=True)

    def failed(self, since: float = 0.0) -> list[float]:
        return [t for t, s in self.answers if s >= 500 and t >= since]


def looks(execution: str) -> str:
    """How the canary loop spent its time: CanaryStep's calls (count, mean seconds) from the history
    of the deploy execution the promote started (the canary loop is the deploy machine's)."""
    import json

    import boto3

    sfn = boto3.client("stepfunctions")
    events = sfn.get_execution_history(executionArn=execution, maxResults=1000)["events"]
    for e in events:
        submitted = e.get("taskSubmittedEventDetails") or {}
        if submitted.get("resourceType") == "states" and submitted.get("output"):
            child = json.loads(submitted["output"]).get("ExecutionArn")
            if child:
                events = sfn.get_execution_history(executionArn=child, maxResults=1000)["events"]
                break
    return ", ".join(f"{name} x{len(v)} mean {sum(v) / len(v):.2f} s" for name, v in state_visits(events).items()
                     if name in ("CanaryStep", "Bake"))


def promote(app: App, number: int, strategy: object) -> tuple[dict, float]:
    cs = app.sprout.request("GET", f"/apps/{app.name}/stages/prod/changeset", query={"build": str(number)})
    asked = time.monotonic()
    started = app.sprout.request("POST", f"/apps/{app.name}/stages/prod/promote",
                                 {"build": number, "changesetId": cs["changesetId"], "force": True, "strategy": strategy})
    return started, asked


def notes_canaries(sprout: SproutClient, base: Path, rate: float, interval: int) -> None:
    work = shutil.copytree(NOTES, base / "notes", ignore=shutil.ignore_patterns("__pycache__"))
    app = App(sprout, "notes", work)
    app.push("The notes app", 1)
    create = work / "functions" / "create" / "create.py"
    good = create.read_text()
    create.write_text(good.replace(MARKER, MARKER + BROKEN, 1))
    app.push("Break create", 2)
    create.write_text(good.replace(MARKER, MARKER + "    # harmless\n", 1))
    app.push("Touch create", 3)
    started, _ = app.promote(1)
    if app.settled(started["deployment"])["status"] != "SUCCEEDED":
        raise SystemExit("build 1 did not reach prod")
    url = app.stage_url()

    with Traffic(url, rate) as traffic:
        time.sleep(1.0)  # prod warm on build 1
        started, asked = promote(app, 2, {"type": "canary", "percent": 10, "intervalSeconds": 60})
        done = app.settled(started["deployment"])
        back = time.monotonic()
        time.sleep(2.0)  # anything still failing after the abort shows here
    if done["status"] != "FAILED" or not str(done.get("error")).startswith("CanaryAborted"):
        raise SystemExit(f"the bad canary was not aborted: {done['status']} {done.get('error')}")
    failed = traffic.failed(asked)
    after = [t for t in failed if t > back]
    codedeploy = rate * 0.10 * 60
    step = done["steps"][0]
    began, judged = parse_iso(step["startedAt"]), parse_iso(step["judgedAt"])
    shifted = (began - parse_iso(done["startedAt"])).total_seconds()
    print(f"bad canary 10 % at {rate:.0f} req/s: {len(failed)} failed requests before the abort (target <= 25; "
          f"{len(after)} after it); canary start (first weight set) -> all traffic back on the old version "
          f"{(judged - began).total_seconds() + float(done['cause'].get('flipSeconds') or 0):.2f} s (target <= 12 s); "
          f"judged on {done['cause'].get('requests')} requests / {done['cause'].get('errors')} errors of the new version; "
          f"abort flip {done['cause'].get('flipSeconds')} s")
    print(f"   before the canary starts: deployment opened -> first weight set {shifted:.2f} s (the execution starting, "
          f"the new versions published); promote call -> FAILED seen {back - asked:.2f} s")
    print(f"   the canary loop: {looks(started['execution'])}")
    print(f"   CodeDeploy Canary10Percent5Minutes with a one-minute alarm, same traffic: at least {codedeploy:.0f} "
          f"failed requests (one minute at 10 % of {rate:.0f} req/s, before the alarm can even fire)")

    with Traffic(url, rate) as traffic:
        started, asked = promote(app, 3, {"type": "canary", "percent": 10, "intervalSeconds": interval})
        done = app.settled(started["deployment"])
        whole = time.monotonic() - asked
    if done["status"] != "SUCCEEDED":
        raise SystemExit(f"the good canary did not succeed: {done['status']} {done.get('error')}")
    step = done["steps"][-1]
    shifted = (parse_iso(step["judgedAt"]) - parse_iso(done["steps"][0]["startedAt"])).total_seconds()
    print(f"good canary 10 % with a {interval} s step: step start -> final flip {shifted:.2f} s (target <= "
          f"{interval + 2} s), judged on {step['requests']} requests; promote call -> SUCCEEDED {whole:.2f} s "
          f"(publishing the canary version and the stack converging included); {len(traffic.failed())} failed requests")


def abort_flip(sprout: SproutClient, base: Path, size: int) -> None:
    work = base / f"fns{size}"
    resources = []
    for i in range(size):
        (work / f"f{i}").mkdir(parents=True)
        (work / f"f{i}" / "app.py").write_text(FUNCTION.replace("VERSION", "v1"))
        resources.append(f"  F{i}:\n    Type: AWS::Serverless::Function\n    Properties:\n      CodeUri: f{i}/\n"
                         "      Handler: app.handler\n      Runtime: python3.11\n")
    (work / "template.yaml").write_text("Transform: AWS::Serverless-2016-10-31\nResources:\n" + "".join(resources))
    app = App(sprout, f"fns{size}", work)
    app.push("v1", 1)
    for i in range(size):
        (work / f"f{i}" / "app.py").write_text(FUNCTION.replace("VERSION", "v2"))
    app.push("v2", 2)
    started, _ = app.promote(1)
    app.settled(started["deployment"])
    started, _ = promote(app, 2, {"type": "canary", "percent": 10, "intervalSeconds": 600})
    path = f"/apps/{app.name}/stages/prod/deployments/{started['deployment']}"
    deadline = time.monotonic() + 120
    while not sprout.request("GET", path).get("steps") and time.monotonic() < deadline:
        time.sleep(0.1)
    sprout.request("POST", f"{path}/abort", {})
    done = app.settled(started["deployment"])
    if done["status"] != "FAILED":
        raise SystemExit(f"the abort of fns{size} did not close it: {done['status']}")
    print(f"{size:>3} functions: abort flip (every weight back to 0, in parallel) {done['cause']['flipSeconds']:.3f} s "
          "(target <= 1 s)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=50.0)
    parser.add_argument("--interval", type=int, default=10)
    parser.add_argument("--sizes", default="1,5,25", help="the generated apps' numbers of functions, for the abort flip")
    parser.add_argument("--flips-only", action="store_true", help="measure the abort flips alone")
    args = parse(parser, rate=10.0, interval=10, sizes="1")
    parse_strategy({"type": "canary", "percent": 10, "intervalSeconds": args.interval})  # refuse a bad --interval early
    with bench_cloud("sprout-bench-canary-", enforce_iam=True) as (cloud, base):
        sprout = SproutClient(cloud.api_url)
        if not args.flips_only:
            notes_canaries(sprout, base, args.rate, args.interval)
        for size in (int(s) for s in args.sizes.split(",")):
            abort_flip(sprout, base, size)


if __name__ == "__main__":
    main()
