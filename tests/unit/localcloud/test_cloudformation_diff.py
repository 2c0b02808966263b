"""Change-set diffing and SAM packaging/translation, without a cloud."""

from __future__ import annotations

import io
import zipfile

import pytest

from localcloud.cloudformation.diff import diff
from localcloud.cloudformation.prepare import prepare, pseudo_parameters
from localcloud.cloudformation.sam import deterministic_zip, managed_policy_map, package, translate
from localcloud.cloudformation.template import TemplateError

PSEUDO = pseudo_parameters(
    "stk", "arn:aws:cloudformation:us-east-1:123456789012:stack/stk/1", "us-east-1", "123456789012"
)

BASE = """
Parameters: {Days: {Type: Number, Default: 3}}
Resources:
  Keep: {Type: AWS::Logs::LogGroup, Properties: {LogGroupName: keep}}
  Tune: {Type: AWS::Logs::LogGroup, Properties: {LogGroupName: tune, RetentionInDays: !Ref Days}}
  Rename: {Type: AWS::Logs::LogGroup, Properties: {LogGroupName: old}}
  Drop: {Type: AWS::Logs::LogGroup}
  Watcher: {Type: AWS::Events::Rule, Properties: {Description: !Ref Rename, ScheduleExpression: rate(1 day)}}
"""


def changes_of(old_body: str, new_body: str, params: dict | None = None) -> dict[str, dict]:
    old = prepare(old_body, {}, PSEUDO)
    new = prepare(new_body, params or {}, PSEUDO)
    physical = {lid: f"phys-{lid}" for lid in old.active}
    return {c["LogicalResourceId"]: c for c in diff(old, PSEUDO, new, PSEUDO, physical)}


def test_given_the_same_template_and_parameters_then_there_are_no_changes():
    assert changes_of(BASE, BASE) == {}


def test_given_a_parameter_change_then_the_resource_using_it_is_modified_in_place():
    changes = changes_of(BASE, BASE, {"Days": "7"})
    assert list(changes) == ["Tune"]
    tune = changes["Tune"]
    assert (tune["Action"], tune["Replacement"], tune["PhysicalResourceId"]) == (
        "Modify",
        "False",
        "phys-Tune",
    )
    assert tune["Details"][0]["Target"] == {
        "Attribute": "Properties",
        "Name": "RetentionInDays",
        "RequiresRecreation": "Never",
    }


def test_given_added_removed_and_replaced_resources_then_actions_and_replacement_follow_the_property_table():
    new = BASE.replace("LogGroupName: old", "LogGroupName: new").replace(
        "  Drop: {Type: AWS::Logs::LogGroup}\n", "  Fresh: {Type: AWS::Logs::LogGroup}\n"
    )
    changes = changes_of(BASE, new)
    assert {lid: c["Action"] for lid, c in changes.items()} == {
        "Rename": "Modify",
        "Watcher": "Modify",
        "Fresh": "Add",
        "Drop": "Remove",
    }
    assert changes["Rename"]["Replacement"] == "True"
    # the rule refers to the replaced log group: its Description changes when that is replaced
    watcher = changes["Watcher"]
    assert watcher["Replacement"] == "False"
    assert (
        watcher["Details"][0]["CausingEntity"] == "Rename"
        and watcher["Details"][0]["Evaluation"] == "Dynamic"
    )
    assert (
        "PhysicalResourceId" not in changes["Fresh"] and changes["Drop"]["PhysicalResourceId"] == "phys-Drop"
    )


def test_given_a_type_change_then_the_resource_is_replaced():
    new = BASE.replace("Drop: {Type: AWS::Logs::LogGroup}", "Drop: {Type: AWS::S3::Bucket}")
    drop = changes_of(BASE, new)["Drop"]
    assert (drop["Action"], drop["Replacement"], drop["ResourceType"]) == (
        "Modify",
        "True",
        "AWS::S3::Bucket",
    )


def test_given_no_old_template_then_everything_is_added():
    new = prepare(BASE, {}, PSEUDO)
    assert {c["Action"] for c in diff(None, None, new, PSEUDO)} == {"Add"}


# ---- SAM ----------------------------------------------------------------------------------------


def test_given_the_same_folder_twice_then_the_zip_is_byte_identical_and_skips_caches(tmp_path):
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "mod.py").write_text("x = 1\n")
    (tmp_path / "app.py").write_text("def h(e, c): return 1\n")
    (tmp_path / "__pycache__").mkdir()
    (tmp_path / "__pycache__" / "app.cpython-311.pyc").write_bytes(b"junk")
    first = deterministic_zip(tmp_path)
    (tmp_path / "app.py").touch()  # a new mtime changes nothing
    assert deterministic_zip(tmp_path) == first
    assert zipfile.ZipFile(io.BytesIO(first)).namelist() == ["app.py", "pkg/mod.py"]


