"""Delivery rules, in one place and pure: which stages an app gets, what its stacks are called,
what may deploy where, where a promote comes from, what a rollback goes back to, and when a
stage's lock may be taken over. Handlers and tasks ask; adapters store; nothing here calls AWS.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any

from sprout.domain.errors import (
    BuildNotDeployable,
    InvalidInput,
    NothingToRollBackTo,
    StackNameTaken,
    named,
    shown,
)
from sprout.domain.model import (
    App,
    Build,
    BuildStatus,
    Deployment,
    DeploymentKind,
    DeploymentStatus,
    StageLock,
    StageSpec,
)

DEFAULT_STAGES = (StageSpec("dev", branch="main", auto_deploy=True), StageSpec("prod"))

# CloudFormation: "A stack name can contain only alphanumeric characters (case-sensitive) and
# hyphens. It must start with an alphabetic character and can't be longer than 128 characters."
_STACK_NAME = re.compile(r"[A-Za-z][-A-Za-z0-9]{0,127}")

# How long a stage lock holds without its deployment making progress (renewed at every step).
DEFAULT_LEASE = timedelta(minutes=15)


def stack_name(app: str, stage: str) -> str:
    """The stage's CloudFormation stack: ``<app>-<stage>``."""
    return f"{app}-{stage}"


def refuse_sprouts_stack_name(stack: str, stage: str, own_stack: str) -> None:
    """A stage's stack may not be Sprout's own stack, nor be named like Sprout's resources
    (``<Sprout's stack>-…``): the apps' boundary and deploy role deny every app those names, so such a
    stage could not run its own functions nor keep their logs."""
    if not own_stack:
        return
    if stack == own_stack:
        raise StackNameTaken(f"stack name {named(stack)} (stage {named(stage)}) is Sprout's own stack: "
                             "choose another app or stage name")
    if stack.startswith(f"{own_stack}-"):
        raise StackNameTaken(f"stack name {named(stack)} (stage {named(stage)}) begins with {named(own_stack + '-')}, "
                             "the names of Sprout's own resources, which apps may not use: choose another app or stage name")


def execution_arn(state_machine_arn: str, name: str) -> str:
    """The ARN an execution named ``name`` of the machine gets (known before it starts)."""
    prefix, _, machine = state_machine_arn.rpartition(":stateMachine:")
    return f"{prefix}:execution:{machine}:{name}"


def check_stages(stages: Sequence[StageSpec]) -> tuple[StageSpec, ...]:
    """The app's stages in pipeline order, checked: unique names, auto-deploy only with a branch."""
    names = [s.name for s in stages]
    if len(set(names)) != len(names):
        raise InvalidInput("stages", f"stage names must be unique, got {named(', '.join(names), 120)}")
    for s in stages:
        if s.auto_deploy and not s.branch:
            raise InvalidInput("stages", f"stage {named(s.name)} auto-deploys but follows no branch")
    return tuple(stages) or DEFAULT_STAGES


def stage_stacks(app: App) -> dict[str, str]:
    """Stage name -> its stack's name, each checked against what CloudFormation allows."""
    stacks = {}
    for s in app.stages:
        name = stack_name(app.name, s.name)
        if not _STACK_NAME.fullmatch(name):
            raise InvalidInput("stages", f"stack name {shown(name)} is not one CloudFormation allows")
        stacks[s.name] = name
    return stacks


def check_deployable(build: Build, stage: str, force: bool = False) -> None:
    """Only a succeeded build with a packaged template deploys — by a promote or a rollback to it;
    a quarantined one needs ``force``."""
    if build.status is not BuildStatus.SUCCEEDED or not build.template_key:
        raise BuildNotDeployable("build", f"build {build.number} of {named(build.app)} is {build.status}: only a succeeded build deploys")
    if build.quarantined and not force:
        q = build.quarantined
        raise BuildNotDeployable(
            "force",
            f"build {build.number} of {named(build.app)} is quarantined (rolled back from {named(q.get('stage'))}: "
            f"{named(q.get('reason', 'an alarm fired'), 120)}); send force to deploy it all the same",
        )


def superseded(kind: DeploymentKind, trigger: dict[str, Any], running_descends_from_build: bool) -> bool:
    """A push's deploy is superseded when the stage already runs a commit descending from it:
    pushes deploy in the order of their history, whatever order their builds finished in."""
    return kind is DeploymentKind.DEPLOY and trigger.get("type") == "push" and running_descends_from_build


def comes_from(app: App, stage: str, build: Build) -> bool:
    """Whether ``build`` is one ``stage`` builds itself (it auto-deploys the branch the build
    follows): such a build reaches the stage by its push, never by a promote."""
    spec = app.stage(stage)
    return bool(spec and spec.auto_deploy and build.branch and spec.branch == build.branch)


def promote_source_stage(app: App, target: str) -> StageSpec:
    """The stage a promote to ``target`` takes its build from: the one before it in the pipeline."""
    names = [s.name for s in app.stages]
    if target not in names:
        raise InvalidInput("stage", f"app {named(app.name)} has no stage {named(target)}")
    index = names.index(target)
    if index == 0:
        raise InvalidInput(
            "build", f"stage {named(target)} is the first of app {named(app.name)}'s pipeline: name the build to promote"
        )
    return app.stages[index - 1]


