"""A failed update and what follows it, as CloudFormation does it.

- The rollback of a failed update returns every resource the update touched to its previous
  properties, newest first: updated resources are updated back (from whatever the failed update
  left, even when its own values cannot be resolved any more), new and replacement resources are
  deleted, and a resource whose update failed before anything was applied is left as it was. It
  ends ``UPDATE_ROLLBACK_COMPLETE``; when a resource cannot be returned, ``UPDATE_ROLLBACK_FAILED``
  with that resource ``UPDATE_FAILED`` and what remains to do kept on the stack.
- A stack that is not in a state CloudFormation updates (``ROLLBACK_COMPLETE`` after a failed
  create, any ``*_FAILED``, any operation in progress) refuses ``UpdateStack``, ``CreateChangeSet``
  of type ``UPDATE`` and ``ExecuteChangeSet`` with CloudFormation's words: ``Stack:<arn> is in
  <status> state and can not be updated.``
- ``ContinueUpdateRollback`` takes an ``UPDATE_ROLLBACK_FAILED`` stack on to
  ``UPDATE_ROLLBACK_COMPLETE``: it retries what the rollback could not do, except the resources
  named in ``ResourcesToSkip`` (only resources whose rollback failed may be named), which are
  marked ``UPDATE_COMPLETE`` and kept as the previous template describes them.
"""

from __future__ import annotations

from .. import faults
from .model import UPDATABLE, ApiError, ChangeSet, ResourceState, Stack, validation
from .resources import REGISTRY, Context, Provisioned
from .steps import Failed, Steps

# What a failed update did, in order: (kind, logical id, resource before, resource after), kind
# being "create", "replace", "update", or "untouched" (its update failed before anything applied).
Journal = list[tuple[str, str, "ResourceState | None", ResourceState]]


def check_updatable(stack: Stack) -> None:
    if stack.status not in UPDATABLE:
        raise validation(f"Stack:{stack.stack_id} is in {stack.status} state and can not be updated.")


def roll_back_update(
    steps: Steps,
    stack: Stack,
    ctx: Context,
    reason: str,
    journal: Journal,
    old_states: dict[str, ResourceState],
    change_set: ChangeSet | None,
) -> None:
    steps.finish_change_set(change_set, False)
    with steps.store.lock:
        stack.set_status("UPDATE_ROLLBACK_IN_PROGRESS", reason)
        stack.rollback_reason = reason
    _undo(steps, stack, ctx, list(reversed(journal)), old_states, skip=set())


def continue_update_rollback(steps: Steps, name: str, skip: list[str]) -> None:
    stack = steps.store.find_stack(name)
    with steps.store.lock:
        if stack.status != "UPDATE_ROLLBACK_FAILED":
            raise validation(
                f"Stack:{stack.stack_id} is in {stack.status} state and can not continue its update rollback; "
                "ContinueUpdateRollback applies only to a stack in UPDATE_ROLLBACK_FAILED."
            )
        failed = {lid for _, lid, _, _ in stack.rollback_pending}
        wrong = [lid for lid in skip if lid not in failed]
        if wrong:
            raise validation(
                f"ResourcesToSkip {wrong} are not resources whose rollback failed; "
                f"only these may be skipped: {sorted(failed)}"
            )
        pending = list(stack.rollback_pending)
        stack.rollback_pending = []
        stack.set_status("UPDATE_ROLLBACK_IN_PROGRESS", stack.rollback_reason)
    ctx = steps.context(stack)
    old_states = dict(stack.rollback_old_states)
    steps.start(stack, _undo, steps, stack, ctx, pending, old_states, set(skip))


def _undo(
    steps: Steps,
    stack: Stack,
    ctx: Context,
    todo: Journal,
    old_states: dict[str, ResourceState],
    skip: set[str],
) -> None:
    """Undo ``todo`` (newest first); settle the stack as UPDATE_ROLLBACK_COMPLETE or _FAILED."""
    failed: Journal = []
    problems: list[str] = []
    for step in todo:
        kind, logical_id, old, new = step
        if logical_id in skip:
            steps.event(stack, old or new, "UPDATE_COMPLETE", "Resource skipped during the rollback")
            continue
        if kind == "untouched" and old is not None:
            steps.event(stack, old, "UPDATE_COMPLETE")
            continue
        if kind == "update" and old is not None:
            problem = _update_back(steps, stack, ctx, old, new)
        else:
            problem = steps.delete_resource(stack, ctx, new)
        if problem:
            failed.append(step)
            problems.append(problem)
    with steps.store.lock:
        resources = dict(old_states)
        for _, logical_id, _, new in failed:
            if new.logical_id in old_states or new.physical_id:
                resources[logical_id] = new  # where the rollback left it
        stack.resources = resources
        if stack.previous is not None:
            body, base_dir, tags, capabilities, parameters = stack.previous
            stack.body, stack.base_dir, stack.tags, stack.capabilities, stack.parameters = (
                body, base_dir, tags, capabilities, parameters,
            )
        reason = stack.rollback_reason
        if failed:
            stack.rollback_pending = list(failed)  # retried in the same order by ContinueUpdateRollback
            stack.rollback_old_states = dict(old_states)
            stack.set_status("UPDATE_ROLLBACK_FAILED", f"{reason} Rollback failed: {' '.join(problems)}")
            return
        stack.rollback_pending = []
        stack.set_status("UPDATE_ROLLBACK_COMPLETE_CLEANUP_IN_PROGRESS", reason)
        stack.set_status("UPDATE_ROLLBACK_COMPLETE", reason)


def _update_back(steps: Steps, stack: Stack, ctx: Context, old: ResourceState, new: ResourceState) -> str | None:
    """Update ``new`` back to ``old``'s properties; the failure's reason, if any."""
    steps.event(stack, new, "UPDATE_IN_PROGRESS")
    injected = faults.FAULTS.take("fail-resource", stack=stack.name, logicalId=old.logical_id, phase="rollback")
    try:
        if injected is not None:
            raise ApiError("InjectedFault", injected.get("message") or "the rollback of this resource failed")
        current = Provisioned(new.physical_id, new.attrs)
        steps.call(
            old.logical_id,
            new.type,
            REGISTRY[new.type].update,
            ctx,
            old.logical_id,
            current,
            steps.values_if_any(new),  # what the failed update left: its values as far as they resolve
            steps.values(old.logical_id, new.type, old.props),
        )
    except ApiError as e:
        reason = f"Resource {old.logical_id} ({new.type}): {e.message}"
        steps.event(stack, new, "UPDATE_FAILED", reason)
        return reason
    except Failed as e:
        steps.event(stack, new, "UPDATE_FAILED", e.reason)
        return e.reason
    steps.event(stack, old, "UPDATE_COMPLETE")
    return None
