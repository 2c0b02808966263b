"""The pure parts of boundaries, stack roles and aws.* sources: the condition key
iam:PermissionsBoundary on the IAM actions that carry it, CloudFormation's words for a refused call,
and which PutEvents entries are AWS's."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError

from localcloud.cloudformation.stack_role import denied_reason
from localcloud.events_router.sources import refused
from localcloud.iam.actions import Call, Check, checks

ROLE = "arn:aws:iam::123456789012:role/sprout/apps/notes-dev-CreateRole-X"
BOUNDARY = "arn:aws:iam::123456789012:policy/sprout-AppRoleBoundary"


def iam_call(operation: str, **params) -> Call:
    return Call(service="iam", operation=operation, params=params, moto_resource=ROLE,
                boundary_of_role=lambda arn: BOUNDARY if arn == ROLE else None)


def test_given_create_role_then_the_condition_key_is_the_boundary_in_the_request():
    """GIVEN CreateRole with and without PermissionsBoundary THEN iam:PermissionsBoundary is the requested one, or absent"""
    call = Call(service="iam", operation="CreateRole", params={"RoleName": "r", "Path": "/sprout/apps/",
                                                               "PermissionsBoundary": BOUNDARY})
    assert checks(call) == [Check("iam:CreateRole", "arn:aws:iam::123456789012:role/sprout/apps/r",
                                  (("iam:PermissionsBoundary", BOUNDARY),))]
    assert checks(Call(service="iam", operation="CreateRole", params={"RoleName": "r"}))[0].context == ()


@pytest.mark.parametrize("operation", ["AttachRolePolicy", "DetachRolePolicy", "PutRolePolicy", "DeleteRolePolicy",
                                       "DeleteRolePermissionsBoundary"])
def test_given_an_action_on_an_existing_role_then_the_condition_key_is_the_roles_boundary(operation):
    """GIVEN an IAM action that keeps a role's boundary THEN iam:PermissionsBoundary is the role's current one"""
    assert checks(iam_call(operation, RoleName="x")) == [Check(f"iam:{operation}", ROLE, (("iam:PermissionsBoundary", BOUNDARY),))]


def test_given_an_action_that_carries_no_boundary_key_then_none_is_set():
    """GIVEN UpdateAssumeRolePolicy (not one of the actions with the key) THEN no condition key"""
    assert checks(iam_call("UpdateAssumeRolePolicy", RoleName="x")) == [Check("iam:UpdateAssumeRolePolicy", ROLE)]


def test_given_an_access_denied_then_the_reason_is_cloudformations_resource_handler_message():
    """GIVEN IAM's AccessDenied for the stack role's CreateRole THEN CloudFormation's words, naming the service"""
    message = "User: arn:aws:sts::1:assumed-role/d/AWSCloudFormation is not authorized to perform: iam:CreateRole on resource: r"
    error = ClientError({"Error": {"Code": "AccessDenied", "Message": message},
                         "ResponseMetadata": {"HTTPStatusCode": 403, "RequestId": "req-1"}}, "CreateRole")

    assert denied_reason(error) == (
        f'Resource handler returned message: "{message} (Service: Iam, Status Code: 403, Request ID: req-1)" '
        "(HandlerErrorCode: AccessDenied)"
    )
    other = ClientError({"Error": {"Code": "EntityAlreadyExists", "Message": "x"}}, "CreateRole")
    assert denied_reason(other) is None


def test_given_put_events_entries_then_only_aws_sources_are_refused():
    """GIVEN entries with aws.*, look-alike and custom sources THEN only the aws.* ones are AWS's"""
    assert refused({"Source": "aws.cloudwatch"})
    assert not refused({"Source": "awsome.app"})
    assert not refused({"Source": "sprout.api"})
    assert not refused({})
