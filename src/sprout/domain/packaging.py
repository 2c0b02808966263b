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
  and, given ``roles``, Sprout's permissions boundary and role path on every role-making resource.

The source is read through a :class:`~sprout.domain.source_tree.SourceTree`.

Zips are deterministic: entries sorted by path, no directory entries, timestamp 1980-01-01 00:00,
permissions 0o644 (0o755 for executables), deflate level 6. Same files give the same bytes, so an
unchanged function keeps its sha256 (the same Python/zlib build is assumed: packaging always runs
in Sprout's own Lambda runtime).

Everything wrong with the commit raises :class:`PackagingError` with a reason naming the path and
the function's logical id.
"""

from __future__ import annotations

import copy
import hashlib
import io
import json
import posixpath
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from sprout.domain.app_roles import AppRoles, bound_roles
from sprout.domain.dependencies import (
    CachedDigest,
    Dependencies,
    ResourceBuild,
    manifest_names,
    plan_resource,
    verified,
)
from sprout.domain.errors import PackagingError
from sprout.domain.model import FunctionArtifact
from sprout.domain.source_tree import SourceTree, normalize
from sprout.domain.template import dump_template, is_intrinsic, load_template

SAM_TRANSFORM = "AWS::Serverless-2016-10-31"
FUNCTION = "AWS::Serverless::Function"
LAYER = "AWS::Serverless::LayerVersion"
STATE_MACHINE = "AWS::Serverless::StateMachine"
APIS = ("AWS::Serverless::Api", "AWS::Serverless::HttpApi")

ZIP_DATE = (1980, 1, 1, 0, 0, 0)
FILE_MODE = 0o100644
EXECUTABLE_MODE = 0o100755

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


class InstalledDependencies(Protocol):
    """Where built dependencies are read from: the cache a trusted step filled from the dependency
    builds, with the digest it recorded of each object."""

    builder_digest: str  # the sha256 of the dependency builder's source: part of every cache key

    def digest_of(self, key: str) -> CachedDigest | None: ...

    def read_cached(self, object_key: str) -> bytes: ...


@dataclass(frozen=True)
class CodeResource:
    """A function or layer whose code is a folder (or .zip) of the repository."""

    logical_id: str
    layer: bool
    uri_key: str  # CodeUri | ContentUri
    uri: Any
    props: Mapping[str, Any]  # a function's with Globals.Function merged in
    metadata: Any


def plan_dependencies(
    template_text: str | bytes | None, template_path: str, tree: SourceTree, builder_digest: str
) -> list[Dependencies]:
    """The dependency sets the commit's functions and layers need installed, one per cache key."""
    template_path = normalize(template_path)
    template = _load(template_text, template_path, tree)
    zips = _Zipper(tree, posixpath.dirname(template_path), template_path)
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
    zips = _Zipper(tree, posixpath.dirname(template_path), template_path, installed)
    packaged = copy.deepcopy(template)
    code = {r.logical_id: r for r in code_resources(template, template_path)}

    if "CodeUri" in ((template.get("Globals") or {}).get("Function") or {}):
        del packaged["Globals"]["Function"]["CodeUri"]  # every function now names its own artifact
    _publish_live_alias(packaged)
    if roles is not None:
        bound_roles(packaged, roles)
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
    )


def _load(template_text: str | bytes | None, template_path: str, tree: SourceTree) -> dict:
    if template_text is None:
        raise PackagingError(f"{template_path} not found at {tree.location}")
    if isinstance(template_text, bytes):
        try:
            template_text = template_text.decode("utf-8")
        except UnicodeDecodeError as e:
            raise PackagingError(f"{template_path}: not UTF-8 text ({e.reason} at byte {e.start})") from None
    template = load_template(template_text, template_path)
    _sam_resources(template, template_path)
    _check_stack_size(template, template_path)
    return template


MAX_STACK_RESOURCES = 500  # CloudFormation's resources per stack (a hard quota)


