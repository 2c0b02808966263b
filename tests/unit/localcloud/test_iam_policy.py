"""IAM's evaluation rules (localcloud.iam.policy) and the resource each request is authorized on
(localcloud.iam.actions), without a cloud."""

from __future__ import annotations

import pytest

from localcloud.iam.actions import Call, Check, checks, function_arn, s3_checks, s3_object_of_url
from localcloud.iam.policy import Caller, Decision, Request, evaluate

TABLE = "arn:aws:dynamodb:us-east-1:123456789012:table/Sprout"


def doc(*statements: dict) -> dict:
    return {"Version": "2012-10-17", "Statement": list(statements)}


def allow(action, resource="*", **extra) -> dict:
    return {"Effect": "Allow", "Action": action, "Resource": resource, **extra}


def decide(document: dict, action: str, resource: str = "*", context=None, caller=None) -> Decision:
    return evaluate([document], Request(action, resource, context or {}, caller))


# ---- the evaluation --------------------------------------------------------------------------
def test_given_an_allow_on_a_table_then_that_table_is_allowed_and_another_is_implicitly_denied():
    policy = doc(allow("dynamodb:PutItem", TABLE))
    assert decide(policy, "dynamodb:PutItem", TABLE) is Decision.ALLOW
    assert decide(policy, "dynamodb:PutItem", TABLE + "2") is Decision.IMPLICIT_DENY
    assert decide(policy, "dynamodb:DeleteItem", TABLE) is Decision.IMPLICIT_DENY


def test_given_an_explicit_deny_then_it_wins_over_any_allow():
    policy = doc(allow("dynamodb:*", "*"), {"Effect": "Deny", "Action": "dynamodb:DeleteItem", "Resource": TABLE})
    assert decide(policy, "dynamodb:DeleteItem", TABLE) is Decision.DENY
    assert decide(policy, "dynamodb:GetItem", TABLE) is Decision.ALLOW


def test_given_wildcards_then_actions_match_case_insensitively_and_resources_case_sensitively():
    policy = doc(allow("DynamoDB:get*", "arn:aws:dynamodb:*:*:table/Spr?ut"))
    assert decide(policy, "dynamodb:GetItem", TABLE) is Decision.ALLOW
    assert decide(policy, "dynamodb:GetItem", TABLE.lower()) is Decision.IMPLICIT_DENY
    assert decide(policy, "dynamodb:GetItem", TABLE + "x") is Decision.IMPLICIT_DENY


def test_given_regex_characters_in_an_arn_then_they_are_literal():
    policy = doc(allow("s3:GetObject", "arn:aws:s3:::bucket/a.txt"))
    assert decide(policy, "s3:GetObject", "arn:aws:s3:::bucket/a.txt") is Decision.ALLOW
    assert decide(policy, "s3:GetObject", "arn:aws:s3:::bucket/aXtxt") is Decision.IMPLICIT_DENY


def test_given_a_call_that_takes_no_resource_then_only_a_star_resource_grants_it():
    assert decide(doc(allow("cloudwatch:PutMetricData", "*")), "cloudwatch:PutMetricData") is Decision.ALLOW
    scoped = doc(allow("cloudwatch:PutMetricData", "arn:aws:cloudwatch:*:*:alarm:*"))
    assert decide(scoped, "cloudwatch:PutMetricData") is Decision.IMPLICIT_DENY


def test_given_not_action_and_not_resource_then_they_exclude_what_they_name():
    policy = doc({"Effect": "Allow", "NotAction": "iam:*", "NotResource": TABLE})
    assert decide(policy, "s3:GetObject", "arn:aws:s3:::b/k") is Decision.ALLOW
    assert decide(policy, "iam:GetRole", "arn:aws:iam::123456789012:role/r") is Decision.IMPLICIT_DENY
    assert decide(policy, "dynamodb:GetItem", TABLE) is Decision.IMPLICIT_DENY


