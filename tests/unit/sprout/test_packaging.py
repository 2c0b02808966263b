"""Packaging a SAM app from a source tree: deterministic zips, Globals, the packaged template, errors."""

from __future__ import annotations

import hashlib
import io
import zipfile

import pytest

from sprout.domain.errors import PackagingError
from sprout.domain.packaging import package
from sprout.domain.source_tree import MemoryTree
from sprout.domain.template import load_template

BUCKET = "sprout-artifacts"

TEMPLATE = """\
AWSTemplateFormatVersion: 2010-09-09
Transform: AWS::Serverless-2016-10-31
Parameters:
  Stage: {Type: String}
Globals:
  Function:
    Runtime: python3.13
    MemorySize: 256
    Timeout: 10
    Architectures: [x86_64]
    Layers: [!Ref DepsLayer]
    Environment:
      Variables:
        TABLE: !Ref NotesTable
        STAGE: !Sub "${Stage}"
Resources:
  NotesTable:
    Type: AWS::DynamoDB::Table
    Properties:
      BillingMode: PAY_PER_REQUEST
  DepsLayer:
    Type: AWS::Serverless::LayerVersion
    Properties:
      ContentUri: layers/deps
  Create:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: functions/create/
      Handler: create.main
      Timeout: 30
      Architectures: [arm64]
      Environment:
        Variables:
          STAGE: fixed
          ONLY_CREATE: "1"
      Events:
        Post:
          Type: Api
          Properties: {Path: /notes, Method: post}
  List:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: ./functions/list
      Handler: list.main
      Layers:
        - !GetAtt Other.Arn
      Role: !GetAtt ListRole.Arn
  Flow:
    Type: AWS::Serverless::StateMachine
    Properties:
      DefinitionUri: ../statemachines/flow.asl.json
      DefinitionSubstitutions:
        ListArn: !GetAtt List.Arn
Outputs:
  Api:
    Value: !Sub "https://${ServerlessRestApi}.execute-api.${AWS::Region}.amazonaws.com/Prod"
"""

FILES = {
    "app/template.yaml": TEMPLATE.encode(),
    "app/functions/create/create.py": b"def main(event, context):\n    return {'statusCode': 201}\n",
    "app/functions/create/lib/util.py": b"X = 1\n",
    "app/functions/create/bin/tool": b"#!/bin/sh\necho hi\n",
    "app/functions/list/list.py": b"def main(event, context):\n    return {'statusCode': 200}\n",
    "app/layers/deps/python/dep.py": b"DEP = True\n",
    "statemachines/flow.asl.json": b'{"StartAt": "List", "States": {"List": {"Type": "Task", "Resource": "${ListArn}", "End": true}}}',
    "README.md": b"# notes\n",
}
EXECUTABLES = ["app/functions/create/bin/tool"]


def tree(files=None, executables=EXECUTABLES) -> MemoryTree:
    return MemoryTree(dict(FILES if files is None else files), executables, location="commit abc123 of repository notes")


def run(t: MemoryTree | None = None, path="app/template.yaml"):
    t = t or tree()
    data = t.read(path)
    return package(data.decode() if data is not None else None, path, t, BUCKET)


def by_id(result):
    return {f.logical_id: f for f in result.functions}


# ---- determinism -------------------------------------------------------------------------------


def test_given_the_same_tree_twice_or_listed_in_another_order_then_the_zips_are_byte_identical():
    first = run()
    again = run()
    reordered = run(tree(dict(reversed(list(FILES.items())))))

    assert first.artifacts == again.artifacts == reordered.artifacts
    assert [f.sha256 for f in first.functions] == [f.sha256 for f in reordered.functions]
    for sha, data in first.artifacts.items():
        assert hashlib.sha256(data).hexdigest() == sha


def test_given_a_zip_then_entries_are_sorted_dated_1980_with_fixed_modes_and_no_directories():
    result = run()
    archive = zipfile.ZipFile(io.BytesIO(result.artifacts[by_id(result)["Create"].sha256]))
    infos = archive.infolist()

    assert [i.filename for i in infos] == ["bin/tool", "create.py", "lib/util.py"]
    assert {i.date_time for i in infos} == {(1980, 1, 1, 0, 0, 0)}
    assert {i.filename: i.external_attr >> 16 for i in infos} == {
        "bin/tool": 0o100755, "create.py": 0o100644, "lib/util.py": 0o100644,
    }
    assert archive.read("lib/util.py") == b"X = 1\n"


