"""The pure rules of watching a stage: settings (defaults, validation naming the field), the alarms
as data (names, tags, metrics, math), which alarms the rollback path trusts (recorded, same ARN and
definition, in ALARM now: never tags), the fast signal's per-second counts and the decoding of a
CloudWatch Logs subscription payload."""

from __future__ import annotations

import base64
import gzip
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from sprout.domain.auto_rollback import (
    DEFAULTS,
    ApiRef,
    Settings,
    WatchedAlarm,
    alarm_specs,
    count_per_second,
    definition_digest,
    filter_name,
    metric_data,
    parse_filter_name,
    parse_request,
    untrusted_reason,
)
from sprout.domain.errors import InvalidInput
from sprout.domain.monitoring import ACCESS_LOG_FORMAT
from sprout.handlers.fast_signal import BadPayload, decode

EVENTS = Path(__file__).resolve().parents[3] / "events"
API = ApiRef("NotesApi", "notes-dev", "dev")
FUNCTIONS = {"CreateNoteFunction": "notes-dev-CreateNoteFunction", "GetNoteFunction": "notes-dev-GetNoteFunction"}


def tags_of(spec) -> dict[str, str]:
    return {t["Key"]: t["Value"] for t in spec.tags}


# ---- settings ---------------------------------------------------------------------------------------
def test_given_only_enabled_when_parsed_then_the_documented_defaults_apply():
    # GIVEN a first PUT with nothing but enabled / WHEN parsed
    settings = parse_request({"enabled": True}, None)
    # THEN the defaults: 5 errors and 20 % in 10 s, a 5-minute cool-down
    assert settings.as_api() == {"enabled": True, **DEFAULTS}
    assert DEFAULTS == {"errorThreshold": 5, "errorRate": 0.2, "periodSeconds": 10, "cooldownSeconds": 300}


def test_given_current_settings_when_a_put_leaves_fields_out_then_they_keep_their_values():
    current = Settings(True, 9, 0.5, 30, 60)
    # WHEN turned off without thresholds
    settings = parse_request({"enabled": False}, current)
    # THEN only enabled changed
    assert settings == Settings(False, 9, 0.5, 30, 60)


def test_given_every_field_when_parsed_then_each_is_taken():
    body = {"enabled": True, "errorThreshold": 3, "errorRate": 0.05, "periodSeconds": 30, "cooldownSeconds": 0}
    assert parse_request(body, None).as_api() == body


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "enabled"),
        ({"enabled": "yes"}, "enabled"),
        ([True], "enabled"),
        ({"enabled": True, "errorThreshold": 0}, "errorThreshold"),
        ({"enabled": True, "errorThreshold": 2.5}, "errorThreshold"),
        ({"enabled": True, "errorThreshold": True}, "errorThreshold"),
        ({"enabled": True, "errorThreshold": "5"}, "errorThreshold"),
        ({"enabled": True, "errorRate": 1.5}, "errorRate"),
        ({"enabled": True, "errorRate": -0.1}, "errorRate"),
        ({"enabled": True, "errorRate": "20%"}, "errorRate"),
        ({"enabled": True, "errorRate": float("nan")}, "errorRate"),
        ({"enabled": True, "periodSeconds": 15}, "periodSeconds"),
        ({"enabled": True, "periodSeconds": 5}, "periodSeconds"),
        ({"enabled": True, "cooldownSeconds": -1}, "cooldownSeconds"),
        ({"enabled": True, "cooldownSeconds": 10**9}, "cooldownSeconds"),
        ({"enabled": True, "threshold": 5}, "threshold"),
    ],
)
def test_given_a_bad_body_when_parsed_then_invalid_input_names_the_field(body, field):
    with pytest.raises(InvalidInput) as e:
        parse_request(body, None)
    assert e.value.field == field


