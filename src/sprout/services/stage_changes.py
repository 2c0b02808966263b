"""Use cases of the pipeline after registration: add a stage, remove one, delete an app, and the
sweep that finishes what a killed removal left. Removal is recorded first (the intent names the
teardown execution before it starts), then the teardown state machine acts; the sweep restarts
any recorded removal whose execution is no longer running, and removes the stacks of stages that
no longer exist (sprout.domain.orphans) the same way: recorded, then the teardown."""

from __future__ import annotations

import builtins
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, Protocol

from sprout.domain.errors import StackNameTaken, StageBusy, named
from sprout.domain.model import App, Stage, StageSpec
from sprout.domain.orphans import TaggedStack, orphan_reason, stage_of
from sprout.domain.pipeline import refuse_sprouts_stack_name, stack_name, takeover_reason
from sprout.domain.stages import pipeline_order, sweep_restarts


class StageLineage(Protocol):
    def get_app(self, name: str) -> App: ...
    def get_stage(self, app: str, stage: str) -> Stage: ...
    def list_stages(self, app: str) -> list[Stage]: ...
    def stack_owner(self, stack: str) -> tuple[str, str] | None: ...
    def add_stage(self, app_name: str, spec: StageSpec, after: str | None = None) -> App: ...
    def begin_removal(self, app_name: str, stage: str, intent: dict[str, Any], holder_running: Callable[[str], bool | None] | None = None,
                      wait_for_lock: bool = False) -> tuple[Stage, bool]: ...
    def note_removal(self, app_name: str, stage: str, **fields: object) -> dict[str, Any]: ...
    def begin_app_deletion(self, app_name: str, intent: dict[str, Any]) -> App: ...
    def removals_pending(self) -> list[Stage]: ...
    def stage_presence(self, app_name: str, stage: str) -> tuple[bool, str | None, bool]: ...
    def begin_orphan_removal(self, app_name: str, stage: str, intent: dict[str, Any]) -> tuple[Stage, bool]: ...


class ExecutionPort(Protocol):
    def start(self, state_machine_arn: str, name: str, payload: dict[str, Any]) -> str: ...
    def is_running(self, execution_arn: str) -> bool | None: ...


class StackLookup(Protocol):
    def exists(self, stack: str) -> bool: ...


class StackInventory(Protocol):
    def tagged_stacks(self) -> list[TaggedStack]: ...  # the account's stacks tagged sprout:app


def _iso_now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def arn_of(machine: str, name: str) -> str:
    prefix, _, machine_name = machine.rpartition(":stateMachine:")
    return f"{prefix}:execution:{machine_name}:{name}"


