"""Stacks a stopped local cloud left in the middle of an operation are settled on the next start
(localcloud/cloudformation/restart.py): nothing stays in progress."""

from __future__ import annotations

from typing import Any

from localcloud.cloudformation import restart
from localcloud.cloudformation.model import ChangeSet, ResourceState, Stack
from localcloud.cloudformation.store import StackStore


class FakeSteps:
    """Runs an operation at once, on the caller's thread; every delete succeeds and is recorded."""

    def __init__(self, store: StackStore):
        self.store = store
        self.deleted: list[str] = []

    def start(self, stack: Stack, target: Any, *args: Any) -> None:
        target(*args)

    def context(self, stack: Stack) -> None:
        return None

    def check_stop(self) -> None:
        return None

    def delete_resource(self, stack: Stack, ctx: Any, state: ResourceState) -> str | None:
        self.deleted.append(state.logical_id)
        return None

    def event(self, *args: Any, **kwargs: Any) -> None:
        return None


def stack(name: str, status: str, **kwargs: Any) -> Stack:
    made = Stack(stack_id=f"arn:aws:cloudformation:us-east-1:123456789012:stack/{name}/1", name=name, status=status,
                 body="{}", parameters={}, tags={}, capabilities=[], base_dir=None, **kwargs)
    made.resources = {"Logs": ResourceState("Logs", "AWS::Logs::LogGroup", f"{name}-logs", "CREATE_COMPLETE", {}, {})}
    return made


def test_given_stacks_caught_in_progress_when_taken_on_then_each_settles_as_after_a_failure():
    # GIVEN a create, a create without rollback, an update, a delete in progress, and a settled stack
    store = StackStore()
    creating, no_rollback = stack("creating", "CREATE_IN_PROGRESS"), stack("kept", "CREATE_IN_PROGRESS", disable_rollback=True)
    updating, deleting = stack("updating", "UPDATE_IN_PROGRESS"), stack("deleting", "DELETE_IN_PROGRESS")
    updating.previous = ("{\"old\": true}", None, {}, [], {"P": "old"})
    settled = stack("settled", "CREATE_COMPLETE")
    change_set = ChangeSet(change_set_id="cs-1", name="cs", stack=updating, type="UPDATE", body="{}", parameters={},
                           tags={}, capabilities=[], description="", base_dir=None, execution_status="EXECUTE_IN_PROGRESS")
    store.stacks = [creating, no_rollback, updating, deleting, settled]
    store.change_sets = [change_set]
    steps = FakeSteps(store)
    # WHEN taken on
    assert restart.take_on(store, steps) == 4  # type: ignore[arg-type]
    # THEN the create is rolled back (what it made deleted), the one without rollback failed, the
    # update rolled back to its previous template, the delete ran again; the settled one is untouched
    assert (creating.status, no_rollback.status) == ("ROLLBACK_COMPLETE", "CREATE_FAILED")
    assert (updating.status, updating.body, updating.parameters) == ("UPDATE_ROLLBACK_COMPLETE", "{\"old\": true}", {"P": "old"})
    assert deleting.status == "DELETE_COMPLETE" and settled.status == "CREATE_COMPLETE"
    assert sorted(steps.deleted) == ["Logs", "Logs"]  # the create's and the delete's
    assert all(restart.REASON in s.reason for s in (creating, no_rollback, updating))
    assert change_set.execution_status == "EXECUTE_FAILED"
    assert not [s for s in store.stacks if s.in_progress]