# ---- alarms as data ---------------------------------------------------------------------------------
def test_given_a_stage_with_an_api_and_two_functions_then_it_gets_the_fast_api_and_per_function_alarms():
    specs = alarm_specs("notes", "dev", Settings(True), "sprout", [API], FUNCTIONS)
    names = [s.name for s in specs]
    assert names == [
        "sprout-ar-notes-dev-fast",
        "sprout-ar-notes-dev-api5xx",
        "sprout-ar-notes-dev-errors-CreateNoteFunction",
        "sprout-ar-notes-dev-errors-GetNoteFunction",
    ]
    for spec in specs:
        # THEN every alarm carries the tags the rollback path resolves the stage from
        assert tags_of(spec) == {"sprout:app": "notes", "sprout:stage": "dev", "sprout:signal": spec.signal,
                                 "sprout:stack": "sprout"}
        assert spec.request["AlarmName"] == spec.name
        assert spec.request["TreatMissingData"] == "notBreaching"
        assert spec.request["EvaluationPeriods"] == spec.request["DatapointsToAlarm"] == 1


def test_given_custom_thresholds_then_the_fast_alarm_is_a_10s_metric_math_alarm_on_errors_and_rate():
    fast = alarm_specs("notes", "prod", Settings(True, 7, 0.25, 10, 300), "sprout", [API], {})[0]
    request = fast.request
    expression = next(m for m in request["Metrics"] if m.get("ReturnData"))["Expression"]
    assert expression == "IF(errors >= 7 AND errors / requests >= 0.25, 1, 0)"
    stats = {m["Id"]: m["MetricStat"] for m in request["Metrics"] if "MetricStat" in m}
    assert {k: v["Metric"]["MetricName"] for k, v in stats.items()} == {"errors": "Errors5xx", "requests": "Requests"}
    for stat in stats.values():
        assert stat["Period"] == 10 and stat["Stat"] == "Sum"
        assert stat["Metric"]["Namespace"] == "Sprout"
        assert stat["Metric"]["Dimensions"] == [{"Name": "App", "Value": "notes"}, {"Name": "Stage", "Value": "prod"}]
    assert (request["Threshold"], request["ComparisonOperator"]) == (1, "GreaterThanOrEqualToThreshold")


def test_the_slow_alarms_watch_api_5xx_per_minute_and_lambda_errors_of_the_live_alias():
    specs = {s.signal: s.request for s in alarm_specs("notes", "dev", Settings(True, 3), "s", [API], FUNCTIONS)}
    api = specs["api5xx"]
    assert (api["Namespace"], api["MetricName"], api["Period"], api["Statistic"], api["Threshold"]) == (
        "AWS/ApiGateway", "5XXError", 60, "Sum", 3)
    assert api["Dimensions"] == [{"Name": "ApiName", "Value": "notes-dev"}, {"Name": "Stage", "Value": "dev"}]
    errors = specs["errors-CreateNoteFunction"]
    assert (errors["Namespace"], errors["MetricName"], errors["Period"]) == ("AWS/Lambda", "Errors", 60)
    assert errors["Dimensions"] == [
        {"Name": "FunctionName", "Value": "notes-dev-CreateNoteFunction"},
        {"Name": "Resource", "Value": "notes-dev-CreateNoteFunction:live"},
    ]


def test_given_no_api_then_only_function_alarms_and_given_two_apis_then_one_5xx_alarm_each():
    assert [s.signal for s in alarm_specs("a", "dev", Settings(True), "s", [], FUNCTIONS)] == [
        "errors-CreateNoteFunction", "errors-GetNoteFunction"]
    two = [API, ApiRef("AdminApi", "admin", "dev")]
    assert [s.signal for s in alarm_specs("a", "dev", Settings(True), "s", two, {})] == ["fast", "api5xx", "api5xx-AdminApi"]


def test_filter_names_carry_app_and_stage_and_others_are_not_sprouts():
    assert parse_filter_name(filter_name("my-app", "prod-eu")) == ("my-app", "prod-eu")
    for other in ("sprout-ar#a", "other#a#b", "sprout-ar##b", "sprout-ar#a#b#c", ""):
        assert parse_filter_name(other) is None


# ---- the fast signal --------------------------------------------------------------------------------
def line(status: object, epoch_ms: int | None = None) -> str:
    doc = {"requestId": "r", "status": str(status)}
    if epoch_ms is not None:
        doc["requestTimeEpoch"] = str(epoch_ms)
    return json.dumps(doc)


