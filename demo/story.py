"""The seed's story, steps 1 to 7 and 9 (step 8, auto-rollback, is in demo.auto_rollback; step 10, an app
with dependencies, in demo.dependencies).

Every step goes through a user's interfaces: the ``aws`` CLI for CodeCommit and CloudFormation,
plain ``git push``, the ``sprout`` CLI as a subprocess, and SigV4-signed HTTP to the notes app.
What a step shows comes from those commands; what it checks is read back from Sprout's API."""

from __future__ import annotations

import json
import shutil
import sys
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from demo.console import DemoFailed, Timeline, check, poll
from demo.traffic import Traffic
from sprout.cli.client import ApiError, SproutClient

ROOT = Path(__file__).resolve().parents[1]
NOTES = ROOT / "examples" / "notes"
BIN = Path(sys.executable).parent
APP = "notes"
BROKEN_LINE = "    gibberish.what  # the guide's broken line: NameError on every call\n"
HANDLER = "def main(event, context):\n"
STEADY_RATE = 5.0  # requests a second on prod from step 2 on (step 8 raises it to 10)


def epoch(when: str | float | None) -> float | None:
    """A time as epoch seconds: the API's (ISO 8601 UTC, ``…Z``), or a number of epoch seconds
    (what the AWS CLI prints for a timestamp of a JSON-protocol service such as CloudWatch)."""
    if when is None or when == "":
        return None
    if isinstance(when, int | float):
        return float(when)
    return datetime.fromisoformat(when.replace("Z", "+00:00")).timestamp()


@dataclass
class Demo:
    """What the steps share: the running cloud's environment, Sprout's API and the notes app."""

    tl: Timeline
    env: dict[str, str]
    api: SproutClient  # Sprout's API: the checks read what the steps did from it
    work: Path  # the developer's clone of the notes app
    clone_url: str = ""
    prod_url: str = ""
    dev_url: str = ""
    traffic: Traffic | None = None
    builds: dict[int, dict] = field(default_factory=dict)

    def sprout(self, *args: str, expect: int = 0) -> str:
        return self.tl.run([str(BIN / "sprout"), *args], env=self.env, expect=expect)

    def aws(self, *args: str) -> str:
        return self.tl.run([str(BIN / "aws"), *args], env=self.env)

    def get(self, path: str, **query: Any) -> Any:
        return self.api.request("GET", f"/apps/{APP}{path}", query=query or None)

    def stage(self, name: str) -> dict:
        return self.get(f"/stages/{name}")

    def build(self, number: int) -> dict:
        self.builds[number] = self.get(f"/builds/{number}")
        return self.builds[number]

    def stack_url(self, stack: str) -> str:
        query = "Stacks[0].Outputs[?OutputKey=='ApiUrl'].OutputValue"
        return self.aws("cloudformation", "describe-stacks", "--stack-name", stack, "--query", query,
                        "--output", "text").strip()

    def push(self) -> float:
        pushed = time.time()
        self.tl.git(self.work, "push", "-q", self.clone_url, "main")
        return pushed

    def wait_built(self, number: int, pushed: float) -> dict:
        """``sprout builds wait N --stage dev``, then build N read back: SUCCEEDED and live on dev."""
        self.sprout("builds", "wait", APP, str(number), "--stage", "dev", "--timeout", "120")
        build = self.build(number)
        deployment = (build.get("deployedTo") or {}).get("dev") or {}
        check(build["status"] == "SUCCEEDED" and deployment.get("status") == "SUCCEEDED",
              f"build {number} did not reach dev: {json.dumps(build, indent=2)}")
        self.tl.record(f"build #{number} SUCCEEDED, live on dev {time.time() - pushed:.1f} s after the push "
                       f"(deployment {deployment.get('id')})")
        return build

    def deployed(self, stage: str, build: int, kind: str, began: float) -> dict:
        """The stage's current deployment, checked: ``kind`` of ``build``, SUCCEEDED, started after
        ``began``; marked on the report's chart."""
        current = self.stage(stage).get("currentDeployment") or {}
        check(current.get("kind") == kind and current.get("build") == build
              and current.get("status") == "SUCCEEDED" and (epoch(current.get("startedAt")) or 0) >= began - 1,
              f"{stage} should run build {build} by a {kind} started now; its current deployment is "
              f"{json.dumps(current, indent=2)}")
        started = epoch(current["startedAt"]) or began
        self.tl.mark(started, epoch(current.get("finishedAt")) or started, f"{kind} #{build}", kind)
        return current

    def live_sha(self, stage: str, logical_id: str) -> str:
        return next(f["sha256"] for f in self.stage(stage)["functions"] if f["logicalId"] == logical_id)


