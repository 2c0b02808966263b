"""Preview stages, timed (notes app, warm): seconds from a pull request opened to its preview stage
answering HTTP (target p50 <= 5 s), from the pull request closed to its stack gone and nothing of
the stage left (stage removed, log groups gone; target p50 <= 10 s); then K pull requests opened at
once (``--concurrent``; 2 in a smoke run): how many serve, on how many distinct stacks, the time until
the last serves, and that none of them touched dev (its lock sampled every 0.25 s throughout, the
deploy executions' stages, dev's deployments). ``--trace`` prints, for each timed run, when each
step happened (the preview function's invocations, the build, deploy and teardown executions state
by state, the stack's events).

    .venv/bin/python bench/bench_previews.py [--runs 5] [--concurrent 20] [--warmup 1] [--trace]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import boto3
from botocore.exceptions import ClientError

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT))

from bench.cloud import stop_cloud  # noqa: E402
from bench.smoke import parse  # noqa: E402
from sprout.cli.client import ApiError, ApiUnreachable, SproutClient  # noqa: E402
from sprout.cli.local import LocalSprout  # noqa: E402

NOTES = ROOT / "examples" / "notes"
GIT_ENV = {"GIT_AUTHOR_NAME": "Bench", "GIT_AUTHOR_EMAIL": "b@example.com", "GIT_COMMITTER_NAME": "Bench",
           "GIT_COMMITTER_EMAIL": "b@example.com", "GIT_CONFIG_NOSYSTEM": "1"}
APP = "notes"


def git(work: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=work, env={**os.environ, **GIT_ENV}, check=True, capture_output=True)


def url_of(stack: str) -> str | None:
    try:
        found = boto3.client("cloudformation").describe_stacks(StackName=stack)["Stacks"][0]
    except ClientError:
        return None
    return {o["OutputKey"]: o["OutputValue"] for o in found.get("Outputs") or []}.get("ApiUrl")


def until(what: str, check, timeout: float = 300.0, every: float = 0.05):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(every)
    raise TimeoutError(what)


def serving(stage: str) -> bool:
    url = url_of(f"{APP}-{stage}")
    if not url:
        return False
    try:
        SproutClient(url, timeout=10).request("GET", "/notes")
        return True
    except (ApiError, ApiUnreachable):  # not serving yet (or too slow to tell, on a loaded machine)
        return False


def gone(sprout: SproutClient, stage: str) -> bool:
    view = sprout.request("GET", f"/apps/{APP}/stages/{stage}")
    if not view.get("removedAt"):
        return False
    groups = boto3.client("logs").describe_log_groups(logGroupNamePrefix=f"/aws/lambda/{APP}-{stage}/")["logGroups"]
    return url_of(f"{APP}-{stage}") is None and not groups


def push_branch(work: Path, clone: str, branch: str) -> None:
    """A new commit on ``branch`` (off main), pushed."""
    git(work, "checkout", "-q", "-B", branch, "main")
    (work / "PR.md").write_text(f"{branch}\n")
    git(work, "add", "-A")
    git(work, "commit", "-qm", branch)
    git(work, "push", "-q", clone, f"HEAD:refs/heads/{branch}")


def create_pr(branch: str, codecommit=None) -> str:
    pr = (codecommit or boto3.client("codecommit")).create_pull_request(
        title=branch, targets=[{"repositoryName": APP, "sourceReference": branch, "destinationReference": "main"}])
    return str(pr["pullRequest"]["pullRequestId"])


def open_pr(work: Path, clone: str, branch: str) -> tuple[str, float]:
    push_branch(work, clone, branch)
    asked = time.monotonic()
    return create_pr(branch), asked


def _states(sfn, machine: str, since: float, label: str) -> list[tuple[float, str]]:
    """Every execution of ``machine`` started at or after ``since``: its start, each state's entry
    and exit, its end (epoch seconds, labelled)."""
    marks: list[tuple[float, str]] = []
    for execution in sfn.list_executions(stateMachineArn=machine, maxResults=50)["executions"]:
        if execution["startDate"].timestamp() < since - 0.5:
            continue
        history = sfn.get_execution_history(executionArn=execution["executionArn"], maxResults=1000)["events"]
        for event in history:
            at, kind = event["timestamp"].timestamp(), event["type"]
            if kind.endswith("StateEntered"):
                marks.append((at, f"{label} > {event['stateEnteredEventDetails']['name']}"))
            elif kind.endswith("StateExited"):
                marks.append((at, f"{label} < {event['stateExitedEventDetails']['name']}"))
            elif kind in ("ExecutionStarted", "ExecutionSucceeded", "ExecutionFailed"):
                marks.append((at, f"{label} {kind}"))
    return marks


def trace(outputs: dict[str, str], since: float, stack: str, end: float, what: str) -> None:
    """Where the time went between ``since`` and ``end`` (epoch seconds): the preview function's
    invocations, the build, deploy and teardown executions state by state, the stack's events."""
    sfn, logs, cfn = boto3.client("stepfunctions"), boto3.client("logs"), boto3.client("cloudformation")
    marks: list[tuple[float, str]] = []
    for key, label in (("BuildStateMachineArn", "build"), ("DeployStateMachineArn", "deploy"),
                       ("TeardownStateMachineArn", "teardown")):
        marks += _states(sfn, outputs[key], since, label)
    for group in logs.describe_log_groups(logGroupNamePrefix="/aws/lambda/sprout-")["logGroups"]:
        name = group["logGroupName"].split("/")[-1]
        if "Preview" not in name:
            continue
        for e in logs.filter_log_events(logGroupName=group["logGroupName"], startTime=int(since * 1000))["events"]:
            if e["message"].startswith(("START", "REPORT")):
                marks.append((e["timestamp"] / 1000, f"{name.split('-')[1]} {e['message'].split()[0]}"))
    try:
        events = cfn.describe_stack_events(StackName=stack)["StackEvents"]
    except ClientError:
        events = []
    for e in events:
        if e["Timestamp"].timestamp() >= since - 0.5:
            marks.append((e["Timestamp"].timestamp(), f"stack {e['LogicalResourceId']} {e['ResourceStatus']}"))
    marks.append((end, what))
    for at, label in sorted(marks):
        print(f"  {at - since:7.2f}  {label}")


