"""EventBridge on the local cloud: rules match (AWS pattern semantics), disabled rules stay quiet,
targets get the event or its transformed input, Step Functions and Lambda targets run, schedules fire."""

from __future__ import annotations

import json
import time

import pytest
from botocore.exceptions import ClientError

from tests.integration.localcloud.lambda_helpers import create_python_function, service_role

ROLE = "arn:aws:iam::123456789012:role/events-invoke"


@pytest.fixture(scope="module", autouse=True)
def events_role(cloud) -> str:
    """ROLE: what EventBridge starts state machines with (it may start this account's machines)."""
    return service_role(
        cloud,
        "events-invoke",
        "events.amazonaws.com",
        [{"Effect": "Allow", "Action": "states:StartExecution", "Resource": "arn:aws:states:us-east-1:123456789012:stateMachine:*"}],
    )
PASS_MACHINE = json.dumps({"StartAt": "Echo", "States": {"Echo": {"Type": "Pass", "End": True}}})


# ---- helpers -----------------------------------------------------------------------------------
def make_state_machine(cloud, name: str) -> str:
    return cloud.client("stepfunctions").create_state_machine(
        name=name, roleArn=ROLE, definition=PASS_MACHINE
    )["stateMachineArn"]


def execution_inputs(cloud, machine_arn: str, count: int, timeout: float = 15) -> list:
    """The parsed inputs of the machine's executions, once there are ``count`` of them."""
    sfn = cloud.client("stepfunctions")
    deadline = time.monotonic() + timeout
    while True:
        executions = sfn.list_executions(stateMachineArn=machine_arn)["executions"]
        if len(executions) >= count or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    return [json.loads(sfn.describe_execution(executionArn=e["executionArn"])["input"]) for e in executions]


def make_queue(cloud, name: str) -> tuple[str, str]:
    sqs = cloud.client("sqs")
    url = sqs.create_queue(QueueName=name)["QueueUrl"]
    return url, sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]


def drain(cloud, url: str) -> list[dict]:
    sqs = cloud.client("sqs")
    bodies = []
    while True:
        messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
        if not messages:
            return bodies
        for m in messages:
            bodies.append(json.loads(m["Body"]))
            sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])


def rule_with_target(cloud, name: str, target: dict, pattern: dict | None = None, **rule_args) -> str:
    events = cloud.client("events")
    if pattern is not None:
        rule_args["EventPattern"] = json.dumps(pattern)
    arn = events.put_rule(Name=name, **rule_args)["RuleArn"]
    events.put_targets(Rule=name, Targets=[target])
    return arn


def put(cloud, source: str, detail: dict, detail_type: str = "Thing Happened", **extra) -> None:
    entry = {"Source": source, "DetailType": detail_type, "Detail": json.dumps(detail), **extra}
    response = cloud.client("events").put_events(Entries=[entry])
    assert response["FailedEntryCount"] == 0, response


# ---- Step Functions targets ---------------------------------------------------------------------
def test_given_a_rule_targeting_a_state_machine_when_a_matching_event_is_put_then_an_execution_gets_the_event(
    cloud, uid
):
    machine = make_state_machine(cloud, f"on-event-{uid}")
    rule_arn = rule_with_target(
        cloud,
        f"to-sfn-{uid}",
        {"Id": "sfn", "Arn": machine, "RoleArn": ROLE},
        pattern={"source": [f"test.{uid}"], "detail-type": ["Thing Happened"]},
    )

    put(cloud, f"test.{uid}", {"answer": 42}, Resources=["arn:aws:s3:::some-bucket"])

    [event] = execution_inputs(cloud, machine, 1)
    assert event["source"] == f"test.{uid}"
    assert event["detail-type"] == "Thing Happened"
    assert event["detail"] == {"answer": 42}
    assert event["resources"] == ["arn:aws:s3:::some-bucket"]
    assert event["account"] == "123456789012" and event["region"] == "us-east-1" and event["version"] == "0"
    assert time.strptime(event["time"], "%Y-%m-%dT%H:%M:%SZ")
    assert rule_arn.endswith(f":rule/to-sfn-{uid}")


