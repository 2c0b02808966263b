"""Attack: roll back another team's prod with an alarm (IAM enforced).

A hostile app author wants the victim's prod rolled back and its build quarantined. Sprout's
rollback machine starts on any ``CloudWatch Alarm State Change`` to ALARM of an alarm named
``sprout-ar-…`` (the EventBridge rule can only match names), so each attack here makes such an
event happen and asserts that ResolveAlarm — the boundary these tests prove — records it as
IGNORED with the reason and leaves the victim alone: prod keeps its deployment and answers, its
build is not quarantined.

Which layer: the alarms are created, overwritten or the event forged with the test's root
credentials, not through an app's stack. Whether an app stack may create a ``sprout-ar-`` alarm at
all is the stack role's boundary (proven with the stack roles); these tests prove that even an
alarm that exists, is named like Sprout's and tagged with the victim's app and stage, moves
nothing: ResolveAlarm acts only on alarms Sprout put and recorded in the lineage, with the
definition it put, in ALARM now as DescribeAlarms shows it. Tags prove nothing.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime

import pytest

from tests.integration.sprout.conftest import (
    NOTES,
    AppRepo,
    alarm_event_record,
    registered_app,
    wait_for,
    watched_alarm_record,
)
from tests.integration.sprout.test_promote_rollback import post_note, settled, stage


@pytest.fixture(scope="module")
def victim(cloud, api, tmp_path_factory) -> AppRepo:
    """Another team's notes app: build 1 on dev, promoted to prod, which is watched by default."""
    app = registered_app(cloud, api, f"victim-{uuid.uuid4().hex[:8]}", NOTES, tmp_path_factory.mktemp("victim"))
    app.commit_and_push("The notes app")
    assert app.wait_build(1)["status"] == "SUCCEEDED"
    cs = api.request("GET", f"/apps/{app.name}/stages/prod/changeset", query={"build": "1"})
    started = api.request("POST", f"/apps/{app.name}/stages/prod/promote", {"build": 1, "changesetId": cs["changesetId"]})
    assert settled(app, "prod", started["deployment"])["status"] == "SUCCEEDED"
    wait_for("prod's alarms to be recorded", lambda: watched_alarm_record(cloud, f"sprout-ar-{app.name}-prod-fast"), timeout=60)
    return app


def rollback_outcome(cloud, naming: str, timeout: float = 60) -> tuple[dict, dict]:
    """(event, output) of the rollback execution whose event names ``naming`` (an alarm or an
    event id), once it has ended."""
    sfn = cloud.client("stepfunctions")

    def ended():
        for e in sfn.list_executions(stateMachineArn=cloud.sprout["RollbackStateMachineArn"])["executions"]:
            described = sfn.describe_execution(executionArn=e["executionArn"])
            if naming in described["input"] and described["status"] != "RUNNING":
                return described
        return None

    described = wait_for(f"the rollback execution of {naming}", ended, timeout=timeout)
    assert described["status"] == "SUCCEEDED", described
    return json.loads(described["input"]), json.loads(described["output"])


def assert_untouched(victim: AppRepo, deployment: str) -> None:
    """The victim's prod runs what it ran, build 1 is not quarantined, and prod answers."""
    prod = stage(victim, "prod")
    assert (prod["currentDeployment"]["id"], prod["currentDeployment"]["kind"]) == (deployment, "promote")
    assert victim.api.request("GET", f"/apps/{victim.name}/builds/1")["quarantined"] is None
    assert post_note(victim) == 200


def assert_ignored(cloud, event: dict, output: dict, reason: str) -> None:
    assert output["status"] == "IGNORED" and reason in output["reason"], output
    record = alarm_event_record(cloud, event["id"])
    assert record is not None and (record["outcome"], record["reason"]) == ("IGNORED", output["reason"])


def breaching_alarm(cloud, name: str, victim: AppRepo) -> None:
    """An alarm on a metric nobody publishes, missing data breaching (it fires at its first
    evaluation), tagged as Sprout tags the victim's prod alarms."""
    cloud.client("cloudwatch").put_metric_alarm(
        AlarmName=name, Namespace="Attacker", MetricName="Nothing", Statistic="Sum", Period=10, EvaluationPeriods=1,
        Threshold=1, ComparisonOperator="GreaterThanOrEqualToThreshold", TreatMissingData="breaching",
        Tags=[{"Key": "sprout:app", "Value": victim.name}, {"Key": "sprout:stage", "Value": "prod"},
              {"Key": "sprout:signal", "Value": "fast"}, {"Key": "sprout:stack", "Value": "sprout"}],
    )


def test_given_a_forged_alarm_named_and_tagged_as_the_victims_when_it_fires_then_prod_is_not_rolled_back(victim, cloud):
    # GIVEN the victim's prod on build 1, and an alarm Sprout never put, named sprout-ar-… and
    # tagged with the victim's app and stage, on a metric nobody publishes, missing data breaching
    before = stage(victim, "prod")["currentDeployment"]["id"]
    forged = f"sprout-ar-{victim.name}-prod-forged"
    breaching_alarm(cloud, forged, victim)
    # WHEN it fires by itself and its event starts Sprout's rollback machine
    event, output = rollback_outcome(cloud, forged)
    # THEN the event is recorded as ignored, with the reason, and nothing moved
    assert_ignored(cloud, event, output, "not an alarm Sprout created and recorded")
    assert_untouched(victim, before)