def sha(build: dict, logical_id: str) -> str:
    return next(f["sha256"] for f in build["functions"] if f["logicalId"] == logical_id)


def register(d: Demo) -> None:
    """Step 1 (after the cloud is up): the CodeCommit repository and the app with dev and prod."""
    d.clone_url = d.aws("codecommit", "create-repository", "--repository-name", APP, "--query",
                        "repositoryMetadata.cloneUrlHttp", "--output", "text").strip()
    d.tl.record(f"CodeCommit repository {APP}: {d.clone_url}")
    d.sprout("apps", "create", APP, "--repository", APP, "--stage", "dev:main:auto", "--stage", "prod")
    stages = {s["name"]: s for s in d.get("").get("stages", [])}
    check(list(stages) == ["dev", "prod"], f"the app's stages should be dev, prod: {list(stages)}")
    check(stages["dev"].get("branch") == "main" and stages["dev"].get("autoDeploy") is True
          and not stages["prod"].get("autoDeploy"),
          f"dev should follow main with auto-deploy and prod be promote-only: {json.dumps(stages)}")
    d.tl.record("app notes registered: dev follows main (auto-deploy), prod promote-only")


def first_build_to_prod(d: Demo) -> None:
    """Step 2: push, build #1 on dev, prod's change set, the confirmed promote, a 200 on prod."""
    shutil.copytree(NOTES, d.work, ignore=shutil.ignore_patterns("__pycache__", ".pytest_cache"))
    d.tl.git(d.work, "init", "-q", "-b", "main")
    d.tl.git(d.work, "add", "-A")
    d.tl.git(d.work, "commit", "-q", "-m", "The notes app")
    d.wait_built(1, d.push())
    d.sprout("changeset", APP, "prod")
    changes = d.get("/stages/prod/changeset", build=1)
    check(changes["build"] == 1 and changes["current"] is None and changes["changes"],
          f"prod's change set should add build 1's resources to an empty stage: {json.dumps(changes)}")
    d.tl.record(f"change set for prod: {changes['summary']}")
    began = time.time()
    d.sprout("promote", APP, "--to", "prod", "--yes")
    current = d.deployed("prod", 1, "promote", began)
    d.tl.record(f"promote of build #1 to prod SUCCEEDED in {current['durationMs'] / 1000:.1f} s "
                f"(deployment {current['id']})")
    d.prod_url = d.stack_url("notes-prod")
    d.dev_url = d.stack_url("notes-dev")
    sent = {"content": "hello world", "attachment": "hello.jpg"}
    note = SproutClient(d.prod_url).request("POST", "/notes", sent)
    check(isinstance(note, dict) and note.get("content") == sent["content"] and note.get("noteId"),
          f"POST /notes on prod should answer the note: {note!r}")
    d.tl.record(f"POST /notes on prod → 200 {json.dumps(note)}")
    d.traffic = Traffic(d.prod_url, rate=STEADY_RATE).start()
    d.tl.record(f"steady traffic on prod from now on: signed POST /notes, {STEADY_RATE:g} a second")


