"""Stacks of stages that no longer exist: pure rules of the sweep.

Sprout tags every stage stack it deploys ``sprout:app``, ``sprout:stage`` and ``sprout:stack`` (the
stack's own name, ``<app>-<stage>``), and deploys it with its own deploy role. A stack is one of
this Sprout's stage stacks only when all of that holds: a stack without the tags is someone
else's, a stack whose tags do not name it was not made by Sprout's deploy, and a stack deployed with
another role belongs to another Sprout in the same account (whose stages this one cannot see).

Such a stack is an orphan when its stage does not exist: no live stage record (none, or one whose
removal finished) and the app's pipeline does not list it (the app may be gone too). A stage whose
removal is under way exists: its own teardown owns the stack.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from sprout.domain.pipeline import stack_name

APP_TAG, STAGE_TAG, STACK_TAG = "sprout:app", "sprout:stage", "sprout:stack"

# a stack already going (or gone) is no orphan to remove: a DELETE_FAILED one is, once it failed
LEAVING = frozenset({"DELETE_IN_PROGRESS", "DELETE_COMPLETE"})


@dataclass(frozen=True)
class TaggedStack:
    """A stack as DescribeStacks tells it: what the sweep decides on."""

    name: str
    status: str
    tags: Mapping[str, str]
    role_arn: str | None = None


def stage_of(stack: TaggedStack, deploy_role: str | None) -> tuple[str, str] | None:
    """``(app, stage)`` when ``stack`` is one of this Sprout's stage stacks (see the module's
    docstring), else None: never touched."""
    app, stage = stack.tags.get(APP_TAG), stack.tags.get(STAGE_TAG)
    if not app or not stage or stack.status in LEAVING:
        return None
    if stack.name != stack_name(app, stage) or stack.tags.get(STACK_TAG) != stack.name:
        return None
    if deploy_role and stack.role_arn != deploy_role:
        return None
    return app, stage


def orphan_reason(app_live: bool, stage_record: str | None, listed: bool) -> str | None:
    """Why a Sprout stage stack is an orphan, or None when its stage exists. ``stage_record``:
    ``"live"`` (a stage item not removed, perhaps being removed), ``"removed"`` (its removal
    finished) or None (no record); ``listed``: the app's pipeline lists the stage."""
    if stage_record == "live" or (app_live and listed):
        return None
    if not app_live:
        return "orphan stack: its app no longer exists"
    if stage_record == "removed":
        return "orphan stack: its stage was removed"
    return "orphan stack: its stage has no record"
