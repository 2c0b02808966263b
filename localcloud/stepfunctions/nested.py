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

- **The managed rule** ``StepFunctionsGetEventsForStepFunctionsExecutionRule`` that AWS follows the
  child with: checked at CreateStateMachine/UpdateStateMachine by ``managed_rules``.
- **Stopping the child.** When a ``.sync`` task ends while its child still runs (the parent was
  stopped, timed out, or left the state), Step Functions stops the child (``StopExecution``, with
  the parent role's credentials: ``states:StopExecution`` on the child's executions).
"""

from __future__ import annotations

import importlib
import logging
from datetime import datetime
from typing import Any

from localcloud.moto_hooks import hook

from . import managed_rules

log = logging.getLogger("localcloud.stepfunctions")

SFN_SERVICE = "moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service_sfn"
_SYNC_RESOURCES = managed_rules.RULES["StepFunctionsGetEventsForStepFunctionsExecutionRule"]


def starts_sync_executions(definition: str) -> bool:
    """Whether a definition has a Task that starts a state machine and waits for it (.sync, .sync:2)."""
    return "StepFunctionsGetEventsForStepFunctionsExecutionRule" in managed_rules.rules_needed(definition)


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
    managed_rules.install()

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
