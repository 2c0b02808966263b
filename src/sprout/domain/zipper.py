"""Zipping a SAM app's code deterministically: each folder of the source tree (or committed .zip)
once, with its installed dependencies next to it (a layer's under ``python/`` or ``nodejs/``), every
cached dependency set's digest verified against the lineage's record.

Zips are deterministic: entries sorted by path, no directory entries, timestamp 1980-01-01 00:00,
permissions 0o644 (0o755 for executables), deflate level 6. Same files give the same bytes, so an
unchanged function keeps its sha256 (the same Python/zlib build is assumed: packaging always runs
in Sprout's own Lambda runtime).
"""

from __future__ import annotations

import hashlib
import io
import json
import posixpath
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from sprout.domain.bundling import plan_bundle
from sprout.domain.dependencies import (
    ESBUILD,
    RESOLVED_FOLDER,
    CachedDigest,
    Dependencies,
    ResourceBuild,
    build_method,
    manifest_names,
    plan_resource,
    verified,
)
from sprout.domain.errors import PackagingError
from sprout.domain.source_tree import SourceTree, normalize

ZIP_DATE = (1980, 1, 1, 0, 0, 0)
FILE_MODE = 0o100644
EXECUTABLE_MODE = 0o100755


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


class Zipper:
    """Zips folders of the tree once each (with their installed dependencies), keeping the
    artifacts by sha256."""

    def __init__(self, tree: SourceTree, base: str, template_path: str, installed: InstalledDependencies | None = None,
                 resolve_scope: str = ""):
        self.tree = tree
        self.resolve_scope = resolve_scope
        self.resolved: dict[str, tuple[Dependencies, bytes]] = {}  # key -> a set resolved without a lockfile
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
        if build_method(resource.logical_id, resource.metadata) == ESBUILD:
            return plan_bundle(resource.logical_id, resource.layer, resource.props, resource.metadata, path,
                               self._relative_contents(path), builder_digest, self.resolve_scope)
        return plan_resource(
            resource.logical_id, resource.layer, resource.props, resource.metadata, path, self._manifests_of(path),
            builder_digest, self.resolve_scope,
        )

    def _relative_contents(self, folder: str) -> dict[str, bytes]:
        """The folder's files by path relative to it (what a bundled function is built from)."""
        contents = self._contents_of(folder)
        return {(posixpath.relpath(p, folder) if folder else p): contents[p] for p in self._files_of(folder) if p in contents}

    def code(self, resource: CodeResource) -> str:
        path = self.folder(resource)
        committed = (path, "", "")  # a .zip of the repository, stored as it is
        if path.endswith(".zip") and committed not in self._made and (data := self.tree.read(path)) is not None:
            self._made[committed] = self._keep(data)
        if path.endswith(".zip") and committed in self._made:
            return self._made[committed]
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
            if deps is not None and deps.resolve and installed is not None:
                self.resolved[deps.key] = (deps, installed)
            zipped = self._zip(path, [] if build.bundled else files, contents, build.prefix, installed)
            self._made[made] = self._keep(zipped)
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
                    if info.filename.startswith(RESOLVED_FOLDER):
                        continue  # what the build resolved, for the build's record: not the function's
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
