"""The pure parts of localcloud's CloudFormation: template parsing, intrinsics, conditions,
parameters, template checks and dependency order."""

from __future__ import annotations

import pytest

from localcloud.cloudformation.intrinsics import Reference, Scope, evaluate_conditions, references, resolve
from localcloud.cloudformation.prepare import prepare, pseudo_parameters, resolve_parameters
from localcloud.cloudformation.template import TemplateError, parse_template

PSEUDO = pseudo_parameters(
    "stk", "arn:aws:cloudformation:us-east-1:123456789012:stack/stk/1", "us-east-1", "123456789012"
)


def scope(**kwargs) -> Scope:
    resources = {
        "Fn": ("fn-name", {"Arn": "arn:fn"}),
        "Table": ("tbl", {"Arn": "arn:tbl", "StreamArn": "arn:stream"}),
    }
    defaults = dict(
        parameters={"Env": "dev", "Names": ["a", "b", "c"]},
        pseudo=PSEUDO,
        conditions={"IsProd": False, "IsDev": True},
        mappings={"Sizes": {"dev": {"Memory": 128}}},
        resources=set(resources),
        resource_ref=lambda lid: resources[lid][0],
        resource_attr=lambda lid, attr: resources[lid][1][attr],
    )
    defaults.update(kwargs)
    return Scope(**defaults)


# ---- parsing ---------------------------------------------------------------------------------


def test_given_yaml_short_tags_when_parsed_then_they_are_the_long_forms():
    template = parse_template(
        "AWSTemplateFormatVersion: 2010-09-09\n"
        "Resources:\n"
        "  A:\n"
        "    Type: T\n"
        "    Properties:\n"
        "      R: !Ref X\n"
        "      G: !GetAtt B.Arn\n"
        "      S: !Sub '${X}'\n"
        "      J: !Join [',', [a, !Ref Y]]\n"
        "      I: !If [C, 1, !Ref AWS::NoValue]\n"
        "      N: !Not [!Condition C]\n"
    )
    assert template["AWSTemplateFormatVersion"] == "2010-09-09"  # not a date
    props = template["Resources"]["A"]["Properties"]
    assert props == {
        "R": {"Ref": "X"},
        "G": {"Fn::GetAtt": ["B", "Arn"]},
        "S": {"Fn::Sub": "${X}"},
        "J": {"Fn::Join": [",", ["a", {"Ref": "Y"}]]},
        "I": {"Fn::If": ["C", 1, {"Ref": "AWS::NoValue"}]},
        "N": {"Fn::Not": [{"Condition": "C"}]},
    }


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ("Resources:\n  A: {Type: T\n", "line 3"),
        ('{"Resources": {"A": }}', "JSON not well-formed"),
        ("Resources:\n  A:\n    Type: T\n  A:\n    Type: U\n", "duplicate key 'A' at line 4"),
        ("Description: nothing\n", "at least one Resources member"),
        ("Resources:\n  my-thing:\n    Type: T\n", "my-thing is non alphanumeric"),
        ("Resources: {A: {Type: T}}\nOutput: {}\n", "unknown top-level section(s) ['Output']"),
    ],
)
def test_given_a_malformed_template_when_parsed_then_the_error_says_where(body, fragment):
    with pytest.raises(TemplateError) as e:
        parse_template(body)
    assert fragment in str(e.value)


# ---- intrinsics ------------------------------------------------------------------------------


def test_given_sub_in_both_forms_then_parameters_resources_attributes_and_literals_are_replaced():
    s = scope()
    assert resolve({"Fn::Sub": "${Env}-${Fn}-${Table.StreamArn}-${AWS::Region}-${!Literal}"}, s, "t") == (
        "dev-fn-name-arn:stream-us-east-1-${Literal}"
    )
    assert resolve({"Fn::Sub": ["${A}/${Env}", {"A": {"Fn::GetAtt": ["Fn", "Arn"]}}]}, s, "t") == "arn:fn/dev"


def test_given_list_functions_then_join_select_split_and_getazs_compute_as_cloudformation_does():
    s = scope()
    assert resolve({"Fn::Join": ["-", {"Ref": "Names"}]}, s, "t") == "a-b-c"
    assert resolve({"Fn::Select": ["1", {"Fn::Split": [",", "x,y,z"]}]}, s, "t") == "y"
    assert resolve({"Fn::GetAZs": ""}, s, "t")[:2] == ["us-east-1a", "us-east-1b"]
    assert resolve({"Fn::Base64": "hi"}, s, "t") == "aGk="
    assert resolve({"Fn::FindInMap": ["Sizes", {"Ref": "Env"}, "Memory"]}, s, "t") == 128


