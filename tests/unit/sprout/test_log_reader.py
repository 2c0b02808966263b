"""Newest-first pages over CloudWatch Logs' oldest-first FilterLogEvents: every event once, in
order, across windows, groups, equal timestamps and page boundaries."""

from __future__ import annotations

import random

import pytest

from sprout.adapters.logs import LogReader
from sprout.domain.monitoring import decode_cursor, encode_cursor


class FakeLogs:
    """An in-memory FilterLogEvents: events of a group oldest first, startTime/endTime inclusive,
    a term pattern, pages of ``page`` events with a token - as CloudWatch Logs answers."""

    class exceptions:  # noqa: N801 (boto3's shape)
        class ResourceNotFoundException(Exception):
            pass

    def __init__(self, groups: dict[str, list[tuple[int, str]]], page: int = 7):
        self.groups = {
            g: [{"timestamp": t, "message": m, "eventId": f"{g}-{i}", "logStreamName": "s"} for i, (t, m) in enumerate(sorted(ev))]
            for g, ev in groups.items()
        }
        self.page = page
        self.calls = 0

    def filter_log_events(self, logGroupName, startTime, endTime, filterPattern="", nextToken=None):  # noqa: N803
        self.calls += 1
        if logGroupName not in self.groups:
            raise self.exceptions.ResourceNotFoundException()
        hits = [e for e in self.groups[logGroupName] if startTime <= e["timestamp"] <= endTime and filterPattern in e["message"]]
        start = int(nextToken or 0)
        answer = {"events": hits[start : start + self.page]}
        if start + self.page < len(hits):
            answer["nextToken"] = str(start + self.page)
        return answer


def read_all(reader: LogReader, groups: list[str], pattern: str, since: int, until: int, limit: int) -> tuple[list[str], int]:
    out, cursor, pages = [], None, 0
    while True:
        events, cursor = reader.newest(groups, pattern, since, until, limit, cursor)
        out += [e.message for e in events]
        pages += 1
        if cursor is None:
            return out, pages
        cursor = decode_cursor("logs#notes#dev", encode_cursor("logs#notes#dev", cursor))  # as a client would carry it


@pytest.mark.parametrize("limit", [1, 3, 50, 1000])
def test_given_events_over_hours_in_two_groups_when_read_page_by_page_then_each_comes_once_newest_first(limit):
    # GIVEN two groups with events over 3 hours, many sharing a timestamp, some matching "ERR"
    rng = random.Random(limit)
    base = 1_800_000_000_000
    groups: dict[str, list[tuple[int, str]]] = {"a": [], "b": []}
    for i in range(400):
        t = base + rng.randrange(0, 3 * 3_600_000, 250)  # coarse times: plenty of equal timestamps
        groups[rng.choice("ab")].append((t, f"{'ERR' if i % 3 == 0 else 'ok'} {i} @{t}"))
    reader = LogReader(FakeLogs(groups))
    # WHEN the ERR events of the whole range are read ``limit`` at a time
    got, pages = read_all(reader, ["a", "b"], "ERR", base, base + 3 * 3_600_000, limit)
    # THEN each came exactly once, newest first, over as many pages as the limit requires
    expected = [m for _, m in sorted(((t, m) for ev in groups.values() for t, m in ev if "ERR" in m), key=lambda p: p[0], reverse=True)]
    assert sorted(got) == sorted(expected) and len(got) == len(set(got))
    stamps = [int(m.rsplit("@", 1)[1]) for m in got]
    assert stamps == sorted(stamps, reverse=True)
    assert pages >= -(-len(expected) // limit)


def test_given_a_range_when_read_then_events_outside_it_never_come_and_a_missing_group_is_empty():
    base = 1_800_000_000_000
    reader = LogReader(FakeLogs({"a": [(base + i * 1000, f"e{i}") for i in range(100)]}))
    events, cursor = reader.newest(["a", "nothing-here"], "", base + 10_000, base + 19_000, 100)
    assert [e.message for e in events] == [f"e{i}" for i in range(19, 9, -1)] and cursor is None


def test_given_a_cursor_at_a_timestamp_when_continued_then_events_already_returned_there_are_skipped():
    base = 1_800_000_000_000
    reader = LogReader(FakeLogs({"a": [(base, f"same{i}") for i in range(5)] + [(base - 1, "older")]}))
    first, cursor = reader.newest(["a"], "", base - 10, base, 2)
    assert cursor is not None and cursor.before_ms == base and set(cursor.seen) == {e.key for e in first}
    rest, cursor = reader.newest(["a"], "", base - 10, base, 10, cursor)
    assert sorted(e.message for e in first + rest) == sorted([f"same{i}" for i in range(5)] + ["older"])
    assert rest[-1].message == "older" and cursor is None
