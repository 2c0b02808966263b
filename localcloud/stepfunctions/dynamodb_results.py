"""The optimized DynamoDB integration's result, as Step Functions returns it.

``arn:aws:states:::dynamodb:putItem`` (getItem, updateItem, deleteItem) returns the API's response
fields and the SDK's metadata — ``SdkHttpMetadata`` (the response's headers and status code) and
``SdkResponseMetadata`` (its request id) — so ``{}`` for a plain PutItem is never what a state
sees there. (The AWS SDK integration, ``arn:aws:states:::aws-sdk:dynamodb:putItem``, returns the
API's response fields only: ``{}`` for a plain PutItem, as moto already answers.) moto's
interpreter drops the metadata; this puts it back from the call's own response.
"""

from __future__ import annotations

import importlib
from typing import Any

from localcloud.moto_hooks import hook, require

DYNAMODB_SERVICE = "moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service_dynamodb"


def header_name(lowered: str) -> str:
    """A header's name as the SDK shows it (botocore lowers them): ``Content-Type``, ``x-amzn-RequestId``."""
    if lowered == "x-amzn-requestid":
        return "x-amzn-RequestId"
    if lowered.startswith("x-amz"):
        return lowered
    return "-".join(part.capitalize() for part in lowered.split("-"))


def sdk_metadata(response_metadata: dict[str, Any]) -> dict[str, Any]:
    """``SdkHttpMetadata`` and ``SdkResponseMetadata`` from a boto3 ``ResponseMetadata``."""
    headers = {header_name(str(k).lower()): str(v) for k, v in (response_metadata.get("HTTPHeaders") or {}).items()}
    request_id = response_metadata.get("RequestId") or headers.get("x-amzn-RequestId", "")
    return {
        "SdkHttpMetadata": {
            "AllHttpHeaders": {k: [v] for k, v in headers.items()},
            "HttpHeaders": headers,
            "HttpStatusCode": int(response_metadata.get("HTTPStatusCode") or 200),
        },
        "SdkResponseMetadata": {"RequestId": request_id},
    }


def install() -> None:
    require(DYNAMODB_SERVICE, "boto_client_for", "the task's client, with the state machine's role (iam hooks it)")
    module = importlib.import_module(DYNAMODB_SERVICE)

    @hook(DYNAMODB_SERVICE, "StateTaskServiceDynamoDB._eval_service_task", "the SDK's metadata in the result")
    def eval_service_task(original, task, env, resource_runtime_part, normalised_parameters, state_credentials):  # noqa: ARG001
        client = module.boto_client_for(
            service=task._get_boto_service_name(),
            region=resource_runtime_part.region,
            state_credentials=state_credentials,
        )
        response = getattr(client, task._get_boto_service_action())(**normalised_parameters)
        metadata = response.pop("ResponseMetadata", None) or {}
        response.update(sdk_metadata(metadata))
        env.stack.append(response)
