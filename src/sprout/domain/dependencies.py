"""Which dependencies a function or layer needs built, as ``sam build`` decides it, and the key
they are cached under.

A function's build method is its ``Metadata: BuildMethod`` or, without one, its ``Runtime``; a
layer is built only when its ``Metadata`` names a ``BuildMethod`` (as ``sam build`` does):

- ``pythonX.Y`` with a ``requirements.txt`` in the code folder → ``pip``: the requirements
  installed for Lambda's platform (manylinux wheels for the architecture and Python version);
- ``nodejsN.x`` with a ``package.json`` declaring ``dependencies`` → ``npm``: ``npm ci`` of the
  production dependencies with the lockfile (``package-lock.json`` or ``npm-shrinkwrap.json``)
  next to it; without one, ``npm install`` resolves them (``resolve``), as ``sam build`` does;
- ``esbuild`` (a function's ``Metadata: BuildMethod``) → the folder's TypeScript or JavaScript
  bundled by esbuild after its production dependencies are installed (see sprout.domain.bundling);
- a manifest that says more than which registry packages to install (pip option lines, URLs,
  paths; npm ``file:``/git/URL dependencies, links) is refused naming the file and the line
  (sprout.domain.manifests, which the dependency build's installer checks again);
- any other ``BuildMethod`` (``makefile``, ``go1.x``, …) is refused, naming it; a
  runtime Sprout does not build for (``java21``, ``provided.al2023``, …) without a BuildMethod
  is zipped as it is.

Where the result goes in the artifact follows ``sam build``: a function's dependencies sit at the
root of its zip, next to its code; a built layer's content and dependencies go under ``python/``
or ``nodejs/`` (what Lambda puts on the path from ``/opt``).

What the dependency build leaves is moved into the cache by a trusted step, which records the
object's sha256 in the lineage (``CachedDigest``); Package uses a cached object only when its bytes
still have that digest (``verified``).

The cache key is the sha256 of everything that defines the installed files: the builder's own
source, the method, the runtime, the architecture and the manifest and lockfile bytes. The same
key always names the same dependencies, so an unchanged function keeps its artifact's sha256.

Without a lockfile, nothing in the commit says which versions get installed: the registry decides
at install time. Such a set's key also names the build it is resolved for (``resolve_scope``), so
every build resolves again; what it resolved is then cached under the key the resolved lockfile
defines (the key of ``npm ci`` with that lockfile committed), and the lockfile kept with the
build's record for a person to commit.
"""

from __future__ import annotations

import hashlib
import io
import json
import posixpath
import re
import zipfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from sprout.domain.errors import CacheIntegrityError, PackagingError
from sprout.domain.manifests import ManifestRefused, check_lockfile, check_package_json, check_requirements

PIP, NPM, ESBUILD = "pip", "npm", "esbuild"
REQUIREMENTS = "requirements.txt"
PACKAGE_JSON = "package.json"
LOCKFILES = ("package-lock.json", "npm-shrinkwrap.json")
ARCHITECTURES = ("x86_64", "arm64")
PYTHON_RUNTIME = re.compile(r"^python3\.\d+$")
NODE_RUNTIME = re.compile(r"^nodejs\d+\.x$")
LAYER_FOLDERS = {PIP: "python/", NPM: "nodejs/"}
RESOLVED_FOLDER = ".sprout-resolved/"  # in a build's output: the lockfile npm install resolved


@dataclass(frozen=True)
class Dependencies:
    """One set of dependencies to install: what the dependency build (CodeBuild) is given."""

    key: str
    method: str  # pip | npm
    runtime: str  # python3.13, nodejs20.x
    architecture: str  # x86_64 | arm64
    manifest: str  # repository path of requirements.txt or package.json: how errors name it
    files: Mapping[str, bytes] = field(repr=False)  # file name -> bytes (manifest, lockfile)
    resolve: bool = False  # npm without a lockfile: npm install resolves versions (not reproducible)
    options: Mapping[str, Any] = field(default_factory=dict)  # esbuild: the bundling options


@dataclass(frozen=True)
class ResourceBuild:
    """How one function's or layer's artifact is made: its folder's files under ``prefix``, and the
    installed ``dependencies`` (if any) under the same prefix."""

    logical_id: str
    prefix: str = ""
    dependencies: Dependencies | None = None
    bundled: bool = False  # the artifact is what the build wrote (esbuild's bundle), not the folder


