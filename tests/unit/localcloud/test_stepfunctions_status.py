"""The status change event detail built from a DescribeExecution answer; readable log lines;
which definitions start nested .sync executions."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime

from localcloud import logs
from localcloud.stepfunctions import nested, status_events

ARN = "arn:aws:states:us-east-1:123456789012:execution:m:run-1"
MACHINE = "arn:aws:states:us-east-1:123456789012:stateMachine:m"


def described(**extra):
    return {
        "executionArn": ARN,
        "stateMachineArn": MACHINE,
        "name": "run-1",
        "status": "SUCCEEDED",
        "startDate": datetime(2026, 1, 2, 3, 4, 5, 678000, tzinfo=UTC),
        "stopDate": datetime(2026, 1, 2, 3, 4, 6, tzinfo=UTC),
        "input": '{"a":1}',
        "output": '{"b":2}',
        **extra,
    }


def test_given_a_succeeded_execution_then_the_detail_has_its_output_and_epoch_ms_dates():
    detail = status_events.detail(described())
    assert detail == {
        "executionArn": ARN,
        "stateMachineArn": MACHINE,
        "name": "run-1",
        "status": "SUCCEEDED",
        "startDate": 1767323045678,
        "stopDate": 1767323046000,
        "input": '{"a":1}',
        "output": '{"b":2}',
        "inputDetails": {"included": True},
        "outputDetails": {"included": True},
        "error": None,
        "cause": None,
    }


def test_given_a_running_execution_then_stop_date_output_and_error_are_null():
    detail = status_events.detail(described(status=None, stopDate=None, output=None), status="RUNNING")
    assert detail["status"] == "RUNNING"
    assert detail["stopDate"] is None and detail["output"] is None and detail["outputDetails"] is None


def test_given_a_failed_execution_then_error_and_cause_are_set_and_no_output():
    detail = status_events.detail(described(status="FAILED", output=None, error="States.TaskFailed", cause="boom"))
    assert (detail["error"], detail["cause"], detail["output"], detail["outputDetails"]) == ("States.TaskFailed", "boom", None, None)


def test_given_input_and_output_over_248kb_then_the_input_is_left_out_and_said_so():
    big = json.dumps({"x": "y" * (200 * 1024)})
    detail = status_events.detail(described(input=big, output=big))
    assert detail["input"] is None and detail["inputDetails"] == {"included": False}
    assert detail["output"] == big and detail["outputDetails"] == {"included": True}


def test_given_an_output_alone_over_248kb_then_both_are_left_out():
    huge = json.dumps({"x": "y" * (250 * 1024)})
    detail = status_events.detail(described(output=huge))
    assert (detail["input"], detail["output"]) == (None, None)
    assert detail["inputDetails"] == {"included": False} and detail["outputDetails"] == {"included": False}


def test_given_a_detail_then_the_entry_goes_to_the_default_bus_with_the_execution_as_resource():
    entry = status_events.entry(status_events.detail(described()))
    assert entry["Source"] == "aws.states"
    assert entry["DetailType"] == "Step Functions Execution Status Change"
    assert entry["Resources"] == [ARN] and entry["EventBusName"] == "default"
    assert json.loads(entry["Detail"])["status"] == "SUCCEEDED"


def test_given_a_long_multiline_message_when_formatted_then_one_line_cut_with_the_count_left():
    record = logging.LogRecord("moto", logging.ERROR, __file__, 1, "payload=%s", ("a\nb" + "z" * 2000,), None)
    line = logs.ReadableFormatter(limit=100).format(record)
    assert "\n" not in line
    assert line.endswith(f"… ({len('payload=a ⏎ b') + 2000 - 100} more chars)")
    assert "a ⏎ bzzz" in line


def test_given_a_short_message_when_formatted_then_it_is_unchanged():
    record = logging.LogRecord("x", logging.WARNING, __file__, 1, "all good", (), None)
    assert logs.ReadableFormatter().format(record).endswith("x WARNING all good")


def test_given_definitions_then_only_sync_start_execution_tasks_need_the_managed_rule():
    def task(resource):
        return {"Type": "Task", "Resource": resource, "End": True}

    sync2 = {"StartAt": "A", "States": {"A": task("arn:aws:states:::states:startExecution.sync:2")}}
    nested_in_parallel = {
        "StartAt": "P",
        "States": {"P": {"Type": "Parallel", "End": True, "Branches": [{"StartAt": "B", "States": {"B": task("arn:aws:states:::states:startExecution.sync")}}]}},
    }
    fire_and_forget = {"StartAt": "A", "States": {"A": task("arn:aws:states:::states:startExecution")}}
    assert nested.starts_sync_executions(json.dumps(sync2))
    assert nested.starts_sync_executions(json.dumps(nested_in_parallel))
    assert not nested.starts_sync_executions(json.dumps(fire_and_forget))
    assert not nested.starts_sync_executions("not json")


def test_given_a_describe_execution_answer_then_the_task_result_is_pascal_case_with_the_payloads_untouched():
    answer = {
        "executionArn": ARN,
        "status": "SUCCEEDED",
        "startDate": datetime(2026, 1, 2, 3, 4, 5, 678000, tzinfo=UTC),
        "input": {"value": 3, "nestedKey": {"a": 1}},
        "output": {"echo": 3},
        "outputDetails": {"included": True},
    }
    assert nested.pascal(answer) == {
        "ExecutionArn": ARN,
        "Status": "SUCCEEDED",
        "StartDate": 1767323045678,
        "Input": {"value": 3, "nestedKey": {"a": 1}},
        "Output": {"echo": 3},
        "OutputDetails": {"Included": True},
    }
