"""What the local cloud refuses as AWS does, under ``--enforce-iam``: a role's permissions boundary
(its effective rights are its policies ∩ its boundary), the condition key iam:PermissionsBoundary,
CloudFormation acting with a stack's RoleARN (a resource the role may not make fails the stack in
CloudFormation's words), and PutEvents refusing ``aws.*`` sources entry by entry."""

from __future__ import annotations

import json

import pytest
from botocore.exceptions import ClientError

from tests.integration.localcloud.lambda_helpers import service_role
from tests.integration.localcloud.test_cloudformation import wait_settled
from tests.integration.localcloud.test_iam_enforcement import error_of, session, table

ACCOUNT = "123456789012"
ANYTHING = [{"Effect": "Allow", "Action": "*", "Resource": "*"}]


def managed_policy(cloud, name: str, statements: list[dict]) -> str:
    document = json.dumps({"Version": "2012-10-17", "Statement": statements})
    return cloud.client("iam").create_policy(PolicyName=name, PolicyDocument=document)["Policy"]["Arn"]


# ---- permissions boundaries -----------------------------------------------------------------------
def test_given_a_role_allowed_everything_with_a_boundary_then_it_may_do_only_what_both_allow(cloud, uid):
    """GIVEN a role whose inline policy allows *:*, bounded by a policy that allows reading one
    table and explicitly denies another
    WHEN its session reads and writes
    THEN only the read of the first table passes; the write is refused because no permissions
    boundary allows it, the other table with the boundary's explicit deny"""
    allowed, denied = table(cloud, f"bounded-{uid}"), table(cloud, f"forbidden-{uid}")
    boundary = managed_policy(cloud, f"boundary-{uid}", [
        {"Effect": "Allow", "Action": "dynamodb:GetItem", "Resource": "*"},
        {"Effect": "Deny", "Action": "dynamodb:*", "Resource": denied},
    ])
    iam = cloud.client("iam")
    role = service_role(cloud, f"bounded-{uid}", "lambda.amazonaws.com", ANYTHING)
    iam.put_role_permissions_boundary(RoleName=f"bounded-{uid}", PermissionsBoundary=boundary)
    ddb = cloud.client("dynamodb", **session(cloud, role, "tester"))

    assert "Item" not in ddb.get_item(TableName=f"bounded-{uid}", Key={"pk": {"S": "a"}})
    error = error_of(lambda: ddb.put_item(TableName=f"bounded-{uid}", Item={"pk": {"S": "a"}}))
    assert error["Message"] == (
        f"User: arn:aws:sts::{ACCOUNT}:assumed-role/bounded-{uid}/tester is not authorized to perform: dynamodb:PutItem "
        f"on resource: {allowed} because no permissions boundary allows the dynamodb:PutItem action"
    )
    error = error_of(lambda: ddb.get_item(TableName=f"forbidden-{uid}", Key={"pk": {"S": "a"}}))
    assert error["Message"].endswith(f"dynamodb:GetItem on resource: {denied} with an explicit deny in a permissions boundary")


def test_given_the_boundary_condition_key_then_roles_are_made_and_changed_only_with_that_boundary(cloud, uid):
    """GIVEN a principal that may create roles and put their policies only with iam:PermissionsBoundary = B
    WHEN it creates roles with and without B, puts a policy on each, and removes a boundary
    THEN only the role with B is created and changed; the others are refused naming the action"""
    boundary = managed_policy(cloud, f"b-{uid}", [{"Effect": "Allow", "Action": "sqs:*", "Resource": "*"}])
    with_b = {"StringEquals": {"iam:PermissionsBoundary": boundary}}
    roles = f"arn:aws:iam::{ACCOUNT}:role/*"
    creator = service_role(cloud, f"creator-{uid}", "lambda.amazonaws.com", [
        {"Effect": "Allow", "Action": ["iam:CreateRole", "iam:PutRolePolicy", "iam:DeleteRolePermissionsBoundary"],
         "Resource": roles, "Condition": with_b},
    ])
    iam = cloud.client("iam", **session(cloud, creator, "maker"))
    trust = json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]})
    admin = json.dumps({"Version": "2012-10-17", "Statement": ANYTHING})

    error = error_of(lambda: iam.create_role(RoleName=f"free-{uid}", AssumeRolePolicyDocument=trust))
    assert f"iam:CreateRole on resource: arn:aws:iam::{ACCOUNT}:role/free-{uid}" in error["Message"]
    made = iam.create_role(RoleName=f"kept-{uid}", AssumeRolePolicyDocument=trust, PermissionsBoundary=boundary)
    assert made["Role"]["PermissionsBoundary"]["PermissionsBoundaryArn"] == boundary
    iam.put_role_policy(RoleName=f"kept-{uid}", PolicyName="admin", PolicyDocument=admin)

    cloud.client("iam").create_role(RoleName=f"open-{uid}", AssumeRolePolicyDocument=trust)  # by the root
    error = error_of(lambda: iam.put_role_policy(RoleName=f"open-{uid}", PolicyName="admin", PolicyDocument=admin))
    assert f"iam:PutRolePolicy on resource: arn:aws:iam::{ACCOUNT}:role/open-{uid}" in error["Message"]


