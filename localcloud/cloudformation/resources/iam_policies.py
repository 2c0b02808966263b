"""AWS::IAM::ManagedPolicy (what SAM connectors and many templates make), attached to roles, users
and groups; localcloud.iam enforces attached policies like inline ones under ``--enforce-iam``.

As CloudFormation documents it: ``Ref`` is the policy's ARN (attributes ``PolicyArn``, ``PolicyId``,
``DefaultVersionId``...); a nameless policy is called ``{stack}-{logicalId}-{SUFFIX}``; a new
``PolicyDocument`` is a new default version (the oldest non-default version goes when IAM's limit
of five is reached); changed ``Roles``/``Users``/``Groups`` attach and detach.
"""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from .base import (
    MUTABLE,
    REPLACE,
    Context,
    Provisioned,
    ResourceType,
    changed_properties,
    is_not_found,
    register,
)
from .iam import _document

_PRINCIPALS = {
    "Roles": ("RoleName", "attach_role_policy", "detach_role_policy"),
    "Users": ("UserName", "attach_user_policy", "detach_user_policy"),
    "Groups": ("GroupName", "attach_group_policy", "detach_group_policy"),
}


@register
class ManagedPolicy(ResourceType):
    type_name = "AWS::IAM::ManagedPolicy"
    properties = {
        "ManagedPolicyName": REPLACE,
        "Path": REPLACE,
        "Description": REPLACE,
        "PolicyDocument": MUTABLE,
        "Roles": MUTABLE,
        "Users": MUTABLE,
        "Groups": MUTABLE,
    }
    required = ("PolicyDocument",)
    attributes = (
        "PolicyArn",
        "PolicyId",
        "DefaultVersionId",
        "AttachmentCount",
        "CreateDate",
        "UpdateDate",
        "IsAttachable",
        "PermissionsBoundaryUsageCount",
    )

    def _attrs(self, policy: dict[str, Any]) -> dict[str, Any]:
        return {
            "PolicyArn": policy["Arn"],
            "PolicyId": policy["PolicyId"],
            "DefaultVersionId": policy.get("DefaultVersionId", "v1"),
            "AttachmentCount": policy.get("AttachmentCount", 0),
            "CreateDate": str(policy.get("CreateDate", "")),
            "UpdateDate": str(policy.get("UpdateDate", "")),
            "IsAttachable": policy.get("IsAttachable", True),
            "PermissionsBoundaryUsageCount": policy.get("PermissionsBoundaryUsageCount", 0),
        }

    def _attach(self, ctx: Context, arn: str, old: dict[str, Any], new: dict[str, Any]) -> None:
        iam = ctx.client("iam")
        for prop, (key, attach, detach) in _PRINCIPALS.items():
            before, after = list(old.get(prop) or []), list(new.get(prop) or [])
            for name in after:
                if name not in before:
                    getattr(iam, attach)(**{key: name, "PolicyArn": arn})
            for name in before:
                if name not in after:
                    try:
                        getattr(iam, detach)(**{key: name, "PolicyArn": arn})
                    except ClientError as e:
                        if not is_not_found(e):
                            raise

    def create(self, ctx: Context, logical_id: str, props: dict[str, Any]) -> Provisioned:
        iam = ctx.client("iam")
        kwargs: dict[str, Any] = {
            "PolicyName": props.get("ManagedPolicyName") or ctx.physical_name(logical_id, 128),
            "PolicyDocument": _document(props["PolicyDocument"]),
            "Path": props.get("Path", "/"),
        }
        if props.get("Description"):
            kwargs["Description"] = props["Description"]
        policy = iam.create_policy(**kwargs)["Policy"]
        self._attach(ctx, policy["Arn"], {}, props)
        return Provisioned(policy["Arn"], self._attrs(policy))

    def update(
        self, ctx: Context, logical_id: str, current: Provisioned, old: dict[str, Any], new: dict[str, Any]
    ) -> Provisioned:
        iam = ctx.client("iam")
        arn = current.physical_id
        if "PolicyDocument" in changed_properties(old, new):
            versions = iam.list_policy_versions(PolicyArn=arn)["Versions"]
            if len(versions) >= 5:
                oldest = min((v for v in versions if not v["IsDefaultVersion"]), key=lambda v: v["CreateDate"])
                iam.delete_policy_version(PolicyArn=arn, VersionId=oldest["VersionId"])
            iam.create_policy_version(PolicyArn=arn, PolicyDocument=_document(new["PolicyDocument"]), SetAsDefault=True)
        self._attach(ctx, arn, old, new)
        return Provisioned(arn, self._attrs(iam.get_policy(PolicyArn=arn)["Policy"]))

    def delete(self, ctx: Context, current: Provisioned, props: dict[str, Any]) -> None:
        iam = ctx.client("iam")
        arn = current.physical_id
        try:
            self._attach(ctx, arn, props, {})
            for version in iam.list_policy_versions(PolicyArn=arn)["Versions"]:
                if not version["IsDefaultVersion"]:
                    iam.delete_policy_version(PolicyArn=arn, VersionId=version["VersionId"])
            iam.delete_policy(PolicyArn=arn)
        except ClientError as e:
            if not is_not_found(e):
                raise
