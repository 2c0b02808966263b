"""Sprout's AppRoleBoundary (template.yaml), evaluated by localcloud's IAM evaluator as IAM would: an
app's role may use the CloudWatch Logs groups of its own stage's functions
(``/aws/lambda/<app>-<stage>/<LogicalId>``, the names Package gives them) and any group that is not a
function's, but no other stage's function log group and none of Sprout's."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from localcloud.cloudformation.template import parse_template
from localcloud.iam.policy import Decision, Request, evaluate

ROOT = Path(__file__).resolve().parents[3]
ACCOUNT, REGION, STACK = "123456789012", "us-east-1", "sprout"
PSEUDO = {"AWS::Partition": "aws", "AWS::Region": REGION, "AWS::AccountId": ACCOUNT, "AWS::StackName": STACK}


def _resolve(node: Any) -> Any:
    """The template's intrinsics as CloudFormation resolves them (Sprout's own resources: placeholders)."""
    if isinstance(node, list):
        return [_resolve(n) for n in node]
    if not isinstance(node, dict):
        return node
    if "Fn::Sub" in node:
        text = node["Fn::Sub"]

        def value(m: re.Match) -> str:
            name = m.group(1)
            if name.startswith("!"):
                return "${" + name[1:] + "}"  # ${!x}: the literal ${x}, an IAM policy variable
            return PSEUDO.get(name) or f"{STACK}-{name.replace('.', '-')}"

        return re.sub(r"\$\{([^}]+)\}", value, text)
    if "Fn::GetAtt" in node:
        target = node["Fn::GetAtt"]
        name = target[0] if isinstance(target, list) else str(target).split(".")[0]
        return f"arn:aws:placeholder:{REGION}:{ACCOUNT}:{STACK}-{name}"
    if "Ref" in node:
        return PSEUDO.get(node["Ref"]) or f"{STACK}-{node['Ref']}"
    return {k: _resolve(v) for k, v in node.items()}


@pytest.fixture(scope="module")
def boundary() -> dict:
    template = parse_template((ROOT / "template.yaml").read_text())
    return _resolve(template["Resources"]["AppRoleBoundary"]["Properties"]["PolicyDocument"])


def decide(boundary: dict, action: str, resource: str, app: str | None = "notes", stage: str | None = "dev") -> Decision:
    tags = {} if app is None else {"aws:PrincipalTag/sprout:app": app, "aws:PrincipalTag/sprout:stage": stage}
    return evaluate([boundary], Request(action, resource, tags))


def group(name: str, stream: str | None = None) -> str:
    arn = f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:{name}"
    return arn + (f":log-stream:{stream}" if stream else "")


@pytest.mark.parametrize("action", ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents",
                                    "logs:FilterLogEvents", "logs:DeleteLogGroup", "logs:PutRetentionPolicy"])
def test_given_a_role_of_a_stage_then_its_own_function_log_groups_are_allowed(boundary, action):
    """GIVEN the role of notes' dev stack (tags sprout:app=notes, sprout:stage=dev)
    WHEN it acts on /aws/lambda/notes-dev/CreateNote (and its streams)
    THEN the boundary allows it"""
    assert decide(boundary, action, group("/aws/lambda/notes-dev/CreateNote", "2026/12/08/f[1]x")) is Decision.ALLOW
    assert decide(boundary, action, group("/aws/lambda/notes-dev/CreateNote")) is Decision.ALLOW


@pytest.mark.parametrize("name", [
    "/aws/lambda/notes-prod/CreateNote",  # another stage of the same app
    "/aws/lambda/notes-dev-x/CreateNote",  # app notes-dev, stage x (or notes, dev-x): the "/" tells them apart
    "/aws/lambda/notes-devx/CreateNote",
    "/aws/lambda/other-dev/CreateNote",
    "/aws/lambda/notes-dev-CreateNote-abc",  # a default group (a function's own name)
    "/aws/lambda/notes-dev",
])
@pytest.mark.parametrize("action", ["logs:CreateLogStream", "logs:PutLogEvents", "logs:FilterLogEvents",
                                    "logs:GetLogEvents", "logs:DeleteLogGroup", "logs:CreateLogGroup"])
def test_given_a_role_of_a_stage_then_another_stages_function_log_groups_are_denied(boundary, name, action):
    """GIVEN the role of notes' dev stack
    WHEN it acts on a function log group that is not under /aws/lambda/notes-dev/
    THEN the boundary does not allow it"""
    assert decide(boundary, action, group(name, "s")) is not Decision.ALLOW
    assert decide(boundary, action, group(name)) is not Decision.ALLOW


def test_given_the_a_b_stage_then_the_a_b_c_stage_is_not_its_own_nor_the_reverse(boundary):
    """GIVEN app a stage b (stack a-b) and app a-b stage c (stack a-b-c)
    WHEN each writes to the other's function log group
    THEN both are denied and each may write its own"""
    assert decide(boundary, "logs:PutLogEvents", group("/aws/lambda/a-b-c/F", "s"), "a", "b") is not Decision.ALLOW
    assert decide(boundary, "logs:PutLogEvents", group("/aws/lambda/a-b/F", "s"), "a-b", "c") is not Decision.ALLOW
    assert decide(boundary, "logs:PutLogEvents", group("/aws/lambda/a-b/F", "s"), "a", "b") is Decision.ALLOW
    assert decide(boundary, "logs:PutLogEvents", group("/aws/lambda/a-b-c/F", "s"), "a-b", "c") is Decision.ALLOW


def test_given_a_role_without_sprouts_tags_then_no_function_log_group_is_its(boundary):
    """GIVEN a role without sprout:app/sprout:stage tags (the variables do not resolve)
    WHEN it writes to any function log group
    THEN it is denied (a group outside /aws/lambda/ stays allowed)"""
    assert decide(boundary, "logs:PutLogEvents", group("/aws/lambda/notes-dev/F", "s"), None) is not Decision.ALLOW
    assert decide(boundary, "logs:PutLogEvents", group("/my/own/group", "s"), None) is Decision.ALLOW


@pytest.mark.parametrize("name", ["/aws/lambda/sprout-ApiFunction-X", "API-Gateway-Access-Logs_abc/dev",
                                  "/aws/codebuild/sprout-Dependencies"])
@pytest.mark.parametrize("action", ["logs:PutLogEvents", "logs:DeleteLogGroup", "logs:CreateLogStream"])
def test_given_sprouts_own_log_groups_then_they_are_denied(boundary, name, action):
    """GIVEN Sprout's functions', access logs' and builds' groups WHEN an app's role writes or deletes them THEN denied"""
    assert decide(boundary, action, group(name, "s")) is not Decision.ALLOW


