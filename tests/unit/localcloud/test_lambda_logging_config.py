"""A function's LoggingConfig as Lambda answers and applies it (localcloud.lambda_runner.logging_config)."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from localcloud.lambda_runner.logging_config import effective, log_group, log_stream, problem

NOW = datetime(2026, 12, 8, tzinfo=UTC)


def test_given_no_or_partial_logging_config_then_lambdas_defaults_are_answered():
    """GIVEN nothing, a LogGroup, and JSON without levels THEN Text and /aws/lambda/<name>, the group kept, INFO levels"""
    assert effective("f", None) == {"LogFormat": "Text", "LogGroup": "/aws/lambda/f"}
    assert effective("f", {"LogGroup": "/aws/lambda/a-b/F"}) == {"LogFormat": "Text", "LogGroup": "/aws/lambda/a-b/F"}
    assert effective("f", {"LogFormat": "JSON", "ApplicationLogLevel": "WARN"}) == {
        "LogFormat": "JSON", "ApplicationLogLevel": "WARN", "SystemLogLevel": "INFO", "LogGroup": "/aws/lambda/f"}


def test_given_values_lambda_refuses_then_the_problem_names_the_field():
    """GIVEN a bad format, level and group name THEN each is named as Lambda's validation names it"""
    assert problem({"LogGroup": "/aws/lambda/a-b/F", "LogFormat": "JSON"}) is None
    assert "loggingConfig.logFormat" in str(problem({"LogFormat": "XML"}))
    assert "loggingConfig.systemLogLevel" in str(problem({"SystemLogLevel": "TRACE"}))
    assert "loggingConfig.logGroup" in str(problem({"LogGroup": "has space"}))
    assert "loggingConfig.logGroup" in str(problem({"LogGroup": "x" * 513}))
    assert problem("JSON") == "LoggingConfig must be an object"


def test_given_a_custom_group_then_streams_name_the_function_and_the_default_group_does_not():
    """GIVEN a version's configuration with and without LoggingConfig.LogGroup
    THEN its group is that one or /aws/lambda/<name>, its streams <date>/<name>[<v>]<id> or <date>/[<v>]<id>"""
    custom = {"LoggingConfig": {"LogFormat": "Text", "LogGroup": "/aws/lambda/a-b/F"}}
    assert log_group(custom, "a-b-F-X") == "/aws/lambda/a-b/F"
    assert log_group({}, "a-b-F-X") == "/aws/lambda/a-b-F-X"
    assert re.fullmatch(r"2026/12/08/a-b-F-X\[3\][0-9a-f]{32}", log_stream(custom, "a-b-F-X", "3", NOW))
    assert re.fullmatch(r"2026/12/08/\[\$LATEST\][0-9a-f]{32}", log_stream({}, "a-b-F-X", "$LATEST", NOW))
