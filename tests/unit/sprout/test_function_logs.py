"""Package names every app function's log group (sprout.domain.function_logs): LoggingConfig.LogGroup
is /aws/lambda/${AWS::StackName}/<LogicalId>, the app's other logging choices kept, and an app that
names a log group itself is refused naming the resource and the property."""

from __future__ import annotations

import pytest

from sprout.domain.errors import PackagingError
from sprout.domain.function_logs import function_log_group, own_log_groups
from sprout.domain.packaging import package
from sprout.domain.source_tree import MemoryTree
from sprout.domain.stages import function_log_groups
from sprout.domain.template import load_template

TEMPLATE = """\
Transform: AWS::Serverless-2016-10-31
Globals:
  Function:
    Runtime: python3.13
{globals}
Resources:
  Create:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: src/
      Handler: app.main
{create}
  Raw:
    Type: AWS::Lambda::Function
    Properties:
      Handler: index.main
      Runtime: python3.13
      Role: arn:aws:iam::123456789012:role/r
      Code: {{ZipFile: "def main(e, c): return 1"}}
  Table:
    Type: AWS::DynamoDB::Table
    Properties: {{BillingMode: PAY_PER_REQUEST}}
"""


def packaged(globals_: str = "", create: str = "") -> dict:
    template = TEMPLATE.format(globals=globals_, create=create)
    tree = MemoryTree({"template.yaml": template.encode(), "src/app.py": b"def main(e, c):\n    return 1\n"})
    return load_template(package(template, "template.yaml", tree, "bucket").packaged_template)


def sub(logical_id: str) -> dict:
    return {"Fn::Sub": f"/aws/lambda/${{AWS::StackName}}/{logical_id}"}


def test_given_functions_without_logging_config_then_each_gets_sprouts_log_group():
    """GIVEN a SAM function and a raw AWS::Lambda::Function without LoggingConfig
    WHEN packaged THEN each logs to /aws/lambda/${AWS::StackName}/<LogicalId>, and nothing else changes"""
    resources = packaged()["Resources"]
    assert resources["Create"]["Properties"]["LoggingConfig"] == {"LogGroup": sub("Create")}
    assert resources["Raw"]["Properties"]["LoggingConfig"] == {"LogGroup": sub("Raw")}
    assert "LoggingConfig" not in resources["Table"]["Properties"]


def test_given_the_apps_own_log_format_and_levels_then_they_are_kept():
    """GIVEN LogFormat JSON and log levels on the function, and LogFormat in Globals.Function
    WHEN packaged THEN they stay as the app wrote them (SAM merges the Globals' in), the LogGroup is Sprout's"""
    result = packaged(globals_="    LoggingConfig: {LogFormat: JSON}",
                      create="      LoggingConfig: {LogFormat: JSON, ApplicationLogLevel: WARN, SystemLogLevel: INFO}")
    assert result["Resources"]["Create"]["Properties"]["LoggingConfig"] == {
        "LogFormat": "JSON", "ApplicationLogLevel": "WARN", "SystemLogLevel": "INFO", "LogGroup": sub("Create")}
    assert result["Globals"]["Function"]["LoggingConfig"] == {"LogFormat": "JSON"}


@pytest.mark.parametrize(("globals_", "create", "named"), [
    ("", "      LoggingConfig: {LogGroup: /aws/lambda/victim-prod/Create}", "Create.LoggingConfig.LogGroup"),
    ("    LoggingConfig: {LogGroup: /aws/lambda/victim-prod/Create}", "", "Globals.Function.LoggingConfig.LogGroup"),
    ("", "      LoggingConfig: {LogFormat: JSON, LogGroup: !Ref AWS::StackName}", "Create.LoggingConfig.LogGroup"),
])
def test_given_an_app_that_names_a_log_group_then_package_refuses_it_naming_the_resource(globals_, create, named):
    """GIVEN LoggingConfig.LogGroup set by the app (on a function, in Globals.Function)
    WHEN packaged THEN PackagingError naming <where>.LoggingConfig.LogGroup"""
    with pytest.raises(PackagingError) as refused:
        packaged(globals_, create)
    assert str(refused.value).startswith(f"{named}: an app may not choose its functions' log groups")


def test_given_a_raw_function_naming_a_log_group_or_an_intrinsic_logging_config_then_it_is_refused():
    """GIVEN an AWS::Lambda::Function with its own LogGroup, and a LoggingConfig hidden in Fn::If
    WHEN its log groups are owned THEN each is refused naming the resource"""
    template = {"Resources": {"Raw": {"Type": "AWS::Lambda::Function", "Properties": {"LoggingConfig": {"LogGroup": "x"}}}}}
    with pytest.raises(PackagingError, match=r"^Raw\.LoggingConfig\.LogGroup: "):
        own_log_groups(template)
    hidden = {"Resources": {"F": {"Type": "AWS::Serverless::Function",
                                  "Properties": {"LoggingConfig": {"Fn::If": ["C", {"LogGroup": "x"}, {}]}}}}}
    with pytest.raises(PackagingError, match=r"^F\.LoggingConfig must be a mapping"):
        own_log_groups(hidden)


def test_given_a_stack_and_logical_ids_then_sprout_reads_and_removes_the_groups_by_the_same_names():
    """GIVEN the stack notes-dev and its functions WHEN their groups are named THEN /aws/lambda/notes-dev/<LogicalId>"""
    assert function_log_group("notes-dev", "CreateNote") == "/aws/lambda/notes-dev/CreateNote"
    assert function_log_groups("notes-dev", ["Get", "CreateNote", ""]) == [
        "/aws/lambda/notes-dev/CreateNote", "/aws/lambda/notes-dev/Get"]
