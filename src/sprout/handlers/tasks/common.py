"""What every task shares: settings read once at cold start and the lineage (both from the
composition root, sprout.wiring), the Powertools envelope, and reading a Catch's error."""

from __future__ import annotations

import inspect
import json
from collections.abc import Callable, Mapping
from typing import Any, TypeVar, get_args, get_type_hints, is_typeddict

from aws_lambda_powertools.utilities.typing import LambdaContext

from sprout import wiring
from sprout.domain.errors import InvalidInput
from sprout.observability import logger, metrics, tracer

settings = wiring.settings()
lineage = wiring.lineage()

ContextHook = Callable[[LambdaContext], None]
Handler = Callable[[dict[str, Any], LambdaContext], Any]


def contract_of(step: Callable[..., Any]) -> type | None:
    """The TypedDict a step declares for its input (its first parameter), if it declares one."""
    first = next(iter(inspect.signature(step).parameters), None)
    hint = get_type_hints(step).get(first) if first else None
    return hint if is_typeddict(hint) else None


def check_input(event: Mapping[str, Any], contract: type) -> None:
    """Every key the contract requires is there, and not null (unless it may be) nor an empty string:
    InvalidInput naming the first that is not (the task's error, never a KeyError in its step)."""
    hints = get_type_hints(contract)
    for name in sorted(contract.__required_keys__):  # type: ignore[attr-defined]  # TypedDict classes have it
        value = event.get(name)
        if value is None and type(None) in get_args(hints[name]):
            continue
        if value is None or value == "":
            raise InvalidInput(name, "is required in the task input")


def task(handler: Callable[..., Any], on_context: ContextHook | None = None) -> Handler:
    """Powertools around a task: tracing, metrics, and the Step Functions execution as the
    correlation id. The state machine hands every task ``{"execution": $$.Execution.Id,
    "input": <the step's input>}``; the input is checked against the step's contract (the TypedDict
    of its first parameter) and handed to it (with the execution, if it asks)."""
    contract = contract_of(handler)

    @logger.inject_lambda_context(correlation_id_path="execution")
    @tracer.capture_lambda_handler(capture_response=False)
    @metrics.log_metrics
    def wrapped(event: dict[str, Any], context: LambdaContext) -> Any:
        if not isinstance(event, dict) or not isinstance(event.get("input"), dict):
            raise InvalidInput("input", "the task expects {execution, input} from the state machine")
        if contract is not None:
            check_input(event["input"], contract)
        if on_context:
            on_context(context)
        if getattr(handler, "wants_execution", False):
            return handler(event["input"], event.get("execution"))
        return handler(event["input"])

    wrapped.__name__ = handler.__name__
    wrapped.__doc__ = handler.__doc__
    wrapped.logic = handler  # the undecorated step, for tests that call it in-process
    return wrapped


def steps(by_name: Mapping[str, Callable[..., Any]]) -> Handler:
    """One function serving several steps of a state machine: each Task state names its step in its
    input (``"step": "<name>"``, a literal in the ASL), and each step declares its own contract (the
    TypedDict of its first parameter), checked as task() checks it. tests/unit/sprout/
    test_task_contracts.py follows the literal to the step, as it follows a Handler to task()'s."""
    contracts = {name: contract_of(fn) for name, fn in by_name.items()}

    def dispatch(event: dict[str, Any]) -> Any:
        name = event.get("step")
        if not isinstance(name, str) or name not in by_name:
            raise InvalidInput("step", f"is not one of {', '.join(sorted(by_name))}")
        contract = contracts[name]
        if contract is not None:
            check_input(event, contract)
        return by_name[name](event)

    dispatch.steps = dict(by_name)  # type: ignore[attr-defined]  # for tests that call a step in-process
    return task(dispatch)


Step = TypeVar("Step", bound=Callable[..., Any])


def with_execution(handler: Step) -> Step:
    """Mark a step that needs its execution's ARN (to record it as the holder of what it opens)."""
    handler.wants_execution = True  # type: ignore[attr-defined]  # read back by task()
    return handler


def field(event: Mapping[str, Any], name: str) -> Any:
    value = event.get(name)
    if value in (None, ""):
        raise InvalidInput(name, "is required in the task input")
    return value


def failure(step: str, error: Mapping[str, Any] | None) -> dict[str, str]:
    """A Step Functions Catch output (``{Error, Cause}``) as a failure record ``{step, error, cause}``."""
    error = error or {}
    cause = error.get("Cause", "")
    try:
        parsed = json.loads(cause)
        message = parsed.get("errorMessage", cause) if isinstance(parsed, dict) else cause
    except (ValueError, TypeError):
        message = cause
    return {"step": step, "error": error.get("Error", "Unknown"), "cause": message}


def reason(step: str, error: Mapping[str, Any] | None) -> str:
    f = failure(step, error)
    return f"{f['error']}: {f['cause']}" if f["cause"] else f["error"]
