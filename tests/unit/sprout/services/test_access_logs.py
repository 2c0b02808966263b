"""A stage's access logs (sprout.services.access_logs) against in-memory fakes: on and off in one
call and idempotent, the account's own role kept, a stage without a REST API, logs that are off,
a page of entries filtered on the server side."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import timedelta

import pytest

from sprout.domain.errors import AccessLogsOff, NotDeployed, StageNotFound
from sprout.domain.monitoring import ApiStage, Cursor, StageInventory, status_filter, time_range
from sprout.services.access_logs import AccessLogs, group_of
from sprout.services.monitoring import Monitoring
from tests.unit.sprout.services.fakes import NOTES, NOW, FakeLineage

SPROUT_ROLE = "arn:aws:iam::123456789012:role/sprout-access-logs"
API = ApiStage("Api", "a1", "Prod", "notes-api")


@dataclass(frozen=True)
class Setting:
    destination_arn: str | None


@dataclass(frozen=True)
class Line:
    stream: str
    timestamp: int
    message: str


class Logging:
    def __init__(self, account_role=None):
        self.account = account_role
        self.destinations: dict[str, str] = {}
        self.calls: list[str] = []

    def account_role(self):
        return self.account

    def setting(self, api):
        return Setting(self.destinations.get(api.api_id))

    def turn_on(self, apis, role_arn, ensure_group):
        self.calls.append("on")
        if self.account is None:
            self.account = role_arn
        for api in apis:
            self.destinations[api.api_id] = ensure_group(f"/sprout/access/{api.api_id}/{api.stage}", 30)

    def disable(self, api):
        self.calls.append("off")
        self.destinations.pop(api.api_id, None)


class Groups:
    def __init__(self):
        self.groups: dict[str, int] = {}
        self.asked: list[tuple[list[str], str, int]] = []

    def ensure_group(self, group, retention_days):
        self.groups[group] = retention_days
        return f"arn:aws:logs:us-east-1:123456789012:log-group:{group}:*"

    def retention(self, group):
        return self.groups.get(group)

    def newest(self, groups, pattern, since_ms, until_ms, limit, cursor=None):
        self.asked.append((groups, pattern, limit))
        entry = {"requestId": "r1", "status": "502", "httpMethod": "POST", "resourcePath": "/notes"}
        return [Line("s", since_ms, json.dumps(entry)), Line("s", since_ms, "not json")], Cursor(since_ms)


class Resources:
    def __init__(self, apis=(API,)):
        self.apis = apis

    def inventory(self, stack, where):
        return StageInventory({"CreateNoteFunction": f"{stack}-Create"}, self.apis)


def service(account_role=None, apis=(API,), deploy=True):
    lineage = FakeLineage(NOTES)
    if deploy:
        lineage.deploy("notes", "prod", lineage.add_build("notes", "c1", functions={"CreateNoteFunction": "a"}))
    logging, groups = Logging(account_role), Groups()
    monitoring = Monitoring(lineage, Resources(apis), None, None, now=lambda: NOW)  # type: ignore[arg-type]
    return AccessLogs(monitoring, logging, groups, lambda: SPROUT_ROLE), logging, groups


def test_given_a_deployed_stage_when_turned_on_twice_then_each_api_logs_to_its_group_and_sprouts_role_is_set():
    logs, logging, groups = service()

    first = logs.set("notes", "prod", True)
    second = logs.set("notes", "prod", True)

    assert first == second
    assert first["enabled"] is True
    assert first["apis"] == [{"apiId": "a1", "stage": "Prod", "logGroup": "/sprout/access/a1/Prod",
                              "destinationArn": groups.ensure_group("/sprout/access/a1/Prod", 30)}]
    assert first["accountRole"] == {"arn": SPROUT_ROLE, "kept": False}
    assert first["retentionDays"] == 30


def test_given_an_account_with_its_own_role_when_turned_on_then_that_role_is_kept_and_said():
    logs, _, _ = service(account_role="arn:aws:iam::123456789012:role/theirs")

    answer = logs.set("notes", "prod", True)

    assert answer["accountRole"] == {"arn": "arn:aws:iam::123456789012:role/theirs", "kept": True}


def test_given_logs_on_when_turned_off_then_settings_say_off_and_entries_are_a_409():
    logs, logging, _ = service()
    logs.set("notes", "prod", True)

    answer = logs.set("notes", "prod", False)

    assert answer["enabled"] is False and logging.calls == ["on", "off"]
    span = time_range(None, None, NOW)
    with pytest.raises(AccessLogsOff, match="sprout access-logs enable notes prod"):
        logs.entries("notes", "prod", span, "", 10, None)


def test_given_logs_on_when_read_then_entries_are_parsed_newest_first_with_a_next_token():
    logs, _, groups = service()
    logs.set("notes", "prod", True)
    span = time_range((NOW - timedelta(hours=1)).isoformat(), None, NOW)

    page = logs.entries("notes", "prod", span, status_filter("5xx"), 2, None)

    assert [e["status"] for e in page["entries"]] == [502]  # the line that is no entry is skipped
    assert page["nextToken"]
    assert groups.asked == [(["/sprout/access/a1/Prod"], status_filter("5xx"), 2)]


def test_given_a_stage_without_a_rest_api_then_turning_logs_on_says_there_are_none():
    logs, logging, _ = service(apis=())

    with pytest.raises(AccessLogsOff, match="has no REST API"):
        logs.set("notes", "prod", True)
    assert logging.calls == []


def test_given_an_unknown_stage_or_one_never_deployed_then_404_and_409():
    logs, _, _ = service(deploy=False)

    with pytest.raises(StageNotFound):
        logs.settings("notes", "nope")
    with pytest.raises(NotDeployed):
        logs.set("notes", "prod", True)


def test_a_destination_arn_names_its_group_with_or_without_the_stream_suffix():
    assert group_of("arn:aws:logs:us-east-1:1:log-group:/a/b:*") == "/a/b"
    assert group_of("arn:aws:logs:us-east-1:1:log-group:/a/b") == "/a/b"
    assert group_of("arn:aws:firehose:us-east-1:1:deliverystream/x") is None
    assert group_of(None) is None