@dataclass(frozen=True)
class CachedDigest:
    """The lineage's record of one cached dependency set: the object and the sha256 it was stored with."""

    key: str
    object_key: str
    sha256: str


def verified(where: str, key: str, recorded: CachedDigest | None, read: Callable[[str], bytes]) -> bytes:
    """The cached object of ``key`` (``read(object_key)`` gives its bytes), once its sha256 is the
    recorded one; CacheIntegrityError naming the object otherwise, or when nothing was recorded."""
    if recorded is None:
        raise CacheIntegrityError(
            f"{where}: cached dependencies {key} have no digest in the lineage: the cache entry was not made by "
            "Sprout's build and is not used"
        )
    data = read(recorded.object_key)
    actual = hashlib.sha256(data).hexdigest()
    if actual != recorded.sha256:
        raise CacheIntegrityError(
            f"{where}: cached object {recorded.object_key} has sha256 {actual}, not the {recorded.sha256} recorded "
            "when it was stored: it was changed since, and is not used"
        )
    return data


def build_method(logical_id: str, metadata: Any) -> str | None:
    """The resource's ``Metadata: BuildMethod``, if it names one (a string)."""
    declared = metadata.get("BuildMethod") if isinstance(metadata, dict) else None
    if declared is not None and not isinstance(declared, str):
        raise PackagingError(f"{logical_id}: Metadata BuildMethod must be a string, not {json.dumps(declared)}")
    return declared


def plan_resource(
    logical_id: str,
    layer: bool,
    props: Mapping[str, Any],
    metadata: Any,
    folder: str,
    files: Mapping[str, bytes | None],
    builder_digest: str,
    resolve_scope: str = "",
) -> ResourceBuild:
    """The build of one function (``layer`` False) or layer whose code is the repository folder
    ``folder``, unless its BuildMethod is esbuild (``sprout.domain.bundling.plan_bundle`` plans
    those). ``files`` holds the folder's candidate manifests by name (``None`` when absent):
    requirements.txt, package.json and the lockfiles. ``resolve_scope`` names the build, for sets
    without a lockfile (resolved by every build)."""
    declared = build_method(logical_id, metadata)
    method_name = declared or (None if layer else props.get("Runtime"))
    if not isinstance(method_name, str):
        return ResourceBuild(logical_id)
    if declared == ESBUILD:
        raise PackagingError(f"{logical_id}: an esbuild build is planned by plan_bundle, not plan_resource")
    if PYTHON_RUNTIME.match(method_name):
        method = PIP
    elif NODE_RUNTIME.match(method_name):
        method = NPM
    elif declared:
        raise PackagingError(
            f"{logical_id}: Metadata BuildMethod {declared} is not supported by Sprout's build, which installs "
            "dependencies for pythonX.Y (pip) and nodejsN.x (npm), and bundles with esbuild; makefile and other "
            "builds are refused: remove the BuildMethod to zip the folder as it is"
        )
    else:
        return ResourceBuild(logical_id)  # a runtime Sprout installs nothing for: the folder as it is
    prefix = LAYER_FOLDERS[method] if layer else ""
    architecture = _architecture(logical_id, props, layer)
    try:
        manifest_files = _pip_files(folder, files) if method == PIP else _npm_files(logical_id, folder, files)
    except ManifestRefused as e:
        raise PackagingError(f"{logical_id}: {e}") from None
    if not manifest_files:
        return ResourceBuild(logical_id, prefix)
    manifest = posixpath.join(folder, REQUIREMENTS if method == PIP else PACKAGE_JSON)
    resolve = method == NPM and not any(name in manifest_files for name in LOCKFILES)
    key = dependency_key(method, method_name, architecture, manifest_files, builder_digest,
                         resolve_scope if resolve else "")
    return ResourceBuild(
        logical_id, prefix, Dependencies(key, method, method_name, architecture, manifest, manifest_files, resolve)
    )


def dependency_key(
    method: str, runtime: str, architecture: str, files: Mapping[str, bytes], builder_digest: str,
    resolve_scope: str = "", options: Mapping[str, Any] | None = None,
) -> str:
    """The content address of installed dependencies: the hash of all that defines them (and, for
    a set resolved without a lockfile, of the build it is resolved for)."""
    defining: dict[str, Any] = {
        "builder": builder_digest,
        "method": method,
        "runtime": runtime,
        "architecture": architecture,
        "files": {name: hashlib.sha256(data).hexdigest() for name, data in sorted(files.items())},
    }
    if resolve_scope:
        defining["resolvedFor"] = resolve_scope
    if options:
        defining["options"] = dict(options)
    return hashlib.sha256(json.dumps(defining, sort_keys=True).encode()).hexdigest()


