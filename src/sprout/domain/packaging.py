"""Package a SAM app from its source tree, like ``sam package``, but pure and deterministic.

``package(template_text, template_path, tree, bucket, installed)`` reads every
``AWS::Serverless::Function`` (after ``Globals.Function``) and ``AWS::Serverless::LayerVersion``,
zips its folder with its installed dependencies (``installed``: the dependency cache; which
dependencies a resource needs is sprout.domain.dependencies', ``plan_dependencies`` lists them for
the dependency build) into a deterministic zip, and returns:

- ``functions``: one :class:`FunctionArtifact` per function (logical id, sha256 of its zip, S3 key,
  effective configuration: Handler, Runtime, MemorySize, Timeout, Environment, Layers, Architectures);
- ``artifacts``: zip bytes by sha256 (functions and layers; identical folders share one artifact);
- ``layers``: ``AWS::Serverless::LayerVersion`` logical id -> sha256 of its ``ContentUri`` zip;
- ``packaged_template``: the template (YAML, intrinsics in long form: ``!Ref X`` becomes
  ``{Ref: X}``, ``!Sub s`` becomes ``{Fn::Sub: s}``) with every local ``CodeUri``/``ContentUri``
  replaced by ``s3://{bucket}/artifacts/{sha256}.zip`` and every local state machine
  ``DefinitionUri`` (and API ``DefinitionUri``) inlined as ``Definition`` (``DefinitionBody``),
  and, given ``roles``, Sprout's permissions boundary and role path on every role-making resource,
  and on every function the log group Sprout names for it (sprout.domain.function_logs).

The source is read through a :class:`~sprout.domain.source_tree.SourceTree`.

Zipping (deterministic, each folder once, cached dependencies verified) is sprout.domain.zipper's.

Everything wrong with the commit raises :class:`PackagingError` with a reason naming the path and
the function's logical id.
"""

from __future__ import annotations

import copy
import posixpath
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from sprout.domain.app_roles import AppRoles, bound_roles
from sprout.domain.dependencies import (
    Dependencies,
)
from sprout.domain.errors import PackagingError
from sprout.domain.function_logs import own_log_groups
from sprout.domain.model import LIVE_ALIAS, FunctionArtifact
from sprout.domain.settings_values import add_version_parameters
from sprout.domain.source_tree import SourceTree, normalize
from sprout.domain.template import dump_template, is_intrinsic, load_template
from sprout.domain.zipper import CodeResource, InstalledDependencies, Zipper

SAM_TRANSFORM = "AWS::Serverless-2016-10-31"
FUNCTION = "AWS::Serverless::Function"
LAYER = "AWS::Serverless::LayerVersion"
STATE_MACHINE = "AWS::Serverless::StateMachine"
APIS = ("AWS::Serverless::Api", "AWS::Serverless::HttpApi")

# Lambda's defaults, so that "absent" and "the default" compare equal between builds.
CONFIG_DEFAULTS: dict[str, Any] = {
    "Handler": None,
    "Runtime": None,
    "MemorySize": 128,
    "Timeout": 3,
    "Environment": {"Variables": {}},
    "Layers": [],
    "Architectures": ["x86_64"],
}
# Globals merge rules that differ from SAM's default (dicts deep-merge, lists concatenate).
REPLACED_BY_RESOURCE = {"Architectures"}


def artifact_key(sha256: str) -> str:
    """The S3 key of a content-addressed artifact (shared with sprout.adapters.artifacts)."""
    return f"artifacts/{sha256}.zip"


# ---- packaging ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class PackageResult:
    functions: list[FunctionArtifact]
    artifacts: dict[str, bytes]
    packaged_template: str
    layers: dict[str, str] = field(default_factory=dict)
    # the dependency sets resolved without a lockfile: (the set, its installed zip)
    resolved: list[tuple[Dependencies, bytes]] = field(default_factory=list)


def plan_dependencies(
    template_text: str | bytes | None, template_path: str, tree: SourceTree, builder_digest: str,
    resolve_scope: str = "",
) -> list[Dependencies]:
    """The dependency sets the commit's functions and layers need installed, one per cache key
    (``resolve_scope``: the build, for sets resolved without a lockfile)."""
    template_path = normalize(template_path)
    template = _load(template_text, template_path, tree)
    zips = Zipper(tree, posixpath.dirname(template_path), template_path, resolve_scope=resolve_scope)
    found: dict[str, Dependencies] = {}
    for resource in code_resources(template, template_path):
        build = zips.plan(resource, builder_digest)
        if build.dependencies is not None:
            found.setdefault(build.dependencies.key, build.dependencies)
    return list(found.values())


