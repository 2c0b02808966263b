"""Step Functions' optimized CodeBuild integration, which moto's interpreter lists as unsupported.

- ``arn:aws:states:::codebuild:startBuild``: StartBuild with the task's PascalCase parameters
  (``ProjectName``, ``SourceTypeOverride``, ``SourceLocationOverride``,
  ``EnvironmentVariablesOverride`` [{Name, Value, Type}], ``ArtifactsOverride`` {Type, Location, Path,
  Name, NamespaceType, Packaging}, ``BuildspecOverride``, ``TimeoutInMinutesOverride``...); the result
  is ``{"Build": {...}}`` in PascalCase (``Id``, ``Arn``, ``BuildStatus``, ``Phases``, ``Logs``
  {``GroupName``, ``StreamName``, ``DeepLink``}...), dates as epoch milliseconds.
- ``arn:aws:states:::codebuild:startBuild.sync``: the same, then waits for the build to end. A
  build that SUCCEEDED is the result (``{"Build": {...}}``); any other end (FAILED, FAULT,
  TIMED_OUT, STOPPED) fails the task with ``States.TaskFailed``, its Cause the JSON of
  ``{"Build": {...}}`` as it ended. When the task ends while the build runs (the execution was
  stopped or timed out), the build is stopped.
- ``codebuild:stopBuild`` (``Id``) and ``codebuild:batchGetBuilds`` (``Ids``).
- Calls are made with the state machine role's credentials (IAM enforced: ``codebuild:StartBuild``,
  ``codebuild:BatchGetBuilds``, ``codebuild:StopBuild`` on the project's ARN); a refused call fails
  the task with ``CodeBuild.<error code>``.
"""

from __future__ import annotations

import importlib
import logging
from typing import Any

from botocore.exceptions import ClientError

from localcloud.moto_hooks import hook, require
from localcloud.stepfunctions.nested import pascal

log = logging.getLogger("localcloud.codebuild")

_PARSER = "moto.stepfunctions.parser"
_SERVICE = f"{_PARSER}.asl.component.state.exec.state_task.service"
_BOTO_CLIENT = f"{_PARSER}.asl.utils.boto_client"
_PARAMETERS = {
    "startbuild": {
        "ProjectName", "ArtifactsOverride", "BuildspecOverride", "BuildStatusConfigOverride", "CacheOverride",
        "CertificateOverride", "ComputeTypeOverride", "DebugSessionEnabled", "EncryptionKeyOverride",
        "EnvironmentTypeOverride", "EnvironmentVariablesOverride", "GitCloneDepthOverride",
        "GitSubmodulesConfigOverride", "IdempotencyToken", "ImageOverride", "ImagePullCredentialsTypeOverride",
        "InsecureSslOverride", "LogsConfigOverride", "PrivilegedModeOverride", "QueuedTimeoutInMinutesOverride",
        "RegistryCredentialOverride", "ReportBuildStatusOverride", "SecondaryArtifactsOverride",
        "SecondarySourcesOverride", "SecondarySourcesVersionOverride", "ServiceRoleOverride", "SourceAuthOverride",
        "SourceLocationOverride", "SourceTypeOverride", "SourceVersion", "TimeoutInMinutesOverride",
    },
    "stopbuild": {"Id"},
    "batchgetbuilds": {"Ids"},
}


def camel(value: Any) -> Any:
    """The task's PascalCase parameters as the API's camelCase fields."""
    if isinstance(value, dict):
        return {(k[:1].lower() + k[1:]): camel(v) for k, v in value.items()}
    if isinstance(value, list):
        return [camel(v) for v in value]
    return value


def _client(region: str, state_credentials: Any) -> Any:
    # the module's boto_client_for at call time: with IAM enforced, the one carrying the role's credentials
    boto_client_for = importlib.import_module(_BOTO_CLIENT).boto_client_for
    return boto_client_for(region=region, service="codebuild", state_credentials=state_credentials)


