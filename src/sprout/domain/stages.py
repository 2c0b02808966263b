"""Changing an app's pipeline after registration, and tearing a stage down: pure rules.

A stage is added into the pipeline (after a named stage, else after the last ordinary stage:
previews always come last). A stage is removed in two moves, so a crash between them leaves
something a retry finishes: first its removal is *recorded* (the intent: who asked, the execution
that carries it out, what Sprout made for the stage and must delete), then the teardown acts,
step by step, and the stage is marked ``removedAt`` (its history stays readable).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sprout.domain.errors import Conflict, InvalidInput, named
from sprout.domain.function_logs import function_log_group
from sprout.domain.model import StageSpec

STAGE_NAME = re.compile(r"[a-z][a-z0-9-]{0,23}")

# How a stack deletion stuck in DELETE_FAILED is retried: at most this many deletes, waiting
# BACKOFF_BASE_S * 2**(attempt-1) seconds (capped) before the next one.
MAX_DELETE_ATTEMPTS = 5
BACKOFF_BASE_S = 2
BACKOFF_CAP_S = 60


# what the teardown's Choice states compare a stack deletion's status against
DELETION_STATUSES = ("GONE", "IN_PROGRESS", "FAILED")


class StageRemoved(Conflict):
    """The stage was removed (or is being removed): nothing more may start on it."""


@dataclass(frozen=True)
class StackState:
    """Where a stack deletion stands, as the teardown's Choice states read it."""

    status: str  # "GONE" | "IN_PROGRESS" | "FAILED"
    attempt: int = 0
    backoff_s: int = 0
    blockers: tuple[dict[str, Any], ...] = ()  # [{"logicalId", "type", "physicalId", "reason"}]

    def view(self) -> dict[str, Any]:
        return {"status": self.status, "attempt": self.attempt, "backoffSeconds": self.backoff_s,
                "blockers": list(self.blockers), "giveUp": self.status == "FAILED" and self.attempt >= MAX_DELETE_ATTEMPTS}


def insert_stage(stages: Sequence[StageSpec], new: StageSpec, after: str | None) -> tuple[StageSpec, ...]:
    """``stages`` with ``new`` in place: after stage ``after``, else after the last ordinary stage
    (previews stay after the pipeline). Raises InvalidInput (``name``, ``after``, ``autoDeploy``)
    or Conflict (a stage of that name exists)."""
    if not STAGE_NAME.fullmatch(new.name or ""):
        raise InvalidInput("name", "must be lowercase letters, digits and dashes, starting with a letter, at most 24")
    if any(s.name == new.name for s in stages):
        raise Conflict(f"the app already has a stage {named(new.name)}")
    if new.auto_deploy and not new.branch:
        raise InvalidInput("autoDeploy", f"stage {named(new.name)} auto-deploys but follows no branch")
    order = list(stages)
    if after is not None:
        names = [s.name for s in order]
        if after not in names:
            raise InvalidInput("after", f"the app has no stage {named(after)}")
        if order[names.index(after)].preview and not new.preview:
            raise InvalidInput("after", f"stage {named(after)} is a preview: previews come after the pipeline")
        index = names.index(after) + 1
    elif new.preview:
        index = len(order)
    else:
        index = sum(1 for s in order if not s.preview)
    order.insert(index, new)
    return tuple(order)


def without_stage(stages: Sequence[StageSpec], name: str) -> tuple[StageSpec, ...]:
    return tuple(s for s in stages if s.name != name)


def pipeline_order(stages: Sequence[StageSpec]) -> list[StageSpec]:
    """Ordinary stages in pipeline order, then the previews (oldest first)."""
    return [s for s in stages if not s.preview] + [s for s in stages if s.preview]


def stack_state(status: str | None, attempt: int, blockers: Sequence[dict[str, Any]] = ()) -> StackState:
    """Where the deletion of a stack stands: ``status`` is CloudFormation's (None: no such stack,
    which DELETE_COMPLETE also means); ``attempt`` how many deletes were asked so far."""
    if status is None or status == "DELETE_COMPLETE":
        return StackState("GONE", attempt)
    if status == "DELETE_FAILED":
        backoff = min(BACKOFF_BASE_S * 2 ** max(attempt - 1, 0), BACKOFF_CAP_S)
        return StackState("FAILED", attempt, backoff, tuple(blockers))
    return StackState("IN_PROGRESS", attempt)


# A removal's execution that does not exist (yet) is unknown, not ended: the intent is recorded
# before StartExecution. The sweep starts it again only once the intent is this old.
START_GRACE = timedelta(minutes=2)


def sweep_restarts(removing: dict[str, Any], running: bool | None, now: datetime) -> bool:
    """Whether the sweep starts a recorded removal again: its execution has ended, or nobody can
    tell and it was recorded (or last restarted) longer than START_GRACE ago."""
    if running is True:
        return False
    if running is False:
        return True
    since = removing.get("restartedAt") or removing.get("requestedAt")
    if not since:
        return True
    return now - datetime.fromisoformat(str(since).replace("Z", "+00:00")) > START_GRACE


def function_log_groups(stack: str, logical_ids: Sequence[str]) -> list[str]:
    """The log groups of a stage's functions (they bill for storage): the names Package gave them."""
    return sorted({function_log_group(stack, logical_id) for logical_id in logical_ids if logical_id})
