"""The 5xx a canary's new version answered (a handler that returns 500 without raising is no Lambda
error): the stage's access-log 5xx lines, their integration request ids, found as START lines in
the new version's own log streams (sprout.domain.canary, sprout.adapters.version_faults)."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta

from sprout.adapters.version_faults import LogVersionFaults
from sprout.domain.canary import (
    MAX_NAMED_IDS,
    START_PATTERN,
    bad_count,
    ids_pattern,
    mentioned_ids,
    request_id_of,
    version_stream_prefixes,
)
from sprout.domain.monitoring import ACCESS_LOG_FIELDS, parse_access_entry

ACCESS = "API-Gateway-Access-Logs_abc123/prod"
CREATE = "/aws/lambda/notes-prod/CreateNoteFunction"  # the group Sprout names (LoggingConfig)
FN = "notes-prod-Create"
SINCE = datetime(2026, 12, 7, 23, 59, tzinfo=UTC)
T = int(SINCE.timestamp() * 1000) + 1000


def access_line(status: int, request_id: str | None) -> str:
    line = {key: "-" for key in ACCESS_LOG_FIELDS}
    line |= {"status": str(status), "httpMethod": "POST"}
    if request_id is None:
        line.pop("integrationRequestId")  # a line written before the field existed
    else:
        line["integrationRequestId"] = request_id
    return json.dumps(line)


def start(request_id: str, version: str) -> str:
    return f"START RequestId: {request_id} Version: {version}"


class FakeLogs:
    """FilterLogEvents over {group: [(stream, timestamp, message)]}: logStreamNamePrefix, a time
    window, pages of two events, and the three patterns the judge uses ({ $.status = 5* }, OR-ed
    quoted phrases, one quoted phrase) as CloudWatch Logs reads them."""

    def __init__(self, groups: dict[str, list[tuple[str, int, str]]]):
        self.groups, self.calls = groups, []

    @staticmethod
    def _matches(pattern: str, message: str) -> bool:
        if pattern == "{ $.status = 5* }":
            return str(json.loads(message).get("status", "")).startswith("5")
        phrases = re.findall(r'\??"([^"]*)"', pattern)
        return any(p in message for p in phrases)

    def filter_log_events(self, logGroupName, startTime, endTime, filterPattern, logStreamNamePrefix="", nextToken=None):  # noqa: N803
        self.calls.append((logGroupName, logStreamNamePrefix, filterPattern))
        if logGroupName not in self.groups:
            from botocore.exceptions import ClientError

            raise ClientError({"Error": {"Code": "ResourceNotFoundException", "Message": "no group"}}, "FilterLogEvents")
        events = [{"logStreamName": s, "timestamp": t, "message": m} for s, t, m in self.groups[logGroupName]
                  if s.startswith(logStreamNamePrefix) and startTime <= t <= endTime and self._matches(filterPattern, m)]
        at = int(nextToken or 0)
        page = {"events": events[at:at + 2]}
        if at + 2 < len(events):
            page["nextToken"] = str(at + 2)
        return page


def world(extra_ids: int = 0) -> FakeLogs:
    """prod's access log: a handled 500 of the new version (n1), a 500 of the old one (o1), a 502 of
    an unhandled error of the new one (n3), a 200 of the new one (n2), an old-format 500 line; the
    function's streams: version 2's and version 1's."""
    lines = [access_line(500, "n1"), access_line(500, "o1"), access_line(200, "n2"), access_line(502, "n3"),
             access_line(500, None)] + [access_line(500, f"x{i}") for i in range(extra_ids)]
    new, old = f"2026/12/07/{FN}[2]aaaa", f"2026/12/07/{FN}[1]bbbb"
    starts = [(new, T, start("n1", "2")), (new, T, start("n2", "2")), (new, T, start("n3", "2")), (old, T, start("o1", "1")),
              (new, T, "n1 something the handler logged")] + [(old, T, start(f"x{i}", "1")) for i in range(extra_ids)]
    return FakeLogs({ACCESS: [("s", T, line) for line in lines], CREATE: starts})


def answered(logs: FakeLogs, version: str = "2", until: datetime = SINCE + timedelta(seconds=50)) -> dict[str, int]:
    return LogVersionFaults(logs, cloudformation=object()).answered_5xx([ACCESS], {FN: (CREATE, version)}, SINCE, until)


