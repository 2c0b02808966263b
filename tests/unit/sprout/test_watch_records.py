"""Watching a stage keeps the lineage's record of its alarms right, with in-memory fakes: each alarm
Sprout puts is recorded with the ARN and definition CloudWatch shows; an alarm that leaves the
stage (a function removed, auto-rollback turned off) is forgotten before it is deleted."""

from __future__ import annotations

import pytest

from sprout.adapters.apigateway import StageInventory
from sprout.domain.auto_rollback import Settings, WatchedAlarm, definition_digest
from sprout.domain.errors import Conflict
from sprout.services.watch import Watcher
from sprout.settings import Settings as SproutSettings

ARN = "arn:aws:cloudwatch:us-east-1:123456789012:alarm:"


class Journal(list):
    """What happened, in order, across the fakes."""


class FakeAlarms:
    def __init__(self, journal: Journal):
        self.journal, self.alarms = journal, {}

    def describe(self, names):
        return {n: self.alarms[n] for n in names if n in self.alarms}

    def put(self, spec, existed):
        shown = {k: v for k, v in spec.request.items() if k != "Tags"}
        self.alarms[spec.name] = {**shown, "AlarmArn": ARN + spec.name, "StateValue": "INSUFFICIENT_DATA"}
        self.journal.append(("put", spec.name))

    def delete(self, names):
        for n in names:
            self.alarms.pop(n, None)
            self.journal.append(("delete", n))


class FakeRecords:
    def __init__(self, journal: Journal):
        self.journal, self.records = journal, {}

    def record_watched_alarm(self, alarm: WatchedAlarm):
        self.records[alarm.name] = alarm
        self.journal.append(("record", alarm.name))

    def watched_alarm(self, name):
        return self.records.get(name)

    def forget_watched_alarm(self, name):
        self.records.pop(name, None)
        self.journal.append(("forget", name))


class FakeSettings:
    def __init__(self):
        self.doc = None

    def get(self, app, stage):
        return self.doc

    def put(self, app, stage, settings, alarms, by):
        self.doc = {**settings.as_api(), "updatedAt": "now", "updatedBy": by, "alarms": alarms}


class FakeResources:
    def __init__(self, functions):
        self.functions = functions

    def inventory(self, stack, where):
        return StageInventory(functions=dict(self.functions))


@pytest.fixture
def watch():
    journal = Journal()
    alarms, records = FakeAlarms(journal), FakeRecords(journal)
    resources = FakeResources({"Create": "notes-prod-Create", "Get": "notes-prod-Get"})
    config = SproutSettings("sprout-table", "sprout-artifacts", sprout_stack_name="sprout")
    watcher = Watcher(settings=FakeSettings(), alarms=alarms, subscriptions=object(), resources=resources,  # type: ignore[arg-type]
                      access_logs=object(), groups=object(), records=records, need=config.need)  # type: ignore[arg-type]
    return watcher, alarms, records, resources, journal


def test_given_a_stage_when_watched_then_each_alarm_is_recorded_with_the_arn_and_definition_cloudwatch_shows(watch):
    watcher, alarms, records, _, journal = watch
    # WHEN the stage is watched
    watcher.apply("notes", "prod", Settings(enabled=True), by="me")
    # THEN every alarm put is recorded after it was put, for this app and stage
    names = ["sprout-ar-notes-prod-errors-Create", "sprout-ar-notes-prod-errors-Get"]
    assert sorted(records.records) == names
    for name in names:
        record = records.records[name]
        assert (record.app, record.stage, record.arn) == ("notes", "prod", ARN + name)
        assert record.definition == definition_digest(alarms.alarms[name])
        assert journal.index(("put", name)) < journal.index(("record", name))


def test_given_a_watched_stage_when_a_function_leaves_or_it_is_turned_off_then_alarms_are_forgotten_before_deleted(watch):
    watcher, alarms, records, resources, journal = watch
    watcher.apply("notes", "prod", Settings(enabled=True), by="me")
    gone = "sprout-ar-notes-prod-errors-Get"
    # WHEN a function leaves the stage and the watch is applied again (as after a deploy)
    del resources.functions["Get"]
    watcher.apply("notes", "prod", Settings(enabled=True), by="sprout:deploy")
    # THEN its alarm is forgotten, then deleted; the other stays recorded
    assert gone not in records.records and gone not in alarms.alarms
    assert journal.index(("forget", gone)) < journal.index(("delete", gone))
    assert sorted(records.records) == ["sprout-ar-notes-prod-errors-Create"]
    # AND turned off, nothing stays recorded, each forgotten before it was deleted
    watcher.apply("notes", "prod", Settings(enabled=False), by="me")
    assert records.records == {} and alarms.alarms == {}
    last = "sprout-ar-notes-prod-errors-Create"
    assert journal.index(("forget", last)) < journal.index(("delete", last))


def test_given_an_alarm_name_recorded_for_another_stage_when_watched_then_409_before_any_alarm_is_put(watch):
    watcher, alarms, records, _, journal = watch
    name = "sprout-ar-notes-prod-errors-Create"
    records.records[name] = WatchedAlarm(name, "notes-prod", "errors-Create", "errors-Create", ARN + name, "d")
    with pytest.raises(Conflict):
        watcher.apply("notes", "prod", Settings(enabled=True), by="me")
    assert alarms.alarms == {} and [j for j in journal if j[0] == "put"] == []