def test_given_one_changed_file_then_only_its_functions_hash_changes():
    before = by_id(run())
    changed = dict(FILES, **{"app/functions/list/list.py": b"def main(event, context):\n    return 'changed'\n"})
    after = by_id(run(tree(changed)))

    assert after["List"].sha256 != before["List"].sha256
    assert after["Create"].sha256 == before["Create"].sha256


def test_given_only_the_executable_bit_changes_then_the_hash_changes():
    assert by_id(run(tree(executables=[])))["Create"].sha256 != by_id(run())["Create"].sha256


def test_given_two_functions_sharing_a_folder_then_they_share_one_artifact():
    template = TEMPLATE.replace("CodeUri: ./functions/list", "CodeUri: functions/create")
    result = run(tree(dict(FILES, **{"app/template.yaml": template.encode()})))
    fns = by_id(result)
    assert fns["List"].sha256 == fns["Create"].sha256
    assert len(result.artifacts) == 2  # the shared function zip and the layer


# ---- configuration -----------------------------------------------------------------------------


def test_given_globals_then_each_function_gets_the_effective_configuration():
    fns = by_id(run())

    assert fns["Create"].config == {
        "Handler": "create.main",
        "Runtime": "python3.13",
        "MemorySize": 256,
        "Timeout": 30,
        "Environment": {"Variables": {"TABLE": {"Ref": "NotesTable"}, "STAGE": "fixed", "ONLY_CREATE": "1"}},
        "Layers": [{"Ref": "DepsLayer"}],
        "Architectures": ["arm64"],  # replaced, not appended
    }
    assert fns["List"].config["Layers"] == [{"Ref": "DepsLayer"}, {"Fn::GetAtt": ["Other", "Arn"]}]
    assert fns["List"].config["Environment"] == {
        "Variables": {"TABLE": {"Ref": "NotesTable"}, "STAGE": {"Fn::Sub": "${Stage}"}}
    }
    assert (fns["List"].config["Timeout"], fns["List"].config["Architectures"]) == (10, ["x86_64"])


def test_given_no_globals_then_lambda_defaults_fill_the_configuration():
    template = (
        "Transform: AWS::Serverless-2016-10-31\nResources:\n  Fn:\n    Type: AWS::Serverless::Function\n"
        "    Properties: {CodeUri: src, Handler: app.handler, Runtime: nodejs20.x}\n"
    )
    t = MemoryTree({"template.yaml": template.encode(), "src/app.js": b"exports.handler = async () => 1;\n"})
    (fn,) = package(template, "template.yaml", t, BUCKET).functions
    assert fn.config == {
        "Handler": "app.handler", "Runtime": "nodejs20.x", "MemorySize": 128, "Timeout": 3,
        "Environment": {"Variables": {}}, "Layers": [], "Architectures": ["x86_64"],
    }


# ---- packaged template -------------------------------------------------------------------------


def test_given_a_packaged_template_then_code_points_at_s3_and_intrinsics_survive_in_long_form():
    result = run()
    fns = by_id(result)
    packaged = load_template(result.packaged_template)
    resources = packaged["Resources"]

    assert resources["Create"]["Properties"]["CodeUri"] == f"s3://{BUCKET}/artifacts/{fns['Create'].sha256}.zip"
    assert resources["List"]["Properties"]["CodeUri"] == f"s3://{BUCKET}/{fns['List'].s3_key}"
    assert fns["List"].s3_key == f"artifacts/{fns['List'].sha256}.zip"
    layer_sha = result.layers["DepsLayer"]
    assert resources["DepsLayer"]["Properties"]["ContentUri"] == f"s3://{BUCKET}/artifacts/{layer_sha}.zip"
    assert layer_sha in result.artifacts
    assert resources["List"]["Properties"]["Role"] == {"Fn::GetAtt": ["ListRole", "Arn"]}
    assert packaged["Globals"]["Function"]["Layers"] == [{"Ref": "DepsLayer"}]
    assert packaged["Outputs"]["Api"]["Value"] == {
        "Fn::Sub": "https://${ServerlessRestApi}.execute-api.${AWS::Region}.amazonaws.com/Prod"
    }
    assert packaged["AWSTemplateFormatVersion"] == "2010-09-09"
    assert "!Ref" not in result.packaged_template


