"""CloudFormation on the local cloud: SAM and plain templates provisioned through the real API
(boto3 and the aws CLI), checked through the APIs of the resources they made."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests
from botocore.exceptions import ClientError, WaiterError

TEMPLATES = Path(__file__).parent / "templates"
FAST = {"Delay": 1, "MaxAttempts": 120}


# ---- helpers ---------------------------------------------------------------------------------


def wait_settled(cf, stack: str, timeout: float = 120) -> dict:
    """The stack once no operation is in progress on it."""
    deadline = time.monotonic() + timeout
    while True:
        found = cf.describe_stacks(StackName=stack)["Stacks"][0]
        status = found["StackStatus"]
        if not status.endswith("IN_PROGRESS") or status == "REVIEW_IN_PROGRESS":
            return found
        assert time.monotonic() < deadline, f"{stack} still {status}"
        time.sleep(0.3)


def outputs(stack: dict) -> dict[str, str]:
    return {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}


def resources(cf, stack: str) -> dict[str, dict]:
    return {r["LogicalResourceId"]: r for r in cf.describe_stack_resources(StackName=stack)["StackResources"]}


def of_type(cf, stack: str, type_name: str) -> dict[str, str]:
    return {
        lid: r["PhysicalResourceId"]
        for lid, r in resources(cf, stack).items()
        if r["ResourceType"] == type_name
    }


def events(cf, stack: str) -> list[dict]:
    return list(reversed(cf.describe_stack_events(StackName=stack)["StackEvents"]))


def sam_app(tmp_path: Path) -> Path:
    """A private copy of the SAM app, so a test may edit its code."""
    target = tmp_path / "sam_app"
    shutil.copytree(TEMPLATES / "sam_app", target)
    return target / "template.yaml"


def create(cf, name: str, template: Path, **kwargs) -> dict:
    cf.create_stack(StackName=name, TemplateURL=template.as_uri(), Capabilities=["CAPABILITY_IAM"], **kwargs)
    stack = wait_settled(cf, name)
    assert stack["StackStatus"] == "CREATE_COMPLETE", stack.get("StackStatusReason")
    cf.get_waiter("stack_create_complete").wait(StackName=name, WaiterConfig=FAST)
    return stack


def failed_reason(cf, name: str, status: str) -> str:
    stack = wait_settled(cf, name)
    assert stack["StackStatus"] == status, stack
    return stack["StackStatusReason"]


# ---- SAM: create, configuration, invoke --------------------------------------------------------


@pytest.fixture(scope="module")
def sam_stack(cloud, tmp_path_factory):
    """The SAM app, deployed once for the read-only tests of this module."""
    cf = cloud.client("cloudformation")
    name = f"sam-app-{os.getpid()}"
    stack = create(
        cf,
        name,
        sam_app(tmp_path_factory.mktemp("sam")),
        Parameters=[{"ParameterKey": "Stage", "ParameterValue": "prod"}],
    )
    return name, stack


def test_given_a_sam_template_when_created_then_functions_have_the_configuration_it_declares(
    cloud, sam_stack
):
    name, stack = sam_stack
    lam = cloud.client("lambda")
    out = outputs(stack)
    a = lam.get_function_configuration(FunctionName=out["AFunctionName"])
    b = lam.get_function_configuration(FunctionName=out["BFunctionName"])
    assert (a["Runtime"], a["Handler"], a["MemorySize"], a["Timeout"]) == (
        "python3.11",
        "app.handler",
        256,
        10,
    )
    assert b["Timeout"] == 7  # the function's own value wins over Globals
    assert a["Environment"]["Variables"] == {"STAGE": "prod", "TABLE": out["TableName"], "GREETING": "hello"}
    layer = of_type(cloud.client("cloudformation"), name, "AWS::Lambda::LayerVersion")
    assert [layer_ref["Arn"] for layer_ref in a["Layers"]] == list(layer.values())
    role = cloud.client("iam").get_role(RoleName=a["Role"].split("/")[-1])["Role"]
    assert role["Arn"] == a["Role"]
    attached = cloud.client("iam").list_attached_role_policies(RoleName=role["RoleName"])["AttachedPolicies"]
    assert [p["PolicyName"] for p in attached] == ["AWSLambdaBasicExecutionRole"]
    assert lam.get_alias(FunctionName=out["AFunctionName"], Name="live")["FunctionVersion"] == "1"


def test_given_a_sam_template_when_created_then_table_rule_and_parameters_are_as_declared(cloud, sam_stack):
    name, stack = sam_stack
    out = outputs(stack)
    table = cloud.client("dynamodb").describe_table(TableName=out["TableName"])["Table"]
    assert table["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"
    assert [i["IndexName"] for i in table["GlobalSecondaryIndexes"]] == ["gsi1"]
    assert table["StreamSpecification"] == {"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"}
    assert out["TableStreamArn"] == table["LatestStreamArn"]
    rule_name = of_type(cloud.client("cloudformation"), name, "AWS::Events::Rule")["BFunctionTick"]
    events_client = cloud.client("events")
    rule = events_client.describe_rule(Name=rule_name)
    assert (rule["ScheduleExpression"], rule["State"]) == ("rate(1 day)", "DISABLED")
    (target,) = events_client.list_targets_by_rule(Rule=rule_name)["Targets"]
    assert target["Input"] == '{"source": "schedule"}' and target["Arn"].endswith(":live")
    params = {p["ParameterKey"]: p["ParameterValue"] for p in stack["Parameters"]}
    assert params == {"Stage": "prod", "Greeting": "****"}  # NoEcho
    exports = {e["Name"]: e["Value"] for e in cloud.client("cloudformation").list_exports()["Exports"]}
    assert exports[f"{name}-table"] == out["TableName"]


def test_given_a_sam_function_when_invoked_through_its_alias_then_its_code_and_layer_run(cloud, sam_stack):
    _, stack = sam_stack
    result = cloud.client("lambda").invoke(
        FunctionName=outputs(stack)["AFunctionName"],
        Qualifier="live",
        Payload=json.dumps({"pathParameters": {"name": "sam"}}),
    )
    assert "FunctionError" not in result
    assert json.loads(result["Payload"].read()) == {"statusCode": 200, "body": "hello, sam! prod"}


def test_given_a_stack_with_an_api_then_its_url_output_is_the_local_gateway_and_serves_the_function(
    cloud, sam_stack
):
    name, stack = sam_stack
    api_id = of_type(cloud.client("cloudformation"), name, "AWS::ApiGateway::RestApi")["ServerlessRestApi"]
    url = outputs(stack)["ApiUrl"]
    assert url == f"{cloud.endpoint}/_aws/execute-api/{api_id}/Prod/"
    response = requests.get(url + "hello/gateway", timeout=30)
    assert (response.status_code, response.text) == (200, "hello, gateway! prod")


def test_given_a_stack_then_describe_apis_answer_for_it(cloud, sam_stack):
    name, stack = sam_stack
    cf = cloud.client("cloudformation")
    assert stack["StackStatus"] == "CREATE_COMPLETE" and stack["Description"].startswith("Two functions")
    listed = {
        s["StackName"]: s["StackStatus"]
        for s in cf.list_stacks(StackStatusFilter=["CREATE_COMPLETE"])["StackSummaries"]
    }
    assert listed[name] == "CREATE_COMPLETE"
    detail = cf.describe_stack_resource(StackName=name, LogicalResourceId="Items")["StackResourceDetail"]
    assert detail["ResourceType"] == "AWS::DynamoDB::Table" and detail["ResourceStatus"] == "CREATE_COMPLETE"
    original = cf.get_template(StackName=name)["TemplateBody"]
    assert "AWS::Serverless::Function" in original
    processed = cf.get_template(StackName=name, TemplateStage="Processed")["TemplateBody"]
    assert processed["Resources"]["AFunction"]["Type"] == "AWS::Lambda::Function"
    statuses = [(e["LogicalResourceId"], e["ResourceStatus"]) for e in events(cf, name)]
    assert statuses[0] == (name, "CREATE_IN_PROGRESS") and statuses[-1] == (name, "CREATE_COMPLETE")
    assert ("AFunction", "CREATE_COMPLETE") in statuses and ("Items", "CREATE_IN_PROGRESS") in statuses


# ---- updates ---------------------------------------------------------------------------------


def test_given_two_functions_when_one_functions_code_changes_then_one_version_is_published_and_only_its_alias_moves(
    cloud, uid, tmp_path
):
    cf, lam = cloud.client("cloudformation"), cloud.client("lambda")
    template = sam_app(tmp_path)
    name = f"sam-update-{uid}"
    out = outputs(create(cf, name, template))
    a, b = out["AFunctionName"], out["BFunctionName"]
    a_before = lam.get_function_configuration(FunctionName=a)
    events_before = len(events(cf, name))

    code = template.parent / "src" / "b" / "app.py"
    code.write_text(code.read_text().replace('"version": 1', '"version": 2'))
    cf.update_stack(StackName=name, TemplateURL=template.as_uri(), Capabilities=["CAPABILITY_IAM"])
    cf.get_waiter("stack_update_complete").wait(StackName=name, WaiterConfig=FAST)

    versions = lambda fn: [v["Version"] for v in lam.list_versions_by_function(FunctionName=fn)["Versions"]]  # noqa: E731
    assert versions(a) == ["$LATEST", "1"]
    assert versions(b) == ["$LATEST", "1", "2"]
    assert lam.get_alias(FunctionName=a, Name="live")["FunctionVersion"] == "1"
    assert lam.get_alias(FunctionName=b, Name="live")["FunctionVersion"] == "2"
    assert lam.get_function_configuration(FunctionName=a)["LastModified"] == a_before["LastModified"]
    touched = {e["LogicalResourceId"] for e in events(cf, name)[events_before:]}
    assert "AFunction" not in touched and "AFunctionAliaslive" not in touched
    assert {"BFunction", "BFunctionAliaslive"} <= touched
    result = lam.invoke(FunctionName=b, Qualifier="live", Payload=b"{}")
    assert json.loads(result["Payload"].read())["version"] == 2


def test_given_a_function_when_only_its_configuration_changes_then_a_new_version_serves_it(
    cloud, uid, tmp_path
):
    cf, lam = cloud.client("cloudformation"), cloud.client("lambda")
    template = sam_app(tmp_path)
    name = f"sam-config-{uid}"
    b = outputs(create(cf, name, template))["BFunctionName"]
    template.write_text(template.read_text().replace("Timeout: 7", "Timeout: 9"))
    cf.update_stack(StackName=name, TemplateURL=template.as_uri(), Capabilities=["CAPABILITY_IAM"])
    cf.get_waiter("stack_update_complete").wait(StackName=name, WaiterConfig=FAST)
    assert lam.get_function_configuration(FunctionName=b, Qualifier="live")["Timeout"] == 9
    assert lam.get_alias(FunctionName=b, Name="live")["FunctionVersion"] == "2"


def test_given_an_api_path_change_when_updated_then_the_gateway_serves_the_new_path_only(
    cloud, uid, tmp_path
):
    cf = cloud.client("cloudformation")
    template = sam_app(tmp_path)
    name = f"sam-api-{uid}"
    url = outputs(create(cf, name, template))["ApiUrl"]
    template.write_text(template.read_text().replace('Path: "/hello/{name}"', 'Path: "/hi/{name}"'))
    cf.update_stack(StackName=name, TemplateURL=template.as_uri(), Capabilities=["CAPABILITY_IAM"])
    stack = wait_settled(cf, name)
    assert stack["StackStatus"] == "UPDATE_COMPLETE", stack.get("StackStatusReason")
    assert not [e for e in events(cf, name) if e["ResourceStatus"].endswith("FAILED")]
    assert requests.get(url + "hi/there", timeout=30).text == "hello, there! dev"
    assert requests.get(url + "hello/there", timeout=30).status_code == 403
    deployments = cloud.client("apigateway").get_deployments(restApiId=url.split("/")[-3])["items"]
    assert len(deployments) == 1  # the old deployment was cleaned up


def test_given_an_unchanged_template_when_updated_then_no_updates_are_to_be_performed(cloud, uid, tmp_path):
    cf = cloud.client("cloudformation")
    template = sam_app(tmp_path)
    name = f"sam-same-{uid}"
    create(cf, name, template)
    with pytest.raises(ClientError) as e:
        cf.update_stack(StackName=name, TemplateURL=template.as_uri(), Capabilities=["CAPABILITY_IAM"])
    assert e.value.response["Error"]["Message"] == "No updates are to be performed."


def test_given_an_update_with_a_removed_resource_then_it_is_deleted(cloud, uid):
    cf, logs = cloud.client("cloudformation"), cloud.client("logs")
    name = f"logs-{uid}"
    two = {
        "Resources": {
            g: {"Type": "AWS::Logs::LogGroup", "Properties": {"LogGroupName": f"/cfn/{uid}/{g}"}}
            for g in ("One", "Two")
        }
    }
    cf.create_stack(StackName=name, TemplateBody=json.dumps(two))
    cf.get_waiter("stack_create_complete").wait(StackName=name, WaiterConfig=FAST)
    del two["Resources"]["Two"]
    two["Resources"]["One"]["Properties"]["RetentionInDays"] = 5
    cf.update_stack(StackName=name, TemplateBody=json.dumps(two))
    cf.get_waiter("stack_update_complete").wait(StackName=name, WaiterConfig=FAST)
    groups = {
        g["logGroupName"]: g for g in logs.describe_log_groups(logGroupNamePrefix=f"/cfn/{uid}/")["logGroups"]
    }
    assert list(groups) == [f"/cfn/{uid}/One"] and groups[f"/cfn/{uid}/One"]["retentionInDays"] == 5
    assert list(resources(cf, name)) == ["One"]


def test_given_an_update_that_fails_then_the_stack_rolls_back_to_what_it_was(cloud, uid):
    cf, logs = cloud.client("cloudformation"), cloud.client("logs")
    name = f"rollback-{uid}"
    body = {
        "Resources": {
            "One": {
                "Type": "AWS::Logs::LogGroup",
                "Properties": {"LogGroupName": f"/cfn/{uid}/one", "RetentionInDays": 3},
            }
        }
    }
    cf.create_stack(StackName=name, TemplateBody=json.dumps(body))
    cf.get_waiter("stack_create_complete").wait(StackName=name, WaiterConfig=FAST)
    body["Resources"]["One"]["Properties"]["RetentionInDays"] = 5
    body["Resources"]["Clash"] = {
        "Type": "AWS::Logs::LogGroup",
        "DependsOn": "One",
        "Properties": {"LogGroupName": f"/cfn/{uid}/one"},
    }
    cf.update_stack(StackName=name, TemplateBody=json.dumps(body))
    reason = failed_reason(cf, name, "UPDATE_ROLLBACK_COMPLETE")
    assert "Clash" in reason and "AWS::Logs::LogGroup" in reason
    (group,) = logs.describe_log_groups(logGroupNamePrefix=f"/cfn/{uid}/")["logGroups"]
    assert group["retentionInDays"] == 3
    assert list(resources(cf, name)) == ["One"]


# ---- change sets -----------------------------------------------------------------------------


def _log_groups(uid: str, *names: str, retention: dict | None = None) -> str:
    res = {}
    for n in names:
        props = {"LogGroupName": f"/cs/{uid}/{n}"}
        if retention and n in retention:
            props["RetentionInDays"] = retention[n]
        res[n] = {"Type": "AWS::Logs::LogGroup", "Properties": props}
    return json.dumps({"Resources": res})


def test_given_a_change_set_of_type_create_when_executed_then_the_stack_is_created(cloud, uid):
    cf = cloud.client("cloudformation")
    name = f"cs-create-{uid}"
    made = cf.create_change_set(
        StackName=name, ChangeSetName="first", ChangeSetType="CREATE", TemplateBody=_log_groups(uid, "A")
    )
    cf.get_waiter("change_set_create_complete").wait(ChangeSetName=made["Id"], WaiterConfig=FAST)
    assert cf.describe_stacks(StackName=name)["Stacks"][0]["StackStatus"] == "REVIEW_IN_PROGRESS"
    described = cf.describe_change_set(ChangeSetName="first", StackName=name)
    assert [
        (c["ResourceChange"]["Action"], c["ResourceChange"]["LogicalResourceId"])
        for c in described["Changes"]
    ] == [("Add", "A")]
    assert [s["ChangeSetName"] for s in cf.list_change_sets(StackName=name)["Summaries"]] == ["first"]
    cf.execute_change_set(ChangeSetName=made["Id"])
    cf.get_waiter("stack_create_complete").wait(StackName=name, WaiterConfig=FAST)
    assert list(resources(cf, name)) == ["A"]


def test_given_a_change_set_then_it_lists_add_modify_remove_with_replacement(cloud, uid):
    cf = cloud.client("cloudformation")
    name = f"cs-update-{uid}"
    cf.create_stack(StackName=name, TemplateBody=_log_groups(uid, "Keep", "Tune", "Rename", "Drop"))
    cf.get_waiter("stack_create_complete").wait(StackName=name, WaiterConfig=FAST)
    changed = json.loads(_log_groups(uid, "Keep", "Tune", "Rename", "New", retention={"Tune": 7}))
    changed["Resources"]["Rename"]["Properties"]["LogGroupName"] += "-renamed"
    cf.create_change_set(StackName=name, ChangeSetName="second", TemplateBody=json.dumps(changed))
    cf.get_waiter("change_set_create_complete").wait(
        ChangeSetName="second", StackName=name, WaiterConfig=FAST
    )
    described = cf.describe_change_set(ChangeSetName="second", StackName=name)
    assert described["Status"] == "CREATE_COMPLETE" and described["ExecutionStatus"] == "AVAILABLE"
    changes = {c["ResourceChange"]["LogicalResourceId"]: c["ResourceChange"] for c in described["Changes"]}
    assert {lid: c["Action"] for lid, c in changes.items()} == {
        "Tune": "Modify",
        "Rename": "Modify",
        "New": "Add",
        "Drop": "Remove",
    }
    assert changes["Tune"]["Replacement"] == "False" and changes["Rename"]["Replacement"] == "True"
    assert changes["Tune"]["Details"][0]["Target"] == {
        "Attribute": "Properties",
        "Name": "RetentionInDays",
        "RequiresRecreation": "Never",
    }
    assert changes["Drop"]["PhysicalResourceId"] == f"/cs/{uid}/Drop"
    assert all(c["ResourceType"] == "AWS::Logs::LogGroup" for c in changes.values())

    cf.execute_change_set(ChangeSetName="second", StackName=name)
    cf.get_waiter("stack_update_complete").wait(StackName=name, WaiterConfig=FAST)
    names = sorted(
        g["logGroupName"]
        for g in cloud.client("logs").describe_log_groups(logGroupNamePrefix=f"/cs/{uid}/")["logGroups"]
    )
    assert names == [f"/cs/{uid}/{n}" for n in ("Keep", "New", "Rename-renamed", "Tune")]
    assert (
        cf.describe_change_set(ChangeSetName="second", StackName=name)["ExecutionStatus"]
        == "EXECUTE_COMPLETE"
    )


def test_given_a_change_set_without_changes_then_it_fails_as_cloudformation_says(cloud, uid):
    cf = cloud.client("cloudformation")
    name = f"cs-none-{uid}"
    cf.create_stack(StackName=name, TemplateBody=_log_groups(uid, "A"))
    cf.get_waiter("stack_create_complete").wait(StackName=name, WaiterConfig=FAST)
    cf.create_change_set(StackName=name, ChangeSetName="nothing", TemplateBody=_log_groups(uid, "A"))
    with pytest.raises(WaiterError):
        cf.get_waiter("change_set_create_complete").wait(
            ChangeSetName="nothing", StackName=name, WaiterConfig=FAST
        )
    described = cf.describe_change_set(ChangeSetName="nothing", StackName=name)
    assert described["Status"] == "FAILED"
    assert described["StatusReason"].startswith("The submitted information didn't contain changes.")
    cf.delete_change_set(ChangeSetName="nothing", StackName=name)
    assert cf.list_change_sets(StackName=name)["Summaries"] == []


def test_given_a_sam_change_set_after_a_code_change_then_the_function_is_modified_and_its_version_replaced(
    cloud, uid, tmp_path
):
    cf = cloud.client("cloudformation")
    template = sam_app(tmp_path)
    name = f"sam-cs-{uid}"
    create(cf, name, template)
    code = template.parent / "src" / "a" / "app.py"
    code.write_text(code.read_text() + "\n# changed\n")
    cf.create_change_set(
        StackName=name, ChangeSetName="code", TemplateURL=template.as_uri(), Capabilities=["CAPABILITY_IAM"]
    )
    changes = [
        c["ResourceChange"] for c in cf.describe_change_set(ChangeSetName="code", StackName=name)["Changes"]
    ]
    by_action = {(c["Action"], c["ResourceType"]) for c in changes}
    assert ("Modify", "AWS::Lambda::Function") in by_action
    assert ("Add", "AWS::Lambda::Version") in by_action and ("Remove", "AWS::Lambda::Version") in by_action
    assert {c["LogicalResourceId"] for c in changes if c["ResourceType"] == "AWS::Lambda::Function"} == {
        "AFunction"
    }


# ---- intrinsics, parameters, outputs -----------------------------------------------------------


def test_given_intrinsics_and_conditions_then_values_and_outputs_are_computed_as_cloudformation_does(
    cloud, uid
):
    cf = cloud.client("cloudformation")
    name = f"intrinsics-{uid}"
    body = (TEMPLATES / "intrinsics.yaml").read_text()
    cf.create_stack(
        StackName=name, TemplateBody=body, Parameters=[{"ParameterKey": "Suffix", "ParameterValue": "sfx"}]
    )
    cf.get_waiter("stack_create_complete").wait(StackName=name, WaiterConfig=FAST)
    out = outputs(cf.describe_stacks(StackName=name)["Stacks"][0])
    assert out["LogGroup"] == f"/cfn-test/{name}/beta"
    assert out["BucketArn"] == f"arn:aws:s3:::{name}-sfx-bucket"
    assert out["Zones"] == ",".join(f"us-east-1{z}" for z in "abcdef")
    assert out["Encoded"] == "bG9jYWxjbG91ZA=="
    assert out["Literal"] == "${NotAVariable} in us-east-1/123456789012/aws"
    assert out["EitherOutput"] == "dev-with-suffix" and out["Names"] == "alpha+beta+gamma"
    assert "ProdLog" not in out
    assert list(resources(cf, name)) == ["Logs", "Bucket"]  # ProdOnly's condition is false
    group = cloud.client("logs").describe_log_groups(logGroupNamePrefix=out["LogGroup"])["logGroups"][0]
    assert group["retentionInDays"] == 3
    tags = {
        t["Key"]: t["Value"]
        for t in cloud.client("s3").get_bucket_tagging(Bucket=f"{name}-sfx-bucket")["TagSet"]
    }
    assert tags == {"logs": group["arn"], "env": "dev"}  # AWS::NoValue drops the prod tag


# ---- bad input: ValidationError in the call, as CloudFormation answers ------------------------

INTRINSICS = (TEMPLATES / "intrinsics.yaml").read_text()

BAD_TEMPLATES = {
    "yaml-syntax": (
        "Resources:\n  A:\n    Type: AWS::Logs::LogGroup\n    Properties: {LogGroupName: [unclosed\n",
        ["YAML not well-formed", "line"],
    ),
    "json-syntax": (
        '{"Resources": {"A": {"Type": "AWS::Logs::LogGroup",}}}',
        ["JSON not well-formed", "line 1"],
    ),
    "unknown-section": (
        '{"Resources": {"A": {"Type": "AWS::Logs::LogGroup"}}, "Resource": {}}',
        ["Template format error", "Resource"],
    ),
    "no-type": (
        '{"Resources": {"A": {"Properties": {}}}}',
        ["Template format error", "resource A has no Type"],
    ),
    "unknown-type": (
        '{"Resources": {"Thing": {"Type": "AWS::Made::Up"}}}',
        ["Unrecognized resource types", "AWS::Made::Up", "Thing"],
    ),
    "dangling-ref": (
        '{"Resources": {"Group": {"Type": "AWS::Logs::LogGroup", "Properties": {"LogGroupName": {"Ref": "Nowhere"}}}}}',
        ["Group", "Unresolved resource dependencies [Nowhere]"],
    ),
    "dangling-getatt": (
        '{"Resources": {"Group": {"Type": "AWS::Logs::LogGroup", "Properties": {"LogGroupName": {"Fn::GetAtt": ["Ghost", "Arn"]}}}}}',
        ["Group", "Unresolved resource dependencies [Ghost]"],
    ),
    "unknown-attribute": (
        '{"Resources": {"A": {"Type": "AWS::Logs::LogGroup"}, "B": {"Type": "AWS::Logs::LogGroup", "Properties": {"LogGroupName": {"Fn::GetAtt": ["A", "Colour"]}}}}}',
        ["B", "does not support attribute type Colour"],
    ),
    "missing-parameter": (INTRINSICS, ["Parameters: ['Suffix'] must have values"]),
    "unknown-parameter": (
        '{"Resources": {"A": {"Type": "AWS::Logs::LogGroup"}}}',
        ["Parameters: ['Suffix'] do not exist in the template"],
    ),
    "parameter-not-allowed": (INTRINSICS, ["Parameter 'Env' must be one of AllowedValues"]),
}
GIVEN_PARAMETERS = {
    "unknown-parameter": [{"ParameterKey": "Suffix", "ParameterValue": "x"}],
    "parameter-not-allowed": [
        {"ParameterKey": "Env", "ParameterValue": "qa"},
        {"ParameterKey": "Suffix", "ParameterValue": "x"},
    ],
}


def assert_validation_error(error: pytest.ExceptionInfo, expected: list[str]) -> None:
    assert error.value.response["Error"]["Code"] == "ValidationError"
    assert error.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    for fragment in expected:
        assert fragment in error.value.response["Error"]["Message"], (fragment, error.value.response["Error"])


def assert_no_stack(cf, name: str) -> None:
    with pytest.raises(ClientError, match="does not exist"):
        cf.describe_stacks(StackName=name)


@pytest.mark.parametrize("case", sorted(BAD_TEMPLATES))
def test_given_a_bad_template_or_parameters_when_created_then_a_validation_error_names_the_culprit_and_no_stack_is_made(
    cloud, uid, case
):
    # GIVEN a template (or parameter values) CloudFormation refuses before making anything
    cf = cloud.client("cloudformation")
    body, expected = BAD_TEMPLATES[case]
    name = f"bad-{case}-{uid}"
    # WHEN CreateStack is called
    with pytest.raises(ClientError) as error:
        cf.create_stack(StackName=name, TemplateBody=body, Parameters=GIVEN_PARAMETERS.get(case, []))
    # THEN the call itself answers ValidationError (HTTP 400) naming the culprit, and no stack exists
    assert_validation_error(error, expected)
    assert_no_stack(cf, name)


@pytest.mark.parametrize("case", ["yaml-syntax", "dangling-ref", "missing-parameter", "parameter-not-allowed"])
def test_given_a_bad_template_when_a_change_set_is_created_then_a_validation_error_and_no_stack(cloud, uid, case):
    cf = cloud.client("cloudformation")
    body, expected = BAD_TEMPLATES[case]
    name = f"badcs-{case}-{uid}"
    with pytest.raises(ClientError) as error:
        cf.create_change_set(
            StackName=name,
            ChangeSetName="first",
            ChangeSetType="CREATE",
            TemplateBody=body,
            Parameters=GIVEN_PARAMETERS.get(case, []),
        )
    assert_validation_error(error, expected)
    assert_no_stack(cf, name)


def test_given_a_stack_when_updated_with_a_bad_template_then_a_validation_error_and_the_stack_is_untouched(
    cloud, uid
):
    # GIVEN a created stack
    cf = cloud.client("cloudformation")
    name = f"badupdate-{uid}"
    cf.create_stack(StackName=name, TemplateBody=_log_groups(uid, "Kept"))
    cf.get_waiter("stack_create_complete").wait(StackName=name, WaiterConfig=FAST)
    # WHEN updated with a dangling Ref, then through a change set with a syntax error
    with pytest.raises(ClientError) as error:
        cf.update_stack(StackName=name, TemplateBody=BAD_TEMPLATES["dangling-ref"][0])
    assert_validation_error(error, BAD_TEMPLATES["dangling-ref"][1])
    with pytest.raises(ClientError) as error:
        cf.create_change_set(
            StackName=name, ChangeSetName="broken", TemplateBody=BAD_TEMPLATES["json-syntax"][0]
        )
    assert_validation_error(error, BAD_TEMPLATES["json-syntax"][1])
    # THEN the stack is as it was, with no change set
    assert cf.describe_stacks(StackName=name)["Stacks"][0]["StackStatus"] == "CREATE_COMPLETE"
    assert cf.list_change_sets(StackName=name)["Summaries"] == []


def test_given_a_sam_template_without_a_required_parameter_then_create_change_set_refuses_it(cloud, uid):
    # GIVEN a SAM template whose parameter has no default (what sam deploy sends, without overrides)
    cf = cloud.client("cloudformation")
    body = (TEMPLATES / "sam_app" / "template.yaml").read_text().replace("    Default: hello\n", "", 1)
    name = f"samnoparam-{uid}"
    # WHEN CreateChangeSet is called without a value
    with pytest.raises(ClientError) as error:
        cf.create_change_set(StackName=name, ChangeSetName="deploy", ChangeSetType="CREATE", TemplateBody=body)
    # THEN ValidationError: Parameters: [Greeting] must have values
    assert_validation_error(error, ["Parameters: ['Greeting'] must have values"])
    assert_no_stack(cf, name)


def test_given_a_property_localcloud_does_not_support_then_the_stack_fails_naming_it(cloud, uid):
    # (a resource-level failure on AWS too: the stack is made and rolls back)
    cf = cloud.client("cloudformation")
    name = f"badprop-{uid}"
    cf.create_stack(
        StackName=name,
        TemplateBody='{"Resources": {"Group": {"Type": "AWS::Logs::LogGroup", "Properties": {"DataProtectionPolicy": {}}}}}',
    )
    reason = failed_reason(cf, name, "ROLLBACK_COMPLETE")
    for fragment in ["Group", "AWS::Logs::LogGroup", "DataProtectionPolicy", "not supported"]:
        assert fragment in reason, (fragment, reason)
    assert cf.describe_stacks()["Stacks"]  # the server still answers


def test_given_a_syntax_error_when_validated_then_a_validation_error_names_the_line(cloud):
    cf = cloud.client("cloudformation")
    with pytest.raises(ClientError) as e:
        cf.validate_template(TemplateBody=BAD_TEMPLATES["yaml-syntax"][0])
    assert e.value.response["Error"]["Code"] == "ValidationError"
    assert (
        "YAML not well-formed" in e.value.response["Error"]["Message"]
        and "line 4" in e.value.response["Error"]["Message"]
    )


def test_given_a_valid_sam_template_when_validated_then_parameters_and_transform_are_reported(cloud):
    found = cloud.client("cloudformation").validate_template(
        TemplateBody=(TEMPLATES / "sam_app" / "template.yaml").read_text()
    )
    assert {p["ParameterKey"]: p.get("DefaultValue") for p in found["Parameters"]} == {
        "Stage": "dev",
        "Greeting": "hello",
    }
    assert found["DeclaredTransforms"] == ["AWS::Serverless-2016-10-31"]


def test_given_a_missing_code_folder_then_the_stack_fails_naming_the_function_and_path(cloud, uid, tmp_path):
    cf = cloud.client("cloudformation")
    template = sam_app(tmp_path)
    shutil.rmtree(template.parent / "src" / "b")
    name = f"nocode-{uid}"
    cf.create_stack(StackName=name, TemplateURL=template.as_uri())
    reason = failed_reason(cf, name, "ROLLBACK_COMPLETE")
    assert "BFunction" in reason and "src/b/" in reason and "does not exist" in reason


def test_given_a_relative_code_path_without_a_base_dir_then_the_stack_fails_saying_how_to_give_one(
    cloud, uid
):
    cf = cloud.client("cloudformation")
    name = f"nobase-{uid}"
    cf.create_stack(StackName=name, TemplateBody=(TEMPLATES / "sam_app" / "template.yaml").read_text())
    reason = failed_reason(cf, name, "ROLLBACK_COMPLETE")
    assert "Shared (AWS::Serverless::LayerVersion) ContentUri: 'layer/' is a relative local path" in reason
    assert "localcloud:template-dir" in reason


def test_given_a_resource_that_fails_when_created_then_what_was_made_is_rolled_back_and_others_untouched(
    cloud, uid
):
    cf, logs = cloud.client("cloudformation"), cloud.client("logs")
    bystander = f"bystander-{uid}"
    cf.create_stack(StackName=bystander, TemplateBody=_log_groups(uid, "Bystander"))
    cf.get_waiter("stack_create_complete").wait(StackName=bystander, WaiterConfig=FAST)
    name = f"fails-{uid}"
    body = {
        "Resources": {
            "First": {"Type": "AWS::Logs::LogGroup", "Properties": {"LogGroupName": f"/fail/{uid}/first"}},
            "Second": {
                "Type": "AWS::Logs::LogGroup",
                "DependsOn": "First",
                "Properties": {"LogGroupName": f"/fail/{uid}/first"},
            },
        }
    }
    cf.create_stack(StackName=name, TemplateBody=json.dumps(body))
    reason = failed_reason(cf, name, "ROLLBACK_COMPLETE")
    assert "Second" in reason and "ResourceAlreadyExistsException" in reason
    assert logs.describe_log_groups(logGroupNamePrefix=f"/fail/{uid}/")["logGroups"] == []
    statuses = [(e["LogicalResourceId"], e["ResourceStatus"]) for e in events(cf, name)]
    assert ("Second", "CREATE_FAILED") in statuses and ("First", "DELETE_COMPLETE") in statuses
    failed = next(e for e in events(cf, name) if e["ResourceStatus"] == "CREATE_FAILED")
    assert "ResourceAlreadyExistsException" in failed["ResourceStatusReason"]
    assert cf.describe_stacks(StackName=bystander)["Stacks"][0]["StackStatus"] == "CREATE_COMPLETE"


# ---- delete ----------------------------------------------------------------------------------


def test_given_a_sam_stack_when_deleted_then_its_resources_are_gone(cloud, uid, tmp_path):
    cf, lam = cloud.client("cloudformation"), cloud.client("lambda")
    name = f"sam-delete-{uid}"
    stack = create(cf, name, sam_app(tmp_path))
    out = outputs(stack)
    api_id = of_type(cf, name, "AWS::ApiGateway::RestApi")["ServerlessRestApi"]
    role = of_type(cf, name, "AWS::IAM::Role")["AFunctionRole"]
    cf.delete_stack(StackName=name)
    cf.get_waiter("stack_delete_complete").wait(StackName=name, WaiterConfig=FAST)
    for fn in (out["AFunctionName"], out["BFunctionName"]):
        with pytest.raises(lam.exceptions.ResourceNotFoundException):
            lam.get_function(FunctionName=fn)
    with pytest.raises(ClientError):
        cloud.client("dynamodb").describe_table(TableName=out["TableName"])
    with pytest.raises(ClientError):
        cloud.client("apigateway").get_rest_api(restApiId=api_id)
    with pytest.raises(ClientError):
        cloud.client("iam").get_role(RoleName=role)
    deleted = [
        s
        for s in cf.list_stacks(StackStatusFilter=["DELETE_COMPLETE"])["StackSummaries"]
        if s["StackName"] == name
    ]
    assert len(deleted) == 1 and deleted[0]["DeletionTime"]
    assert f"{name}-table" not in {e["Name"] for e in cf.list_exports()["Exports"]}


# ---- state machines, rules, alarms -------------------------------------------------------------


def test_given_a_state_machine_from_a_definition_file_then_substitutions_rule_and_alarm_are_provisioned(
    cloud, uid
):
    cf = cloud.client("cloudformation")
    name = f"sfn-{uid}"
    template = TEMPLATES / "state_machine" / "template.yaml"
    cf.create_stack(StackName=name, TemplateURL=template.as_uri(), Capabilities=["CAPABILITY_IAM"])
    cf.get_waiter("stack_create_complete").wait(StackName=name, WaiterConfig=FAST)
    out = outputs(cf.describe_stacks(StackName=name)["Stacks"][0])
    sfn = cloud.client("stepfunctions")
    definition = json.loads(sfn.describe_state_machine(stateMachineArn=out["StateMachineArn"])["definition"])
    step = of_type(cf, name, "AWS::Lambda::Function")["Step"]
    assert definition["States"]["Step"]["Resource"].endswith(f":function:{step}:live")
    events_client = cloud.client("events")
    assert json.loads(events_client.describe_rule(Name=out["RuleName"])["EventPattern"]) == {
        "source": ["localcloud.test"],
        "detail-type": ["Order"],
    }
    (target,) = events_client.list_targets_by_rule(Rule=out["RuleName"])["Targets"]
    assert target["Arn"] == out["StateMachineArn"] and target["InputPath"] == "$.detail" and target["RoleArn"]
    (alarm,) = cloud.client("cloudwatch").describe_alarms(AlarmNames=[out["AlarmName"]])["MetricAlarms"]
    assert (alarm["MetricName"], alarm["Threshold"], alarm["TreatMissingData"]) == (
        "Errors",
        1.0,
        "notBreaching",
    )
    assert alarm["Dimensions"] == [{"Name": "FunctionName", "Value": step}]

    execution = sfn.start_execution(stateMachineArn=out["StateMachineArn"], input=json.dumps({"n": 1}))
    deadline = time.monotonic() + 60
    while (described := sfn.describe_execution(executionArn=execution["executionArn"]))[
        "status"
    ] == "RUNNING":
        assert time.monotonic() < deadline
        time.sleep(0.3)
    assert described["status"] == "SUCCEEDED", described
    assert json.loads(described["output"]) == {"seen": {"n": 1}, "by": "step"}


def test_given_a_stage_with_access_logs_and_method_settings_then_the_stage_has_them(cloud, uid):
    cf = cloud.client("cloudformation")
    # GIVEN the account's CloudWatch role, which API Gateway needs before any stage may log (as on AWS)
    apigw = cloud.client("apigateway")
    if not apigw.get_account().get("cloudwatchRoleArn"):
        trust = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": "apigateway.amazonaws.com"}, "Action": "sts:AssumeRole"}]}
        role = cloud.client("iam").create_role(RoleName=f"cfn-logs-{uid}", AssumeRolePolicyDocument=json.dumps(trust))
        apigw.update_account(patchOperations=[{"op": "replace", "path": "/cloudwatchRoleArn", "value": role["Role"]["Arn"]}])
    name = f"stage-{uid}"
    template = {
        "Transform": "AWS::Serverless-2016-10-31",
        "Resources": {
            "Access": {"Type": "AWS::Logs::LogGroup"},
            "Api": {
                "Type": "AWS::Serverless::Api",
                "Properties": {
                    "StageName": "v1",
                    "AccessLogSetting": {
                        "DestinationArn": {"Fn::GetAtt": ["Access", "Arn"]},
                        "Format": "$context.requestId $context.status",
                    },
                    "MethodSettings": [
                        {
                            "ResourcePath": "/*",
                            "HttpMethod": "*",
                            "MetricsEnabled": True,
                            "ThrottlingBurstLimit": 5,
                        }
                    ],
                    "Variables": {"colour": "blue"},
                    "DefinitionBody": {
                        "swagger": "2.0",
                        "info": {"title": "mock"},
                        "paths": {
                            "/ping": {
                                "get": {
                                    "x-amazon-apigateway-integration": {
                                        "type": "mock",
                                        "requestTemplates": {"application/json": '{"statusCode": 200}'},
                                        "responses": {
                                            "default": {
                                                "statusCode": "200",
                                                "responseTemplates": {"application/json": '{"pong": true}'},
                                            }
                                        },
                                    },
                                    "responses": {"200": {"description": "ok"}},
                                }
                            }
                        },
                    },
                },
            },
        },
        "Outputs": {
            "Url": {"Value": {"Fn::Sub": "https://${Api}.execute-api.${AWS::Region}.amazonaws.com/v1"}}
        },
    }
    cf.create_stack(StackName=name, TemplateBody=json.dumps(template))
    cf.get_waiter("stack_create_complete").wait(StackName=name, WaiterConfig=FAST)
    api_id = of_type(cf, name, "AWS::ApiGateway::RestApi")["Api"]
    stage = cloud.client("apigateway").get_stage(restApiId=api_id, stageName="v1")
    assert stage["accessLogSettings"]["format"] == "$context.requestId $context.status"
    assert stage["accessLogSettings"]["destinationArn"].startswith(
        "arn:aws:logs:us-east-1:123456789012:log-group:"
    )
    assert (
        stage["methodSettings"]["*/*"]["metricsEnabled"] is True
        and stage["methodSettings"]["*/*"]["throttlingBurstLimit"] == 5
    )
    assert stage["variables"] == {"colour": "blue"}
    url = outputs(cf.describe_stacks(StackName=name)["Stacks"][0])["Url"]
    assert url == f"{cloud.endpoint}/_aws/execute-api/{api_id}/v1"
    response = requests.get(url + "/ping", timeout=30)
    assert (response.status_code, response.json()) == (200, {"pong": True})


def test_given_inline_code_and_an_event_invoke_config_then_both_are_provisioned(cloud, uid):
    cf, lam = cloud.client("cloudformation"), cloud.client("lambda")
    name = f"inline-{uid}"
    function = {
        "InlineCode": "def handler(event, context):\n    return {'inline': True}\n",
        "Handler": "index.handler",
        "Runtime": "python3.11",
        "AutoPublishAlias": "live",
        "EventInvokeConfig": {"MaximumRetryAttempts": 1, "MaximumEventAgeInSeconds": 120},
    }
    template = {
        "Transform": "AWS::Serverless-2016-10-31",
        "Resources": {"Fn": {"Type": "AWS::Serverless::Function", "Properties": function}},
    }
    cf.create_stack(StackName=name, TemplateBody=json.dumps(template))
    cf.get_waiter("stack_create_complete").wait(StackName=name, WaiterConfig=FAST)
    fn = of_type(cf, name, "AWS::Lambda::Function")["Fn"]
    assert json.loads(lam.invoke(FunctionName=fn, Qualifier="live")["Payload"].read()) == {"inline": True}
    config = lam.get_function_event_invoke_config(FunctionName=fn, Qualifier="live")
    assert (config["MaximumRetryAttempts"], config["MaximumEventAgeInSeconds"]) == (1, 120)


# ---- the aws CLI ------------------------------------------------------------------------------


def aws(cloud, *args: str) -> str:
    cli = Path(sys.executable).parent / "aws"
    env = {
        **os.environ,
        "AWS_ACCESS_KEY_ID": "localcloud",
        "AWS_SECRET_ACCESS_KEY": "localcloud",
        "AWS_DEFAULT_REGION": "us-east-1",
    }
    done = subprocess.run(
        [str(cli), "--endpoint-url", cloud.endpoint, "--output", "json", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_given_the_aws_cli_when_it_deploys_a_sam_template_then_the_stack_is_created(cloud, uid, tmp_path):
    template = sam_app(tmp_path)
    name = f"cli-{uid}"
    aws(
        cloud, "cloudformation", "deploy", "--template-file", str(template), "--stack-name", name,
        "--capabilities", "CAPABILITY_IAM", "--no-execute-changeset",
        "--tags", f"localcloud:template-dir={template.parent}", "--parameter-overrides", "Stage=prod",
    )  # fmt: skip
    (summary,) = json.loads(aws(cloud, "cloudformation", "list-change-sets", "--stack-name", name))[
        "Summaries"
    ]
    aws(cloud, "cloudformation", "execute-change-set", "--change-set-name", summary["ChangeSetId"])
    wait_settled(cloud.client("cloudformation"), name)  # the CLI's waiter polls every 30 s; settle first
    aws(cloud, "cloudformation", "wait", "stack-create-complete", "--stack-name", name)
    (stack,) = json.loads(aws(cloud, "cloudformation", "describe-stacks", "--stack-name", name))["Stacks"]
    assert stack["StackStatus"] == "CREATE_COMPLETE"
    assert {"Key": "localcloud:template-dir", "Value": str(template.parent)} in stack["Tags"]
    listed = json.loads(aws(cloud, "cloudformation", "describe-stack-resources", "--stack-name", name))[
        "StackResources"
    ]
    assert {"AFunction", "BFunction", "Items", "ServerlessRestApi"} <= {
        r["LogicalResourceId"] for r in listed
    }
    aws(cloud, "cloudformation", "delete-stack", "--stack-name", name)
    cloud.client("cloudformation").get_waiter("stack_delete_complete").wait(StackName=name, WaiterConfig=FAST)