def rollback_target(history: Iterable[Deployment], current: Deployment | None,
                    quarantined: Callable[[int], bool] = lambda build: False) -> Deployment:
    """The previous good deployment: the newest SUCCEEDED one before ``current`` whose build
    differs from the current build (or, when the current one is a ``config`` deployment, whose
    versions differ: the settings before) and is not quarantined (``quarantined(build)``: going back
    to a quarantined build is asked for by name, with ``force``). ``history`` is the stage's
    deployments, newest first."""
    if current is None:
        raise NothingToRollBackTo("the stage has never been deployed")
    for d in history:
        if d.id >= current.id or d.status is not DeploymentStatus.SUCCEEDED:
            continue
        # a config deployment (settings changed, same build) is undone by the deployment before it
        undoes_config = current.kind is DeploymentKind.CONFIG and d.versions != current.versions
        if (d.build != current.build or undoes_config) and d.versions and not quarantined(d.build):
            return d
    raise NothingToRollBackTo(
        f"stage {named(current.stage)} of {named(current.app)} has no earlier good deployment of another build than "
        f"{current.build} that is not quarantined"
    )


def named_rollback_target(history: Iterable[Deployment], number: int, app: str, stage: str) -> Deployment:
    """The newest good deployment of build ``number`` in the stage's ``history`` (newest first):
    a rollback to a build asked for by name goes back to what it ran there."""
    for d in history:
        if d.build == number and d.status is DeploymentStatus.SUCCEEDED and d.versions:
            return d
    raise NothingToRollBackTo(f"build {number} never ran on stage {named(stage)} of {named(app)}: nothing to roll back to")


ROLLBACK_KINDS = (DeploymentKind.ROLLBACK, DeploymentKind.AUTO_ROLLBACK)


def rolled_back(deployment: Deployment, later: Iterable[Deployment]) -> bool:
    """Whether a rollback (by hand or by alarm) among ``later`` replaced ``deployment``."""
    return any(d.replaces == deployment.id and d.kind in ROLLBACK_KINDS for d in later)


def lease_until(now: datetime, lease: timedelta = DEFAULT_LEASE) -> str:
    return iso(now + lease)


def takeover_reason(lock: StageLock, now: datetime, holder_running: bool | None) -> str | None:
    """Why ``lock`` may be taken over now, or None while it holds: its lease ran out, or the
    execution holding it has ended (``holder_running`` False; None when unknown)."""
    if parse_iso(lock.expires_at) <= now:
        return f"the lease of deployment {lock.deployment} ran out at {lock.expires_at}"
    if holder_running is False:
        return f"execution {lock.execution} holding it for deployment {lock.deployment} has ended"
    return None


def iso(moment: datetime) -> str:
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def parse_iso(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


# ---- hands-off rollback ----------------------------------------------------------------------------

DEFAULT_COOLDOWN = timedelta(minutes=5)
WATCHED_KINDS = (DeploymentKind.DEPLOY, DeploymentKind.PROMOTE)


def alarm_decision(
    current: Deployment | None,
    breaching_since: datetime,
    last_rollback_finished: datetime | None,
    now: datetime,
    cooldown: timedelta = DEFAULT_COOLDOWN,
) -> str | None:
    """Why an alarm on a stage is recorded and not acted on — or None: roll back.

    An alarm acts only against a deploy or promote (never a rollback: no loops) that started
    before the alarm's breaching data (a person's later action is never undone by an alarm about
    what came before it), and not during the cool-down after an automatic rollback."""
    if current is None:
        return "the stage runs nothing yet"
    if current.kind not in WATCHED_KINDS:
        return f"the stage's current deployment {current.id} is a {current.kind}: an alarm never rolls back a rollback"
    if parse_iso(current.started_at) > breaching_since:
        return (f"deployment {current.id} started at {current.started_at}, after the alarm's breaching data "
                f"({iso(breaching_since)}): the alarm is about what ran before it")
    if last_rollback_finished is not None and now - last_rollback_finished < cooldown:
        return (f"the stage is cooling down after a rollback at {iso(last_rollback_finished)} "
                f"(for {int(cooldown.total_seconds())} s)")
    return None


def cooldown_of(configured_seconds: int | None) -> timedelta:
    """The cool-down a stage's auto-rollback settings ask for (the default when they name none)."""
    return timedelta(seconds=int(configured_seconds)) if configured_seconds is not None else DEFAULT_COOLDOWN


def last_auto_rollback_finished(history: Iterable[Deployment]) -> datetime | None:
    """When Sprout's own newest rollback of the stage finished: the cool-down follows Sprout's own
    rollbacks (a person's rollback then promote is watched at once). ``history``: newest first."""
    last = next((d for d in history if d.kind is DeploymentKind.AUTO_ROLLBACK
                 and d.status is DeploymentStatus.SUCCEEDED and d.finished_at), None)
    return parse_iso(last.finished_at) if last is not None and last.finished_at else None


def rollback_in_progress(holder: Deployment | None) -> str | None:
    """Why an alarm does not act while ``holder`` (the deployment holding the stage) runs: it is a
    rollback already. None: no holder, or one that is not a rollback."""
    if holder is not None and holder.kind in ROLLBACK_KINDS:
        return f"rollback {holder.id} is already in progress"
    return None


def preempted_by_alarm(holder: Deployment | None, current: Deployment) -> str | None:
    """The execution an alarm's rollback stops before taking the stage: a deploy or promote still
    going of the failing build (the one the stage runs). None: nothing to pre-empt."""
    if holder is not None and holder.build == current.build and holder.execution:
        return holder.execution
    return None
