"""Sprout's domain types: apps, stages, builds, deployments. Pure data, no AWS."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum


class BuildStatus(StrEnum):
    BUILDING = "BUILDING"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"


class DeploymentStatus(StrEnum):
    IN_PROGRESS = "IN_PROGRESS"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"


class DeploymentKind(StrEnum):
    DEPLOY = "deploy"
    PROMOTE = "promote"
    ROLLBACK = "rollback"
    AUTO_ROLLBACK = "auto-rollback"


@dataclass(frozen=True)
class StageSpec:
    """A stage as an app declares it: pipeline order is the order in App.stages."""

    name: str
    branch: str | None = None
    auto_deploy: bool = False


@dataclass(frozen=True)
class App:
    name: str
    repository: str
    template_path: str = "template.yaml"
    stages: tuple[StageSpec, ...] = ()
    created_at: str = ""

    def stages_following(self, branch: str) -> list[StageSpec]:
        return [s for s in self.stages if s.branch == branch]

    def stage(self, name: str) -> StageSpec | None:
        return next((s for s in self.stages if s.name == name), None)


@dataclass(frozen=True)
class FunctionArtifact:
    """One function of a build: its content-addressed zip and the configuration it runs with."""

    logical_id: str
    sha256: str
    s3_key: str
    config: dict = field(default_factory=dict)


@dataclass(frozen=True)
class Build:
    app: str
    number: int
    commit_id: str
    branch: str | None
    status: BuildStatus
    message: str = ""
    author: str = ""
    created_at: str = ""
    finished_at: str | None = None
    functions: tuple[FunctionArtifact, ...] = ()
    template_key: str | None = None
    failure: dict | None = None  # {"step": ..., "error": ..., "cause": ...}


@dataclass(frozen=True)
class Deployment:
    app: str
    stage: str
    id: str  # sortable: zero-padded per-stage sequence, e.g. "000007"
    build: int
    kind: DeploymentKind
    status: DeploymentStatus
    trigger: dict  # {"type": "push"|"user"|"alarm", ...who/what}
    replaces: str | None = None
    versions: dict[str, str] = field(default_factory=dict)  # function logical id -> Lambda version behind `live`
    started_at: str = ""
    finished_at: str | None = None
    error: str | None = None


@dataclass(frozen=True)
class Stage:
    app: str
    name: str
    current_deployment: str | None = None
    lock: str | None = None  # the deployment id holding the stage, if any
    version: int = 0
