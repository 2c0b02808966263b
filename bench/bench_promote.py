"""Promote and rollback, timed: for the notes app, seconds from the promote call to prod serving
the build (target <= 3 s) and from the rollback call to the old code answering HTTP (target
<= 1 s); then, for generated apps of 1, 5 and 25 functions, the rollback's alias flips (the
FlipAliases task's own figure) and the whole rollback, so that the growth with the number of
functions is visible. Where the time goes is printed from the executions' histories.

    .venv/bin/python bench/bench_promote.py [--runs 3] [--sizes 1,5,25]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

import boto3

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT))

from bench.cloud import bench_cloud  # noqa: E402
from bench.executions import state_visits  # noqa: E402
from bench.smoke import parse  # noqa: E402
from sprout.cli.client import ApiError, SproutClient  # noqa: E402

NOTES = ROOT / "examples" / "notes"
GIT_ENV = {"GIT_AUTHOR_NAME": "Bench", "GIT_AUTHOR_EMAIL": "b@example.com", "GIT_COMMITTER_NAME": "Bench",
           "GIT_COMMITTER_EMAIL": "b@example.com", "GIT_CONFIG_NOSYSTEM": "1"}
BROKEN = "    gibberish.what\n"
MARKER = "def main(event, context):\n"


def git(work: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=work, env={**os.environ, **GIT_ENV}, check=True, capture_output=True)


class App:
    def __init__(self, sprout: SproutClient, name: str, work: Path):
        self.sprout, self.name, self.work = sprout, name, work
        self.url = boto3.client("codecommit").create_repository(repositoryName=name)["repositoryMetadata"]["cloneUrlHttp"]
        sprout.request("POST", "/apps", {"name": name, "repository": name})
        git(work, "init", "-q", "-b", "main")

    def push(self, message: str, number: int) -> None:
        git(self.work, "add", "-A")
        git(self.work, "commit", "-qm", message)
        git(self.work, "push", "-q", self.url, "HEAD:refs/heads/main")
        self.sprout.wait_for_build(self.name, number, "dev", timeout=180, every=0.1)

    def settled(self, deployment: str) -> dict:
        while True:
            d = self.sprout.request("GET", f"/apps/{self.name}/stages/prod/deployments/{deployment}")
            if d["status"] != "IN_PROGRESS":
                return d
            time.sleep(0.05)

    def promote(self, number: int) -> tuple[dict, float]:
        cs = self.sprout.request("GET", f"/apps/{self.name}/stages/prod/changeset", query={"build": str(number)})
        asked = time.monotonic()
        started = self.sprout.request("POST", f"/apps/{self.name}/stages/prod/promote",
                                      {"build": number, "changesetId": cs["changesetId"], "force": True})
        return started, asked

    def rollback(self) -> tuple[dict, float]:
        asked = time.monotonic()
        return self.sprout.request("POST", f"/apps/{self.name}/stages/prod/rollback", {}), asked

    def stage_url(self) -> str:
        stack = boto3.client("cloudformation").describe_stacks(StackName=f"{self.name}-prod")["Stacks"][0]
        return {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}["ApiUrl"]


def answers(url: str, path: str, body: dict | None, want: int, timeout: float = 60) -> float:
    client = SproutClient(url, timeout=10)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            client.request("POST" if body is not None else "GET", path, body)
            status = 200
        except ApiError as e:
            status = e.status
        if status == want:
            return time.monotonic()
        time.sleep(0.02)
    raise TimeoutError(f"{path} never answered {want}")


def states(execution_arn: str) -> dict[str, float]:
    """Seconds per state of an execution (entered → exited), from its history."""
    sfn = boto3.client("stepfunctions")
    events = sfn.get_execution_history(executionArn=execution_arn, maxResults=1000)["events"]
    return {name: sum(seconds) for name, seconds in state_visits(events).items()}


def good_on_prod_broken_built(sprout: SproutClient, base: Path) -> App:
    """The notes app with build 1 (good) promoted to prod and build 2 (create broken) built."""
    work = shutil.copytree(NOTES, base / "notes", ignore=shutil.ignore_patterns("__pycache__"))
    app = App(sprout, "notes", work)
    app.push("The notes app", 1)
    create = work / "functions" / "create" / "create.py"
    create.write_text(create.read_text().replace(MARKER, MARKER + BROKEN, 1))
    app.push("Break create", 2)
    started, _ = app.promote(1)
    app.settled(started["deployment"])
    return app


def notes(sprout: SproutClient, base: Path, runs: int) -> None:
    app = good_on_prod_broken_built(sprout, base)
    url = app.stage_url()
    promote_s, rollback_s, where = [], [], []
    for _ in range(runs):
        started, asked = app.promote(2)
        served = answers(url, "/notes", {"content": "x"}, 502)
        app.settled(started["deployment"])
        promote_s.append(served - asked)
        rolled, asked = app.rollback()
        back = answers(url, "/notes", {"content": "x"}, 200)
        rollback_s.append(back - asked)
        app.settled(rolled["deployment"])
        where.append(states(rolled["execution"]))
    print(f"notes: promote call -> prod serving build 2: p50 {statistics.median(promote_s):.2f} s "
          f"(runs {', '.join(f'{s:.2f}' for s in promote_s)}; target <= 3 s)")
    print(f"notes: rollback call -> old code answering 200: p50 {statistics.median(rollback_s):.2f} s "
          f"(runs {', '.join(f'{s:.2f}' for s in rollback_s)}; target <= 1 s)")
    flips = [w.get("FlipAliases", 0.0) for w in where]
    print(f"   where a rollback's time goes: the FlipAliases state p50 {statistics.median(flips):.2f} s "
          "(the task's cold or warm start, reading and flipping every alias); the rest is the API call, the "
          "execution starting, and the gateway's first request on the old version")


FUNCTION = '''def handler(event, context):
    return {"statusCode": 200, "body": "VERSION"}
'''


def generated(sprout: SproutClient, base: Path, size: int) -> None:
    work = base / f"fns{size}"
    resources = []
    for i in range(size):
        (work / f"f{i}").mkdir(parents=True)
        (work / f"f{i}" / "app.py").write_text(FUNCTION.replace("VERSION", "v1"))
        resources.append(f"""  F{i}:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: f{i}/
      Handler: app.handler
      Runtime: python3.11