def manifest_names() -> tuple[str, ...]:
    """The file names a code folder is read for."""
    return (REQUIREMENTS, PACKAGE_JSON, *LOCKFILES)


def _architecture(logical_id: str, props: Mapping[str, Any], layer: bool) -> str:
    values = props.get("CompatibleArchitectures" if layer else "Architectures") or ["x86_64"]
    architecture = values[0] if isinstance(values, list) and values else values
    if not isinstance(architecture, str) or architecture not in ARCHITECTURES:
        name = "CompatibleArchitectures" if layer else "Architectures"
        raise PackagingError(f"{logical_id}: {name} must be x86_64 or arm64, not {json.dumps(architecture)}")
    return architecture


def _pip_files(folder: str, files: Mapping[str, bytes | None]) -> dict[str, bytes]:
    requirements = files.get(REQUIREMENTS)
    if requirements is None or not check_requirements(requirements, posixpath.join(folder, REQUIREMENTS)):
        return {}
    return {REQUIREMENTS: requirements}


def _npm_files(logical_id: str, folder: str, files: Mapping[str, bytes | None]) -> dict[str, bytes]:
    package_json = files.get(PACKAGE_JSON)
    if package_json is None:
        return {}
    path = posixpath.join(folder, PACKAGE_JSON)
    try:
        declared = json.loads(package_json)
    except ValueError as e:
        raise PackagingError(f"{logical_id}: {path} is not valid JSON ({e})") from None
    if not isinstance(declared, dict):
        raise PackagingError(f"{logical_id}: {path} must hold a JSON object")
    check_package_json(declared, path)
    if not declared.get("dependencies"):
        return {}  # nothing to install for production
    lockfile = next((name for name in LOCKFILES if files.get(name) is not None), None)
    if lockfile is None:
        return {PACKAGE_JSON: package_json}  # npm install resolves them: see resolved_key
    lock_path = posixpath.join(folder, lockfile)
    try:
        locked = json.loads(files[lockfile])  # type: ignore[arg-type]
    except ValueError as e:
        raise PackagingError(f"{logical_id}: {lock_path} is not valid JSON ({e})") from None
    if not isinstance(locked, dict):
        raise PackagingError(f"{logical_id}: {lock_path} must hold a JSON object")
    check_lockfile(locked, lock_path)
    return {PACKAGE_JSON: package_json, lockfile: files[lockfile]}  # type: ignore[dict-item]


def resolved_lockfile(installed: bytes) -> bytes | None:
    """The lockfile a set built without one was resolved to, from the build's output (a zip)."""
    with zipfile.ZipFile(io.BytesIO(installed)) as archive:
        try:
            return archive.read(RESOLVED_FOLDER + LOCKFILES[0])
        except KeyError:
            return None


def resolved_note(deps: Dependencies, installed: bytes, builder_digest: str) -> dict[str, Any] | None:
    """What a build records of a set it resolved without a lockfile: the manifest, where its
    lockfile goes, the lockfile's sha256 and the key it is cached under (None: nothing resolved)."""
    lockfile = resolved_lockfile(installed) if deps.resolve else None
    if lockfile is None:
        return None
    folder = posixpath.dirname(deps.manifest)
    return {"manifest": deps.manifest, "lockfile": posixpath.join(folder, LOCKFILES[0]),
            "sha256": hashlib.sha256(lockfile).hexdigest(), "cacheKey": resolved_key(deps, lockfile, builder_digest)}


def resolved_key(deps: Dependencies, lockfile: bytes, builder_digest: str) -> str:
    """Where a set resolved without a lockfile is cached once resolved: the key ``npm ci`` with
    that lockfile committed next to the same package.json has."""
    files = {**deps.files, LOCKFILES[0]: lockfile}
    return dependency_key(deps.method, deps.runtime, deps.architecture, files, builder_digest, options=deps.options)


def lockfile_key(sha256: str) -> str:
    """Where a lockfile a build resolved is kept in the artifact bucket (by its content)."""
    return f"lockfiles/{sha256}.json"
