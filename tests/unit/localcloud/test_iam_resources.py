"""Resource-level IAM checks: each action on the resource AWS's service authorization reference
names (not on ``*``), and a regional service principal in a trust policy."""

from __future__ import annotations

import pytest

from localcloud.iam import policy
from localcloud.iam.actions import Call, checks

ACCOUNT = "123456789012"


@pytest.mark.parametrize(
    ("service", "operation", "params", "resources"),
    [
        ("glue", "StartJobRun", {"JobName": "etl"}, [f"arn:aws:glue:us-east-1:{ACCOUNT}:job/etl"]),
        ("glue", "GetJobRun", {"JobName": "etl", "RunId": "jr_1"}, [f"arn:aws:glue:us-east-1:{ACCOUNT}:job/etl"]),
        ("glue", "StartCrawler", {"Name": "c"}, [f"arn:aws:glue:us-east-1:{ACCOUNT}:crawler/c"]),
        ("ssm", "GetParameter", {"Name": "/sprout/notes/prod/key"},
         [f"arn:aws:ssm:us-east-1:{ACCOUNT}:parameter/sprout/notes/prod/key"]),
        ("ssm", "GetParameters", {"Names": ["a", "/b/c"]},
         [f"arn:aws:ssm:us-east-1:{ACCOUNT}:parameter/a", f"arn:aws:ssm:us-east-1:{ACCOUNT}:parameter/b/c"]),
        ("secretsmanager", "GetSecretValue", {"SecretId": "db"}, [f"arn:aws:secretsmanager:us-east-1:{ACCOUNT}:secret:db-??????"]),
        ("kms", "Decrypt", {"KeyId": "1234abcd"}, [f"arn:aws:kms:us-east-1:{ACCOUNT}:key/1234abcd"]),
        ("kinesis", "PutRecord", {"StreamName": "s"}, [f"arn:aws:kinesis:us-east-1:{ACCOUNT}:stream/s"]),
    ],
)
def test_given_an_operation_on_a_named_resource_then_it_is_checked_on_that_resources_arn(service, operation, params, resources):
    found = checks(Call(service, operation, params))
    assert [c.resource for c in found] == resources
    assert {c.action for c in found} == {f"{service}:{operation}"}


def test_given_a_policy_granting_start_job_run_on_the_job_then_that_job_is_allowed_and_another_is_not():
    document = {"Statement": [{"Effect": "Allow", "Action": "glue:StartJobRun",
                               "Resource": f"arn:aws:glue:us-east-1:{ACCOUNT}:job/etl"}]}
    caller = policy.Caller(arn=f"arn:aws:iam::{ACCOUNT}:role/r")

    def decide(job: str) -> policy.Decision:
        [check] = checks(Call("glue", "StartJobRun", {"JobName": job}))
        return policy.evaluate([document], policy.Request(check.action, check.resource, {}, caller))

    assert decide("etl") is policy.Decision.ALLOW
    assert decide("other") is not policy.Decision.ALLOW


@pytest.mark.parametrize("principal", ["states.amazonaws.com", "states.us-east-1.amazonaws.com"])
def test_given_a_trust_policy_with_a_global_or_regional_service_principal_then_the_service_may_assume_the_role(principal):
    trust = {"Statement": [{"Effect": "Allow", "Principal": {"Service": principal}, "Action": "sts:AssumeRole"}]}
    request = policy.Request("sts:AssumeRole", f"arn:aws:iam::{ACCOUNT}:role/r", {}, policy.Caller(service="states.amazonaws.com"))
    assert policy.evaluate([trust], request) is policy.Decision.ALLOW


def test_given_another_regions_service_principal_then_it_does_not_admit_the_service_here():
    trust = {"Statement": [{"Effect": "Allow", "Principal": {"Service": "states.eu-west-1.amazonaws.com"}, "Action": "sts:AssumeRole"}]}
    request = policy.Request("sts:AssumeRole", f"arn:aws:iam::{ACCOUNT}:role/r", {}, policy.Caller(service="states.amazonaws.com"))
    assert policy.evaluate([trust], request) is not policy.Decision.ALLOW


@pytest.mark.parametrize(("operation", "path", "method"), [
    ("CreatePipe", "/v1/pipes/sprout-n-notes-t1", "POST"),
    ("StopPipe", "/v1/pipes/sprout-n-notes-t1/stop", "PUT"),
    ("DeletePipe", "/v1/pipes/sprout-n-notes-t1", "DELETE"),
])
def test_given_a_pipe_request_then_it_is_checked_on_the_pipe_and_passing_its_role(operation, path, method):
    """GIVEN EventBridge Pipes requests naming a pipe in their path (CreatePipe handing a role)
    WHEN their IAM checks are made
    THEN each is pipes:<operation> on the pipe's ARN; CreatePipe also iam:PassRole to pipes.amazonaws.com."""
    role = f"arn:aws:iam::{ACCOUNT}:role/delivery"
    found = checks(Call("pipes", operation, {}, path=path, method=method, body={"RoleArn": role}))
    assert found[0].action == f"pipes:{operation}"
    assert found[0].resource == f"arn:aws:pipes:us-east-1:{ACCOUNT}:pipe/sprout-n-notes-t1"
    passed = [(c.action, c.resource, c.context) for c in found[1:]]
    assert passed == ([("iam:PassRole", role, (("iam:PassedToService", "pipes.amazonaws.com"),))]
                      if operation == "CreatePipe" else [])


def test_given_describe_stacks_without_a_name_then_it_needs_describe_stacks_and_list_stacks_on_every_stack():
    """GIVEN DescribeStacks with no StackName (every stack of the account) WHEN checked THEN, as AWS documents
    it, both cloudformation:DescribeStacks and cloudformation:ListStacks are needed on ``*``; AND with a name,
    DescribeStacks on that stack alone."""
    found = checks(Call("cloudformation", "DescribeStacks", {}))
    assert {(c.action, c.resource) for c in found} == {("cloudformation:DescribeStacks", "*"),
                                                       ("cloudformation:ListStacks", "*")}
    named = checks(Call("cloudformation", "DescribeStacks", {"StackName": "notes-dev"}))
    assert [(c.action, c.resource) for c in named] == [
        ("cloudformation:DescribeStacks", f"arn:aws:cloudformation:us-east-1:{ACCOUNT}:stack/notes-dev/*")]
