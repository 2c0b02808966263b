"""Promote and rollback requests: the change set a person confirms, the stage taken for the
execution before it starts (so that two requests race for the lock, not for the stack), and the
execution started under a name that makes the same request converge."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import yaml

from sprout.adapters.artifacts import ArtifactStore
from sprout.adapters.executions import Executions, execution_arn
from sprout.adapters.lineage import Lineage
from sprout.adapters.lineage.deployments import ANY_CURRENT
from sprout.adapters.source import commits_between
from sprout.domain import changeset as changesets
from sprout.domain.errors import (
    ArtifactNotFound,
    DeployError,
    InvalidInput,
    NothingToRollBackTo,
    StageMoved,
    StaleChangeSet,
    named,
)
from sprout.domain.model import App, Build, Deployment, DeploymentKind, DeploymentStatus
from sprout.domain.pipeline import check_deployable, promote_source_stage, rollback_target
from sprout.handlers.views import changeset_view
from sprout.observability import tracer
from sprout.services.issues import open_issues_of_build

HISTORY_PAGES = 5  # how far back a rollback looks: 5 pages of 100 deployments


@dataclass(frozen=True)
class Started:
    execution: str
    deployment: Deployment

    def view(self) -> dict:
        return {"execution": self.execution, "deployment": self.deployment.id, "build": self.deployment.build}


class Delivery:
    def __init__(self, lineage: Lineage, artifacts: ArtifactStore, executions: Executions,
                 promote_machine: str, rollback_machine: str):
        self.lineage = lineage
        self.artifacts = artifacts
        self.executions = executions
        self.promote_machine = promote_machine
        self.rollback_machine = rollback_machine

    # -- change sets --

    @tracer.capture_method(capture_response=False)
    def changeset(self, app: str, stage: str, number: int) -> dict:
        registered = self.lineage.get_app(app)
        self.lineage.get_stage(app, stage)
        target = self.lineage.get_build(app, number)
        check_deployable(target, stage, force=True)
        current = self.lineage.current_deployment(app, stage)
        running = self.lineage.get_build(app, current.build) if current else None
        cs = changesets.compute(
            stage,
            current.id if current else None,
            running,
            self._template(running) if running else None,
            target,
            self._template(target),
            commits_between(registered.repository, target.commit_id, running.commit_id if running else None, limit=20)
            if running and running.commit_id != target.commit_id else [],
            self._other_stages(registered, stage),
        )
        view = changeset_view(cs, app, stage, number, current)
        first = registered.stages[0].name if registered.stages else stage
        before = promote_source_stage(registered, stage).name if stage != first else None
        # what the build does on the stage before (the promote's source): its open issues there
        view["openIssues"] = open_issues_of_build(self.lineage, app, before, number) if before else None
        return view

    def _other_stages(self, registered: App, stage: str) -> dict[str, dict]:
        """The packaged template every other stage of the app runs: the names they hold."""
        found = {}
        for other in registered.stages:
            if other.name == stage:
                continue
            deployment = self.lineage.current_deployment(registered.name, other.name)
            if deployment is not None:
                found[other.name] = self._template(self.lineage.get_build(registered.name, deployment.build))
        return found

    def _template(self, build: Build) -> dict:
        try:
            return yaml.safe_load(self.artifacts.get_template(build.template_key)) or {}
        except ArtifactNotFound:
            return {}

    # -- promote --

    def promote(self, app: str, stage: str, number: int | None, changeset_id: str | None, force: bool, who: str) -> Started:
        registered = self.lineage.get_app(app)
        self.lineage.get_stage(app, stage)
        if number is None:
            source = promote_source_stage(registered, stage)
            running = self.lineage.current_deployment(app, source.name)
            if running is None:
                raise InvalidInput("build", f"stage {named(source.name)} runs no build yet: name the build to promote")
            number = running.build
        build = self.lineage.get_build(app, number)
        check_deployable(build, stage, force=force)
        if _comes_from(registered, stage, build):
            raise InvalidInput("stage", f"build {number} comes from stage {named(stage)} (it follows {named(build.branch)}): "
                                        "promote it to another stage")
        fresh = self.changeset(app, stage, number)
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
        try:
            return self._start(self.promote_machine, app, stage, number, DeploymentKind.PROMOTE, trigger, {},
                               expect_current=judged_against)
        except StageMoved as e:
            # the stage moved on between the change set and the lock: what was reviewed is stale
            raise StaleChangeSet(f"{e}: review the fresh change set", self.changeset(app, stage, number)) from e

    # -- rollback --

    def rollback(self, app: str, stage: str, number: int | None, who: str, force: bool = False,
                 kind: DeploymentKind = DeploymentKind.ROLLBACK, trigger: dict | None = None) -> Started:
        self.lineage.get_app(app)
        current = self.lineage.current_deployment(app, stage)
        history = self._history(app, stage)
        if number is None:
            target = rollback_target(history, current, quarantined=lambda n: bool(self.lineage.get_build(app, n).quarantined))
        else:
            check_deployable(self.lineage.get_build(app, number), stage, force=force)
            target = next((d for d in history if d.build == number and d.status is DeploymentStatus.SUCCEEDED and d.versions), None)
            if target is None:
                raise NothingToRollBackTo(f"build {number} never ran on stage {named(stage)} of {named(app)}: nothing to roll back to")
        trigger = trigger or {"type": "user", "by": who}
        trigger = {**trigger, "target": target.id}
        return self._start(self.rollback_machine, app, stage, target.build, kind, trigger, {"versions": target.versions})

    def _history(self, app: str, stage: str) -> list[Deployment]:
        found, token = [], None
        for _ in range(HISTORY_PAGES):
            page, token = self.lineage.list_deployments(app, stage, limit=100, next_token=token)
            found += page
            if not token:
                break
        return found

    # -- both --

    def _start(self, machine: str, app: str, stage: str, number: int, kind: DeploymentKind, trigger: dict,
               extra: dict, expect_current: str | None | object = ANY_CURRENT) -> Started:
        name = f"{app}-{stage}-{kind.value}-{uuid.uuid4().hex[:12]}"[-80:]
        arn = execution_arn(machine, name)
        deployment = self.lineage.begin_deployment(
            app, stage, number, kind, trigger, execution=arn, holder_running=self.executions.is_running,
            expect_current=expect_current,
        )
        payload = {"app": app, "stage": stage, "build": number, "kind": kind.value, "trigger": trigger,
                   "deploymentId": deployment.id, **extra}
        try:
            self.executions.start(machine, name, payload)
        except Exception as e:
            self.lineage.finish_deployment(app, stage, deployment.id, DeploymentStatus.FAILED,
                                           error=f"the {kind.value} could not start: {e}", step="StartExecution")
            raise DeployError(f"the {kind.value} of build {number} to {named(stage)} could not start: {named(str(e), 200)}") from e
        return Started(arn, deployment)


def _comes_from(app: App, stage: str, build: Build) -> bool:
    spec = app.stage(stage)
    return bool(spec and spec.auto_deploy and build.branch and spec.branch == build.branch)