def test_given_two_matching_events_when_put_then_each_starts_its_own_uniquely_named_execution(cloud, uid):
    machine = make_state_machine(cloud, f"twice-{uid}")
    rule_with_target(
        cloud, f"twice-{uid}", {"Id": "sfn", "Arn": machine, "RoleArn": ROLE}, pattern={"source": [f"test.{uid}"]}
    )

    put(cloud, f"test.{uid}", {"n": 1})
    put(cloud, f"test.{uid}", {"n": 1})

    assert len(execution_inputs(cloud, machine, 2)) == 2
    names = {
        e["name"]
        for e in cloud.client("stepfunctions").list_executions(stateMachineArn=machine)["executions"]
    }
    assert len(names) == 2


def test_given_a_disabled_rule_when_a_matching_event_is_put_then_no_target_receives_it(cloud, uid):
    machine = make_state_machine(cloud, f"disabled-{uid}")
    url, queue_arn = make_queue(cloud, f"disabled-{uid}")
    events = cloud.client("events")
    events.put_rule(Name=f"off-{uid}", EventPattern=json.dumps({"source": [f"test.{uid}"]}), State="DISABLED")
    events.put_targets(
        Rule=f"off-{uid}", Targets=[{"Id": "sfn", "Arn": machine, "RoleArn": ROLE}, {"Id": "q", "Arn": queue_arn}]
    )

    put(cloud, f"test.{uid}", {"n": 1})

    assert execution_inputs(cloud, machine, 1, timeout=1.5) == []
    assert drain(cloud, url) == []

    events.enable_rule(Name=f"off-{uid}")
    put(cloud, f"test.{uid}", {"n": 2})
    assert [e["detail"] for e in execution_inputs(cloud, machine, 1)] == [{"n": 2}]
    assert [e["detail"] for e in drain(cloud, url)] == [{"n": 2}]


def test_given_a_rule_whose_state_machine_is_gone_when_an_event_is_put_then_put_events_succeeds_and_other_targets_receive_it(
    cloud, uid
):
    machine = make_state_machine(cloud, f"survivor-{uid}")
    events = cloud.client("events")
    events.put_rule(Name=f"half-{uid}", EventPattern=json.dumps({"source": [f"test.{uid}"]}))
    events.put_targets(
        Rule=f"half-{uid}",
        Targets=[
            {"Id": "gone", "Arn": f"arn:aws:states:us-east-1:123456789012:stateMachine:gone-{uid}", "RoleArn": ROLE},
            {"Id": "ok", "Arn": machine, "RoleArn": ROLE},
        ],
    )

    put(cloud, f"test.{uid}", {"n": 1})

    assert [e["detail"] for e in execution_inputs(cloud, machine, 1)] == [{"n": 1}]


# ---- input: Input, InputPath, InputTransformer --------------------------------------------------
EC2_DETAIL = {"instance-id": "i-0123456789", "state": "RUNNING", "tags": ["a", "b"], "cpu": 3}


@pytest.mark.parametrize(
    ("input_settings", "expected"),
    [
        ({"Input": '{"fixed": true}'}, {"fixed": True}),
        ({"InputPath": "$.detail"}, EC2_DETAIL),
        ({"InputPath": "$.detail.tags[1]"}, "b"),
        (
            {
                "InputTransformer": {
                    "InputPathsMap": {
                        "instance": "$.detail.instance-id",
                        "state": "$.detail.state",
                        "cpu": "$.detail.cpu",
                    },
                    "InputTemplate": '{"instance": <instance>, "cpu": <cpu>, "status": "instance \\"<instance>\\" is <state>, cpu <cpu>"}',
                }
            },
            {"instance": "i-0123456789", "cpu": 3, "status": 'instance "i-0123456789" is RUNNING, cpu 3'},
        ),
        (
            {
                "InputTransformer": {
                    "InputPathsMap": {"tags": "$.detail.tags", "missing": "$.detail.nope"},
                    "InputTemplate": '{"tags": <tags>, "state": [9, <missing>, true], "text": "<missing>"}',
                }
            },
            {"tags": ["a", "b"], "state": [9, None, True], "text": ""},
        ),
        (
            {
                "InputTransformer": {
                    "InputPathsMap": {"s": "$.detail.state"},
                    "InputTemplate": '"instance is <s>"',
                }
            },
            "instance is RUNNING",
        ),
    ],
    ids=[
        "Input",
        "InputPath",
        "InputPath-index",
        "template-json-and-strings",
        "template-missing-path",
        "template-string",
    ],
)
def test_given_a_target_with_input_settings_when_an_event_matches_then_the_execution_input_is_as_aws_builds_it(
    cloud, uid, input_settings, expected
):
    machine = make_state_machine(cloud, f"input-{uid}")
    rule_with_target(
        cloud,
        f"input-{uid}",
        {"Id": "sfn", "Arn": machine, "RoleArn": ROLE, **input_settings},
        pattern={"source": [f"test.{uid}"]},
    )

    put(cloud, f"test.{uid}", EC2_DETAIL)

    assert execution_inputs(cloud, machine, 1) == [expected]