def test_given_a_state_machine_definition_file_then_it_is_inlined():
    flow = load_template(run().packaged_template)["Resources"]["Flow"]["Properties"]
    assert "DefinitionUri" not in flow
    assert flow["Definition"]["States"]["List"]["Resource"] == "${ListArn}"
    assert flow["DefinitionSubstitutions"] == {"ListArn": {"Fn::GetAtt": ["List", "Arn"]}}


def test_given_a_json_template_at_the_root_then_it_packages_the_same_way():
    template = (
        '{"Transform": "AWS::Serverless-2016-10-31", "Resources": {"Fn": {"Type": "AWS::Serverless::Function",'
        ' "Properties": {"CodeUri": ".", "Handler": "app.handler", "Runtime": "python3.12",'
        ' "Environment": {"Variables": {"T": {"Ref": "Tbl"}}}}}}}'
    )
    t = MemoryTree({"template.json": template.encode(), "app.py": b"def handler(e, c): pass\n"})
    result = package(template, "template.json", t, BUCKET)
    names = zipfile.ZipFile(io.BytesIO(next(iter(result.artifacts.values())))).namelist()
    assert names == ["app.py", "template.json"]
    assert result.functions[0].config["Environment"] == {"Variables": {"T": {"Ref": "Tbl"}}}


# ---- errors ------------------------------------------------------------------------------------


def test_given_no_template_then_the_error_names_the_path_and_commit():
    with pytest.raises(PackagingError, match="app/template.yaml not found at commit abc123 of repository notes"):
        run(tree({k: v for k, v in FILES.items() if k != "app/template.yaml"}))


def test_given_invalid_yaml_then_the_error_gives_the_line():
    broken = TEMPLATE.replace("      Handler: create.main", "      Handler: [create.main")
    with pytest.raises(PackagingError, match=r"app/template.yaml: invalid YAML at line \d+"):
        run(tree(dict(FILES, **{"app/template.yaml": broken.encode()})))


@pytest.mark.parametrize(
    "text, reason",
    [
        ("- just\n- a list\n", "not a SAM template"),
        ("Resources:\n  T: {Type: AWS::SNS::Topic}\n", "Transform: AWS::Serverless-2016-10-31 is missing"),
        ("Transform: AWS::Serverless-2016-10-31\n", "Resources is missing"),
    ],
)
def test_given_something_that_is_not_a_sam_template_then_packaging_says_so(text, reason):
    with pytest.raises(PackagingError, match=reason):
        run(tree(dict(FILES, **{"app/template.yaml": text.encode()})))


def test_given_a_function_without_code_uri_then_its_code_is_the_template_folder_as_sam_build_takes_it():
    # GIVEN List without CodeUri (and no InlineCode): sam build / sam package use the template's folder
    template = TEMPLATE.replace("      CodeUri: ./functions/list\n", "")
    # WHEN packaged
    result = run(tree(dict(FILES, **{"app/template.yaml": template.encode()})))
    # THEN List's zip holds the files of app/ (the template's folder), nothing from outside it
    artifact = result.artifacts[by_id(result)["List"].sha256]
    names = zipfile.ZipFile(io.BytesIO(artifact)).namelist()
    assert names == sorted(k.removeprefix("app/") for k in FILES if k.startswith("app/"))
    assert load_template(result.packaged_template)["Resources"]["List"]["Properties"]["CodeUri"].startswith("s3://")


def test_given_a_function_with_inline_code_and_no_code_uri_then_the_error_names_it():
    template = TEMPLATE.replace("      CodeUri: ./functions/list\n", "      InlineCode: 'def main(e, c): pass'\n")
    with pytest.raises(PackagingError, match="List: no CodeUri .*InlineCode"):
        run(tree(dict(FILES, **{"app/template.yaml": template.encode()})))


