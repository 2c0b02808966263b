"""Builds: numbered per app without gaps, one per commit, finished once."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict

from sprout.adapters.lineage.closing import Closing
from sprout.adapters.lineage.items import (
    AppItem,
    BuildItem,
    CommitItem,
    DeployedItem,
    OpenItem,
    app_pk,
    build_sk,
    commit_sk,
    open_build_sk,
    open_pk,
)
from sprout.adapters.lineage.table import Txn, get, now_iso, numbered_page, optimistically, to_build
from sprout.domain.errors import AppNotFound, BuildNotFound, Conflict, InvalidInput, named
from sprout.domain.model import Build, BuildStatus, FunctionArtifact
from sprout.domain.tokens import listing


class BuildRepository(Closing):
    """Builds, as domain types."""

    def record_build(
        self,
        app: str,
        commit_id: str,
        branch: str | None,
        message: str = "",
        author: str = "",
        execution: str | None = None,
    ) -> tuple[Build, bool]:
        """The build of ``commit_id`` for ``app``: a new one numbered after the newest (created
        True), or the one already recorded for that commit (created False). A new build opened by
        an execution is recorded as that execution's open work, in the same transaction."""
        if not commit_id:
            raise InvalidInput("commitId", "is required")

        def attempt() -> tuple[Build, bool] | None:
            existing = self._build_by_commit(app, commit_id)
            if existing is not None:
                return to_build(existing), False
            app_item = get(AppItem, app_pk(app), "APP")
            if app_item is None:
                raise AppNotFound(f"app {named(app)} not found", field="app")
            counter = int(app_item.builds or 0)
            number = counter + 1
            build = BuildItem(
                app_pk(app), build_sk(number),
                app=app, number=number, commit_id=commit_id, branch=branch,
                status=BuildStatus.BUILDING.value, message=message or "", author=author or "",
                created_at=now_iso(), functions=[], execution=execution,
                gsi2pk=f"COMMIT#{commit_id}", gsi2sk=app_pk(app),
            )
            txn = Txn()
            txn.put("commit", CommitItem(app_pk(app), commit_sk(commit_id), app=app, commit_id=commit_id, build=number),
                    condition=CommitItem.pk.does_not_exist())
            txn.put("build", build, condition=BuildItem.pk.does_not_exist())
            if execution:
                txn.put("open", OpenItem(open_pk(execution), open_build_sk(app, number), kind="build", app=app, build=number))
            unchanged = (AppItem.builds == counter) if app_item.builds is not None else AppItem.builds.does_not_exist()
            txn.update("app", app_item, [AppItem.builds.set(number)], condition=unchanged)
            return None if txn.commit() else (to_build(build), True)

        return optimistically(f"record the build of {commit_id} for app {app}", attempt)

    def finish_build(
        self,
        app: str,
        number: int,
        status: BuildStatus | str,
        functions: Iterable[FunctionArtifact] = (),
        template_key: str | None = None,
        failure: dict | None = None,
        notes: dict | None = None,
    ) -> Build:
        """Record how build ``number`` ended, and close it as its execution's open work.
        Finishing it again the same way is a no-op."""
        status = BuildStatus(status)
        if status is BuildStatus.BUILDING:
            raise InvalidInput("status", "a build finishes as SUCCEEDED or FAILED")
        item = get(BuildItem, app_pk(app), build_sk(number))
        if item is None:
            raise BuildNotFound(f"build {number} of app {named(app)} not found", field="build")
        if item.status != BuildStatus.BUILDING.value:
            if item.status == status.value:
                return to_build(item)
            raise Conflict(f"build {number} of app {named(app)} already finished as {item.status}")
        txn = Txn()
        txn.update(
            "build", item,
            [
                BuildItem.status.set(status.value),
                BuildItem.finished_at.set(now_iso()),
                BuildItem.functions.set([asdict(f) for f in functions]),
                BuildItem.template_key.set(template_key) if template_key else BuildItem.template_key.remove(),
                BuildItem.failure.set(failure) if failure else BuildItem.failure.remove(),
                BuildItem.notes.set(notes) if notes else BuildItem.notes.remove(),
            ],
            condition=BuildItem.status == BuildStatus.BUILDING.value,
        )
        if item.execution:
            txn.delete("open", OpenItem(open_pk(item.execution), open_build_sk(app, number)))
        if txn.commit():
            return self.finish_build(app, number, status, functions, template_key, failure, notes)
        closed = self.get_build(app, number)
        self._build_closed(closed)
        return closed

    def quarantine(self, app: str, number: int, reason: dict | None) -> Build:
        """Mark build ``number`` quarantined (``reason``), or release it (None)."""
        item = BuildItem(app_pk(app), build_sk(number))
        item.update(
            actions=[BuildItem.quarantined.set(reason) if reason else BuildItem.quarantined.remove()],
            condition=BuildItem.pk.exists(),
        )
        return self.get_build(app, number)

    def get_build(self, app: str, number: int) -> Build:
        item = get(BuildItem, app_pk(app), build_sk(int(number)))
        if item is None:
            raise BuildNotFound(f"build {number} of app {named(app)} not found", field="build")
        return to_build(item)

    def get_build_by_commit(self, app: str, commit_id: str) -> Build:
        item = self._build_by_commit(app, commit_id)
        if item is None:
            raise BuildNotFound(f"app {named(app)} has no build of commit {named(commit_id)}", field="commit")
        return to_build(item)

    def builds_of_commit(self, commit_id: str) -> list[Build]:
        """Every app's build of ``commit_id`` (through gsi2; eventually consistent on AWS)."""
        return [to_build(item) for item in BuildItem.by_gsi2.query(f"COMMIT#{commit_id}")]

    def _build_by_commit(self, app: str, commit_id: str) -> BuildItem | None:
        marker = get(CommitItem, app_pk(app), commit_sk(commit_id))
        if marker is None:
            return None
        return get(BuildItem, app_pk(app), build_sk(int(marker.build)))

    def list_builds(self, app: str, limit: int = 25, next_token: str | None = None) -> tuple[list[Build], str | None]:
        """Builds newest first, and a token for the next page (None on the last page)."""
        app_item = get(AppItem, app_pk(app), "APP")
        if app_item is None:
            raise AppNotFound(f"app {named(app)} not found", field="app")
        items, token = numbered_page(BuildItem, app_pk(app), build_sk, int(app_item.builds or 0), limit, next_token,
                                     listing("builds", app))
        return [to_build(i) for i in items], token

    def stages_of_build(self, app: str, number: int) -> list[tuple[str, str]]:
        """(stage, deployment id) of the newest deployment of build ``number`` to each stage."""
        links = DeployedItem.query(app_pk(app), DeployedItem.sk.startswith(f"DEPLOYED#{int(number):010d}#"))
        return sorted((link.stage, link.deployment) for link in links)
