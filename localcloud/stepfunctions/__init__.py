"""stepfunctions: moto's ASL interpreter runs executions; this component makes them behave as on AWS
around the interpreter.

- ``Step Functions Execution Status Change`` events (``status_events``): every execution of a
  STANDARD machine puts one when it starts and one when it ends (SUCCEEDED, FAILED, TIMED_OUT,
  ABORTED) on the default bus, so rules on ``detail.status`` / ``detail.stateMachineArn`` reach
  their targets through the event router. Hooked where moto starts an execution
  (``Execution.start``) and where it records how it ended (``terminated``).
- ``StopExecution`` ends an execution at once: ABORTED, its stop date, its event; moto would wait
  for the state in flight to return (a Lambda task: until the function returns).
- Nested ``.sync`` executions (``nested``): the managed-rule permission check and stopping the
  child when the parent's task ends without it.
- ``States.*`` errors of Map items and Parallel branches keep their name at the enclosing state
  (``error_names``): moto turned them into ``States.Runtime``.
- Where moto's interpreter departs from AWS (``moto_patches``): an execution started without a
  name gets a UUID name; a definite JSONPath through an array index yields one value.
- Readable failure logs: moto logs every failing state as one ERROR line holding the whole error
  payload and the interpreter's representation of the state (tens of kilobytes for one failed
  execution). A failure is logged once, at WARNING (a failed execution is the app's outcome, not
  the local cloud's fault), naming the state, the error and a cut cause.
"""

from __future__ import annotations

import logging
import threading
import time
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

from localcloud.moto_hooks import hook, require

from . import dynamodb_results, error_names, moto_patches, nested, payload_limits, status_events

log = logging.getLogger("localcloud.stepfunctions")

_EXECUTION = "moto.stepfunctions.parser.backend.execution"
_EVAL_COMPONENT = "moto.stepfunctions.parser.asl.component.eval_component"
CAUSE_CHARS = 300  # how much of a failure's cause a log line keeps
_STOPPED_AT = "__localcloud_stopped_at__"  # set on an execution that StopExecution ended
_ending = threading.Lock()  # an execution ends once: by StopExecution or on its own
_stop_reason: ContextVar[tuple[Any, Any]] = ContextVar("localcloud_stop_reason", default=(None, None))


def _standard(execution: Any) -> bool:
    sm_type = getattr(execution, "sm_type", None)
    return str(getattr(sm_type, "value", sm_type) or "STANDARD") != "EXPRESS"


