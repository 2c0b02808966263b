"""Package puts Sprout's permissions boundary and role path on every role an app's stack creates
(sprout.domain.app_roles), and refuses an app that sets its own."""

from __future__ import annotations

import pytest

from sprout.domain.app_roles import AppRoles
from sprout.domain.errors import PackagingError
from sprout.domain.packaging import package
from sprout.domain.source_tree import MemoryTree
from sprout.domain.template import load_template

BUCKET = "sprout-artifacts"
ROLES = AppRoles(boundary_arn="arn:aws:iam::123456789012:policy/sprout-AppRoleBoundary-X", path="/sprout/apps/")

TEMPLATE = """\
Transform: AWS::Serverless-2016-10-31
Resources:
  Admin:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: src/
      Handler: app.main
      Runtime: python3.13
      Policies:
        - AdministratorAccess
        - Statement: [{Effect: Allow, Action: "*", Resource: "*"}]
  Flow:
    Type: AWS::Serverless::StateMachine
    Properties:
      Definition: {StartAt: A, States: {A: {Type: Pass, End: true}}}
  Raw:
    Type: AWS::IAM::Role
    Properties:
      AssumeRolePolicyDocument: {Statement: [{Effect: Allow, Principal: {Service: lambda.amazonaws.com}, Action: sts:AssumeRole}]}
      ManagedPolicyArns: [arn:aws:iam::aws:policy/AdministratorAccess]
  Borrower:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: src/
      Handler: app.main
      Runtime: python3.13
      Role: !GetAtt Raw.Arn
  Table:
    Type: AWS::DynamoDB::Table
    Properties: {BillingMode: PAY_PER_REQUEST}
"""


def packaged(template: str = TEMPLATE, roles: AppRoles | None = ROLES) -> dict:
    tree = MemoryTree({"template.yaml": template.encode(), "src/app.py": b"def main(e, c):\n    return 1\n"})
    return load_template(package(template, "template.yaml", tree, BUCKET, roles=roles).packaged_template)


def test_given_an_app_whose_roles_ask_for_anything_then_every_role_making_resource_gets_sprouts_boundary_and_path():
    """GIVEN a function with AdministratorAccess and a *:* policy, a state machine, a raw IAM role and
    a function that uses that role
    WHEN Package packages the template
    THEN each role-making resource gets Sprout's permissions boundary and role path (SAM's
    properties, the role's own), the function naming its role gets neither,
    the app's policies are left as they are (the boundary is what limits them), other resources untouched"""
    resources = packaged()["Resources"]

    for logical_id in ("Admin", "Flow"):
        assert resources[logical_id]["Properties"]["PermissionsBoundary"] == ROLES.boundary_arn
        assert resources[logical_id]["Properties"]["RolePath"] == "/sprout/apps/"
    assert resources["Raw"]["Properties"]["PermissionsBoundary"] == ROLES.boundary_arn
    assert resources["Raw"]["Properties"]["Path"] == "/sprout/apps/"
    assert resources["Admin"]["Properties"]["Policies"][0] == "AdministratorAccess"
    # a function that names its role: SAM makes none for it, the role it names is bounded instead
    assert "PermissionsBoundary" not in resources["Borrower"]["Properties"]
    assert "PermissionsBoundary" not in resources["Table"]["Properties"]


@pytest.mark.parametrize(
    ("edit", "named"),
    [
        (("  Admin:\n    Type: AWS::Serverless::Function\n    Properties:\n",
          "  Admin:\n    Type: AWS::Serverless::Function\n    Properties:\n      PermissionsBoundary: arn:aws:iam::aws:policy/AdministratorAccess\n"),
         "Admin.PermissionsBoundary"),
        (("  Flow:\n    Type: AWS::Serverless::StateMachine\n    Properties:\n",
          "  Flow:\n    Type: AWS::Serverless::StateMachine\n    Properties:\n      RolePath: /sprout/apps/\n"),
         "Flow.RolePath"),
        (("      ManagedPolicyArns: [arn:aws:iam::aws:policy/AdministratorAccess]\n",
          "      ManagedPolicyArns: [arn:aws:iam::aws:policy/AdministratorAccess]\n      PermissionsBoundary: arn:aws:iam::aws:policy/AdministratorAccess\n"),
         "Raw.PermissionsBoundary"),
        (("Resources:\n", "Globals:\n  Function:\n    PermissionsBoundary: arn:aws:iam::aws:policy/AdministratorAccess\nResources:\n"),
         "Globals.Function.PermissionsBoundary"),
    ],
)
def test_given_an_app_that_sets_its_own_boundary_or_path_then_packaging_refuses_naming_the_resource(edit, named):
    """GIVEN an app template that sets a permissions boundary or a role path itself
    WHEN Package packages it
    THEN the build fails with a PackagingError naming the resource and the property (no intersection)"""
    with pytest.raises(PackagingError) as refused:
        packaged(TEMPLATE.replace(*edit))

    assert str(refused.value).startswith(f"{named}: an app may not set its roles'")


def test_given_no_role_settings_then_the_template_keeps_its_roles_as_written():
    """GIVEN packaging without Sprout's role settings (as a local preview would)
    WHEN the template is packaged THEN no boundary is added"""
    assert "PermissionsBoundary" not in packaged(roles=None)["Resources"]["Admin"]["Properties"]
