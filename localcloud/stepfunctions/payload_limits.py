"""Step Functions' 256 KB payloads, as AWS enforces them (moto's interpreter fails a state whose
input or result passes 256 KB with ``States.DataLimitExceeded`` already):

- StartExecution's input is at most 262144 bytes (UTF-8), the API's length constraint: beyond, a
  ``ValidationException`` and no execution (moto started one, which failed at its first state);
- ``States.DataLimitExceeded`` and ``States.Runtime`` are terminal: a ``States.ALL`` catcher or
  retrier does not match them (AWS's error-handling guide), so an execution whose data outgrew the
  limit fails instead of carrying on down a Catch (moto's States.ALL matched everything).
"""

from __future__ import annotations

from typing import Any

from localcloud.moto_hooks import hook, require

MAX_INPUT_BYTES = 262144
ERROR_EQUALS = "moto.stepfunctions.parser.asl.component.common.error_name.error_equals_decl"
TERMINAL = ("States.DataLimitExceeded", "States.Runtime")


def install() -> None:
    validation = require("moto.stepfunctions.exceptions", "ValidationException", "StartExecution's ValidationException")

    @hook("moto.stepfunctions.responses", "StepFunctionResponse.start_execution", "the 256 KB input limit")
    def start_execution(original: Any, response: Any) -> Any:
        execution_input = response._get_param("input")
        if execution_input is not None and len(str(execution_input).encode("utf-8")) > MAX_INPUT_BYTES:
            raise validation(
                "1 validation error detected: Value at 'input' failed to satisfy constraint: "
                f"Member must have length less than or equal to {MAX_INPUT_BYTES}"
            )
        return original(response)

    @hook(ERROR_EQUALS, "ErrorEqualsDecl._eval_body", "States.ALL does not catch the terminal errors")
    def error_equals(original: Any, decl: Any, env: Any) -> None:
        error_name = env.stack[-1] if env.stack else None
        names = [getattr(n, "error_name", None) for n in decl.error_names]
        if "States.ALL" in names and getattr(error_name, "error_name", None) in TERMINAL:
            env.stack.pop()
            env.stack.append(False)
            return
        original(decl, env)
