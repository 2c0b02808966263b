"""IAM enforcement on the local cloud (``localcloud up --enforce-iam``, as the session's cloud runs):
a role session may do what its policies allow and nothing else, denials name the principal, the
action and the resource in each protocol's error; the root key is allowed everything; functions run
with their execution role, state machines call with theirs, rules start executions with their
target's role."""

from __future__ import annotations

import json
import time

import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from tests.integration.localcloud.lambda_helpers import python_zip, service_role

ACCOUNT = "123456789012"
LAMBDA = "lambda.amazonaws.com"


def table(cloud, name: str) -> str:
    cloud.client("dynamodb").create_table(
        TableName=name,
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        BillingMode="PAY_PER_REQUEST",
    )
    return f"arn:aws:dynamodb:us-east-1:{ACCOUNT}:table/{name}"


def session(cloud, role_arn: str, name: str) -> dict:
    """Credentials of a session of ``role_arn`` (assumed by the local root, which is allowed everything)."""
    c = cloud.client("sts").assume_role(RoleArn=role_arn, RoleSessionName=name)["Credentials"]
    return {
        "aws_access_key_id": c["AccessKeyId"],
        "aws_secret_access_key": c["SecretAccessKey"],
        "aws_session_token": c["SessionToken"],
    }


def error_of(call) -> dict:
    with pytest.raises(ClientError) as e:
        call()
    return e.value.response["Error"]


@pytest.fixture
def narrow(cloud, uid):
    """A role that may put and get items in table allowed-<uid> only, and read objects under one prefix."""
    allowed, other = table(cloud, f"allowed-{uid}"), table(cloud, f"other-{uid}")
    cloud.client("s3").create_bucket(Bucket=f"iam-{uid}")
    role = service_role(
        cloud,
        f"narrow-{uid}",
        LAMBDA,
        [
            {"Effect": "Allow", "Action": ["dynamodb:PutItem", "dynamodb:GetItem"], "Resource": allowed},
            {"Effect": "Allow", "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::iam-{uid}/public/*"},
        ],
    )
    return {"role": role, "allowed": allowed, "other": other, "creds": session(cloud, role, f"tester-{uid}")}


# ---- role sessions, root, errors ------------------------------------------------------------------
def test_given_a_narrow_role_when_its_session_writes_then_the_allowed_table_takes_it_and_another_is_denied(cloud, narrow, uid):
    ddb = cloud.client("dynamodb", **narrow["creds"])
    ddb.put_item(TableName=f"allowed-{uid}", Item={"pk": {"S": "a"}})
    assert ddb.get_item(TableName=f"allowed-{uid}", Key={"pk": {"S": "a"}})["Item"] == {"pk": {"S": "a"}}

    error = error_of(lambda: ddb.put_item(TableName=f"other-{uid}", Item={"pk": {"S": "a"}}))
    assert error["Code"] == "AccessDeniedException"
    assert error["Message"] == (
        f"User: arn:aws:sts::{ACCOUNT}:assumed-role/narrow-{uid}/tester-{uid} is not authorized to perform: "
        f"dynamodb:PutItem on resource: {narrow['other']} because no identity-based policy allows the dynamodb:PutItem action"
    )
    error = error_of(lambda: ddb.scan(TableName=f"allowed-{uid}"))  # another action on the allowed table
    assert "dynamodb:Scan on resource: " + narrow["allowed"] in error["Message"]


def test_given_the_root_key_then_it_is_allowed_what_no_role_is(cloud, narrow, uid):
    cloud.client("dynamodb").put_item(TableName=f"other-{uid}", Item={"pk": {"S": "root"}})
    assert cloud.client("iam").get_role(RoleName=f"narrow-{uid}")["Role"]["Arn"] == narrow["role"]


