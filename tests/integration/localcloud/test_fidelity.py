"""What the local cloud got silently wrong, now answered as AWS documents it: a stack never takes
over a bucket another made, BucketKeyEnabled in BucketEncryption, the optimized DynamoDB
integration's result, a regional service principal, Node's missing-module error."""

from __future__ import annotations

import json
import time

import pytest

from tests.archives import zip_of
from tests.integration.localcloud.lambda_helpers import lambda_role, service_role


def settle(cf, name: str, timeout: float = 60) -> dict:
    deadline = time.monotonic() + timeout
    while (stack := cf.describe_stacks(StackName=name)["Stacks"][0])["StackStatus"].endswith("IN_PROGRESS"):
        assert time.monotonic() < deadline, stack
        time.sleep(0.2)
    return stack


def reasons(cf, name: str) -> list[str]:
    return [e.get("ResourceStatusReason", "") for e in cf.describe_stack_events(StackName=name)["StackEvents"]]


def test_given_a_bucket_made_by_one_stack_when_another_stack_names_it_then_it_fails_and_its_rollback_leaves_the_bucket(cloud, uid):
    cf, s3 = cloud.client("cloudformation"), cloud.client("s3")
    bucket = f"shared-{uid}"
    # GIVEN dev's stack made the bucket, with a tag of its own
    dev = {"Resources": {"Data": {"Type": "AWS::S3::Bucket", "Properties": {
        "BucketName": bucket, "Tags": [{"Key": "stage", "Value": "dev"}]}}}}
    cf.create_stack(StackName=f"dev-{uid}", TemplateBody=json.dumps(dev))
    assert settle(cf, f"dev-{uid}")["StackStatus"] == "CREATE_COMPLETE"
    # WHEN prod's stack makes a bucket of its own first, then names dev's
    prod = {"Resources": {
        "Own": {"Type": "AWS::S3::Bucket", "Properties": {"BucketName": f"prod-own-{uid}"}},
        "Data": {"Type": "AWS::S3::Bucket", "DependsOn": "Own", "Properties": {
            "BucketName": bucket, "Tags": [{"Key": "stage", "Value": "prod"}]}},
    }}
    cf.create_stack(StackName=f"prod-{uid}", TemplateBody=json.dumps(prod))
    stack = settle(cf, f"prod-{uid}")
    # THEN prod fails naming the bucket, as CloudFormation does ("<name> already exists")
    assert stack["StackStatus"] == "ROLLBACK_COMPLETE", stack
    assert any(f"{bucket} already exists" in r for r in reasons(cf, f"prod-{uid}")), reasons(cf, f"prod-{uid}")
    # AND its rollback deleted what it made, and left dev's bucket as dev made it
    assert f"prod-own-{uid}" not in {b["Name"] for b in s3.list_buckets()["Buckets"]}
    assert s3.get_bucket_tagging(Bucket=bucket)["TagSet"] == [{"Key": "stage", "Value": "dev"}]


