"""Why a stage's stack operation failed, read from CloudFormation as it tells it: the first resource
that failed in the stack's latest operation (logical id, type, reason), and, for a stack CloudFormation
could not roll back, what the user has to do about it."""

from __future__ import annotations

from typing import Any

SUCCEEDED = ("CREATE_COMPLETE", "UPDATE_COMPLETE")
# a stack in one of these takes a change set (CloudFormation refuses updates in any other state)
UPDATABLE = ("CREATE_COMPLETE", "UPDATE_COMPLETE", "UPDATE_ROLLBACK_COMPLETE", "IMPORT_COMPLETE",
             "IMPORT_ROLLBACK_COMPLETE")
STACK_TYPE = "AWS::CloudFormation::Stack"
_OPERATION_START = ("CREATE_IN_PROGRESS", "UPDATE_IN_PROGRESS", "DELETE_IN_PROGRESS", "IMPORT_IN_PROGRESS")
# resources CloudFormation stops because another one failed: never the cause
_CANCELLED = ("Resource creation cancelled", "Resource update cancelled")
LIMIT = 1000  # characters of one reason kept on a deployment (an app's stack writes the text)


def cut(text: str, limit: int = LIMIT) -> str:
    return text if len(text) <= limit else text[:limit] + f"… ({len(text) - limit} more characters)"


def first_failure(events: list[dict[str, Any]]) -> dict[str, str] | None:
    """The first resource that failed in the stack's latest operation: ``{logicalId, type, reason}``.

    ``events`` are DescribeStackEvents' (newest first); the latest operation starts at the newest
    stack-level ``*_IN_PROGRESS`` event that is not a rollback or clean-up."""
    operation: list[dict[str, Any]] = []
    for event in events:
        operation.append(event)
        if event.get("ResourceType") == STACK_TYPE and event.get("ResourceStatus") in _OPERATION_START:
            break
    for event in reversed(operation):  # oldest first
        status, reason = event.get("ResourceStatus", ""), event.get("ResourceStatusReason") or ""
        if event.get("ResourceType") == STACK_TYPE or not status.endswith("_FAILED") or not reason:
            continue
        if any(reason.startswith(c) for c in _CANCELLED):
            continue
        return {"logicalId": cut(event.get("LogicalResourceId", ""), 255), "type": cut(event.get("ResourceType", ""), 255),
                "reason": cut(reason)}
    return None


def describe_cause(cause: dict[str, Any]) -> str:
    """A failure's cause as one sentence for the deployment's record."""
    parts = [f"stack {cause['stackStatus']}"] if cause.get("stackStatus") else []
    if cause.get("logicalId"):
        parts.append(f"{cause['logicalId']} ({cause.get('type') or 'resource'}) failed: {cause.get('reason', '')}")
    elif cause.get("stackReason"):
        parts.append(cause["stackReason"])
    if cause.get("changeSetReason"):
        parts.append(f"change set: {cause['changeSetReason']}")
    if cause.get("advice"):
        parts.append(cause["advice"])
    return "; ".join(parts) or "the stack operation failed and CloudFormation gave no reason"


def rollback_failed_advice(stack: str, failed_resources: list[str]) -> str:
    """What to do with a stack in UPDATE_ROLLBACK_FAILED."""
    skip = f" --resources-to-skip {' '.join(failed_resources)}" if failed_resources else ""
    named = f" ({', '.join(failed_resources)})" if failed_resources else ""
    return (
        f"CloudFormation could not roll stack {stack} back and refuses updates until its rollback is "
        f"continued: fix the resources that failed{named} and run `aws cloudformation continue-update-rollback "
        f"--stack-name {stack}`, or skip them with `aws cloudformation continue-update-rollback --stack-name "
        f"{stack}{skip}` (skipped resources keep their current state); then deploy again"
    )