def test_given_a_template_with_reserved_variables_when_an_event_matches_then_rule_and_event_are_filled_in(
    cloud, uid
):
    machine = make_state_machine(cloud, f"reserved-{uid}")
    template = (
        '{"arn": <aws.events.rule-arn>, "name": "<aws.events.rule-name>", "event": <aws.events.event>,'
        ' "json": <aws.events.event.json>, "at": <aws.events.event.ingestion-time>}'
    )
    rule_arn = rule_with_target(
        cloud,
        f"reserved-{uid}",
        {"Id": "sfn", "Arn": machine, "RoleArn": ROLE, "InputTransformer": {"InputPathsMap": {}, "InputTemplate": template}},
        pattern={"source": [f"test.{uid}"]},
    )

    put(cloud, f"test.{uid}", {"k": "v"})

    [got] = execution_inputs(cloud, machine, 1)
    assert got["arn"] == rule_arn and got["name"] == f"reserved-{uid}"
    assert got["json"]["detail"] == {"k": "v"} and got["json"]["source"] == f"test.{uid}"
    assert "detail" not in got["event"] and got["event"]["id"] == got["json"]["id"]
    assert time.strptime(got["at"], "%Y-%m-%dT%H:%M:%SZ")


# ---- pattern matching (delivered by moto to a queue, synchronously) ------------------------------
@pytest.mark.parametrize(
    ("pattern_detail", "matching", "not_matching"),
    [
        ({"env": [{"prefix": "prod-"}]}, [{"env": "prod-eu"}], [{"env": "staging"}, {"other": 1}]),
        ({"env": [{"anything-but": ["dev", "test"]}]}, [{"env": "prod"}], [{"env": "dev"}, {"env": "test"}]),
        (
            {"cpu": [{"numeric": [">", 10, "<=", 20]}]},
            [{"cpu": 11}, {"cpu": 20}],
            [{"cpu": 10}, {"cpu": 21}, {"cpu": "15"}],
        ),
        ({"error": [{"exists": True}]}, [{"error": "x"}, {"error": 0}], [{"ok": 1}]),
        ({"error": [{"exists": False}]}, [{"ok": 1}], [{"error": "x"}]),
        ({"file": [{"wildcard": "*/logs/*.txt"}]}, [{"file": "a/logs/b.txt"}], [{"file": "a/logs/b.csv"}]),
        ({"tags": ["red"]}, [{"tags": ["blue", "red"]}], [{"tags": ["blue"]}]),
        (
            {"items": {"sku": [{"prefix": "X-"}]}},
            [{"items": [{"sku": "A-1"}, {"sku": "X-2"}]}],
            [{"items": [{"sku": "A-1"}]}, {"items": []}],
        ),
        (
            {"$or": [{"level": ["ERROR"]}, {"latency": [{"numeric": [">=", 500]}]}]},
            [{"level": "ERROR", "latency": 1}, {"level": "INFO", "latency": 900}],
            [{"level": "INFO", "latency": 499}],
        ),
    ],
    ids=[
        "prefix",
        "anything-but",
        "numeric",
        "exists",
        "not-exists",
        "wildcard",
        "array-value",
        "array-of-objects",
        "$or",
    ],
)
def test_given_a_pattern_when_events_are_put_then_only_matching_ones_reach_the_target(
    cloud, uid, pattern_detail, matching, not_matching
):
    url, queue_arn = make_queue(cloud, f"pattern-{uid}")
    rule_with_target(
        cloud,
        f"pattern-{uid}",
        {"Id": "q", "Arn": queue_arn},
        pattern={"source": [f"test.{uid}"], "detail": pattern_detail},
    )

    for i, detail in enumerate(matching + not_matching):
        put(cloud, f"test.{uid}", {**detail, "i": i})

    assert sorted(m["detail"]["i"] for m in drain(cloud, url)) == list(range(len(matching)))


