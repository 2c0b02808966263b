"""Canary promotes on the local cloud (issue 23), one notes app shared by the module: prod runs
build 1; build 2 breaks create; build 3 changes create harmlessly; build 4's create answers 500
without raising. A bad canary (Lambda errors, or handled 5xx) is aborted with every weight back to 0
and the deployment FAILED; a person aborts one through the API; a good one finishes with every
alias on the new version."""

from __future__ import annotations

import json
import threading
import uuid
from collections import Counter

import pytest

from sprout.cli.client import ApiError, SproutClient
from tests.integration.sprout.conftest import NOTES, AppRepo, registered_app, wait_for

BROKEN = "    gibberish.what  # the story's broken line\n"
MARKER = "def main(event, context):\n"
HANDLED_500 = '    return {"statusCode": 500, "body": "{\\"message\\": \\"handled\\"}"}  # no Lambda error\n'


@pytest.fixture(scope="module")
def canary_app(cloud, api, tmp_path_factory) -> AppRepo:
    app = registered_app(cloud, api, f"canary-{uuid.uuid4().hex[:8]}", NOTES, tmp_path_factory.mktemp("canary"))
    app.commit_and_push("The notes app")
    app.wait_build(1)
    create = app.work / "functions" / "create" / "create.py"
    good = create.read_text()
    create.write_text(good.replace(MARKER, MARKER + BROKEN, 1))
    app.commit_and_push("Break create")
    app.wait_build(2)
    create.write_text(good.replace(MARKER, MARKER + "    # a harmless change\n", 1))
    app.commit_and_push("Touch create")
    app.wait_build(3)
    create.write_text(good.replace(MARKER, MARKER + HANDLED_500, 1))
    app.commit_and_push("Create answers 500 without raising")
    app.wait_build(4)
    create.write_text(good)
    cs = api.request("GET", f"/apps/{app.name}/stages/prod/changeset", query={"build": "1"})
    started = api.request("POST", f"/apps/{app.name}/stages/prod/promote", {"build": 1, "changesetId": cs["changesetId"]})
    assert ended(app, started["deployment"])["status"] == "SUCCEEDED"
    return app


@pytest.fixture(scope="module")
def deployment_events(cloud, canary_app):
    """An SQS queue receiving, through a rule on the default bus, Sprout's deployment state changes
    of this app."""
    sqs, events = cloud.client("sqs"), cloud.client("events")
    url = sqs.create_queue(QueueName=f"deployments-{canary_app.name}")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    rule = f"deployments-{canary_app.name}"
    events.put_rule(Name=rule, EventPattern=json.dumps({
        "source": ["sprout"], "detail-type": ["Sprout Deployment State Change"], "detail": {"app": [canary_app.name]}}))
    events.put_targets(Rule=rule, Targets=[{"Id": "queue", "Arn": arn}])
    yield url
    events.remove_targets(Rule=rule, Ids=["queue"])
    events.delete_rule(Name=rule)


def deployment(app: AppRepo, deployment_id: str) -> dict:
    return app.api.request("GET", f"/apps/{app.name}/stages/prod/deployments/{deployment_id}")


def ended(app: AppRepo, deployment_id: str, timeout: float = 120) -> dict:
    return wait_for(f"deployment {deployment_id}", lambda: (lambda d: d if d["status"] != "IN_PROGRESS" else None)(
        deployment(app, deployment_id)), timeout=timeout, every=0.5)


def create_alias(app: AppRepo, cloud) -> dict:
    names = {r["LogicalResourceId"]: r["PhysicalResourceId"] for r in cloud.client("cloudformation").describe_stack_resources(
        StackName=f"{app.name}-prod")["StackResources"] if r["ResourceType"] == "AWS::Lambda::Function"}
    return cloud.client("lambda").get_alias(FunctionName=names["CreateNoteFunction"], Name="live")


class Traffic:
    """POST /notes on ``stage`` (prod) in a loop until stopped; the statuses it saw."""

    def __init__(self, app: AppRepo, stage: str = "prod"):
        self.client = SproutClient(app.stage_url(stage), timeout=30)
        self.seen: Counter[int] = Counter()
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self.stop.is_set():
            try:
                self.client.request("POST", "/notes", {"content": "canary"})
                self.seen[200] += 1
            except ApiError as e:
                self.seen[e.status] += 1
            self.stop.wait(0.02)

    def __enter__(self) -> Traffic:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join(timeout=30)