@pytest.mark.parametrize(
    "code_uri, message",
    [
        ("functions/missing", "List: CodeUri folder app/functions/missing does not exist or is empty at commit abc123"),
        ("../../outside", "List: CodeUri ../../outside is outside the repository"),
        ("functions/list/list.py", "List: CodeUri app/functions/list/list.py is a file"),
        ("s3://elsewhere/code.zip", "List: CodeUri must be a folder of the repository"),
    ],
)
def test_given_a_code_uri_that_cannot_be_zipped_then_the_error_names_the_function_and_path(code_uri, message):
    template = TEMPLATE.replace("CodeUri: ./functions/list", f"CodeUri: {code_uri}")
    with pytest.raises(PackagingError, match=message):
        run(tree(dict(FILES, **{"app/template.yaml": template.encode()})))


def test_given_an_empty_folder_then_it_counts_as_missing():
    files = {k: v for k, v in FILES.items() if not k.startswith("app/functions/list/")}
    with pytest.raises(PackagingError, match="List: CodeUri folder app/functions/list does not exist or is empty"):
        run(tree(files))


def test_given_a_missing_state_machine_definition_then_the_error_names_it():
    files = {k: v for k, v in FILES.items() if not k.startswith("statemachines/")}
    with pytest.raises(PackagingError, match="Flow: DefinitionUri statemachines/flow.asl.json not found"):
        run(tree(files))


def test_given_a_packaged_template_then_sams_translator_accepts_it(monkeypatch):
    from samtranslator.translator.transform import transform

    class NoManagedPolicies:
        def load(self):
            return {}

    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    result = run()
    out = transform(load_template(result.packaged_template), {"Stage": "dev"}, NoManagedPolicies())

    code = out["Resources"]["Create"]["Properties"]["Code"]
    assert code == {"S3Bucket": BUCKET, "S3Key": by_id(result)["Create"].s3_key}


# ---- the live alias ----------------------------------------------------------------------------


def test_given_a_template_without_aliases_then_every_function_publishes_to_live_on_code_or_config_change():
    packaged = load_template(run().packaged_template)
    assert packaged["Globals"]["Function"]["AutoPublishAlias"] == "live"
    functions = [r["Properties"] for r in packaged["Resources"].values() if r["Type"] == "AWS::Serverless::Function"]
    assert functions and all(f["AutoPublishAliasAllProperties"] is True for f in functions)


def test_given_a_template_that_chooses_its_alias_settings_then_packaging_keeps_its_choice():
    files = dict(FILES)
    files["app/template.yaml"] = TEMPLATE.replace(
        "    Runtime: python3.13\n",
        "    Runtime: python3.13\n    AutoPublishAlias: current\n    AutoPublishAliasAllProperties: false\n",
    ).encode()
    fn_globals = load_template(run(tree(files)).packaged_template)["Globals"]["Function"]
    assert (fn_globals["AutoPublishAlias"], fn_globals["AutoPublishAliasAllProperties"]) == ("current", False)


def _many_functions(count: int, role: bool) -> str:
    lines = ["Transform: AWS::Serverless-2016-10-31", "Resources:"]
    for i in range(count):
        lines += [f"  Fn{i}:", "    Type: AWS::Serverless::Function", "    Properties:",
                  "      CodeUri: src/", "      Handler: app.handler", "      Runtime: python3.13"]
        if role:
            lines.append("      Role: arn:aws:iam::123456789012:role/shared")
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize(("count", "role", "counted"), [(1000, True, 3000), (126, False, 504), (167, True, 501)])
def test_given_an_app_over_cloudformations_500_resources_then_packaging_names_the_limit(count, role, counted):
    # GIVEN an app whose transformed template would pass CloudFormation's 500 resources per stack
    tree = MemoryTree({"src/app.py": b"def handler(e, c):\n    return 1\n"})
    # WHEN it is packaged THEN the build fails before any zip, naming the limit and the count
    with pytest.raises(PackagingError) as refused:
        package(_many_functions(count, role), "template.yaml", tree, BUCKET)
    message = str(refused.value)
    assert f"at least {counted} resources" in message
    assert "CloudFormation allows at most 500 resources per stack" in message


def test_given_an_app_just_within_500_resources_then_it_packages():
    tree = MemoryTree({"src/app.py": b"def handler(e, c):\n    return 1\n"})
    result = package(_many_functions(166, True), "template.yaml", tree, BUCKET)  # 166 x 3 = 498
    assert len(result.functions) == 166
