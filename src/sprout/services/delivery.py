"""Promote and rollback by hand (the API's use cases): the change set a person confirms, the stage
taken for the execution before it starts (so that two requests race for the lock, not for the
stack), then the execution started.

Each execution is named ``<app>-<stage>-<kind>-<random>``: every accepted request starts its own
execution, and a repeated request does not converge on the first one — the stage's lock is what
refuses the second (StageBusy naming the holder). A rollback by hand and a rollback by alarm open
their deployment through one function, ``rollbacks.begin_rollback``.

One promote reads each thing once (``Reads``): the app and the stage, the build, what each stage
runs and the build it runs, and each packaged template, and checks deployability once; the change
set it checks is computed from those reads and handed on.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import yaml

from sprout.domain import changeset as changesets
from sprout.domain.canary import Control, Strategy, canary_holds, strategy_of
from sprout.domain.errors import (
    ArtifactNotFound,
    DeployError,
    InvalidInput,
    StageMoved,
    StaleChangeSet,
    named,
)
from sprout.domain.model import App, Build, Deployment, DeploymentKind, DeploymentStatus
from sprout.domain.pipeline import (
    check_deployable,
    comes_from,
    execution_arn,
    named_rollback_target,
    promote_source_stage,
    rollback_target,
)
from sprout.domain.previews import refuse_for_preview
from sprout.observability import tracer
from sprout.services.canary import request_control
from sprout.services.issues import IssueStore, open_issues_of_build
from sprout.services.ports import DeliveryLineage, Executions, Templates
from sprout.services.rollbacks import begin_rollback

# (app, stage, the target's packaged template) -> the change set's "configuration" (settings)
Configuration = Callable[[str, str, dict[str, Any]], dict[str, Any]]
HISTORY_PAGES = 5  # how far back a rollback looks: 5 pages of 100 deployments


class Commits(Protocol):
    def commits_between(self, repository: str, newest: str, oldest: str | None, limit: int = 50) -> list[dict[str, Any]]: ...


@dataclass(frozen=True)
class Started:
    execution: str
    deployment: Deployment
    aborting: bool = False  # a rollback by hand during a canary: the canary is aborted instead

    def view(self) -> dict[str, Any]:
        view = {"execution": self.execution, "deployment": self.deployment.id, "build": self.deployment.build}
        return {**view, "aborting": True} if self.aborting else view


class Reads:
    """What one request has read: each build and each packaged template once."""

    def __init__(self, lineage: DeliveryLineage, templates: Templates):
        self._lineage, self._templates = lineage, templates
        self._builds: dict[tuple[str, int], Build] = {}
        self._parsed: dict[str, dict[str, Any]] = {}
        self._currents: dict[tuple[str, str], Deployment | None] = {}

    def current(self, app: str, stage: str) -> Deployment | None:
        """What another stage runs (the promote's source, the names other stages hold)."""
        if (app, stage) not in self._currents:
            self._currents[(app, stage)] = self._lineage.current_deployment(app, stage)
        return self._currents[(app, stage)]

    def build(self, app: str, number: int) -> Build:
        if (app, number) not in self._builds:
            self._builds[(app, number)] = self._lineage.get_build(app, number)
        return self._builds[(app, number)]

    def template(self, build: Build) -> dict[str, Any]:
        key = build.template_key or ""
        if key not in self._parsed:
            try:
                self._parsed[key] = yaml.safe_load(self._templates.get_template(key)) or {} if key else {}
            except ArtifactNotFound:
                self._parsed[key] = {}
        return self._parsed[key]


class Delivery:
    def __init__(self, lineage: DeliveryLineage, artifacts: Templates, executions: Executions, source: Commits,
                 promote_machine: str, rollback_machine: str, configuration: Configuration | None = None,
                 issues: IssueStore | None = None):
        self.lineage = lineage
        self.issues = issues  # a promote's change set names the build's open issues on the stage before
        self.artifacts = artifacts
        self.executions = executions
        self.source = source
        self.promote_machine = promote_machine
        self.rollback_machine = rollback_machine
        self.configuration = configuration  # settings: the change set's configuration part (issue 22)

    # -- change sets --

    @tracer.capture_method(capture_response=False)
    def changeset(self, app: str, stage: str, number: int) -> dict[str, Any]:
        registered = self.lineage.get_app(app)
        self.lineage.get_stage(app, stage)
        reads = Reads(self.lineage, self.artifacts)
        target = reads.build(app, number)
        check_deployable(target, stage, force=True)
        view = self._changeset(registered, stage, target, reads)
        first = registered.stages[0].name if registered.stages else stage
        before = promote_source_stage(registered, stage).name if stage != first else None
        view["openIssues"] = (open_issues_of_build(self.issues, app, before, number)
                              if before and self.issues is not None else None)
        return view

    def _changeset(self, registered: App, stage: str, target: Build, reads: Reads) -> dict[str, Any]:
        app = registered.name
        current = self.lineage.current_deployment(app, stage)
        running = reads.build(app, current.build) if current else None
        commits = (self.source.commits_between(registered.repository, target.commit_id, running.commit_id, limit=20)
                   if running and running.commit_id != target.commit_id else [])
        cs = changesets.compute(
            stage, current.id if current else None, running, reads.template(running) if running else None,
            target, reads.template(target), commits, self._other_stages(registered, stage, reads),
        )
        view = changesets.changeset_view(cs, app, stage, target.number, current)
        if self.configuration is not None:
            view["configuration"] = self.configuration(app, stage, reads.template(target))
        return view

    def _other_stages(self, registered: App, stage: str, reads: Reads) -> dict[str, dict[str, Any]]:
        """The packaged template every other stage of the app runs: the names they hold."""
        found = {}
        for other in registered.stages:
            if other.name == stage:
                continue
            deployment = reads.current(registered.name, other.name)
            if deployment is not None:
                found[other.name] = reads.template(reads.build(registered.name, deployment.build))
        return found

    # -- promote --

    def promote(self, app: str, stage: str, number: int | None, changeset_id: str | None, force: bool, who: str,
                strategy: Strategy | None = None) -> Started:
        """``strategy`` None: the stage's default (all at once unless the app's registration gave one)."""
        registered = self.lineage.get_app(app)
        if strategy is None:
            spec = registered.stage(stage)
            strategy = strategy_of(spec.strategy if spec else None)
        chosen = strategy
        self.lineage.get_stage(app, stage)
        refuse_for_preview(registered, stage, "it deploys its branch's builds, never a promote")
        reads = Reads(self.lineage, self.artifacts)
        if number is None:
            source = promote_source_stage(registered, stage)
            running = reads.current(app, source.name)
            if running is None:
                raise InvalidInput("build", f"stage {named(source.name)} runs no build yet: name the build to promote")
            number = running.build
        build = reads.build(app, number)
        check_deployable(build, stage, force=force)
        if comes_from(registered, stage, build):
            raise InvalidInput("stage", f"build {number} comes from stage {named(stage)} (it follows {named(build.branch)}): "
                                        "promote it to another stage")
        fresh = self._changeset(registered, stage, build, reads)
        if changeset_id is not None and changeset_id != fresh["changesetId"]:
            raise StaleChangeSet(
                f"change set {named(changeset_id)} no longer matches what stage {named(stage)} runs: review the fresh one", fresh
            )
        if changeset_id is None and fresh["confirmRequired"]:
            what = "major changes" if any(c["class"] == "major" for c in fresh["changes"]) else "names another stage holds"
            if fresh["collisions"] and what == "major changes":
                what += " and names another stage holds"
            raise StaleChangeSet(
                f"the change set of build {number} to {named(stage)} has {what}: confirm it by sending its changesetId", fresh
            )
        trigger = {"type": "user", "by": who, "changesetId": fresh["changesetId"]}
        judged_against = fresh["current"]["deployment"] if fresh["current"] else None
        promoted = number

        def begin(arn: str) -> Deployment:
            deployment = self.lineage.begin_deployment(
                app, stage, promoted, DeploymentKind.PROMOTE, trigger, execution=arn,
                holder_running=self.executions.is_running, expect_current=judged_against,
            )
            # the strategy on the record before the execution that acts on it starts
            return self.lineage.record_strategy(app, stage, deployment.id, chosen.view())

        extra = {"strategy": chosen.view()} if chosen.gradual else {}
        try:
            return self._start(self.promote_machine, app, stage, number, DeploymentKind.PROMOTE, begin, extra)
        except StageMoved as e:
            # the stage moved on between the change set and the lock: what was reviewed is stale
            raise StaleChangeSet(f"{e}: review the fresh change set", self._changeset(registered, stage, build, reads)) from e

    # -- redeploy (settings changed: issue 22) --

    def redeploy(self, app: str, stage: str, who: str) -> Started:
        """The build the stage runs, deployed again through the promote machine as kind ``config``
        (its settings as they are now; a rollback undoes it like any other deployment)."""
        self.lineage.get_app(app)
        self.lineage.get_stage(app, stage)
        current = self.lineage.current_deployment(app, stage)
        if current is None:
            raise InvalidInput("stage", f"stage {named(stage)} runs no build yet: deploy or promote one first")
        check_deployable(self.lineage.get_build(app, current.build), stage, force=False)
        trigger = {"type": "user", "by": who}

        def begin(arn: str) -> Deployment:
            return self.lineage.begin_deployment(
                app, stage, current.build, DeploymentKind.CONFIG, trigger, execution=arn,
                holder_running=self.executions.is_running, expect_current=current.id,
            )

        return self._start(self.promote_machine, app, stage, current.build, DeploymentKind.CONFIG, begin, {})

    # -- rollback by hand --

    def rollback(self, app: str, stage: str, number: int | None, who: str, force: bool = False) -> Started:
        self.lineage.get_app(app)
        held = self.lineage.get_stage(app, stage).lock
        holder = self.lineage.get_deployment(app, stage, held.deployment) if held else None
        if holder is not None and canary_holds(holder):
            # a person's rollback during a canary aborts it: every weight back to 0, the deployment FAILED
            aborted = request_control(self.lineage, app, stage, holder.id, Control.ABORT, who)
            return Started(holder.execution or "", aborted, aborting=True)
        current = self.lineage.current_deployment(app, stage)
        history = self._history(app, stage)
        if number is None:
            target = rollback_target(history, current, quarantined=lambda n: bool(self.lineage.get_build(app, n).quarantined))
        else:
            check_deployable(self.lineage.get_build(app, number), stage, force=force)
            target = named_rollback_target(history, number, app, stage)

        def begin(arn: str) -> Deployment:
            return begin_rollback(self.lineage, app, stage, target, DeploymentKind.ROLLBACK, {"type": "user", "by": who},
                                  execution=arn, holder_running=self.executions.is_running)

        return self._start(self.rollback_machine, app, stage, target.build, DeploymentKind.ROLLBACK, begin,
                           {"versions": target.versions})

    def _history(self, app: str, stage: str) -> list[Deployment]:
        found: list[Deployment] = []
        token: str | None = None
        for _ in range(HISTORY_PAGES):
            page, token = self.lineage.list_deployments(app, stage, limit=100, next_token=token)
            found += page
            if not token:
                break
        return found

    # -- both --

    def _start(self, machine: str, app: str, stage: str, number: int, kind: DeploymentKind,
               begin: Callable[[str], Deployment], extra: dict[str, Any]) -> Started:
        """Open the deployment for the execution about to start (``begin``: its ARN → the
        deployment), then start it; when it cannot start, the deployment is closed FAILED saying why."""
        name = f"{app}-{stage}-{kind.value}-{uuid.uuid4().hex[:12]}"[-80:]
        arn = execution_arn(machine, name)
        deployment = begin(arn)
        payload = {"app": app, "stage": stage, "build": number, "kind": kind.value, "trigger": deployment.trigger,
                   "deploymentId": deployment.id, **extra}
        try:
            self.executions.start(machine, name, payload)
        except Exception as e:
            self.lineage.finish_deployment(app, stage, deployment.id, DeploymentStatus.FAILED,
                                           error=f"the {kind.value} could not start: {e}", step="StartExecution")
            raise DeployError(f"the {kind.value} of build {number} to {named(stage)} could not start: {named(str(e), 200)}") from e
        return Started(arn, deployment)
