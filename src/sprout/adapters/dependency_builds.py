"""The dependency cache in S3 and what the dependency build (CodeBuild) leaves behind.

- ``dependency-sources/{key}.zip``: what one dependency build is given: the installer script
  (sprout/codebuild/install_dependencies.py), the manifest rules beside it
  (sprout/domain/manifests.py), ``build.json`` and the manifest files;
- ``dependency-builds/{nonce}/{key}.zip``: what one dependency build wrote, under a prefix of its own
  that PlanDependencies chose at random (no other build can name it). The CodeBuild project's role
  may write there and nowhere else;
- ``dependencies/{key}/{sha256}.zip``: the cache: installed dependencies by the key that defines
  them (see sprout.domain.dependencies), by content. CacheDependencies — a trusted step, not the
  build — moves a build's output here, then records the object and its sha256 in the lineage;
  Package uses an object only when its bytes still have that sha256. Concurrent builds of one key
  each store their own object and the last record wins: every record names an object stored before it.

``why_failed`` turns a failed ``codebuild:startBuild.sync`` task's error into a sentence naming
the manifest and the package: its ``Cause`` is the build (JSON) and names the build's log, where
the installer wrote one ``SPROUT-DEPENDENCY-ERROR`` line.
"""

from __future__ import annotations

import hashlib
import io
import json
import re
import uuid
import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Protocol

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from sprout.adapters.artifacts import ArtifactStore
from sprout.codebuild import install_dependencies
from sprout.domain import manifests
from sprout.domain.dependencies import (
    CachedDigest,
    Dependencies,
    lockfile_key,
    resolved_lockfile,
    resolved_note,
)
from sprout.domain.errors import ArtifactNotFound, InvalidInput

INSTALLER = Path(install_dependencies.__file__)
RULES = Path(manifests.__file__)
MARKER = install_dependencies.MARKER
OUTPUTS = "dependency-builds"


def builder_digest() -> str:
    """The sha256 of the dependency builder's source (the installer and the manifest rules beside it):
    part of every cache key, so a change to either builds every dependency set anew."""
    return hashlib.sha256(INSTALLER.read_bytes() + b"\0" + RULES.read_bytes()).hexdigest()


def cache_key(key: str, sha256: str) -> str:
    return f"dependencies/{key}/{sha256}.zip"


def source_key(key: str) -> str:
    return f"dependency-sources/{key}.zip"


class Digests(Protocol):
    """The lineage's records of cached dependency sets (sprout.adapters.lineage.dependencies)."""

    def dependencies_digest(self, key: str) -> CachedDigest | None: ...

    def record_dependencies(self, key: str, object_key: str, sha256: str, app: str, build: int,
                            codebuild: str | None = None) -> CachedDigest: ...


