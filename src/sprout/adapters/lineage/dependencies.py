"""Cached dependency sets: which object holds the installed dependencies of a key, and its sha256.
Written by the trusted step that moves a dependency build's output into the cache; read by
PlanDependencies (is it cached?) and by Package (is the object what was stored?)."""

from __future__ import annotations

from sprout.adapters.lineage.items import DependenciesItem
from sprout.adapters.lineage.table import get, now_iso
from sprout.domain.dependencies import CachedDigest


def _pk(key: str) -> str:
    return f"DEPENDENCIES#{key}"


class DependencyRepository:
    def record_dependencies(self, key: str, object_key: str, sha256: str, app: str, build: int,
                            codebuild: str | None = None) -> CachedDigest:
        """Record (or replace) the cache entry of ``key``: the object must be stored already."""
        DependenciesItem(_pk(key), "DIGEST", key=key, object_key=object_key, sha256=sha256, app=app, build=build,
                         codebuild=codebuild, at=now_iso()).save()
        return CachedDigest(key, object_key, sha256)

    def dependencies_digest(self, key: str) -> CachedDigest | None:
        item = get(DependenciesItem, _pk(key), "DIGEST")
        return CachedDigest(item.key, item.object_key, item.sha256) if item else None
