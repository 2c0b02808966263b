"""Step Functions on the local cloud: moto's ASL interpreter runs the flow, the Lambda runner runs the
task code. Retry, Catch (with ResultPath), Choice, Map and Parallel reach the exact output AWS would
give; failures end FAILED with the error name and cause; the history shows the states visited."""

from __future__ import annotations

import json
import re
import time

import pytest

from tests.integration.localcloud.lambda_helpers import create_python_function, service_role

ROLE = "arn:aws:iam::123456789012:role/sfn-exec"

DOUBLE = """
def handler(event, context):
    return {"value": event["value"] * 2}
"""

# Fails with TransientError on its first two calls for a key, then succeeds (counted in a file).
FLAKY = """
import os

class TransientError(Exception):
    pass

def handler(event, context):
    path = os.path.join(event["counter_dir"], "flaky-" + event["key"])
    calls = (int(open(path).read()) if os.path.exists(path) else 0) + 1
    with open(path, "w") as f:
        f.write(str(calls))
    if calls <= event.get("fail_times", 2):
        raise TransientError("call %d failed" % calls)
    return {"attempt": calls}
"""

BOOM = """
def handler(event, context):
    raise ValueError("no good: " + str(event.get("why", "")))
"""

SQUARE = """
def handler(event, context):
    return event * event
"""


@pytest.fixture(scope="module")
def fns(cloud):
    """The test functions, created once: name -> ARN."""
    suffix = str(time.monotonic_ns())[-8:]
    service_role(  # ROLE: the machines' role, which may invoke the test functions
        cloud,
        "sfn-exec",
        "states.amazonaws.com",
        [{"Effect": "Allow", "Action": "lambda:InvokeFunction", "Resource": "arn:aws:lambda:us-east-1:123456789012:function:sfn-*"}],
    )
    return {
        name: create_python_function(cloud, f"sfn-{name}-{suffix}", code, role_name=f"sfn-fn-{suffix}")
        for name, code in (("double", DOUBLE), ("flaky", FLAKY), ("boom", BOOM), ("square", SQUARE))
    }


def create_machine(cloud, name: str, definition: dict) -> str:
    return cloud.client("stepfunctions").create_state_machine(
        name=name, roleArn=ROLE, definition=json.dumps(definition)
    )["stateMachineArn"]


def run(cloud, machine_arn: str, execution_input: dict, timeout: float = 60) -> dict:
    """Start an execution and wait for it to end; returns describe_execution."""
    sfn = cloud.client("stepfunctions")
    arn = sfn.start_execution(stateMachineArn=machine_arn, input=json.dumps(execution_input))["executionArn"]
    deadline = time.monotonic() + timeout
    while True:
        described = sfn.describe_execution(executionArn=arn)
        if described["status"] != "RUNNING" or time.monotonic() > deadline:
            return described
        time.sleep(0.05)


def history(cloud, execution_arn: str) -> list[dict]:
    sfn = cloud.client("stepfunctions")
    events, token = [], None
    while True:
        page = sfn.get_execution_history(
            executionArn=execution_arn, maxResults=1000, **({"nextToken": token} if token else {})
        )
        events += page["events"]
        token = page.get("nextToken")
        if not token:
            return events


def states_entered(events: list[dict]) -> list[str]:
    return [e["stateEnteredEventDetails"]["name"] for e in events if "stateEnteredEventDetails" in e]


def lambda_invoke(function_arn: str, payload: object, **extra: object) -> dict:
    """A Task on the optimized Lambda integration."""
    key = "Payload.$" if isinstance(payload, str) and payload.startswith("$") else "Payload"
    return {
        "Type": "Task",
        "Resource": "arn:aws:states:::lambda:invoke",
        "Parameters": {"FunctionName": function_arn, key: payload},
        **extra,
    }


