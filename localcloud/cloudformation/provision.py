"""Provisioning a stack: create, update and delete, resource by resource in dependency order, on
the stack's thread (``Steps.start``), each step recorded as stack events:

- create: CREATE_IN_PROGRESS -> CREATE_COMPLETE, or on a failure ROLLBACK_IN_PROGRESS (what was
  made is deleted, newest first) -> ROLLBACK_COMPLETE, the stack's reason naming what failed;
- update: UPDATE_IN_PROGRESS -> UPDATE_COMPLETE_CLEANUP_IN_PROGRESS (removed and replaced resources
  deleted) -> UPDATE_COMPLETE, or UPDATE_ROLLBACK_IN_PROGRESS (updates undone, new resources
  deleted; recovery.py) -> UPDATE_ROLLBACK_COMPLETE. A resource whose resolved properties did not
  change is not touched; one whose changed properties are all updatable is updated in place;
  otherwise replaced;
- delete: DELETE_IN_PROGRESS -> DELETE_COMPLETE (``DeletionPolicy: Retain`` resources are kept).
"""

from __future__ import annotations

from pathlib import Path

from .. import faults
from . import recovery
from .model import ChangeSet, ResourceState, Stack, now
from .prepare import Prepared
from .resources import REGISTRY, Provisioned
from .steps import Failed, Steps, failure_reason


def begin_update(
    stack: Stack,
    body: str,
    base_dir: Path | None,
    tags: dict[str, str],
    capabilities: list[str] | None,
) -> None:
    """The stack takes the new template (the old one kept for a rollback): UPDATE_IN_PROGRESS."""
    stack.previous = (stack.body, stack.base_dir, stack.tags, stack.capabilities, stack.parameters)
    stack.body, stack.base_dir, stack.tags = body, base_dir, tags
    if capabilities is not None:
        stack.capabilities = capabilities
    stack.updated = now()
    stack.set_status("UPDATE_IN_PROGRESS", "User Initiated")


def run_create(
    steps: Steps, stack: Stack, plan: Prepared | None, error: str | None, change_set: ChangeSet | None
) -> None:
    lock = steps.store.lock
    ctx = steps.context(stack)
    created: list[ResourceState] = []
    states: dict[str, ResourceState] = {}
    faults.FAULTS.hold(stack.name)  # a test's fault keeps the create in progress for a while
    try:
        if plan is None:
            raise Failed(None, error or "the template could not be prepared")
        with lock:
            stack.plan = plan
            stack.parameters = plan.parameters
        for logical_id in plan.order:
            steps.check_stop()
            states[logical_id] = steps.create_resource(stack, plan, states, ctx, logical_id)
            created.append(states[logical_id])
        outputs = steps.outputs(stack, plan, states)
    except Failed as failure:
        reason = failure_reason("create", failure)
        steps.finish_change_set(change_set, False)
        if stack.disable_rollback or stack.on_failure == "DO_NOTHING":
            with lock:
                stack.set_status("CREATE_FAILED", reason)
            return
        with lock:
            stack.set_status("ROLLBACK_IN_PROGRESS", reason)
        problems = [p for p in (steps.delete_resource(stack, ctx, s) for s in reversed(created)) if p]
        with lock:
            if problems:
                stack.set_status("ROLLBACK_FAILED", f"{reason} Rollback failed: {' '.join(problems)}")
                return
            stack.set_status("ROLLBACK_COMPLETE", reason)
            if stack.on_failure == "DELETE":
                stack.deleted = now()
                stack.set_status("DELETE_COMPLETE", reason)
        return
    with lock:
        stack.outputs = outputs
        stack.set_status("CREATE_COMPLETE")
    steps.finish_change_set(change_set, True)


