"""Limits AWS enforces, enforced by the local cloud with AWS's errors and messages: Lambda's code
size (50 MB zipped in the request, 250 MB unzipped with layers), Invoke's payloads (6 MB
synchronous, 1 MB asynchronous), a function's MemorySize (the out-of-memory kill), CloudFormation's
500 resources per stack, Step Functions' 256 KB state payloads; and PublishVersion's numbering."""

from __future__ import annotations

import base64
import io
import json
import time
import zipfile

import pytest
from botocore.exceptions import ClientError

from tests.integration.localcloud.lambda_helpers import lambda_role, python_zip, service_role

UNZIPPED = "Unzipped size must be smaller than 262144000 bytes"


def bomb(unzipped_mb: int, name: str = "padding.bin") -> bytes:
    """A small zip that unpacks to ``unzipped_mb`` MB of zeros, with a handler beside it."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("app.py", "def handler(event, context):\n    return 'ran'\n")
        with zf.open(name, "w", force_zip64=True) as f:
            chunk = bytes(1024 * 1024)
            for _ in range(unzipped_mb):
                f.write(chunk)
    return buf.getvalue()


def same_zip(code: str) -> bytes:
    """A zip of ``app.py`` whose bytes depend on ``code`` only (no timestamp): the same CodeSha256."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr(zipfile.ZipInfo("app.py", date_time=(1980, 1, 1, 0, 0, 0)), code)
    return buf.getvalue()


@pytest.fixture(scope="module")
def role(cloud) -> str:
    return lambda_role(cloud, "limits-tests")


def error_of(call) -> tuple[int, str, str]:
    with pytest.raises(ClientError) as refused:
        call()
    response = refused.value.response
    return response["ResponseMetadata"]["HTTPStatusCode"], response["Error"]["Code"], response["Error"]["Message"]


def test_given_a_1mb_zip_that_unpacks_to_1gib_when_created_then_lambda_refuses_it_and_no_function_exists(cloud, role, uid):
    code = bomb(1024)
    assert len(code) < 2 * 1024 * 1024
    lam = cloud.client("lambda")
    status, kind, message = error_of(lambda: lam.create_function(
        FunctionName=f"bomb-{uid}", Runtime="python3.12", Role=role, Handler="app.handler", Code={"ZipFile": code},
    ))
    assert (status, kind, message) == (400, "InvalidParameterValueException", UNZIPPED)
    assert error_of(lambda: lam.get_function(FunctionName=f"bomb-{uid}"))[1] == "ResourceNotFoundException"


def test_given_code_and_a_layer_over_250mb_together_then_create_update_and_configuration_are_refused(cloud, role, uid):
    lam = cloud.client("lambda")
    layer = lam.publish_layer_version(LayerName=f"big-{uid}", Content={"ZipFile": bomb(130)})["LayerVersionArn"]
    # each alone is within the limit
    lam.create_function(FunctionName=f"half-{uid}", Runtime="python3.12", Role=role, Handler="app.handler",
                        Code={"ZipFile": bomb(130)})
    # WHEN the layer is added to it THEN the sum is refused, and the function keeps its configuration
    status, kind, message = error_of(lambda: lam.update_function_configuration(FunctionName=f"half-{uid}", Layers=[layer]))
    assert (status, kind, message) == (400, "InvalidParameterValueException", UNZIPPED)
    assert not lam.get_function_configuration(FunctionName=f"half-{uid}").get("Layers")
    # AND a function created with both is refused
    status, kind, message = error_of(lambda: lam.create_function(
        FunctionName=f"both-{uid}", Runtime="python3.12", Role=role, Handler="app.handler",
        Code={"ZipFile": bomb(130)}, Layers=[layer],
    ))
    assert (kind, message) == ("InvalidParameterValueException", UNZIPPED)
    # AND new code over the limit leaves the old code in place
    before = lam.get_function_configuration(FunctionName=f"half-{uid}")["CodeSha256"]
    status, kind, message = error_of(lambda: lam.update_function_code(FunctionName=f"half-{uid}", ZipFile=bomb(300)))
    assert (kind, message) == ("InvalidParameterValueException", UNZIPPED)
    assert lam.get_function_configuration(FunctionName=f"half-{uid}")["CodeSha256"] == before
    assert json.loads(lam.invoke(FunctionName=f"half-{uid}")["Payload"].read()) == "ran"


