"""Every IAM role an app's stack creates is Sprout's to bound.

An app's template may give its functions any policies it likes (``AdministratorAccess``, ``*:*``):
Package puts Sprout's permissions boundary (``AppRoleBoundary`` in Sprout's ``template.yaml``) and
Sprout's app role path on every role the stack will make, so what the roles may do is at most what
the boundary allows. ``StackDeployRole`` enforces it on its side: it may create and change roles only
under that path and only with that boundary, so a role that escaped packaging fails the deploy.

- ``AWS::Serverless::Function`` and ``AWS::Serverless::StateMachine``: SAM's ``PermissionsBoundary``
  and ``RolePath`` (SAM puts them on the role it generates); one that names its own ``Role`` gets
  neither (SAM makes no role for it): that role must be one of the template's, bounded here, or
  the deploy fails naming ``iam:PassRole``;
- ``AWS::IAM::Role``: ``PermissionsBoundary`` and ``Path``.

An app that sets any of these itself (also in ``Globals.Function``) is refused, naming the resource
and the property: Sprout does not intersect boundaries, it owns them. Pure: no AWS calls.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sprout.domain.errors import PackagingError

FUNCTION = "AWS::Serverless::Function"
STATE_MACHINE = "AWS::Serverless::StateMachine"
IAM_ROLE = "AWS::IAM::Role"

# per type: (the boundary's property, the path's property)
_PROPERTIES = {
    FUNCTION: ("PermissionsBoundary", "RolePath"),
    STATE_MACHINE: ("PermissionsBoundary", "RolePath"),
    IAM_ROLE: ("PermissionsBoundary", "Path"),
}


@dataclass(frozen=True)
class AppRoles:
    """What every role of an app's stack gets: Sprout's boundary (a managed policy's ARN) and path."""

    boundary_arn: str
    path: str


def bound_roles(template: dict[str, Any], roles: AppRoles) -> None:
    """Put ``roles`` on every role-making resource of a (packaged) SAM template, in place."""
    fn_globals = (template.get("Globals") or {}).get("Function") or {}
    for key in _PROPERTIES[FUNCTION]:
        if isinstance(fn_globals, dict) and key in fn_globals:
            raise PackagingError(_refusal(f"Globals.Function.{key}", key))
    _refuse_sprout_tags("Globals.Function.Tags", fn_globals.get("Tags") if isinstance(fn_globals, dict) else None)
    for logical_id, resource in (template.get("Resources") or {}).items():
        if isinstance(resource, dict) and isinstance(resource.get("Properties"), dict):
            _refuse_sprout_tags(f"{logical_id}.Tags", resource["Properties"].get("Tags"))
        properties = _PROPERTIES.get(resource.get("Type"))
        if properties is None:
            continue
        props = resource.setdefault("Properties", {})
        if not isinstance(props, dict):
            raise PackagingError(f"{logical_id}.Properties must be a mapping")
        for key in properties:
            if key in props:
                raise PackagingError(_refusal(f"{logical_id}.{key}", key))
        if resource.get("Type") != IAM_ROLE and _own_role(props, fn_globals, resource.get("Type")):
            continue  # SAM makes no role for it: the role it names is bounded where it is made
        boundary_key, path_key = properties
        props[boundary_key] = roles.boundary_arn
        props[path_key] = roles.path


def _refuse_sprout_tags(where: str, tags: Any) -> None:
    """``sprout:*`` tags are Sprout's: set on the stage's stack, they reach its roles, and the roles'
    ``sprout:app``/``sprout:stage`` decide whose secrets they read (AppRoleBoundary)."""
    keys = list(tags) if isinstance(tags, dict) else [t.get("Key") for t in tags if isinstance(t, dict)] \
        if isinstance(tags, list) else []
    for key in keys:
        if isinstance(key, str) and key.lower().startswith("sprout:"):
            raise PackagingError(f"{where}: the tag {key} is Sprout's own (sprout:* tags are set by Sprout on the "
                                 "stage's stack); rename it")


def _own_role(props: dict[str, Any], fn_globals: Any, kind: str) -> bool:
    """Whether a function or state machine names its role (itself, or a function through Globals)."""
    if "Role" in props:
        return True
    return kind == FUNCTION and isinstance(fn_globals, dict) and "Role" in fn_globals


def _refusal(where: str, key: str) -> str:
    what = "permissions boundary" if key == "PermissionsBoundary" else "path"
    return (
        f"{where}: an app may not set its roles' {what}; Sprout sets every role's permissions boundary "
        f"and path itself (see the README's Security section)"
    )
