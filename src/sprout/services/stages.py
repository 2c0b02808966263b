"""Watching a stage: what its record says runs (the current deployment, the build, the function
behind each ``live`` alias) next to what its stack says now."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from sprout.domain.canary import default_strategy
from sprout.domain.errors import InvalidInput
from sprout.domain.model import App, Build, Deployment, Stage
from sprout.domain.pipeline import stack_name
from sprout.services.ports import AppReads, BuildReads, DeploymentReads


class StageLineage(AppReads, BuildReads, DeploymentReads, Protocol):
    def set_stage_strategy(self, app: str, stage: str, strategy: dict[str, Any] | None) -> App: ...


class StackReads(Protocol):
    def describe(self, stack: str) -> dict[str, Any] | None: ...

    def function_names(self, stack: str) -> dict[str, str]: ...


@dataclass(frozen=True)
class StageState:
    stage: Stage
    current: Deployment | None
    build: Build | None
    function_names: dict[str, str]
    stack: dict[str, Any] | None  # {status, reason} as CloudFormation says, None: no stack


class Stages:
    def __init__(self, lineage: StageLineage, stacks: StackReads):
        self.lineage = lineage
        self.stacks = stacks

    def state(self, app: str, stage: str) -> StageState:
        st = self.lineage.get_stage(app, stage)
        current = self.lineage.current_deployment(app, stage)
        build = self.lineage.get_build(app, current.build) if current else None
        name = stack_name(app, stage)
        found = self.stacks.describe(name)
        names = self.stacks.function_names(name) if current and found else {}
        # the stack's own state next to the record's (POST .../reconcile compares them in full)
        stack = {"status": found["StackStatus"], "reason": found.get("StackStatusReason")} if found else None
        return StageState(st, current, build, names, stack)

    def deployments(self, app: str, stage: str, limit: int, next_token: str | None) -> tuple[list[Deployment], str | None]:
        return self.lineage.list_deployments(app, stage, limit=limit, next_token=next_token)

    def deployment(self, app: str, stage: str, deployment: str) -> Deployment:
        """A deployment by its id (``7`` or ``000007``): 404 for an unknown stage first, then 400
        for an id that is not one."""
        self.lineage.get_stage(app, stage)
        if not deployment.isascii() or not deployment.isdigit() or len(deployment) > 12:
            raise InvalidInput("id", "is a deployment id such as 000007")
        return self.lineage.get_deployment(app, stage, f"{int(deployment):06d}")

    def set_strategy(self, app: str, stage: str, body: dict[str, Any]) -> App:
        """``PATCH /apps/{app}/stages/{stage}``: the stage's strategy (a preset's name, an object, or
        null: all at once) for its promotes, and for a push's deploys once it runs a build. 400 naming
        the field (``strategy``, ``strategy.percent``…); 404 for an unknown app or stage."""
        for key in body:
            if key != "strategy":
                raise InvalidInput(key, "is not a stage setting this request changes (strategy)")
        if "strategy" not in body:
            raise InvalidInput("strategy", "is required: a preset's name, {type, percent, intervalSeconds, steps}, "
                                           "or null (all at once)")
        chosen = default_strategy(body["strategy"], "strategy")
        self.lineage.get_stage(app, stage)
        return self.lineage.set_stage_strategy(app, stage, chosen)
