"""Watching a stage for automatic rollback through Sprout's API, on the local cloud (IAM enforced)
with the notes app deployed on dev: turning it on creates Sprout's tagged alarms (recorded in the lineage), turns access logs
on and subscribes the fast signal; a burst of 502s sends the 10-second alarm to ALARM and its
``CloudWatch Alarm State Change`` event onto the default bus; turning it off removes the alarms
and the subscription; bad input is refused naming the field. The tests of this module run in
order, on one app."""

from __future__ import annotations

import json
import time
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from sprout.cli.client import ApiError, SproutClient
from tests.integration.sprout.conftest import NOTES, AppRepo, registered_app, wait_for, watched_alarm_record

BROKEN = "gibberish.what\n"
FUNCTIONS = ["CreateNoteFunction", "DeleteNoteFunction", "GetNoteFunction", "ListNotesFunction", "UpdateNoteFunction"]


@pytest.fixture(scope="module")
def notes(cloud, api, tmp_path_factory) -> AppRepo:
    """The notes app registered, pushed and deployed on dev (build 1), access logs off."""
    repo = registered_app(cloud, api, f"notes-ar-{uuid.uuid4().hex[:8]}", NOTES, tmp_path_factory.mktemp("ar"))
    repo.commit_and_push("The notes app")
    assert repo.wait_build(1)["status"] == "SUCCEEDED"
    return repo


@pytest.fixture(scope="module")
def alarm_events(cloud, notes):
    """An SQS queue receiving, through a rule on the default bus, the state changes of this app's
    Sprout alarms (the lead's rollback rule matches the same events)."""
    sqs, events = cloud.client("sqs"), cloud.client("events")
    url = sqs.create_queue(QueueName=f"alarms-{notes.name}")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    rule = f"alarms-{notes.name}"
    events.put_rule(
        Name=rule,
        EventPattern=json.dumps({
            "source": ["aws.cloudwatch"],
            "detail-type": ["CloudWatch Alarm State Change"],
            "detail": {"alarmName": [{"prefix": f"sprout-ar-{notes.name}-dev-"}]},
        }),
    )
    events.put_targets(Rule=rule, Targets=[{"Id": "queue", "Arn": arn}])
    yield url
    events.remove_targets(Rule=rule, Ids=["queue"])
    events.delete_rule(Name=rule)


def path(notes: AppRepo, stage: str = "dev") -> str:
    return f"/apps/{notes.name}/stages/{stage}/auto-rollback"


def error_of(call) -> ApiError:
    with pytest.raises(ApiError) as e:
        call()
    return e.value


def diagnose(cloud) -> dict:
    """What the fast signal did, for a failure's message."""
    name = cloud.sprout["FastSignalFunctionArn"].rsplit(":", 1)[-1]
    try:
        lines = [e["message"][:300] for e in cloud.client("logs").filter_log_events(logGroupName=f"/aws/lambda/{name}")["events"]][-15:]
    except Exception as e:  # the group may not exist: the function never ran
        lines = [repr(e)]
    return {"fast-signal": lines, "cloud": [line for line in cloud.output if "subscri" in line or "ERROR" in line][-10:]}


def names(notes: AppRepo, *signals: str) -> list[str]:
    return [f"sprout-ar-{notes.name}-dev-{s}" for s in signals]


def test_given_a_stage_never_watched_when_read_then_it_is_off_with_no_alarms(notes, api):
    answer = api.request("GET", path(notes))
    assert (answer["app"], answer["stage"], answer["enabled"], answer["alarms"]) == (notes.name, "dev", False, [])
    assert answer["subscriptionFilters"] == [] and answer["updatedAt"] is None
    assert (answer["errorThreshold"], answer["errorRate"], answer["periodSeconds"], answer["cooldownSeconds"]) == (5, 0.2, 10, 300)