def concurrent(sprout: SproutClient, work: Path, clone: str, outputs: dict[str, str], count: int) -> None:
    """``count`` pull requests opened at once (their branches pushed first, then every
    CreatePullRequest side by side): how many serve, on how many distinct stacks, how long until the
    last serves; and whether anything of theirs touched dev (its lock sampled throughout, the deploy
    executions' stages, dev's deployments)."""
    dev_before = sprout.request("GET", f"/apps/{APP}/stages/dev/deployments")["deployments"]
    branches = [f"many-{i}" for i in range(count)]
    for branch in branches:
        push_branch(work, clone, branch)
    holders: list[object] = []
    samples, unanswered = [0], [0]
    stop = threading.Event()

    def sample_dev_lock() -> None:
        client = SproutClient(sprout.base_url, timeout=30)
        while not stop.wait(0.25):
            try:
                lock = client.request("GET", f"/apps/{APP}/stages/dev").get("lock")
            except (ApiError, ApiUnreachable):  # counted: the API overwhelmed is a finding too
                unanswered[0] += 1
                continue
            samples[0] += 1
            if lock:
                holders.append(lock)

    sampler = threading.Thread(target=sample_dev_lock, daemon=True)
    sampler.start()
    since, started = time.time(), time.monotonic()
    codecommit = boto3.client("codecommit")  # one client, shared by the threads (making clients is not thread-safe)
    with ThreadPoolExecutor(max_workers=8) as pool:
        ids = list(pool.map(lambda branch: create_pr(branch, codecommit), branches))
    served: dict[str, float] = {}
    deadline = started + 900
    while len(served) < count and time.monotonic() < deadline:
        for pr_id in ids:
            if pr_id not in served and serving(f"pr-{pr_id}"):
                served[pr_id] = time.monotonic() - started
        time.sleep(0.5)
    stop.set()
    sampler.join(timeout=15)
    cfn = boto3.client("cloudformation")
    stacks = {cfn.describe_stacks(StackName=f"{APP}-pr-{i}")["Stacks"][0]["StackId"] for i in served}
    sfn = boto3.client("stepfunctions")
    deploy_stages = [json.loads(sfn.describe_execution(executionArn=e["executionArn"])["input"]).get("stage")
                     for e in sfn.list_executions(stateMachineArn=outputs["DeployStateMachineArn"], maxResults=1000)
                     ["executions"] if e["startDate"].timestamp() >= since - 0.5]
    dev_after = sprout.request("GET", f"/apps/{APP}/stages/dev/deployments")["deployments"]
    last = f"all serving after {max(served.values()):.1f} s" if len(served) == count else \
        f"NOT all serving after {time.monotonic() - started:.0f} s"
    print(f"{count} pull requests opened at once: {len(served)} serving, {len(stacks)} distinct stacks, {last} "
          f"(first {min(served.values(), default=0):.1f} s, median {statistics.median(served.values() or [0]):.1f} s)")
    print(f"  dev: its lock held {len(holders)} of {samples[0]} samples ({holders[:3]}; {unanswered[0]} GETs unanswered); "
          f"deploy executions started "
          f"{len(deploy_stages)}, {deploy_stages.count('dev')} of them to dev; dev's deployments "
          f"{len(dev_before)} -> {len(dev_after)}")
    if len(served) < count or len(stacks) < count or holders or "dev" in deploy_stages or len(dev_after) != len(dev_before):
        raise SystemExit(f"{count} previews at once: not every preview served on its own stack, or dev was touched")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--concurrent", type=int, default=20)
    parser.add_argument("--trace", action="store_true",
                        help="print, for each run, when each step happened (executions' states, the stack's events)")
    parser.add_argument("--warmup", type=int, default=1,
                        help="pull requests opened and closed first, not counted (the figures are for a warm cloud)")
    args = parse(parser, runs=1, concurrent=2, warmup=0)
    base = Path(tempfile.mkdtemp(prefix="sprout-bench-previews-"))
    cloud = LocalSprout.start(base / "cloud", cwd=ROOT, extra_args=("--enforce-iam",))
    os.environ.update(AWS_ENDPOINT_URL=cloud.endpoint, AWS_DEFAULT_REGION="us-east-1",
                      AWS_ACCESS_KEY_ID="localcloud", AWS_SECRET_ACCESS_KEY="localcloud")
    try:
        sprout = SproutClient(cloud.api_url)
        clone = boto3.client("codecommit").create_repository(repositoryName=APP)["repositoryMetadata"]["cloneUrlHttp"]
        sprout.request("POST", "/apps", {"name": APP, "repository": APP})
        work = shutil.copytree(NOTES, base / "work", ignore=shutil.ignore_patterns("__pycache__"))
        git(work, "init", "-q", "-b", "main")
        git(work, "add", "-A")
        git(work, "commit", "-qm", "notes")
        git(work, "push", "-q", clone, "HEAD:refs/heads/main")
        sprout.wait_for_build(APP, 1, "dev", timeout=300)
        sprout.request("PUT", f"/apps/{APP}/previews", {"pullRequests": {"enabled": True},
                                                         "limit": max(args.concurrent, 1) + 1})
        codecommit = boto3.client("codecommit")
        opened_s, closed_s = [], []
        for run in range(args.warmup + args.runs):
            pr_id, asked = open_pr(work, clone, f"bench-{run}")
            wall = time.time() - (time.monotonic() - asked)
            until(f"pr-{pr_id} serving", lambda: serving(f"pr-{pr_id}"))  # noqa: B023
            opened_s.append(time.monotonic() - asked)
            if args.trace:
                print(f"run {run}: pull request {pr_id} opened -> answering {opened_s[-1]:.2f} s", flush=True)
                trace(cloud.outputs, wall, f"{APP}-pr-{pr_id}", time.time(), "first 200")
            asked, wall = time.monotonic(), time.time()
            codecommit.update_pull_request_status(pullRequestId=pr_id, pullRequestStatus="CLOSED")
            until(f"pr-{pr_id} gone", lambda: gone(sprout, f"pr-{pr_id}"), every=0.1)  # noqa: B023
            closed_s.append(time.monotonic() - asked)
            if args.trace:
                print(f"run {run}: pull request {pr_id} closed -> nothing left {closed_s[-1]:.2f} s", flush=True)
                trace(cloud.outputs, wall, f"{APP}-pr-{pr_id}", time.time(), "seen gone")
            if run < args.warmup:  # warming the functions and machines up: not counted
                opened_s.pop()
                closed_s.pop()
        print(f"pull request opened -> preview answering: p50 {statistics.median(opened_s):.2f} s "
              f"(runs {', '.join(f'{s:.2f}' for s in opened_s)}; target <= 5 s)")
        print(f"pull request closed -> stack gone, nothing left: p50 {statistics.median(closed_s):.2f} s "
              f"(runs {', '.join(f'{s:.2f}' for s in closed_s)}; target <= 10 s)")
        if args.concurrent:
            concurrent(sprout, work, clone, cloud.outputs, args.concurrent)
    finally:
        stop_cloud(cloud)


if __name__ == "__main__":
    main()
