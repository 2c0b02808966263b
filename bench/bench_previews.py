"""Preview stages, timed (notes app, warm): seconds from a pull request opened to its preview stage
answering HTTP (target p50 <= 5 s), from the pull request closed to its stack gone and nothing of
the stage left (stage removed, log groups gone; target p50 <= 10 s); then K pull requests opened at
once: each its own stack, all serving, and dev never locked by any of them.

    .venv/bin/python bench/bench_previews.py [--runs 3] [--concurrent 20] [--warmup 1]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
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
from sprout.cli.client import ApiError, SproutClient  # noqa: E402
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
    except ApiError:
        return False


def gone(sprout: SproutClient, stage: str) -> bool:
    view = sprout.request("GET", f"/apps/{APP}/stages/{stage}")
    if not view.get("removedAt"):
        return False
    groups = boto3.client("logs").describe_log_groups(logGroupNamePrefix=f"/aws/lambda/{APP}-{stage}/")["logGroups"]
    return url_of(f"{APP}-{stage}") is None and not groups


def open_pr(work: Path, clone: str, branch: str) -> tuple[str, float]:
    git(work, "checkout", "-q", "-B", branch, "main")
    (work / "PR.md").write_text(f"{branch}\n")
    git(work, "add", "-A")
    git(work, "commit", "-qm", branch)
    git(work, "push", "-q", clone, f"HEAD:refs/heads/{branch}")
    asked = time.monotonic()
    pr = boto3.client("codecommit").create_pull_request(
        title=branch, targets=[{"repositoryName": APP, "sourceReference": branch, "destinationReference": "main"}])
    return pr["pullRequest"]["pullRequestId"], asked


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--concurrent", type=int, default=20)
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
            until(f"pr-{pr_id} serving", lambda: serving(f"pr-{pr_id}"))  # noqa: B023
            opened_s.append(time.monotonic() - asked)
            asked = time.monotonic()
            codecommit.update_pull_request_status(pullRequestId=pr_id, pullRequestStatus="CLOSED")
            until(f"pr-{pr_id} gone", lambda: gone(sprout, f"pr-{pr_id}"), every=0.1)  # noqa: B023
            closed_s.append(time.monotonic() - asked)
            if run < args.warmup:  # warming the functions and machines up: not counted
                opened_s.pop()
                closed_s.pop()
        print(f"pull request opened -> preview answering: p50 {statistics.median(opened_s):.2f} s "
              f"(runs {', '.join(f'{s:.2f}' for s in opened_s)}; target <= 5 s)")
        print(f"pull request closed -> stack gone, nothing left: p50 {statistics.median(closed_s):.2f} s "
              f"(runs {', '.join(f'{s:.2f}' for s in closed_s)}; target <= 10 s)")
        dev_before = sprout.request("GET", f"/apps/{APP}/stages/dev/deployments")["deployments"]
        started = time.monotonic()
        ids = [open_pr(work, clone, f"many-{i}")[0] for i in range(args.concurrent)]
        with ThreadPoolExecutor(max_workers=4) as pool:
            list(pool.map(lambda i: until(f"pr-{i} serving", lambda: serving(f"pr-{i}"), timeout=900, every=0.5), ids))
        took = time.monotonic() - started
        stacks = {f"{APP}-pr-{i}" for i in ids if url_of(f"{APP}-pr-{i}")}
        dev_after = sprout.request("GET", f"/apps/{APP}/stages/dev/deployments")["deployments"]
        print(f"{args.concurrent} pull requests opened at once: {len(stacks)} stacks of their own, all serving after "
              f"{took:.1f} s; dev's deployments {len(dev_before)} -> {len(dev_after)} (never locked by a preview)")
    finally:
        stop_cloud(cloud)


if __name__ == "__main__":
    main()
