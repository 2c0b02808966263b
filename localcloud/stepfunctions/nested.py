"""Nested executions (``arn:aws:states:::states:startExecution.sync`` and ``.sync:2``) as on AWS.

moto's interpreter has the flow: it starts the child with the parent role's credentials (with
``--enforce-iam``: ``states:StartExecution`` on the child machine), polls it with
``DescribeExecution`` (``states:DescribeExecution`` on the child's executions), returns its
output (parsed JSON with ``.sync:2``) and fails the task with ``States.TaskFailed`` when the child
does not succeed. What it lacks, added here:

- **The integration's field names.** The optimized integration takes and gives the API's fields
  in PascalCase (``StateMachineArn``, ``Input``, ``Name``; ``ExecutionArn``, ``StartDate``, and for
  ``.sync`` the child's description: ``Status``, ``Output``, ``InputDetails.Included``...), dates as
  epoch milliseconds. moto hands the PascalCase parameters to boto3 as they are (which refuses
  them: every ``states:startExecution`` task, ``.sync`` or not, failed with ``States.Runtime``)
  and returns boto3's camelCase answer.
  A refused call fails the task with ``StepFunctions.<code>`` (``StepFunctions.AccessDeniedException``,
  ``StepFunctions.ExecutionAlreadyExistsException``), not moto's ``...ExceptionException``.

- **The managed rule.** AWS tracks a ``.sync`` child through the EventBridge managed rule
  ``StepFunctionsGetEventsForStepFunctionsExecutionRule``, which it creates with the parent
  machine's role: CreateStateMachine and UpdateStateMachine of a definition with such a task are
  refused (``AccessDeniedException: '<role>' is not authorized to create managed-rule.``) unless
  the role allows ``events:PutTargets``, ``events:PutRule`` and ``events:DescribeRule`` on
  ``arn:aws:events:<region>:<account>:rule/StepFunctionsGetEventsForStepFunctionsExecutionRule``.
  Checked with IAM enforced, as every IAM check of the local cloud.
- **Stopping the child.** When a ``.sync`` task ends while its child still runs (the parent was
  stopped, timed out, or left the state), Step Functions stops the child (``StopExecution``, with
  the parent role's credentials: ``states:StopExecution`` on the child's executions).
"""

from __future__ import annotations

import importlib
import json
import logging
from collections.abc import Iterator
from datetime import datetime
from typing import Any

from localcloud import iam
from localcloud.iam.actions import Check
from localcloud.moto_hooks import hook, require

log = logging.getLogger("localcloud.stepfunctions")

SFN_SERVICE = "moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service_sfn"
MANAGED_RULE = "StepFunctionsGetEventsForStepFunctionsExecutionRule"
MANAGED_RULE_ACTIONS = ("events:PutTargets", "events:PutRule", "events:DescribeRule")
_SYNC_RESOURCES = ("arn:aws:states:::states:startExecution.sync", "arn:aws:states:::states:startExecution.sync:2")


def _states(node: Any) -> Iterator[dict[str, Any]]:
    """Every state of a definition, in Parallel branches and Map processors too."""
    if not isinstance(node, dict):
        return
    for state in (node.get("States") or {}).values():
        if not isinstance(state, dict):
            continue
        yield state
        for branch in state.get("Branches") or []:
            yield from _states(branch)
        for key in ("Iterator", "ItemProcessor"):
            yield from _states(state.get(key))


def starts_sync_executions(definition: str) -> bool:
    """Whether a definition has a Task that starts a state machine and waits for it (.sync, .sync:2)."""
    try:
        document = json.loads(definition)
    except (TypeError, ValueError):
        return False
    return any(state.get("Type") == "Task" and state.get("Resource") in _SYNC_RESOURCES for state in _states(document))


def managed_rule_checks(region: str, account: str) -> list[Check]:
    rule = f"arn:aws:events:{region}:{account}:rule/{MANAGED_RULE}"
    return [Check(action, rule) for action in MANAGED_RULE_ACTIONS]


_PAYLOADS = ("input", "output")  # the execution's own data: passed on as it is


def pascal(value: Any) -> Any:
    """An API answer as the optimized integration gives it: PascalCase keys, epoch-ms dates."""
    if isinstance(value, dict):
        return {(k[:1].upper() + k[1:]): v if k in _PAYLOADS else pascal(v) for k, v in value.items()}
    if isinstance(value, list):
        return [pascal(v) for v in value]
    if isinstance(value, datetime):
        return int(value.timestamp() * 1000)
    return value


