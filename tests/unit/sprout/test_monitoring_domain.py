"""The pure rules of monitoring a stage: times, status classes, periods, function short forms,
page tokens and access-log entries."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from sprout.domain.errors import FunctionNotFound, InvalidInput
from sprout.domain.monitoring import (
    ACCESS_LOG_FIELDS,
    ACCESS_LOG_FORMAT,
    Cursor,
    decode_cursor,
    encode_cursor,
    parse_access_entry,
    parse_limit,
    parse_period,
    parse_time,
    points,
    resolve_function,
    status_filter,
    time_range,
)
from sprout.domain.tokens import listing

NOW = datetime(2026, 12, 2, 10, 30, tzinfo=UTC)
FUNCTIONS = ["CreateNoteFunction", "GetNoteFunction", "ListNotesFunction", "UpdateNoteFunction", "DeleteNoteFunction"]


@pytest.mark.parametrize(
    "text, expected",
    [
        ("15m", NOW - timedelta(minutes=15)),
        ("2h", NOW - timedelta(hours=2)),
        ("1d", NOW - timedelta(days=1)),
        ("30s", NOW - timedelta(seconds=30)),
        ("2026-12-02T10:31:29.123Z", datetime(2026, 12, 2, 10, 31, 29, 123000, tzinfo=UTC)),
        ("2026-12-02T12:00:00+02:00", datetime(2026, 12, 2, 10, 0, tzinfo=UTC)),
    ],
)
def test_given_a_time_or_duration_when_parsed_then_it_is_that_utc_instant(text, expected):
    assert parse_time("since", text, NOW) == expected


@pytest.mark.parametrize(
    "since, until, field",
    [("yesterday", None, "since"), (None, "soon", "until"), ("1h", "2h", "since"), ("99999999999d", None, "since"), ("1969-01-01T00:00:00Z", None, "since")],
)
def test_given_a_bad_range_when_parsed_then_the_parameter_is_named(since, until, field):
    with pytest.raises(InvalidInput) as e:
        time_range(since, until, NOW)
    assert e.value.field == field


def test_given_no_range_when_parsed_then_it_is_the_last_hour():
    span = time_range(None, None, NOW)
    assert (span.since, span.until) == (NOW - timedelta(hours=1), NOW)


@pytest.mark.parametrize(
    "status, pattern",
    [("5xx", "{ $.status = 5* }"), ("4XX", "{ $.status = 4* }"), ("502", '{ $.status = "502" }'), (None, "")],
)
def test_given_a_status_when_turned_into_a_filter_then_it_is_a_json_pattern(status, pattern):
    assert status_filter(status) == pattern


@pytest.mark.parametrize("status", ["6xx", "50", "5x", "ok", "600"])
def test_given_an_unknown_status_when_turned_into_a_filter_then_it_is_refused(status):
    with pytest.raises(InvalidInput) as e:
        status_filter(status)
    assert e.value.field == "status"


@pytest.mark.parametrize("value, expected", [(None, 60), ("1", 1), ("10", 10), ("30", 30), ("300", 300)])
def test_given_a_period_when_checked_then_cloudwatchs_periods_pass(value, expected):
    assert parse_period(value, time_range("20m", None, NOW)) == expected


@pytest.mark.parametrize("value", ["45", "0", "-60", "abc", "90", "²", "6" * 5000])
def test_given_a_period_cloudwatch_does_not_allow_when_checked_then_it_is_refused(value):
    with pytest.raises(InvalidInput) as e:
        parse_period(value, time_range("1h", None, NOW))
    assert e.value.field == "period" and len(str(e.value)) < 200


def test_given_a_day_when_no_period_is_given_then_the_points_stay_within_the_limit():
    assert parse_period(None, time_range("7d", None, NOW)) == 420
    with pytest.raises(InvalidInput):
        parse_period("1", time_range("1d", None, NOW))


@pytest.mark.parametrize("fn, logical_id", [("create", "CreateNoteFunction"), ("createNote", "CreateNoteFunction"), ("LISTNOTESFUNCTION", "ListNotesFunction"), ("list", "ListNotesFunction"), ("notes", "ListNotesFunction")])
def test_given_a_short_form_when_resolved_then_it_names_the_one_function(fn, logical_id):
    assert resolve_function(fn, FUNCTIONS, "stage dev of app notes") == logical_id


def test_given_an_ambiguous_or_unknown_short_form_when_resolved_then_400_lists_them_and_404_names_it():
    with pytest.raises(InvalidInput) as ambiguous:
        resolve_function("note", FUNCTIONS, "stage dev of app notes")
    assert ambiguous.value.field == "fn" and "CreateNoteFunction" in str(ambiguous.value) and "GetNoteFunction" in str(ambiguous.value)
    with pytest.raises(FunctionNotFound) as unknown:
        resolve_function("billing", FUNCTIONS, "stage dev of app notes")
    assert "billing" in str(unknown.value)


def test_given_a_cursor_when_encoded_then_it_decodes_to_itself_and_garbage_is_refused():
    logs = listing("access-logs", "notes", "prod")
    cursor = Cursor(1796200000000, ("g|1", "g|2"))
    assert decode_cursor(logs, encode_cursor(logs, cursor)) == cursor
    for garbage in ("garbage", "e30", encode_cursor(logs, cursor)[:-3] + "!!!", "x" * 5000):
        with pytest.raises(InvalidInput) as e:
            decode_cursor(logs, garbage)
        assert e.value.field == "nextToken"


@pytest.mark.parametrize("other", [listing("access-logs", "billing", "prod"), listing("access-logs", "notes", "dev"),
                                   listing("function-logs", "notes", "prod", "CreateNoteFunction")])
def test_given_a_cursor_of_one_listing_when_given_to_another_then_400_next_token(other):
    # GIVEN a token of notes/prod's access logs
    token = encode_cursor(listing("access-logs", "notes", "prod"), Cursor(1796200000000, ()))
    # WHEN another app's, another stage's or another kind of listing is asked with it THEN it is refused
    with pytest.raises(InvalidInput) as e:
        decode_cursor(other, token)
    assert e.value.field == "nextToken" and "another listing" in str(e.value)


@pytest.mark.parametrize("value", ["0", "1001", "x", "-1", "²", "9" * 5000])
def test_given_a_limit_out_of_range_when_parsed_then_it_is_refused(value):
    with pytest.raises(InvalidInput):
        parse_limit(value)


def test_given_the_access_log_format_when_rendered_by_api_gateway_then_the_entry_reads_back_typed():
    # GIVEN the format, with every $context variable as API Gateway renders it ("-" when unset)
    rendered = {"$context.status": "502", "$context.requestTimeEpoch": "1796200000000", "$context.responseLatency": "35", "$context.error.message": "Internal server error"}
    line = ACCESS_LOG_FORMAT
    for variable in ACCESS_LOG_FIELDS.values():
        line = line.replace(variable, rendered.get(variable, "-"), 1) if variable in rendered else line.replace(f'"{variable}"', '"-"')
    entry = parse_access_entry(line)
    # THEN the numbers are numbers, unset fields are null, and every contract field is present
    assert json.loads(ACCESS_LOG_FORMAT).keys() == ACCESS_LOG_FIELDS.keys()
    assert entry is not None and set(entry) == set(ACCESS_LOG_FIELDS)
    assert (entry["status"], entry["requestTimeEpoch"], entry["latency"], entry["integrationLatency"]) == (502, 1796200000000, 35, None)
    assert entry["errorMessage"] == "Internal server error" and parse_access_entry("not json") is None


def test_given_series_when_assembled_then_counts_read_zero_and_missing_statistics_null():
    t1, t2 = NOW, NOW + timedelta(minutes=1)
    series = {"a": {t1: 3.0, t2: 1.0}, "b": {t2: 12.34567}}
    assert points(series, {"requests": "a", "latencyP99": "b"}, ("requests",)) == [
        {"timestamp": "2026-12-02T10:30:00.000Z", "requests": 3, "latencyP99": None},
        {"timestamp": "2026-12-02T10:31:00.000Z", "requests": 1, "latencyP99": 12.346},
    ]