class DependencyCache:
    """Installed dependencies by key, in the artifact bucket, with their digests in the lineage
    (sprout.domain.packaging's InstalledDependencies)."""

    def __init__(self, store: ArtifactStore, digests: Digests):
        self.store, self.digests = store, digests
        self.installer, self.rules = INSTALLER.read_bytes(), RULES.read_bytes()
        self.builder_digest = builder_digest()

    def has(self, key: str) -> bool:
        """Cached: recorded in the lineage and the object there (whether it is intact, Package checks)."""
        recorded = self.digests.dependencies_digest(key)
        return recorded is not None and self.store.exists(recorded.object_key)

    def digest_of(self, key: str) -> CachedDigest | None:
        return self.digests.dependencies_digest(key)

    def read_cached(self, object_key: str) -> bytes:
        return self.store.read(object_key, f"cached dependencies {object_key} are missing from the artifact bucket")

    @staticmethod
    def output_of(key: str) -> tuple[str, str]:
        """Where one dependency build writes (CodeBuild's artifact ``Path`` and ``Name``): a prefix no
        other build can name."""
        return f"{OUTPUTS}/{uuid.uuid4().hex}", f"{key}.zip"

    def keep(self, key: str, output: str, app: str, build: int, codebuild: str | None = None) -> CachedDigest:
        """Move a dependency build's output (its S3 key) into the cache and record its sha256."""
        if not re.fullmatch(r"[0-9a-f]{64}", key):
            raise InvalidInput("key", "is not a dependency key (a sha256)")
        if not re.fullmatch(rf"{OUTPUTS}/[0-9a-f]{{32}}/{key}\.zip", output):
            raise InvalidInput("outputPath", f"{output[:120]} is not a dependency build's output")
        try:
            data = self.store.read(output, f"the dependency build of {key} left no output ({output})")
        except ArtifactNotFound:
            recorded = self.digests.dependencies_digest(key)
            if recorded is not None and self.store.exists(recorded.object_key):
                return recorded  # kept already: this step ran before (a retry)
            raise
        sha = hashlib.sha256(data).hexdigest()
        stored = cache_key(key, sha)  # by content: writing it again writes the same bytes
        self.store.client.put_object(Bucket=self.store.bucket, Key=stored, Body=data, ContentType="application/zip")
        recorded = self.digests.record_dependencies(key, stored, sha, app, build, codebuild)
        self.store.client.delete_object(Bucket=self.store.bucket, Key=output)
        return recorded

    def adopt(self, kept: CachedDigest, app: str, build: int) -> dict | None:
        """A set resolved without a lockfile, just kept: also cached under what it resolved
        (ResolvedLockfiles.adopt)."""
        return ResolvedLockfiles(self).adopt(kept, app, build)

    def put_source(self, deps: Dependencies) -> str:
        """Write what the dependency build is given; the ``bucket/key`` CodeBuild's S3 source names."""
        spec = {"method": deps.method, "runtime": deps.runtime, "architecture": deps.architecture, "manifest": deps.manifest,
                "resolve": deps.resolve, "options": dict(deps.options)}
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
            archive.writestr("install_dependencies.py", self.installer)
            archive.writestr("manifests.py", self.rules)
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


class ResolvedLockfiles:
    """What builds resolved without a lockfile: each kept under the key it defines (so the same
    lockfile, once committed, is a cache hit), and the lockfile itself kept for the build's record."""

    def __init__(self, cache: DependencyCache):
        self.cache = cache

    def adopt(self, kept: CachedDigest, app: str, build: int) -> dict | None:
        """A set resolved without a lockfile, just kept (CacheDependencies): cached also under the
        key its resolved lockfile defines (recorded like any cache entry), and the lockfile kept
        (``lockfiles/<sha256>.json``). The build's note of it (resolved_note), or None when the
        build's output holds no resolved lockfile."""
        store = self.cache.store
        deps = dependencies_from_source(kept.key, store.read(source_key(kept.key), f"no source for {kept.key}"))
        installed = self.cache.read_cached(kept.object_key)
        note = resolved_note(deps, installed, self.cache.builder_digest)
        if note is None:
            return None
        if not self.cache.has(note["cacheKey"]):
            stored = cache_key(note["cacheKey"], kept.sha256)
            store.client.put_object(Bucket=store.bucket, Key=stored, Body=installed, ContentType="application/zip")
            self.cache.digests.record_dependencies(note["cacheKey"], stored, kept.sha256, app, build)
        if not store.exists(lockfile_key(note["sha256"])):
            store.client.put_object(Bucket=store.bucket, Key=lockfile_key(note["sha256"]),
                                    Body=resolved_lockfile(installed), ContentType="application/json")
        return note


def why_failed(error: Mapping[str, Any] | None, logs=None) -> str | None:
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
        package = f" {str(said['package'])[:200]}" if said.get("package") else ""
        return f"{str(said.get('manifest'))[:300]}: cannot install{package} ({said.get('method')}): {str(said.get('reason'))[:600]}"
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
        message = event.get("message", "").lstrip()
        if not message.startswith(MARKER):  # the installer's own line, never a line that quotes one
            continue
        detail = message[len(MARKER):]
        try:
            return json.loads(detail)
        except ValueError:
            continue
    return None
