"""The declared inputs and outputs of every state machine task (statemachines/*.asl.json).

Each state hands its task ``{"execution": $$.Execution.Id, "input": <the step's input>}``; the
types below are the ``input`` and the task's result, field for field as the ASL reads them.
Statuses are the domain's: ``BuildStatus``, ``DeploymentStatus``, ``DeployProgress``.

No ``from __future__ import annotations`` here: Python 3.11 then counts a ``NotRequired`` key as
required (the task envelope checks the required keys at run time, sprout.handlers.tasks.common).
"""

from typing import Any, Literal, NotRequired, TypedDict


class Trigger(TypedDict, total=False):
    """Who or what started a build or deployment: a push (``by`` the pusher, ``eventId``), a person
    (``by``), or an alarm (its name, reason, datapoints, the time it began breaching); ``target``
    names the deployment a rollback goes back to, ``reason`` why a person's build began."""

    type: str  # "push" | "user" | "alarm"
    by: str | None
    eventId: str | None
    reason: str
    target: str
    alarm: str
    datapoints: list[float]
    breachingSince: str


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


class Cached(TypedDict):
    """CacheDependencies' output (the machine drops it: ResultPath null): what it kept, by key."""

    kept: list[dict[str, str]]  # [{"key", "object", "sha256"}]


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
    notes: dict


class BuildOutcome(TypedDict):
    """RecordBuildOutcome's input: how the build ended."""

    app: str
    number: int
    status: str  # BuildStatus
    package: NotRequired[Packaged]
    step: NotRequired[str]
    error: NotRequired[CatchError]


class BuildRecorded(TypedDict):
    """RecordBuildOutcome's output (the machine drops it: ResultPath null)."""

    app: str
    number: int
    status: str  # BuildStatus


# ---- deploy.asl.json ---------------------------------------------------------------------------


class StrategyView(TypedDict):
    """A canary or linear strategy as recorded (sprout.domain.canary.Strategy.view)."""
    type: str
    percent: int
    intervalSeconds: int
    steps: list[int]
    preset: NotRequired[str]


class BeginRequest(TypedDict):
    """BeginDeploy's input: the deploy machine's input when the caller does not hold the stage."""

    app: str
    stage: str
    build: int
    kind: NotRequired[str]  # DeploymentKind, default "deploy"
    trigger: NotRequired[Trigger]
    force: NotRequired[bool]


class DeployRequest(BeginRequest):
    """The deploy machine's input: ``deploymentId`` when the caller (promote, rollback) holds the
    stage already (else BeginDeploy takes it); ``strategy`` a promote's."""

    deploymentId: NotRequired[str]
    strategy: NotRequired[StrategyView]


class HeldDeploy(TypedDict):
    """StartChangeSet's input: BeginDeploy's DeployState, or the DeployRequest of a caller that
    holds the stage already (``deploymentId`` set, no ``status`` yet)."""

    app: str
    stage: str
    build: int
    deploymentId: str
    status: NotRequired[str]
    kind: NotRequired[str]
    trigger: NotRequired[Trigger]
    force: NotRequired[bool]


class DeployState(TypedDict):
    """BeginDeploy's, AbandonDeploy's answer (``by``: a newer build the stage runs; ``strategy``: its own)."""

    app: str
    stage: str
    build: int
    deploymentId: str
    status: str  # DeployProgress
    error: NotRequired[str]
    by: NotRequired[int]
    strategy: NotRequired[StrategyView]


class ChangeSetState(TypedDict):
    """What the deploy steps pass along once the change set is started (and the request's ``kind``,
    ``trigger`` and ``force`` when the caller held the stage)."""

    app: str
    stage: str
    build: int
    deploymentId: str
    status: str  # DeployProgress
    stackName: str
    changeSetId: str
    kind: NotRequired[str]
    trigger: NotRequired[Trigger]
    force: NotRequired[bool]
    versions: NotRequired[dict[str, str]]  # once SUCCEEDED: logical id -> the version behind `live`
    error: NotRequired[str | CatchError]
    settlingSince: NotRequired[str]  # SettleDeploy: when it began waiting for the stack
    taskFailure: NotRequired[str]  # SettleDeploy: the task failure that sent the machine there


class Watched(ChangeSetState):
    """WatchStage's output: whether auto-rollback watches the stage now, and the issues'
    subscriptions (``{"subscribed", "notSubscribed"}``, or ``{"error"}``)."""

    watched: bool
    issues: NotRequired[dict[str, Any]]


