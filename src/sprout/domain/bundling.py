"""Functions bundled by esbuild, as ``sam build`` bundles them (``Metadata: BuildMethod: esbuild``).

The dependency build installs the folder's production dependencies (``npm ci`` with a lockfile,
``npm install`` without one) and runs esbuild over the folder with ``--bundle --platform=node
--outdir``, and ``sam build``'s defaults: ``Target`` es2020, ``Format`` cjs, ``Minify`` true,
``Sourcemap`` false. ``Metadata.BuildProperties`` may set ``EntryPoints`` (default: the handler's
file, ``app.lambdaHandler`` → ``app.ts`` or ``app.js``), ``Minify``, ``Target``, ``Sourcemap``,
``External`` and ``Format``; any other property is refused by name. The function's artifact is
what esbuild wrote (``app.js``, and ``app.js.map`` with a source map), not the folder.

esbuild is Sprout's own pinned version (sprout.codebuild.install_dependencies), not the app's
devDependency: the builder's version is part of the cache key, so the same folder always bundles to
the same bytes, and no development dependency (types, test tools) is installed. esbuild strips
types without checking them, as ``sam build`` does.

Every option is checked here, before it reaches the build's command line: entry points are files
of the folder, names and targets are plain words.
"""

from __future__ import annotations

import json
import posixpath
import re
from collections.abc import Mapping
from typing import Any

from sprout.domain.dependencies import (
    ESBUILD,
    LOCKFILES,
    NODE_RUNTIME,
    PACKAGE_JSON,
    Dependencies,
    ResourceBuild,
    _architecture,
    _npm_files,
    dependency_key,
)
from sprout.domain.errors import PackagingError

PROPERTIES = ("EntryPoints", "Minify", "Target", "Sourcemap", "External", "Format")
FORMATS = ("cjs", "esm", "iife")
DEFAULTS = {"minify": True, "target": "es2020", "sourcemap": False, "format": "cjs", "external": []}
PLAIN = re.compile(r"^[A-Za-z0-9@][A-Za-z0-9@._/*+-]*$")  # a package name or pattern
TARGET = re.compile(r"^[A-Za-z0-9.]+(,[A-Za-z0-9.]+)*$")
SKIPPED = ("node_modules/", ".aws-sam/", ".git/")


def plan_bundle(
    logical_id: str,
    layer: bool,
    props: Mapping[str, Any],
    metadata: Mapping[str, Any],
    folder: str,
    folder_files: Mapping[str, bytes],
    builder_digest: str,
    resolve_scope: str = "",
) -> ResourceBuild:
    """The bundle of one function: its folder's files (by path relative to it), the options, and
    whether its dependencies are resolved without a lockfile."""
    if layer:
        raise PackagingError(f"{logical_id}: Metadata BuildMethod esbuild builds functions, not layers")
    runtime = props.get("Runtime")
    if not isinstance(runtime, str) or not NODE_RUNTIME.match(runtime):
        raise PackagingError(f"{logical_id}: Metadata BuildMethod esbuild needs a nodejsN.x Runtime, not {json.dumps(runtime)}")
    files = {path: data for path, data in folder_files.items()
             if not path.startswith(SKIPPED) and posixpath.basename(path) != ".npmrc"}  # never the app's npm config
    options = bundle_options(logical_id, props, metadata.get("BuildProperties"), files)
    manifests = _npm_files(logical_id, folder, {name: files.get(name) for name in (PACKAGE_JSON, *LOCKFILES)})
    resolve = bool(manifests) and not any(name in manifests for name in LOCKFILES)
    architecture = _architecture(logical_id, props, layer)
    key = dependency_key(ESBUILD, runtime, architecture, files, builder_digest, resolve_scope if resolve else "", options)
    manifest = posixpath.join(folder, PACKAGE_JSON) if PACKAGE_JSON in files else (folder or "/")
    deps = Dependencies(key, ESBUILD, runtime, architecture, manifest, files, resolve, options)
    return ResourceBuild(logical_id, "", deps, bundled=True)


def bundle_options(
    logical_id: str, props: Mapping[str, Any], declared: Any, files: Mapping[str, bytes]
) -> dict[str, Any]:
    """``BuildProperties`` checked and completed with ``sam build``'s defaults."""
    where = f"{logical_id}: Metadata.BuildProperties"
    if declared is None:
        declared = {}
    if not isinstance(declared, Mapping):
        raise PackagingError(f"{where} must be a mapping")
    unknown = sorted(set(declared) - set(PROPERTIES))
    if unknown:
        raise PackagingError(
            f"{where}.{unknown[0]} is not supported by Sprout's esbuild build (it takes {', '.join(PROPERTIES)})"
        )
    options: dict[str, Any] = dict(DEFAULTS)
    for name in ("Minify", "Sourcemap"):
        if name in declared:
            if not isinstance(declared[name], bool):
                raise PackagingError(f"{where}.{name} must be true or false, not {json.dumps(declared[name])}")
            options[name.lower()] = declared[name]
    if "Target" in declared:
        if not isinstance(declared["Target"], str) or not TARGET.match(declared["Target"]):
            raise PackagingError(f"{where}.Target must be an esbuild target such as es2020 or node20, not {json.dumps(declared['Target'])}")
        options["target"] = declared["Target"]
    if "Format" in declared:
        if declared["Format"] not in FORMATS:
            raise PackagingError(f"{where}.Format must be one of {', '.join(FORMATS)}, not {json.dumps(declared['Format'])}")
        options["format"] = declared["Format"]
    if "External" in declared:
        external = declared["External"]
        if not isinstance(external, list) or not all(isinstance(e, str) and PLAIN.match(e) for e in external):
            raise PackagingError(f"{where}.External must be a list of package names, not {json.dumps(external)}")
        options["external"] = list(external)
    options["entryPoints"] = _entry_points(logical_id, props, declared.get("EntryPoints"), files)
    return options


def _entry_points(logical_id: str, props: Mapping[str, Any], declared: Any, files: Mapping[str, bytes]) -> list[str]:
    """Files of the folder; an entry without a suffix is found as ``.ts`` then ``.js`` (as
    ``sam build`` does). Without EntryPoints: the handler's file."""
    where = f"{logical_id}: Metadata.BuildProperties.EntryPoints"
    if declared is None:
        handler = props.get("Handler")
        if not isinstance(handler, str) or "." not in handler:
            raise PackagingError(f"{logical_id}: without BuildProperties.EntryPoints, the Handler names the entry point, and it has none")
        declared, where = [handler.rsplit(".", 1)[0]], f"{logical_id}: Handler {handler}"
    if not isinstance(declared, list) or not declared or not all(isinstance(e, str) for e in declared):
        raise PackagingError(f"{where} must be a non-empty list of files of the function's folder")
    found = []
    for entry in declared:
        path = posixpath.normpath(entry.removeprefix("./"))
        if path.startswith(("../", "/", "-")) or path in ("..", "."):
            raise PackagingError(f"{where}: {entry} is not a file of the function's folder")
        candidates = [path] if posixpath.splitext(path)[1] else [path + ".ts", path + ".js"]
        match = next((c for c in candidates if c in files), None)
        if match is None:
            raise PackagingError(f"{where}: {entry} does not exist in the function's folder")
        found.append(match)
    return found