def access_logs_on(d: Demo) -> None:
    """Step 3."""
    d.sprout("access-logs", "enable", APP, "prod")
    settings = d.get("/stages/prod/access-logs/settings")
    check(settings.get("enabled") is True and settings.get("apis"),
          f"access logs should be on for prod's API: {json.dumps(settings)}")
    d.tl.record(f"access logs on: {', '.join(a['logGroup'] for a in settings['apis'])}")


def broken_build_to_prod(d: Demo) -> None:
    """Step 4: the guide's broken ``create``; build #2 on dev; a minor change set; promoted."""
    create = d.work / "functions" / "create" / "create.py"
    source = create.read_text()
    check(HANDLER in source, f"{create} has no `{HANDLER.strip()}` to break")
    create.write_text(source.replace(HANDLER, HANDLER + BROKEN_LINE, 1))
    d.tl.git(d.work, "commit", "-q", "-am", "Break create (gibberish.what)")
    d.wait_built(2, d.push())
    d.sprout("changeset", APP, "prod")
    changes = d.get("/stages/prod/changeset", build=2)
    found = [(c["logicalId"], c["class"], c["kind"]) for c in changes["changes"]]
    check(found == [("CreateNoteFunction", "minor", "code-changed")],
          f"the change set for build 2 should show only create's code changed (minor): {found}")
    d.tl.record(f"change set for prod: {changes['summary']} — only CreateNoteFunction, minor")
    began = time.time()
    d.sprout("promote", APP, "--to", "prod", "--yes")
    current = d.deployed("prod", 2, "promote", began)
    d.tl.record(f"promote of build #2 to prod SUCCEEDED in {current['durationMs'] / 1000:.1f} s")


def prod_fails(d: Demo) -> None:
    """Step 5: ``POST /notes`` on prod as the guide calls it: 502 Internal server error."""
    try:
        answer = SproutClient(d.prod_url).request("POST", "/notes", {"content": "hello world"})
        raise DemoFailed(f"POST /notes on the broken build answered 200: {answer!r}")
    except ApiError as e:
        check(e.status == 502 and e.body == {"message": "Internal server error"},
              f"expected 502 {{\"message\": \"Internal server error\"}}, got {e.status} {e.body!r}")
    d.tl.record('POST /notes on prod → 502 {"message": "Internal server error"}')


def total(points: list[dict], key: str) -> float:
    return sum(p.get(key) or 0 for p in points)