# ---- CloudFormation acts with the stack's role ---------------------------------------------------
def stack_template(uid: str) -> str:
    trust = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]}
    return json.dumps({"Resources": {
        "Queue": {"Type": "AWS::SQS::Queue", "Properties": {"QueueName": f"stack-role-{uid}"}},
        "Escalate": {"Type": "AWS::IAM::Role", "DependsOn": "Queue",
                     "Properties": {"AssumeRolePolicyDocument": trust,
                                    "ManagedPolicyArns": ["arn:aws:iam::aws:policy/AdministratorAccess"]}},
    }})


@pytest.fixture
def deploy_role(cloud, uid) -> str:
    """A role CloudFormation may assume that may make queues, and nothing in IAM."""
    return service_role(cloud, f"deploy-{uid}", "cloudformation.amazonaws.com", [
        {"Effect": "Allow", "Action": "sqs:*", "Resource": "*"}])


def test_given_a_stack_role_that_may_not_create_roles_then_the_stack_fails_naming_the_action_and_rolls_back(cloud, uid, deploy_role):
    """GIVEN a change set of a stack with a queue and an admin role, to run with a role that may only make queues
    WHEN it is executed
    THEN the queue is made with the role, the IAM role fails with CloudFormation's AccessDenied naming
    iam:CreateRole and the role's CloudFormation session, and the rollback deletes the queue"""
    cf = cloud.client("cloudformation")
    stack = f"stack-role-{uid}"
    made = cf.create_change_set(StackName=stack, ChangeSetName="first", ChangeSetType="CREATE",
                                TemplateBody=stack_template(uid), RoleARN=deploy_role, Capabilities=["CAPABILITY_IAM"])
    cf.get_waiter("change_set_create_complete").wait(ChangeSetName=made["Id"], WaiterConfig={"Delay": 1})
    cf.execute_change_set(ChangeSetName=made["Id"])
    settled = wait_settled(cf, stack)

    assert settled["StackStatus"] == "ROLLBACK_COMPLETE"
    assert settled["RoleARN"] == deploy_role
    session_arn = f"arn:aws:sts::{ACCOUNT}:assumed-role/deploy-{uid}/AWSCloudFormation"
    assert settled["StackStatusReason"].startswith(
        "The following resource(s) failed to create: [Escalate]. Resource handler returned message: "
        f'"User: {session_arn} is not authorized to perform: iam:CreateRole on resource: arn:aws:iam::{ACCOUNT}:role/'
    )
    events = cf.describe_stack_events(StackName=stack)["StackEvents"]
    failed = next(e for e in events if e["LogicalResourceId"] == "Escalate" and e["ResourceStatus"] == "CREATE_FAILED")
    assert "(Service: Iam, Status Code: 403" in failed["ResourceStatusReason"]
    assert failed["ResourceStatusReason"].endswith("(HandlerErrorCode: AccessDenied)")
    assert any(e["LogicalResourceId"] == "Queue" and e["ResourceStatus"] == "DELETE_COMPLETE" for e in events)
    with pytest.raises(ClientError):
        cloud.client("sqs").get_queue_url(QueueName=f"stack-role-{uid}")


def test_given_a_role_cloudformation_cannot_assume_then_the_stack_is_refused_in_the_call(cloud, uid):
    """GIVEN a role that trusts Lambda, not CloudFormation
    WHEN a stack is created with it THEN CloudFormation's ValidationError, and no stack"""
    role = service_role(cloud, f"not-cfn-{uid}", "lambda.amazonaws.com", ANYTHING)
    cf = cloud.client("cloudformation")

    error = error_of(lambda: cf.create_stack(StackName=f"no-role-{uid}", TemplateBody=stack_template(uid), RoleARN=role))
    assert error["Code"] == "ValidationError"
    assert error["Message"] == f"Role {role} is invalid or cannot be assumed"
    assert error_of(lambda: cf.describe_stacks(StackName=f"no-role-{uid}"))["Code"] == "ValidationError"


# ---- PutEvents: aws.* sources are AWS's ------------------------------------------------------------
def test_given_a_role_session_putting_an_aws_source_then_that_entry_alone_is_refused(cloud, uid):
    """GIVEN a role allowed events:PutEvents on the default bus
    WHEN it puts a forged CloudWatch alarm event and an event of its own in one call
    THEN the forged entry is answered NotAuthorizedForSourceException and the other is put;
    the root key (which plays the local cloud's services) may still put aws.* events"""
    role = service_role(cloud, f"putter-{uid}", "lambda.amazonaws.com",
                        [{"Effect": "Allow", "Action": "events:PutEvents", "Resource": "*"}])
    events = cloud.client("events", **session(cloud, role, "putter"))
    forged = {"Source": "aws.cloudwatch", "DetailType": "CloudWatch Alarm State Change",
              "Detail": json.dumps({"alarmName": f"sprout-ar-victim-{uid}-fast", "state": {"value": "ALARM"}})}
    own = {"Source": f"app.{uid}", "DetailType": "Note Created", "Detail": "{}"}

    answer = events.put_events(Entries=[forged, own])

    assert answer["FailedEntryCount"] == 1
    assert answer["Entries"][0]["ErrorCode"] == "NotAuthorizedForSourceException"
    assert "EventId" not in answer["Entries"][0]
    assert answer["Entries"][1]["EventId"]
    assert cloud.client("events").put_events(Entries=[{**forged, "Detail": "{}"}])["FailedEntryCount"] == 0