SAM = """
Transform: AWS::Serverless-2016-10-31
Resources:
  Fn:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: src/
      Handler: app.h
      Runtime: python3.11
      AutoPublishAlias: live
      Policies: [AWSLambdaBasicExecutionRole, AmazonDynamoDBReadOnlyAccess, SomeFuturePolicy]
"""


def test_given_a_local_code_uri_then_it_is_uploaded_once_and_replaced_by_its_s3_uri(tmp_path):
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "app.py").write_text("def h(e, c): return 1\n")
    uploads = []

    def upload(data: bytes, suffix: str) -> tuple[str, str]:
        uploads.append(data)
        return "bucket", f"key{len(uploads)}{suffix}"

    plan = prepare(SAM, {}, PSEUDO, base_dir=tmp_path, upload=upload)
    fn = plan.template["Resources"]["Fn"]["Properties"]
    assert fn["Code"] == {"S3Bucket": "bucket", "S3Key": "key1.zip"} and len(uploads) == 1
    roles = plan.template["Resources"]["FnRole"]["Properties"]["ManagedPolicyArns"]
    assert roles == [
        "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole",
        "arn:aws:iam::aws:policy/AmazonDynamoDBReadOnlyAccess",
        "arn:aws:iam::aws:policy/SomeFuturePolicy",
    ]
    assert plan.order.index("FnRole") < plan.order.index("Fn") < plan.order.index("FnAliaslive")


def test_given_auto_publish_alias_then_versions_follow_sams_own_rules_for_configuration_changes(tmp_path):
    def version_ids(body: str) -> set[str]:
        out = translate(
            package(__import__("yaml").safe_load(body), tmp_path, lambda d, s: ("b", "k.zip")),
            {},
            "us-east-1",
        )
        return {lid for lid, r in out["Resources"].items() if r["Type"] == "AWS::Lambda::Version"}

    def with_timeout(body: str) -> str:
        return body.replace("Runtime: python3.11", "Runtime: python3.11\n      Timeout: 9")

    (tmp_path / "src").mkdir()
    # SAM's default, as on AWS: a configuration-only change publishes no new version
    assert version_ids(SAM) and version_ids(SAM) == version_ids(with_timeout(SAM))
    # AutoPublishAliasAllProperties: a configuration change is a new version
    all_properties = SAM.replace(
        "AutoPublishAlias: live", "AutoPublishAlias: live\n      AutoPublishAliasAllProperties: true"
    )
    assert version_ids(all_properties) != version_ids(with_timeout(all_properties))


def test_given_a_missing_folder_or_no_base_dir_then_packaging_names_the_resource_and_path(tmp_path):
    with pytest.raises(
        TemplateError, match=r"Fn \(AWS::Serverless::Function\) CodeUri: local path 'src/' .* does not exist"
    ):
        prepare(SAM, {}, PSEUDO, base_dir=tmp_path, upload=lambda d, s: ("b", "k"))
    with pytest.raises(TemplateError, match="localcloud:template-dir"):
        prepare(SAM, {}, PSEUDO, base_dir=None, upload=lambda d, s: ("b", "k"))


def test_given_an_invalid_sam_resource_then_the_transform_error_names_it():
    body = "Transform: AWS::Serverless-2016-10-31\nResources:\n  Fn:\n    Type: AWS::Serverless::Function\n    Properties: {CodeUri: s3://b/k.zip, Runtime: python3.11, Handler: a.b, Events: {E: {Type: Api, Properties: {Path: 5}}}}\n"
    with pytest.raises(TemplateError) as e:
        prepare(body, {}, PSEUDO, upload=lambda d, s: ("b", "k"))
    assert "Transform AWS::Serverless-2016-10-31 failed" in str(e.value) and "Fn" in str(e.value)


def test_given_the_managed_policy_map_then_unknown_names_get_their_aws_arn_without_network():
    policies = managed_policy_map()
    assert (
        policies.get("AWSLambdaBasicExecutionRole")
        == "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"
    )
    assert policies.get("NotInTheBundle") == "arn:aws:iam::aws:policy/NotInTheBundle"
    assert policies.get("arn:aws:iam::123456789012:policy/mine") is None
