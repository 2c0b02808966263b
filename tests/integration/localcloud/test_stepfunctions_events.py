"""Step Functions Execution Status Change events on the local cloud, as AWS sends them: every
execution of a STANDARD machine puts RUNNING and then how it ended (SUCCEEDED, FAILED, TIMED_OUT,
ABORTED) on the default bus; rules on ``detail.status`` and ``detail.stateMachineArn`` reach a
Lambda target. IAM is enforced (the session cloud): the Lambda target needs its permission."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from tests.integration.localcloud.lambda_helpers import create_python_function, python_zip, service_role

DETAIL_TYPE = "Step Functions Execution Status Change"

# Writes each event it gets to a file of its own in RECORD_DIR.
RECORDER = """
import json, os, uuid

def handler(event, context):
    path = os.path.join(os.environ["RECORD_DIR"], uuid.uuid4().hex + ".json")
    with open(path, "w") as f:
        json.dump(event, f)
    return {"recorded": path}
"""

SLOW = """
import time

def handler(event, context):
    time.sleep(8)
    return {"slept": 8}
"""

BOOM = """
def handler(event, context):
    raise RuntimeError("deploy went wrong: " + event.get("why", "") + " " + "x" * 50000)
"""


def flow(boom_arn: str, slow_arn: str, timeout_seconds: int | None = None) -> str:
    """fail → a task that raises; wait → waits 30 s; slow → an 8 s task; else → succeeds at once."""
    definition = {
        "StartAt": "Route",
        "States": {
            "Route": {
                "Type": "Choice",
                "Choices": [
                    {"Variable": "$.fail", "IsPresent": True, "Next": "Boom"},
                    {"Variable": "$.wait", "IsPresent": True, "Next": "Wait"},
                    {"Variable": "$.slow", "IsPresent": True, "Next": "Slow"},
                ],
                "Default": "Done",
            },
            "Boom": {"Type": "Task", "Resource": boom_arn, "End": True},
            "Wait": {"Type": "Wait", "Seconds": 30, "End": True},
            "Slow": {"Type": "Task", "Resource": slow_arn, "Next": "Done"},
            "Done": {"Type": "Pass", "Result": {"ok": True}, "End": True},
        },
    }
    if timeout_seconds:
        definition["TimeoutSeconds"] = timeout_seconds
    return json.dumps(definition)


@pytest.fixture(scope="module")
def setup(cloud, tmp_path_factory):
    """Two machines (watched, other), a rule on FAILED/ABORTED of `watched` → the recorder Lambda,
    and a rule on every status change of either machine → a queue (moto delivers to queues at once)."""
    uid = str(time.monotonic_ns())[-8:]
    records = tmp_path_factory.mktemp("status-events")
    boom = create_python_function(cloud, f"sfn-ev-boom-{uid}", BOOM, role_name=f"sfn-ev-fn-{uid}")
    slow = create_python_function(cloud, f"sfn-ev-slow-{uid}", SLOW, role_name=f"sfn-ev-fn-{uid}")
    recorder = f"sfn-ev-recorder-{uid}"
    cloud.client("lambda").create_function(
        FunctionName=recorder,
        Runtime="python3.11",
        Role=cloud.client("iam").get_role(RoleName=f"sfn-ev-fn-{uid}")["Role"]["Arn"],
        Handler="app.handler",
        Code={"ZipFile": python_zip(RECORDER)},
        Environment={"Variables": {"RECORD_DIR": str(records)}},
    )
    role = service_role(
        cloud, f"sfn-ev-{uid}", "states.amazonaws.com",
        [{"Effect": "Allow", "Action": "lambda:InvokeFunction", "Resource": [boom, slow]}],
    )
    sfn = cloud.client("stepfunctions")
    watched = sfn.create_state_machine(name=f"watched-{uid}", roleArn=role, definition=flow(boom, slow))["stateMachineArn"]
    other = sfn.create_state_machine(name=f"other-{uid}", roleArn=role, definition=flow(boom, slow))["stateMachineArn"]
    hasty = sfn.create_state_machine(name=f"hasty-{uid}", roleArn=role, definition=flow(boom, slow, timeout_seconds=1))[
        "stateMachineArn"
    ]
    events = cloud.client("events")
    rule = f"finalize-{uid}"
    events.put_rule(
        Name=rule,
        EventPattern=json.dumps(
            {
                "source": ["aws.states"],
                "detail-type": [DETAIL_TYPE],
                "detail": {"status": ["FAILED", "ABORTED", "TIMED_OUT"], "stateMachineArn": [watched, hasty]},
            }
        ),
    )
    events.put_targets(Rule=rule, Targets=[{"Id": "recorder", "Arn": cloud.client("lambda").get_function(FunctionName=recorder)["Configuration"]["FunctionArn"]}])
    cloud.client("lambda").add_permission(
        FunctionName=recorder, StatementId="events", Action="lambda:InvokeFunction", Principal="events.amazonaws.com",
        SourceArn=f"arn:aws:events:us-east-1:123456789012:rule/{rule}",
    )
    sqs = cloud.client("sqs")
    queue = sqs.create_queue(QueueName=f"sfn-ev-{uid}")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    events.put_rule(
        Name=f"all-{uid}",
        EventPattern=json.dumps({"source": ["aws.states"], "detail": {"stateMachineArn": [watched, other, hasty]}}),
    )
    events.put_targets(Rule=f"all-{uid}", Targets=[{"Id": "q", "Arn": queue_arn}])
    return {"watched": watched, "other": other, "hasty": hasty, "records": records, "queue": queue}


def start(cloud, machine: str, execution_input: dict) -> str:
    return cloud.client("stepfunctions").start_execution(stateMachineArn=machine, input=json.dumps(execution_input))[
        "executionArn"
    ]


def _read(path: Path) -> dict | None:
    """A record the recorder Lambda wrote, or None while it is still being written (read it next time)."""
    try:
        return json.loads(path.read_text())
    except (json.JSONDecodeError, FileNotFoundError):
        return None


def recorded(records: Path, execution_arn: str, timeout: float = 30) -> list[dict]:
    """The events the recorder Lambda got for ``execution_arn``, once there is one (or timeout)."""
    deadline = time.monotonic() + timeout
    while True:
        found = [event for event in map(_read, records.glob("*.json")) if event is not None]
        mine = [e for e in found if e["detail"]["executionArn"] == execution_arn]
        if mine or time.monotonic() > deadline:
            return mine
        time.sleep(0.1)


def queued(cloud, queue: str, execution_arn: str, statuses: set[str], timeout: float = 30) -> list[dict]:
    """The queued events of ``execution_arn``, once they cover ``statuses`` (or timeout)."""
    sqs = cloud.client("sqs")
    got: list[dict] = []
    deadline = time.monotonic() + timeout
    while not statuses <= {e["detail"]["status"] for e in got if e["detail"]["executionArn"] == execution_arn}:
        if time.monotonic() > deadline:
            break
        for m in sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10, WaitTimeSeconds=1).get("Messages", []):
            got.append(json.loads(m["Body"]))
            sqs.delete_message(QueueUrl=queue, ReceiptHandle=m["ReceiptHandle"])
    return [e for e in got if e["detail"]["executionArn"] == execution_arn]


def test_given_a_rule_on_failed_executions_when_an_execution_fails_then_its_lambda_gets_one_failed_event(cloud, setup):
    # WHEN an execution of the watched machine fails in a task
    marker = f"marker-{time.monotonic_ns()}"
    arn = start(cloud, setup["watched"], {"fail": True, "why": marker})

    # THEN the rule's Lambda gets exactly one event: FAILED, for that execution, with its error and cause
    [event] = recorded(setup["records"], arn)
    assert event["source"] == "aws.states" and event["detail-type"] == DETAIL_TYPE
    assert event["resources"] == [arn]
    detail = event["detail"]
    assert detail["status"] == "FAILED"
    assert detail["stateMachineArn"] == setup["watched"]
    assert detail["name"] == arn.rsplit(":", 1)[1]
    assert detail["error"] == "RuntimeError"
    assert "deploy went wrong" in detail["cause"]
    assert json.loads(detail["input"]) == {"fail": True, "why": marker}
    assert detail["inputDetails"] == {"included": True}
    assert detail["output"] is None and detail["outputDetails"] is None
    described = cloud.client("stepfunctions").describe_execution(executionArn=arn)
    assert detail["startDate"] == int(described["startDate"].timestamp() * 1000)
    assert detail["stopDate"] == int(described["stopDate"].timestamp() * 1000)
    # AND no duplicate: a later failed execution (the sentinel) is delivered, and still there is one
    sentinel = start(cloud, setup["watched"], {"fail": True, "why": f"sentinel-{time.monotonic_ns()}"})
    assert recorded(setup["records"], sentinel), "the sentinel's event never arrived"
    assert len(recorded(setup["records"], arn, timeout=0)) == 1
    # AND the local cloud logged the failure (a 50 KB cause) as one short line
    [line] = [line for line in cloud.output if marker in line]
    assert "Boom" in line and "RuntimeError" in line and "more chars)" in line
    assert len(line) < 1000


def test_given_a_rule_on_aborted_executions_when_an_execution_is_stopped_then_its_lambda_gets_one_aborted_event(
    cloud, setup
):
    # GIVEN a running execution of the watched machine (waiting 30 s)
    arn = start(cloud, setup["watched"], {"wait": True})
    queued(cloud, setup["queue"], arn, {"RUNNING"})

    # WHEN it is stopped
    cloud.client("stepfunctions").stop_execution(executionArn=arn)

    # THEN the Lambda gets one ABORTED event for it, well before the wait would have ended
    [event] = recorded(setup["records"], arn, timeout=20)
    assert event["detail"]["status"] == "ABORTED"
    assert event["detail"]["stateMachineArn"] == setup["watched"]
    assert isinstance(event["detail"]["stopDate"], int)


def test_given_an_execution_in_a_slow_lambda_task_when_stopped_then_it_is_aborted_at_once(cloud, setup):
    # GIVEN an execution inside an 8 s Lambda task
    sfn = cloud.client("stepfunctions")
    arn = start(cloud, setup["watched"], {"slow": True})
    deadline = time.monotonic() + 20
    while not any(e["type"] == "LambdaFunctionStarted" for e in sfn.get_execution_history(executionArn=arn)["events"]):
        assert time.monotonic() < deadline, "the task never started"
        time.sleep(0.1)

    # WHEN it is stopped, with an error and a cause
    stopped = time.monotonic()
    answer = sfn.stop_execution(executionArn=arn, error="Superseded", cause="a newer deploy took over")

    # THEN it is ABORTED at once, as on AWS (not when the function returns), and its event says so
    described = sfn.describe_execution(executionArn=arn)
    assert described["status"] == "ABORTED"
    assert described["stopDate"] == answer["stopDate"]
    [event] = recorded(setup["records"], arn, timeout=20)
    assert event["detail"]["status"] == "ABORTED"
    assert event["detail"]["stopDate"] == int(answer["stopDate"].timestamp() * 1000)
    assert time.monotonic() - stopped < 5
    # AND what the task returns later changes nothing: one event, still ABORTED, the next state never entered
    deadline = time.monotonic() + 30  # the interpreter records the abort once the function has returned
    while True:
        history = sfn.get_execution_history(executionArn=arn)["events"]
        if any(e["type"] == "ExecutionAborted" for e in history):
            break
        assert time.monotonic() < deadline, "no ExecutionAborted in the history"
        time.sleep(0.2)
    assert len(recorded(setup["records"], arn, timeout=0)) == 1
    assert sfn.describe_execution(executionArn=arn)["status"] == "ABORTED"
    assert sfn.describe_execution(executionArn=arn)["stopDate"] == answer["stopDate"]
    assert "Done" not in [e.get("stateEnteredEventDetails", {}).get("name") for e in history]
    [aborted] = [e["executionAbortedEventDetails"] for e in history if e["type"] == "ExecutionAborted"]
    assert aborted == {"error": "Superseded", "cause": "a newer deploy took over"}


def test_given_a_machine_timeout_when_an_execution_runs_past_it_then_a_timed_out_event_is_put(cloud, setup):
    # WHEN an execution outlives its machine's TimeoutSeconds (1 s)
    arn = start(cloud, setup["hasty"], {"wait": True})

    # THEN the Lambda gets one TIMED_OUT event for it
    [event] = recorded(setup["records"], arn, timeout=20)
    assert event["detail"]["status"] == "TIMED_OUT"


def test_given_a_rule_on_failed_executions_when_an_execution_succeeds_then_only_other_rules_see_it(cloud, setup):
    # WHEN an execution of the watched machine succeeds, and then one fails
    succeeded = start(cloud, setup["watched"], {})
    # THEN its RUNNING and SUCCEEDED events are put (the all-status rule queues them), output included
    events = queued(cloud, setup["queue"], succeeded, {"RUNNING", "SUCCEEDED"})
    by_status = {e["detail"]["status"]: e["detail"] for e in events}
    assert set(by_status) == {"RUNNING", "SUCCEEDED"}
    assert by_status["RUNNING"]["stopDate"] is None and by_status["RUNNING"]["output"] is None
    assert json.loads(by_status["SUCCEEDED"]["output"]) == {"ok": True}
    assert by_status["SUCCEEDED"]["outputDetails"] == {"included": True}
    assert by_status["SUCCEEDED"]["error"] is None
    failed = start(cloud, setup["watched"], {"fail": True})
    assert recorded(setup["records"], failed)  # delivered after the success would have been
    # AND the FAILED/ABORTED rule's Lambda never got the success
    assert recorded(setup["records"], succeeded, timeout=0) == []


def test_given_a_rule_on_one_machine_when_another_machine_fails_then_the_rule_does_not_fire(cloud, setup):
    # WHEN the other machine's execution fails
    other = start(cloud, setup["other"], {"fail": True})

    # THEN its FAILED event is put (the all-status rule has it) but the watched machine's rule ignores it
    assert {e["detail"]["status"] for e in queued(cloud, setup["queue"], other, {"FAILED"})} == {"RUNNING", "FAILED"}
    sentinel = start(cloud, setup["watched"], {"fail": True})
    assert recorded(setup["records"], sentinel)
    assert recorded(setup["records"], other, timeout=0) == []
