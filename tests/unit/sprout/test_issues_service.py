"""Issues, the use cases, with in-memory ports: grouping batches (trust of the filter and the group,
build attribution, bounds), reading and changing statuses, subscribing a stage."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from sprout.domain import issues as domain
from sprout.domain.errors import Conflict, InvalidInput, NotFound
from sprout.domain.issues import Issue
from sprout.domain.model import (
    Build,
    BuildStatus,
    Deployment,
    DeploymentKind,
    DeploymentStatus,
    FunctionArtifact,
)
from sprout.services.issues import Batch, Grouping, Issues, subscribe_stage

GROUP = "/aws/lambda/notes-dev/CreateNote"  # the name Package gives it (sprout.domain.function_logs)
LINE = ("[ERROR] NameError: name 'gibberish' is not defined\nTraceback (most recent call last):\n"
        '  File "/var/task/create.py", line 3, in handler\n    gibberish.what  # db=pa55word-xyz\n')


class Store:
    def __init__(self, cap: int = domain.MAX_ISSUES_PER_STAGE):
        self.items: dict[tuple[str, str, str], Issue] = {}
        self.watches: dict[tuple[str, str], dict[str, Any]] = {}
        self.cap = cap

    def issue(self, app, stage, issue_id):
        found = self.items.get((app, stage, issue_id))
        return copy.deepcopy(found)

    def issues(self, app, stage):
        return [copy.deepcopy(i) for k, i in self.items.items() if k[:2] == (app, stage)]

    def create_issue(self, issue):
        key = (issue.app, issue.stage, issue.id)
        if key in self.items:
            return "exists"
        ordinary = [k for k, i in self.items.items() if k[:2] == key[:2] and i.type != domain.OVERFLOW_TYPE]
        if issue.type != domain.OVERFLOW_TYPE and len(ordinary) >= self.cap:
            return "full"
        self.items[key] = copy.deepcopy(issue)
        self.items[key].version = 1
        return "created"

    def update_issue(self, issue):
        key = (issue.app, issue.stage, issue.id)
        if self.items[key].version != issue.version:
            return False
        self.items[key] = copy.deepcopy(issue)
        self.items[key].version = (issue.version or 0) + 1
        return True

    def issue_watch(self, app, stage):
        return self.watches.get((app, stage))

    def record_issue_watch(self, app, stage, groups, unsubscribed, deployment):
        self.watches[(app, stage)] = {"groups": dict(groups), "unsubscribed": list(unsubscribed), "deployment": deployment}


def _deployment(n: int, version: str) -> Deployment:
    return Deployment("notes", "dev", f"{n:06d}", n, DeploymentKind.DEPLOY, DeploymentStatus.SUCCEEDED, {"type": "push"},
                      versions={"CreateNote": version}, started_at=f"2026-12-07T16:0{n}:00Z")


class History:
    def __init__(self):
        self.deployments = [_deployment(2, "2"), _deployment(1, "1")]  # newest first

    def list_deployments(self, app, stage, limit=25, next_token=None):
        return self.deployments[:limit], None

    def get_build(self, app, number):
        env = {"Environment": {"Variables": {"DB": "pa55word-xyz"}}}
        return Build(app, number, "c" * 40, "main", BuildStatus.SUCCEEDED, functions=(FunctionArtifact("CreateNote", "s", "k", env),))


class Announcer:
    def __init__(self):
        self.sent: list[dict] = []

    def announce(self, events):
        self.sent += events


@pytest.fixture
def world():
    store, history, announcer = Store(), History(), Announcer()
    store.record_issue_watch("notes", "dev", {GROUP: "CreateNote"}, [], "000002")
    return store, Grouping(store, history, announcer), announcer, Issues(store, history, lambda: "2026-12-07T17:00:00.000Z")


def _batch(lines, stream="2026/12/07/[1]abc", group=GROUP, filters=("sprout-is#notes#dev",), t0=1_800_000_000_000):
    return Batch(filters, group, stream,
                 tuple({"id": f"{t0}-{i}", "timestamp": t0 + i, "message": m} for i, m in enumerate(lines)))


def test_given_a_batch_of_one_error_when_ingested_then_one_issue_new_in_the_build_that_ran_it_masked_and_told_once(world):
    """GIVEN 30 NameErrors written by version 1 of CreateNote (build 1's) and ordinary lines
    WHEN the batch is ingested twice
    THEN one issue, first seen in build 1 / deployment 000001, counted 60, its samples masked, issue.new said once"""
    store, grouping, announcer, _ = world
    grouping.ingest(_batch([LINE] * 30 + ["START RequestId: 1", "END RequestId: 1"]))
    result = grouping.ingest(_batch([LINE] * 30, t0=1_800_000_100_000))
    [issue] = store.issues("notes", "dev")
    assert result["events"] == [] and [e["event"] for e in announcer.sent] == ["issue.new"]
    assert issue.first_seen["build"] == 1 and issue.first_seen["deployment"] == "000001" and issue.count == 60
    assert all("pa55word-xyz" not in s["message"] and domain.MASKED in s["message"] for s in issue.samples)


@pytest.mark.parametrize("filters, group", [
    (("sprout-is#other#dev",), GROUP),  # a filter named for another app
    (("sprout-is#notes#dev",), "/aws/lambda/someone-else"),  # Sprout's name on a group it did not subscribe
    (("mine",), GROUP), ((), GROUP),
])
def test_given_forged_filters_or_groups_when_ingested_then_nothing_is_recorded(world, filters, group):
    """GIVEN a batch whose filter name or log group is not one Sprout subscribed for that stage
    WHEN ingested
    THEN it is ignored with a reason and no issue exists for anyone"""
    store, grouping, announcer, _ = world
    result = grouping.ingest(_batch([LINE], filters=filters, group=group))
    assert "ignored" in result and store.items == {} and announcer.sent == []


def test_given_more_fingerprints_than_a_stage_may_hold_then_the_rest_are_counted_in_one_overflow_issue(world):
    """GIVEN a stage capped at 3 issues and 10 distinct errors
    WHEN ingested
    THEN 3 issues and one Sprout.TooManyIssues counting the other 7"""
    store, grouping, _, _ = world
    store.cap = 3
    grouping.ingest(_batch([f"[ERROR] Error{i}: boom" for i in range(10)]))
    found = store.issues("notes", "dev")
    overflow = [i for i in found if i.type == domain.OVERFLOW_TYPE]
    assert len(found) == 4 and len(overflow) == 1 and overflow[0].count == 7


def test_given_a_batch_with_many_fingerprints_then_at_most_the_per_batch_bound_is_written(world):
    """GIVEN one batch with 500 distinct errors
    WHEN ingested
    THEN at most MAX_FINGERPRINTS_PER_BATCH issues and the overflow one are written, every error counted"""
    store, grouping, _, _ = world
    grouping.ingest(_batch([f"[ERROR] Error{i}: boom" for i in range(500)]))
    found = store.issues("notes", "dev")
    assert len(found) == domain.MAX_FINGERPRINTS_PER_BATCH + 1 and sum(i.count for i in found) == 500


def test_given_an_issue_when_resolved_and_seen_again_then_it_regresses_and_the_api_shows_it(world):
    """GIVEN an issue
    WHEN resolved through the use case and the error comes back in build 2
    THEN it is regressed, issue.regressed is said, counts per build show both builds and the deployments around"""
    store, grouping, announcer, issues = world
    grouping.ingest(_batch([LINE]))
    [issue] = store.issues("notes", "dev")
    assert issues.set_status("notes", "dev", issue.id, "resolved", "alice")["status"] == "resolved"
    grouping.ingest(_batch([LINE], stream="2026/12/07/[2]def", t0=1_900_000_000_000))
    shown = issues.show("notes", "dev", issue.id)
    assert shown["status"] == "regressed" and announcer.sent[-1]["event"] == "issue.regressed"
    assert shown["countsByBuild"] == [{"build": 2, "count": 1}, {"build": 1, "count": 1}]
    assert [d["id"] for d in shown["deployments"]] == ["000002", "000001"]
    listed = issues.page("notes", "dev", "regressed", None, 25, None)
    assert [i["id"] for i in listed["issues"]] == [issue.id]
    assert issues.page("notes", "dev", None, 2, 25, None)["issues"] == []  # not new in build 2


def test_given_bad_reads_and_changes_then_they_name_the_field(world):
    """GIVEN an unknown id, a bad id, a bad status, a foreign token
    WHEN read or changed
    THEN 404 / 400 naming id, status, nextToken"""
    _, _, _, issues = world
    with pytest.raises(NotFound):
        issues.show("notes", "dev", "0123abcd")
    for bad_id in ("../x", "a" * 100):
        with pytest.raises(InvalidInput, match="id"):
            issues.show("notes", "dev", bad_id)
    with pytest.raises(InvalidInput, match="status"):
        issues.page("notes", "dev", "closed", None, 25, None)
    with pytest.raises(InvalidInput, match="nextToken"):
        issues.page("notes", "dev", None, None, 25, "bm90IGEgdG9rZW4")


def test_given_pages_then_each_issue_shows_once(world):
    """GIVEN 7 issues
    WHEN listed 3 at a time
    THEN 3 pages hold each once"""
    store, grouping, _, issues = world
    grouping.ingest(_batch([f"[ERROR] Error{i}: boom" for i in range(7)]))
    seen, token = [], None
    while True:
        page = issues.page("notes", "dev", None, None, 3, token)
        seen += [i["id"] for i in page["issues"]]
        token = page["nextToken"]
        if not token:
            break
    assert len(seen) == 7 == len(set(seen))


class Subscriber:
    def __init__(self, full: set[str]):
        self.full, self.put_on, self.deleted = full, [], []

    def ensure_group(self, group):
        pass

    def put(self, group, name, destination):
        if group in self.full:
            raise Conflict(f"log group {group} already has 2 subscription filters (a, b)")
        self.put_on.append((group, name))

    def delete(self, group, name):
        self.deleted.append(group)


def test_given_a_group_whose_two_filter_slots_are_taken_then_the_others_are_subscribed_and_it_is_recorded_as_not():
    """GIVEN a stage with two functions, one whose log group already has the app's own two filters
    WHEN the stage is subscribed (and later redeployed without the other function)
    THEN the other is subscribed under sprout-is#notes#dev, the full one is recorded with the reason, a removed one unsubscribed"""
    store = Store()
    subscriber = Subscriber({"/aws/lambda/notes-dev/Full"})
    out = subscribe_stage(store, subscriber, "notes", "dev", {"Create": "n-Create", "Full": "n-Full"}, "arn:fn", "000001")
    assert subscriber.put_on == [("/aws/lambda/notes-dev/Create", "sprout-is#notes#dev")]
    assert out["notSubscribed"][0]["function"] == "Full" and "2 subscription filters" in out["notSubscribed"][0]["reason"]
    assert store.issue_watch("notes", "dev")["groups"] == {"/aws/lambda/notes-dev/Create": "Create"}
    subscribe_stage(store, subscriber, "notes", "dev", {"Full": "n-Full"}, "arn:fn", "000002")
    assert subscriber.deleted == ["/aws/lambda/notes-dev/Create"]


def test_given_issues_on_dev_then_a_promotes_change_set_names_the_builds_open_ones(world):
    """GIVEN on dev an open NameError raised by build 1, and an ignored error of build 1
    WHEN the change set of promoting build 1 (or build 2) asks what it does on dev
    THEN build 1 has 1 open issue, named; build 2 none"""
    from sprout.services.issues import open_issues_of_build

    store, grouping, _, issues = world
    grouping.ingest(_batch([LINE, "[ERROR] Quiet: shh"]))
    quiet = next(i for i in store.issues("notes", "dev") if i.type == "Quiet")
    issues.set_status("notes", "dev", quiet.id, "ignored", "bob")
    said = open_issues_of_build(store, "notes", "dev", 1)
    assert said["summary"] == "build #1 has 1 open issue on dev: NameError in create.py:handler"
    assert [i["count"] for i in said["issues"]] == [1]
    assert open_issues_of_build(store, "notes", "dev", 2) == {"stage": "dev", "build": 2, "issues": [],
                                                              "summary": "build #2 has no open issue on dev"}


def test_given_a_batch_delivered_twice_then_it_counts_once(world):
    """GIVEN a batch of 10 NameErrors and 3 other errors
    WHEN it is delivered twice (a retried asynchronous invocation), then a new batch comes
    THEN the second delivery changes nothing and the new batch counts"""
    store, grouping, announcer, _ = world
    batch = _batch([LINE] * 10 + ["[ERROR] Other: x"] * 3)
    grouping.ingest(batch)
    grouping.ingest(batch)
    counts = sorted(i.count for i in store.issues("notes", "dev"))
    assert counts == [3, 10] and len(announcer.sent) == 2
    grouping.ingest(_batch([LINE], t0=1_900_000_000_000))
    assert sorted(i.count for i in store.issues("notes", "dev")) == [3, 11]
