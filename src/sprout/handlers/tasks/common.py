"""What every task shares: settings read once at cold start and the lineage (both from the
composition root, sprout.wiring), the Powertools envelope, and reading a Catch's error."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from sprout import wiring
from sprout.domain.errors import InvalidInput
from sprout.observability import logger, metrics, tracer

settings = wiring.settings()
lineage = wiring.lineage()

ContextHook = Callable[[LambdaContext], None]


def task(handler: Callable[[Any], Any], on_context: ContextHook | None = None) -> Callable[[dict, LambdaContext], Any]:
    """Powertools around a task: tracing, metrics, and the Step Functions execution as the
    correlation id. The state machine hands every task ``{"execution": $$.Execution.Id,
    "input": <the step's input>}``; the handler gets the input (and the execution, if it asks)."""

    @logger.inject_lambda_context(correlation_id_path="execution")
    @tracer.capture_lambda_handler(capture_response=False)
    @metrics.log_metrics
    def wrapped(event: dict, context: LambdaContext):
        if not isinstance(event, dict) or not isinstance(event.get("input"), dict):
            raise InvalidInput("input", "the task expects {execution, input} from the state machine")
        if on_context:
            on_context(context)
        if getattr(handler, "wants_execution", False):
            return handler(event["input"], event.get("execution"))
        return handler(event["input"])

    wrapped.__name__ = handler.__name__
    wrapped.__doc__ = handler.__doc__
    wrapped.logic = handler  # the undecorated step, for tests that call it in-process
    return wrapped


def with_execution(handler):
    """Mark a step that needs its execution's ARN (to record it as the holder of what it opens)."""
    handler.wants_execution = True
    return handler


def field(event: dict, name: str) -> Any:
    value = event.get(name)
    if value in (None, ""):
        raise InvalidInput(name, "is required in the task input")
    return value


def failure(step: str, error: dict | None) -> dict:
    """A Step Functions Catch output (``{Error, Cause}``) as a failure record ``{step, error, cause}``."""
    error = error or {}
    cause = error.get("Cause", "")
    try:
        parsed = json.loads(cause)
        message = parsed.get("errorMessage", cause) if isinstance(parsed, dict) else cause
    except (ValueError, TypeError):
        message = cause
    return {"step": step, "error": error.get("Error", "Unknown"), "cause": message}


def reason(step: str, error: dict | None) -> str:
    f = failure(step, error)
    return f"{f['error']}: {f['cause']}" if f["cause"] else f["error"]
