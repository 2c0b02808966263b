"""The teardown state machine's task (statemachines/teardown.asl.json): one function, the step
named in its input (``prepare``, ``deleteStack``, ``checkStack``, ``cleanUp``, ``finish``,
``failed``, ``finishApp``); the steps are sprout.services.teardown's."""

from __future__ import annotations

from sprout import wiring
from sprout.domain.errors import InvalidInput
from sprout.handlers.tasks.common import field, task
from sprout.observability import logger

teardown = wiring.teardown()


def step(event: dict) -> dict:
    name, app = field(event, "step"), field(event, "app")
    if name == "finishApp":
        return teardown.finish_app(app)
    stage = field(event, "stage")
    attempt = int(event.get("attempt") or 0)
    logger.info("teardown step", extra={"step": name, "app": app, "stage": stage, "attempt": attempt})
    if name == "prepare":
        return teardown.prepare(app, stage)
    if name == "deleteStack":
        return teardown.delete_stack(app, stage, attempt)
    if name == "checkStack":
        return teardown.check_stack(app, stage, attempt)
    if name == "cleanUp":
        return teardown.clean_up(app, stage)
    if name == "finish":
        return teardown.finish(app, stage)
    if name == "failed":
        return teardown.failed(app, stage, event.get("error") or {})
    raise InvalidInput("step", "is not a teardown step")


lambda_handler = task(step)
