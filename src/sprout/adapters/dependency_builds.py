"""The dependency cache in S3 and what the dependency build (CodeBuild) leaves behind.

- ``dependencies/{key}.zip``: installed dependencies, by the key that defines them (see
  sprout.domain.dependencies). Written by the CodeBuild project as its artifact, read by Package;
- ``dependency-sources/{key}.zip``: what one dependency build is given: the installer script
  (sprout/codebuild/install_dependencies.py), ``build.json`` and the manifest files.

``why_failed`` turns a failed ``codebuild:startBuild.sync`` task's error into a sentence naming
the manifest and the package: its ``Cause`` is the build (JSON) and names the build's log, where
the installer wrote one ``SPROUT-DEPENDENCY-ERROR`` line.
"""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from pathlib import Path

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from sprout.adapters.artifacts import ArtifactStore
from sprout.codebuild import install_dependencies
from sprout.domain.dependencies import Dependencies, resolved_lockfile, resolved_note

INSTALLER = Path(install_dependencies.__file__)
MARKER = install_dependencies.MARKER


def dependencies_key(key: str) -> str:
    return f"dependencies/{key}.zip"


def source_key(key: str) -> str:
    return f"dependency-sources/{key}.zip"


class DependencyCache:
    """Installed dependencies by key, in the artifact bucket (sprout.domain.packaging's
    InstalledDependencies)."""

    def __init__(self, store: ArtifactStore):
        self.store = store
        self.installer = INSTALLER.read_bytes()
        self.builder_digest = hashlib.sha256(self.installer).hexdigest()

    def has(self, key: str) -> bool:
        return self.store.exists(dependencies_key(key))

    def zip_of(self, key: str) -> bytes:
        return self.store.read(dependencies_key(key), f"dependencies {key} were not built (no {dependencies_key(key)})")

    def put_source(self, deps: Dependencies) -> str:
        """Write what the dependency build is given; the ``bucket/key`` CodeBuild's S3 source names."""
        spec = {"method": deps.method, "runtime": deps.runtime, "architecture": deps.architecture, "manifest": deps.manifest,
                "resolve": deps.resolve, "options": dict(deps.options)}
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
            archive.writestr("install_dependencies.py", self.installer)
            archive.writestr("build.json", json.dumps(spec, indent=2))
            for name, data in sorted(deps.files.items()):
                archive.writestr(f"manifest/{name}", data)
        key = source_key(deps.key)
        self.store.client.put_object(Bucket=self.store.bucket, Key=key, Body=buffer.getvalue(), ContentType="application/zip")
        return f"{self.store.bucket}/{key}"


def dependencies_from_source(key: str, source: bytes) -> Dependencies:
    """The dependency set a build was given, read back from its source zip (``build.json`` and the
    files under ``manifest/``): what a trusted step needs to key what the build resolved."""
    with zipfile.ZipFile(io.BytesIO(source)) as archive:
        spec = json.loads(archive.read("build.json"))
        files = {info.filename.removeprefix("manifest/"): archive.read(info) for info in archive.infolist()
                 if info.filename.startswith("manifest/") and not info.is_dir()}
    return Dependencies(key, spec["method"], spec["runtime"], spec["architecture"], spec["manifest"], files,
                        bool(spec.get("resolve")), spec.get("options") or {})


def lockfile_key(sha256: str) -> str:
    return f"lockfiles/{sha256}.json"


class ResolvedLockfiles:
    """What builds resolved without a lockfile: each kept under the key it defines (so the same
    lockfile, once committed, is a cache hit), and the lockfile itself kept for the build's record."""

    def __init__(self, cache: DependencyCache):
        self.cache = cache

    def adopt(self, deps: Dependencies, installed: bytes) -> dict | None:
        """Keep one set resolved without a lockfile under the key its lockfile defines, and the
        lockfile (``lockfiles/<sha256>.json``); the build's note of it (resolved_note), or None when
        the build's output holds no resolved lockfile."""
        note = resolved_note(deps, installed, self.cache.builder_digest)
        if note is None:
            return None
        store = self.cache.store
        if not self.cache.has(note["cacheKey"]):
            store.client.put_object(Bucket=store.bucket, Key=dependencies_key(note["cacheKey"]), Body=installed,
                                    ContentType="application/zip")
        if not store.exists(lockfile_key(note["sha256"])):
            store.client.put_object(Bucket=store.bucket, Key=lockfile_key(note["sha256"]),
                                    Body=resolved_lockfile(installed), ContentType="application/json")
        return note


def why_failed(error: dict | None, logs=None) -> str | None:
    """What the installer said when a dependency build failed (manifest, package, reason), or the
    build's own failure context; None when ``error`` is not a failed build."""
    try:
        build = json.loads((error or {}).get("Cause") or "{}")
    except ValueError:
        return None
    build = build.get("Build", build) if isinstance(build, dict) else {}
    if not isinstance(build, dict) or not build:
        return None
    said = _installer_line(build.get("Logs") or {}, logs)
    if said:
        package = f" {said['package']}" if said.get("package") else ""
        return f"{said['manifest']}: cannot install{package} ({said['method']}): {said['reason']}"
    contexts = [
        f"{phase.get('PhaseType')}: {c.get('Message')}"
        for phase in build.get("Phases") or []
        for c in phase.get("Contexts") or []
        if c.get("Message")
    ]
    status = build.get("BuildStatus", "FAILED")
    return f"dependency build {build.get('Id', '')} {status}" + (f": {'; '.join(contexts)}" if contexts else "")


def _installer_line(where: dict, logs) -> dict | None:
    group, stream = where.get("GroupName"), where.get("StreamName")
    if not group or not stream:
        return None
    client = logs or boto3.client("logs")
    try:
        events = client.filter_log_events(
            logGroupName=group, logStreamNames=[stream], filterPattern=f'"{MARKER}"', limit=10
        ).get("events", [])
    except (ClientError, BotoCoreError):
        return None
    for event in events:
        _, _, detail = event.get("message", "").partition(MARKER)
        try:
            return json.loads(detail)
        except ValueError:
            continue
    return None