def test_given_a_schedule_only_rule_when_an_event_is_put_then_it_does_not_fire(cloud, uid):
    url, queue_arn = make_queue(cloud, f"sched-only-{uid}")
    rule_with_target(
        cloud, f"sched-only-{uid}", {"Id": "q", "Arn": queue_arn}, ScheduleExpression="rate(1 day)"
    )

    put(cloud, f"test.{uid}", {"n": 1})

    assert drain(cloud, url) == []


# ---- schedules -----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("expression", "says"),
    [("rate(1 minutes)", "singular"), ("cron(0 10 * * MON *)", "day-of-month and day-of-week")],
)
def test_given_a_bad_schedule_expression_when_the_rule_is_put_then_validation_names_the_fault(
    cloud, uid, expression, says
):
    with pytest.raises(ClientError) as e:
        cloud.client("events").put_rule(Name=f"bad-{uid}", ScheduleExpression=expression)
    assert e.value.response["Error"]["Code"] == "ValidationException"
    assert "ScheduleExpression" in str(e.value) and says in str(e.value)


def test_given_an_every_minute_cron_rule_when_the_minute_turns_then_a_scheduled_event_starts_an_execution(
    cloud, uid
):
    machine = make_state_machine(cloud, f"cron-{uid}")
    rule_arn = rule_with_target(
        cloud,
        f"cron-{uid}",
        {"Id": "sfn", "Arn": machine, "RoleArn": ROLE},
        ScheduleExpression="cron(* * * * ? *)",
    )

    [event] = execution_inputs(cloud, machine, 1, timeout=75)

    cloud.client("events").disable_rule(Name=f"cron-{uid}")
    assert event["source"] == "aws.events"
    assert event["detail-type"] == "Scheduled Event"
    assert event["resources"] == [rule_arn]
    assert event["detail"] == {}
    assert event["time"].endswith(":00Z")  # the scheduled minute


# ---- Lambda targets (run by the lambda runner) ---------------------------------------------------
LOG_EVENT = """
import json, time

def handler(event, context):
    time.sleep(event.get("sleep", 0) if isinstance(event, dict) else 0)
    print("GOT " + json.dumps(event))
    return {"ok": True}
"""


def log_lines(cloud, function: str, needle: str, timeout: float = 30) -> list[str]:
    logs = cloud.client("logs")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            found = logs.filter_log_events(
                logGroupName=f"/aws/lambda/{function}", filterPattern=f'"{needle}"'
            )
            lines = [e["message"] for e in found["events"] if needle in e["message"]]
            if lines:
                return lines
        except ClientError:
            pass
        time.sleep(0.3)
    return []


def test_given_a_rule_targeting_a_lambda_when_events_are_put_then_the_function_runs_asynchronously_with_the_input(
    cloud, uid
):
    name = f"on-event-{uid}"
    function_arn = create_python_function(cloud, name, LOG_EVENT, role_name=f"fn-{uid}")
    rule_with_target(
        cloud,
        f"to-lambda-{uid}",
        {
            "Id": "fn",
            "Arn": function_arn,
            "InputTransformer": {
                "InputPathsMap": {"marker": "$.detail.marker", "sleep": "$.detail.sleep"},
                "InputTemplate": '{"marker": <marker>, "sleep": <sleep>}',
            },
        },
        pattern={"source": [f"test.{uid}"]},
    )
    cloud.client("lambda").add_permission(
        FunctionName=name, StatementId="events", Action="lambda:InvokeFunction", Principal="events.amazonaws.com",
        SourceArn=f"arn:aws:events:us-east-1:123456789012:rule/to-lambda-{uid}",
    )

    started = time.monotonic()
    put(cloud, f"test.{uid}", {"marker": f"m-{uid}", "sleep": 3})
    put_took = time.monotonic() - started

    assert put_took < 1.5  # the caller does not wait for the 3-second function
    [line] = log_lines(cloud, name, f"m-{uid}")
    assert json.loads(line.split("GOT ", 1)[1]) == {"marker": f"m-{uid}", "sleep": 3}