def install(cloud: Any) -> None:
    moto_patches.install()
    emitter = status_events.Emitter(cloud.client("events").put_events)
    program_stopped = require(
        "moto.stepfunctions.parser.asl.eval.program_state", "ProgramStopped", "an execution that StopExecution ended"
    )

    running = require(_EXECUTION, "ExecutionStatus", "the status an execution is listed with").RUNNING

    @hook(_EXECUTION, "Execution.__init__", "an execution is RUNNING from the moment it can be listed")
    def init(original: Any, execution: Any, *args: Any, **kwargs: Any) -> None:
        # moto appends the execution to its machine before its worker sets the status: a
        # ListExecutions in between failed with 500 (None.value); AWS lists it as RUNNING
        original(execution, *args, **kwargs)
        execution.exec_status = running

    @hook(_EXECUTION, "Execution.start", "put the RUNNING status change event when an execution starts")
    def start(original: Any, execution: Any) -> None:
        if _standard(execution):
            # before the worker starts, so that RUNNING is put before the end of a short execution
            emitter.emit(status_events.detail(execution.to_describe_output(), status="RUNNING"))
        original(execution)

    @hook(
        _EXECUTION,
        "BaseExecutionWorkerCommunication.terminated",
        "put the status change event of how an execution ended",
    )
    def terminated(original: Any, comm: Any) -> None:
        execution = comm.execution
        with _ending:
            stopped_at = getattr(execution, _STOPPED_AT, None)
            original(comm)
            if stopped_at is not None:  # ABORTED when it was stopped, and said so then
                execution.stop_date = stopped_at
                return
        if _standard(execution):
            emitter.emit(status_events.detail(execution.to_describe_output()))

    @hook("moto.stepfunctions.responses", "StepFunctionResponse.stop_execution", "StopExecution's error and cause")
    def stop_execution(original: Any, response: Any) -> Any:
        # moto's backend drops them; the ExecutionAborted history event records them on AWS
        token = _stop_reason.set((response._get_param("error"), response._get_param("cause")))
        try:
            return original(response)
        finally:
            _stop_reason.reset(token)

    @hook(_EXECUTION, "Execution.stop", "StopExecution ends the execution at once (ABORTED), as on AWS")
    def stop(original: Any, execution: Any, stop_date: Any, error: Any, cause: Any) -> None:
        # moto ends it when the state in flight returns (a Lambda task: when the function does); AWS
        # ends it now and ignores what the state in flight returns later.
        if not error and not cause:
            error, cause = _stop_reason.get()
        deadline = time.monotonic() + 2  # just started: moto's worker makes its environment on its thread
        while getattr(execution.exec_worker, "env", False) is None and time.monotonic() < deadline:
            time.sleep(0.01)
        with _ending:  # against the execution ending on its own at this very moment
            was_running = str(getattr(execution.exec_status, "value", execution.exec_status)) == "RUNNING"
            original(execution, stop_date, error, cause)
            env = getattr(execution.exec_worker, "env", None)
            if not was_running or env is None or not isinstance(env.program_state(), program_stopped):
                return
            if isinstance(stop_date, datetime) and stop_date.tzinfo is None:
                stop_date = stop_date.replace(tzinfo=UTC)
            setattr(execution, _STOPPED_AT, stop_date)
            execution.exec_status = type(execution.exec_status)("ABORTED")
            execution.stop_date = stop_date
        if _standard(execution):
            emitter.emit(status_events.detail(execution.to_describe_output()))

    _install_failure_logging()
    nested.install()
    error_names.install()
    dynamodb_results.install()
    payload_limits.install()


def _install_failure_logging() -> None:
    def log_once(component: Any, exception: BaseException, error: str, cause: Any) -> None:
        """One WARNING line for a failure, at the innermost component that raised it."""
        if getattr(exception, "__localcloud_logged__", False):
            return  # already logged where it was raised; moto logs it again at each enclosing level
        try:
            exception.__localcloud_logged__ = True  # type: ignore[attr-defined]
        except AttributeError:
            pass
        name = getattr(component, "name", None) or type(component).__name__
        text = "" if cause is None else str(cause)
        if len(text) > CAUSE_CHARS:
            text = f"{text[:CAUSE_CHARS]}… ({len(text) - CAUSE_CHARS} more chars)"
        log.warning("state %s failed: %s%s", name, error, f": {text}" if text else "")

    @hook(_EVAL_COMPONENT, "EvalComponent._log_failure_event_exception", "one short line per failed state")
    def log_failure_event(original: Any, component: Any, failure_event_exception: Any) -> None:
        failure = failure_event_exception.failure_event
        error = getattr(failure.error_name, "error_name", None) or "?"
        details = failure.event_details or {}
        cause = next((d.get("cause") for d in details.values() if isinstance(d, dict) and d.get("cause")), None)
        log_once(component, failure_event_exception, error, cause)

    @hook(_EVAL_COMPONENT, "EvalComponent._log_exception", "no ERROR line for an exception the interpreter handles")
    def log_exception(original: Any, component: Any, exception: Exception) -> None:
        # Not a failure yet: the interpreter handles it (a path IsPresent tests is missing) or turns it
        # into a States.Runtime failure of the state, which is logged as such.
        log.debug("%s raised %s: %s", type(component).__name__, type(exception).__name__, exception)
