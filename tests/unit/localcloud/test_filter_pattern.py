"""CloudWatch Logs filter patterns as AWS documents them (FilterAndPatternSyntax), compiled by the
local cloud: terms, phrases, ?/- terms, regex, and JSON patterns."""

from __future__ import annotations

import json

import pytest

from localcloud.monitoring.filter_pattern import InvalidPattern, compile_pattern

ACCESS = json.dumps({"requestId": "r1", "status": "502", "latency": 35, "ok": False, "user": None, "tags": ["a", "b"], "ctx": {"stage": "prod"}})
OTHER = json.dumps({"requestId": "r2", "status": "200", "latency": 600, "ok": True, "tags": []})
TRACE = "[ERROR] NameError: name 'gibberish' is not defined\nTraceback (most recent call last):"
START = "START RequestId: 6f3c Version: 3"
TIMEOUT = "2026-12-02T10:00:00Z 6f3c Task timed out after 3.00 seconds"


@pytest.mark.parametrize(
    "pattern, matched",
    [
        ("", {ACCESS, OTHER, TRACE, START, TIMEOUT}),
        ("ERROR", {TRACE}),
        ("ERROR gibberish", {TRACE}),
        ("ERROR nothing", set()),
        ('"Task timed out"', {TIMEOUT}),
        ('?ERROR ?"Task timed out"', {TRACE, TIMEOUT}),
        ("RequestId -START", set()),
        ("6f3c -START", {TIMEOUT}),
        ("%ERR[O]R%", {TRACE}),
        ("{ $.status = 5* }", {ACCESS}),
        ('{ $.status = "200" }', {OTHER}),
        ("{ $.status != 5* }", {OTHER}),
        ("{ $.latency >= 500 }", {OTHER}),
        ("{ $.latency < 500 }", {ACCESS}),
        ("{ $.latency = 35 }", {ACCESS}),
        ("{ $.status = 5* || $.latency > 100 }", {ACCESS, OTHER}),
        ("{ $.status = 5* && $.latency > 100 }", set()),
        ("{ ($.status = 2* || $.status = 5*) && $.latency > 100 }", {OTHER}),
        ("{ $.ok IS TRUE }", {OTHER}),
        ("{ $.ok IS FALSE }", {ACCESS}),
        ("{ $.user IS NULL }", {ACCESS}),
        ("{ $.user NOT EXISTS }", {OTHER}),
        ('{ $.tags[1] = "b" }', {ACCESS}),
        ('{ $.ctx.stage = "prod" }', {ACCESS}),
        ("{ $.nothing = * }", set()),
    ],
)
def test_given_events_when_a_pattern_is_applied_then_exactly_the_documented_ones_match(pattern, matched):
    # GIVEN access-log lines (JSON) and Lambda log lines (text)
    events = {ACCESS, OTHER, TRACE, START, TIMEOUT}
    # WHEN the pattern is compiled and applied
    matches = compile_pattern(pattern)
    # THEN the events AWS's syntax selects match, and no other
    assert {e for e in events if matches(e)} == matched


@pytest.mark.parametrize(
    "pattern",
    ["{ $.status = }", "{ $.latency > abc }", "{ $.a = 1 ", "[ip, user, status]", "{ ($.a = 1 }", "{ $.a IS MAYBE }"],
)
def test_given_a_malformed_or_unsupported_pattern_when_compiled_then_it_is_refused_not_ignored(pattern):
    # GIVEN a pattern AWS would refuse, or one localcloud cannot honour
    # WHEN it is compiled THEN it fails loudly instead of matching everything
    with pytest.raises(InvalidPattern):
        compile_pattern(pattern)
