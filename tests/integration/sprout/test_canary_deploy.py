"""A push's deploy to a stage with a strategy (issue 23), on the local cloud: one notes app shared
by the module, dev following main. Build 1 is dev's first deploy (all at once); then dev gets a
canary strategy through PATCH /apps/{app}/stages/dev, and a push that breaks create is shifted
through the same canary loop a promote walks — judged bad, aborted, quarantined; a push whose deploy
execution is stopped mid-step leaves nothing open (the finalizer removes the weight)."""

from __future__ import annotations

import uuid

import pytest

from sprout.cli.client import ApiError
from tests.integration.sprout.conftest import NOTES, AppRepo, registered_app, wait_for
from tests.integration.sprout.test_canary import BROKEN, MARKER, Traffic


@pytest.fixture(scope="module")
def dev_app(cloud, api, tmp_path_factory) -> AppRepo:
    app = registered_app(cloud, api, f"cdep-{uuid.uuid4().hex[:8]}", NOTES, tmp_path_factory.mktemp("cdep"))
    app.commit_and_push("The notes app")
    app.wait_build(1)
    return app


def create_alias(app: AppRepo, cloud) -> dict:
    names = {r["LogicalResourceId"]: r["PhysicalResourceId"] for r in cloud.client("cloudformation").describe_stack_resources(
        StackName=f"{app.name}-dev")["StackResources"] if r["ResourceType"] == "AWS::Lambda::Function"}
    return cloud.client("lambda").get_alias(FunctionName=names["CreateNoteFunction"], Name="live")


def weights(app: AppRepo, cloud) -> dict:
    return (create_alias(app, cloud).get("RoutingConfig") or {}).get("AdditionalVersionWeights") or {}


def deployment_of(app: AppRepo, number: int) -> dict | None:
    found = app.api.request("GET", f"/apps/{app.name}/stages/dev/deployments")["deployments"]
    return next((d for d in found if d["build"] == number), None)


def ended(app: AppRepo, number: int, timeout: float = 90) -> dict:
    return wait_for(f"dev's deployment of build {number} to end", lambda: (lambda d: d if d and d["status"] != "IN_PROGRESS"
                                                                          else None)(deployment_of(app, number)),
                    timeout=timeout, every=0.5)


def set_strategy(app: AppRepo, strategy) -> dict:
    return app.api.request("PATCH", f"/apps/{app.name}/stages/dev", {"strategy": strategy})


def test_given_dev_with_a_canary_when_a_push_breaks_create_then_its_deploy_is_aborted_and_quarantined(dev_app, cloud):
    """GIVEN dev running build 1 (its first deploy: all at once, no strategy), and a 50 % canary
    baking 60 s set on dev (bad settings refused 400 naming the field, an unknown stage 404)
    WHEN a push breaks create, under traffic on dev
    THEN the push's deploy shifts through the canary loop and is judged bad on the new version's
    errors: FAILED at step canary with CanaryAborted, the weight removed, build 2 quarantined, dev
    free and still on build 1."""
    app = dev_app
    first = deployment_of(app, 1)
    assert first["status"] == "SUCCEEDED" and first["strategy"] is None and first["canary"] is None
    for bad, field in (({"type": "canary", "percent": 150, "intervalSeconds": 10}, "strategy.percent"),
                       ("canary99-1y", "strategy")):
        with pytest.raises(ApiError) as refused:
            set_strategy(app, bad)
        assert (refused.value.status, refused.value.body.get("field")) == (400, field)
    with pytest.raises(ApiError) as unknown:
        app.api.request("PATCH", f"/apps/{app.name}/stages/nope", {"strategy": "canary10-1m"})
    assert unknown.value.status == 404
    assert set_strategy(app, {"type": "canary", "percent": 50, "intervalSeconds": 60})["strategy"]["steps"] == [50]
    assert app.api.request("GET", f"/apps/{app.name}")["stages"][0]["strategy"]["percent"] == 50

    create = app.work / "functions" / "create" / "create.py"
    create.write_text(create.read_text().replace(MARKER, MARKER + BROKEN, 1))
    with Traffic(app, "dev") as traffic:
        app.commit_and_push("Break create")
        app.wait_build(2, stage=None)
        done = ended(app, 2, timeout=120)
    assert (done["status"], done["step"], done["kind"]) == ("FAILED", "canary", "deploy"), done
    assert done["error"].startswith("CanaryAborted") and done["strategy"]["steps"] == [50]
    assert done["steps"][0]["verdict"] == "FAIL" and done["cause"]["errors"] >= 3
    assert not weights(app, cloud)
    assert app.api.request("GET", f"/apps/{app.name}/builds/2")["quarantined"]
    assert traffic.seen[502] >= 3 and traffic.seen[200] > 0
    dev = wait_for("dev free", lambda: (lambda s: s if s["lock"] is None else None)(
        app.api.request("GET", f"/apps/{app.name}/stages/dev")), timeout=30)
    assert dev["build"]["number"] == 1


def test_given_a_pushs_canary_baking_when_its_deploy_execution_is_stopped_then_nothing_is_left_open(dev_app, cloud):
    """GIVEN dev with a 10 % canary baking 10 minutes, and a push that changes create harmlessly
    shifting through it (the weight on create's alias)
    WHEN the deploy execution that holds dev is stopped mid-step
    THEN the finalizer removes the weight and closes the deployment FAILED at step canary; dev is
    free, on build 1, and build 3 is not quarantined."""
    app = dev_app
    set_strategy(app, "canary10-5m")
    create = app.work / "functions" / "create" / "create.py"
    create.write_text(create.read_text().replace(BROKEN, "    # a harmless change\n", 1))
    app.commit_and_push("Touch create")
    app.wait_build(3, stage=None)
    wait_for("the weight on dev's create alias", lambda: weights(app, cloud), timeout=90)
    running = deployment_of(app, 3)
    assert running["status"] == "IN_PROGRESS" and ":execution:" in running["execution"]
    assert app.api.request("GET", f"/apps/{app.name}/stages/dev")["lock"]["execution"] == running["execution"]
    cloud.client("stepfunctions").stop_execution(executionArn=running["execution"], error="Test", cause="stopped mid-step")
    done = ended(app, 3, timeout=60)
    assert (done["status"], done["step"]) == ("FAILED", "canary") and "ABORTED" in done["error"], done
    assert done["canary"]["state"] == "ABORTED"
    wait_for("the weight removed", lambda: not weights(app, cloud), timeout=30)
    dev = wait_for("dev free", lambda: (lambda s: s if s["lock"] is None else None)(
        app.api.request("GET", f"/apps/{app.name}/stages/dev")), timeout=30)
    assert dev["build"]["number"] == 1
    assert not app.api.request("GET", f"/apps/{app.name}/builds/3").get("quarantined")
    set_strategy(app, None)
    assert app.api.request("GET", f"/apps/{app.name}")["stages"][0].get("strategy") is None
