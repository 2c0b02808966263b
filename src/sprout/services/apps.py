"""Registering an app (claiming its stage stacks, then building the branches its stages follow)
and the heads of those branches."""

from __future__ import annotations

from typing import Any, Protocol

from sprout.domain.errors import InvalidInput, NotFound, SourceError, StackNameTaken, named
from sprout.domain.model import App, Build
from sprout.domain.pipeline import refuse_sprouts_stack_name, stage_stacks
from sprout.observability import logger
from sprout.services.builds import Builds
from sprout.services.ports import Repositories


class AppLineage(Protocol):
    def create_app(self, app: App) -> App: ...

    def get_app(self, name: str) -> App: ...

    def stack_owner(self, stack: str) -> tuple[str, str] | None: ...

    def get_build_by_commit(self, app: str, commit_id: str) -> Build: ...


class StackExistence(Protocol):
    def exists(self, name: str) -> bool: ...


class Apps:
    def __init__(self, lineage: AppLineage, source: Repositories, stacks: StackExistence, builds: Builds,
                 own_stack: str):
        self.lineage = lineage
        self.source = source
        self.stacks = stacks
        self.builds = builds
        self.own_stack = own_stack  # Sprout's own stack: never an app's stage stack

    def register(self, app: App, who: str) -> tuple[App, list[dict[str, Any]]]:
        """The app recorded with its stage stacks claimed, and the builds started of the branches
        its stages follow that the repository already has."""
        try:
            self.source.check_repository(app.repository)
        except SourceError as e:
            raise InvalidInput("repository", str(e)) from None
        self.refuse_foreign_stacks(app)
        created = self.lineage.create_app(app)
        logger.info("app registered", extra={"app": created.name, "repository": created.repository})
        builds = self.builds.build_branch_heads(created, {"type": "user", "by": who, "reason": "registered"})
        return created, builds

    def refuse_foreign_stacks(self, app: App) -> None:
        """A stage stack name that is a stack Sprout does not own (Sprout's own included) is refused;
        a name another app claimed is refused by the registration's transaction."""
        for stage, stack in stage_stacks(app).items():
            refuse_sprouts_stack_name(stack, stage, self.own_stack)
            if self.lineage.stack_owner(stack) is None and self.stacks.exists(stack):
                raise StackNameTaken(
                    f"stack name {named(stack)} (stage {named(stage)}) is a stack Sprout does not own: "
                    "choose another app or stage name"
                )

    def heads(self, name: str) -> list[dict[str, Any]]:
        """The head of every branch the app's stages follow, and its build (None: not built yet, as
        right after a push, or the branch has no commit): whether a build is on its way."""
        registered = self.lineage.get_app(name)
        heads: list[dict[str, Any]] = []
        for branch in dict.fromkeys(s.branch for s in registered.stages if s.branch):
            try:
                commit = self.source.resolve_branch(registered.repository, branch)
            except SourceError:
                heads.append({"branch": branch, "commit": None, "build": None})
                continue
            try:
                number: int | None = self.lineage.get_build_by_commit(name, commit).number
            except NotFound:
                number = None
            heads.append({"branch": branch, "commit": commit, "build": number})
        return heads
