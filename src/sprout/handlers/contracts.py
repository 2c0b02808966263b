"""The declared inputs and outputs of every state machine task (statemachines/*.asl.json).

Each state hands its task ``{"execution": $$.Execution.Id, "input": <the step's input>}``; the
types below are the ``input`` and the task's result, field for field as the ASL reads them.
Statuses are the domain's: ``BuildStatus``, ``DeploymentStatus``, ``DeployProgress``.
"""

from __future__ import annotations

from typing import NotRequired, TypedDict


class Trigger(TypedDict, total=False):
    type: str  # "push" | "user" | "alarm"
    by: str | None
    eventId: str | None


class CatchError(TypedDict, total=False):
    """What a Catch puts at its ResultPath: Step Functions' ``{Error, Cause}``."""

    Error: str
    Cause: str


# ---- build.asl.json ----------------------------------------------------------------------------


class BuildTarget(TypedDict):
    """Resolve's output item: one app to build at a commit."""

    app: str
    repository: str
    commitId: str
    branch: str | None
    deployStages: list[str]
    trigger: Trigger


class Resolved(TypedDict):
    targets: list[BuildTarget]
    repository: str
    branch: str | None
    commitId: str
    previews: NotRequired[list[dict]]  # preview stages the push made (or why not)


class RecordedBuild(TypedDict):
    """RecordBuild's output: ``created`` False for a commit already built; ``status`` FAILED when
    the commit could not be read (recorded with the reason)."""

    number: int
    created: bool
    commitId: str
    status: str


class PackageInput(TypedDict):
    app: str
    repository: str
    number: int
    commitId: str


class DependencyBuild(TypedDict):
    """One set of dependencies the cache lacks: a dependency build (CodeBuild) to run."""

    key: str
    method: str  # pip | npm | esbuild
    runtime: str
    architecture: str
    manifest: str  # the repository path of requirements.txt / package.json
    source: str  # "bucket/key" of the build's source zip (CodeBuild's S3 source location)
    outputPath: str  # "dependency-builds/{nonce}": the build's own prefix, which no other build can name
    artifactName: str  # "{key}.zip": the build's artifact, under outputPath in the artifact bucket
    resolve: NotRequired[bool]  # npm without a lockfile: CacheDependencies also caches what it resolved


class DependencyPlan(TypedDict):
    """PlanDependencies' output: the dependency builds to run before Package."""

    builds: list[DependencyBuild]
    cached: int  # dependency sets found in the cache


class CacheInput(TypedDict):
    """CacheDependencies' input: the builds PlanDependencies planned and what each CodeBuild build was."""

    app: str
    number: int
    builds: list[DependencyBuild]
    built: NotRequired[list[dict]]  # [{"id", "status"}], in the order of builds


class PackagedFunction(TypedDict):
    """One row of a build's function manifest (in S3 at Packaged.manifestKey, never in a state's
    payload: an app's functions would outgrow Step Functions' 256 KB)."""

    logicalId: str
    sha256: str
    s3Key: str
    config: dict


class Packaged(TypedDict):
    templateKey: str
    manifestKey: str  # the JSON list of PackagedFunction, beside the template
    functionCount: int
    # what the build found to tell a person (bounded): physical names fixed for every stage
    # ("fixedNames"), dependencies resolved without a lockfile ("resolvedWithoutLockfile")
    notes: NotRequired[dict]


class BuildOutcome(TypedDict):
    """RecordBuildOutcome's input: how the build ended."""

    app: str
    number: int
    status: str  # BuildStatus
    package: NotRequired[Packaged]
    step: NotRequired[str]
    error: NotRequired[CatchError]


# ---- deploy.asl.json ---------------------------------------------------------------------------


class DeployRequest(TypedDict):
    """The deploy state machine's input. ``deploymentId`` is set when the caller (promote,
    rollback) already holds the stage; otherwise BeginDeploy takes it."""

    app: str
    stage: str
    build: int
    kind: NotRequired[str]  # DeploymentKind, default "deploy"
    trigger: NotRequired[Trigger]
    deploymentId: NotRequired[str]
    force: NotRequired[bool]


class DeployState(TypedDict):
    """What the deploy steps pass along: the deployment and, once started, its change set."""

    app: str
    stage: str
    build: int
    deploymentId: str
    status: str  # DeployProgress
    stackName: NotRequired[str]
    changeSetId: NotRequired[str]
    versions: NotRequired[dict[str, str]]
    error: NotRequired[str | CatchError]
    by: NotRequired[int]
    settlingSince: NotRequired[str]  # SettleDeploy: when it began waiting for the stack
    taskFailure: NotRequired[str]  # SettleDeploy: the task failure that sent the machine there


class FailedAt(TypedDict):
    step: str


class SettleInput(DeployState):
    """SettleDeploy's input: the state CheckDeploy had, with the Catch's error (``error``) and the
    failed step (``failedAt``); on later rounds, its own output (``settlingSince``, ``taskFailure``)."""

    failedAt: NotRequired[FailedAt]


class AbandonInput(TypedDict):
    """AbandonDeploy's input: the request or state, with the Catch's error (``error``) and the
    failed step (``failedAt``, put by the Pass state after the Catch)."""

    app: str
    stage: str
    build: int
    failedAt: FailedAt
    error: CatchError
    deploymentId: NotRequired[str]
    kind: NotRequired[str]
    trigger: NotRequired[Trigger]


# ---- rollback.asl.json -------------------------------------------------------------------------


class FlipRequest(TypedDict):
    app: str
    stage: str
    build: int
    deploymentId: str
    versions: dict[str, str]  # logical id -> the version to point `live` at


class Flipped(TypedDict):
    versions: dict[str, str]  # logical id -> the version `live` points at now
    previous: dict[str, str]
    republished: list[str]
    seconds: float


# ---- the finalizer (events) ----------------------------------------------------------------------


class Finalized(TypedDict):
    execution: str
    status: str
    closed: list[str]
    reconciled: list[dict]  # each stage closed, checked against its stack (reconcile.py)


class AlarmResolved(TypedDict):
    """ResolveAlarm's output: ``status`` ACT (the rollback to run, the stage held for it) or
    IGNORED (recorded with the reason; the execution ends there)."""

    status: str
    reason: NotRequired[str]
    app: NotRequired[str]
    stage: NotRequired[str]
    build: NotRequired[int]
    deploymentId: NotRequired[str]
    versions: NotRequired[dict[str, str]]
    kind: NotRequired[str]
    trigger: NotRequired[Trigger]