def test_given_a_deployed_stage_when_watched_then_tagged_alarms_access_logs_and_the_fast_subscription_exist(notes, api, cloud):
    # GIVEN access logs off on dev
    assert api.request("GET", f"/apps/{notes.name}/stages/dev/access-logs/settings")["enabled"] is False
    # WHEN auto-rollback is turned on (errorThreshold 3 instead of 5)
    answer = api.request("PUT", path(notes), {"enabled": True, "errorThreshold": 3})
    # THEN the answer lists the fast, API and per-function alarms, with the settings
    expected = names(notes, "fast", "api5xx", *(f"errors-{f}" for f in FUNCTIONS))
    assert [a["name"] for a in answer["alarms"]] == expected
    assert [a["signal"] for a in answer["alarms"]][:2] == ["fast", "api5xx"]
    assert (answer["enabled"], answer["errorThreshold"], answer["errorRate"], answer["periodSeconds"]) == (True, 3, 0.2, 10)
    assert all(a["state"] in ("INSUFFICIENT_DATA", "OK") and a["metric"] for a in answer["alarms"])
    # AND the alarms exist in CloudWatch, tagged with app, stage, signal and Sprout's stack
    cw = cloud.client("cloudwatch")
    found = {a["AlarmName"]: a for a in cw.describe_alarms(AlarmNames=expected)["MetricAlarms"]}
    assert sorted(found) == sorted(expected)
    for a in answer["alarms"]:
        tags = {t["Key"]: t["Value"] for t in cw.list_tags_for_resource(ResourceARN=found[a["name"]]["AlarmArn"])["Tags"]}
        assert tags == {"sprout:app": notes.name, "sprout:stage": "dev", "sprout:signal": a["signal"], "sprout:stack": "sprout"}
    # AND the lineage records each alarm Sprout put, by name, with its ARN and stage (what the
    # rollback path trusts; the tags are for people)
    for a in answer["alarms"]:
        record = watched_alarm_record(cloud, a["name"])
        assert record is not None, a["name"]
        assert (record["app"], record["stage"], record["signal"], record["arn"]) == (
            notes.name, "dev", a["signal"], found[a["name"]]["AlarmArn"])
    fast = found[expected[0]]
    assert [m["MetricStat"]["Period"] for m in fast["Metrics"] if "MetricStat" in m] == [10, 10]
    assert fast["TreatMissingData"] == "notBreaching" and fast["EvaluationPeriods"] == 1
    live = found[names(notes, "errors-CreateNoteFunction")[0]]
    functions = api.request("GET", f"/apps/{notes.name}/stages/dev/functions")["functions"]
    create = next(f["functionName"] for f in functions if f["logicalId"] == "CreateNoteFunction")
    assert {d["Name"]: d["Value"] for d in live["Dimensions"]} == {"FunctionName": create, "Resource": f"{create}:live"}
    # AND access logs are on, and the log group feeds Sprout's fast-signal function
    settings = api.request("GET", f"/apps/{notes.name}/stages/dev/access-logs/settings")
    assert settings["enabled"] is True
    [group] = [a["logGroup"] for a in settings["apis"]]
    [subscription] = cloud.client("logs").describe_subscription_filters(logGroupName=group)["subscriptionFilters"]
    assert subscription["filterName"] == f"sprout-ar#{notes.name}#dev"
    assert subscription["destinationArn"] == cloud.sprout["FastSignalFunctionArn"]
    assert answer["subscriptionFilters"] == [{"logGroup": group, "filterName": subscription["filterName"], "present": True}]
    # AND turning it on again changes nothing but the states it reads
    again = api.request("PUT", path(notes), {"enabled": True})
    assert [a["name"] for a in again["alarms"]] == expected and again["errorThreshold"] == 3