def full_flow(fns: dict) -> dict:
    return {
        "Comment": "Retry, Catch, Choice, Map and Parallel over Lambda tasks",
        "StartAt": "Double",
        "States": {
            # optimized integration: the result is the wrapped Invoke response, Payload inside
            "Double": lambda_invoke(
                fns["double"],
                {"value.$": "$.value"},
                ResultSelector={"value.$": "$.Payload.value", "status.$": "$.StatusCode"},
                ResultPath="$.doubled",
                Next="Flaky",
            ),
            # bare function ARN: the result is the function's return value itself
            "Flaky": {
                "Type": "Task",
                "Resource": fns["flaky"],
                "Parameters": {"counter_dir.$": "$.counter_dir", "key.$": "$.key"},
                "Retry": [
                    {
                        "ErrorEquals": ["TransientError"],
                        "IntervalSeconds": 1,
                        "MaxAttempts": 3,
                        "BackoffRate": 1,
                    }
                ],
                "ResultPath": "$.flaky",
                "Next": "Risky",
            },
            "Risky": {
                "Type": "Task",
                "Resource": fns["boom"],
                "Parameters": {"why": "risky"},
                "Catch": [{"ErrorEquals": ["ValueError"], "ResultPath": "$.caught", "Next": "Fallback"}],
                "Next": "Unreachable",
            },
            "Unreachable": {"Type": "Fail", "Error": "Unreachable", "Cause": "Risky never succeeds"},
            "Fallback": {
                "Type": "Pass",
                "InputPath": "$.caught.Error",
                "ResultPath": "$.caught",
                "Next": "Size",
            },
            "Size": {
                "Type": "Choice",
                "Choices": [
                    {"Variable": "$.doubled.value", "NumericGreaterThan": 100, "Next": "Huge"},
                    {
                        "And": [
                            {"Variable": "$.doubled.value", "NumericGreaterThan": 10},
                            {"Variable": "$.caught", "StringEquals": "ValueError"},
                        ],
                        "Next": "Big",
                    },
                ],
                "Default": "Small",
            },
            "Huge": {"Type": "Pass", "Result": "huge", "ResultPath": "$.size", "Next": "Fan"},
            "Big": {"Type": "Pass", "Result": "big", "ResultPath": "$.size", "Next": "Fan"},
            "Small": {"Type": "Pass", "Result": "small", "ResultPath": "$.size", "Next": "Fan"},
            "Fan": {
                "Type": "Parallel",
                "ResultPath": "$.fan",
                "Next": "Summary",
                "Branches": [
                    {
                        "StartAt": "Squares",
                        "States": {
                            "Squares": {
                                "Type": "Map",
                                "ItemsPath": "$.items",
                                "MaxConcurrency": 2,
                                "ItemProcessor": {
                                    "ProcessorConfig": {"Mode": "INLINE"},
                                    "StartAt": "Square",
                                    "States": {
                                        "Square": lambda_invoke(
                                            fns["square"], "$", OutputPath="$.Payload", End=True
                                        )
                                    },
                                },
                                "End": True,
                            }
                        },
                    },
                    {
                        "StartAt": "Constant",
                        "States": {"Constant": {"Type": "Pass", "Result": {"branch": 2}, "End": True}},
                    },
                ],
            },
            "Summary": {
                "Type": "Pass",
                "Parameters": {
                    "doubled.$": "$.doubled",
                    "attempts.$": "$.flaky.attempt",
                    "caught.$": "$.caught",
                    "size.$": "$.size",
                    "squares.$": "$.fan[0]",
                    "branch.$": "$.fan[1].branch",
                },
                "End": True,
            },
        },
    }


