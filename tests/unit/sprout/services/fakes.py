"""In-memory fakes of the services' ports: a lineage that keeps apps, stages, builds and
deployments in dicts (with the stage lock's rules: StageBusy with the holder, StageMoved, a lock
taken over once its holder ended), templates, executions, repositories, stacks and alarms. No
moto, no local cloud: what the adapters' own tests and the integration tests cover is not redone."""

from __future__ import annotations

import dataclasses
import itertools
from datetime import UTC, datetime, timedelta
from typing import Any

from sprout.domain.auto_rollback import AlarmEvent, WatchedAlarm
from sprout.domain.canary import closed_state
from sprout.domain.errors import (
    AppNotFound,
    ArtifactNotFound,
    BuildNotFound,
    Conflict,
    DeploymentNotFound,
    SourceError,
    StageBusy,
    StageMoved,
    StageNotFound,
)
from sprout.domain.model import (
    App,
    Build,
    BuildStatus,
    Deployment,
    DeploymentKind,
    DeploymentStatus,
    FunctionArtifact,
    Stage,
    StageLock,
    StageSpec,
)
from sprout.domain.pipeline import iso, takeover_reason

ANY = object()
NOW = datetime.now(UTC)  # deployments started an hour before it, unless a test says otherwise
MACHINE = "arn:aws:states:us-east-1:123456789012:stateMachine:sprout-{}"
NOTES = App("notes", "notes-repo", stages=(StageSpec("dev", "main", True), StageSpec("prod")))


