"""The demo's preview step: the guide's broken ``create`` proposed as a CodeCommit pull request
before it reaches ``main``. Preview stage ``pr-1`` deploys it and answers 502 on ``POST /notes``
while dev and prod stay untouched; the pull request's comment names the preview's URL; closing
the pull request removes the stage, its stack and everything Sprout made for it, and the demo
lists what is left of it: nothing.

Through a user's interfaces only: ``sprout`` (previews enable, stages list), ``git push``, the
``aws`` CLI for CodeCommit, CloudFormation, CloudWatch and CloudWatch Logs."""

from __future__ import annotations

import json
import time
from typing import Any

from demo.console import check, poll
from demo.story import APP, BROKEN_LINE, HANDLER, Demo
from sprout.cli.client import ApiError, SproutClient

BRANCH = "break-create"


def _json(d: Demo, *args: str) -> Any:
    return json.loads(d.aws(*args, "--output", "json") or "null")


def _stage_names(d: Demo) -> list[str]:
    return [s["name"] for s in d.get("/stages")["stages"]]


def leftovers(d: Demo, stage: str, functions: list[str]) -> dict[str, list[str]]:
    """Everything of ``stage`` that could outlive it, as a user would look for it: its stack, Sprout's
    alarms, its functions' log groups (and any log group named after its stack), Sprout's
    subscription filters, the stage's lock."""
    stack = f"{APP}-{stage}"
    stacks = _json(d, "cloudformation", "list-stacks", "--query",
                   f"StackSummaries[?StackName=='{stack}' && StackStatus!='DELETE_COMPLETE'].StackName")
    alarms = _json(d, "cloudwatch", "describe-alarms", "--alarm-name-prefix", f"sprout-ar-{stack}-",
                   "--query", "MetricAlarms[].AlarmName")
    names = "logGroups[?contains(logGroupName, '{}')].logGroupName"
    mine = _json(d, "logs", "describe-log-groups", "--query", names.format(stack)) or []
    mine += [g for f in functions if stack not in f
             for g in _json(d, "logs", "describe-log-groups", "--log-group-name-prefix", f"/aws/lambda/{f}",
                            "--query", "logGroups[].logGroupName") or []]
    access = _json(d, "logs", "describe-log-groups", "--log-group-name-prefix", "API-Gateway-Access-Logs_",
                   "--query", "logGroups[].logGroupName") or []
    filters = [f for g in access
               for f in _json(d, "logs", "describe-subscription-filters", "--log-group-name", g,
                              "--query", "subscriptionFilters[].filterName") or []
               if str(f).startswith(f"sprout-ar#{APP}#{stage}")]
    view = d.stage(stage)
    return {"stacks": list(stacks or []), "alarms": list(alarms or []), "logGroups": mine,
            "subscriptionFilters": filters, "lock": [view["lock"]["deployment"]] if view.get("lock") else []}


def pull_request_preview(d: Demo) -> None:
    """The broken create as a pull request: pr-1 answers 502, dev and prod untouched, the comment
    names the URL, the closed pull request leaves nothing."""
    d.sprout("previews", "enable", APP, "--pull-requests", "--inherit-from", "dev")
    before = {s: (d.stage(s).get("currentDeployment") or {}).get("id") for s in ("dev", "prod")}
    create = d.work / "functions" / "create" / "create.py"
    d.tl.git(d.work, "checkout", "-q", "-b", BRANCH, "main")
    create.write_text(create.read_text().replace(HANDLER, HANDLER + BROKEN_LINE, 1))
    d.tl.git(d.work, "commit", "-q", "-am", "Break create (gibberish.what), proposed as a pull request")
    d.tl.git(d.work, "push", "-q", d.clone_url, BRANCH)
    opened = time.time()
    pr = _json(d, "codecommit", "create-pull-request", "--title", "Break create", "--targets",
               f"repositoryName={APP},sourceReference={BRANCH},destinationReference=main")
    pr_id = pr["pullRequest"]["pullRequestId"]
    stage = f"pr-{pr_id}"
    check(stage == "pr-1", f"the demo's first pull request should be 1: {pr_id}")
    poll(f"preview {stage} deployed", lambda: stage in _stage_names(d) and (
        d.stage(stage).get("currentDeployment") or {}).get("status") == "SUCCEEDED", timeout=180)
    d.tl.record(f"pull request {pr_id} opened: preview {stage} answering {time.time() - opened:.1f} s later")
    d.sprout("stages", "list", APP)
    url = d.stack_url(f"{APP}-{stage}")
    try:
        answer = SproutClient(url).request("POST", "/notes", {"content": "hello world"})
        check(False, f"POST /notes on {stage} answered 200: {answer!r}")
    except ApiError as e:
        check(e.status == 502, f"POST /notes on {stage} should answer 502: {e.status} {e.body!r}")
    after = {s: (d.stage(s).get("currentDeployment") or {}).get("id") for s in ("dev", "prod")}
    check(after == before, f"dev and prod should be untouched by the pull request: {before} → {after}")
    d.tl.record(f"POST /notes on {stage} → 502; dev and prod untouched (deployments {before['dev']}, {before['prod']})")

    def comment() -> list[str]:
        data = _json(d, "codecommit", "get-comments-for-pull-request", "--pull-request-id", pr_id)
        return [c["content"] for x in data["commentsForPullRequestData"] for c in x["comments"]]

    said = poll("the pull request's comment naming the URL", lambda: [c for c in comment() if url in c], timeout=60)
    d.tl.record(f"the pull request's comment: {' / '.join(said[0].splitlines()[2:])}")
    functions = [f["functionName"] for f in d.stage(stage).get("functions") or [] if f.get("functionName")]
    closed = time.time()
    d.aws("codecommit", "update-pull-request-status", "--pull-request-id", pr_id, "--pull-request-status", "CLOSED")
    poll(f"preview {stage} removed", lambda: d.stage(stage).get("removedAt"), timeout=180)
    d.tl.record(f"pull request closed: {stage} removed {time.time() - closed:.1f} s later")
    left = leftovers(d, stage, functions)
    check(not any(left.values()) and stage not in _stage_names(d), f"something of {stage} is left: {left}")
    d.tl.record(f"left of {stage}: nothing (stacks, alarms, log groups, subscription filters, locks: {left})")
    d.tl.git(d.work, "checkout", "-q", "main")
    d.tl.git(d.work, "branch", "-q", "-D", BRANCH)
