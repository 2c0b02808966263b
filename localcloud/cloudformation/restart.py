"""Stacks that were in the middle of an operation when the local cloud stopped (``kill -9``).

The thread that ran the operation is gone; on the next start each such stack is taken on as
CloudFormation would after a failure, so that nothing stays in progress:

- a create (``CREATE_IN_PROGRESS``, or its rollback ``ROLLBACK_IN_PROGRESS``): rolled back, what it
  made deleted newest first -> ``ROLLBACK_COMPLETE`` (``ROLLBACK_FAILED`` if a resource cannot be
  deleted); ``CREATE_FAILED`` when the stack was created with rollback disabled;
- an update (``UPDATE_IN_PROGRESS``, ``UPDATE_COMPLETE_CLEANUP_IN_PROGRESS``,
  ``UPDATE_ROLLBACK_IN_PROGRESS``, ``UPDATE_ROLLBACK_COMPLETE_CLEANUP_IN_PROGRESS``): the stack
  takes back its previous template and parameters and keeps its resources as they were left
  -> ``UPDATE_ROLLBACK_COMPLETE`` (the next update compares against them and applies what differs);
- a delete (``DELETE_IN_PROGRESS``): the delete runs again -> ``DELETE_COMPLETE`` (or ``DELETE_FAILED``);
- a change set ``EXECUTE_IN_PROGRESS``: ``EXECUTE_FAILED``.
"""

from __future__ import annotations

from . import provision, recovery
from .model import Stack
from .steps import Steps
from .store import StackStore

REASON = "The local cloud stopped during this operation (it was taken on when the local cloud started again)"
UPDATES = (
    "UPDATE_IN_PROGRESS",
    "UPDATE_COMPLETE_CLEANUP_IN_PROGRESS",
    "UPDATE_ROLLBACK_IN_PROGRESS",
    "UPDATE_ROLLBACK_COMPLETE_CLEANUP_IN_PROGRESS",
)


def take_on(store: StackStore, steps: Steps) -> int:
    """Settle every stack caught in progress (in the background); how many."""
    with store.lock:
        caught = [s for s in store.stacks if s.in_progress]
        for cs in store.change_sets:
            if cs.execution_status == "EXECUTE_IN_PROGRESS":
                cs.execution_status = "EXECUTE_FAILED"
                cs.reason = REASON
    for stack in caught:
        if stack.status in ("CREATE_IN_PROGRESS", "ROLLBACK_IN_PROGRESS"):
            if stack.status == "CREATE_IN_PROGRESS" and (stack.disable_rollback or stack.on_failure == "DO_NOTHING"):
                with store.lock:
                    stack.set_status("CREATE_FAILED", REASON)
                continue
            with store.lock:
                stack.set_status("ROLLBACK_IN_PROGRESS", REASON)
            steps.start(stack, _roll_back_create, steps, stack)
        elif stack.status in UPDATES:
            with store.lock:
                stack.rollback_reason = REASON
                if stack.status != "UPDATE_ROLLBACK_IN_PROGRESS":
                    stack.set_status("UPDATE_ROLLBACK_IN_PROGRESS", REASON)
            steps.start(stack, recovery._undo, steps, stack, steps.context(stack), [], dict(stack.resources), set())
        elif stack.status == "DELETE_IN_PROGRESS":
            steps.start(stack, provision.run_delete, steps, stack)
    return len(caught)


def _roll_back_create(steps: Steps, stack: Stack) -> None:
    ctx = steps.context(stack)
    made = [s for s in stack.resources.values() if s.physical_id and s.status != "DELETE_COMPLETE"]
    problems = [p for p in (steps.delete_resource(stack, ctx, s) for s in reversed(made)) if p]
    with steps.store.lock:
        if problems:
            stack.set_status("ROLLBACK_FAILED", f"{REASON} Rollback failed: {' '.join(problems)}")
            return
        stack.set_status("ROLLBACK_COMPLETE", REASON)
