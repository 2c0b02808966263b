"""Parameter Store as AWS answers it, under ``--enforce-iam``: a SecureString is ciphertext to any
read without ``WithDecryption`` (moto's own answer carried the plaintext), a role's tags are its
sessions' ``aws:PrincipalTag/...`` (so a boundary can scope parameter paths by them), a stack's
tags reach the roles it creates, and CloudFormation's SSM parameter types refuse a SecureString."""

from __future__ import annotations

import json

from tests.integration.localcloud.lambda_helpers import service_role
from tests.integration.localcloud.test_cloudformation import wait_settled
from tests.integration.localcloud.test_iam_boundaries import managed_policy
from tests.integration.localcloud.test_iam_enforcement import error_of, session

ACCOUNT = "123456789012"


def test_given_a_secure_string_then_only_a_decrypting_read_answers_its_value(cloud, uid):
    """GIVEN a SecureString WHEN it is read with and without decryption, by path and in its history
    THEN only the decrypting reads answer the value; the others answer ciphertext without it"""
    ssm = cloud.client("ssm")
    value = f"plain-{uid}"
    ssm.put_parameter(Name=f"/t-{uid}/key", Value=value, Type="SecureString")
    assert ssm.get_parameter(Name=f"/t-{uid}/key", WithDecryption=True)["Parameter"]["Value"] == value
    hidden = [
        ssm.get_parameter(Name=f"/t-{uid}/key")["Parameter"],
        *ssm.get_parameters_by_path(Path=f"/t-{uid}")["Parameters"],
        *ssm.get_parameter_history(Name=f"/t-{uid}/key")["Parameters"],
    ]
    assert all(p["Value"] and value not in p["Value"] for p in hidden), hidden
    assert ssm.get_parameters_by_path(Path=f"/t-{uid}", WithDecryption=True)["Parameters"][0]["Value"] == value
    ssm.put_parameter(Name=f"/t-{uid}/key", Value=value + "-2", Type="SecureString", Overwrite=True)
    assert ssm.get_parameter(Name=f"/t-{uid}/key", WithDecryption=True)["Parameter"] == {
        **ssm.get_parameter(Name=f"/t-{uid}/key", WithDecryption=True)["Parameter"], "Value": value + "-2", "Version": 2}


def test_given_a_boundary_scoped_by_the_roles_tags_then_a_session_reads_only_its_own_path(cloud, uid):
    """GIVEN a role tagged team=<a>, allowed ssm:* by its policy, bounded to parameter/<uid>/${aws:PrincipalTag/team}/*
    WHEN its session reads its team's parameter and another team's
    THEN the first is answered, the second refused because no permissions boundary allows it"""
    ssm = cloud.client("ssm")
    for team in ("a", "b"):
        ssm.put_parameter(Name=f"/{uid}/{team}/key", Value=f"{team}-{uid}", Type="SecureString")
    boundary = managed_policy(cloud, f"tags-{uid}", [{
        "Effect": "Allow", "Action": "ssm:GetParameter",
        "Resource": f"arn:aws:ssm:us-east-1:{ACCOUNT}:parameter/{uid}/${{aws:PrincipalTag/team}}/*"}])
    role = service_role(cloud, f"tagged-{uid}", "lambda.amazonaws.com", [{"Effect": "Allow", "Action": "ssm:*", "Resource": "*"}])
    iam = cloud.client("iam")
    iam.tag_role(RoleName=f"tagged-{uid}", Tags=[{"Key": "team", "Value": "a"}])
    iam.put_role_permissions_boundary(RoleName=f"tagged-{uid}", PermissionsBoundary=boundary)
    mine = cloud.client("ssm", **session(cloud, role, "tester"))
    assert mine.get_parameter(Name=f"/{uid}/a/key", WithDecryption=True)["Parameter"]["Value"] == f"a-{uid}"
    error = error_of(lambda: mine.get_parameter(Name=f"/{uid}/b/key", WithDecryption=True))
    assert error["Code"] == "AccessDeniedException" or error["Code"] == "AccessDenied", error
    assert "no permissions boundary allows the ssm:GetParameter action" in error["Message"]


