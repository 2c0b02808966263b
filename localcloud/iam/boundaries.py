"""Permissions boundaries, as IAM applies them.

A role with a permissions boundary (``CreateRole``/``PutRolePermissionsBoundary`` with
``PermissionsBoundary``) may do only what both its identity-based policies **and** its boundary
allow; an explicit Deny in either wins. A boundary grants nothing by itself. (Boundaries do not
limit what a resource-based policy grants to a role session of the same account; localcloud's
identity checks never count resource-based policies as grants, so that case does not arise.)

The condition key ``iam:PermissionsBoundary`` is set, as on AWS, on the IAM actions that take or
keep a boundary: on ``CreateRole``/``PutRolePermissionsBoundary`` it is the boundary in the request,
on ``AttachRolePolicy``, ``DetachRolePolicy``, ``PutRolePolicy``, ``DeleteRolePolicy`` and
``DeleteRolePermissionsBoundary`` the role's current boundary (absent for a role without one).
That is how a policy lets a principal create and change roles only with a given boundary.

The role's boundary and the managed policy's default version are read from moto's IAM backend.
"""

from __future__ import annotations

from typing import Any

from localcloud.iam.principals import Principal, document_of
from localcloud.moto_hooks import require


class Boundaries:
    def __init__(self, account: str, partition: str = "aws"):
        self.account = account
        self.partition = partition
        self._iam = require("moto.iam.models", "iam_backends", "a role's permissions boundary and the boundary policy")
        self._not_found = require("moto.iam.exceptions", "NotFoundException", "a role or policy that is not there")
        require("moto.iam.models", "IAMBackend.get_role_by_arn", "a role (.permissions_boundary_arn) by its ARN")
        require("moto.iam.models", "IAMBackend.get_policy", "a managed policy (.versions) by its ARN")

    def _backend(self) -> Any:
        return self._iam[self.account][self.partition]

    def of_role(self, role_arn: str) -> str | None:
        """The ARN of the role's permissions boundary (None: no boundary, or no such role)."""
        try:
            role = self._backend().get_role_by_arn(role_arn)
        except self._not_found:
            return None
        return getattr(role, "permissions_boundary_arn", None) or None

    def principal_tags(self, principal: Principal) -> dict[str, str]:
        """``aws:PrincipalTag/<key>`` for a role session: the role's tags, as AWS sets them (session
        tags aside). Attribute-based policies (a boundary scoping Parameter Store paths by the
        role's tags, say) read them through policy variables."""
        if not principal.role_arn:
            return {}
        try:
            role = self._backend().get_role_by_arn(principal.role_arn)
        except self._not_found:
            return {}
        tags = getattr(role, "tags", None) or {}
        pairs = tags.values() if isinstance(tags, dict) else tags
        return {f"aws:PrincipalTag/{t['Key']}": t["Value"] for t in pairs if isinstance(t, dict) and "Key" in t}

    def document(self, principal: Principal) -> Any | None:
        """The boundary policy's default version for a role session (None when it has none). A
        boundary naming a policy that is gone allows nothing: an empty policy."""
        if not principal.role_arn:
            return None
        arn = self.of_role(principal.role_arn)
        if not arn:
            return None
        try:
            return document_of(self._backend().get_policy(arn))
        except self._not_found:
            return {"Version": "2012-10-17", "Statement": []}