def test_given_if_with_novalue_then_the_property_or_item_disappears():
    s = scope()
    value = {
        "Keep": {"Fn::If": ["IsDev", "d", "p"]},
        "Gone": {"Fn::If": ["IsProd", "p", {"Ref": "AWS::NoValue"}]},
        "List": ["a", {"Fn::If": ["IsProd", "b", {"Ref": "AWS::NoValue"}]}],
    }
    assert resolve(value, s, "t") == {"Keep": "d", "List": ["a"]}


@pytest.mark.parametrize(
    ("value", "fragment"),
    [
        ({"Ref": "Nope"}, "Unresolved resource dependencies [Nope]"),
        ({"Fn::GetAtt": ["Ghost", "Arn"]}, "Unresolved resource dependencies [Ghost]"),
        ({"Fn::Select": [5, ["a"]]}, "index 5 is out of range"),
        ({"Fn::FindInMap": ["Sizes", "prod", "Memory"]}, "Mappings has no Sizes.prod"),
        ({"Fn::If": ["Unknown", 1, 2]}, "unknown condition Unknown"),
        ({"Fn::Cidr": ["10.0.0.0/16", 2, 8]}, "Fn::Cidr is not supported"),
    ],
)
def test_given_a_bad_intrinsic_then_the_error_names_it_and_where(value, fragment):
    with pytest.raises(TemplateError) as e:
        resolve(value, scope(), "Resource X")
    assert fragment in str(e.value) and str(e.value).startswith("Resource X")


def test_given_partial_mode_then_resource_values_stay_as_written_and_the_rest_resolves():
    s = scope(partial=True, resource_ref=Scope().resource_ref, resource_attr=Scope().resource_attr)
    value = {
        "A": {"Fn::Sub": "${Env}-${Fn}"},
        "B": {"Ref": "Env"},
        "C": {"Fn::Join": ["", [{"Ref": "Env"}, {"Ref": "Fn"}]]},
    }
    assert resolve(value, s, "t") == {
        "A": {"Fn::Sub": "${Env}-${Fn}"},
        "B": "dev",
        "C": {"Fn::Join": ["", ["dev", {"Ref": "Fn"}]]},
    }


def test_given_conditions_then_equals_and_or_not_and_condition_refs_evaluate():
    s = Scope(parameters={"Env": "prod", "Count": "2"}, pseudo=PSEUDO)
    conditions = evaluate_conditions(
        {
            "IsProd": {"Fn::Equals": [{"Ref": "Env"}, "prod"]},
            "IsTwo": {"Fn::Equals": [2, {"Ref": "Count"}]},
            "Both": {"Fn::And": [{"Condition": "IsProd"}, {"Condition": "IsTwo"}]},
            "Neither": {"Fn::Not": [{"Fn::Or": [{"Condition": "IsProd"}, {"Condition": "IsTwo"}]}]},
        },
        s,
    )
    assert conditions == {"IsProd": True, "IsTwo": True, "Both": True, "Neither": False}
    with pytest.raises(TemplateError, match="circular"):
        evaluate_conditions({"A": {"Condition": "B"}, "B": {"Condition": "A"}}, Scope())


def test_given_a_value_then_references_lists_refs_getatts_and_sub_variables():
    value = {
        "A": {"Ref": "X"},
        "B": {"Fn::Sub": ["${Y.Arn} ${Local} ${!Skip} ${AWS::Region}", {"Local": {"Ref": "Z"}}]},
        "C": {"Fn::If": ["Cond", {"Ref": "Taken"}, {"Ref": "NotTaken"}]},
    }
    assert set(references(value, {"Cond": True})) == {
        Reference("X"),
        Reference("Y", "Arn"),
        Reference("AWS::Region"),
        Reference("Z"),
        Reference("Taken"),
    }
    assert Reference("NotTaken") in set(references(value))


# ---- parameters ------------------------------------------------------------------------------


