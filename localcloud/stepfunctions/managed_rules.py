"""EventBridge managed rules: how Step Functions follows a ``.sync`` task of some services.

AWS creates a managed rule per integration (e.g. ``StepFunctionsGetEventsForStepFunctionsExecutionRule``
for nested executions, ``StepFunctionsGetEventsForCodeBuildStartBuildRule`` for CodeBuild builds) with
the state machine's role. CreateStateMachine and UpdateStateMachine of a definition with such a task
are refused (``AccessDeniedException: '<role>' is not authorized to create managed-rule.``) unless the
role allows ``events:PutTargets``, ``events:PutRule`` and ``events:DescribeRule`` on
``arn:aws:events:<region>:<account>:rule/<that rule>``. Checked with IAM enforced, as every IAM check
of the local cloud.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from localcloud import iam
from localcloud.iam.actions import Check
from localcloud.moto_hooks import hook, require

ACTIONS = ("events:PutTargets", "events:PutRule", "events:DescribeRule")
# rule name -> the Task resources whose .sync pattern needs it
RULES: dict[str, tuple[str, ...]] = {
    "StepFunctionsGetEventsForStepFunctionsExecutionRule": (
        "arn:aws:states:::states:startExecution.sync",
        "arn:aws:states:::states:startExecution.sync:2",
    ),
    "StepFunctionsGetEventsForCodeBuildStartBuildRule": ("arn:aws:states:::codebuild:startBuild.sync",),
}


def states(node: Any) -> Iterator[dict[str, Any]]:
    """Every state of a definition, in Parallel branches and Map processors too."""
    if not isinstance(node, dict):
        return
    for state in (node.get("States") or {}).values():
        if not isinstance(state, dict):
            continue
        yield state
        for branch in state.get("Branches") or []:
            yield from states(branch)
        for key in ("Iterator", "ItemProcessor"):
            yield from states(state.get(key))


def rules_needed(definition: str) -> list[str]:
    """The managed rules a definition's tasks need, in RULES's order."""
    try:
        document = json.loads(definition)
    except (TypeError, ValueError):
        return []
    resources = {state.get("Resource") for state in states(document) if state.get("Type") == "Task"}
    return [rule for rule, needing in RULES.items() if resources.intersection(needing)]


def checks(region: str, account: str, rule: str) -> list[Check]:
    arn = f"arn:aws:events:{region}:{account}:rule/{rule}"
    return [Check(action, arn) for action in ACTIONS]


def install() -> None:
    aws_error = require("moto.core.exceptions", "AWSError", "render an AccessDeniedException of Step Functions")

    class AccessDenied(aws_error):  # type: ignore[misc, valid-type]
        TYPE = "AccessDeniedException"
        STATUS = 400

    def check(backend: Any, definition: str | None, role_arn: str | None) -> None:
        if not iam.enforcing() or not definition or not role_arn:
            return
        for rule in rules_needed(definition):
            try:
                denied = iam.first_denied(role_arn, "states.amazonaws.com", checks(backend.region_name, backend.account_id, rule))
            except iam.RoleNotAssumable:
                return  # an execution fails on it, naming the role
            if denied is not None:
                raise AccessDenied(f"'{role_arn}' is not authorized to create managed-rule.")

    @hook(
        "moto.stepfunctions.parser.models",
        "StepFunctionsParserBackend.create_state_machine",
        "a .sync task of a service followed by a managed rule needs the role to manage that rule, as on AWS",
    )
    def create_state_machine(original: Any, backend: Any, name: str, definition: str, roleArn: str, *args: Any, **kwargs: Any) -> Any:
        check(backend, definition, roleArn)
        return original(backend, name, definition, roleArn, *args, **kwargs)

    @hook(
        "moto.stepfunctions.parser.models",
        "StepFunctionsParserBackend.update_state_machine",
        "a .sync task of a service followed by a managed rule needs the role to manage that rule, as on AWS",
    )
    def update_state_machine(original: Any, backend: Any, arn: str, definition: Any = None, role_arn: Any = None, *args: Any, **kwargs: Any) -> Any:
        if definition or role_arn:
            current = backend.describe_state_machine(arn)
            check(backend, definition or current.definition, role_arn or current.roleArn)
        return original(backend, arn, definition, role_arn, *args, **kwargs)