class FakeLineage:
    def __init__(self, *apps: App):
        self.apps: dict[str, App] = {}
        self.stages: dict[tuple[str, str], Stage] = {}
        self.builds: dict[tuple[str, int], Build] = {}
        self.deployments: dict[tuple[str, str], list[Deployment]] = {}
        self.alarms: dict[str, WatchedAlarm] = {}
        self.events: dict[str, dict[str, Any]] = {}
        self.claims: dict[str, str] = {}
        self.reads: list[str] = []
        self.writes: list[tuple[str, Any]] = []  # canary records, in order
        self._clock = itertools.count()
        for app in apps:
            self.create_app(app)

    # -- apps and stages --

    def create_app(self, app: App) -> App:
        self.apps[app.name] = app
        for s in app.stages:
            self.stages[(app.name, s.name)] = Stage(app.name, s.name, s.branch, s.auto_deploy)
            self.deployments[(app.name, s.name)] = []
        return app

    def get_app(self, name: str) -> App:
        self.reads.append(f"app {name}")
        if name not in self.apps:
            raise AppNotFound(f"app {name} not found", field="name")
        return self.apps[name]

    def get_stage(self, app: str, stage: str) -> Stage:
        self.reads.append(f"stage {app}/{stage}")
        if (app, stage) not in self.stages:
            raise StageNotFound(f"app {app} has no stage {stage}", field="stage")
        return self.stages[(app, stage)]

    def list_stages(self, app: str) -> list[Stage]:
        return [s for (a, _), s in self.stages.items() if a == app]

    def stages_following(self, repository: str, branch: str) -> list[tuple[App, StageSpec]]:
        return [(a, s) for name, a in sorted(self.apps.items()) if a.repository == repository
                for s in a.stages if s.branch == branch]

    def set_stage_strategy(self, app: str, stage: str, strategy: dict[str, Any] | None) -> App:
        found = self.get_app(app)
        if found.stage(stage) is None:
            raise StageNotFound(f"app {app} has no stage {stage}", field="stage")
        self.apps[app] = dataclasses.replace(found, stages=tuple(
            dataclasses.replace(s, strategy=strategy) if s.name == stage else s for s in found.stages))
        return self.apps[app]

    def stack_owner(self, stack: str) -> tuple[str, str] | None:
        return next(((a, s) for (a, s) in self.stages if f"{a}-{s}" == stack), None)

    # -- builds --

    def add_build(self, app: str, commit: str, branch: str | None = "main", status: BuildStatus = BuildStatus.SUCCEEDED,
                  functions: dict[str, str] | None = None, quarantined: dict[str, Any] | None = None) -> Build:
        number = 1 + max((n for (a, n) in self.builds if a == app), default=0)
        build = Build(app, number, commit, branch, status, template_key=f"templates/{app}/{number}.yaml"
                      if status is BuildStatus.SUCCEEDED else None,
                      functions=tuple(FunctionArtifact(lid, sha, f"artifacts/{sha}.zip", {"Runtime": "python3.13"})
                                      for lid, sha in (functions or {"Fn": commit}).items()),
                      quarantined=quarantined)
        self.builds[(app, number)] = build
        return build

    def get_build(self, app: str, number: int) -> Build:
        self.reads.append(f"build {app}#{number}")
        if (app, number) not in self.builds:
            raise BuildNotFound(f"build {number} of app {app} not found", field="build")
        return self.builds[(app, number)]

    def get_build_by_commit(self, app: str, commit_id: str) -> Build:
        found = next((b for (a, _), b in self.builds.items() if a == app and b.commit_id == commit_id), None)
        if found is None:
            raise BuildNotFound(f"no build of commit {commit_id}")
        return found

    def list_builds(self, app: str, limit: int = 25, next_token: str | None = None) -> tuple[list[Build], str | None]:
        return sorted((b for (a, _), b in self.builds.items() if a == app), key=lambda b: -b.number)[:limit], None

    def record_build(self, app: str, commit_id: str, branch: str | None, message: str = "", author: str = "",
                     execution: str | None = None) -> tuple[Build, bool]:
        existing = next((b for (a, _), b in self.builds.items() if a == app and b.commit_id == commit_id), None)
        if existing is not None:
            return existing, False
        build = dataclasses.replace(self.add_build(app, commit_id, branch, BuildStatus.BUILDING), message=message,
                                    author=author, execution=execution)
        self.builds[(app, build.number)] = build
        return build, True

    def finish_build(self, app: str, number: int, status: BuildStatus | str, functions: Any = (),
                     template_key: str | None = None, failure: dict[str, Any] | None = None,
                     notes: dict[str, Any] | None = None) -> Build:
        build = dataclasses.replace(self.builds[(app, number)], status=BuildStatus(status), failure=failure,
                                    functions=tuple(functions), template_key=template_key, notes=notes)
        self.builds[(app, number)] = build
        return build

    def quarantine(self, app: str, number: int, reason: dict[str, Any] | None) -> Build:
        build = dataclasses.replace(self.builds[(app, number)], quarantined=reason)
        self.builds[(app, number)] = build
        return build

    # -- deployments --

    def deploy(self, app: str, stage: str, build: Build, kind: DeploymentKind = DeploymentKind.DEPLOY,
               status: DeploymentStatus = DeploymentStatus.SUCCEEDED, execution: str | None = None,
               started: datetime | None = None, finished: datetime | None = None) -> Deployment:
        """A deployment recorded as if it had run (SUCCEEDED: the stage's current one; IN_PROGRESS: holding it)."""
        d = self.begin_deployment(app, stage, build, kind, {"type": "push"}, execution=execution,
                                  holder_running=lambda arn: False)
        d = dataclasses.replace(d, started_at=iso(started or NOW - timedelta(hours=1)))
        self._put(d)
        if status is not DeploymentStatus.IN_PROGRESS:
            d = self.finish_deployment(app, stage, d.id, status, versions={lid.logical_id: str(build.number)
                                                                           for lid in build.functions})
            if finished is not None:
                d = dataclasses.replace(d, finished_at=iso(finished))
                self._put(d)
        return d

    def _put(self, d: Deployment) -> None:
        found = self.deployments[(d.app, d.stage)]
        found[[x.id for x in found].index(d.id)] = d

    def begin_deployment(self, app: str, stage: str, build: Build | int, kind: DeploymentKind | str,
                         trigger: dict[str, Any], execution: str | None = None, holder_running: Any = None,
                         *, expect_current: str | None | object = ANY) -> Deployment:
        st = self.stages.get((app, stage))  # read in the transaction: not one of the service's reads
        if st is None:
            raise StageNotFound(f"app {app} has no stage {stage}", field="stage")
        number = build.number if isinstance(build, Build) else int(build)
        if (app, number) not in self.builds:
            raise BuildNotFound(f"build {number} of app {app} not found", field="build")
        if expect_current is not ANY and st.current_deployment != expect_current:
            raise StageMoved(f"stage {stage} of app {app} now runs deployment {st.current_deployment}, not {expect_current}")
        took_over = None
        if st.lock is not None:
            running = holder_running(st.lock.execution) if holder_running and st.lock.execution else None
            why = takeover_reason(st.lock, datetime.now(UTC), running)
            if why is None:
                raise StageBusy(f"stage {stage} of app {app} is busy: deployment {st.lock.deployment} holds it",
                                holder={"deployment": st.lock.deployment, "execution": st.lock.execution})
            took_over = {"deployment": st.lock.deployment, "execution": st.lock.execution, "reason": why}
            old = self.get_deployment(app, stage, st.lock.deployment)
            self._put(dataclasses.replace(old, status=DeploymentStatus.FAILED, error=f"taken over: {why}"))
        history = self.deployments[(app, stage)]
        d = Deployment(app, stage, f"{len(history) + 1:06d}", number, DeploymentKind(kind), DeploymentStatus.IN_PROGRESS,
                       dict(trigger), replaces=st.current_deployment, started_at=iso(NOW), execution=execution,
                       took_over=took_over)
        history.append(d)
        lease = iso(datetime.now(UTC) + timedelta(minutes=15))
        self.stages[(app, stage)] = dataclasses.replace(st, lock=StageLock(d.id, execution, d.started_at, lease))
        return d

    def finish_deployment(self, app: str, stage: str, deployment_id: str, status: DeploymentStatus | str,
                          versions: dict[str, str] | None = None, error: str | None = None,
                          step: str | None = None, cause: dict[str, Any] | None = None) -> Deployment:
        found = self.get_deployment(app, stage, deployment_id)
        if found.status is not DeploymentStatus.IN_PROGRESS:
            if found.status is DeploymentStatus(status):
                return found
            raise Conflict(f"deployment {deployment_id} already finished as {found.status}")
        canary = ({**found.canary, "state": closed_state(found.canary.get("state"), DeploymentStatus(status).value)}
                  if found.canary else found.canary)  # as the lineage closes a canary's record
        d = dataclasses.replace(found, status=DeploymentStatus(status), canary=canary,
                                versions=versions or {}, error=error, step=step, finished_at=iso(NOW), cause=cause)
        self._put(d)
        st = self.stages[(app, stage)]
        lock = None if st.lock and st.lock.deployment == deployment_id else st.lock
        current = d.id if d.status is DeploymentStatus.SUCCEEDED else st.current_deployment
        self.stages[(app, stage)] = dataclasses.replace(st, lock=lock, current_deployment=current)
        return d

    def get_deployment(self, app: str, stage: str, deployment_id: str) -> Deployment:
        found = next((d for d in self.deployments.get((app, stage), []) if d.id == deployment_id), None)
        if found is None:
            raise DeploymentNotFound(f"deployment {deployment_id} not found")
        return found

    def current_deployment(self, app: str, stage: str) -> Deployment | None:
        st = self.get_stage(app, stage)
        return self.get_deployment(app, stage, st.current_deployment) if st.current_deployment else None

    def list_deployments(self, app: str, stage: str, limit: int = 25,
                         next_token: str | None = None) -> tuple[list[Deployment], str | None]:
        self.get_stage(app, stage)
        return list(reversed(self.deployments[(app, stage)]))[:limit], None

    def deployments_by_id(self, app: str, pairs: list[tuple[str, str]]) -> dict[str, Deployment]:
        return {stage: self.get_deployment(app, stage, d) for stage, d in pairs}

    def deployments_of_build(self, app: str, number: int) -> dict[str, Deployment]:
        found: dict[str, Deployment] = {}
        for (a, stage), history in self.deployments.items():
            for d in history:
                if a == app and d.build == number:
                    found[stage] = d
        return found

    # -- canaries --

    def _open(self, app: str, stage: str, deployment_id: str) -> Deployment:
        d = self.get_deployment(app, stage, deployment_id)
        if d.status is not DeploymentStatus.IN_PROGRESS:
            raise Conflict(f"deployment {deployment_id} is no longer in progress")
        return d

    def record_strategy(self, app: str, stage: str, deployment_id: str, strategy: dict[str, Any]) -> Deployment:
        d = dataclasses.replace(self._open(app, stage, deployment_id), strategy=dict(strategy))
        self._put(d)
        return d

    def record_canary(self, app: str, stage: str, deployment_id: str, canary: dict[str, Any]) -> Deployment:
        d = dataclasses.replace(self._open(app, stage, deployment_id), canary=dict(canary))
        self._put(d)
        self.writes.append(("canary", canary.get("state")))
        return d

    def record_step(self, app: str, stage: str, deployment_id: str, index: int, step: dict[str, Any]) -> Deployment:
        d = self._open(app, stage, deployment_id)
        steps = list(d.steps)
        steps[index:index + 1] = [dict(step)]
        d = dataclasses.replace(d, steps=tuple(steps))
        self._put(d)
        self.writes.append(("step", step.get("verdict")))
        return d

    def request_control(self, app: str, stage: str, deployment_id: str, action: str, by: str) -> Deployment:
        d = self._open(app, stage, deployment_id)
        if d.canary is None:
            raise Conflict("not a canary")
        d = dataclasses.replace(d, control={"action": action, "by": by, "at": iso(NOW)})
        self._put(d)
        return d

    def clear_control(self, app: str, stage: str, deployment_id: str) -> None:
        self._put(dataclasses.replace(self.get_deployment(app, stage, deployment_id), control=None))

    def renew_lease(self, app: str, stage: str, deployment_id: str) -> bool:
        st = self.stages[(app, stage)]
        return bool(st.lock and st.lock.deployment == deployment_id)

    # -- alarms --

    def watched_alarm(self, name: str) -> WatchedAlarm | None:
        return self.alarms.get(name)

    def claim_alarm_event(self, event_id: str, alarm: str, app: str | None, stage: str | None) -> bool:
        if event_id in self.claims:
            return False
        self.claims[event_id] = alarm
        return True

    def record_alarm_outcome(self, event_id: str, alarm: str, outcome: str, reason: str | None = None,
                             deployment: str | None = None, app: str | None = None, stage: str | None = None) -> None:
        self.events[event_id] = {"alarm": alarm, "outcome": outcome, "reason": reason, "deployment": deployment}


