"""A pull request's preview keeps ONE comment on the pull request up to date (issue 21): posted
when the preview is made, edited when a new commit comes, when a deploy of the stage ends (what
runs, where it answers, or why the deploy failed) and when the pull request closes. On in-memory
fakes (sprout.services.previews)."""

from __future__ import annotations

import json
from dataclasses import replace

from sprout.domain.model import (
    App,
    Build,
    BuildStatus,
    Deployment,
    DeploymentKind,
    DeploymentStatus,
    StageSpec,
)
from sprout.services.previews import Previews
from sprout.services.stage_changes import StageChanges
from tests.unit.sprout.test_stage_services import MACHINE, FakeExecutions, FakeLineage, NoStacks

URL = "https://abc123.execute-api.us-east-1.amazonaws.com/live"
C1, C2 = "1" * 40, "2" * 40


class Lineage(FakeLineage):
    def __init__(self, app: App):
        super().__init__(app)
        self.current: dict[str, Deployment] = {}
        self.builds = {1: C1, 2: C2}
        self.failed: list[Deployment] = []

    def current_deployment(self, app, stage):
        return self.current.get(stage)

    def list_deployments(self, app, stage, limit=25, next_token=None):
        return [d for d in self.failed if d.stage == stage][:limit], None

    def get_build(self, app, number):
        return Build(app, number, self.builds[number], "feature/x", BuildStatus.SUCCEEDED)

    def note_preview_comment(self, app_name, stage, comment_id):
        st = self.stages[stage]
        self.stages[stage] = replace(st, preview=replace(st.preview, comment_id=comment_id))


class PullRequests:
    def __init__(self):
        self.comments: dict[str, str] = {}
        self.builds = iter(range(1, 10))

    def comment(self, repository, pull_request_id, before, after, content):
        comment_id = f"c{len(self.comments) + 1}"
        self.comments[comment_id] = content
        return comment_id

    def edit(self, comment_id, content):
        if comment_id not in self.comments:
            return False
        self.comments[comment_id] = content
        return True

    def stage_urls(self, app, stage):
        return [URL]

    def start_build(self, app, commit, branch, trigger):
        return {"build": next(self.builds), "execution": "arn:build"}


def event(name: str, commit: str, status: str = "Open", merged: str = "False") -> dict:
    return {"event": name, "pullRequestId": "1", "repositoryNames": ["notes"], "pullRequestStatus": status,
            "sourceReference": "refs/heads/feature/x", "destinationReference": "refs/heads/main",
            "sourceCommit": commit, "destinationCommit": "0" * 40, "isMerged": merged}


def ended(build: int, status: str = "SUCCEEDED", output: dict | None = None) -> dict:
    return {"status": status, "input": json.dumps({"app": "notes", "stage": "pr-1", "build": build}),
            "output": json.dumps(output or {"status": "SUCCEEDED"}) if status == "SUCCEEDED" else None,
            "error": None if status == "SUCCEEDED" else "DeployFailed"}


def deployed(lineage: Lineage, build: int) -> None:
    lineage.current["pr-1"] = Deployment("notes", "pr-1", f"00000{build}", build, DeploymentKind.DEPLOY,
                                         DeploymentStatus.SUCCEEDED, {"type": "push"})


def test_given_a_pull_request_preview_when_it_lives_then_one_comment_says_where_it_answers_at_each_moment():
    """GIVEN pull request previews on notes WHEN the pull request opens, its deploy ends, a new commit
    comes, that deploy fails, and it closes THEN exactly one comment exists, edited each time: first
    deploying, then the URL with build 1, then deploying the new commit, then the failure beside
    what still runs, then removed."""
    lineage = Lineage(App("notes", "notes", stages=(StageSpec("dev", "main", True), StageSpec("prod"))))
    prs = PullRequests()
    previews = Previews(lineage, StageChanges(lineage, FakeExecutions(lineage), NoStacks(), MACHINE, "sprout"),
                        pull_requests=prs)
    previews.put("notes", {"pullRequests": {"enabled": True}}, "alice")

    previews.pull_request_event(event("pullRequestCreated", C1))
    assert list(prs.comments) == ["c1"] and "deploying commit `111111111111` (build 1)" in prs.comments["c1"]
    assert lineage.stages["pr-1"].preview.comment_id == "c1"

    deployed(lineage, 1)
    assert previews.deployment_ended(ended(1))["told"]
    assert f"answers at {URL} — build 1" in prs.comments["c1"] and "deploying" not in prs.comments["c1"]

    previews.pull_request_event(event("pullRequestSourceBranchUpdated", C2))
    assert f"answers at {URL} — build 1" in prs.comments["c1"] and "deploying commit `222222222222`" in prs.comments["c1"]

    lineage.failed.append(Deployment("notes", "pr-1", "000002", 2, DeploymentKind.DEPLOY, DeploymentStatus.FAILED,
                                     {"type": "push"}, error="template parameter ApiKey has no Default and no value"))
    assert previews.deployment_ended(ended(2, "FAILED"))["told"]
    assert "build 2 (commit `222222222222`) failed to deploy: template parameter ApiKey" in prs.comments["c1"]
    assert f"answers at {URL} — build 1" in prs.comments["c1"]  # what still runs

    previews.pull_request_event(event("pullRequestStatusChanged", C2, status="Closed"))
    assert list(prs.comments) == ["c1"] and "removed (the pull request is closed)" in prs.comments["c1"]
    assert lineage.stages["pr-1"].removing


def test_given_deploys_that_are_not_a_pull_requests_preview_then_no_comment_is_touched():
    """GIVEN a deploy of dev, a superseded deploy of pr-1, and an event without a deploy request
    WHEN they end THEN each is ignored, naming why, and no comment is posted or edited."""
    lineage = Lineage(App("notes", "notes", stages=(StageSpec("dev", "main", True),)))
    prs = PullRequests()
    previews = Previews(lineage, StageChanges(lineage, FakeExecutions(lineage), NoStacks(), MACHINE, "sprout"),
                        pull_requests=prs)
    previews.put("notes", {"pullRequests": {"enabled": True}}, "alice")
    previews.pull_request_event(event("pullRequestCreated", C1))
    before = dict(prs.comments)
    dev = {**ended(1), "input": json.dumps({"app": "notes", "stage": "dev", "build": 1})}
    assert previews.deployment_ended(dev) == {"ignored": "not a pull request's live preview"}
    assert previews.deployment_ended(ended(1, output={"status": "SUPERSEDED"})) == {"ignored": "superseded"}
    assert previews.deployment_ended({"status": "FAILED", "input": "not json"}) == {"ignored": "no input"}
    assert previews.deployment_ended({"status": "FAILED", "input": json.dumps({"app": "notes"})}) == \
        {"ignored": "not a deploy request"}
    assert prs.comments == before