def install() -> None:
    _install_field_names()
    aws_error = require("moto.core.exceptions", "AWSError", "render an AccessDeniedException of Step Functions")

    class AccessDenied(aws_error):  # type: ignore[misc, valid-type]
        TYPE = "AccessDeniedException"
        STATUS = 400

    def check_managed_rule(backend: Any, definition: str | None, role_arn: str | None) -> None:
        if not iam.enforcing() or not definition or not role_arn or not starts_sync_executions(definition):
            return
        try:
            denied = iam.first_denied(role_arn, "states.amazonaws.com", managed_rule_checks(backend.region_name, backend.account_id))
        except iam.RoleNotAssumable:
            return  # an execution fails on it, naming the role
        if denied is not None:
            raise AccessDenied(f"'{role_arn}' is not authorized to create managed-rule.")

    @hook(
        "moto.stepfunctions.parser.models",
        "StepFunctionsParserBackend.create_state_machine",
        "a .sync nested execution needs the role to manage the EventBridge managed rule, as on AWS",
    )
    def create_state_machine(original: Any, backend: Any, name: str, definition: str, roleArn: str, *args: Any, **kwargs: Any) -> Any:
        check_managed_rule(backend, definition, roleArn)
        return original(backend, name, definition, roleArn, *args, **kwargs)

    @hook(
        "moto.stepfunctions.parser.models",
        "StepFunctionsParserBackend.update_state_machine",
        "a .sync nested execution needs the role to manage the EventBridge managed rule, as on AWS",
    )
    def update_state_machine(original: Any, backend: Any, arn: str, definition: Any = None, role_arn: Any = None, *args: Any, **kwargs: Any) -> Any:
        if definition or role_arn:
            current = backend.describe_state_machine(arn)
            check_managed_rule(backend, definition or current.definition, role_arn or current.roleArn)
        return original(backend, arn, definition, role_arn, *args, **kwargs)

    @hook(
        SFN_SERVICE,
        "StateTaskServiceSfn._eval_integration_pattern",
        "a .sync task that ends while its child execution runs stops the child, as on AWS",
    )
    def eval_integration_pattern(
        original: Any, task: Any, env: Any, resource_runtime_part: Any, normalised_parameters: Any, state_credentials: Any
    ) -> None:
        submitted = env.stack[-1] if env.stack else None
        child = submitted.get("ExecutionArn") if isinstance(submitted, dict) else None
        try:
            original(
                task,
                env=env,
                resource_runtime_part=resource_runtime_part,
                normalised_parameters=normalised_parameters,
                state_credentials=state_credentials,
            )
        finally:
            if child:
                _stop_if_running(child, resource_runtime_part.region, state_credentials)


def _stop_if_running(execution_arn: str, region: str, state_credentials: Any) -> None:
    # the module's boto_client_for at call time: with IAM enforced, the one carrying the role's credentials
    boto_client_for = importlib.import_module(SFN_SERVICE).boto_client_for
    try:
        sfn = boto_client_for(region=region, service="stepfunctions", state_credentials=state_credentials)
        if sfn.describe_execution(executionArn=execution_arn)["status"] != "RUNNING":
            return
        sfn.stop_execution(executionArn=execution_arn)
        log.info("stopped %s: the task of its parent execution ended", execution_arn)
    except Exception as e:  # best effort, as the parent has already ended its task
        log.warning("stopping the child execution %s failed: %s", execution_arn, e)


def _install_field_names() -> None:
    @hook(SFN_SERVICE, "StateTaskServiceSfn._normalise_parameters", "PascalCase task parameters → the API's fields")
    def normalise_parameters(original: Any, task: Any, parameters: dict, *args: Any, **kwargs: Any) -> None:
        original(task, parameters, *args, **kwargs)
        for key in list(parameters):
            if key[:1].isupper():
                parameters[key[:1].lower() + key[1:]] = parameters.pop(key)

    @hook(SFN_SERVICE, "StateTaskServiceSfn._normalise_response", "the API's answer → PascalCase task result")
    def normalise_response(original: Any, task: Any, response: Any, *args: Any, **kwargs: Any) -> None:
        original(task, response, *args, **kwargs)
        if isinstance(response, dict):
            fresh = pascal(response)
            response.clear()
            response.update(fresh)

    @hook(SFN_SERVICE, "StateTaskServiceSfn._from_error", "StepFunctions.<code>, without a doubled Exception suffix")
    def from_error(original: Any, task: Any, env: Any, ex: Exception) -> Any:
        failure = original(task, env=env, ex=ex)
        name = getattr(failure.error_name, "error_name", None)
        if isinstance(name, str) and name.endswith("ExceptionException"):
            fixed = name[: -len("Exception")]
            failure.error_name.error_name = fixed
            details = (failure.event_details or {}).get("taskFailedEventDetails")
            if isinstance(details, dict):
                details["error"] = fixed
        return failure
