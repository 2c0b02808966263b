"""Dynamic references in stacks: {{resolve:ssm:...}} and {{resolve:secretsmanager:...}} resolved from
the local Parameter Store and Secrets Manager when resources are made; a missing one fails the
operation naming it, as CloudFormation does."""

from __future__ import annotations

import json
import time

import pytest
from botocore.exceptions import ClientError

SAM = """
Transform: AWS::Serverless-2016-10-31
Resources:
  Fn:
    Type: AWS::Serverless::Function
    Properties:
      FunctionName: dynref-{uid}
      Runtime: python3.11
      Handler: index.handler
      InlineCode: "def handler(e, c): return 1"
      Environment:
        Variables:
          HOST: "{{{{resolve:ssm:/dynref/{uid}/host}}}}"
          FIRST_HOST: "{{{{resolve:ssm:/dynref/{uid}/host:1}}}}"
          URL: !Sub "https://{{{{resolve:ssm:/dynref/{uid}/host}}}}/${{AWS::Region}}"
          DB_USER: "{{{{resolve:secretsmanager:dynref-{uid}:SecretString:user}}}}"
          DB_PASSWORD: "{{{{resolve:secretsmanager:dynref-{uid}:SecretString:password}}}}"
"""

PLAIN = """{{"Resources": {{"Logs": {{"Type": "AWS::Logs::LogGroup",
  "Properties": {{"LogGroupName": "/dynref/{uid}/{{{{resolve:ssm:/dynref/{uid}/{name}}}}}"}}}}}}}}"""


def wait_settled(cf, name: str) -> dict:
    deadline = time.monotonic() + 120
    while True:
        stack = cf.describe_stacks(StackName=name)["Stacks"][0]
        if not stack["StackStatus"].endswith("IN_PROGRESS"):
            return stack
        assert time.monotonic() < deadline, stack["StackStatus"]
        time.sleep(0.3)


@pytest.fixture
def stored(cloud, uid):
    """GIVEN /dynref/<uid>/host at versions 1 and 2, and a secret with user and password."""
    ssm, sm = cloud.client("ssm"), cloud.client("secretsmanager")
    ssm.put_parameter(Name=f"/dynref/{uid}/host", Value="db-1.internal", Type="String")
    ssm.put_parameter(Name=f"/dynref/{uid}/host", Value="db-2.internal", Type="String", Overwrite=True)
    sm.create_secret(Name=f"dynref-{uid}", SecretString=json.dumps({"user": "admin", "password": "pa:ss{w}"}))
    return uid


def test_given_references_in_a_sam_function_then_it_gets_the_values_and_the_stack_keeps_the_references(
    cloud, stored
):
    uid = stored
    cf = cloud.client("cloudformation")
    # WHEN a SAM stack whose function's environment holds dynamic references is created
    cf.create_stack(StackName=f"dynref-{uid}", TemplateBody=SAM.format(uid=uid), Capabilities=["CAPABILITY_IAM"])
    stack = wait_settled(cf, f"dynref-{uid}")
    assert stack["StackStatus"] == "CREATE_COMPLETE", stack.get("StackStatusReason")
    # THEN the function runs with the values
    env = cloud.client("lambda").get_function_configuration(FunctionName=f"dynref-{uid}")["Environment"]["Variables"]
    assert env == {
        "HOST": "db-2.internal",
        "FIRST_HOST": "db-1.internal",
        "URL": "https://db-2.internal/us-east-1",
        "DB_USER": "admin",
        "DB_PASSWORD": "pa:ss{w}",
    }
    # AND the stack's events show the references, never the secret
    events = json.dumps(cf.describe_stack_events(StackName=f"dynref-{uid}")["StackEvents"], default=str)
    assert "pa:ss{w}" not in events
    assert f"resolve:secretsmanager:dynref-{uid}:SecretString:password" in events
    cf.delete_stack(StackName=f"dynref-{uid}")