def test_given_a_zip_over_50mb_in_the_request_then_it_is_too_large_for_create_function(cloud, role, uid):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as zf:  # incompressible: 51 MB zipped
        zf.writestr("app.py", "def handler(event, context):\n    return 1\n")
        zf.writestr("noise.bin", bytes(range(256)) * (51 * 4096))
    status, kind, message = error_of(lambda: cloud.client("lambda").create_function(
        FunctionName=f"fat-{uid}", Runtime="python3.12", Role=role, Handler="app.handler", Code={"ZipFile": buf.getvalue()},
    ))
    assert (status, kind) == (413, "RequestEntityTooLargeException")
    assert message == "Request must be smaller than 69905067 bytes for the CreateFunction operation"


def test_given_a_7mb_payload_when_invoked_sync_or_async_then_lambda_answers_413(cloud, role, uid):
    lam = cloud.client("lambda")
    lam.create_function(FunctionName=f"echo-{uid}", Runtime="python3.12", Role=role, Handler="app.handler",
                        Code={"ZipFile": python_zip("def handler(event, context):\n    return len(event)\n")})
    payload = json.dumps("x" * (7 * 1024 * 1024)).encode()
    status, kind, message = error_of(lambda: lam.invoke(FunctionName=f"echo-{uid}", Payload=payload))
    assert (status, kind, message) == (
        413, "RequestEntityTooLargeException", "Request must be smaller than 6291456 bytes for the InvokeFunction operation"
    )
    big_event = json.dumps("x" * (1024 * 1024 + 10)).encode()
    status, kind, message = error_of(lambda: lam.invoke(FunctionName=f"echo-{uid}", InvocationType="Event", Payload=big_event))
    assert (status, kind, message) == (
        413, "RequestEntityTooLargeException", "Request must be smaller than 1048576 bytes for the InvokeFunction operation"
    )
    # a payload within the limit still runs
    assert json.loads(lam.invoke(FunctionName=f"echo-{uid}", Payload=json.dumps("x" * 1000))["Payload"].read()) == 1000


def test_given_a_128mb_function_that_takes_600mb_when_invoked_then_it_dies_as_lambdas_out_of_memory(cloud, role, uid):
    lam = cloud.client("lambda")
    code = "def handler(event, context):\n    hog = bytearray(600 * 1024 * 1024)\n    return len(hog)\n"
    lam.create_function(FunctionName=f"hog-{uid}", Runtime="python3.12", Role=role, Handler="app.handler",
                        Code={"ZipFile": python_zip(code)}, MemorySize=128, Timeout=30)
    answer = lam.invoke(FunctionName=f"hog-{uid}", LogType="Tail")
    error = json.loads(answer["Payload"].read())
    assert answer["FunctionError"] == "Unhandled"
    assert error["errorType"] == "Runtime.ExitError"
    assert error["errorMessage"].endswith("Error: Runtime exited with error: signal: killed")
    log = base64.b64decode(answer["LogResult"]).decode()
    assert "Memory Size: 128 MB\tMax Memory Used: 128 MB" in log
    # AND the same function within its memory runs on a fresh environment
    small = "def handler(event, context):\n    return 'fits'\n"
    lam.update_function_code(FunctionName=f"hog-{uid}", ZipFile=python_zip(small))
    assert json.loads(lam.invoke(FunctionName=f"hog-{uid}")["Payload"].read()) == "fits"


def test_given_versions_published_and_the_newest_deleted_when_published_again_then_numbers_are_never_reused(cloud, role, uid):
    lam = cloud.client("lambda")
    name = f"versions-{uid}"
    lam.create_function(FunctionName=name, Runtime="python3.12", Role=role, Handler="app.handler",
                        Code={"ZipFile": same_zip("def handler(e, c):\n    return 1\n")})
    assert lam.publish_version(FunctionName=name)["Version"] == "1"
    # an unchanged function publishes nothing new, even after an UpdateFunctionCode with the same code
    lam.update_function_code(FunctionName=name, ZipFile=same_zip("def handler(e, c):\n    return 1\n"))
    assert lam.publish_version(FunctionName=name)["Version"] == "1"
    lam.update_function_code(FunctionName=name, ZipFile=same_zip("def handler(e, c):\n    return 2\n"))
    assert lam.publish_version(FunctionName=name)["Version"] == "2"
    lam.delete_function(FunctionName=name, Qualifier="2")
    lam.update_function_code(FunctionName=name, ZipFile=same_zip("def handler(e, c):\n    return 3\n"))
    assert lam.publish_version(FunctionName=name)["Version"] == "3"
    lam.update_function_configuration(FunctionName=name, MemorySize=256)
    assert lam.publish_version(FunctionName=name)["Version"] == "4"
    versions = [v["Version"] for v in lam.list_versions_by_function(FunctionName=name)["Versions"]]
    assert versions == ["$LATEST", "1", "3", "4"]