def test_given_a_watched_stage_when_a_burst_of_502s_hits_it_then_the_fast_alarm_fires_within_seconds_and_the_event_is_on_the_bus(
    notes, api, cloud, alarm_events
):
    # GIVEN a broken `create` deployed on the watched dev stage
    create = notes.work / "functions" / "create" / "create.py"
    create.write_text(BROKEN + create.read_text())
    notes.commit_and_push("Break create")
    assert notes.wait_build(2)["status"] == "SUCCEEDED"
    app = SproutClient(notes.stage_url("dev"))
    # WHEN a burst of POST /notes all answer 502
    first_error = time.monotonic()
    for _ in range(8):
        assert error_of(lambda: app.request("POST", "/notes", {"content": "boom"})).status == 502
    fast = names(notes, "fast")[0]
    cw = cloud.client("cloudwatch")
    # THEN the fast alarm is in ALARM within ~20 s
    alarm = wait_for(
        "the fast alarm in ALARM",
        lambda: next((a for a in cw.describe_alarms(AlarmNames=[fast])["MetricAlarms"] if a["StateValue"] == "ALARM"), None),
        timeout=25,
        every=0.2,
        show=lambda: (cw.describe_alarms(AlarmNames=[fast])["MetricAlarms"][0]["StateReason"], diagnose(cloud)),
    )
    detected = time.monotonic() - first_error
    print(f"fast alarm in ALARM {detected:.1f} s after the first 502")  # shown with pytest -s
    assert detected < 22, f"the fast alarm took {detected:.1f} s"
    assert json.loads(alarm["StateReasonData"])["recentDatapoints"] == [1.0]
    # AND the per-second metrics the fast-signal function put count the 502s (the alarm may fire on the
    # first of them: the rest arrive as their log lines are delivered)
    def counted() -> float:
        now = datetime.now(UTC)
        points = cw.get_metric_statistics(
            Namespace="Sprout", MetricName="Errors5xx", Statistics=["Sum"], Period=1,
            Dimensions=[{"Name": "App", "Value": notes.name}, {"Name": "Stage", "Value": "dev"}],
            StartTime=now - timedelta(minutes=2), EndTime=now + timedelta(seconds=5),
        )["Datapoints"]
        return sum(p["Sum"] for p in points)

    wait_for("the fast signal to count the 8 502s", lambda: counted() >= 8, timeout=15, show=counted)
    # AND its state change is on the default bus, as the rollback rule will see it
    sqs = cloud.client("sqs")

    def alarm_event():
        for m in sqs.receive_message(QueueUrl=alarm_events, MaxNumberOfMessages=10, WaitTimeSeconds=1).get("Messages", []):
            event = json.loads(m["Body"])
            if event["detail"]["alarmName"] == fast and event["detail"]["state"]["value"] == "ALARM":
                return event
        return None

    event = wait_for("the ALARM state change event", alarm_event, timeout=15)
    assert event["source"] == "aws.cloudwatch" and event["detail-type"] == "CloudWatch Alarm State Change"
    assert event["resources"] == [alarm["AlarmArn"]]
    # AND GET shows the alarm's state
    states = {a["name"]: a["state"] for a in api.request("GET", path(notes))["alarms"]}
    assert states[fast] == "ALARM"


def test_given_a_watched_stage_when_turned_off_then_its_alarms_and_subscription_are_gone_and_settings_kept(notes, api, cloud):
    watched = [a["name"] for a in api.request("GET", path(notes))["alarms"]]
    # WHEN auto-rollback is turned off
    answer = api.request("PUT", path(notes), {"enabled": False})
    # THEN no alarm is left, the subscription filter is gone, thresholds are remembered
    assert (answer["enabled"], answer["alarms"], answer["errorThreshold"]) == (False, [], 3)
    assert cloud.client("cloudwatch").describe_alarms(AlarmNames=watched)["MetricAlarms"] == []
    # AND the lineage no longer records them (forgotten before they were deleted)
    assert [n for n in watched if watched_alarm_record(cloud, n) is not None] == []
    group = api.request("GET", f"/apps/{notes.name}/stages/dev/access-logs/settings")["apis"][0]["logGroup"]
    assert cloud.client("logs").describe_subscription_filters(logGroupName=group)["subscriptionFilters"] == []
    assert api.request("GET", path(notes)) == answer


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"enabled": "yes"}, "enabled"),
        ({"enabled": True, "errorRate": 2}, "errorRate"),
        ({"enabled": True, "errorThreshold": 0}, "errorThreshold"),
        ({"enabled": True, "periodSeconds": 15}, "periodSeconds"),
        ({"enabled": True, "cooldownSeconds": "5m"}, "cooldownSeconds"),
        ({"enabled": True, "alarms": []}, "alarms"),
        ("not an object", "body"),
    ],
)
def test_given_bad_input_when_put_then_400_names_the_field(notes, api, body, field):
    e = error_of(lambda: api.request("PUT", path(notes), body))
    assert (e.status, e.body.get("field")) == (400, field), e.body