def test_given_a_broken_build_when_promoted_with_a_canary_then_it_is_aborted_with_every_weight_back_to_0(
    canary_app, cloud, deployment_events
):
    """GIVEN prod on build 1 answering POST /notes
    WHEN build 2 (create broken) is promoted with a 50 % canary baking 60 s, under traffic
    THEN the canary is judged bad on the new version's errors and aborted within seconds: FAILED at
    step canary with CanaryAborted and the datapoints, create's alias on the old version with no
    weight, build 2 quarantined, prod answering 200 again."""
    app = canary_app
    before = create_alias(app, cloud)["FunctionVersion"]
    with Traffic(app) as traffic:
        started = app.api.request("POST", f"/apps/{app.name}/stages/prod/promote",
                                  {"build": 2, "strategy": {"type": "canary", "percent": 50, "intervalSeconds": 60}})
        assert started["strategy"]["steps"] == [50]
        done = ended(app, started["deployment"], timeout=60)
    assert (done["status"], done["step"]) == ("FAILED", "canary"), done
    assert done["error"].startswith("CanaryAborted"), done["error"]
    assert done["cause"]["errors"] >= 3 and done["strategy"]["type"] == "canary"
    assert done["steps"][0]["weight"] == 50 and done["steps"][0]["verdict"] == "FAIL"
    alias = create_alias(app, cloud)
    assert alias["FunctionVersion"] == before
    assert not (alias.get("RoutingConfig") or {}).get("AdditionalVersionWeights")
    assert app.api.request("GET", f"/apps/{app.name}/builds/2")["quarantined"]
    assert traffic.seen[502] >= 3 and traffic.seen[200] > 0
    wait_for("prod to let the canary go", lambda: app.api.request("GET", f"/apps/{app.name}/stages/prod")["lock"] is None)
    print(f"bad canary: {traffic.seen[502]} failed requests of {sum(traffic.seen.values())}")
    sqs = cloud.client("sqs")

    def closed_event() -> dict | None:
        for m in sqs.receive_message(QueueUrl=deployment_events, MaxNumberOfMessages=10, WaitTimeSeconds=1).get("Messages", []):
            detail = json.loads(m["Body"])["detail"]
            if detail["deploymentId"] == started["deployment"]:
                return detail
        return None

    detail = wait_for("the aborted canary's Sprout Deployment State Change", closed_event, timeout=30)
    assert (detail["status"], detail["failure"]["error"], detail["failure"]["step"]) == ("FAILED", "CanaryAborted", "canary")
    assert detail["failure"]["cause"]["errors"] >= 3


def test_given_a_build_answering_500_without_raising_when_promoted_with_a_canary_then_its_5xx_abort_it(canary_app, cloud):
    """GIVEN prod on build 1; build 4's create RETURNS a 500 (never a Lambda error)
    WHEN build 4 is promoted with a 50 % canary baking 60 s, under traffic
    THEN the judge counts the new version's 500s (the access log's integration request ids, found in
    its own log streams): the canary is aborted (CanaryAborted), create's alias back on build 1 with
    no weight, and prod still answers 200."""
    app = canary_app
    before = create_alias(app, cloud)["FunctionVersion"]
    with Traffic(app) as traffic:
        started = app.api.request("POST", f"/apps/{app.name}/stages/prod/promote",
                                  {"build": 4, "strategy": {"type": "canary", "percent": 50, "intervalSeconds": 60}})
        done = ended(app, started["deployment"], timeout=60)
    assert (done["status"], done["step"]) == ("FAILED", "canary"), done
    assert done["error"].startswith("CanaryAborted"), done["error"]
    assert done["steps"][0]["verdict"] == "FAIL" and done["cause"]["errors"] >= 3, done
    assert traffic.seen[500] >= 3 and traffic.seen[502] == 0
    print(f"handled-500 canary: {traffic.seen[500]} failed requests of {sum(traffic.seen.values())}")
    alias = create_alias(app, cloud)
    assert alias["FunctionVersion"] == before
    assert not (alias.get("RoutingConfig") or {}).get("AdditionalVersionWeights")
    assert SproutClient(app.stage_url("prod"), timeout=30).request("POST", "/notes", {"content": "after"})["noteId"]
    wait_for("prod to let the canary go", lambda: app.api.request("GET", f"/apps/{app.name}/stages/prod")["lock"] is None)