def test_given_a_handled_500_and_an_unhandled_502_of_the_new_version_when_counted_then_both_count_and_the_old_versions_500_does_not():
    """GIVEN the new version answered a handled 500 and a 502, the old version a 500
    WHEN the new version's 5xx are counted
    THEN 2: its own, found in its own streams; the old version's 500 is in the old streams only."""
    logs = world()
    assert answered(logs) == {FN: 2}
    assert answered(world(), version="1") == {FN: 1}
    # the access log, then only the new version's streams of that day (paged)
    assert {(g, p) for g, p, _ in logs.calls if g == CREATE} == {(CREATE, f"2026/12/07/{FN}[2]")}


def test_given_a_function_logging_json_when_counted_then_its_platform_start_records_name_the_invocations():
    """GIVEN a new version with LogFormat JSON (Lambda's platform.start records, no START lines) that
    answered a handled 500, with more 5xx ids than one pattern names
    WHEN counted
    THEN its 500 is found by the record's requestId."""
    ids = [f"x{i}" for i in range(MAX_NAMED_IDS + 1)]
    record = json.dumps({"time": "2026-12-07T23:59:01Z", "type": "platform.start", "record": {"requestId": "j1", "version": "2"}})
    logs = FakeLogs({ACCESS: [("s", T, access_line(500, i)) for i in ["j1", *ids]], CREATE: [(f"2026/12/07/{FN}[2]j", T, record)]})
    assert answered(logs) == {FN: 1}


def test_given_no_5xx_when_counted_then_no_function_log_is_read():
    """GIVEN a stage whose access log holds only 2xx lines (or no access log at all)
    WHEN the new version's 5xx are counted
    THEN none, and the only Logs call was the access log's."""
    logs = FakeLogs({ACCESS: [("s", T, access_line(200, "n2"))], CREATE: [(f"2026/12/07/{FN}[2]a", T, start("n2", "2"))]})
    assert answered(logs) == {}
    assert [g for g, _, _ in logs.calls] == [ACCESS]
    missing = FakeLogs({})
    assert answered(missing) == {} and [g for g, _, _ in missing.calls] == [ACCESS]


def test_given_more_5xx_than_one_pattern_names_when_counted_then_every_start_line_is_read_and_matched():
    """GIVEN more 5xx ids than MAX_NAMED_IDS (all but two of the old version)
    WHEN counted
    THEN the new version's two are still found, through the plain START pattern."""
    logs = world(extra_ids=MAX_NAMED_IDS + 1)
    assert answered(logs) == {FN: 2}
    assert (CREATE, f"2026/12/07/{FN}[2]", START_PATTERN) in logs.calls


def test_the_version_streams_are_named_as_lambda_names_them_for_each_day_of_the_window():
    """GIVEN a window across midnight
    WHEN the new version's stream prefixes are made
    THEN one per day; with the function's name in a group LoggingConfig names, without it in the
    function's default group (Lambda's two stream-name formats)."""
    two_days = version_stream_prefixes(FN, CREATE, "7", SINCE, SINCE + timedelta(minutes=2))
    assert two_days == [f"2026/12/07/{FN}[7]", f"2026/12/08/{FN}[7]"]
    assert version_stream_prefixes(FN, f"/aws/lambda/{FN}", "$LATEST", SINCE, SINCE) == ["2026/12/07/[$LATEST]"]


def test_patterns_ids_and_the_counting_rule():
    """An unhandled error is a Lambda error and a 502: counted once; a request id that could break
    a filter pattern is not one; an access line of the old format has no integration request id."""
    assert bad_count(3, 3) == 3 and bad_count(0, 2) == 2 and bad_count(4, 1) == 4
    assert ids_pattern(["b", "a", "a"]) == '?"a" ?"b"'
    assert mentioned_ids([start("a-1", "2"), "xa-1y", start("c", "2")], {"a-1", "b"}) == {"a-1"}
    assert request_id_of("0f1e-22") == "0f1e-22"
    assert request_id_of('x" ?"y') is None and request_id_of(None) is None and request_id_of("-") is None
    entry = parse_access_entry(access_line(500, None))
    assert entry is not None and entry["integrationRequestId"] is None and entry["status"] == 500
