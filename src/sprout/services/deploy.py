"""The deploy path (statemachines/deploy.asl.json), the one that build, promote and rollback all
start: take the stage (BeginDeploy), start a change set of the build's packaged template
(StartChangeSet), follow it (CheckDeploy), settle on what the stack did after a task failed
(SettleDeploy), record a step's failure (AbandonDeploy), and watch the stage once deployed.

A deploy to a stage takes the stage's strategy (issue 23): when the app's registration (or
``PATCH /apps/{app}/stages/{stage}``) gives the stage a canary or linear strategy and the stage
already runs a build, BeginDeploy records the strategy on the deployment and hands it to the
machine, which then shifts traffic through the same canary loop a promote does (sprout.services.
canary) before the stack converges. A first deploy is all at once: there is nothing to compare with.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

import yaml

from sprout.domain.canary import strategy_of
from sprout.domain.errors import DeployError, InvalidInput, StageMoved
from sprout.domain.model import App, Build, Deployment, DeploymentKind, DeploymentStatus, DeployProgress
from sprout.domain.pipeline import check_deployable, iso, parse_iso, stack_name, superseded
from sprout.domain.stack_events import cut
from sprout.observability import logger, metrics
from sprout.services.ports import AppReads, BuildReads, DeploymentWrites, HolderCheck
from sprout.services.stage_settings import SettingsParents, SettingsStore, deploy_parameters

# How long one CheckDeploy follows the stack before handing back to the state machine's Wait loop.
FOLLOW_BUDGET_S = 5.0
# How long SettleDeploy waits for a stack to settle after a deploy task failed (the deploy machine
# itself times out after TimeoutSeconds; the lease is renewed at every look).
SETTLE_LIMIT = timedelta(minutes=30)
BEGIN_ATTEMPTS = 5  # a lock taken while the stage moved on (StageMoved) is tried again this often


class Progress(Protocol):
    """Where a change set stands (sprout.adapters.stacks.Progress)."""

    @property
    def status(self) -> str: ...

    @property
    def reason(self) -> str | None: ...

    @property
    def cause(self) -> dict[str, Any] | None: ...


@dataclass(frozen=True)
class Outcome:
    """A stack's outcome the deploy path decides itself (a stack that never settled)."""

    status: str
    reason: str | None = None
    cause: dict[str, Any] | None = None


@dataclass(frozen=True)
class Begun:
    """BeginDeploy's answer: the deployment (``""`` when SUPERSEDED ``by`` a newer push the stage
    runs), and the strategy it shifts with (None: all at once)."""

    deployment_id: str
    status: str
    by: int | None = None
    strategy: dict[str, Any] | None = None


@dataclass(frozen=True)
class Followed:
    """Where a deploy stands after a look at its stack: ``status`` (DeployProgress), the versions
    behind ``live`` once SUCCEEDED, the error once FAILED, since when SettleDeploy waits."""

    status: str
    versions: dict[str, str] | None = None
    error: str | None = None
    settling_since: str | None = None


class DeployStacks(Protocol):
    def clear_failed_first_deploy(self, stack: str, on_delete: Callable[[str], None]) -> None: ...

    def start(self, stack: str, template_url: str, parameters: dict[str, str], role_arn: str | None,
              tags: dict[str, str] | None = None) -> str: ...

    def follow(self, change_set_id: str, budget_s: float) -> Progress: ...

    def settle(self, stack: str, change_set_id: str) -> Progress: ...

    def live_versions(self, stack: str) -> dict[str, str]: ...


class PackagedTemplates(Protocol):
    def get_template(self, key: str) -> str: ...

    def template_url(self, key: str) -> str: ...


class History(Protocol):
    def descends_from(self, repository: str, commit_id: str, ancestor_id: str) -> bool: ...


class DeployLineage(AppReads, BuildReads, DeploymentWrites, SettingsParents, Protocol):
    def current_deployment(self, app: str, stage: str) -> Deployment | None: ...

    def renew_lease(self, app: str, stage: str, deployment_id: str) -> bool: ...

    def annotate_deployment(self, app: str, stage: str, deployment_id: str, change_set: str | None = None,
                            note: str | None = None) -> None: ...

    def record_failed_start(self, app: str, stage: str, build: int, kind: DeploymentKind | str, trigger: Any,
                            error: str, step: str) -> Deployment: ...

    def record_strategy(self, app: str, stage: str, deployment_id: str, strategy: dict[str, Any]) -> Deployment: ...

    def finish_deployment(self, app: str, stage: str, deployment_id: str, status: DeploymentStatus | str,
                          versions: dict[str, str] | None = None, error: str | None = None, step: str | None = None,
                          cause: dict[str, Any] | None = None) -> Deployment: ...