def test_given_a_canary_baking_when_a_person_aborts_it_then_the_weights_are_removed_and_nothing_more_is_accepted(canary_app, cloud):
    """GIVEN build 3 promoted with a 10 % canary baking 10 minutes, no traffic (a bad strategy, or a
    4400-character preset name, refused first with 400 naming the field)
    WHEN a person aborts it through the API
    THEN it closes FAILED naming them, the weight is removed, build 3 stays deployable, and finishing
    it afterwards is refused 409; an action with no route is refused by API Gateway."""
    app = canary_app
    for bad, field in (({"type": "canary", "percent": 150, "intervalSeconds": 10}, "strategy.percent"),
                       ("canary99-1y" * 400, "strategy")):
        with pytest.raises(ApiError) as refused:
            app.api.request("POST", f"/apps/{app.name}/stages/prod/promote", {"build": 3, "strategy": bad})
        assert (refused.value.status, refused.value.body.get("field")) == (400, field)
        assert len(refused.value.body["message"]) < 400
    started = app.api.request("POST", f"/apps/{app.name}/stages/prod/promote",
                              {"build": 3, "strategy": {"type": "canary", "percent": 10, "intervalSeconds": 600}})
    path = f"/apps/{app.name}/stages/prod/deployments/{started['deployment']}"
    wait_for("the canary's first step", lambda: (deployment(app, started["deployment"])["steps"] or [None])[0], timeout=60)
    wait_for("the weight on create's alias", lambda: (create_alias(app, cloud).get("RoutingConfig") or {}).get(
        "AdditionalVersionWeights"), timeout=30)
    with pytest.raises(ApiError) as unknown:
        app.api.request("POST", f"{path}/explode", {})
    assert unknown.value.status == 403  # API Gateway: no such route ("Missing Authentication Token")
    assert app.api.request("POST", f"{path}/abort", {})["requested"] == "abort"
    done = ended(app, started["deployment"], timeout=30)
    assert done["status"] == "FAILED" and "aborted by" in done["error"]
    assert not (create_alias(app, cloud).get("RoutingConfig") or {}).get("AdditionalVersionWeights")
    assert not app.api.request("GET", f"/apps/{app.name}/builds/3").get("quarantined")
    with pytest.raises(ApiError) as late:
        app.api.request("POST", f"{path}/finish", {})
    assert late.value.status == 409


def test_given_a_canary_baking_when_its_execution_is_stopped_then_the_finalizer_removes_the_weights_and_closes_it(canary_app, cloud):
    """GIVEN build 3 promoted with a 10 % canary baking 10 minutes
    WHEN its execution is stopped mid-step
    THEN the finalizer removes the weight (the alias as the record says) and closes the deployment
    FAILED at step canary; prod is free again."""
    app = canary_app
    started = app.api.request("POST", f"/apps/{app.name}/stages/prod/promote",
                              {"build": 3, "strategy": "canary10-5m"})
    wait_for("the weight on create's alias", lambda: (create_alias(app, cloud).get("RoutingConfig") or {}).get(
        "AdditionalVersionWeights"), timeout=60)
    cloud.client("stepfunctions").stop_execution(executionArn=started["execution"], error="Test", cause="stopped mid-step")
    done = ended(app, started["deployment"], timeout=60)
    assert (done["status"], done["step"]) == ("FAILED", "canary") and "ABORTED" in done["error"], done
    assert done["canary"]["state"] == "ABORTED"  # the record says the weights are gone
    wait_for("the weight removed", lambda: not (create_alias(app, cloud).get("RoutingConfig") or {}).get(
        "AdditionalVersionWeights"), timeout=30)
    wait_for("prod free", lambda: app.api.request("GET", f"/apps/{app.name}/stages/prod")["lock"] is None, timeout=30)


def test_given_a_good_build_when_promoted_with_a_canary_then_every_alias_ends_on_the_new_version(canary_app, cloud):
    """GIVEN build 3 (create changed harmlessly)
    WHEN promoted with a 50 % canary of 5 s under traffic
    THEN the step passes on the new version's own requests and the deployment SUCCEEDS with
    create's alias on build 3's code and no weight left."""
    app = canary_app
    with Traffic(app) as traffic:
        started = app.api.request("POST", f"/apps/{app.name}/stages/prod/promote",
                                  {"build": 3, "strategy": {"type": "canary", "percent": 50, "intervalSeconds": 5}})
        done = ended(app, started["deployment"], timeout=120)
    assert done["status"] == "SUCCEEDED", done
    assert done["canary"]["state"] == "PROMOTED"  # closed: no longer "PROMOTING"
    assert done["steps"][0]["verdict"] == "PASS" and done["steps"][0]["requests"] >= 10
    alias = create_alias(app, cloud)
    assert not (alias.get("RoutingConfig") or {}).get("AdditionalVersionWeights")
    prod = app.api.request("GET", f"/apps/{app.name}/stages/prod")
    assert prod["build"]["number"] == 3
    assert traffic.seen[502] == 0
