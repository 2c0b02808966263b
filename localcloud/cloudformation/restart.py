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

from typing import TYPE_CHECKING

from .model import Stack

if TYPE_CHECKING:
    from .engine import Engine

REASON = "The local cloud stopped during this operation (it was taken on when the local cloud started again)"
UPDATES = (
    "UPDATE_IN_PROGRESS",
    "UPDATE_COMPLETE_CLEANUP_IN_PROGRESS",
    "UPDATE_ROLLBACK_IN_PROGRESS",
    "UPDATE_ROLLBACK_COMPLETE_CLEANUP_IN_PROGRESS",
)


def take_on(engine: Engine) -> int:
    """Settle every stack caught in progress (in the background); how many."""
    with engine.lock:
        caught = [s for s in engine.stacks if s.in_progress]
        for cs in engine.change_sets:
            if cs.execution_status == "EXECUTE_IN_PROGRESS":
                cs.execution_status = "EXECUTE_FAILED"
                cs.reason = REASON
    for stack in caught:
        if stack.status in ("CREATE_IN_PROGRESS", "ROLLBACK_IN_PROGRESS"):
            if stack.status == "CREATE_IN_PROGRESS" and (stack.disable_rollback or stack.on_failure == "DO_NOTHING"):
                with engine.lock:
                    stack.set_status("CREATE_FAILED", REASON)
                continue
            with engine.lock:
                stack.set_status("ROLLBACK_IN_PROGRESS", REASON)
            engine._start(stack, _roll_back_create, engine, stack)
        elif stack.status in UPDATES:
            from . import recovery

            with engine.lock:
                stack.rollback_reason = REASON
                if stack.status != "UPDATE_ROLLBACK_IN_PROGRESS":
                    stack.set_status("UPDATE_ROLLBACK_IN_PROGRESS", REASON)
            engine._start(stack, recovery._undo, engine, stack, engine._context(stack), [], dict(stack.resources), set())
        elif stack.status == "DELETE_IN_PROGRESS":
            engine._start(stack, engine._run_delete, stack)
    return len(caught)


def _roll_back_create(engine: Engine, stack: Stack) -> None:
    ctx = engine._context(stack)
    made = [s for s in stack.resources.values() if s.physical_id and s.status != "DELETE_COMPLETE"]
    problems = [p for p in (engine._delete_resource(stack, ctx, s) for s in reversed(made)) if p]
    with engine.lock:
        if problems:
            stack.set_status("ROLLBACK_FAILED", f"{REASON} Rollback failed: {' '.join(problems)}")
            return
        stack.set_status("ROLLBACK_COMPLETE", REASON)