def test_given_s3_and_query_protocol_denials_then_each_is_its_services_access_denied(cloud, narrow, uid):
    cloud.client("s3").put_object(Bucket=f"iam-{uid}", Key="public/a.txt", Body=b"hi")
    cloud.client("s3").put_object(Bucket=f"iam-{uid}", Key="private/b.txt", Body=b"no")
    s3 = cloud.client("s3", **narrow["creds"])
    assert s3.get_object(Bucket=f"iam-{uid}", Key="public/a.txt")["Body"].read() == b"hi"

    error = error_of(lambda: s3.get_object(Bucket=f"iam-{uid}", Key="private/b.txt"))
    assert error["Code"] == "AccessDenied"
    assert f's3:GetObject on resource: "arn:aws:s3:::iam-{uid}/private/b.txt"' in error["Message"]
    error = error_of(lambda: s3.put_object(Bucket=f"iam-{uid}", Key="public/c.txt", Body=b"x"))
    assert f"assumed-role/narrow-{uid}/tester-{uid} is not authorized to perform: s3:PutObject" in error["Message"]

    error = error_of(lambda: cloud.client("cloudformation", **narrow["creds"]).describe_stacks(StackName=f"s-{uid}"))
    assert error["Code"] == "AccessDenied"
    assert f"cloudformation:DescribeStacks on resource: arn:aws:cloudformation:us-east-1:{ACCOUNT}:stack/s-{uid}/*" in error["Message"]
    error = error_of(lambda: cloud.client("lambda", **narrow["creds"]).invoke(FunctionName=f"fn-{uid}", Qualifier="live"))
    assert error["Code"] == "AccessDeniedException"
    assert f"lambda:InvokeFunction on resource: arn:aws:lambda:us-east-1:{ACCOUNT}:function:fn-{uid}:live" in error["Message"]


def test_given_bad_credentials_then_they_are_refused_before_any_policy(cloud, narrow, uid):
    error = error_of(lambda: cloud.client("dynamodb", aws_access_key_id="AKIANOBODY", aws_secret_access_key="x").list_tables())
    assert error["Code"] == "UnrecognizedClientException"
    wrong_secret = {**narrow["creds"], "aws_secret_access_key": "not-the-secret"}
    error = error_of(lambda: cloud.client("dynamodb", **wrong_secret).get_item(TableName=f"allowed-{uid}", Key={"pk": {"S": "a"}}))
    assert error["Code"] == "InvalidSignatureException"
    error = error_of(lambda: cloud.client("sqs", **{**narrow["creds"], "aws_session_token": "forged"}).list_queues())
    assert error["Code"] in ("UnrecognizedClientException", "InvalidClientTokenId")


def test_given_the_root_key_with_a_session_token_then_it_is_refused_like_an_unknown_key(cloud):
    # GIVEN the root key, which is allowed everything, signing with a session token it cannot have
    root_with_token = {"aws_access_key_id": "localcloud", "aws_secret_access_key": "localcloud", "aws_session_token": "garbage"}
    # THEN AWS's refusal of a long-term key with a session token, per protocol
    error = error_of(lambda: cloud.client("dynamodb", **root_with_token).list_tables())
    assert error["Code"] == "UnrecognizedClientException"
    assert error["Message"] == "The security token included in the request is invalid."
    error = error_of(lambda: cloud.client("sqs", **root_with_token).list_queues())
    assert error["Code"] in ("UnrecognizedClientException", "InvalidClientTokenId")
    # AND without the token the root key works
    assert "TableNames" in cloud.client("dynamodb").list_tables()


def test_given_a_session_past_its_expiry_then_its_calls_are_refused_as_expired(cloud, narrow, uid):
    sts = cloud.client("sts", config=Config(parameter_validation=False, retries={"max_attempts": 1}))
    c = sts.assume_role(RoleArn=narrow["role"], RoleSessionName="short", DurationSeconds=1)["Credentials"]
    time.sleep(1.5)
    ddb = cloud.client(
        "dynamodb", aws_access_key_id=c["AccessKeyId"], aws_secret_access_key=c["SecretAccessKey"], aws_session_token=c["SessionToken"]
    )
    assert error_of(lambda: ddb.get_item(TableName=f"allowed-{uid}", Key={"pk": {"S": "a"}}))["Code"] == "ExpiredTokenException"