def test_given_the_victims_own_alarm_overwritten_to_breach_when_it_fires_then_prod_is_not_rolled_back(victim, api, cloud):
    # GIVEN the victim's recorded fast alarm, overwritten under its own name (same ARN) to breach on missing data
    before = stage(victim, "prod")["currentDeployment"]["id"]
    name = f"sprout-ar-{victim.name}-prod-fast"
    recorded = watched_alarm_record(cloud, name)
    breaching_alarm(cloud, name, victim)
    assert cloud.client("cloudwatch").describe_alarms(AlarmNames=[name])["MetricAlarms"][0]["AlarmArn"] == recorded["arn"]
    # WHEN it fires
    event, output = rollback_outcome(cloud, name)
    # THEN ignored: its definition is not the one Sprout put; nothing moved
    assert_ignored(cloud, event, output, "changed after Sprout put it")
    assert_untouched(victim, before)
    # AND turning auto-rollback on again puts Sprout's alarm back (not breaching) and records it again
    api.request("PUT", f"/apps/{victim.name}/stages/prod/auto-rollback", {"enabled": True})
    alarm = cloud.client("cloudwatch").describe_alarms(AlarmNames=[name])["MetricAlarms"][0]
    assert alarm["TreatMissingData"] == "notBreaching" and watched_alarm_record(cloud, name)["definition"] == recorded["definition"]


def test_given_a_forged_alarm_event_for_the_victims_recorded_alarm_when_it_is_not_in_alarm_then_prod_is_not_rolled_back(
    victim, cloud
):
    # GIVEN the victim's recorded fast alarm, not in ALARM (no 5xx on prod)
    before = stage(victim, "prod")["currentDeployment"]["id"]
    name = f"sprout-ar-{victim.name}-prod-fast"
    alarm = wait_for("the alarm not to be in ALARM", lambda: (lambda a: a if a["StateValue"] != "ALARM" else None)(
        cloud.client("cloudwatch").describe_alarms(AlarmNames=[name])["MetricAlarms"][0]), timeout=60)
    # WHEN an event claiming it went to ALARM starts Sprout's rollback machine
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.000+0000")
    forged = {
        "version": "0", "id": str(uuid.uuid4()), "detail-type": "CloudWatch Alarm State Change",
        "source": "aws.cloudwatch", "account": "123456789012", "time": datetime.now(UTC).isoformat(),
        "region": "us-east-1", "resources": [alarm["AlarmArn"]],
        "detail": {"alarmName": name, "state": {"value": "ALARM", "reason": "forged", "timestamp": now,
                                                "reasonData": json.dumps({"startDate": now, "period": 10})},
                   "previousState": {"value": "OK"}},
    }
    cloud.client("stepfunctions").start_execution(stateMachineArn=cloud.sprout["RollbackStateMachineArn"],
                                                  input=json.dumps(forged))
    event, output = rollback_outcome(cloud, forged["id"])
    # THEN ignored: DescribeAlarms says the alarm is not in ALARM; nothing moved
    assert_ignored(cloud, event, output, "is not in ALARM now")
    assert_untouched(victim, before)


def test_given_a_hostile_apps_template_declaring_the_forged_alarm_when_pushed_then_the_victims_prod_does_not_move(
    victim, cloud, api, tmp_path
):
    """Through the app author's only means, a push: their template declares the forged alarm. Which
    layer stops it depends on the stack role: either the alarm is refused (the attacker's deploy
    fails and no such alarm exists) or it is made, fires on missing data, and ResolveAlarm ignores it.
    Either way the victim's prod does not move."""
    # GIVEN the victim's prod on build 1, and a hostile app whose template declares
    # sprout-ar-<victim>-prod-fromstack, tagged with the victim's app and stage, missing data breaching
    before = stage(victim, "prod")["currentDeployment"]["id"]
    attacker = registered_app(cloud, api, f"attacker-{uuid.uuid4().hex[:8]}", NOTES, tmp_path)
    forged = f"sprout-ar-{victim.name}-prod-fromstack"
    template = attacker.work / "template.yaml"
    template.write_text(template.read_text().replace("\nResources:\n", f"""
Resources:
  ForgedAlarm:
    Type: AWS::CloudWatch::Alarm
    Properties:
      AlarmName: {forged}
      Namespace: Attacker
      MetricName: Nothing
      Statistic: Sum
      Period: 10
      EvaluationPeriods: 1
      Threshold: 1
      ComparisonOperator: GreaterThanOrEqualToThreshold
      TreatMissingData: breaching
      Tags:
        - {{Key: "sprout:app", Value: {victim.name}}}
        - {{Key: "sprout:stage", Value: prod}}
        - {{Key: "sprout:signal", Value: fast}}
""", 1))
    # WHEN the attacker pushes and their dev stage settles
    attacker.commit_and_push("Monitoring")
    built = attacker.wait_build(1, timeout=180)
    made = cloud.client("cloudwatch").describe_alarms(AlarmNames=[forged])["MetricAlarms"]
    # THEN either the stack could not make the alarm, or its event was recorded as ignored
    if made:
        event, output = rollback_outcome(cloud, forged)
        assert_ignored(cloud, event, output, "not an alarm Sprout created and recorded")
    else:
        assert built["status"] == "FAILED" or built["deployedTo"]["dev"]["status"] == "FAILED", built
    # AND the victim's prod runs what it ran, its build not quarantined
    assert_untouched(victim, before)
