"""The teardown state machine's steps (statemachines/teardown.asl.json), one stage at a time:

1. ``prepare``: record in the removal what Sprout made for the stage and must delete (its alarms,
   the access-log groups of its API stages, the log groups Lambda made for its functions) — read
   from the stack *before* it goes — then turn auto-rollback off (alarms and subscription filters
   deleted, their records forgotten first) and the access logs off;
2. ``delete_stack``: ask CloudFormation to delete the stack (again, after a DELETE_FAILED);
3. ``check_stack``: where it stands, followed for a few seconds (``follow_s``) while the deletion is
   in progress, so that a stack that goes quickly costs no whole-second Wait state; still in progress,
   the machine waits and checks again; on DELETE_FAILED the blocking resources are recorded and the
   machine waits (backoff) and deletes again, up to MAX_DELETE_ATTEMPTS;
4. ``clean_up``: delete the recorded log groups;
5. ``finish``: the stage leaves the pipeline (``removedAt``), its stack name is free.

Every step is idempotent: a removal killed anywhere is started again by the sweep and converges.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, Protocol

from sprout.domain.errors import StageBusy, named
from sprout.domain.model import Stage
from sprout.domain.monitoring import StageInventory, access_log_group
from sprout.domain.pipeline import stack_name, takeover_reason
from sprout.domain.stages import function_log_groups, stack_state


class TeardownLineage(Protocol):
    def get_stage(self, app: str, stage: str) -> Stage: ...
    def note_removal(self, app_name: str, stage: str, **fields: object) -> dict[str, Any]: ...
    def finish_removal(self, app_name: str, stage: str) -> Stage: ...
    def finish_app_deletion(self, app_name: str) -> None: ...


class StageCloud(Protocol):
    """What the teardown does in AWS (sprout.adapters.teardown)."""

    def inventory(self, stack: str) -> StageInventory | None: ...  # None: no stack
    def unwatch(self, app: str, stage: str, inventory: StageInventory | None) -> list[str]: ...  # the alarms it deleted
    def access_logs_off(self, inventory: StageInventory | None) -> None: ...
    def delete_stack(self, stack: str) -> None: ...
    def stack_status(self, stack: str) -> tuple[str | None, list[dict[str, Any]]]: ...  # (status, blockers)
    def delete_log_groups(self, names: list[str]) -> list[str]: ...  # the ones that existed


class Teardown:
    def __init__(self, lineage: TeardownLineage, cloud: StageCloud, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep):
        self.lineage = lineage
        self.cloud = cloud
        self.clock = clock
        self.sleep = sleep

    def prepare(self, app: str, stage: str) -> dict[str, Any]:
        st = self.lineage.get_stage(app, stage)
        if st.lock and takeover_reason(st.lock, datetime.now(UTC), None) is None:
            # a deployment still runs on it (no new one starts: the removal is recorded); the ASL retries
            raise StageBusy(f"stage {named(stage)} of app {named(app)} is running deployment {st.lock.deployment}",
                            holder={"deployment": st.lock.deployment, "execution": st.lock.execution})
        removing = st.removing or {}
        stack = stack_name(app, stage)
        inventory = self.cloud.inventory(stack)  # read once: the plan, the watch and the access logs use it
        functions = sorted(inventory.functions) if inventory else []  # logical ids: Package names their log groups
        access_groups = {access_log_group(a.api_id, a.stage) for a in inventory.apis} if inventory else set()
        planned = set((removing.get("plan") or {}).get("logGroups", ()))
        plan = sorted(planned | access_groups | set(function_log_groups(stack, functions)))
        # recorded before anything is deleted: a crash after the stack went still knows them
        self.lineage.note_removal(app, stage, plan={"logGroups": plan}, step="prepare")
        alarms = self.cloud.unwatch(app, stage, inventory)
        self.cloud.access_logs_off(inventory)
        self.lineage.note_removal(app, stage, alarmsDeleted=alarms, step="unwatched")
        return {"app": app, "stage": stage, "stack": stack, "attempt": 0}

    def delete_stack(self, app: str, stage: str, attempt: int) -> dict[str, Any]:
        stack = stack_name(app, stage)
        status, _ = self.cloud.stack_status(stack)
        if status not in (None, "DELETE_COMPLETE", "DELETE_IN_PROGRESS"):
            self.cloud.delete_stack(stack)
        self.lineage.note_removal(app, stage, step="deleteStack", deleteAttempts=attempt + 1)
        return {"app": app, "stage": stage, "stack": stack, "attempt": attempt + 1}

    def check_stack(self, app: str, stage: str, attempt: int, follow_s: float = 0.0,
                    every_s: float = 0.2) -> dict[str, Any]:
        """Where the deletion stands; while it is in progress, read again every ``every_s`` for up
        to ``follow_s`` seconds (the state machine's Wait loop takes over after that)."""
        stack = stack_name(app, stage)
        deadline = self.clock() + follow_s
        while True:
            status, blockers = self.cloud.stack_status(stack)
            state = stack_state(status, attempt, blockers)
            if state.status != "IN_PROGRESS" or self.clock() + every_s > deadline:
                break
            self.sleep(every_s)
        if state.status == "FAILED":
            self.lineage.note_removal(app, stage, step="deleteFailed", blockers=list(state.blockers),
                                      stackStatus=status)
        return {"app": app, "stage": stage, "stack": stack, **state.view()}

    def clean_up(self, app: str, stage: str) -> dict[str, Any]:
        plan = ((self.lineage.get_stage(app, stage).removing or {}).get("plan") or {}).get("logGroups", [])
        deleted = self.cloud.delete_log_groups(list(plan))
        self.lineage.note_removal(app, stage, step="cleanedUp", logGroupsDeleted=deleted)
        return {"app": app, "stage": stage, "logGroupsDeleted": deleted}

    def finish(self, app: str, stage: str) -> dict[str, Any]:
        done = self.lineage.finish_removal(app, stage)
        return {"app": app, "stage": stage, "removedAt": done.removed_at}

    def failed(self, app: str, stage: str, error: dict[str, Any]) -> dict[str, Any]:
        """Record why this run stopped; the removal stays recorded and the sweep starts it again."""
        self.lineage.note_removal(app, stage, step="failed", error={"error": str(error.get("Error", ""))[:200],
                                                                    "cause": str(error.get("Cause", ""))[:1000]})
        return {"app": app, "stage": stage, "failed": True}

    def finish_app(self, app: str) -> dict[str, Any]:
        self.lineage.finish_app_deletion(app)
        return {"app": app, "deleted": True}
