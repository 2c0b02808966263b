"""Rollback by alarm (sprout.services.rollbacks.AlarmRollback) against in-memory fakes: an alarm
Sprout did not record, an alarm for a gone app, a duplicate event, the cool-down, a rollback
already in progress, nothing to go back to, pre-empting a deploy of the failing build — and the
rollback itself, opened the same way a person's is (``begin_rollback``)."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from sprout.domain.auto_rollback import AlarmEvent, WatchedAlarm, definition_digest
from sprout.domain.model import DeploymentKind, DeploymentStatus
from sprout.services.rollbacks import AlarmRollback
from tests.unit.sprout.services.fakes import NOTES, NOW, FakeAlarms, FakeExecutions, FakeLineage, FakeWatch

NAME = "sprout-ar-notes-prod-fast"
ARN = f"arn:aws:cloudwatch:us-east-1:123456789012:alarm:{NAME}"
DESCRIBED = {"AlarmName": NAME, "AlarmArn": ARN, "StateValue": "ALARM", "MetricName": "Errors5xx", "Threshold": 5.0}
EXEC = "arn:aws:states:us-east-1:123456789012:execution:sprout-rollback:alarm-1"


def alarm_event(breaching: datetime = NOW) -> AlarmEvent:
    return AlarmEvent(NAME, ARN, "ALARM", "5 errors in 10 s", breaching, [5.0, 7.0])


def resolver(lineage, event=None, described=DESCRIBED, watch=None, executions=None):
    executions = executions or FakeExecutions()
    return AlarmRollback(lineage, FakeAlarms(event or alarm_event(), described), executions, FakeWatch(watch)), executions


@pytest.fixture
def lineage():
    """prod ran build 1, then build 2 (an hour ago); the fast alarm is recorded for prod."""
    lineage = FakeLineage(NOTES)
    for commit in ("c1", "c2"):
        lineage.deploy("notes", "prod", lineage.add_build("notes", commit), kind=DeploymentKind.PROMOTE)
    lineage.alarms[NAME] = WatchedAlarm(NAME, "notes", "prod", "fast", ARN, definition_digest(DESCRIBED))
    return lineage


def test_an_alarm_on_a_watched_stage_rolls_it_back_and_quarantines_the_failing_build(lineage):
    """GIVEN prod runs build 2, promoted before the alarm's breaching data
    WHEN the alarm's event is resolved
    THEN prod is taken for this execution by an auto-rollback to build 1 naming the alarm and the target,
    build 2 is quarantined, and the event's outcome is ROLLED_BACK."""
    act, _ = resolver(lineage)
    out = act.resolve({"id": "ev-1"}, EXEC)
    assert (out["status"], out["build"], out["kind"]) == ("ACT", 1, "auto-rollback")
    d = lineage.get_deployment("notes", "prod", out["deploymentId"])
    assert (d.kind, d.status, d.execution, d.build) == (DeploymentKind.AUTO_ROLLBACK, DeploymentStatus.IN_PROGRESS, EXEC, 1)
    assert d.trigger["type"] == "alarm" and d.trigger["alarm"] == NAME and d.trigger["target"] == "000001"
    assert out["trigger"] == d.trigger and out["versions"] == {"Fn": "1"}
    assert lineage.builds[("notes", 2)].quarantined["alarm"] == NAME
    assert lineage.events["ev-1"]["outcome"] == "ROLLED_BACK"


def test_an_alarm_for_a_gone_app_is_recorded_and_ignored(lineage):
    """GIVEN an alarm recorded for the stage of an app that is gone
    WHEN its event is resolved
    THEN it is IGNORED saying the stage is gone, and no deployment is opened."""
    lineage.alarms[NAME] = WatchedAlarm(NAME, "gone", "prod", "fast", ARN, definition_digest(DESCRIBED))
    out = resolver(lineage)[0].resolve({"id": "ev-gone"}, EXEC)
    assert out["status"] == "IGNORED" and "the alarm's stage is gone" in out["reason"]
    assert lineage.events["ev-gone"]["outcome"] == "IGNORED" and len(lineage.deployments[("notes", "prod")]) == 2


@pytest.mark.parametrize("event, described, why", [
    (None, DESCRIBED, "not an alarm Sprout created"),
    (alarm_event(), {**DESCRIBED, "StateValue": "OK"}, "is not in ALARM now"),
    (alarm_event(), {**DESCRIBED, "Threshold": 500.0}, "was changed after Sprout put it"),
])
def test_an_alarm_sprout_cannot_trust_is_ignored(lineage, event, described, why):
    """GIVEN an alarm not recorded, no longer in ALARM, or changed after Sprout put it
    WHEN its event is resolved
    THEN it is IGNORED with the reason, and prod is not taken."""
    if event is None:
        del lineage.alarms[NAME]
    out = resolver(lineage, described=described)[0].resolve({"id": "ev"}, EXEC)
    assert out["status"] == "IGNORED" and why in out["reason"]
    assert lineage.get_stage("notes", "prod").lock is None