def run_update(
    steps: Steps, stack: Stack, plan: Prepared | None, error: str | None, change_set: ChangeSet | None
) -> None:
    lock = steps.store.lock
    ctx = steps.context(stack)
    old_plan = stack.plan
    old_states = dict(stack.resources)
    states: dict[str, ResourceState] = {}
    journal: recovery.Journal = []
    cleanup: dict[str, ResourceState] = {}
    faults.FAULTS.hold(stack.name)  # a test's fault keeps the update in progress for a while
    try:
        if plan is None:
            raise Failed(None, error or "the template could not be prepared")
        for logical_id in plan.order:
            steps.check_stop()
            definition = plan.active[logical_id]
            handler = REGISTRY[definition["Type"]]
            old = old_states.get(logical_id)
            if old is None or old.type != definition["Type"] or old.physical_id is None:
                states[logical_id] = steps.create_resource(stack, plan, states, ctx, logical_id)
                journal.append(("create", logical_id, old, states[logical_id]))
                if old is not None:
                    cleanup[logical_id] = old
                continue
            props = steps.resolve_props(stack, plan, states, logical_id)
            policy = definition.get("DeletionPolicy", "Delete")
            if props == old.props:
                old.deletion_policy = policy
                states[logical_id] = old
                continue
            if handler.requires_replacement(old.props, props):
                states[logical_id] = steps.create_resource(stack, plan, states, ctx, logical_id, replacing=True)
                journal.append(("replace", logical_id, old, states[logical_id]))
                cleanup[logical_id] = old
                continue
            new = ResourceState(logical_id, old.type, old.physical_id, old.status, props, dict(old.attrs), policy)
            with lock:
                stack.resources[logical_id] = new
            steps.event(stack, new, "UPDATE_IN_PROGRESS", "", props)
            try:
                before, after = steps.values(logical_id, new.type, old.props), steps.values(logical_id, new.type, props)
            except Failed as e:  # refused before anything was applied: its rollback has nothing to undo
                steps.event(stack, new, "UPDATE_FAILED", e.reason)
                journal.append(("untouched", logical_id, old, new))
                raise
            try:
                current = Provisioned(old.physical_id, dict(old.attrs))
                done = steps.call(logical_id, new.type, handler.update, ctx, logical_id, current, before, after)
            except Failed as e:
                steps.event(stack, new, "UPDATE_FAILED", e.reason)
                journal.append(("update", logical_id, old, new))
                raise
            new.physical_id, new.attrs = done.physical_id, dict(done.attrs)
            steps.event(stack, new, "UPDATE_COMPLETE")
            states[logical_id] = new
            journal.append(("update", logical_id, old, new))
        outputs = steps.outputs(stack, plan, states)
    except Failed as failure:
        recovery.roll_back_update(
            steps, stack, ctx, failure_reason("update", failure), journal, old_states, change_set
        )
        return
    with lock:
        stack.set_status("UPDATE_COMPLETE_CLEANUP_IN_PROGRESS")
    removed = [old_states[lid] for lid in old_states if lid not in plan.active]
    removed += list(cleanup.values())
    order = {lid: i for i, lid in enumerate(old_plan.order if old_plan else old_states)}
    for state in sorted(removed, key=lambda s: order.get(s.logical_id, -1), reverse=True):
        steps.delete_resource(stack, ctx, state)
    with lock:
        stack.plan = plan
        stack.parameters = plan.parameters
        stack.resources = {lid: states[lid] for lid in plan.order}
        stack.outputs = outputs
        stack.set_status("UPDATE_COMPLETE")
    steps.finish_change_set(change_set, True)


def run_delete(steps: Steps, stack: Stack) -> None:
    ctx = steps.context(stack)
    order = list(stack.plan.order) if stack.plan else []
    order += [lid for lid in stack.resources if lid not in order]
    problems = []
    for logical_id in reversed(order):
        steps.check_stop()
        state = stack.resources.get(logical_id)
        if state is None or state.status == "DELETE_COMPLETE":
            continue
        problem = steps.delete_resource(stack, ctx, state)
        if problem:
            problems.append((logical_id, problem))
    with steps.store.lock:
        if problems:
            names = [lid for lid, _ in problems]
            stack.set_status(
                "DELETE_FAILED",
                f"The following resource(s) failed to delete: {names}. {' '.join(p for _, p in problems)}",
            )
            return
        stack.deleted = now()
        stack.set_status("DELETE_COMPLETE")
        steps.store.drop_change_sets_of(stack)
