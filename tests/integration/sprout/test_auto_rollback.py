"""Hands-off rollback on the local cloud (IAM enforced): one of Sprout's alarms (put and recorded
when prod was first deployed) going to ALARM on breaching data rolls prod back to the previous good
build, once, quarantining the failing build; anything else — an alarm Sprout did not record,
whatever its name and tags, or an alarm on a stage running a rollback — is recorded and ignored."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from sprout.cli.client import ApiError
from tests.integration.sprout.conftest import alarm_event_record, wait_for, watched_alarm_record
from tests.integration.sprout.test_promote_rollback import post_note, settled, stage
from tests.integration.sprout.test_promote_rollback import story as story  # noqa: F401 - the module fixture


def promote(app, number: int, force: bool = False) -> dict:
    cs = app.api.request("GET", f"/apps/{app.name}/stages/prod/changeset", query={"build": str(number)})
    body = {"build": number, "changesetId": cs["changesetId"], **({"force": True} if force else {})}
    started = app.api.request("POST", f"/apps/{app.name}/stages/prod/promote", body)
    assert settled(app, "prod", started["deployment"])["status"] == "SUCCEEDED"
    return started


def alarm(cloud, app: str, stage_name: str, signal: str = "fast", tags: bool = True) -> str:
    """An alarm put with the test's root credentials (not by Sprout: never recorded), named and
    tagged as Sprout names and tags its own."""
    name = f"sprout-ar-{app}-{stage_name}-{signal}"
    cw = cloud.client("cloudwatch")
    cw.put_metric_alarm(
        AlarmName=name, Namespace="Sprout", MetricName="Errors5xx", Statistic="Sum", Period=10, EvaluationPeriods=1,
        Threshold=5, ComparisonOperator="GreaterThanOrEqualToThreshold",
        Dimensions=[{"Name": "App", "Value": app}, {"Name": "Stage", "Value": stage_name}],
        Tags=[{"Key": "sprout:app", "Value": app}, {"Key": "sprout:stage", "Value": stage_name},
              {"Key": "sprout:signal", "Value": "fast"}] if tags else [],
    )
    return name


def sprout_alarm(app, stage_name: str = "prod") -> str:
    """Sprout's own fast alarm of the stage, once it is recorded in the lineage."""
    name = f"sprout-ar-{app.name}-{stage_name}-fast"
    wait_for(f"{name} to be recorded", lambda: watched_alarm_record(app.cloud, name), timeout=60)
    return name


def breach(cloud, app: str, stage_name: str) -> None:
    """What the fast signal publishes for a second of 9 requests all answered 5xx, put now: the
    fast alarm breaches at its next evaluation (within its 10-second period)."""
    dims = [{"Name": "App", "Value": app}, {"Name": "Stage", "Value": stage_name}]
    now = datetime.now(UTC)
    cloud.client("cloudwatch").put_metric_data(Namespace="Sprout", MetricData=[
        {"MetricName": metric, "Dimensions": dims, "Timestamp": now, "Value": 9.0, "Unit": "Count", "StorageResolution": 1}
        for metric in ("Requests", "Errors5xx")])


def state_of(cloud, name: str) -> str:
    return cloud.client("cloudwatch").describe_alarms(AlarmNames=[name])["MetricAlarms"][0]["StateValue"]


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
    # GIVEN build 1 then the broken build 2 promoted to prod (5xx on POST /notes), prod watched by default
    promote(story, 1, force=True)
    promote(story, 2, force=True)
    assert post_note(story) == 502
    name = sprout_alarm(story)
    # WHEN the fast signal's data breaches and Sprout's alarm for prod goes to ALARM
    breach(cloud, story.name, "prod")
    # THEN prod is rolled back by itself to build 1, recorded as auto-rollback with the alarm
    rolled = wait_for(
        "the auto-rollback", lambda: (lambda s: s if (s["currentDeployment"] or {}).get("kind") == "auto-rollback" else None)(
            stage(story, "prod")), timeout=60, every=0.2)
    assert rolled["build"]["number"] == 1
    deployment = rolled["currentDeployment"]
    assert deployment["trigger"]["type"] == "alarm" and deployment["trigger"]["alarm"] == name
    assert deployment["trigger"]["datapoints"]
    assert alarm_event_record(cloud, deployment["trigger"]["eventId"])["outcome"] == "ROLLED_BACK"
    assert post_note(story) == 200
    # AND build 2 is quarantined: promoting it again needs force
    assert story.api.request("GET", f"/apps/{story.name}/builds/2")["quarantined"]["stage"] == "prod"
    with pytest.raises(ApiError) as refused:
        story.api.request("POST", f"/apps/{story.name}/stages/prod/promote", {"build": 2})
    assert (refused.value.status, refused.value.body["field"]) == (400, "force")
    # AND the same alarm event delivered again does nothing more
    [first] = [e for e in rollback_executions(cloud) if deployment["trigger"]["eventId"] in e["input"]]
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
    name = sprout_alarm(story)
    wait_for("the alarm to leave ALARM", lambda: state_of(cloud, name) != "ALARM", timeout=60)
    breach(cloud, story.name, "prod")
    outcome = wait_for("the alarm's execution to end", lambda: [
        json.loads(e["output"]) for e in rollback_executions(cloud)
        if e["status"] == "SUCCEEDED" and e.get("output") and "never rolls back a rollback" in e["output"]], timeout=60)
    assert outcome[0]["status"] == "IGNORED"
    assert stage(story, "prod")["currentDeployment"]["id"] == current["id"]


def test_given_an_alarm_sprout_did_not_record_when_it_fires_then_nothing_is_rolled_back_whatever_its_name_and_tags(story, cloud):  # noqa: F811
    # GIVEN alarms put by someone else, named like Sprout's for this app's prod, tagged or not
    current = stage(story, "prod")["currentDeployment"]["id"]
    tagged = alarm(cloud, story.name, "prod", signal="forged")
    untagged = alarm(cloud, story.name, "prod", signal="untagged", tags=False)
    # WHEN they go to ALARM
    for name in (tagged, untagged):
        fire(cloud, name)
    # THEN each is recorded and ignored, naming the reason, and prod runs what it ran
    outputs = wait_for("both alarms' executions", lambda: (lambda found: found if len(found) >= 2 else None)([
        (json.loads(e["input"]), json.loads(e["output"])) for e in rollback_executions(cloud)
        if e["status"] == "SUCCEEDED" and e.get("output") and any(n in e["input"] for n in (tagged, untagged))]),
        timeout=30)
    for event, output in outputs:
        assert output["status"] == "IGNORED" and "not an alarm Sprout created and recorded" in output["reason"]
        record = alarm_event_record(cloud, event["id"])
        assert (record["outcome"], record["reason"]) == ("IGNORED", output["reason"])
    assert stage(story, "prod")["currentDeployment"]["id"] == current