def test_given_conditions_then_string_arn_bool_null_and_if_exists_behave_as_documented():
    policy = doc(
        allow("iam:PassRole", "*", Condition={"StringEquals": {"iam:PassedToService": "cloudformation.amazonaws.com"}})
    )
    assert decide(policy, "iam:PassRole", context={"iam:PassedToService": "cloudformation.amazonaws.com"}) is Decision.ALLOW
    assert decide(policy, "iam:PassRole", context={"iam:PassedToService": "lambda.amazonaws.com"}) is Decision.IMPLICIT_DENY
    assert decide(policy, "iam:PassRole") is Decision.IMPLICIT_DENY  # the key is missing: the condition is false
    negated = doc(allow("s3:GetObject", "*", Condition={"StringNotEquals": {"aws:RequestedRegion": "eu-west-1"}}))
    assert decide(negated, "s3:GetObject") is Decision.ALLOW  # a missing key satisfies a negated operator
    if_exists = doc(allow("s3:GetObject", "*", Condition={"ArnLikeIfExists": {"aws:SourceArn": "arn:aws:events:*:*:rule/x"}}))
    assert decide(if_exists, "s3:GetObject") is Decision.ALLOW
    assert decide(if_exists, "s3:GetObject", context={"aws:SourceArn": "arn:aws:events:us-east-1:1:rule/y"}) is Decision.IMPLICIT_DENY
    null = doc(allow("s3:GetObject", "*", Condition={"Null": {"aws:SourceArn": "true"}, "Bool": {"aws:SecureTransport": "false"}}))
    assert decide(null, "s3:GetObject", context={"aws:SecureTransport": "false"}) is Decision.ALLOW
    assert decide(null, "s3:GetObject", context={"aws:SecureTransport": "false", "aws:SourceArn": "a"}) is Decision.IMPLICIT_DENY


def test_given_a_policy_variable_then_it_is_the_requests_value():
    policy = doc(allow("s3:GetObject", "arn:aws:s3:::home/${aws:username}/*"))
    assert decide(policy, "s3:GetObject", "arn:aws:s3:::home/ada/x", {"aws:username": "ada"}) is Decision.ALLOW
    assert decide(policy, "s3:GetObject", "arn:aws:s3:::home/bob/x", {"aws:username": "ada"}) is Decision.IMPLICIT_DENY


def test_given_a_trust_policy_then_the_service_or_role_sessions_it_names_may_assume_the_role():
    trust = doc({"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"})
    assert decide(trust, "sts:AssumeRole", caller=Caller(service="lambda.amazonaws.com")) is Decision.ALLOW
    assert decide(trust, "sts:AssumeRole", caller=Caller(service="events.amazonaws.com")) is Decision.IMPLICIT_DENY
    by_role = doc({"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::123456789012:role/ci"}, "Action": "sts:AssumeRole"})
    session = Caller(arn="arn:aws:sts::123456789012:assumed-role/ci/build-7")
    assert decide(by_role, "sts:AssumeRole", caller=session) is Decision.ALLOW
    account = doc({"Effect": "Allow", "Principal": {"AWS": "123456789012"}, "Action": "sts:AssumeRole"})
    assert decide(account, "sts:AssumeRole", caller=session) is Decision.ALLOW
    assert decide(account, "sts:AssumeRole", caller=Caller(arn="arn:aws:sts::999999999999:assumed-role/ci/x")) is Decision.IMPLICIT_DENY


# ---- what a request is authorized on ------------------------------------------------------------
def call(service, operation, **params) -> Call:
    return Call(service=service, operation=operation, params=params)


def test_given_a_transaction_then_each_item_is_checked_with_its_own_action_on_its_table():
    found = checks(
        call(
            "dynamodb",
            "TransactWriteItems",
            TransactItems=[{"Put": {"TableName": "Sprout"}}, {"ConditionCheck": {"TableName": "Other"}}, {"Update": {"TableName": "Sprout"}}],
        )
    )
    assert found == [
        Check("dynamodb:PutItem", TABLE),
        Check("dynamodb:ConditionCheckItem", "arn:aws:dynamodb:us-east-1:123456789012:table/Other"),
        Check("dynamodb:UpdateItem", TABLE),
    ]


def test_given_a_query_on_an_index_then_the_index_is_the_resource():
    assert checks(call("dynamodb", "Query", TableName="Sprout", IndexName="gsi1")) == [Check("dynamodb:Query", TABLE + "/index/gsi1")]


