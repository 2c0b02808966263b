"""Builds asked for through the API (``builds start``, and registering an app whose repository
already has the branches its stages follow), and reading them.

A build is numbered here, before its execution starts, so the answer names the build a person then
waits for: it is recorded as the open work of the execution about to start (its ARN is known from
its name); the execution's RecordBuild finds it, sees it is its own, and builds it. A commit the app
already built keeps its number (the execution then deploys it again, as a person asked). When the
execution cannot be started, the build is closed FAILED saying why: nothing is left open.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any, Protocol

from sprout.domain.dependencies import lockfile_key
from sprout.domain.errors import InvalidInput, NotFound, SourceError
from sprout.domain.model import App, Build, BuildStatus, Deployment, DeploymentStatus, Stage
from sprout.domain.pipeline import execution_arn, rolled_back
from sprout.services.ports import Executions, Repositories


class BuildLineage(Protocol):
    def get_app(self, name: str) -> App: ...

    def list_stages(self, app: str) -> list[Stage]: ...

    def get_build(self, app: str, number: int) -> Build: ...

    def list_builds(self, app: str, limit: int = 25, next_token: str | None = None) -> tuple[list[Build], str | None]: ...

    def record_build(self, app: str, commit_id: str, branch: str | None, message: str = "", author: str = "",
                     execution: str | None = None) -> tuple[Build, bool]: ...

    def finish_build(self, app: str, number: int, status: BuildStatus | str, functions: Any = (),
                     template_key: str | None = None, failure: dict[str, Any] | None = None,
                     notes: dict[str, Any] | None = None) -> Build: ...

    def deployments_by_id(self, app: str, pairs: list[tuple[str, str]]) -> dict[str, Deployment]: ...

    def deployments_of_build(self, app: str, number: int) -> dict[str, Deployment]: ...

    def list_deployments(
        self, app: str, stage: str, limit: int = 25, next_token: str | None = None
    ) -> tuple[list[Deployment], str | None]: ...


class Objects(Protocol):
    def read(self, key: str, missing: str) -> bytes: ...


@dataclass(frozen=True)
class BuildDetail:
    build: Build
    deployed_to: dict[str, Deployment]
    live_on: list[str]
    rolled_back_from: list[str]


class Builds:
    def __init__(self, lineage: BuildLineage, source: Repositories, executions: Executions, objects: Objects,
                 build_machine: str):
        self.lineage = lineage
        self.source = source
        self.executions = executions
        self.objects = objects
        self.build_machine = build_machine

    # -- start --

    def start_requested(self, app: str, branch: str | None, commit: str | None, trigger: dict[str, Any]) -> dict[str, Any]:
        """A person's ``builds start``: the branch's head (or the commit, checked) built. 404 naming
        the field when the repository has no such branch or commit."""
        registered = self.lineage.get_app(app)
        try:
            if branch:
                commit = self.source.resolve_branch(registered.repository, branch)
            else:
                if not commit:  # the request's schema asks for one of them
                    raise InvalidInput("commit", "is required when no branch is named")
                self.source.check_commit(registered.repository, commit)
        except SourceError as e:
            raise NotFound(str(e), field="branch" if branch else "commit") from None
        return self.start(registered, commit, branch, trigger)

    def start(self, app: App, commit: str, branch: str | None, trigger: dict[str, Any]) -> dict[str, Any]:
        """``{"branch", "commit", "build", "execution"}``: the build of ``commit`` and the execution
        building it."""
        name = f"{app.name}-{commit[:12]}-{uuid.uuid4().hex[:8]}"[-80:]
        arn = execution_arn(self.build_machine, name)
        try:
            info = self.source.commit_info(app.repository, commit)
        except SourceError:
            info = {}
        build, _ = self.lineage.record_build(app.name, commit, branch, info.get("message", ""), info.get("author", ""),
                                             execution=arn)
        try:
            self.executions.start(self.build_machine, name, {"source": "sprout.api", "app": app.name, "branch": branch,
                                                             "commitId": commit, "trigger": trigger})
        except Exception as e:
            if build.execution == arn:
                self.lineage.finish_build(app.name, build.number, BuildStatus.FAILED,
                                          failure={"step": "StartBuild", "error": type(e).__name__, "cause": str(e)})
            raise
        return {"branch": branch, "commit": commit, "build": build.number, "execution": arn}

    def build_branch_heads(self, app: App, trigger: dict[str, Any]) -> list[dict[str, Any]]:
        """Each branch a stage of ``app`` follows that the repository already has, built at its head
        (in stage order; a branch not pushed yet is skipped: its first push builds it)."""
        started = []
        for branch in dict.fromkeys(s.branch for s in app.stages if s.branch):
            try:
                commit = self.source.resolve_branch(app.repository, branch)
            except SourceError:
                continue
            started.append(self.start(app, commit, branch, trigger))
        return started

    # -- read --

    def live_on(self, app: str) -> dict[int, list[str]]:
        """Build number -> the stages whose current deployment runs it (one batch read)."""
        currents = [(s.name, s.current_deployment) for s in self.lineage.list_stages(app) if s.current_deployment]
        live: dict[int, list[str]] = {}
        for stage, deployment in self.lineage.deployments_by_id(app, currents).items():
            live.setdefault(deployment.build, []).append(stage)
        return live

    def listing(self, app: str, limit: int, next_token: str | None) -> tuple[list[tuple[Build, list[str]]], str | None]:
        builds, token = self.lineage.list_builds(app, limit=limit, next_token=next_token)
        live = self.live_on(app)
        return [(b, live.get(b.number, [])) for b in builds], token

    def detail(self, app: str, number: int) -> BuildDetail:
        build = self.lineage.get_build(app, number)
        deployed_to = self.lineage.deployments_of_build(app, number)
        live_on = self.live_on(app).get(number, [])
        return BuildDetail(build, deployed_to, live_on, self._rolled_back_from(app, deployed_to, live_on))

    def _rolled_back_from(self, app: str, deployed_to: dict[str, Deployment], live_on: list[str]) -> list[str]:
        """Stages where a rollback replaced this build's newest deployment there."""
        found = []
        for stage, deployment in deployed_to.items():
            if stage in live_on or deployment.status is not DeploymentStatus.SUCCEEDED:
                continue
            later, _ = self.lineage.list_deployments(app, stage, limit=25)
            if rolled_back(deployment, later):
                found.append(stage)
        return found

    def lockfile(self, app: str, number: int, manifest: str | None) -> dict[str, Any]:
        """The lockfile build ``number`` resolved for ``manifest`` (a package.json it installed
        without one; the only one when it resolved one): what to commit to make the build reproducible."""
        build = self.lineage.get_build(app, number)
        resolved = (build.notes or {}).get("resolvedWithoutLockfile") or []
        manifest = manifest or (resolved[0]["manifest"] if len(resolved) == 1 else None)
        found = next((r for r in resolved if r["manifest"] == manifest), None)
        if found is None:
            listed = ", ".join(r["manifest"] for r in resolved) or "none"
            asked = manifest if manifest is None or len(manifest) <= 100 else manifest[:100] + "…"
            raise NotFound(f"build {build.number} of {app} resolved no lockfile for {asked} (it resolved: {listed})",
                           field="manifest")
        content = self.objects.read(lockfile_key(found["sha256"]), f"the lockfile of {found['manifest']} is no longer stored")
        return {**found, "content": content.decode("utf-8", errors="replace")}


__all__ = ["BuildDetail", "BuildLineage", "Builds"]