class FailedAt(TypedDict):
    step: str


class SettleInput(ChangeSetState):
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


class HeldRequest(TypedDict):
    """What Sprout's API starts the promote and rollback machines with: the deployment it recorded,
    the stage held for it."""

    app: str
    stage: str
    build: int
    kind: str  # DeploymentKind
    trigger: Trigger
    deploymentId: str


class PromoteRequest(HeldRequest):
    """A promote with a canary or linear strategy (absent: all at once)."""

    strategy: NotRequired[StrategyView]


class CanaryProgress(TypedDict):
    """Where the canary loop is: ``status`` BEGIN, SHIFT, BAKING, PAUSED (INCONCLUSIVE, waiting for
    a person), PROMOTE (the final flip done: deploy the stack), DEPLOY (nothing to shift: deploy),
    ABORTED (the deployment is closed FAILED); ``index`` the step."""

    status: str
    index: int


class CanaryInput(TypedDict):
    """CanaryStep's input and output: the deployment (a promote's or a push's) and its canary."""

    app: str
    stage: str
    build: int
    deploymentId: str
    canary: CanaryProgress


class CanaryAbandonInput(TypedDict):
    """A canary step failed for good (the Catch's error)."""

    app: str
    stage: str
    build: int
    deploymentId: str
    error: CatchError


class CanaryAbandoned(TypedDict):
    deploymentId: str
    error: str


class RollbackRequest(HeldRequest):
    versions: dict[str, str]  # logical id -> the version to point `live` at


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


class AlarmActs(TypedDict):
    """ResolveAlarm's output when it acts: the rollback to run, the stage held for it."""

    status: Literal["ACT"]
    app: str
    stage: str
    build: int
    deploymentId: str
    versions: dict[str, str]
    kind: str
    trigger: Trigger


class AlarmIgnored(TypedDict):
    """ResolveAlarm's output when it does not act: recorded with the reason; the execution ends."""

    status: Literal["IGNORED"]
    reason: str
    app: NotRequired[str]
    stage: NotRequired[str]


AlarmResolved = AlarmActs | AlarmIgnored


# ---- teardown.asl.json ---------------------------------------------------------------------------
# One function (TeardownFunction) serves every step: each Task state names its step in its input
# (``"step": "prepare"``, a literal), and each step declares its own input and result below
# (sprout.handlers.tasks.common.steps; the steps are sprout.services.teardown's).


class TeardownRequest(TypedDict):
    """What starts the teardown machine (sprout.services.stage_changes): the stages to remove, whose
    removal is already recorded, and whether the app goes after them (``DELETE /apps/{app}``)."""

    app: str
    stages: list[str]
    deleteApp: NotRequired[bool]


class TeardownStage(TypedDict):
    """Prepare's, CleanUp's and Finish's input: one stage of the Map."""

    app: str
    stage: str


class TeardownAttempt(TeardownStage):
    """DeleteStack's and CheckStack's input: how many deletes were asked so far."""

    attempt: int


class StackDeleting(TypedDict):
    """Prepare's and DeleteStack's output."""

    app: str
    stage: str
    stack: str
    attempt: int


class StackChecked(StackDeleting):
    """CheckStack's output (sprout.domain.stages.StackState): GONE, IN_PROGRESS, or FAILED with the
    resources that blocked the deletion, the wait before the next delete, and whether to give up."""

    status: Literal["GONE", "IN_PROGRESS", "FAILED"]
    backoffSeconds: int
    blockers: list[dict[str, Any]]  # [{"logicalId", "type", "physicalId", "reason"}]
    giveUp: bool


class CleanedUp(TypedDict):
    app: str
    stage: str
    logGroupsDeleted: list[str]


class StageRemoved(TypedDict):
    """Finish's output: the stage left the pipeline."""

    app: str
    stage: str
    removedAt: str | None


class RemovalFailure(TeardownStage):
    """RecordFailure's input: a Catch's error, or GaveUp's (``DeleteFailed``)."""

    error: CatchError


class RemovalRecorded(TypedDict):
    app: str
    stage: str
    failed: bool


class AppRemoval(TypedDict):
    """FinishApp's input: every stage is gone."""

    app: str


class AppDeleted(TypedDict):
    app: str
    deleted: bool