def test_given_lambda_invocations_then_the_resource_is_the_arn_as_invoked():
    c = Call(service="lambda", operation="Invoke", path="/2015-03-31/functions/fn/invocations", params={"Qualifier": "live"})
    assert checks(c) == [Check("lambda:InvokeFunction", "arn:aws:lambda:us-east-1:123456789012:function:fn:live")]
    c = Call(service="lambda", operation="Invoke", path="/2015-03-31/functions/arn%3Aaws%3Alambda%3Aus-east-1%3A123456789012%3Afunction%3Afn/invocations")
    assert checks(c) == [Check("lambda:InvokeFunction", "arn:aws:lambda:us-east-1:123456789012:function:fn")]
    assert function_arn(c, "123456789012:function:fn:7") == "arn:aws:lambda:us-east-1:123456789012:function:fn:7"


def test_given_a_change_set_with_a_role_and_a_template_url_then_passrole_and_the_template_read_are_checked():
    found = checks(
        call(
            "cloudformation",
            "CreateChangeSet",
            StackName="notes-dev",
            RoleARN="arn:aws:iam::123456789012:role/deploy",
            TemplateURL="https://artifacts.s3.us-east-1.amazonaws.com/templates/notes/1/template.yaml",
        )
    )
    assert found == [
        Check("cloudformation:CreateChangeSet", "arn:aws:cloudformation:us-east-1:123456789012:stack/notes-dev/*"),
        Check("iam:PassRole", "arn:aws:iam::123456789012:role/deploy", (("iam:PassedToService", "cloudformation.amazonaws.com"),)),
        Check("s3:GetObject", "arn:aws:s3:::artifacts/templates/notes/1/template.yaml"),
    ]


@pytest.mark.parametrize(
    ("service", "operation", "params", "expected"),
    [
        ("states", "StartExecution", {"stateMachineArn": "arn:aws:states:us-east-1:123456789012:stateMachine:b"},
         Check("states:StartExecution", "arn:aws:states:us-east-1:123456789012:stateMachine:b")),
        ("logs", "PutLogEvents", {"logGroupName": "/aws/lambda/f", "logStreamName": "s"},
         Check("logs:PutLogEvents", "arn:aws:logs:us-east-1:123456789012:log-group:/aws/lambda/f:log-stream:s")),
        ("events", "PutEvents", {"Entries": [{"Source": "x", "DetailType": "y"}]},
         Check("events:PutEvents", "arn:aws:events:us-east-1:123456789012:event-bus/default",
               (("events:source", "x"), ("events:detail-type", "y")))),
        ("codecommit", "GetFolder", {"repositoryName": "notes"},
         Check("codecommit:GetFolder", "arn:aws:codecommit:us-east-1:123456789012:notes")),
        ("monitoring", "PutMetricData", {"Namespace": "x"},
         Check("cloudwatch:PutMetricData", "*", (("cloudwatch:namespace", "x"),))),
        ("sts", "AssumeRole", {"RoleArn": "arn:aws:iam::123456789012:role/r"}, Check("sts:AssumeRole", "arn:aws:iam::123456789012:role/r")),
    ],
)
def test_given_a_request_then_it_is_checked_on_the_resource_aws_authorizes_it_on(service, operation, params, expected):
    assert checks(call(service, operation, **params)) == [expected]


def test_given_s3_requests_then_iam_action_names_are_used_and_a_copy_reads_its_source():
    assert s3_checks("ListObjectsV2", "arn:aws:s3:::b", {}) == [Check("s3:ListBucket", "arn:aws:s3:::b")]
    assert s3_checks("PutObject", "arn:aws:s3:::b/k", {"x-amz-copy-source": "/src/a%20b"}) == [
        Check("s3:PutObject", "arn:aws:s3:::b/k"),
        Check("s3:GetObject", "arn:aws:s3:::src/a b"),
    ]
    assert s3_object_of_url("s3://b/k/x.yaml") == "arn:aws:s3:::b/k/x.yaml"
    assert s3_object_of_url("file:///tmp/t.yaml") is None