class StageChanges:
    def __init__(self, lineage: StageLineage, executions: ExecutionPort, stacks: StackLookup,
                 teardown_machine: str = "", own_stack: str = "", inventory: StackInventory | None = None,
                 deploy_role: str | None = None):
        self.lineage = lineage
        self.executions = executions
        self.stacks = stacks
        self.teardown_machine = teardown_machine
        self.own_stack = own_stack
        self.inventory = inventory
        self.deploy_role = deploy_role  # the role Sprout deploys stage stacks with: another Sprout's are not ours

    # ---- add -------------------------------------------------------------------------------------

    def refuse_foreign_stack(self, app: str, stage: str) -> None:
        """A stack name that is Sprout's own, or a stack Sprout does not own, is refused (409)."""
        stack = stack_name(app, stage)
        refuse_sprouts_stack_name(stack, stage, self.own_stack)
        if self.lineage.stack_owner(stack) is None and self.stacks.exists(stack):
            raise StackNameTaken(f"stack name {named(stack)} (stage {named(stage)}) is a stack Sprout does not own: "
                                 "choose another stage name")

    def add(self, app: str, spec: StageSpec, after: str | None) -> App:
        self.lineage.get_app(app)
        self.refuse_foreign_stack(app, spec.name)
        return self.lineage.add_stage(app, spec, after)

    def list(self, app: str) -> list[Stage]:
        """The app's stages in pipeline order, previews after them."""
        registered = self.lineage.get_app(app)
        by_name = {s.name: s for s in self.lineage.list_stages(app)}
        return [by_name[s.name] for s in pipeline_order(registered.stages) if s.name in by_name]

    # ---- remove ----------------------------------------------------------------------------------

    def _execution_name(self, app: str, what: str) -> str:
        return f"{app}-{what}-{uuid.uuid4().hex[:8]}"[-80:]

    def remove(self, app: str, stage: str, by: str | None, reason: str = "asked", wait_for_lock: bool = False) -> dict[str, Any]:
        """Record the removal, then start the teardown. 409 with the holder while a deployment runs
        (``wait_for_lock``: recorded all the same, and the teardown waits for the deployment to end)."""
        name = self._execution_name(app, stage)
        arn = arn_of(self.teardown_machine, name)
        intent = {"by": by, "reason": reason, "execution": arn}
        st, created = self.lineage.begin_removal(app, stage, intent, self.executions.is_running, wait_for_lock)
        if created:
            self.executions.start(self.teardown_machine, name, {"app": app, "stages": [stage], "deleteApp": False})
        return {"app": app, "stage": stage, "removal": st.removing, "started": created}

    def delete_app(self, app: str, by: str | None) -> dict[str, Any]:
        """Every stage removed as ``remove`` does, then the app: one teardown execution. A stage
        that a deployment holds answers 409 before anything is recorded."""
        registered = self.lineage.get_app(app)
        for st in self.lineage.list_stages(app):  # refuse at once while a deployment runs anywhere
            running = self.executions.is_running(st.lock.execution) if st.lock and st.lock.execution else None
            if st.lock and not st.removing and takeover_reason(st.lock, datetime.now(UTC), running) is None:
                raise StageBusy(f"stage {named(st.name)} of app {named(app)} is running deployment {st.lock.deployment}: "
                                "delete the app once it ended",
                                holder={"deployment": st.lock.deployment, "execution": st.lock.execution,
                                        "since": st.lock.since, "expiresAt": st.lock.expires_at})
        name = self._execution_name(app, "delete")
        arn = arn_of(self.teardown_machine, name)
        self.lineage.begin_app_deletion(app, {"by": by, "execution": arn})
        stages = []
        for spec in registered.stages:
            self.lineage.begin_removal(app, spec.name, {"by": by, "reason": "app deleted", "execution": arn},
                                       self.executions.is_running)
            stages.append(spec.name)
        self.executions.start(self.teardown_machine, name, {"app": app, "stages": stages, "deleteApp": True})
        return {"app": app, "stages": stages, "execution": arn,
                "kept": "the repository and the builds' artifacts are kept, and the app's builds and deployments "
                        "stay in the lineage under its name"}

    # ---- the sweep -------------------------------------------------------------------------------

    def sweep(self) -> builtins.list[dict[str, Any]]:
        """Restart every recorded removal whose teardown execution is no longer running (killed,
        failed, never started). The new execution is recorded before it starts."""
        restarted = []
        for st in self.lineage.removals_pending():
            execution = (st.removing or {}).get("execution") or ""
            running = self.executions.is_running(execution) if execution else False
            if not sweep_restarts(st.removing or {}, running, datetime.now(UTC)):
                continue
            name = self._execution_name(st.app, st.name)
            arn = arn_of(self.teardown_machine, name)
            self.lineage.note_removal(st.app, st.name, execution=arn, restartedAt=_iso_now(),
                                      restarts=int((st.removing or {}).get("restarts", 0)) + 1)
            delete_app = (st.removing or {}).get("reason") == "app deleted"
            self.executions.start(self.teardown_machine, name, {"app": st.app, "stages": [st.name], "deleteApp": delete_app})
            restarted.append({"app": st.app, "stage": st.name, "execution": arn, "was": execution})
        return restarted

    def sweep_orphans(self) -> builtins.list[dict[str, Any]]:
        """Every stack of this Sprout's stages (tagged, named and deployed as Sprout does) whose
        stage no longer exists: its removal recorded on the stage's item, then the teardown machine
        removes it. A stack that is not Sprout's, or whose stage exists, is never touched."""
        removed: builtins.list[dict[str, Any]] = []
        for stack in self.inventory.tagged_stacks() if self.inventory is not None else []:
            pair = stage_of(stack, self.deploy_role)
            if pair is None or stack.name == self.own_stack:
                continue
            app, stage = pair
            why = orphan_reason(*self.lineage.stage_presence(app, stage))
            owner = self.lineage.stack_owner(stack.name)
            if why is None or (owner is not None and owner != pair
                               and orphan_reason(*self.lineage.stage_presence(*owner)) is None):
                continue  # its stage exists (or another live stage claims the stack's name)
            name = self._execution_name(app, stage)
            arn = arn_of(self.teardown_machine, name)
            _, created = self.lineage.begin_orphan_removal(app, stage, {
                "by": "sprout:sweep", "reason": why, "execution": arn, "stackStatus": stack.status})
            if created:
                self.executions.start(self.teardown_machine, name, {"app": app, "stages": [stage], "deleteApp": False})
                removed.append({"app": app, "stage": stage, "stack": stack.name, "reason": why, "execution": arn})
        return removed
