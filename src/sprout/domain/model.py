"""Sprout's domain types: apps, stages, builds, deployments, the stage lock. Pure data, no AWS.

One status vocabulary, from the lineage to the state machines' Choice states: ``BuildStatus``,
``DeploymentStatus`` and ``DeployProgress`` are the strings the ASL compares against.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class BuildStatus(StrEnum):
    BUILDING = "BUILDING"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"


class DeploymentStatus(StrEnum):
    IN_PROGRESS = "IN_PROGRESS"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"


class DeployProgress(StrEnum):
    """Where one deploy step left a deployment (the deploy state machine's Choice states)."""

    IN_PROGRESS = "IN_PROGRESS"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"
    SUPERSEDED = "SUPERSEDED"  # a push whose history the stage already runs past: nothing to do


# The alias AutoPublishAlias gives every function of a stage: what a deployment records and a rollback flips.
LIVE_ALIAS = "live"


class DeploymentKind(StrEnum):
    DEPLOY = "deploy"
    PROMOTE = "promote"
    ROLLBACK = "rollback"
    AUTO_ROLLBACK = "auto-rollback"
    CONFIG = "config"  # the build the stage runs, deployed again with the stage's settings as they are now


@dataclass(frozen=True)
class Preview:
    """What made a preview stage: a branch, or a pull request (sprout.domain.previews)."""

    kind: str  # "branch" | "pullRequest"
    branch: str
    created_at: str = ""
    pull_request_id: str | None = None
    comment_id: str | None = None  # the pull request's comment Sprout keeps up to date (edited, never repeated)

    def view(self) -> dict[str, Any]:
        shown = {"kind": self.kind, "branch": self.branch, "createdAt": self.created_at}
        return {**shown, "pullRequestId": self.pull_request_id} if self.pull_request_id else shown


@dataclass(frozen=True)
class StageSpec:
    """A stage as an app declares it: pipeline order is the order in App.stages (previews last)."""

    name: str
    branch: str | None = None
    auto_deploy: bool = False
    preview: Preview | None = None
    strategy: dict[str, Any] | None = None  # a promote's default strategy (sprout.domain.canary), as recorded


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
    config: dict[str, Any] = field(default_factory=dict[str, Any])


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
    failure: dict[str, Any] | None = None  # {"step": ..., "error": ..., "cause": ...}
    execution: str | None = None  # the execution that built it
    quarantined: dict[str, Any] | None = None  # {"stage", "deployment", "reason", "at"} once an alarm rolled it back
    notes: dict[str, Any] | None = None  # {"fixedNames": [...], "resolvedWithoutLockfile": [...]}: Package's findings


@dataclass(frozen=True)
class Deployment:
    app: str
    stage: str
    id: str  # sortable: zero-padded per-stage sequence, e.g. "000007"
    build: int
    kind: DeploymentKind
    status: DeploymentStatus
    trigger: dict[str, Any]  # {"type": "push"|"user"|"alarm", ...who/what}
    replaces: str | None = None
    versions: dict[str, str] = field(default_factory=dict)  # function logical id -> Lambda version behind `live`
    started_at: str = ""
    finished_at: str | None = None
    error: str | None = None
    step: str | None = None  # the step that failed, when it failed
    execution: str | None = None  # the execution holding the stage for it
    took_over: dict[str, Any] | None = None  # {"deployment", "execution", "reason"} when it took a stale lock over
    change_set: str | None = None  # the CloudFormation change set it deployed through
    notes: tuple[str, ...] = ()  # what Sprout did on its way, e.g. deleted a failed first deploy's stack
    cause: dict[str, Any] | None = None  # a failure's cause: stackStatus, logicalId, type, reason, changeSetReason, advice
    reconciled: dict[str, Any] | None = None  # {"at", "was", "why"}: a check repaired this record to match the stack
    strategy: dict[str, Any] | None = None  # a canary or linear promote's strategy (sprout.domain.canary)
    canary: dict[str, Any] | None = None  # {"state", "versions", "previous", "functions", "startedAt"}
    steps: tuple[dict[str, Any], ...] = ()  # {"weight", "startedAt", "judgedAt", "requests", "errors", "verdict"}
    control: dict[str, Any] | None = None  # {"action", "by", "at"}: asked by a person, not yet done


@dataclass(frozen=True)
class StageLock:
    """Who holds a stage: one deployment at a time, for its execution, until the lease runs out
    (renewed while the deployment makes progress)."""

    deployment: str
    execution: str | None
    since: str
    expires_at: str


@dataclass(frozen=True)
class Stage:
    app: str
    name: str
    branch: str | None = None
    auto_deploy: bool = False
    current_deployment: str | None = None
    lock: StageLock | None = None
    version: int = 0
    preview: Preview | None = None
    removing: dict[str, Any] | None = None  # the recorded removal intent, while the teardown runs
    removed_at: str | None = None  # set once the stage was torn down: its history stays readable


@dataclass(frozen=True)
class OpenWork:
    """Something an execution opened and has not closed yet: a build or a deployment."""

    kind: str  # "build" | "deployment"
    app: str
    build: int | None = None
    stage: str | None = None
    deployment: str | None = None