def test_given_a_template_of_601_resources_when_a_stack_is_created_then_cloudformation_refuses_it_in_the_call(cloud, uid):
    cf = cloud.client("cloudformation")
    template = {"Resources": {f"Queue{i}": {"Type": "AWS::SQS::Queue"} for i in range(601)}}
    status, kind, message = error_of(lambda: cf.create_stack(StackName=f"too-many-{uid}", TemplateBody=json.dumps(template)))
    assert (status, kind) == (400, "ValidationError")
    assert message == "Template format error: Number of resources, 601, is greater than maximum allowed, 500"
    assert error_of(lambda: cf.describe_stacks(StackName=f"too-many-{uid}"))[1] == "ValidationError"


def test_given_a_task_result_over_256kb_then_the_execution_fails_with_states_data_limit_exceeded_past_a_catch_all(cloud, uid):
    lam = cloud.client("lambda")
    name = f"big-result-{uid}"
    lam.create_function(FunctionName=name, Runtime="python3.12", Role=lambda_role(cloud, "limits-tests"),
                        Handler="app.handler",
                        Code={"ZipFile": python_zip("def handler(event, context):\n    return 'x' * (300 * 1024)\n")})
    role = service_role(cloud, f"limits-sfn-{uid}", "states.amazonaws.com",
                        [{"Effect": "Allow", "Action": "lambda:InvokeFunction", "Resource": "*"}])
    definition = {
        "StartAt": "Big",
        "States": {
            "Big": {
                "Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
                "Parameters": {"FunctionName": name, "Payload": {}}, "OutputPath": "$.Payload", "End": True,
                # a terminal error: States.ALL does not catch it (AWS's error handling guide)
                "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Caught"}],
            },
            "Caught": {"Type": "Pass", "End": True},
        },
    }
    sfn = cloud.client("stepfunctions")
    arn = sfn.create_state_machine(name=f"big-{uid}", definition=json.dumps(definition), roleArn=role)["stateMachineArn"]
    execution = sfn.start_execution(stateMachineArn=arn)["executionArn"]
    deadline = time.monotonic() + 60
    while (described := sfn.describe_execution(executionArn=execution))["status"] == "RUNNING":
        assert time.monotonic() < deadline
        time.sleep(0.2)
    assert described["status"] == "FAILED"
    assert described["error"] == "States.DataLimitExceeded"
    assert "returned a result with a size exceeding the maximum number of bytes service limit" in described["cause"]


def test_given_a_stack_whose_function_code_unpacks_past_250mb_then_the_resource_fails_with_lambdas_message(cloud, role, uid):
    s3, cf = cloud.client("s3"), cloud.client("cloudformation")
    s3.create_bucket(Bucket=f"code-{uid}")
    s3.put_object(Bucket=f"code-{uid}", Key="bomb.zip", Body=bomb(300))
    template = {"Resources": {"Bomb": {"Type": "AWS::Lambda::Function", "Properties": {
        "Runtime": "python3.12", "Handler": "app.handler", "Role": role,
        "Code": {"S3Bucket": f"code-{uid}", "S3Key": "bomb.zip"},
    }}}}
    cf.create_stack(StackName=f"bomb-{uid}", TemplateBody=json.dumps(template))
    deadline = time.monotonic() + 60
    while (status := cf.describe_stacks(StackName=f"bomb-{uid}")["Stacks"][0]["StackStatus"]).endswith("IN_PROGRESS"):
        assert time.monotonic() < deadline
        time.sleep(0.2)
    reasons = [e.get("ResourceStatusReason", "") for e in cf.describe_stack_events(StackName=f"bomb-{uid}")["StackEvents"]]
    assert status == "ROLLBACK_COMPLETE"
    assert any(UNZIPPED in r for r in reasons), reasons


def test_given_an_input_over_256kb_when_an_execution_is_started_then_step_functions_refuses_it(cloud, uid):
    role = service_role(cloud, f"limits-pass-{uid}", "states.amazonaws.com", [])
    sfn = cloud.client("stepfunctions")
    definition = {"StartAt": "Done", "States": {"Done": {"Type": "Pass", "End": True}}}
    arn = sfn.create_state_machine(name=f"pass-{uid}", definition=json.dumps(definition), roleArn=role)["stateMachineArn"]
    status, kind, message = error_of(lambda: sfn.start_execution(stateMachineArn=arn, input=json.dumps("x" * 262144)))
    assert (status, kind) == (400, "ValidationException")
    assert "Member must have length less than or equal to 262144" in message
    assert sfn.list_executions(stateMachineArn=arn)["executions"] == []
    # an input within the limit starts (the sentinel)
    assert sfn.start_execution(stateMachineArn=arn, input=json.dumps("x" * 1000))["executionArn"]
