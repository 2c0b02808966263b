"""Step 10: a real app with dependencies. The greeter example (a Python function with a
requirements.txt, a Node.js function with package.json and its lockfile, a layer whose Metadata asks
for a python3.13 build) pushed to its own repository: Sprout's dependency build (the CodeBuild
project, run offline by the local cloud) installs them, dev answers with them, and the same source
pushed again builds nothing new."""

from __future__ import annotations

import json
import shutil
import time

from demo.console import check
from demo.story import ROOT, Demo
from sprout.cli.client import SproutClient

GREETER = ROOT / "examples" / "greeter"
APP = "greeter"


def dependency_builds(d: Demo, project: str) -> list[str]:
    """The ids of the dependency project's builds, as ``aws codebuild list-builds-for-project`` lists them."""
    listed = d.aws("codebuild", "list-builds-for-project", "--project-name", project, "--output", "json")
    return json.loads(listed).get("ids", [])


def wait_on_dev(d: Demo, number: int, pushed: float) -> tuple[dict, float]:
    """Build ``number`` of the greeter once live on dev, and the seconds from the push."""
    d.sprout("builds", "wait", APP, str(number), "--stage", "dev", "--timeout", "300")
    seconds = time.time() - pushed
    build = d.api.request("GET", f"/apps/{APP}/builds/{number}")
    deployment = (build.get("deployedTo") or {}).get("dev") or {}
    check(build["status"] == "SUCCEEDED" and deployment.get("status") == "SUCCEEDED",
          f"greeter build {number} did not reach dev: {json.dumps(build, indent=2)}")
    d.tl.record(f"greeter build #{number} SUCCEEDED, live on dev {seconds:.1f} s after the push")
    return build, seconds


def app_with_dependencies(d: Demo) -> None:
    project = d.aws("cloudformation", "describe-stacks", "--stack-name", "sprout", "--query",
                    "Stacks[0].Outputs[?OutputKey=='DependencyBuildProjectName'].OutputValue", "--output", "text").strip()
    clone_url = d.aws("codecommit", "create-repository", "--repository-name", APP, "--query",
                      "repositoryMetadata.cloneUrlHttp", "--output", "text").strip()
    d.sprout("apps", "create", APP, "--repository", APP, "--stage", "dev:main:auto")
    work = d.work.parent / APP
    shutil.copytree(GREETER, work, ignore=shutil.ignore_patterns("__pycache__", "node_modules"))
    d.tl.git(work, "init", "-q", "-b", "main")
    d.tl.git(work, "add", "-A")
    d.tl.git(work, "commit", "-q", "-m", "The greeter app")
    before = set(dependency_builds(d, project))
    pushed = time.time()
    d.tl.git(work, "push", "-q", clone_url, "main")
    first, cold = wait_on_dev(d, 1, pushed)
    ran = sorted(set(dependency_builds(d, project)) - before)
    check(len(ran) == 4, f"four dependency builds should have run (hello's pip, greet's pip, npm ci, the layer's pip): {ran}")
    d.tl.record(f"{len(ran)} dependency builds ran in CodeBuild ({project}): humanize, Powertools, ms, tabulate")
    dev = SproutClient(d.stack_url("greeter-dev"))
    hello, when = dev.request("GET", "/hello"), dev.request("GET", "/when")
    check(hello.get("greeting") == "Hello, visitor number 1,234,567" and when.get("inAMinute") == "1m",
          f"greeter on dev should answer with its dependencies: {hello!r} {when!r}")
    d.tl.record(f"GET /hello → {hello['greeting']!r} (humanize, tabulate from the layer); "
                f"GET /when → {json.dumps(when)} (ms)")

    (work / "NOTES.md").write_text("Nothing in the app changes.\n")
    d.tl.git(work, "add", "-A")
    d.tl.git(work, "commit", "-q", "-m", "Notes")
    pushed = time.time()
    d.tl.git(work, "push", "-q", clone_url, "main")
    second, warm = wait_on_dev(d, 2, pushed)
    again = sorted(set(dependency_builds(d, project)) - before)
    same = {f["logicalId"]: f["sha256"] for f in second["functions"]} == {
        f["logicalId"]: f["sha256"] for f in first["functions"]}
    check(again == ran and same,
          "the same source pushed again should build no dependencies and keep every function's sha256")
    d.tl.record("same source pushed again: dependencies from the cache, every function's sha256 unchanged")
    d.tl.figure("greeter push → live on dev", f"empty dependency cache {cold:.1f} s, cached {warm:.1f} s")