def test_given_parameter_declarations_then_defaults_overrides_lists_and_constraints_apply():
    declared = {
        "Env": {"Type": "String", "Default": "dev", "AllowedValues": ["dev", "prod"]},
        "Count": {"Type": "Number", "Default": 3, "MinValue": 1, "MaxValue": 5},
        "Zones": {"Type": "CommaDelimitedList", "Default": "a,b"},
        "Name": {"Type": "String", "AllowedPattern": "[a-z]+", "MaxLength": 5},
    }
    texts, values = resolve_parameters(declared, {"Env": "prod", "Name": "abc"})
    assert texts == {"Env": "prod", "Count": "3", "Zones": "a,b", "Name": "abc"}
    assert values["Zones"] == ["a", "b"] and values["Count"] == "3"
    for given, fragment in [
        ({"Env": "qa", "Name": "a"}, "Parameter 'Env' must be one of AllowedValues"),
        ({"Count": "9", "Name": "a"}, "not greater than 5"),
        ({"Count": "x", "Name": "a"}, "Parameter 'Count' must be a number"),
        ({"Name": "ABC"}, "must match pattern"),
        ({"Name": "abcdefg"}, "at most 5 characters"),
        ({}, "Parameters: ['Name'] must have values"),
        ({"Name": "a", "Other": "1"}, "Parameters: ['Other'] do not exist in the template"),
    ]:
        with pytest.raises(TemplateError) as e:
            resolve_parameters(declared, given)
        assert fragment in str(e.value)


# ---- template checks and order ----------------------------------------------------------------


def test_given_a_template_then_resources_are_ordered_by_their_dependencies_and_false_conditions_skipped():
    body = """
Parameters: {Env: {Type: String, Default: dev}}
Conditions: {IsProd: !Equals [!Ref Env, prod]}
Resources:
  Alias: {Type: AWS::Lambda::Alias, Properties: {FunctionName: !Ref Fn, FunctionVersion: !GetAtt Ver.Version, Name: live}}
  Ver: {Type: AWS::Lambda::Version, Properties: {FunctionName: !Ref Fn}}
  Fn: {Type: AWS::Lambda::Function, Properties: {Code: {ZipFile: x}, Role: !GetAtt Role.Arn, Runtime: python3.11, Handler: i.h}}
  Role: {Type: AWS::IAM::Role, Properties: {AssumeRolePolicyDocument: {}}}
  Extra: {Type: AWS::Logs::LogGroup, Condition: IsProd, DependsOn: Alias}
"""
    plan = prepare(body, {}, PSEUDO)
    assert plan.order == ["Role", "Fn", "Ver", "Alias"]
    assert "Extra" not in plan.active


@pytest.mark.parametrize(
    ("resources", "fragment"),
    [
        (
            "A: {Type: AWS::Logs::LogGroup, Properties: {Colour: red}}",
            "Resource A (AWS::Logs::LogGroup): property Colour is not supported",
        ),
        ("A: {Type: AWS::Nope::Thing}", "Unrecognized resource types: ['AWS::Nope::Thing']"),
        ("A: {Type: AWS::Lambda::Version}", "required property FunctionName is missing"),
        ("A: {Type: AWS::Logs::LogGroup, DependsOn: B}", "Unresolved resource dependencies [B]"),
        (
            "A: {Type: AWS::Logs::LogGroup, Properties: {LogGroupName: !GetAtt B.Nope}}\n  B: {Type: AWS::Logs::LogGroup}",
            "does not support attribute type Nope",
        ),
        (
            "A: {Type: AWS::Logs::LogGroup, DependsOn: B}\n  B: {Type: AWS::Logs::LogGroup, DependsOn: A}",
            "Circular dependency between resources",
        ),
        ("A: {Type: AWS::Logs::LogGroup, Tags: []}", "unsupported resource attribute(s) ['Tags']"),
    ],
)
def test_given_a_bad_resource_then_prepare_names_it(resources, fragment):
    with pytest.raises(TemplateError) as e:
        prepare(f"Resources:\n  {resources}\n", {}, PSEUDO)
    assert fragment in str(e.value)


def test_given_a_ref_to_a_resource_whose_condition_is_false_then_prepare_says_so():
    body = """
Conditions: {Never: !Equals [a, b]}
Resources:
  A: {Type: AWS::Logs::LogGroup, Condition: Never}
  B: {Type: AWS::Logs::LogGroup, Properties: {LogGroupName: !Ref A}}
"""
    with pytest.raises(TemplateError, match=r"Unresolved resource dependencies \[A\] \(A is not created"):
        prepare(body, {}, PSEUDO)
