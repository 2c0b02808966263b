"""Sprout carries on after its local cloud is killed (``kill -9``) and started again on the same data
dir: in the middle of a deploy, and in the middle of a dependency build (CodeBuild). Its API answers
with the same apps, builds and deployments, the work that was running ends (nothing is left open:
no build building, no deployment in progress, no stage locked, no CodeBuild build running), the
record matches what runs, and the next push deploys.

Its own local cloud (it is killed), not the session's; the two cases share it and one app."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

from sprout.cli.client import SproutClient
from tests.conftest import RunningCloud, start_cloud
from tests.integration.faults import arm
from tests.integration.sprout.conftest import AppRepo, registered_app, wait_for
from tests.integration.sprout.test_record_truth import (
    DEV_ONLY,
    assert_record_matches_the_stack,
    deployment_of,
    live,
    stack_status,
    write,
)

ARGS = ("--enforce-iam",)


def written(cloud) -> bool:
    """True once every change the cloud acknowledged is in its snapshot."""
    return not requests.get(f"{cloud.endpoint}/_localcloud/persistence", timeout=10).json()["pending"]


@dataclass
class Restartable:
    data: Path
    cloud: RunningCloud
    api: SproutClient
    app: AppRepo

    def kill_and_start_again(self) -> str:
        """Wait until the snapshot holds everything acknowledged, SIGKILL the cloud, start it again on
        the same data dir; what the new one printed."""
        wait_for("the snapshot", lambda: written(self.cloud), timeout=120)
        self.cloud.process.kill()
        self.cloud.process.wait(timeout=30)
        self.cloud = start_cloud(self.data, extra_args=ARGS, with_sprout=True)
        self.api = SproutClient(self.cloud.sprout["ApiUrl"])
        self.app.api, self.app.cloud = self.api, self.cloud
        return "".join(self.cloud.output)

    def next_number(self) -> int:
        return max((b["number"] for b in self.app.builds()), default=0) + 1

    def nothing_open(self) -> None:
        """No build building, no deployment in progress, the stage free."""
        wait_for("the stage to be free",
                 lambda: self.api.request("GET", f"/apps/{self.app.name}/stages/dev")["lock"] is None, timeout=60)
        builds = self.app.builds()
        assert not [b["number"] for b in builds if b["status"] == "BUILDING"], builds
        assert not [b["number"] for b in builds
                    if ((b.get("deployedTo") or {}).get("dev") or {}).get("status") == "IN_PROGRESS"], builds


@pytest.fixture(scope="module")
def restartable(tmp_path_factory, request) -> Iterator[Restartable]:
    """A local cloud with Sprout (IAM enforced) on its own data dir, and a one-function app with a dev
    stage that follows main, built and deployed once (version 1)."""
    tmp = tmp_path_factory.mktemp("restart")
    with pytest.MonkeyPatch.context() as mp:
        for key, value in {"AWS_DEFAULT_REGION": "us-east-1", "AWS_ACCESS_KEY_ID": "localcloud",
                           "AWS_SECRET_ACCESS_KEY": "localcloud"}.items():
            mp.setenv(key, value)
        cloud = start_cloud(tmp / "cloud", extra_args=ARGS, with_sprout=True)
        holder: Restartable | None = None
        try:
            api = SproutClient(cloud.sprout["ApiUrl"])
            source = tmp / "source"
            source.mkdir()
            app = registered_app(cloud, api, f"restart-{uuid.uuid4().hex[:8]}", source, tmp, stages=DEV_ONLY)
            write(app, 1)
            app.commit_and_push("version 1")
            assert app.wait_build(1, timeout=180)["deployedTo"]["dev"]["status"] == "SUCCEEDED"
            holder = Restartable(tmp / "cloud", cloud, api, app)
            yield holder
        finally:
            (holder.cloud if holder is not None else cloud).stop(timeout=60)  # its last snapshot may be large


def test_given_a_deploy_in_progress_when_the_cloud_is_killed_and_started_again_then_sprout_carries_on(restartable):
    r = restartable
    app, cloud = r.app, r.cloud
    first = live(cloud, app)
    # GIVEN the next build's stack update held in progress (its deployment open, the stage locked)
    held = r.next_number()
    arm(cloud, kind="hold-stack", stack=f"{app.name}-dev")
    write(app, held, memory=256)
    app.commit_and_push(f"version {held}")
    started = wait_for("the build's deployment", lambda: deployment_of(app, held), timeout=120)
    wait_for("the stack update", lambda: stack_status(cloud, app) == "UPDATE_IN_PROGRESS", timeout=60)
    assert r.api.request("GET", f"/apps/{app.name}/stages/dev")["lock"] is not None
    # WHEN the local cloud is killed (SIGKILL) and started again on the same data dir
    said = r.kill_and_start_again()
    cloud = r.cloud
    # THEN it says what it restored and what it ended
    assert "localcloud: restored the state written" in said and "stacks" in said, said
    assert "Step Functions executions ended ABORTED" in said, said
    # AND Sprout answers with the same app and builds
    assert app.name in [a["name"] for a in r.api.request("GET", "/apps")["apps"]]
    assert held in [b["number"] for b in app.builds()]
    # AND the deploy that was running ended: nothing open, the record matches what runs (the build before)
    settled = app.wait_build(held, timeout=120)["deployedTo"]["dev"]
    assert settled["id"] == started["id"] and settled["status"] != "SUCCEEDED", settled
    wait_for("the stack to settle", lambda: not stack_status(cloud, app).endswith("_IN_PROGRESS"), timeout=60)
    assert live(cloud, app) == first
    r.nothing_open()
    assert_record_matches_the_stack(cloud, r.api, app, held - 1)
    # AND the next push deploys
    after = held + 1
    write(app, after, memory=256)
    app.commit_and_push(f"version {after}")
    assert app.wait_build(after, timeout=180)["deployedTo"]["dev"]["status"] == "SUCCEEDED"
    assert_record_matches_the_stack(cloud, r.api, app, after)


def dependency_builds(cloud) -> list[dict]:
    codebuild = cloud.client("codebuild")
    ids = codebuild.list_builds_for_project(projectName=cloud.sprout["DependencyBuildProjectName"])["ids"]
    return codebuild.batch_get_builds(ids=ids)["builds"] if ids else []


def test_given_a_dependency_build_running_when_the_cloud_is_killed_and_started_again_then_it_is_stopped_and_sprout_carries_on(
    restartable,
):
    r = restartable
    app, cloud = r.app, r.cloud
    # GIVEN a push whose function has requirements, its dependency build held in its BUILD phase
    number = r.next_number()
    arm(cloud, kind="hold-build", project=cloud.sprout["DependencyBuildProjectName"])
    write(app, number)
    (app.work / "fn" / "requirements.txt").write_text("humanize\n")
    app.commit_and_push(f"version {number}, with requirements")
    running = wait_for("the dependency build in its BUILD phase", lambda: [
        b for b in dependency_builds(cloud) if b["buildStatus"] == "IN_PROGRESS" and b["currentPhase"] == "BUILD"
    ], timeout=180)
    assert (app.build(number) or {}).get("status") == "BUILDING"
    # WHEN the local cloud is killed (SIGKILL) and started again on the same data dir
    said = r.kill_and_start_again()
    cloud = r.cloud
    # THEN it says it stopped the build, and the build is STOPPED as CodeBuild shows a stopped one
    assert "CodeBuild builds ended STOPPED" in said, said
    stopped = {b["id"]: b for b in dependency_builds(cloud)}[running[0]["id"]]
    assert stopped["buildStatus"] == "STOPPED" and stopped["buildComplete"], stopped
    # AND Sprout's build record is closed (failed, not building), nothing is open
    closed = app.wait_build(number, timeout=120)
    assert closed["status"] == "FAILED", closed
    r.nothing_open()
    # AND the next push (the same requirements) builds its dependencies and deploys
    after = number + 1
    write(app, after)
    app.commit_and_push(f"version {after}")
    done = app.wait_build(after, timeout=300)
    assert done["status"] == "SUCCEEDED", done.get("failure")
    assert done["deployedTo"]["dev"]["status"] == "SUCCEEDED"
    assert_record_matches_the_stack(cloud, r.api, app, after)