def test_given_unknown_or_undeployed_stages_then_404_and_409(notes, api):
    assert error_of(lambda: api.request("GET", f"/apps/{notes.name}/stages/nope/auto-rollback")).status == 404
    assert error_of(lambda: api.request("PUT", f"/apps/nope-{notes.name}/stages/dev/auto-rollback", {"enabled": True})).status == 404
    # prod was never deployed: nothing to watch yet
    e = error_of(lambda: api.request("PUT", path(notes, "prod"), {"enabled": True}))
    assert e.status == 409 and "never deployed" in e.body["message"]
    assert api.request("GET", path(notes, "prod"))["enabled"] is False


def test_given_a_prod_stage_first_deployed_then_the_deploy_path_watches_it_by_default_once(
    cloud, api, tmp_path, monkeypatch, request
):
    # GIVEN an app whose prod stage follows main (so a push deploys it)
    name = f"notes-prod-{uuid.uuid4().hex[:8]}"
    repo = registered_app(cloud, api, name, NOTES, tmp_path, stages=[{"name": "prod", "branch": "main", "autoDeploy": True}])
    # WHEN it is first deployed
    repo.commit_and_push("The notes app")
    assert repo.wait_build(1, stage="prod")["status"] == "SUCCEEDED"
    # THEN the deploy path (WatchStage) watched prod with the defaults
    answer = wait_for("prod to be watched", lambda: (lambda a: a if a["enabled"] else None)(
        api.request("GET", f"/apps/{name}/stages/prod/auto-rollback")), timeout=30)
    assert (answer["errorThreshold"], answer["cooldownSeconds"], answer["updatedBy"]) == (5, 300, "sprout:default")
    assert f"sprout-ar-{name}-prod-fast" in [a["name"] for a in answer["alarms"]]
    # AND ensuring the default again, or for another stage, does nothing
    for key, value in {"TABLE_NAME": cloud.sprout["TableName"], "ARTIFACT_BUCKET": cloud.sprout["ArtifactBucketName"],
                       "SPROUT_STACK_NAME": "sprout",
                       "ACCESS_LOG_ROLE_ARN": cloud.sprout["ApiGatewayLoggingRoleArn"],
                       "FAST_SIGNAL_FUNCTION_ARN": cloud.sprout["FastSignalFunctionArn"]}.items():
        monkeypatch.setenv(key, value)
    from sprout import wiring

    wiring.reset()  # built from the settings just set, and forgotten after the test
    request.addfinalizer(wiring.reset)
    watcher = wiring.watcher()
    assert watcher.watch_by_default(name, "prod") is None and watcher.watch_by_default(name, "dev") is None
    # AND once a person turned it off, neither watch_by_default nor a refresh after a deploy turns it on
    api.request("PUT", f"/apps/{name}/stages/prod/auto-rollback", {"enabled": False})
    assert watcher.watch_by_default(name, "prod") is None
    assert watcher.refresh(name, "prod") is None
    assert api.request("GET", f"/apps/{name}/stages/prod/auto-rollback")["enabled"] is False