def test_given_stack_tags_then_the_stacks_roles_carry_them(cloud, uid):
    """GIVEN a stack created with tags WHEN it creates a role THEN the role carries the stack's tags"""
    cf = cloud.client("cloudformation")
    trust = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]}
    template = {"Resources": {"R": {"Type": "AWS::IAM::Role", "Properties": {
        "AssumeRolePolicyDocument": trust, "Tags": [{"Key": "own", "Value": "1"}]}}}}
    cf.create_stack(StackName=f"tags-{uid}", TemplateBody=json.dumps(template),
                    Tags=[{"Key": "team", "Value": "a"}], Capabilities=["CAPABILITY_IAM"])
    assert wait_settled(cf, f"tags-{uid}")["StackStatus"] == "CREATE_COMPLETE"
    role = cf.describe_stack_resource(StackName=f"tags-{uid}", LogicalResourceId="R")["StackResourceDetail"]["PhysicalResourceId"]
    tags = {t["Key"]: t["Value"] for t in cloud.client("iam").list_role_tags(RoleName=role)["Tags"]}
    assert tags == {"team": "a", "own": "1"}


def test_given_an_ssm_parameter_type_naming_a_secure_string_then_the_stack_fails(cloud, uid):
    """GIVEN a SecureString WHEN a template's AWS::SSM::Parameter::Value<String> parameter names it
    THEN CloudFormation refuses it (its parameter types never take a SecureString)"""
    cloud.client("ssm").put_parameter(Name=f"/{uid}/secure", Value=f"v-{uid}", Type="SecureString")
    cf = cloud.client("cloudformation")
    template = {"Parameters": {"P": {"Type": "AWS::SSM::Parameter::Value<String>", "Default": f"/{uid}/secure"}},
                "Resources": {"Q": {"Type": "AWS::SQS::Queue", "Properties": {"QueueName": {"Fn::Sub": "q-${P}"}}}}}
    try:
        cf.create_stack(StackName=f"ssmtype-{uid}", TemplateBody=json.dumps(template))
    except cf.exceptions.ClientError as e:
        assert "not supported by CloudFormation" in str(e)
        return
    found = wait_settled(cf, f"ssmtype-{uid}")
    assert found["StackStatus"] in ("ROLLBACK_COMPLETE", "CREATE_FAILED"), found
    assert "not supported by CloudFormation" in found.get("StackStatusReason", "") + json.dumps(
        cf.describe_stack_events(StackName=f"ssmtype-{uid}")["StackEvents"], default=str)


def test_given_a_customer_managed_key_then_a_decrypting_read_also_needs_kms_decrypt(cloud, uid):
    """GIVEN a SecureString under the AWS managed key and one under a customer managed key, and a
    role allowed ssm:GetParameter on both
    WHEN its session reads both with decryption, then again once it is granted kms:Decrypt on the key
    THEN the managed key's is answered at once; the customer key's is refused naming kms:Decrypt and
    the key, then answered"""
    ssm = cloud.client("ssm")
    key = cloud.client("kms").create_key(Description=f"stage key {uid}")["KeyMetadata"]
    ssm.put_parameter(Name=f"/{uid}/managed", Value="m", Type="SecureString")
    ssm.put_parameter(Name=f"/{uid}/customer", Value="c", Type="SecureString", KeyId=key["KeyId"])
    read = {"Effect": "Allow", "Action": "ssm:GetParameter", "Resource": f"arn:aws:ssm:us-east-1:{ACCOUNT}:parameter/{uid}/*"}
    role = service_role(cloud, f"cmk-{uid}", "lambda.amazonaws.com", [read])
    reader = cloud.client("ssm", **session(cloud, role, "tester"))
    assert reader.get_parameter(Name=f"/{uid}/managed", WithDecryption=True)["Parameter"]["Value"] == "m"
    error = error_of(lambda: reader.get_parameter(Name=f"/{uid}/customer", WithDecryption=True))
    assert f"kms:Decrypt on resource: {key['Arn']}" in error["Message"], error
    service_role(cloud, f"cmk-{uid}", "lambda.amazonaws.com", [read, {"Effect": "Allow", "Action": "kms:Decrypt", "Resource": key["Arn"]}])
    again = cloud.client("ssm", **session(cloud, role, "tester2"))
    assert again.get_parameter(Name=f"/{uid}/customer", WithDecryption=True)["Parameter"]["Value"] == "c"
