"""Fixes to moto's Step Functions interpreter where it departs from AWS (moto 5.2.5).

1. ``StartExecution`` without a ``name``: AWS names the execution with a UUID. moto's interpreter
   backend names it ``None`` (ARN ``...:execution:{machine}:None``), so a second unnamed start of
   the same machine fails with ExecutionAlreadyExists. Hooked: a missing name becomes a UUID.

2. JSONPath: a definite path through an array index yields one value. AWS (Jayway JsonPath)
   returns the value of a definite path such as ``$.results[1].id`` or ``$[0].Payload`` (the usual
   way to read a Parallel state's output) as a scalar. moto's ``extract_json`` wraps any match whose
   parent is an array element in a list (a workaround for filter queries, moto issue #7825), so
   ``$.results[1].id`` gives ``["x"]`` instead of ``"x"``. Indefinite paths (wildcards, filters,
   slices, unions, deep scan) keep moto's behaviour. ``extract_json`` is imported by name into each
   module that uses it, so each of those names is hooked.
"""

from __future__ import annotations

import re
import uuid
from typing import Any

from localcloud.moto_hooks import hook

# $ followed by .name / ['name'] / [n] segments only: one node at most.
_DEFINITE = re.compile(r"\$(?:\.[^.\[\]*?,:()@'\"]+|\[\d+\]|\['[^']*'\])*")

_PARSER = "moto.stepfunctions.parser.asl"
USERS = (
    f"{_PARSER}.utils.json_path",
    f"{_PARSER}.component.common.string.string_expression",
    f"{_PARSER}.component.intrinsic.argument.argument",
    f"{_PARSER}.component.state.choice.comparison.operator.implementations.timestamp_operators",
    f"{_PARSER}.component.state.choice.comparison.operator.implementations.boolean_equals",
    f"{_PARSER}.component.state.choice.comparison.operator.implementations.numeric",
    f"{_PARSER}.component.state.choice.comparison.operator.implementations.string_operators",
    f"{_PARSER}.eval.states",
)


def extract_json(original: Any, path: str, data: Any) -> Any:
    if "[" in path and _DEFINITE.fullmatch(path):
        from jsonpath_ng.ext import parse

        matches = parse(path).find(data)
        if len(matches) == 1:
            return matches[0].value
    return original(path, data)


def start_execution(
    original: Any, backend: Any, state_machine_arn: str, name: Any = None, *args: Any, **kwargs: Any
) -> Any:
    return original(backend, state_machine_arn, name or str(uuid.uuid4()), *args, **kwargs)


def install() -> None:
    hook(
        "moto.stepfunctions.parser.models",
        "StepFunctionsParserBackend.start_execution",
        "an execution started without a name gets a UUID name, as on AWS",
    )(start_execution)
    for module in USERS:
        hook(
            module, "extract_json", "a definite JSONPath through an array index yields one value, as on AWS"
        )(extract_json)