def code_resources(template: Mapping[str, Any], template_path: str) -> list[CodeResource]:
    """Every function (after Globals.Function) and layer of a parsed SAM template."""
    resources = _sam_resources(template, template_path)
    globals_function = (template.get("Globals") or {}).get("Function") or {}
    if not isinstance(globals_function, dict):
        raise PackagingError(f"{template_path}: Globals.Function must be a mapping")
    found = []
    for logical_id, resource in resources.items():
        kind = resource.get("Type")
        if kind not in (FUNCTION, LAYER):
            continue
        props = _props(resource, logical_id, template_path)
        if kind == FUNCTION:
            effective = merge_globals(globals_function, props)
            found.append(CodeResource(logical_id, False, "CodeUri", _code_uri(effective), effective, resource.get("Metadata")))
        else:
            found.append(CodeResource(logical_id, True, "ContentUri", props.get("ContentUri"), props, resource.get("Metadata")))
    return found


def package(
    template_text: str | bytes | None,
    template_path: str,
    tree: SourceTree,
    bucket: str,
    installed: InstalledDependencies | None = None,
    resolve_scope: str = "",
    *,
    roles: AppRoles | None = None,
) -> PackageResult:
    """Package the SAM template at ``template_path`` (repository-relative) of ``tree``.

    ``template_text`` is the template's content (``None`` when the file is missing: pass
    ``tree.read(template_path)`` as it is). ``installed`` gives the dependencies functions and
    layers need (see :func:`plan_dependencies`); without it, a resource that needs some fails.
    ``roles``: Sprout's permissions boundary and path, put on every role the stack will create
    (sprout.domain.app_roles; an app that sets its own is refused).
    """
    template_path = normalize(template_path)
    template = _load(template_text, template_path, tree)
    zips = Zipper(tree, posixpath.dirname(template_path), template_path, installed, resolve_scope)
    packaged = copy.deepcopy(template)
    code = {r.logical_id: r for r in code_resources(template, template_path)}

    if "CodeUri" in ((template.get("Globals") or {}).get("Function") or {}):
        del packaged["Globals"]["Function"]["CodeUri"]  # every function now names its own artifact
    _publish_live_alias(packaged)
    if roles is not None:
        bound_roles(packaged, roles)
    own_log_groups(packaged)  # every function logs where Sprout says (sprout.domain.function_logs)
    functions: list[FunctionArtifact] = []
    layers: dict[str, str] = {}
    for logical_id, resource in template["Resources"].items():
        kind = resource.get("Type")
        _props(resource, logical_id, template_path)
        out_props = packaged["Resources"][logical_id].setdefault("Properties", {})
        if logical_id in code:
            found = code[logical_id]
            sha = zips.code(found)
            out_props[found.uri_key] = f"s3://{bucket}/{artifact_key(sha)}"
            if found.layer:
                layers[logical_id] = sha
            else:
                functions.append(
                    FunctionArtifact(logical_id, sha256=sha, s3_key=artifact_key(sha), config=function_config(found.props))
                )
        elif kind == STATE_MACHINE:
            _inline(out_props, zips, logical_id, "DefinitionUri", "Definition")
        elif kind in APIS:
            _inline(out_props, zips, logical_id, "DefinitionUri", "DefinitionBody")
    return PackageResult(
        functions=functions,
        artifacts=zips.artifacts,
        packaged_template=dump_template(packaged),
        layers=layers,
        resolved=list(zips.resolved.values()),
    )


def _load(template_text: str | bytes | None, template_path: str, tree: SourceTree) -> dict[str, Any]:
    if template_text is None:
        raise PackagingError(f"{template_path} not found at {tree.location}")
    if isinstance(template_text, bytes):
        try:
            template_text = template_text.decode("utf-8")
        except UnicodeDecodeError as e:
            raise PackagingError(f"{template_path}: not UTF-8 text ({e.reason} at byte {e.start})") from None
    template = _mapping(load_template(template_text, template_path), template_path)
    _sam_resources(template, template_path)
    _check_stack_size(template, template_path)
    return template


MAX_STACK_RESOURCES = 500  # CloudFormation's resources per stack (a hard quota)


def _check_stack_size(template: dict[str, Any], path: str) -> None:
    """Refuse, before anything is built, an app that CloudFormation would refuse at deploy: more
    than 500 resources in the transformed template. Counted low: every resource, and for each
    function the version and the ``live`` alias SAM adds for it (AutoPublishAlias) and the role it
    makes when there is no Role — SAM adds more (permissions, event sources), never fewer."""
    resources = template["Resources"]
    globals_function = (template.get("Globals") or {}).get("Function") or {}
    count = len(resources)
    for resource in resources.values():
        if resource.get("Type") == FUNCTION:
            props = resource.get("Properties") if isinstance(resource.get("Properties"), dict) else {}
            has_role = "Role" in props or (isinstance(globals_function, dict) and "Role" in globals_function)
            count += 2 if has_role else 3
    if count > MAX_STACK_RESOURCES:
        raise PackagingError(
            f"{path}: at least {count} resources once SAM transforms it ({len(resources)} declared; each function "
            f"adds its version, its live alias and, without Role, its role): CloudFormation allows at most "
            f"{MAX_STACK_RESOURCES} resources per stack (Template format error: Number of resources is greater than "
            f"maximum allowed, {MAX_STACK_RESOURCES})"
        )


