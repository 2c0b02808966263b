"""Hands-off rollback on the local cloud (IAM enforced): one of Sprout's alarms going to ALARM
rolls prod back to the previous good build, once, quarantining the failing build; anything else is
recorded and ignored."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from sprout.cli.client import ApiError
from tests.integration.sprout.conftest import wait_for
from tests.integration.sprout.test_promote_rollback import post_note, settled, stage
from tests.integration.sprout.test_promote_rollback import story as story  # noqa: F401 - the module fixture


def promote(app, number: int, force: bool = False) -> dict:
    cs = app.api.request("GET", f"/apps/{app.name}/stages/prod/changeset", query={"build": str(number)})
    body = {"build": number, "changesetId": cs["changesetId"], **({"force": True} if force else {})}
    started = app.api.request("POST", f"/apps/{app.name}/stages/prod/promote", body)
    assert settled(app, "prod", started["deployment"])["status"] == "SUCCEEDED"
    return started


def alarm(cloud, app: str, stage_name: str, tags: bool = True) -> str:
    name = f"sprout-ar-{app}-{stage_name}-fast"
    cw = cloud.client("cloudwatch")
    cw.put_metric_alarm(
        AlarmName=name, Namespace="Sprout", MetricName="Errors5xx", Statistic="Sum", Period=10, EvaluationPeriods=1,
        Threshold=5, ComparisonOperator="GreaterThanOrEqualToThreshold",
        Dimensions=[{"Name": "App", "Value": app}, {"Name": "Stage", "Value": stage_name}],
        Tags=[{"Key": "sprout:app", "Value": app}, {"Key": "sprout:stage", "Value": stage_name},
              {"Key": "sprout:signal", "Value": "fast"}] if tags else [],
    )
    return name


def fire(cloud, name: str, since: datetime | None = None) -> None:
    since = since or datetime.now(UTC) - timedelta(seconds=5)
    cloud.client("cloudwatch").set_alarm_state(
        AlarmName=name, StateValue="ALARM", StateReason="Threshold Crossed: 1 datapoint [9.0] >= 5.0",
        StateReasonData=json.dumps({"version": "1.0", "startDate": since.strftime("%Y-%m-%dT%H:%M:%S.000+0000"),
                                    "period": 10, "recentDatapoints": [9.0], "threshold": 5.0}),
    )


def rollback_executions(cloud) -> list[dict]:
    sfn = cloud.client("stepfunctions")
    return [sfn.describe_execution(executionArn=e["executionArn"])
            for e in sfn.list_executions(stateMachineArn=cloud.sprout["RollbackStateMachineArn"])["executions"]]


def test_given_the_broken_build_on_prod_when_its_alarm_fires_then_prod_rolls_back_by_itself_once(story, cloud):  # noqa: F811
    # GIVEN build 1 then the broken build 2 promoted to prod (5xx on POST /notes)
    promote(story, 1, force=True)
    promote(story, 2, force=True)
    assert post_note(story) == 502
    name = alarm(cloud, story.name, "prod")
    # WHEN Sprout's alarm for prod goes to ALARM
    fire(cloud, name)
    # THEN prod is rolled back by itself to build 1, recorded as auto-rollback with the alarm
    rolled = wait_for(
        "the auto-rollback", lambda: (lambda s: s if (s["currentDeployment"] or {}).get("kind") == "auto-rollback" else None)(
            stage(story, "prod")), timeout=60, every=0.2)
    assert rolled["build"]["number"] == 1
    deployment = rolled["currentDeployment"]
    assert deployment["trigger"]["type"] == "alarm" and deployment["trigger"]["alarm"] == name
    assert deployment["trigger"]["datapoints"] == [9.0]
    assert post_note(story) == 200
    # AND build 2 is quarantined: promoting it again needs force
    assert story.api.request("GET", f"/apps/{story.name}/builds/2")["quarantined"]["stage"] == "prod"
    with pytest.raises(ApiError) as refused:
        story.api.request("POST", f"/apps/{story.name}/stages/prod/promote", {"build": 2})
    assert (refused.value.status, refused.value.body["field"]) == (400, "force")
    # AND the same alarm event delivered again does nothing more
    [first] = [e for e in rollback_executions(cloud) if '"source": "aws.cloudwatch"' in e["input"].replace('":"', '": "')
               or "aws.cloudwatch" in e["input"]][-1:]
    again = cloud.client("stepfunctions").start_execution(stateMachineArn=cloud.sprout["RollbackStateMachineArn"],
                                                          input=first["input"])
    ended = wait_for("the duplicate to end", lambda: (lambda d: d if d["status"] != "RUNNING" else None)(
        cloud.client("stepfunctions").describe_execution(executionArn=again["executionArn"])), timeout=30)
    assert ended["status"] == "SUCCEEDED" and "duplicate" in json.loads(ended["output"])["reason"]
    assert stage(story, "prod")["currentDeployment"]["id"] == deployment["id"]


def test_given_a_stage_whose_current_deployment_is_a_rollback_when_an_alarm_fires_then_it_is_recorded_and_ignored(story, cloud):  # noqa: F811
    wait_for("prod to be free", lambda: stage(story, "prod")["lock"] is None, timeout=60)
    current = stage(story, "prod")["currentDeployment"]
    assert current["kind"] in ("rollback", "auto-rollback")
    name = alarm(cloud, story.name, "prod")
    cloud.client("cloudwatch").set_alarm_state(AlarmName=name, StateValue="OK", StateReason="reset")
    fire(cloud, name)
    outcome = wait_for("the alarm's execution to end", lambda: [
        json.loads(e["output"]) for e in rollback_executions(cloud)
        if e["status"] == "SUCCEEDED" and e.get("output") and "never rolls back a rollback" in e["output"]], timeout=30)
    assert outcome[0]["status"] == "IGNORED"
    assert stage(story, "prod")["currentDeployment"]["id"] == current["id"]


def test_given_an_alarm_sprout_does_not_own_or_for_an_unknown_stage_then_nothing_is_rolled_back(story, cloud):  # noqa: F811
    current = stage(story, "prod")["currentDeployment"]["id"]
    stranger = alarm(cloud, f"nobody{uuid.uuid4().hex[:6]}", "prod")
    untagged = alarm(cloud, f"{story.name}x", "prod", tags=False)
    for name in (stranger, untagged):
        fire(cloud, name)
    reasons = wait_for("both alarms' executions", lambda: (lambda found: found if len(found) >= 2 else None)([
        json.loads(e["output"])["reason"] for e in rollback_executions(cloud)
        if e["status"] == "SUCCEEDED" and e.get("output") and ("stage is gone" in e["output"] or "not an alarm Sprout owns" in e["output"])]),
        timeout=30)
    assert any("stage is gone" in r for r in reasons) and any("not an alarm Sprout owns" in r for r in reasons)
    assert stage(story, "prod")["currentDeployment"]["id"] == current
