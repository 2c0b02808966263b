"""AWS::IAM::ManagedPolicy through CloudFormation on the local cloud: created (Ref is its ARN) and
attached to a role that names it, a changed document becomes the new default version, and deleting
the stack detaches and deletes it."""

from __future__ import annotations

import json

from botocore.exceptions import ClientError

from tests.integration.localcloud.test_cloudformation import wait_settled
from tests.integration.sprout.conftest import wait_for

TRUST = {"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]}


def gone(cf, stack: str) -> bool:
    try:
        return cf.describe_stacks(StackName=stack)["Stacks"][0]["StackStatus"] == "DELETE_COMPLETE"
    except ClientError:
        return True


def template(actions: list[str]) -> str:
    return json.dumps({
        "Resources": {
            "Rights": {"Type": "AWS::IAM::ManagedPolicy", "Properties": {
                "Description": "test rights",
                "PolicyDocument": {"Version": "2012-10-17", "Statement": [
                    {"Effect": "Allow", "Action": actions, "Resource": "*"}]}}},
            "Worker": {"Type": "AWS::IAM::Role", "Properties": {
                "AssumeRolePolicyDocument": TRUST, "ManagedPolicyArns": [{"Ref": "Rights"}]}},
        },
        "Outputs": {"PolicyArn": {"Value": {"Ref": "Rights"}}, "Role": {"Value": {"Ref": "Worker"}}},
    })


def test_given_a_managed_policy_in_a_stack_then_it_is_attached_versioned_on_update_and_deleted_with_the_stack(cloud, uid):
    cf, iam = cloud.client("cloudformation"), cloud.client("iam")
    stack = f"managed-policy-{uid}"
    # GIVEN a stack with a managed policy and a role naming it
    cf.create_stack(StackName=stack, TemplateBody=template(["logs:DescribeLogGroups"]), Capabilities=["CAPABILITY_IAM"])
    created = wait_settled(cf, stack)
    assert created["StackStatus"] == "CREATE_COMPLETE", created.get("StackStatusReason")
    out = {o["OutputKey"]: o["OutputValue"] for o in created["Outputs"]}
    # THEN Ref is the policy's ARN, and the role has it attached
    policy = iam.get_policy(PolicyArn=out["PolicyArn"])["Policy"]
    assert policy["Arn"].startswith("arn:aws:iam::123456789012:policy/")
    attached = iam.list_attached_role_policies(RoleName=out["Role"])["AttachedPolicies"]
    assert [p["PolicyArn"] for p in attached] == [out["PolicyArn"]]
    # WHEN the document changes
    cf.update_stack(StackName=stack, TemplateBody=template(["logs:DescribeLogGroups", "cloudwatch:DescribeAlarms"]),
                    Capabilities=["CAPABILITY_IAM"])
    assert wait_settled(cf, stack)["StackStatus"] == "UPDATE_COMPLETE"
    # THEN the new document is the default version
    default = iam.get_policy(PolicyArn=out["PolicyArn"])["Policy"]["DefaultVersionId"]
    document = iam.get_policy_version(PolicyArn=out["PolicyArn"], VersionId=default)["PolicyVersion"]["Document"]
    document = json.loads(document) if isinstance(document, str) else document
    assert document["Statement"][0]["Action"] == ["logs:DescribeLogGroups", "cloudwatch:DescribeAlarms"]
    # WHEN the stack is deleted THEN the policy is gone
    cf.delete_stack(StackName=stack)
    wait_for("the stack deleted", lambda: gone(cf, stack), timeout=60)
    policies = iam.list_policies(Scope="Local")["Policies"]
    assert out["PolicyArn"] not in [p["Arn"] for p in policies]