def _props(resource: Mapping[str, Any], logical_id: str, template_path: str) -> dict[str, Any]:
    props = resource.get("Properties") or {}
    if not isinstance(props, dict):
        raise PackagingError(f"{template_path}: {logical_id}.Properties must be a mapping")
    return props



def _publish_live_alias(packaged: dict[str, Any]) -> None:
    """Every function of a stage runs behind the alias ``live``: what a deploy publishes and a
    rollback flips. A new version is published when code or configuration changed
    (``AutoPublishAliasAllProperties``, set per function as cfn-lint's SAM schema wants), since a
    version snapshots both. A template's own choice of either property stands."""
    fn_globals = packaged.setdefault("Globals", {}).setdefault("Function", {})
    functions = [
        r.setdefault("Properties", {}) for r in (packaged.get("Resources") or {}).values() if r.get("Type") == FUNCTION
    ]
    if not any("AutoPublishAlias" in props for props in [fn_globals, *functions]):
        fn_globals["AutoPublishAlias"] = LIVE_ALIAS
    if "AutoPublishAliasAllProperties" not in fn_globals:
        for props in functions:
            props.setdefault("AutoPublishAliasAllProperties", True)
    add_version_parameters(packaged, FUNCTION)  # a settings change publishes a version too (settings_values)


def _mapping(template: Any, path: str) -> dict[str, Any]:
    if not isinstance(template, dict):
        raise PackagingError(f"{path}: not a SAM template (expected a mapping at the top level)")
    return template


def _sam_resources(template: Any, path: str) -> dict[str, dict[str, Any]]:
    template = _mapping(template, path)
    transform = template.get("Transform")
    transforms = transform if isinstance(transform, list) else [transform]
    if SAM_TRANSFORM not in transforms:
        raise PackagingError(f"{path}: not a SAM template (Transform: {SAM_TRANSFORM} is missing)")
    resources = template.get("Resources")
    if not isinstance(resources, dict) or not resources:
        raise PackagingError(f"{path}: not a SAM template (Resources is missing or empty)")
    for logical_id, resource in resources.items():
        if not isinstance(resource, dict) or not isinstance(resource.get("Type"), str):
            raise PackagingError(f"{path}: resource {logical_id} has no Type")
    return resources


def _code_uri(effective: Mapping[str, Any]) -> Any:
    """A function's ``CodeUri``; omitted (and no InlineCode or image), it is the template's own
    folder, as ``sam build`` and ``sam package`` take it."""
    if "CodeUri" in effective or "InlineCode" in effective or "ImageUri" in effective:
        return effective.get("CodeUri")
    return "."


def merge_globals(global_value: Any, local_value: Any, key: str = "") -> Any:
    """SAM's Globals rules: resource values win; mappings merge key by key; lists concatenate
    (globals first), except Architectures, which the resource replaces; an intrinsic is a value."""
    g_dict = isinstance(global_value, dict) and not is_intrinsic(global_value)
    l_dict = isinstance(local_value, dict) and not is_intrinsic(local_value)
    if g_dict and l_dict:
        merged = dict(global_value)
        for k, v in local_value.items():
            merged[k] = merge_globals(global_value[k], v, k) if k in global_value else v
        return merged
    if isinstance(global_value, list) and isinstance(local_value, list) and key not in REPLACED_BY_RESOURCE:
        return global_value + local_value
    return local_value


def function_config(effective: Mapping[str, Any]) -> dict[str, Any]:
    """The configuration a function runs with, Lambda's defaults filled in."""
    config = {}
    for key, default in CONFIG_DEFAULTS.items():
        config[key] = copy.deepcopy(effective.get(key, default))
    return config


def _inline(props: dict[str, Any], zips: Zipper, logical_id: str, uri_key: str, body_key: str) -> None:
    uri = props.get(uri_key)
    if not isinstance(uri, str) or uri.startswith("s3://"):
        return  # already in S3 (a string URI or {Bucket, Key}) or not given
    path = zips.resolve(logical_id, uri_key, uri)
    text = zips.tree.read(path)
    if text is None:
        raise PackagingError(f"{logical_id}: {uri_key} {path} not found at {zips.tree.location}")
    props[body_key] = load_template(text.decode("utf-8", errors="replace"), path)
    del props[uri_key]