def test_given_bucket_encryption_with_bucket_key_enabled_then_the_stack_creates_the_bucket_with_it(cloud, uid):
    cf, s3 = cloud.client("cloudformation"), cloud.client("s3")
    template = f"""
Resources:
  Data:
    Type: AWS::S3::Bucket
    Properties:
      BucketName: keyed-{uid}
      BucketEncryption:
        ServerSideEncryptionConfiguration:
          - BucketKeyEnabled: true
            ServerSideEncryptionByDefault:
              SSEAlgorithm: aws:kms
"""
    cf.create_stack(StackName=f"keyed-{uid}", TemplateBody=template)
    stack = settle(cf, f"keyed-{uid}")
    assert stack["StackStatus"] == "CREATE_COMPLETE", reasons(cf, f"keyed-{uid}")
    [rule] = s3.get_bucket_encryption(Bucket=f"keyed-{uid}")["ServerSideEncryptionConfiguration"]["Rules"]
    assert rule["BucketKeyEnabled"] is True
    assert rule["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "aws:kms"
    # AND a rule of BucketKeyEnabled alone (its default encryption left to S3: SSE-S3) is accepted too
    s3.create_bucket(Bucket=f"keyonly-{uid}")
    s3.put_bucket_encryption(Bucket=f"keyonly-{uid}", ServerSideEncryptionConfiguration={"Rules": [{"BucketKeyEnabled": True}]})
    [rule] = s3.get_bucket_encryption(Bucket=f"keyonly-{uid}")["ServerSideEncryptionConfiguration"]["Rules"]
    assert (rule["BucketKeyEnabled"], rule["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"]) == (True, "AES256")


def run_machine(cloud, name: str, definition: dict, role: str) -> dict:
    sfn = cloud.client("stepfunctions")
    arn = sfn.create_state_machine(name=name, definition=json.dumps(definition), roleArn=role)["stateMachineArn"]
    execution = sfn.start_execution(stateMachineArn=arn, input="{}")["executionArn"]
    deadline = time.monotonic() + 60
    while (described := sfn.describe_execution(executionArn=execution))["status"] == "RUNNING":
        assert time.monotonic() < deadline
        time.sleep(0.2)
    return described


def test_given_dynamodb_put_item_tasks_then_the_optimized_one_returns_the_sdk_metadata_and_the_sdk_one_the_fields(cloud, uid):
    table = f"sfn-ddb-{uid}"
    cloud.client("dynamodb").create_table(
        TableName=table, BillingMode="PAY_PER_REQUEST",
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}], AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
    )
    # the role is trusted through the regional service principal, which AWS accepts
    role = service_role(cloud, f"sfn-ddb-{uid}", "states.us-east-1.amazonaws.com", [
        {"Effect": "Allow", "Action": ["dynamodb:PutItem", "dynamodb:GetItem"],
         "Resource": f"arn:aws:dynamodb:us-east-1:123456789012:table/{table}"},
    ])
    put = {"TableName": table, "Item": {"pk": {"S": "a"}, "n": {"N": "1"}}}
    definition = {
        "StartAt": "Optimized",
        "States": {
            "Optimized": {"Type": "Task", "Resource": "arn:aws:states:::dynamodb:putItem", "Parameters": put,
                          "ResultPath": "$.optimized", "Next": "Sdk"},
            "Sdk": {"Type": "Task", "Resource": "arn:aws:states:::aws-sdk:dynamodb:putItem", "Parameters": put,
                    "ResultPath": "$.sdk", "Next": "Get"},
            "Get": {"Type": "Task", "Resource": "arn:aws:states:::dynamodb:getItem",
                    "Parameters": {"TableName": table, "Key": {"pk": {"S": "a"}}}, "ResultPath": "$.got", "End": True},
        },
    }
    described = run_machine(cloud, f"ddb-{uid}", definition, role)
    assert described["status"] == "SUCCEEDED", described
    output = json.loads(described["output"])
    optimized = output["optimized"]
    assert set(optimized) == {"SdkHttpMetadata", "SdkResponseMetadata"}
    assert optimized["SdkHttpMetadata"]["HttpStatusCode"] == 200
    assert optimized["SdkResponseMetadata"]["RequestId"]
    assert optimized["SdkHttpMetadata"]["HttpHeaders"]["Content-Type"].startswith("application/x-amz-json-1.0")
    # the AWS SDK integration returns PutItem's response fields: none without ReturnValues
    assert output["sdk"] == {}
    assert output["got"]["Item"] == {"pk": {"S": "a"}, "n": {"N": "1"}}
    assert "SdkResponseMetadata" in output["got"]


def test_given_a_node_handler_requiring_a_missing_package_then_the_error_names_that_package(cloud, uid):
    lam = cloud.client("lambda")
    role = lambda_role(cloud, "fidelity-tests")
    code = zip_of({"index.js": "const left = require('left-pad-missing');\nexports.handler = async () => left('x', 3);\n"})
    lam.create_function(FunctionName=f"node-missing-{uid}", Runtime="nodejs20.x", Role=role, Handler="index.handler",
                        Code={"ZipFile": code})
    lam.create_function(FunctionName=f"node-nohandler-{uid}", Runtime="nodejs20.x", Role=role, Handler="gone.handler",
                        Code={"ZipFile": code})
    missing = json.loads(lam.invoke(FunctionName=f"node-missing-{uid}")["Payload"].read())
    no_handler = json.loads(lam.invoke(FunctionName=f"node-nohandler-{uid}")["Payload"].read())
    # THEN the dependency that is missing is named (not the handler's own module), with who required it
    assert missing["errorType"] == "Runtime.ImportModuleError"
    assert missing["errorMessage"].startswith("Error: Cannot find module 'left-pad-missing'")
    assert "Require stack:" in missing["errorMessage"] and "index.js" in missing["errorMessage"]
    # AND a handler file that is not there names the handler's module
    assert no_handler["errorType"] == "Runtime.ImportModuleError"
    assert no_handler["errorMessage"] == "Error: Cannot find module 'gone'"