def test_given_a_flow_of_lambda_tasks_when_executed_then_it_succeeds_with_the_exact_output_and_history(
    cloud, fns, uid, tmp_path
):
    machine = create_machine(cloud, f"flow-{uid}", full_flow(fns))

    result = run(cloud, machine, {"value": 7, "items": [1, 2, 3], "counter_dir": str(tmp_path), "key": uid})

    assert result["status"] == "SUCCEEDED", result
    assert json.loads(result["output"]) == {
        "doubled": {"value": 14, "status": 200},
        "attempts": 3,
        "caught": "ValueError",
        "size": "big",
        "squares": [1, 4, 9],
        "branch": 2,
    }
    events = history(cloud, result["executionArn"])
    visited = states_entered(events)
    main_path = [s for s in visited if s not in ("Squares", "Square", "Constant")]
    assert main_path == ["Double", "Flaky", "Risky", "Fallback", "Size", "Big", "Fan", "Summary"]
    assert visited.count("Square") == 3 and visited.count("Constant") == 1
    # Flaky failed twice (retried on TransientError), then succeeded
    flaky_failures = [
        e
        for e in events
        if e["type"] == "LambdaFunctionFailed" and "TransientError" in json.dumps(e, default=str)
    ]
    assert len(flaky_failures) == 2
    # the caught error carried the function's error name and message
    caught = next(
        e
        for e in events
        if e["type"] == "LambdaFunctionFailed" and "ValueError" in json.dumps(e, default=str)
    )
    details = caught["lambdaFunctionFailedEventDetails"]
    assert details["error"] == "ValueError"
    assert json.loads(details["cause"])["errorMessage"] == "no good: risky"
    assert events[-1]["type"] == "ExecutionSucceeded"


def test_given_a_choice_when_the_value_is_small_then_the_default_branch_is_taken(cloud, fns, uid, tmp_path):
    machine = create_machine(cloud, f"small-{uid}", full_flow(fns))

    result = run(cloud, machine, {"value": 2, "items": [], "counter_dir": str(tmp_path), "key": uid})

    assert result["status"] == "SUCCEEDED", result
    output = json.loads(result["output"])
    assert output["size"] == "small" and output["doubled"]["value"] == 4 and output["squares"] == []
    assert "Small" in states_entered(history(cloud, result["executionArn"]))


def test_given_a_task_whose_function_raises_without_catch_when_executed_then_it_fails_with_the_error_name_and_cause(
    cloud, fns, uid
):
    machine = create_machine(
        cloud,
        f"fails-{uid}",
        {"StartAt": "Boom", "States": {"Boom": lambda_invoke(fns["boom"], {"why.$": "$.why"}, End=True)}},
    )

    result = run(cloud, machine, {"why": "bad input"})

    assert result["status"] == "FAILED", result
    assert result["error"] == "ValueError"
    cause = json.loads(result["cause"])
    assert cause["errorType"] == "ValueError" and cause["errorMessage"] == "no good: bad input"
    events = history(cloud, result["executionArn"])
    assert [e["type"] for e in events if e["type"] in ("TaskFailed", "ExecutionFailed")] == [
        "TaskFailed",
        "ExecutionFailed",
    ]


def test_given_retries_that_run_out_when_executed_then_it_fails_with_the_retried_error(
    cloud, fns, uid, tmp_path
):
    machine = create_machine(
        cloud,
        f"retries-out-{uid}",
        {
            "StartAt": "Flaky",
            "States": {
                "Flaky": {
                    "Type": "Task",
                    "Resource": fns["flaky"],
                    "Retry": [{"ErrorEquals": ["TransientError"], "IntervalSeconds": 1, "MaxAttempts": 1}],
                    "End": True,
                }
            },
        },
    )

    result = run(cloud, machine, {"counter_dir": str(tmp_path), "key": f"out-{uid}", "fail_times": 5})

    assert result["status"] == "FAILED", result
    assert result["error"] == "TransientError"
    assert json.loads(result["cause"])["errorMessage"] == "call 2 failed"
    failures = [e for e in history(cloud, result["executionArn"]) if e["type"] == "LambdaFunctionFailed"]
    assert len(failures) == 2  # the first call and one retry


