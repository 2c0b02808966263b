"""Nested executions on the local cloud, as on AWS: a parent started from a stack waits for its child
(``startExecution.sync:2`` gives the child's output as JSON, ``.sync`` as text), a failed child fails
the parent's task with ``States.TaskFailed`` (catchable), stopping the parent stops the child, and
IAM (enforced in the session cloud) holds the parent's role to what AWS documents."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from botocore.exceptions import ClientError

from tests.integration.localcloud.lambda_helpers import service_role

TEMPLATE = Path(__file__).parent / "templates" / "nested_executions" / "template.yaml"
FAST = {"Delay": 0.2, "MaxAttempts": 300}


@pytest.fixture(scope="module")
def stack(cloud) -> dict[str, str]:
    cf = cloud.client("cloudformation")
    name = f"nested-{str(time.monotonic_ns())[-8:]}"
    cf.create_stack(StackName=name, TemplateURL=TEMPLATE.as_uri(), Capabilities=["CAPABILITY_IAM"])
    cf.get_waiter("stack_create_complete").wait(StackName=name, WaiterConfig=FAST)
    return {o["OutputKey"]: o["OutputValue"] for o in cf.describe_stacks(StackName=name)["Stacks"][0]["Outputs"]}


def wait_done(cloud, execution_arn: str, timeout: float = 60) -> dict:
    sfn = cloud.client("stepfunctions")
    deadline = time.monotonic() + timeout
    while (described := sfn.describe_execution(executionArn=execution_arn))["status"] == "RUNNING":
        assert time.monotonic() < deadline, f"{execution_arn} still RUNNING"
        time.sleep(0.1)
    return described


def run(cloud, machine: str, execution_input: dict) -> dict:
    arn = cloud.client("stepfunctions").start_execution(stateMachineArn=machine, input=json.dumps(execution_input))[
        "executionArn"
    ]
    return wait_done(cloud, arn)


def children(cloud, child_machine: str) -> list[dict]:
    return cloud.client("stepfunctions").list_executions(stateMachineArn=child_machine)["executions"]


def test_given_a_sync2_task_when_the_child_succeeds_then_the_parent_gets_its_output_as_json(cloud, stack):
    # WHEN the parent runs
    described = run(cloud, stack["ParentArn"], {"value": 7})

    # THEN it waited for the child and got the child's output parsed
    assert described["status"] == "SUCCEEDED", described
    output = json.loads(described["output"])
    assert output["status"] == "SUCCEEDED"
    assert output["output"] == {"echo": 7}
    child = cloud.client("stepfunctions").describe_execution(executionArn=output["child"])
    assert child["status"] == "SUCCEEDED" and child["stateMachineArn"] == stack["ChildArn"]


def test_given_a_sync_task_when_the_child_succeeds_then_the_parent_gets_its_output_as_text(cloud, stack):
    described = run(cloud, stack["ParentArn"], {"mode": "v1", "value": "x"})

    assert described["status"] == "SUCCEEDED", described
    output = json.loads(described["output"])
    assert isinstance(output["output"], str) and json.loads(output["output"]) == {"echo": "x"}


def test_given_a_sync2_task_when_the_child_fails_then_the_parent_catches_states_task_failed(cloud, stack):
    # WHEN the child fails
    described = run(cloud, stack["ParentArn"], {"fail": True})

    # THEN the parent's task failed with States.TaskFailed, caught; the cause is the child's description
    assert described["status"] == "SUCCEEDED", described
    failure = json.loads(described["output"])["failure"]
    assert failure["Error"] == "States.TaskFailed"
    cause = json.loads(failure["Cause"])
    assert cause["Status"] == "FAILED" and cause["Error"] == "ChildBroke"
    assert cause["StateMachineArn"] == stack["ChildArn"]


def test_given_a_running_parent_when_it_is_stopped_then_its_sync_child_is_stopped_too(cloud, stack):
    sfn = cloud.client("stepfunctions")
    before = {e["executionArn"] for e in children(cloud, stack["ChildArn"])}
    # GIVEN a parent waiting on a child that waits 60 s
    parent = sfn.start_execution(stateMachineArn=stack["ParentArn"], input=json.dumps({"wait": True}))["executionArn"]
    deadline = time.monotonic() + 30
    while not (started := [e for e in children(cloud, stack["ChildArn"]) if e["executionArn"] not in before]):
        assert time.monotonic() < deadline, "the child never started"
        time.sleep(0.1)
    [child] = started

    # WHEN the parent is stopped
    sfn.stop_execution(executionArn=parent)

    # THEN the parent is ABORTED and so, within seconds, is the child
    assert wait_done(cloud, parent, timeout=15)["status"] == "ABORTED"
    assert wait_done(cloud, child["executionArn"], timeout=15)["status"] == "ABORTED"


def test_given_a_role_without_the_managed_rule_permissions_when_a_sync_machine_is_created_then_access_denied(
    cloud, stack, uid
):
    # GIVEN a role that may start and follow the child, but not manage the EventBridge managed rule
    role = service_role(
        cloud, f"nested-no-events-{uid}", "states.amazonaws.com",
        [{"Effect": "Allow", "Action": ["states:StartExecution", "states:DescribeExecution", "states:StopExecution"], "Resource": "*"}],
    )
    definition = {
        "StartAt": "Run",
        "States": {
            "Run": {
                "Type": "Task",
                "Resource": "arn:aws:states:::states:startExecution.sync:2",
                "Parameters": {"StateMachineArn": stack["ChildArn"]},
                "End": True,
            }
        },
    }
    sfn = cloud.client("stepfunctions")

    # WHEN a machine with a .sync:2 task is created with it THEN AWS's refusal
    with pytest.raises(ClientError) as refused:
        sfn.create_state_machine(name=f"no-events-{uid}", roleArn=role, definition=json.dumps(definition))
    assert refused.value.response["Error"]["Code"] == "AccessDeniedException"
    assert refused.value.response["Error"]["Message"] == f"'{role}' is not authorized to create managed-rule."

    # AND the same role may create a machine that starts the child without waiting for it
    definition["States"]["Run"]["Resource"] = "arn:aws:states:::states:startExecution"
    assert sfn.create_state_machine(name=f"fire-{uid}", roleArn=role, definition=json.dumps(definition))["stateMachineArn"]


def test_given_a_role_that_may_not_start_the_child_when_the_parent_runs_then_its_task_fails_access_denied(cloud, stack, uid):
    # GIVEN a parent whose role has the managed-rule permissions but no states:StartExecution
    role = service_role(
        cloud, f"nested-no-start-{uid}", "states.amazonaws.com",
        [
            {
                "Effect": "Allow",
                "Action": ["events:PutTargets", "events:PutRule", "events:DescribeRule"],
                "Resource": "arn:aws:events:us-east-1:123456789012:rule/StepFunctionsGetEventsForStepFunctionsExecutionRule",
            }
        ],
    )
    definition = {
        "StartAt": "Run",
        "States": {
            "Run": {
                "Type": "Task",
                "Resource": "arn:aws:states:::states:startExecution.sync:2",
                "Parameters": {"StateMachineArn": stack["ChildArn"]},
                "End": True,
            }
        },
    }
    machine = cloud.client("stepfunctions").create_state_machine(
        name=f"no-start-{uid}", roleArn=role, definition=json.dumps(definition)
    )["stateMachineArn"]

    # WHEN it runs THEN it fails on the StartExecution refusal, naming the action and the child
    described = run(cloud, machine, {})
    assert described["status"] == "FAILED"
    assert described["error"] == "StepFunctions.AccessDeniedException"
    assert "states:StartExecution" in described["cause"] and stack["ChildArn"] in described["cause"]