def test_given_an_unrelated_group_and_calls_on_no_resource_then_they_stay_allowed(boundary):
    """GIVEN a log group of the app's own naming outside /aws/lambda/, and DescribeLogGroups (no resource: "*")
    WHEN the role uses them THEN allowed; subscription filters stay denied everywhere"""
    for action in ("logs:CreateLogGroup", "logs:PutLogEvents", "logs:FilterLogEvents", "logs:DeleteLogGroup"):
        assert decide(boundary, action, group("/notes/audit", "s")) is Decision.ALLOW
    assert decide(boundary, "logs:DescribeLogGroups", "*") is Decision.ALLOW
    assert decide(boundary, "logs:DescribeLogGroups", group("*")) is Decision.ALLOW
    assert decide(boundary, "logs:PutSubscriptionFilter", group("/aws/lambda/notes-dev/F")) is Decision.DENY
    assert decide(boundary, "logs:PutSubscriptionFilter", group("/notes/audit")) is Decision.DENY


@pytest.mark.parametrize("name", ["API-Gateway-Access-Logs_abc/prod", "/aws/codebuild/sprout-Dependencies",
                                  "/aws/lambda/sprout-ApiFunction-X"])
@pytest.mark.parametrize("action", ["logs:FilterLogEvents", "logs:GetLogEvents", "logs:StartQuery",
                                    "logs:DescribeLogStreams"])
def test_given_access_logs_and_sprouts_logs_then_an_apps_role_cannot_read_them(boundary, name, action):
    """GIVEN any stage's access-log group (every app's are named alike), Sprout's builds' and functions' groups
    WHEN an app's role reads them THEN not allowed: they hold other apps' requests and builds"""
    assert decide(boundary, action, group(name)) is not Decision.ALLOW