class FakeTemplates:
    def __init__(self, templates: dict[str, str] | None = None):
        self.templates = dict(templates or {})
        self.gets: list[str] = []
        self.objects: dict[str, bytes] = {}

    def get_template(self, key: str) -> str:
        self.gets.append(key)
        if key not in self.templates:
            raise ArtifactNotFound(f"{key} is not stored")
        return self.templates[key]

    def read(self, key: str, missing: str) -> bytes:
        if key not in self.objects:
            raise ArtifactNotFound(missing)
        return self.objects[key]


class FakeExecutions:
    def __init__(self, running: set[str] | None = None, fail: Exception | None = None):
        self.running = set(running or ())
        self.started: list[tuple[str, str, dict[str, Any]]] = []
        self.stopped: list[str] = []
        self.fail = fail

    def start(self, state_machine_arn: str, name: str, payload: dict[str, Any]) -> str:
        if self.fail is not None:
            raise self.fail
        self.started.append((state_machine_arn, name, payload))
        return name

    def is_running(self, execution_arn: str) -> bool | None:
        return execution_arn in self.running

    def stop(self, execution_arn: str, error: str, cause: str) -> None:
        self.stopped.append(execution_arn)
        self.running.discard(execution_arn)


class FakeRepositories:
    def __init__(self, branches: dict[str, str] | None = None, repositories: tuple[str, ...] = ("notes-repo",)):
        self.branches = dict(branches or {})
        self.repositories = repositories
        self.between: list[tuple[str, str | None]] = []

    def check_repository(self, repository: str) -> None:
        if repository not in self.repositories:
            raise SourceError(f"repository {repository} does not exist")

    def check_commit(self, repository: str, commit_id: str) -> None:
        if commit_id not in self.branches.values():
            raise SourceError(f"commit {commit_id} does not exist in {repository}")

    def resolve_branch(self, repository: str, branch: str) -> str:
        if branch not in self.branches:
            raise SourceError(f"branch {branch} does not exist in {repository}")
        return self.branches[branch]

    def commit_info(self, repository: str, commit_id: str) -> dict[str, Any]:
        return {"message": f"commit {commit_id}", "author": "dev"}

    def commits_between(self, repository: str, newest: str, oldest: str | None, limit: int = 50) -> list[dict[str, Any]]:
        self.between.append((newest, oldest))
        return [{"commitId": newest}]


class FakeStacks:
    def __init__(self, existing: tuple[str, ...] = ()):
        self.existing = set(existing)

    def exists(self, name: str) -> bool:
        return name in self.existing

    def describe(self, stack: str) -> dict[str, Any] | None:
        return {"StackStatus": "UPDATE_COMPLETE"} if stack in self.existing else None

    def function_names(self, stack: str) -> dict[str, str]:
        return {"Fn": f"{stack}-Fn"}


class FakeAlarms:
    def __init__(self, event: AlarmEvent | None, described: dict[str, Any] | None):
        self.event, self.described = event, described

    def read(self, event: dict[str, Any]) -> AlarmEvent:
        if self.event is None:
            raise ValueError("not a CloudWatch Alarm State Change event")
        return self.event

    def describe(self, name: str) -> dict[str, Any] | None:
        return self.described


class FakeWatch:
    def __init__(self, settings: dict[str, Any] | None = None):
        self.settings = settings

    def get(self, app: str, stage: str) -> dict[str, Any] | None:
        return self.settings
