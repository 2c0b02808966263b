"""A ``States.*`` error raised inside a Map item or a Parallel branch reaches the Map or Parallel
state under its own name, as on AWS (a failed ``.sync`` task in a Map item fails the Map with
``States.TaskFailed``, which the Map's Catch then handles).

moto re-raises the item's or branch's error at the enclosing state as a ``CustomErrorName``, whose
constructor refuses names beginning with ``States.``: every such failure became ``States.Runtime``
("Custom Error Names MUST NOT begin with the prefix 'States.'") and lost its cause.
"""

from __future__ import annotations

from typing import Any

from localcloud.moto_hooks import hook, require

_COMPONENT = "moto.stepfunctions.parser.asl.component"
ENCLOSING = (
    f"{_COMPONENT}.state.exec.state_map.iteration.iteration_worker",  # a Map item's error
    f"{_COMPONENT}.state.exec.state_parallel.branches_decl",  # a Parallel branch's error
)


def install() -> None:
    states_error = require(
        f"{_COMPONENT}.common.error_name.states_error_name", "StatesErrorName", "a States.* error by its name"
    )

    def error_name(original: Any, error_name: Any = None, **kwargs: Any) -> Any:
        if isinstance(error_name, str) and error_name.startswith("States."):
            try:
                return states_error.from_name(error_name)
            except ValueError:  # not one of the predefined States.* names: moto's own refusal stands
                pass
        return original(error_name=error_name, **kwargs)

    for module in ENCLOSING:
        hook(module, "CustomErrorName", "a States.* error of a Map item or Parallel branch keeps its name")(error_name)
