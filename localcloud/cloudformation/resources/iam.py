"""AWS::IAM::Role with inline and managed policies."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from .base import (
    MUTABLE,
    REPLACE,
    Context,
    Provisioned,
    ResourceType,
    as_json_text,
    changed_properties,
    is_not_found,
    register,
    tags_dict,
)


def _inline(props: dict[str, Any]) -> dict[str, Any]:
    return {p["PolicyName"]: p["PolicyDocument"] for p in props.get("Policies") or []}


def _document(doc: Any) -> str:
    """IAM reads a document without Version as 2008-10-17; moto refuses those, and SAM's policy
    templates have none, so such a document is sent as 2012-10-17 (the same statements)."""
    if isinstance(doc, dict) and "Version" not in doc:
        doc = {"Version": "2012-10-17", **doc}
    return as_json_text(doc)


@register
class Role(ResourceType):
    type_name = "AWS::IAM::Role"
    properties = {
        "AssumeRolePolicyDocument": MUTABLE,
        "Description": MUTABLE,
        "ManagedPolicyArns": MUTABLE,
        "MaxSessionDuration": MUTABLE,
        "PermissionsBoundary": MUTABLE,
        "Policies": MUTABLE,
        "Tags": MUTABLE,
        "Path": REPLACE,
        "RoleName": REPLACE,
    }
    required = ("AssumeRolePolicyDocument",)
    attributes = ("Arn", "RoleId")

    def create(self, ctx: Context, logical_id: str, props: dict[str, Any]) -> Provisioned:
        iam = ctx.client("iam")
        name = props.get("RoleName") or ctx.physical_name(logical_id, 64)
        kwargs: dict[str, Any] = {
            "RoleName": name,
            "AssumeRolePolicyDocument": _document(props["AssumeRolePolicyDocument"]),
            "Path": props.get("Path", "/"),
        }
        if props.get("Description"):
            kwargs["Description"] = props["Description"]
        if props.get("MaxSessionDuration"):
            kwargs["MaxSessionDuration"] = int(props["MaxSessionDuration"])
        if props.get("PermissionsBoundary"):
            kwargs["PermissionsBoundary"] = props["PermissionsBoundary"]
        tags = {**ctx.stack_tags, **tags_dict(props.get("Tags"))}  # the stack's tags propagate to its roles
        if tags:
            kwargs["Tags"] = [{"Key": k, "Value": v} for k, v in tags.items()]
        role = iam.create_role(**kwargs)["Role"]
        current = Provisioned(name, {"Arn": role["Arn"], "RoleId": role["RoleId"]})
        self._sync_policies(ctx, name, {}, props)
        return current

    def _sync_policies(self, ctx: Context, name: str, old: dict[str, Any], new: dict[str, Any]) -> None:
        iam = ctx.client("iam")
        old_arns, new_arns = set(old.get("ManagedPolicyArns") or []), list(new.get("ManagedPolicyArns") or [])
        for arn in new_arns:
            if arn not in old_arns:
                iam.attach_role_policy(RoleName=name, PolicyArn=arn)
        for arn in old_arns - set(new_arns):
            iam.detach_role_policy(RoleName=name, PolicyArn=arn)
        old_inline, new_inline = _inline(old), _inline(new)
        for policy_name, doc in new_inline.items():
            if old_inline.get(policy_name) != doc:
                iam.put_role_policy(RoleName=name, PolicyName=policy_name, PolicyDocument=_document(doc))
        for policy_name in set(old_inline) - set(new_inline):
            iam.delete_role_policy(RoleName=name, PolicyName=policy_name)

    def update(
        self, ctx: Context, logical_id: str, current: Provisioned, old: dict[str, Any], new: dict[str, Any]
    ) -> Provisioned:
        iam = ctx.client("iam")
        name = current.physical_id
        changed = set(changed_properties(old, new))
        if "AssumeRolePolicyDocument" in changed:
            iam.update_assume_role_policy(
                RoleName=name, PolicyDocument=_document(new["AssumeRolePolicyDocument"])
            )
        if changed & {"Description", "MaxSessionDuration"}:
            kwargs: dict[str, Any] = {"RoleName": name, "Description": new.get("Description", "")}
            kwargs["MaxSessionDuration"] = int(new.get("MaxSessionDuration", 3600))
            iam.update_role(**kwargs)
        if "PermissionsBoundary" in changed:
            if new.get("PermissionsBoundary"):
                iam.put_role_permissions_boundary(
                    RoleName=name, PermissionsBoundary=new["PermissionsBoundary"]
                )
            else:
                iam.delete_role_permissions_boundary(RoleName=name)
        if "Tags" in changed:
            old_tags, new_tags = tags_dict(old.get("Tags")), tags_dict(new.get("Tags"))
            gone = [k for k in old_tags if k not in new_tags]
            if gone:
                iam.untag_role(RoleName=name, TagKeys=gone)
            if new_tags:
                iam.tag_role(RoleName=name, Tags=[{"Key": k, "Value": v} for k, v in new_tags.items()])
        self._sync_policies(ctx, name, old, new)
        return current

    def delete(self, ctx: Context, current: Provisioned, props: dict[str, Any]) -> None:
        iam = ctx.client("iam")
        name = current.physical_id
        try:
            for policy in iam.list_attached_role_policies(RoleName=name)["AttachedPolicies"]:
                iam.detach_role_policy(RoleName=name, PolicyArn=policy["PolicyArn"])
            for policy_name in iam.list_role_policies(RoleName=name)["PolicyNames"]:
                iam.delete_role_policy(RoleName=name, PolicyName=policy_name)
            iam.delete_role(RoleName=name)
        except ClientError as e:
            if not is_not_found(e):
                raise