def test_given_a_session_then_get_caller_identity_names_it_whatever_its_policies(cloud, narrow, uid):
    identity = cloud.client("sts", **narrow["creds"]).get_caller_identity()
    assert identity["Arn"] == f"arn:aws:sts::{ACCOUNT}:assumed-role/narrow-{uid}/tester-{uid}"


# ---- a function runs with its execution role ---------------------------------------------------------
WRITER = """
import os, boto3
from botocore.exceptions import ClientError

def handler(event, context):
    ddb = boto3.client("dynamodb")
    out = {"key": os.environ["AWS_ACCESS_KEY_ID"], "token": bool(os.environ.get("AWS_SESSION_TOKEN"))}
    out["me"] = boto3.client("sts").get_caller_identity()["Arn"]
    for name in event["tables"]:
        try:
            ddb.put_item(TableName=name, Item={"pk": {"S": "from-lambda"}})
            out[name] = "ok"
        except ClientError as e:
            out[name] = e.response["Error"]["Code"] + ": " + e.response["Error"]["Message"]
    return out
"""


def test_given_a_function_when_invoked_then_it_calls_aws_with_its_roles_session_named_after_it(cloud, narrow, uid):
    name = f"writer-{uid}"
    cloud.client("lambda").create_function(
        FunctionName=name, Runtime="python3.11", Role=narrow["role"], Handler="app.handler",
        Code={"ZipFile": python_zip(WRITER)}, Timeout=30,
    )
    answer = cloud.client("lambda").invoke(FunctionName=name, Payload=json.dumps({"tables": [f"allowed-{uid}", f"other-{uid}"]}))
    result = json.loads(answer["Payload"].read())

    assert "FunctionError" not in answer, result
    assert result["me"] == f"arn:aws:sts::{ACCOUNT}:assumed-role/narrow-{uid}/{name}"
    assert result["key"] != "localcloud" and result["token"]
    assert result[f"allowed-{uid}"] == "ok"
    assert result[f"other-{uid}"] == (
        f"AccessDeniedException: User: arn:aws:sts::{ACCOUNT}:assumed-role/narrow-{uid}/{name} is not authorized to "
        f"perform: dynamodb:PutItem on resource: {narrow['other']} because no identity-based policy allows the dynamodb:PutItem action"
    )


def test_given_a_role_that_lambda_may_not_assume_when_its_function_is_invoked_then_it_fails_naming_the_trust(cloud, uid):
    role = service_role(cloud, f"not-for-lambda-{uid}", "events.amazonaws.com", [])
    name = f"untrusted-{uid}"
    cloud.client("lambda").create_function(
        FunctionName=name, Runtime="python3.11", Role=role, Handler="app.handler",
        Code={"ZipFile": python_zip("def handler(e, c):\n    return 1\n")},
    )
    error = error_of(lambda: cloud.client("lambda").invoke(FunctionName=name))
    assert "lambda.amazonaws.com cannot assume role" in error["Message"] and role in error["Message"]


