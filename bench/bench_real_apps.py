"""Real apps, build → dev: seconds from registering each fixture app (tests/fixtures/real-apps) to
its build running on dev, cold and from the dependency cache.

Starts ``sprout local up`` and warms Sprout up (``node-no-lockfile`` registered once as
``warm-up``: every build task and the dependency build run once; ``--no-warm-up`` skips it), then
for each app in turn: creates its CodeCommit repository, pushes the app, registers it (registering
builds the branch head) and times the call to the build being live on dev (``cold``: the app's
dependency sets are not cached, its stack is created). Then ``--runs`` times, a commit outside the functions' folders is pushed
and timed from the push to live on dev (``cached``: every dependency set comes from the cache,
except ``node-no-lockfile``'s, which every build resolves again: no lockfile, nothing to key on).
Prints a table, and each build's dependency builds (how many CodeBuild builds ran).

    .venv/bin/python bench/bench_real_apps.py [--apps a,b] [--runs 2] [--smoke]
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
from bench.smoke import parse  # noqa: E402
from sprout.cli.client import SproutClient  # noqa: E402

FIXTURES = ROOT / "tests" / "fixtures" / "real-apps"
APPS = ("node-no-lockfile", "typescript-esbuild", "s3-notifications", "stepfunctions-sdk", "fixed-names")
GIT_ENV = {
    "GIT_AUTHOR_NAME": "Bench", "GIT_AUTHOR_EMAIL": "bench@example.com",
    "GIT_COMMITTER_NAME": "Bench", "GIT_COMMITTER_EMAIL": "bench@example.com", "GIT_CONFIG_NOSYSTEM": "1",
}


def git(work: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=work, env={**os.environ, **GIT_ENV}, check=True, capture_output=True)


def project_builds(project: str) -> set[str]:
    codebuild, ids, kwargs = boto3.client("codebuild"), set(), {"projectName": project}
    while True:
        page = codebuild.list_builds_for_project(**kwargs)
        ids |= set(page.get("ids", []))
        if not page.get("nextToken"):
            return ids
        kwargs["nextToken"] = page["nextToken"]


def live_on_dev(sprout: SproutClient, app: str, number: int) -> dict:
    build = sprout.wait_for_build(app, number, "dev", timeout=600, every=0.1)
    dev = (build.get("deployedTo") or {}).get("dev") or {}
    if build["status"] != "SUCCEEDED" or dev.get("status") != "SUCCEEDED":
        raise SystemExit(f"{app} build {number} did not reach dev: {build.get('failure') or dev.get('error')}")
    return build


def bench_app(sprout: SproutClient, project: str, root: Path, app: str, runs: int, name: str | None = None) -> dict:
    name = name or app
    work = shutil.copytree(FIXTURES / app, root / name)
    clone_url = boto3.client("codecommit").create_repository(repositoryName=name)["repositoryMetadata"]["cloneUrlHttp"]
    git(work, "init", "-q", "-b", "main")
    git(work, "add", "-A")
    git(work, "commit", "-q", "-m", app)
    git(work, "push", "-q", clone_url, "main")
    before, started = project_builds(project), time.monotonic()
    registered = sprout.request("POST", "/apps", {
        "name": name, "repository": name, "stages": [{"name": "dev", "branch": "main", "autoDeploy": True}, {"name": "prod"}],
    })
    number = registered["builds"][0]["build"]
    live_on_dev(sprout, name, number)
    cold = time.monotonic() - started
    result = {"cold": cold, "cold_dependency_builds": len(project_builds(project) - before), "cached": [],
              "cached_dependency_builds": []}
    print(f"{name}: registered → live on dev (cold) {cold:.2f} s, {result['cold_dependency_builds']} dependency builds",
          flush=True)
    for n in range(runs):
        (work / "NOTES.md").write_text(f"a change outside the functions' code ({n})\n")
        git(work, "add", "-A")
        git(work, "commit", "-q", "-m", f"notes {n}")
        before, pushed = project_builds(project), time.monotonic()
        git(work, "push", "-q", clone_url, "main")
        number += 1
        live_on_dev(sprout, name, number)
        seconds = time.monotonic() - pushed
        result["cached"].append(seconds)
        result["cached_dependency_builds"].append(len(project_builds(project) - before))
        print(f"{name}: push → live on dev (cache) {seconds:.2f} s, {result['cached_dependency_builds'][-1]} dependency builds",
              flush=True)
    return result


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--apps", default=",".join(APPS), help="comma-separated fixture apps (default: all)")
    parser.add_argument("--runs", type=int, default=2, help="pushes from the cache per app (default 2)")
    parser.add_argument("--no-warm-up", dest="warm_up", action="store_false",
                        help="measure from a cold Sprout (the first app pays every task's cold start)")
    args = parse(parser, argv, apps="typescript-esbuild", runs=0, warm_up=False)
    apps = [a for a in args.apps.split(",") if a]
    unknown = sorted(set(apps) - set(APPS))
    if unknown:
        raise SystemExit(f"unknown app {unknown[0]} (the fixture apps: {', '.join(APPS)})")
    with bench_cloud("bench-real-apps-") as (cloud, data_dir):
        sprout = SproutClient(cloud.api_url)
        project = cloud.outputs["DependencyBuildProjectName"]
        if args.warm_up:
            bench_app(sprout, project, data_dir, "node-no-lockfile", 0, name="warm-up")
        results = {app: bench_app(sprout, project, data_dir, app, args.runs) for app in apps}
        print()
        print(f"{'app':22s} {'cold (s)':>9s} {'deps built':>10s} {'cached p50 (s)':>15s} {'deps built':>10s}")
        for app, r in results.items():
            cached = f"{statistics.median(r['cached']):15.2f}" if r["cached"] else f"{'-':>15s}"
            built = f"{max(r['cached_dependency_builds']):10d}" if r["cached"] else f"{'-':>10s}"
            print(f"{app:22s} {r['cold']:9.2f} {r['cold_dependency_builds']:10d} {cached} {built}")


if __name__ == "__main__":
    main()
