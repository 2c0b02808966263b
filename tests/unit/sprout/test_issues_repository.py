"""The issues' repository on moto's DynamoDB (the table as template.yaml declares it): created once
per fingerprint, bounded per stage, written back only when nobody wrote in between."""

from __future__ import annotations

import pytest

from sprout.domain import issues as domain
from sprout.domain.issues import Occurrence, absorb, recognise
from tests.unit.sprout.lineage_table import notes_lineage_on_moto


@pytest.fixture
def lineage(monkeypatch):
    yield from notes_lineage_on_moto(monkeypatch, "sprout-unit-issues", "sprout-unit-issues-bucket")


def _issue(n: int = 0):
    error = recognise(f"[ERROR] Error{n}: boom")
    assert error is not None
    issue, _ = absorb(None, "notes", "dev", [Occurrence(error, 1_000, "CreateNote", 2, "000002", "boom")])
    return issue


def test_given_a_new_issue_when_created_twice_then_the_second_is_told_it_exists_and_reads_back_whole(lineage):
    """GIVEN an issue absorbed from one occurrence
    WHEN created, and created again
    THEN created, then exists; it reads back with its first sighting, counts and samples"""
    issue = _issue()
    assert lineage.create_issue(issue) == "created"
    assert lineage.create_issue(issue) == "exists"
    found = lineage.issue("notes", "dev", issue.id)
    assert found is not None and found.first_seen == issue.first_seen and found.counts == {"2": 1}
    assert found.samples == issue.samples and found.version == 1


def test_given_two_writers_when_both_write_back_then_the_second_is_refused_and_nothing_is_lost(lineage):
    """GIVEN an issue read by two writers
    WHEN both write back
    THEN the first wins, the second is refused (and would read again)"""
    lineage.create_issue(_issue())
    one = lineage.issue("notes", "dev", _issue().id)
    two = lineage.issue("notes", "dev", _issue().id)
    assert one is not None and two is not None
    one.count += 1
    two.count += 5
    assert lineage.update_issue(one) is True
    assert lineage.update_issue(two) is False
    assert lineage.issue("notes", "dev", one.id).count == 2


def test_given_a_full_stage_when_another_fingerprint_comes_then_it_is_refused_but_the_overflow_issue_is_let_in(
    lineage, monkeypatch
):
    """GIVEN a stage capped at 2 issues holding 2
    WHEN a third fingerprint and then the overflow issue are created
    THEN the third is refused as full, the overflow issue is created, other stages are not affected"""
    monkeypatch.setattr("sprout.adapters.lineage.issues.MAX_ISSUES_PER_STAGE", 2)
    assert [lineage.create_issue(_issue(n)) for n in range(3)] == ["created", "created", "full"]
    error = domain.overflow(recognise("[ERROR] X: y"))
    overflow, _ = absorb(None, "notes", "dev", [Occurrence(error, 1, "CreateNote", 2, None, "")])
    assert lineage.create_issue(overflow) == "created"
    assert len(lineage.issues("notes", "dev")) == 3
    other = _issue(9)
    other.stage = "prod"
    assert lineage.create_issue(other) == "created"


def test_given_a_stage_watch_then_it_reads_back(lineage):
    """GIVEN the groups Sprout subscribed for a stage and one it could not
    WHEN recorded
    THEN they read back as recorded"""
    lineage.record_issue_watch("notes", "dev", {"/aws/lambda/a": "A"}, [{"function": "B", "logGroup": "/aws/lambda/b",
                                                                         "reason": "full"}], "000003")
    watch = lineage.issue_watch("notes", "dev")
    assert watch["groups"] == {"/aws/lambda/a": "A"} and watch["unsubscribed"][0]["function"] == "B"
    assert lineage.issue_watch("notes", "prod") is None