def test_given_access_log_lines_then_requests_and_5xx_are_counted_per_second():
    t0 = 1_780_000_000_000
    events = [
        {"timestamp": t0 + 100, "message": line(200)},
        {"timestamp": t0 + 900, "message": line(502)},
        {"timestamp": t0 + 1500, "message": line(503)},
        {"timestamp": t0 + 1600, "message": line(404)},
        {"timestamp": t0 + 1700, "message": "not json"},
        {"timestamp": t0 + 1800, "message": json.dumps({"no": "status"})},
        # the request's own time wins over the time the line was written
        {"timestamp": t0 + 5000, "message": line(500, epoch_ms=t0 + 200)},
    ]
    counts = count_per_second(events)
    assert {s: (c.requests, c.errors) for s, c in counts.items()} == {t0 // 1000: (3, 2), t0 // 1000 + 1: (2, 1)}


def test_the_counts_become_high_resolution_datums_with_a_zero_for_error_free_seconds():
    counts = count_per_second([{"timestamp": 1_780_000_000_000, "message": line(200)}])
    data = metric_data("notes", "dev", counts)
    assert [(d["MetricName"], d["Value"], d["StorageResolution"], d["Unit"]) for d in data] == [
        ("Requests", 1.0, 1, "Count"), ("Errors5xx", 0.0, 1, "Count")]
    assert data[0]["Timestamp"] == datetime.fromtimestamp(1_780_000_000, UTC)
    assert data[0]["Dimensions"] == [{"Name": "App", "Value": "notes"}, {"Name": "Stage", "Value": "dev"}]


def test_the_access_log_format_sprout_sets_carries_status_and_request_time():
    # the fast signal reads the lines that Sprout's own access-log format writes
    fields = json.loads(ACCESS_LOG_FORMAT.replace('"$context.', '"x').replace("$context", "x"))
    assert "status" in fields and "requestTimeEpoch" in fields


def subscription_event(doc: dict) -> dict:
    return {"awslogs": {"data": base64.b64encode(gzip.compress(json.dumps(doc).encode())).decode()}}


def test_given_a_subscription_payload_as_aws_sends_it_then_it_decodes():
    doc = {"messageType": "DATA_MESSAGE", "owner": "123456789012", "logGroup": "API-Gateway-Access-Logs_a/dev",
           "logStream": "s", "subscriptionFilters": ["sprout-ar#notes#dev"],
           "logEvents": [{"id": "1", "timestamp": 1, "message": line(502)}]}
    assert decode(subscription_event(doc)) == doc


@pytest.mark.parametrize(
    "event",
    [
        {},
        {"awslogs": {}},
        {"awslogs": {"data": "not base64!"}},
        {"awslogs": {"data": base64.b64encode(b"not gzip").decode()}},
        {"awslogs": {"data": base64.b64encode(gzip.compress(b"not json")).decode()}},
        subscription_event({"logEvents": "nope"}),
        None,
    ],
)
def test_given_a_malformed_event_then_decoding_says_so(event):
    with pytest.raises(BadPayload):
        decode(event)


# ---- the fast-signal function, in-process on the sample event --------------------------------------
class RecordingCloudWatch:
    def __init__(self) -> None:
        self.calls: list[dict] = []

    def put_metric_data(self, **kwargs) -> None:
        self.calls.append(kwargs)


class Context:
    function_name = "sprout-FastSignalFunction"
    memory_limit_in_mb = 256
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:sprout-FastSignalFunction"
    aws_request_id = "test"


def test_given_the_sample_subscription_event_when_handled_then_per_second_requests_and_5xx_are_put(monkeypatch):
    from sprout.handlers import fast_signal

    # GIVEN the sample payload of events/ (three access-log lines of notes/prod: 200, 502, 502)
    event = json.loads((EVENTS / "logs" / "fast-signal-access-log-batch.json").read_text())
    recorder = RecordingCloudWatch()
    monkeypatch.setattr(fast_signal, "_cloudwatch", recorder)
    # WHEN the function handles it
    result = fast_signal.lambda_handler(event, Context())
    # THEN it put, in namespace Sprout, for notes/prod, 1-second datums: 2 requests/1 error, 1/1
    assert result == {"published": 4, "app": "notes", "stage": "prod"}
    [call] = recorder.calls
    assert call["Namespace"] == "Sprout"
    got = [(d["Timestamp"].timestamp(), d["MetricName"], d["Value"]) for d in call["MetricData"]]
    assert got == [(1796207489, "Requests", 2.0), (1796207489, "Errors5xx", 1.0),
                   (1796207490, "Requests", 1.0), (1796207490, "Errors5xx", 1.0)]


def test_given_a_malformed_or_foreign_event_when_handled_then_nothing_is_put_and_the_reason_is_returned(monkeypatch):
    from sprout.handlers import fast_signal

    recorder = RecordingCloudWatch()
    monkeypatch.setattr(fast_signal, "_cloudwatch", recorder)
    foreign = subscription_event({"messageType": "DATA_MESSAGE", "subscriptionFilters": ["someone-else"], "logEvents": []})
    control = subscription_event({"messageType": "CONTROL_MESSAGE", "logEvents": []})
    for event in ({"not": "logs"}, foreign, control):
        assert fast_signal.lambda_handler(event, Context())["published"] == 0
    assert recorder.calls == []


# ---- which alarms the rollback path trusts -----------------------------------------------------------
ARN = "arn:aws:cloudwatch:us-east-1:123456789012:alarm:sprout-ar-notes-prod-fast"


def described(**changes) -> dict:
    """An alarm as DescribeAlarms shows it (the fast alarm Sprout put for notes/prod), changed."""
    request = alarm_specs("notes", "prod", Settings(enabled=True), "sprout", [API], {})[0].request
    shown = {k: v for k, v in request.items() if k != "Tags"}
    return {**shown, "AlarmArn": ARN, "StateValue": "ALARM", "StateReason": "Threshold Crossed",
            "StateUpdatedTimestamp": "2026-12-02T12:00:00Z", **changes}


def recorded() -> WatchedAlarm:
    return WatchedAlarm("sprout-ar-notes-prod-fast", "notes", "prod", "fast", ARN, definition_digest(described()))


def test_given_a_recorded_alarm_in_alarm_now_with_the_definition_sprout_put_then_it_is_trusted():
    assert untrusted_reason("sprout-ar-notes-prod-fast", ARN, recorded(), described()) is None
    # its state, reason, timestamps and tags are not its definition
    assert untrusted_reason("sprout-ar-notes-prod-fast", ARN, recorded(),
                            described(StateReason="other", StateUpdatedTimestamp="2026-12-02T12:01:00Z",
                                      Tags=[{"Key": "sprout:app", "Value": "victim"}])) is None


@pytest.mark.parametrize(
    ("record", "event_arn", "now", "reason"),
    [
        # named and tagged like Sprout's, but never recorded: a forgery
        (None, ARN, described(), "not an alarm Sprout created and recorded"),
        # the event names another alarm ARN than the recorded one
        ("recorded", ARN.replace("123456789012", "999999999999"), described(), "ARN is not the one Sprout recorded"),
        # gone, or replaced by another one under the same name
        ("recorded", ARN, None, "is gone"),
        ("recorded", ARN, described(AlarmArn=ARN + "x"), "another ARN"),
        # overwritten: missing data as breaching, or another metric
        ("recorded", ARN, described(TreatMissingData="breaching"), "changed after Sprout put it"),
        ("recorded", ARN, described(Threshold=0), "changed after Sprout put it"),
        # an event claiming ALARM for an alarm that is not in ALARM now
        ("recorded", ARN, described(StateValue="OK"), "not in ALARM now (OK)"),
    ],
)
def test_given_an_alarm_sprout_cannot_vouch_for_then_the_reason_is_named(record, event_arn, now, reason):
    found = untrusted_reason("sprout-ar-notes-prod-fast", event_arn, recorded() if record else None, now)
    assert found is not None and reason in found