def stage_strategy(registered: App, stage: str, kind: DeploymentKind, current: Deployment | None) -> dict[str, Any] | None:
    """The strategy a deploy of ``kind`` to ``stage`` shifts with (its recorded view), or None: all at
    once. A push's deploy takes the stage's own strategy when the stage already runs a build; a
    first deploy has nothing to compare with; promote, rollback and redeploy choose their own."""
    if kind is not DeploymentKind.DEPLOY or current is None:
        return None
    spec = registered.stage(stage)
    chosen = strategy_of(spec.strategy if spec else None)
    return chosen.view() if chosen.gradual else None


class Deploys:
    def __init__(self, lineage: DeployLineage, stacks: DeployStacks, templates: PackagedTemplates, history: History,
                 settings: SettingsStore, holder_running: HolderCheck, deploy_role: Callable[[], str],
                 now: Callable[[], datetime] = lambda: datetime.now(UTC)):
        self.lineage, self.stacks, self.templates, self.history = lineage, stacks, templates, history
        self.settings, self.holder_running, self.deploy_role, self.now = settings, holder_running, deploy_role, now

    # -- BeginDeploy --

    def begin(self, app: str, stage: str, number: int, kind: DeploymentKind, trigger: dict[str, Any], force: bool,
              execution: str | None) -> Begun:
        """Take the stage's lock for ``execution`` and record the deployment — unless the stage
        already runs a push that descends from this one (SUPERSEDED). With the stage's strategy
        (``strategy`` in the answer) when the deploy shifts gradually."""
        build = self.lineage.get_build(app, number)
        check_deployable(build, stage, force=force)
        registered = self.lineage.get_app(app)
        for attempt in range(1, BEGIN_ATTEMPTS + 1):
            # judged against the deployment the stage runs now, and the lock taken only while it still does:
            # a newer push that finished in between would otherwise be overwritten by this older one
            current = self.lineage.current_deployment(app, stage)
            newer = self._running_descends_from(registered, build, current) if kind is DeploymentKind.DEPLOY else None
            if newer is not None and superseded(kind, trigger, running_descends_from_build=True):
                logger.info("superseded", extra={"app": app, "stage": stage, "build": number, "current": newer})
                return Begun("", DeployProgress.SUPERSEDED.value, by=newer)
            try:
                deployment = self.lineage.begin_deployment(
                    app, stage, number, kind, trigger, execution=execution, holder_running=self.holder_running,
                    expect_current=current.id if current else None,
                )
                break
            except StageMoved:
                if attempt == BEGIN_ATTEMPTS:
                    raise
        if deployment.took_over:
            logger.warning("stage lock taken over", extra={"app": app, "stage": stage, **deployment.took_over})
        strategy = stage_strategy(registered, stage, kind, current)
        if strategy is not None:
            # on the record before the machine acts on it (the canary loop reads it there)
            self.lineage.record_strategy(app, stage, deployment.id, strategy)
            logger.info("deploy shifts gradually", extra={"app": app, "stage": stage, "strategy": strategy})
        return Begun(deployment.id, DeployProgress.IN_PROGRESS.value, strategy=strategy)

    def _running_descends_from(self, registered: App, build: Build, current: Deployment | None) -> int | None:
        """The number of the build the stage runs (``current``, its deployment), when its commit
        descends from ``build``'s."""
        if current is None or current.build == build.number:
            return None
        running = self.lineage.get_build(registered.name, current.build)
        return running.number if self.history.descends_from(registered.repository, running.commit_id, build.commit_id) else None

    # -- StartChangeSet --

    def start_change_set(self, app: str, stage: str, number: int, deployment_id: str) -> dict[str, str]:
        """Start (not execute) a change set of the build's packaged template on the stage's stack,
        recorded on the deployment: ``{"stackName", "changeSetId"}``. A stack Sprout created whose
        first deploy failed is deleted first (and the deployment says so)."""
        build = self.lineage.get_build(app, number)
        if build.template_key is None:
            raise InvalidInput("build", f"build {build.number} of {app} has no packaged template")
        self.lineage.renew_lease(app, stage, deployment_id)
        stack = stack_name(app, stage)
        template = yaml.safe_load(self.templates.get_template(build.template_key)) or {}
        parameters = self._parameters(app, stage, deployment_id, template)

        def deleting(note: str) -> None:
            self.lineage.annotate_deployment(app, stage, deployment_id, note=note)
            logger.warning("failed first deploy's stack deleted", extra={"app": app, "stage": stage, "note": note})

        self.stacks.clear_failed_first_deploy(stack, deleting)
        change_set = self.stacks.start(stack, self.templates.template_url(build.template_key), parameters,
                                       self.deploy_role(), tags={"sprout:app": app, "sprout:stage": stage})
        self.lineage.annotate_deployment(app, stage, deployment_id, change_set=change_set)
        logger.info("change set started", extra={"app": app, "stage": stage, "deployment": deployment_id})
        return {"stackName": stack, "changeSetId": change_set}

    def _parameters(self, app: str, stage: str, deployment_id: str, template: dict[str, Any]) -> dict[str, str]:
        """Settings and secrets (issue 22): every declared Parameter's value. A parameter with neither
        a default nor a value fails the deploy naming it; settings the template does not declare are noted."""
        resolved = deploy_parameters(self.settings, app, stage, template, self.lineage)
        if resolved.failure():
            raise DeployError(resolved.failure())
        if resolved.unused:
            self.lineage.annotate_deployment(
                app, stage, deployment_id,
                note="unused settings (the template declares no such Parameter): " + ", ".join(resolved.unused))
        return dict(resolved.parameters)

    # -- CheckDeploy, SettleDeploy --

    def check(self, app: str, stage: str, deployment_id: str, stack: str, change_set: str) -> Followed:
        """Follow the change set for a few seconds (renewing the lease); once the stack settles,
        record the deployment: ``{"status"}`` and ``versions`` or ``error``."""
        self.lineage.renew_lease(app, stage, deployment_id)
        progress = self.stacks.follow(change_set, FOLLOW_BUDGET_S)
        if progress.status == DeployProgress.IN_PROGRESS:
            return Followed(DeployProgress.IN_PROGRESS.value)
        return self._conclude(app, stage, deployment_id, stack, progress, "CheckDeploy")

    def settle(self, app: str, stage: str, deployment_id: str, stack: str, change_set: str, since: str | None,
               aside: str) -> Followed:
        """A deploy task failed while its change set may be running: wait for the stack to settle
        (the machine loops while this says IN_PROGRESS, with ``settlingSince``), then record what it
        did. Gives up after SETTLE_LIMIT, recording that the outcome is unknown."""
        self.lineage.renew_lease(app, stage, deployment_id)
        since = since or iso(self.now())
        progress: Progress = self.stacks.settle(stack, change_set)
        if progress.status == DeployProgress.IN_PROGRESS:
            if self.now() - parse_iso(since) < SETTLE_LIMIT:
                return Followed(DeployProgress.IN_PROGRESS.value, settling_since=since)
            progress = Outcome("FAILED", f"stack {stack} was still in progress after {int(SETTLE_LIMIT.total_seconds())} s; "
                               "its outcome is unknown: reconcile the stage (POST /apps/{app}/stages/{stage}/reconcile) "
                               "once it settles")
        logger.warning("settled after a failed task", extra={"app": app, "stage": stage, "status": progress.status})
        return self._conclude(app, stage, deployment_id, stack, progress, "SettleDeploy", aside)

    def _conclude(self, app: str, stage: str, deployment_id: str, stack: str, progress: Progress, step: str,
                  aside: str = "") -> Followed:
        """Record how the stack operation ended: SUCCEEDED with the versions behind every ``live``
        alias, or FAILED with CloudFormation's cause (``aside``: what else went wrong on the way)."""
        if progress.status == DeployProgress.SUCCEEDED:
            versions = self.stacks.live_versions(stack)
            self.lineage.finish_deployment(app, stage, deployment_id, DeploymentStatus.SUCCEEDED, versions=versions)
            metrics.add_metric(name="Deployments", unit="Count", value=1)
            return Followed(DeployProgress.SUCCEEDED.value, versions=versions)
        why = (progress.reason or "the stack operation failed") + (f" ({aside})" if aside else "")
        self.lineage.finish_deployment(app, stage, deployment_id, DeploymentStatus.FAILED, error=why, step=step,
                                       cause=progress.cause)
        metrics.add_metric(name="DeploymentsFailed", unit="Count", value=1)
        return Followed(DeployProgress.FAILED.value, error=why)

    # -- AbandonDeploy --

    def abandon(self, app: str, stage: str, number: int, deployment_id: str | None, step: str, why: str,
                kind: str | None, trigger: dict[str, Any] | None) -> Deployment:
        """A step failed for good: the deployment FAILED with the step and the error (which releases
        the stage), or — when it never started — a FAILED deployment saying why."""
        if deployment_id:
            deployment = self.lineage.finish_deployment(app, stage, deployment_id, DeploymentStatus.FAILED,
                                                        error=why, step=step)
        else:
            deployment = self.lineage.record_failed_start(app, stage, number, kind or DeploymentKind.DEPLOY,
                                                          dict(trigger or {"type": "user"}), error=why, step=step)
        metrics.add_metric(name="DeploymentsFailed", unit="Count", value=1)
        logger.warning("deployment abandoned", extra={"app": app, "stage": stage, "step": step, "error": cut(why)})
        return deployment