""")
    (work / "template.yaml").write_text("Transform: AWS::Serverless-2016-10-31\nResources:\n" + "".join(resources))
    app = App(sprout, f"fns{size}", work)
    app.push("v1", 1)
    for i in range(size):
        (work / f"f{i}" / "app.py").write_text(FUNCTION.replace("VERSION", "v2"))
    app.push("v2", 2)
    for number in (1, 2):
        started, _ = app.promote(number)
        done = app.settled(started["deployment"])
        if done["status"] != "SUCCEEDED":
            raise SystemExit(f"promote of build {number} of fns{size} {done['status']} at {done.get('step')}: {done.get('error')}")
    rolled, asked = app.rollback()
    done = app.settled(rolled["deployment"])
    total = time.monotonic() - asked
    spent = states(rolled["execution"])
    flips = spent.get("FlipAliases", 0.0)
    print(f"{size:>3} functions: alias flips {flips:.2f} s (FlipAliases state); whole rollback {done['status']} "
          f"in {total:.2f} s, of which the stack reconcile and recording ≈ {total - flips:.2f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--sizes", default="1,5,25")
    args = parse(parser, runs=1, sizes="1")
    with bench_cloud("sprout-bench-promote-", enforce_iam=True) as (cloud, base):
        sprout = SproutClient(cloud.api_url)
        notes(sprout, base, args.runs)
        for size in (int(s) for s in args.sizes.split(",")):
            generated(sprout, base, size)


if __name__ == "__main__":
    main()
