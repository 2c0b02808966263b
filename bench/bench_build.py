"""Push-to-live on dev: seconds from ``git push`` to the new version serving on dev.

For each app of ``--app`` (default both, one after the other), starts ``sprout local up``
(sprout.cli.local.LocalSprout), creates a CodeCommit repository, registers the app (``notes``:
examples/notes; ``greeter``: examples/greeter, whose functions and layer have dependencies) through
Sprout's API, pushes it (cold: the first build starts
Sprout's task functions and creates the <app>-dev stack; for greeter, the dependency cache is empty:
every dependency set is built by the CodeBuild project), then pushes a one-function change
``--pushes`` times (warm: for greeter, the dependencies come from the cache) and prints, for each
push, the seconds until ``GET /apps/<app>/builds/{n}`` shows ``deployedTo.dev.status ==
SUCCEEDED`` (target: <= 5 s warm), and where the time went. For greeter, one more push after
emptying the dependency cache measures a cold cache with Sprout's functions warm.

- ``event``: from the push to the build's Step Functions execution starting (CodeCommit event,
  EventBridge rule, StartExecution),
- each state of the build state machine (from the execution history: Lambda tasks, the deploy
  loop's Wait states), summed by state name,
- ``after``: from the execution's end to the poll seeing it (the poll interval, the API call),
- the task functions' run time and cold starts (``Duration`` and ``Init Duration`` of their REPORT
  lines in this push's logs),
- the dependency builds (greeter): how many ran, and their CodeBuild phases summed by phase,
- the <app>-dev stack: from its change set's creation to UPDATE_COMPLETE (CloudFormation events).

``--smoke`` pushes greeter (cold, one warm push, a cold cache): every path of the bench.

    .venv/bin/python bench/bench_build.py [--app notes,greeter] [--pushes 5] [--smoke]
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path

import boto3

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT))

from bench.cloud import bench_cloud  # noqa: E402
from bench.executions import state_visits  # noqa: E402
from bench.smoke import parse  # noqa: E402
from sprout.cli.client import ApiError, SproutClient  # noqa: E402

APPS = {  # the app's folder, and the file a warm push changes
    "notes": (ROOT / "examples" / "notes", Path("functions") / "get" / "get.py"),
    "greeter": (ROOT / "examples" / "greeter", Path("hello") / "app.py"),
}
TARGET_WARM_S = 5.0
POLL_S = 0.1  # the API calls polling the build run on the same cloud: faster polls slow the build
GIT_ENV = {
    "GIT_AUTHOR_NAME": "Bench",
    "GIT_AUTHOR_EMAIL": "bench@example.com",
    "GIT_COMMITTER_NAME": "Bench",
    "GIT_COMMITTER_EMAIL": "bench@example.com",
    "GIT_CONFIG_NOSYSTEM": "1",
}
_INIT = re.compile(r"Init Duration: ([0-9.]+) ms")
_DURATION = re.compile(r"\tDuration: ([0-9.]+) ms")


def git(work: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=work, env={**os.environ, **GIT_ENV}, check=True, capture_output=True)


def wait_live(sprout: SproutClient, app: str, number: int, timeout: float = 300) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            build = sprout.request("GET", f"/apps/{app}/builds/{number}")
        except ApiError as e:
            if e.status != 404:
                raise
        else:
            dev = (build.get("deployedTo") or {}).get("dev") or {}
            if build["status"] == "FAILED" or dev.get("status") == "FAILED":
                raise SystemExit(f"build {number} failed: {build}")
            if dev.get("status") == "SUCCEEDED":
                return build
        time.sleep(POLL_S)
    raise SystemExit(f"build {number} was not live on dev after {timeout:.0f} s")


def breakdown(outputs: dict[str, str], app: str, pushed_at: float, live_at: float) -> dict[str, float]:
    """Seconds per phase of the push that went live at ``live_at`` (epoch seconds)."""
    sfn, logs, cfn = boto3.client("stepfunctions"), boto3.client("logs"), boto3.client("cloudformation")
    execution = sfn.list_executions(stateMachineArn=outputs["BuildStateMachineArn"], maxResults=1)["executions"][0]
    started = execution["startDate"].timestamp()
    history = sfn.get_execution_history(executionArn=execution["executionArn"], maxResults=1000)["events"]
    phases: dict[str, float] = defaultdict(float)
    phases["event"] = started - pushed_at
    for name, seconds in state_visits(history).items():
        phases[f"state {name}"] += sum(seconds)
        _seen.setdefault(f"state {name}", len(_seen))
    last = max([started] + [event["timestamp"].timestamp() for event in history])
    phases["after"] = live_at - last
    # the task functions' cold starts in this push
    inits = []
    for group in logs.describe_log_groups(logGroupNamePrefix="/aws/lambda/sprout-")["logGroups"]:
        function = group["logGroupName"].split("/")[-1].split("-")[1].removesuffix("Function")
        for e in logs.filter_log_events(
            logGroupName=group["logGroupName"], startTime=int(pushed_at * 1000), filterPattern="REPORT"
        )["events"]:
            m = _INIT.search(e["message"])
            if m:
                inits.append(float(m.group(1)) / 1000)
            d = _DURATION.search(e["message"])
            if d:
                phases[f"in function {function} (Duration)"] += float(d.group(1)) / 1000
    phases["cold starts (sum)"] = sum(inits)
    phases["cold starts (count)"] = len(inits)
    phases.update(dependency_builds(outputs["DependencyBuildProjectName"], pushed_at))
    # the <app>-dev stack's update: change set created -> complete
    stack = f"{app}-dev"
    events = [
        e for e in cfn.describe_stack_events(StackName=stack)["StackEvents"]
        if e["LogicalResourceId"] == stack and e["Timestamp"].timestamp() >= pushed_at - 1
    ]
    if events:
        times = sorted(e["Timestamp"].timestamp() for e in events)
        phases[f"stack {stack} events, first to last"] = times[-1] - times[0]
    return dict(phases)


def dependency_builds(project: str, since: float) -> dict[str, float]:
    """The CodeBuild builds of the dependency project started since ``since``: their count and
    their phases' durations, summed by phase."""
    codebuild = boto3.client("codebuild")
    ids = codebuild.list_builds_for_project(projectName=project).get("ids", [])
    found_builds = codebuild.batch_get_builds(ids=ids[:100])["builds"] if ids else []  # ids: 1 to 100
    builds = [b for b in found_builds if b["startTime"].timestamp() >= since]
    found: dict[str, float] = {"dependency builds (count)": len(builds)}
    for build in builds:
        for phase in build.get("phases") or []:
            if phase.get("durationInSeconds") is not None and phase["phaseType"] != "COMPLETED":
                key = f"dependency builds: {phase['phaseType']} (sum)"
                found[key] = found.get(key, 0.0) + float(phase["durationInSeconds"])
    return found