def install(service: Any) -> None:
    callback_cls = require(
        f"{_SERVICE}.state_task_service_callback", "StateTaskServiceCallback", "the base of services with .sync"
    )
    condition = require(f"{_SERVICE}.resource", "ResourceCondition", "Sync: a .sync task")
    failure_mod = f"{_PARSER}.asl.component.common.error_name.failure_event"
    failure_event = require(failure_mod, "FailureEvent", "a task's failure")
    failure_exception = require(failure_mod, "FailureEventException", "raised to fail a task")
    states_error = require(f"{_PARSER}.asl.component.common.error_name.states_error_name", "StatesErrorName", "States.*")
    states_error_type = require(
        f"{_PARSER}.asl.component.common.error_name.states_error_name_type", "StatesErrorNameType", "StatesTaskFailed"
    )
    custom_error = require(f"{_PARSER}.asl.component.common.error_name.custom_error_name", "CustomErrorName", "CodeBuild.*")
    api = importlib.import_module(f"{_PARSER}.api")
    require(f"{_PARSER}.api", "TaskFailedEventDetails", "a TaskFailed event's details")
    require(f"{_PARSER}.api", "HistoryEventType", "TaskFailed")
    event_details = require(f"{_PARSER}.asl.eval.event.event_detail", "EventDetails", "a history event's details")
    to_json_str = require(f"{_PARSER}.asl.utils.encoding", "to_json_str", "the Cause's JSON, as moto writes causes")
    require(_BOTO_CLIENT, "boto_client_for", "the interpreter's clients (with IAM enforced: the role's credentials)")

    def task_failed(task: Any, env: Any, error: Any, error_text: str, cause: str) -> Any:
        return failure_event(
            env=env,
            error_name=error,
            event_type=api.HistoryEventType.TaskFailed,
            event_details=event_details(
                taskFailedEventDetails=api.TaskFailedEventDetails(
                    error=error_text,
                    cause=cause,
                    resource=task._get_sfn_resource(),
                    resourceType=task._get_sfn_resource_type(),
                )
            ),
        )

    class StateTaskServiceCodeBuild(callback_cls):  # type: ignore[misc, valid-type]
        def __init__(self) -> None:
            # WaitForTaskToken only because moto's base waits on a task token's endpoint in every
            # integration pattern; a .waitForTaskToken codebuild task is refused below, as on AWS
            super().__init__(supported_integration_patterns={condition.Sync, condition.WaitForTaskToken})

        def _get_supported_parameters(self) -> set[str] | None:
            if self.resource.condition not in (None, condition.Sync):
                return None
            if self.resource.condition == condition.Sync and self.resource.api_action.lower() != "startbuild":
                return None
            return _PARAMETERS.get(self.resource.api_action.lower())

        def _from_error(self, env: Any, ex: Exception) -> Any:
            if isinstance(ex, ClientError):
                code = ex.response["Error"]["Code"]
                meta = ex.response.get("ResponseMetadata", {})
                name = f"CodeBuild.{code}"
                cause = (
                    f"{ex.response['Error'].get('Message')} (Service: AWSCodeBuild; Status Code: "
                    f"{meta.get('HTTPStatusCode')}; Error Code: {code}; Request ID: {meta.get('RequestId')}; Proxy: null)"
                )
                return task_failed(self, env, custom_error(name), name, cause)
            return super()._from_error(env=env, ex=ex)

        def _eval_service_task(self, env: Any, resource_runtime_part: Any, normalised_parameters: dict, state_credentials: Any) -> None:
            client = _client(resource_runtime_part.region, state_credentials)
            action = self._get_boto_service_action()
            response = getattr(client, action)(**camel(normalised_parameters))
            response.pop("ResponseMetadata", None)
            env.stack.append(pascal(response))

        def _build_sync_resolver(self, env: Any, resource_runtime_part: Any, normalised_parameters: dict, state_credentials: Any) -> Any:
            client = _client(resource_runtime_part.region, state_credentials)
            submitted = env.stack.pop()
            build_id = submitted["Build"]["Id"]

            def resolve() -> Any:
                builds = client.batch_get_builds(ids=[build_id]).get("builds") or []
                if not builds or not builds[0].get("buildComplete"):
                    return None
                result = {"Build": pascal(builds[0])}
                if builds[0].get("buildStatus") == "SUCCEEDED":
                    return result
                error = states_error(typ=states_error_type.StatesTaskFailed)
                raise failure_exception(
                    task_failed(self, env, error, states_error_type.StatesTaskFailed.to_name(), to_json_str(result))
                )

            return resolve

        def _eval_integration_pattern(self, env: Any, resource_runtime_part: Any, normalised_parameters: dict, state_credentials: Any) -> None:
            submitted = env.stack[-1] if env.stack else None
            build_id = (submitted.get("Build") or {}).get("Id") if isinstance(submitted, dict) else None
            try:
                super()._eval_integration_pattern(env, resource_runtime_part, normalised_parameters, state_credentials)
            finally:
                if build_id:
                    _stop_if_running(build_id, resource_runtime_part.region, state_credentials)

    @hook(
        f"{_PARSER}.asl.component.state.exec.state_task.state_task_factory",
        "state_task_service_for",
        "codebuild tasks run through localcloud's optimized CodeBuild integration",
    )
    def state_task_service_for(original: Any, service_name: str) -> Any:
        if service_name == "codebuild":
            return StateTaskServiceCodeBuild()
        return original(service_name=service_name)


def _stop_if_running(build_id: str, region: str, state_credentials: Any) -> None:
    try:
        client = _client(region, state_credentials)
        builds = client.batch_get_builds(ids=[build_id]).get("builds") or []
        if builds and not builds[0].get("buildComplete"):
            client.stop_build(id=build_id)
            log.info("stopped build %s: the task that waited for it ended", build_id)
    except Exception as e:  # best effort, as the task has already ended
        log.warning("stopping build %s failed: %s", build_id, e)