def _check_stack_size(template: dict, path: str) -> None:
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


def _props(resource: Mapping[str, Any], logical_id: str, template_path: str) -> dict:
    props = resource.get("Properties") or {}
    if not isinstance(props, dict):
        raise PackagingError(f"{template_path}: {logical_id}.Properties must be a mapping")
    return props


LIVE_ALIAS = "live"


def _publish_live_alias(packaged: dict) -> None:
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


def _sam_resources(template: Any, path: str) -> dict[str, dict]:
    if not isinstance(template, dict):
        raise PackagingError(f"{path}: not a SAM template (expected a mapping at the top level)")
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


def _inline(props: dict, zips: _Zipper, logical_id: str, uri_key: str, body_key: str) -> None:
    uri = props.get(uri_key)
    if not isinstance(uri, str) or uri.startswith("s3://"):
        return  # already in S3 (a string URI or {Bucket, Key}) or not given
    path = zips.resolve(logical_id, uri_key, uri)
    text = zips.tree.read(path)
    if text is None:
        raise PackagingError(f"{logical_id}: {uri_key} {path} not found at {zips.tree.location}")
    props[body_key] = load_template(text.decode("utf-8", errors="replace"), path)
    del props[uri_key]


class _Zipper:
    """Zips folders of the tree once each (with their installed dependencies), keeping the
    artifacts by sha256."""

    def __init__(self, tree: SourceTree, base: str, template_path: str, installed: InstalledDependencies | None = None):
        self.tree = tree
        self.base = base
        self.template_path = template_path
        self.installed = installed
        self.artifacts: dict[str, bytes] = {}
        self._made: dict[tuple[str, str, str], str] = {}  # (path, prefix, dependency key) -> sha256
        self._listed: dict[str, list[str]] = {}  # folder -> its files, sorted
        self._contents: dict[str, dict[str, bytes]] = {}  # folder -> its files' bytes by path
        self._manifests: dict[str, dict[str, bytes]] = {}  # folder -> its manifests by name

    def resolve(self, logical_id: str, key: str, uri: str) -> str:
        joined = posixpath.normpath(posixpath.join(self.base or ".", uri))
        if joined == ".." or joined.startswith("../") or posixpath.isabs(uri):
            raise PackagingError(f"{logical_id}: {key} {uri} is outside the repository")
        return normalize(joined)

    def folder(self, resource: CodeResource) -> str:
        """The repository path of a resource's code (a folder, or a .zip file)."""
        uri = resource.uri
        if uri is None:
            props = resource.props
            why = " (InlineCode and container images are not supported)" if "InlineCode" in props or "ImageUri" in props else ""
            raise PackagingError(f"{resource.logical_id}: no {resource.uri_key} in {self.template_path}{why}")
        if not isinstance(uri, str) or uri.startswith("s3://"):
            raise PackagingError(
                f"{resource.logical_id}: {resource.uri_key} must be a folder of the repository, not {json.dumps(uri)}"
            )
        return self.resolve(resource.logical_id, resource.uri_key, uri)

    def plan(self, resource: CodeResource, builder_digest: str) -> ResourceBuild:
        """How the resource's artifact is made: its folder's prefix and the dependencies it needs."""
        path = self.folder(resource)
        if path.endswith(".zip"):
            return ResourceBuild(resource.logical_id)
        return plan_resource(
            resource.logical_id, resource.layer, resource.props, resource.metadata, path, self._manifests_of(path),
            builder_digest,
        )

    def code(self, resource: CodeResource) -> str:
        path = self.folder(resource)
        zipped = (path, "", "")  # a .zip of the repository, stored as it is
        if path.endswith(".zip") and zipped not in self._made and (data := self.tree.read(path)) is not None:
            self._made[zipped] = self._keep(data)
        if path.endswith(".zip") and zipped in self._made:
            return self._made[zipped]
        files = self._files_of(path)
        if not files:
            shown = path or "/"
            if self.tree.read(path) is not None:
                raise PackagingError(f"{resource.logical_id}: {resource.uri_key} {shown} is a file, not a folder (or a .zip)")
            raise PackagingError(
                f"{resource.logical_id}: {resource.uri_key} folder {shown} does not exist or is empty at {self.tree.location}"
            )
        contents = self._contents_of(path)
        build = self.plan(resource, self.installed.builder_digest if self.installed else "")
        deps = build.dependencies
        made = (path, build.prefix, deps.key if deps else "")
        if made not in self._made:
            installed = self._installed(resource, deps)
            self._made[made] = self._keep(self._zip(path, files, contents, build.prefix, installed))
        return self._made[made]

    def _files_of(self, folder: str) -> list[str]:
        """The folder's files, listed once (functions often share one folder)."""
        if folder not in self._listed:
            self._listed[folder] = sorted(set(self.tree.list_files(folder)))
        return self._listed[folder]

    def _contents_of(self, folder: str) -> dict[str, bytes]:
        """The bytes of the folder's files, read once."""
        if folder not in self._contents:
            self._contents[folder] = self.tree.read_many(self._files_of(folder))
        return self._contents[folder]

    def _manifests_of(self, folder: str) -> dict[str, bytes]:
        """The folder's requirements.txt, package.json and lockfiles by name, read once (from its
        contents when it is being zipped)."""
        if folder not in self._manifests:
            wanted = [posixpath.join(folder, name) for name in manifest_names()]
            found = self._contents[folder] if folder in self._contents else self.tree.read_many(wanted)
            self._manifests[folder] = {posixpath.basename(p): found[p] for p in wanted if p in found}
        return self._manifests[folder]

    def _installed(self, resource: CodeResource, deps: Dependencies | None) -> bytes | None:
        if deps is None:
            return None
        if self.installed is None:
            raise PackagingError(f"{resource.logical_id}: {deps.manifest} needs its dependencies built first")
        where = f"{resource.logical_id} ({deps.manifest})"
        return verified(where, deps.key, self.installed.digest_of(deps.key), self.installed.read_cached)

    def _zip(
        self, folder: str, files: list[str], contents: Mapping[str, bytes], prefix: str, dependencies: bytes | None
    ) -> bytes:
        """The folder's files under ``prefix``, then the installed dependencies (a zip) under the same
        prefix; a file of the folder wins over a dependency file of the same name."""
        entries: dict[str, tuple[bytes, bool]] = {}
        for path in files:
            if path not in contents:
                raise PackagingError(f"{path} is listed but cannot be read at {self.tree.location}")
            name = posixpath.relpath(path, folder) if folder else path
            entries[prefix + name] = (contents[path], self.tree.is_executable(path))
        if dependencies is not None:
            with zipfile.ZipFile(io.BytesIO(dependencies)) as installed:
                for info in installed.infolist():
                    name = prefix + normalize(info.filename)
                    if not info.is_dir() and name not in entries:
                        entries[name] = (installed.read(info), bool((info.external_attr >> 16) & 0o111))
        return deterministic_zip(entries)

    def _keep(self, data: bytes) -> str:
        sha = hashlib.sha256(data).hexdigest()
        self.artifacts[sha] = data
        return sha


def deterministic_zip(entries: Mapping[str, tuple[bytes, bool]]) -> bytes:
    """A zip of ``{name: (bytes, executable)}`` whose bytes depend on nothing else: entries sorted
    by name, no directory entries, one timestamp, fixed modes and compression."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name in sorted(entries):
            data, executable = entries[name]
            info = zipfile.ZipInfo(name, date_time=ZIP_DATE)
            info.create_system = 3  # unix, so that external_attr carries the mode
            info.external_attr = (EXECUTABLE_MODE if executable else FILE_MODE) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, data, compresslevel=6)
    return buffer.getvalue()
