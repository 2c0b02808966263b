"""The canary tasks of the deploy state machine (statemachines/deploy.asl.json: a promote's deploy
with a strategy, and a push's to a stage with one): CanaryStep, called in a loop — begin, shift, judge, abort or promote, one thing per call (sprout.services.canary) — and
CanaryAbandon, when a step failed for good."""

from __future__ import annotations

from sprout import wiring
from sprout.handlers.contracts import CanaryAbandoned, CanaryAbandonInput, CanaryInput
from sprout.handlers.tasks.common import reason, task
from sprout.observability import logger

canary = wiring.canary()


def canary_step_step(event: CanaryInput) -> CanaryInput:
    """One look at the canary: what it did and what comes next (``canary.status``)."""
    progress = event["canary"]
    after = canary.step(event["app"], event["stage"], event["deploymentId"], progress["status"], int(progress["index"]))
    return {**event, "canary": {"status": after["status"], "index": int(after["index"])}}


def canary_abandon_step(event: CanaryAbandonInput) -> CanaryAbandoned:
    """A canary step failed for good: the weights removed and the deployment closed FAILED."""
    why = reason("canary", event["error"])
    canary.abandon(event["app"], event["stage"], event["deploymentId"], why)
    logger.warning("canary abandoned", extra={"app": event["app"], "stage": event["stage"], "error": why})
    return {"deploymentId": event["deploymentId"], "error": why}


canary_step = task(canary_step_step)
canary_abandon = task(canary_abandon_step)
