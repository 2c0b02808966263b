"""StartExecution's input is at most 256 KB (262144 bytes, UTF-8), as the API's length constraint
says; moto started such an execution, which then failed at its first state."""

from __future__ import annotations

from typing import Any

from localcloud.moto_hooks import hook, require

MAX_INPUT_BYTES = 262144


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
