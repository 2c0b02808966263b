"""The teardown state machine's tasks (statemachines/teardown.asl.json): one function, whose Task
states name their step in their input (``prepare``, ``deleteStack``, ``checkStack``, ``cleanUp``,
``finish``, ``failed``, ``finishApp``); each step declares its contract
(sprout.handlers.contracts) and is sprout.services.teardown's."""

from __future__ import annotations

from typing import cast

from sprout import wiring
from sprout.handlers.contracts import (
    AppDeleted,
    AppRemoval,
    CleanedUp,
    RemovalFailure,
    RemovalRecorded,
    StackChecked,
    StackDeleting,
    StageRemoved,
    TeardownAttempt,
    TeardownStage,
)
from sprout.handlers.tasks.common import steps
from sprout.observability import logger

teardown = wiring.teardown()

# How long one CheckStack follows a deletion in progress before handing back to the state machine's
# Wait loop (a stack that goes in a second costs no whole-second Wait state).
FOLLOW_BUDGET_S = 5.0


def _log(step: str, event: TeardownStage) -> None:
    logger.info("teardown step", extra={"step": step, "app": event["app"], "stage": event["stage"],
                                        "attempt": event.get("attempt")})


def prepare_step(event: TeardownStage) -> StackDeleting:
    _log("prepare", event)
    return cast(StackDeleting, teardown.prepare(event["app"], event["stage"]))


def delete_stack_step(event: TeardownAttempt) -> StackDeleting:
    _log("deleteStack", event)
    return cast(StackDeleting, teardown.delete_stack(event["app"], event["stage"], int(event["attempt"])))


def check_stack_step(event: TeardownAttempt) -> StackChecked:
    return cast(StackChecked, teardown.check_stack(event["app"], event["stage"], int(event["attempt"]),
                                                   follow_s=FOLLOW_BUDGET_S))


def clean_up_step(event: TeardownStage) -> CleanedUp:
    _log("cleanUp", event)
    return cast(CleanedUp, teardown.clean_up(event["app"], event["stage"]))


def finish_step(event: TeardownStage) -> StageRemoved:
    _log("finish", event)
    return cast(StageRemoved, teardown.finish(event["app"], event["stage"]))


def failed_step(event: RemovalFailure) -> RemovalRecorded:
    _log("failed", event)
    return cast(RemovalRecorded, teardown.failed(event["app"], event["stage"], dict(event["error"])))


def finish_app_step(event: AppRemoval) -> AppDeleted:
    logger.info("teardown step", extra={"step": "finishApp", "app": event["app"]})
    return cast(AppDeleted, teardown.finish_app(event["app"]))


lambda_handler = steps({
    "prepare": prepare_step,
    "deleteStack": delete_stack_step,
    "checkStack": check_stack_step,
    "cleanUp": clean_up_step,
    "finish": finish_step,
    "failed": failed_step,
    "finishApp": finish_app_step,
})