def monitoring_shows_it(d: Demo) -> None:
    """Step 6: the 502s in the access logs, the 5xx in the API metrics, the NameError in create's
    logs, its errors in the Lambda metrics. Each is waited for through the API (delivery is not
    instant, on AWS either), then shown with the CLI and its output checked."""
    def bad_requests() -> list[dict]:
        page = d.get("/stages/prod/access-logs", status="5xx", since="5m", limit=100)["entries"]
        return [e for e in page if e["status"] == 502 and e["httpMethod"] == "POST"]

    poll("502s in prod's access logs", bad_requests)
    out = d.sprout("access-logs", APP, "prod", "--status", "5xx", "--since", "5m", "--limit", "5")
    check("502" in out and "POST" in out, "`sprout access-logs --status 5xx` shows no 502")
    d.tl.record(f"access logs: {len(bad_requests())} POST /notes answered 502 in the last 5 minutes "
                "(up to 100 read)")

    def api_points() -> list[dict]:
        return d.get("/stages/prod/metrics", since="5m", period=10)["points"]

    poll("5xx in prod's API metrics", lambda: total(api_points(), "5xx"))
    out = d.sprout("metrics", APP, "prod", "--since", "5m", "--period", "10")
    check("5xx" in out, "`sprout metrics` shows no 5xx column")
    points = api_points()
    d.tl.record(f"API metrics (10-second periods, last 5 minutes): {total(points, '5xx'):g} 5xx of "
                f"{total(points, 'requests'):g} requests")

    def name_errors() -> list[dict]:
        page = d.get("/stages/prod/functions/CreateNoteFunction/logs", errors="true", since="5m", limit=20)
        return [e for e in page["events"] if "NameError" in e["message"] and "gibberish" in e["message"]]

    errors = poll("NameError naming gibberish in create's logs", name_errors)
    out = d.sprout("logs", APP, "prod", "create", "--errors", "--since", "5m", "--limit", "1")
    check("NameError" in out and "gibberish" in out, "`sprout logs --errors` shows no NameError on gibberish")
    d.tl.record(f"create's logs: {errors[0]['message'].splitlines()[0].strip()}")

    def name_error_issue() -> list[dict]:
        return [i for i in d.get("/stages/prod/issues", status="open")["issues"] if i["type"] == "NameError"]

    [issue] = poll("the NameError as one issue on prod", name_error_issue)
    out = d.sprout("issues", "list", APP, "prod", "--status", "open")
    check("NameError" in out and "build #2" in out, "`sprout issues list` shows no NameError new in build #2")
    d.tl.record(f"issues: {issue['title']}, new in build #{issue['newInBuild']} (first seen on prod in deployment "
                f"{issue['firstSeen']['deployment']}), {issue['count']} so far")

    def live_points() -> list[dict]:
        return d.get("/stages/prod/functions/CreateNoteFunction/metrics", since="5m", period=10)["live"]

    poll("errors in create's Lambda metrics", lambda: total(live_points(), "errors"))
    out = d.sprout("metrics", APP, "prod", "--function", "create", "--since", "5m", "--period", "10",
                   "--no-chart")
    check("errors" in out, "`sprout metrics --function create` shows no errors column")
    live = live_points()
    d.tl.record(f"create's Lambda metrics (live alias, last 5 minutes): {total(live, 'errors'):g} errors of "
                f"{total(live, 'invocations'):g} invocations")


def rollback_by_hand(d: Demo) -> None:
    """Step 7: ``sprout rollback``; prod runs build #1 again; the time from the call to the first 200."""
    assert d.traffic is not None
    began = time.time()
    d.sprout("rollback", APP, "prod", "--yes")
    returned = time.time() - began
    current = d.deployed("prod", 1, "rollback", began)
    check(d.live_sha("prod", "CreateNoteFunction") == sha(d.builds[1], "CreateNoteFunction"),
          "after the rollback prod's create should run build 1's code")
    first_ok = d.traffic.wait_for(began, ok=True, timeout=15)
    check(first_ok is not None, "no 200 on prod within 15 s of the rollback")
    note = SproutClient(d.prod_url).request("POST", "/notes", {"content": "back on build 1"})
    check(isinstance(note, dict) and note.get("noteId"), f"POST /notes after the rollback: {note!r}")
    restore = first_ok.done - began
    d.tl.figure("hand rollback: call → first 200", f"{restore:.2f} s")
    d.tl.record(f"rollback to build #1 SUCCEEDED (deployment {current['id']}, {current['durationMs'] / 1000:.1f} s "
                f"with the stack reconcile; the CLI returned after {returned:.1f} s); "
                f"rollback call → first 200: {restore:.2f} s")


def revert_and_push(d: Demo) -> None:
    """Step 9: revert the bad commit; build #3 reaches dev with build #1's create, byte for byte."""
    d.tl.git(d.work, "revert", "--no-edit", "HEAD")
    build = d.wait_built(3, d.push())
    check(sha(build, "CreateNoteFunction") == sha(d.builds[1], "CreateNoteFunction"),
          "the revert should build create exactly as build 1 did (same sha256)")
    note = SproutClient(d.dev_url).request("POST", "/notes", {"content": "fixed"})
    check(isinstance(note, dict) and note.get("noteId"), f"POST /notes on dev after the revert: {note!r}")
    d.tl.record("build #3's create has build #1's sha256 (the same artifact); POST /notes on dev → 200")
    d.sprout("deployments", "list", APP, "prod")