@pytest.mark.parametrize("size_mb", [7])
def test_given_a_7mb_request_or_response_through_api_gateway_then_api_gateway_answers_as_on_aws(cloud, uid, size_mb):
    """API Gateway takes up to 10 MB, Lambda's synchronous Invoke 6 MB: a bigger request fails the
    integration (API Gateway's 500 for a Lambda service error) and the function is not invoked; a
    bigger response is the function's error, API Gateway's 502."""
    import urllib.error
    import urllib.request

    lam = cloud.client("lambda")
    role = lambda_role(cloud, "fidelity-tests")
    name = f"gw-big-{uid}"
    code = zip_of({"app.py": (
        "def handler(event, context):\n"
        "    if event.get('path') == '/big':\n"
        "        return {'statusCode': 200, 'body': 'y' * (7 * 1024 * 1024)}\n"
        "    print('received', len(event.get('body') or ''))\n"
        "    return {'statusCode': 200, 'body': str(len(event.get('body') or ''))}\n"
    )})
    arn = lam.create_function(FunctionName=name, Runtime="python3.12", Role=role, Handler="app.handler",
                              Code={"ZipFile": code})["FunctionArn"]
    apigw = cloud.client("apigateway")
    api = apigw.create_rest_api(name=f"big-{uid}")["id"]
    root = apigw.get_resources(restApiId=api)["items"][0]["id"]
    apigw.put_method(restApiId=api, resourceId=root, httpMethod="POST", authorizationType="NONE")
    apigw.put_integration(restApiId=api, resourceId=root, httpMethod="POST", type="AWS_PROXY", integrationHttpMethod="POST",
                          uri=f"arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/{arn}/invocations")
    big = apigw.create_resource(restApiId=api, parentId=root, pathPart="big")["id"]
    apigw.put_method(restApiId=api, resourceId=big, httpMethod="POST", authorizationType="NONE")
    apigw.put_integration(restApiId=api, resourceId=big, httpMethod="POST", type="AWS_PROXY", integrationHttpMethod="POST",
                          uri=f"arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/{arn}/invocations")
    lam.add_permission(FunctionName=name, StatementId="apigw", Action="lambda:InvokeFunction", Principal="apigateway.amazonaws.com")
    apigw.create_deployment(restApiId=api, stageName="prod")
    url = f"{cloud.endpoint}/_aws/execute-api/{api}/prod/"

    def post(body: bytes, path: str = "") -> tuple[int, bytes]:
        try:
            with urllib.request.urlopen(urllib.request.Request(url + path, data=body, method="POST"), timeout=60) as r:
                return r.status, r.read()
        except urllib.error.HTTPError as e:
            return e.code, e.read()

    status, body = post(b"x" * (size_mb * 1024 * 1024))
    assert status == 500 and json.loads(body) == {"message": "Internal server error"}, (status, body[:200])
    # a response over Lambda's 6 MB is the function's error (Function.ResponseSizeTooLarge): API Gateway's 502
    status, body = post(b"", "big")
    assert status == 502 and json.loads(body) == {"message": "Internal server error"}, (status, body[:200])
    # a request within the limit is served (sentinel: the function runs when it may)
    assert post(b"x" * 10) == (200, b"10")
    logs = cloud.client("logs")
    deadline = time.monotonic() + 15

    def received() -> list[str]:
        try:
            events = logs.filter_log_events(logGroupName=f"/aws/lambda/{name}", filterPattern="received")["events"]
        except logs.exceptions.ResourceNotFoundException:
            return []
        return [e["message"].strip() for e in events]

    while "received 10" not in (found := received()):  # the sentinel's line: what came before it is in
        assert time.monotonic() < deadline
        time.sleep(0.2)
    assert found == ["received 10"]  # the sentinel's: never the 7 MB request's