def empty_dependency_cache(bucket: str) -> int:
    """Delete every cached dependency set (dependencies/ in the artifact bucket); how many."""
    s3 = boto3.client("s3")
    keys = [o["Key"] for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix="dependencies/")
            for o in page.get("Contents", [])]
    for key in keys:
        s3.delete_object(Bucket=bucket, Key=key)
    return len(keys)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--app", default="notes,greeter",
                        help=f"the example apps to push, one after another, each on a cloud of its own ({', '.join(APPS)})")
    parser.add_argument("--pushes", type=int, default=5, help="warm pushes of a one-function change")
    args = parse(parser, app="greeter", pushes=1)
    apps = args.app.split(",")
    if not apps or any(app not in APPS for app in apps):
        parser.error(f"--app: one or more of {', '.join(APPS)}, separated by commas")
    for app in apps:
        print(f"--- {app}", flush=True)
        bench(app, args.pushes)


def bench(app: str, pushes: int) -> None:
    source_dir, changed = APPS[app]
    with bench_cloud("bench-build-") as (cloud, data_dir):
        work = data_dir / app
        try:
            sprout = SproutClient(cloud.api_url)
            clone_url = boto3.client("codecommit").create_repository(repositoryName=app)["repositoryMetadata"]["cloneUrlHttp"]
            sprout.request("POST", "/apps", {
                "name": app, "repository": app,
                "stages": [{"name": "dev", "branch": "main", "autoDeploy": True}, {"name": "prod"}],
            })
            shutil.copytree(source_dir, work, ignore=shutil.ignore_patterns("__pycache__", ".pytest_cache", "node_modules"))
            git(work, "init", "-q", "-b", "main")
            git(work, "add", "-A")
            git(work, "commit", "-q", "-m", f"The {app} app")

            results: list[tuple[str, float, dict[str, float]]] = []
            plan = ["cold"] + ["warm"] * pushes + (["cold cache"] if app == "greeter" else [])
            for n, label in enumerate(plan, 1):
                if n > 1:
                    source = work / changed
                    source.write_text(source.read_text() + f"# change {n}\n")
                    git(work, "commit", "-q", "-am", f"change {n}")
                if label == "cold cache":
                    emptied = empty_dependency_cache(cloud.outputs["ArtifactBucketName"])
                    print(f"dependency cache emptied ({emptied} sets)", flush=True)
                pushed_at, pushed = time.time(), time.monotonic()
                git(work, "push", "-q", clone_url, "main")
                wait_live(sprout, app, n)
                seconds, live_at = time.monotonic() - pushed, time.time()
                phases = breakdown(cloud.outputs, app, pushed_at, live_at)
                results.append((label, seconds, phases))
                print(f"push {n} ({label}): live on dev in {seconds:.2f} s", flush=True)

            warm = [s for label, s, _ in results if label == "warm"]
            print()
            print(f"cold (first push{', empty dependency cache' if app == 'greeter' else ''}): {results[0][1]:.2f} s")
            for label, seconds, _ in results:
                if label == "cold cache":
                    print(f"cold dependency cache, Sprout's functions warm: {seconds:.2f} s")
            if warm:
                verdict = "met" if statistics.median(warm) <= TARGET_WARM_S else "MISSED"
                print(f"warm p50 of {len(warm)}: {statistics.median(warm):.2f} s  (target <= {TARGET_WARM_S:.0f} s: {verdict})")
            print("\nwhere the time went (seconds; each state summed over its visits, Map states include their inner states):")
            names = sorted({k for _, _, p in results for k in p}, key=_order)
            cache_cold = [p for label, _, p in results if label == "cold cache"]
            print(f"{'':44s} {'cold':>7s} {'warm p50':>9s}" + (f" {'cold cache':>11s}" if cache_cold else ""))
            for name in names:
                cold = results[0][2].get(name, 0.0)
                warm_values = [p.get(name, 0.0) for label, _, p in results if label == "warm"]
                warm_p50 = statistics.median(warm_values) if warm_values else float("nan")
                extra = f" {cache_cold[0].get(name, 0.0):11.2f}" if cache_cold else ""
                print(f"{name:44s} {cold:7.2f} {warm_p50:9.2f}{extra}")
        finally:
            print()


_seen: dict[str, int] = {}  # states in the order they first finished


def _order(name: str) -> tuple[int, int, str]:
    order = ["event", "state ", "after", "in function", "cold", "dependency builds", "stack"]
    group = next((i for i, prefix in enumerate(order) if name.startswith(prefix)), len(order))
    return group, _seen.get(name, 0), name


if __name__ == "__main__":
    main()