def test_given_a_fail_state_when_reached_then_the_execution_fails_with_its_error_and_cause(cloud, uid):
    machine = create_machine(
        cloud,
        f"fail-state-{uid}",
        {
            "StartAt": "Check",
            "States": {
                "Check": {
                    "Type": "Choice",
                    "Choices": [{"Variable": "$.n", "NumericLessThan": 10, "Next": "TooSmall"}],
                    "Default": "Fine",
                },
                "TooSmall": {"Type": "Fail", "Error": "TooSmall", "Cause": "n must be at least 10"},
                "Fine": {"Type": "Succeed"},
            },
        },
    )

    result = run(cloud, machine, {"n": 3})

    assert result["status"] == "FAILED", result
    assert (result["error"], result["cause"]) == ("TooSmall", "n must be at least 10")
    assert states_entered(history(cloud, result["executionArn"])) == ["Check", "TooSmall"]


def test_given_a_machine_when_started_twice_without_a_name_then_each_execution_gets_its_own_uuid_name(
    cloud, uid
):
    machine = create_machine(
        cloud, f"unnamed-{uid}", {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}}
    )
    sfn = cloud.client("stepfunctions")

    first = sfn.start_execution(stateMachineArn=machine)["executionArn"]
    second = sfn.start_execution(stateMachineArn=machine)["executionArn"]

    names = [arn.rsplit(":", 1)[1] for arn in (first, second)]
    assert names[0] != names[1]
    assert all(
        re.fullmatch(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", n) for n in names
    )


def test_given_executions_starting_while_listed_then_list_executions_shows_them_running_never_failing(cloud):
    import threading

    # GIVEN a machine whose executions are started from three threads
    arn = create_machine(cloud, f"listed-{int(time.time() * 1000)}", {
        "StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 1, "Next": "P"}, "P": {"Type": "Pass", "End": True}}})
    sfn = cloud.client("stepfunctions")
    done = threading.Event()

    def start_many():
        while not done.is_set():
            sfn.start_execution(stateMachineArn=arn, input="{}")

    starters = [threading.Thread(target=start_many) for _ in range(3)]
    for t in starters:
        t.start()
    try:
        # WHEN they are listed meanwhile, THEN every listing answers, with AWS's statuses only
        for _ in range(40):
            statuses = {e["status"] for e in sfn.list_executions(stateMachineArn=arn)["executions"]}
            assert statuses <= {"RUNNING", "SUCCEEDED"}
    finally:
        done.set()
        for t in starters:
            t.join()


@pytest.mark.parametrize("enclosing", ["Map", "Parallel"])
def test_given_a_states_error_inside_a_map_item_or_branch_then_the_enclosing_state_catches_it_by_name(
    cloud, uid, enclosing
):
    # GIVEN a Map item (or a Parallel branch) whose state fails with States.Runtime (a path that is not there)
    inner = {"StartAt": "Broken", "States": {"Broken": {"Type": "Pass", "Parameters": {"x.$": "$.missing"}, "End": True}}}
    state = {"Type": enclosing, "Catch": [{"ErrorEquals": ["States.Runtime"], "ResultPath": "$.error", "Next": "Caught"}],
             "Next": "Done"}
    if enclosing == "Map":
        state.update(ItemsPath="$.items", ItemProcessor={"ProcessorConfig": {"Mode": "INLINE"}, **inner})
    else:
        state["Branches"] = [inner]
    machine = create_machine(cloud, f"states-error-{enclosing.lower()}-{uid}", {
        "StartAt": "Enclosing",
        "States": {"Enclosing": state, "Caught": {"Type": "Pass", "End": True}, "Done": {"Type": "Succeed"}},
    })
    # WHEN executed
    result = run(cloud, machine, {"items": [{"n": 1}]})
    # THEN the Catch got the States.Runtime error with its own cause (not moto's refusal to name it)
    assert result["status"] == "SUCCEEDED", result
    error = json.loads(result["output"])["error"]
    assert error["Error"] == "States.Runtime"
    assert "missing" in error["Cause"] and "Custom Error Names" not in error["Cause"], error