def test_the_same_event_twice_acts_once(lineage):
    """GIVEN an alarm event already handled
    WHEN it is delivered again
    THEN the second is IGNORED as a duplicate."""
    act, _ = resolver(lineage)
    assert act.resolve({"id": "ev-1"}, EXEC)["status"] == "ACT"
    again = act.resolve({"id": "ev-1"}, EXEC)
    assert again["status"] == "IGNORED" and "duplicate" in again["reason"]


def test_an_alarm_during_the_cool_down_after_an_auto_rollback_is_ignored(lineage):
    """GIVEN Sprout rolled prod back a minute ago, then a person promoted build 2 again
    WHEN an alarm fires (cool-down 300 s)
    THEN it is IGNORED: the stage is cooling down."""
    lineage.deploy("notes", "prod", lineage.builds[("notes", 1)], kind=DeploymentKind.AUTO_ROLLBACK,
                   finished=NOW - timedelta(minutes=1))
    lineage.deploy("notes", "prod", lineage.builds[("notes", 2)], kind=DeploymentKind.PROMOTE)
    # judged at the fakes' NOW (a minute after the rollback), not at the clock's: a long session runs this
    # test more than five minutes after NOW was taken
    out = resolver(lineage, watch={"cooldownSeconds": 300})[0].resolve({"id": "ev"}, EXEC, now=NOW)
    assert out["status"] == "IGNORED" and "cooling down" in out["reason"]


def test_an_alarm_while_a_rollback_holds_the_stage_is_ignored(lineage):
    """GIVEN a person's rollback holds prod
    WHEN an alarm fires
    THEN it is IGNORED: a rollback is already in progress."""
    executions = FakeExecutions(running={"arn:rollback"})
    lineage.deploy("notes", "prod", lineage.builds[("notes", 1)], kind=DeploymentKind.ROLLBACK,
                   status=DeploymentStatus.IN_PROGRESS, execution="arn:rollback")
    out = resolver(lineage, executions=executions)[0].resolve({"id": "ev"}, EXEC)
    assert out["status"] == "IGNORED" and "already in progress" in out["reason"] and executions.stopped == []


def test_an_alarm_with_nothing_to_go_back_to_is_ignored():
    """GIVEN prod ran only build 1
    WHEN an alarm fires
    THEN it is IGNORED saying there is nothing to go back to; build 1 is not quarantined."""
    lineage = FakeLineage(NOTES)
    lineage.deploy("notes", "prod", lineage.add_build("notes", "c1"), kind=DeploymentKind.PROMOTE)
    lineage.alarms[NAME] = WatchedAlarm(NAME, "notes", "prod", "fast", ARN, definition_digest(DESCRIBED))
    out = resolver(lineage)[0].resolve({"id": "ev"}, EXEC)
    assert out["status"] == "IGNORED" and "no earlier good deployment" in out["reason"]
    assert lineage.builds[("notes", 1)].quarantined is None


def test_a_promote_of_the_failing_build_still_running_is_pre_empted(lineage):
    """GIVEN a promote of build 2 (the failing build) still holds prod, its execution running
    WHEN an alarm fires
    THEN that execution is stopped and the rollback takes the stage over from it."""
    executions = FakeExecutions(running={"arn:promote"})
    holder = lineage.deploy("notes", "prod", lineage.builds[("notes", 2)], kind=DeploymentKind.PROMOTE,
                            status=DeploymentStatus.IN_PROGRESS, execution="arn:promote")
    out = resolver(lineage, executions=executions)[0].resolve({"id": "ev"}, EXEC)
    assert out["status"] == "ACT" and executions.stopped == ["arn:promote"]
    taken = lineage.get_deployment("notes", "prod", out["deploymentId"])
    assert taken.took_over["deployment"] == holder.id


def test_an_alarm_about_what_ran_before_a_later_promote_is_ignored(lineage):
    """GIVEN build 2 was promoted after the alarm's breaching data
    WHEN the alarm's event is resolved
    THEN it is IGNORED: the alarm is about what ran before."""
    out = resolver(lineage, event=alarm_event(NOW - timedelta(hours=2)))[0].resolve({"id": "ev"}, EXEC)
    assert out["status"] == "IGNORED" and "after the alarm's breaching data" in out["reason"]