# ---- a state machine calls with its role ------------------------------------------------------------------
def test_given_a_state_machine_role_when_a_task_invokes_a_function_it_does_not_allow_then_the_task_fails_with_access_denied(cloud, uid):
    lam = cloud.client("lambda")
    fn_role = service_role(cloud, f"sm-fn-{uid}", LAMBDA, [])
    arns = {}
    for which in ("yes", "no"):
        arns[which] = lam.create_function(
            FunctionName=f"sm-{which}-{uid}", Runtime="python3.11", Role=fn_role, Handler="app.handler",
            Code={"ZipFile": python_zip(f"def handler(e, c):\n    return {{'ran': '{which}'}}\n")},
        )["FunctionArn"]
    sm_role = service_role(
        cloud, f"sm-{uid}", "states.amazonaws.com",
        [{"Effect": "Allow", "Action": "lambda:InvokeFunction", "Resource": [arns["yes"], arns["yes"] + ":*"]}],
    )
    definition = {
        "StartAt": "Yes",
        "States": {
            "Yes": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke", "Parameters": {"FunctionName": arns["yes"]},
                    "ResultSelector": {"ran.$": "$.Payload.ran"}, "ResultPath": "$.yes", "Next": "No"},
            "No": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke", "Parameters": {"FunctionName": arns["no"]}, "End": True},
        },
    }
    sfn = cloud.client("stepfunctions")
    machine = sfn.create_state_machine(name=f"sm-{uid}", roleArn=sm_role, definition=json.dumps(definition))["stateMachineArn"]
    execution = sfn.start_execution(stateMachineArn=machine, input="{}")["executionArn"]
    deadline = time.monotonic() + 60
    while (described := sfn.describe_execution(executionArn=execution))["status"] == "RUNNING" and time.monotonic() < deadline:
        time.sleep(0.2)

    assert described["status"] == "FAILED"
    history = sfn.get_execution_history(executionArn=execution)["events"]
    succeeded = [e for e in history if e["type"] == "TaskSucceeded"]
    assert len(succeeded) == 1
    assert json.loads(succeeded[0]["taskSucceededEventDetails"]["output"])["Payload"] == {"ran": "yes"}
    failure = [e["taskFailedEventDetails"] for e in history if e["type"] == "TaskFailed"][0]
    assert "AccessDenied" in failure["error"] + failure["cause"]
    assert f"assumed-role/sm-{uid}/" in failure["cause"]
    assert f"lambda:InvokeFunction on resource: {arns['no']}" in failure["cause"]


# ---- a rule starts executions with its target's role --------------------------------------------------------
def test_given_rule_targets_then_only_the_one_whose_role_may_start_its_machine_starts_it(cloud, uid):
    sfn, events = cloud.client("stepfunctions"), cloud.client("events")
    pass_machine = json.dumps({"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}})
    sm_role = service_role(cloud, f"pass-{uid}", "states.amazonaws.com", [])
    machines = {
        which: sfn.create_state_machine(name=f"rule-{which}-{uid}", roleArn=sm_role, definition=pass_machine)["stateMachineArn"]
        for which in ("allowed", "denied")
    }
    allowed_role = service_role(
        cloud, f"rule-ok-{uid}", "events.amazonaws.com",
        [{"Effect": "Allow", "Action": "states:StartExecution", "Resource": machines["allowed"]}],
    )
    other_role = service_role(  # may start the allowed machine only, but targets the denied one
        cloud, f"rule-no-{uid}", "events.amazonaws.com",
        [{"Effect": "Allow", "Action": "states:StartExecution", "Resource": machines["allowed"]}],
    )
    events.put_rule(Name=f"iam-{uid}", EventPattern=json.dumps({"source": [f"iam.{uid}"]}))
    events.put_targets(Rule=f"iam-{uid}", Targets=[
        {"Id": "ok", "Arn": machines["allowed"], "RoleArn": allowed_role},
        {"Id": "no", "Arn": machines["denied"], "RoleArn": other_role},
    ])

    events.put_events(Entries=[{"Source": f"iam.{uid}", "DetailType": "t", "Detail": "{}"}])

    refusal = (
        f"assumed-role/rule-no-{uid}/iam-{uid} is not authorized to perform: states:StartExecution"
        f" on resource: {machines['denied']}"
    )
    deadline = time.monotonic() + 15
    # the sentinels: the allowed execution started AND the refused delivery was tried and logged
    while time.monotonic() < deadline and not (
        sfn.list_executions(stateMachineArn=machines["allowed"])["executions"] and refusal in "".join(cloud.output)
    ):
        time.sleep(0.2)
    assert refusal in "".join(cloud.output)
    assert len(sfn.list_executions(stateMachineArn=machines["allowed"])["executions"]) == 1
    assert sfn.list_executions(stateMachineArn=machines["denied"])["executions"] == []
