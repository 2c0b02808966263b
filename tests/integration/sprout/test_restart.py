"""Sprout carries on after its local cloud is killed (``kill -9``) in the middle of a deploy and
started again on the same data dir: its API answers with the same apps, builds and deployments,
the deploy that was running ends (nothing is left open: no build building, no deployment in
progress, no stage locked), the record matches what runs, and the next push deploys.

Its own local cloud (it is killed), not the session's."""

from __future__ import annotations

import pytest
import requests

from sprout.cli.client import SproutClient
from tests.conftest import start_cloud, stop_cloud
from tests.integration.faults import arm
from tests.integration.sprout.conftest import registered_app, wait_for
from tests.integration.sprout.test_record_truth import (
    DEV_ONLY,
    assert_record_matches_the_stack,
    deployment_of,
    live,
    stack_status,
    write,
)


def written(cloud) -> bool:
    """True once every change the cloud acknowledged is in its snapshot."""
    return not requests.get(f"{cloud.endpoint}/_localcloud/persistence", timeout=10).json()["pending"]


@pytest.fixture
def credentials(monkeypatch):
    for key, value in {"AWS_DEFAULT_REGION": "us-east-1", "AWS_ACCESS_KEY_ID": "localcloud",
                       "AWS_SECRET_ACCESS_KEY": "localcloud"}.items():
        monkeypatch.setenv(key, value)


def test_given_a_deploy_in_progress_when_the_cloud_is_killed_and_started_again_then_sprout_carries_on(
    tmp_path, uid, credentials
):
    data = tmp_path / "cloud"
    cloud = start_cloud(data, extra_args=("--enforce-iam",), with_sprout=True)
    try:
        api = SproutClient(cloud.sprout["ApiUrl"])
        source = tmp_path / "source"
        source.mkdir()
        app = registered_app(cloud, api, f"restart-{uid}", source, tmp_path, stages=DEV_ONLY)
        write(app, 1)
        app.commit_and_push("version 1")
        assert app.wait_build(1)["deployedTo"]["dev"]["status"] == "SUCCEEDED"
        first = live(cloud, app)
        # GIVEN build 2's stack update held in progress (its deployment open, the stage locked)
        arm(cloud, kind="hold-stack", stack=f"{app.name}-dev")
        write(app, 2, memory=256)
        app.commit_and_push("version 2")
        started = wait_for("build 2's deployment", lambda: deployment_of(app, 2), timeout=120)
        wait_for("the stack update", lambda: stack_status(cloud, app) == "UPDATE_IN_PROGRESS", timeout=60)
        assert api.request("GET", f"/apps/{app.name}/stages/dev")["lock"] is not None
        wait_for("the snapshot", lambda: written(cloud), timeout=30)
        # WHEN the local cloud is killed (SIGKILL) and started again on the same data dir
        cloud.process.kill()
        cloud.process.wait(timeout=30)
    except BaseException:
        stop_cloud(cloud)
        raise
    cloud = start_cloud(data, extra_args=("--enforce-iam",), with_sprout=True)
    try:
        # THEN it says what it restored and what it ended
        said = "".join(cloud.output)
        assert "localcloud: restored the state written" in said and "stacks" in said, said
        assert "Step Functions executions ended ABORTED" in said, said
        api = SproutClient(cloud.sprout["ApiUrl"])
        # AND Sprout answers with the same app and builds
        assert app.name in [a["name"] for a in api.request("GET", "/apps")["apps"]]
        app.api, app.cloud = api, cloud
        assert [b["number"] for b in app.builds()][:2] in ([2, 1], [1, 2])
        # AND the deploy that was running ended: nothing open, the record matches what runs (build 1)
        settled = app.wait_build(2, timeout=120)["deployedTo"]["dev"]
        assert settled["id"] == started["id"] and settled["status"] != "SUCCEEDED", settled
        wait_for("the stack to settle", lambda: not stack_status(cloud, app).endswith("_IN_PROGRESS"), timeout=60)
        assert live(cloud, app) == first
        wait_for("the stage to be free", lambda: api.request("GET", f"/apps/{app.name}/stages/dev")["lock"] is None,
                 timeout=60)
        assert_record_matches_the_stack(cloud, api, app, 1)
        # AND the next push deploys
        write(app, 3, memory=256)
        app.commit_and_push("version 3")
        assert app.wait_build(3, timeout=180)["deployedTo"]["dev"]["status"] == "SUCCEEDED"
        assert_record_matches_the_stack(cloud, api, app, 3)
    finally:
        stop_cloud(cloud)