def test_given_a_missing_parameter_in_a_sam_template_then_the_stack_fails_naming_the_reference(cloud, stored):
    uid = stored
    cf = cloud.client("cloudformation")
    body = SAM.format(uid=uid).replace(f"/dynref/{uid}/host:1", f"/dynref/{uid}/nowhere")
    cf.create_stack(StackName=f"dynref-missing-{uid}", TemplateBody=body, Capabilities=["CAPABILITY_IAM"])
    stack = wait_settled(cf, f"dynref-missing-{uid}")
    assert stack["StackStatus"] == "ROLLBACK_COMPLETE"
    assert f"Parameters: [ssm:/dynref/{uid}/nowhere] cannot be found." in stack["StackStatusReason"]
    assert "Fn (AWS::Lambda::Function)" in stack["StackStatusReason"]


def test_given_a_missing_secret_then_the_stack_fails_with_secrets_managers_error(cloud, stored):
    uid = stored
    cf = cloud.client("cloudformation")
    body = SAM.format(uid=uid).replace(f"secretsmanager:dynref-{uid}:SecretString:user", "secretsmanager:nobody-knows")
    cf.create_stack(StackName=f"dynref-nosecret-{uid}", TemplateBody=body, Capabilities=["CAPABILITY_IAM"])
    stack = wait_settled(cf, f"dynref-nosecret-{uid}")
    assert stack["StackStatus"] == "ROLLBACK_COMPLETE"
    reason = stack["StackStatusReason"]
    assert "Secrets Manager can't find the specified secret." in reason and "ResourceNotFoundException" in reason
    assert "{{resolve:secretsmanager:nobody-knows}}" in reason


def test_given_a_plain_template_then_a_reference_resolves_and_a_missing_one_is_a_validation_error(cloud, stored):
    uid = stored
    cf, logs = cloud.client("cloudformation"), cloud.client("logs")
    # WHEN a template without transform names an existing parameter
    cf.create_stack(StackName=f"dynref-plain-{uid}", TemplateBody=PLAIN.format(uid=uid, name="host"))
    assert wait_settled(cf, f"dynref-plain-{uid}")["StackStatus"] == "CREATE_COMPLETE"
    # THEN the resource is made with the value
    groups = [g["logGroupName"] for g in logs.describe_log_groups(logGroupNamePrefix=f"/dynref/{uid}/")["logGroups"]]
    assert groups == [f"/dynref/{uid}/db-2.internal"]
    # AND a missing parameter is refused in the call itself, naming it
    with pytest.raises(ClientError) as error:
        cf.create_stack(StackName=f"dynref-plain-missing-{uid}", TemplateBody=PLAIN.format(uid=uid, name="gone"))
    assert error.value.response["Error"]["Code"] == "ValidationError"
    assert error.value.response["Error"]["Message"] == f"Parameters: [ssm:/dynref/{uid}/gone] cannot be found."
    cf.delete_stack(StackName=f"dynref-plain-{uid}")


SSM_TYPED = """{{"Parameters": {{"Name": {{"Type": "AWS::SSM::Parameter::Value<String>", "Default": "/dynref/{uid}/{name}"}}}},
  "Resources": {{"Logs": {{"Type": "AWS::Logs::LogGroup", "Properties": {{"LogGroupName": {{"Fn::Sub": "/typed/{uid}/${{Name}}"}}}}}}}}}}"""


def test_given_a_parameter_of_an_ssm_type_then_its_value_is_read_and_a_missing_one_is_a_validation_error(
    cloud, stored
):
    uid = stored
    cf, logs = cloud.client("cloudformation"), cloud.client("logs")
    cf.create_stack(StackName=f"typed-{uid}", TemplateBody=SSM_TYPED.format(uid=uid, name="host"))
    assert wait_settled(cf, f"typed-{uid}")["StackStatus"] == "CREATE_COMPLETE"
    groups = [g["logGroupName"] for g in logs.describe_log_groups(logGroupNamePrefix=f"/typed/{uid}/")["logGroups"]]
    assert groups == [f"/typed/{uid}/db-2.internal"]
    with pytest.raises(ClientError) as error:
        cf.create_stack(StackName=f"typed-missing-{uid}", TemplateBody=SSM_TYPED.format(uid=uid, name="gone"))
    assert error.value.response["Error"]["Code"] == "ValidationError"
    assert error.value.response["Error"]["Message"].startswith(
        f"Unable to fetch parameters [/dynref/{uid}/gone] from parameter store for this account."
    )
    cf.delete_stack(StackName=f"typed-{uid}")
