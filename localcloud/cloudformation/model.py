"""Stacks, their resources, events and change sets, as this provisioner keeps them (in memory),
and their shapes in CloudFormation's API (the dicts moto's serializer turns into the response)."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from .prepare import Prepared

STACK_TYPE = "AWS::CloudFormation::Stack"

STABLE = {
    "CREATE_COMPLETE",
    "UPDATE_COMPLETE",
    "UPDATE_ROLLBACK_COMPLETE",
}
UPDATABLE = STABLE


def now() -> datetime:
    return datetime.now(UTC)


class ApiError(Exception):
    """An error answered to the caller: CloudFormation's error code and message."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code
        self.message = message


def validation(message: str) -> ApiError:
    return ApiError("ValidationError", message)


@dataclass
class ResourceState:
    logical_id: str
    type: str
    physical_id: str | None
    status: str
    props: dict[str, Any] = field(default_factory=dict)  # resolved properties, as applied
    attrs: dict[str, Any] = field(default_factory=dict)
    deletion_policy: str = "Delete"
    reason: str = ""
    timestamp: datetime = field(default_factory=now)


@dataclass
class Stack:
    stack_id: str
    name: str
    status: str
    body: str  # the template as submitted
    parameters: dict[str, str]
    tags: dict[str, str]
    capabilities: list[str]
    base_dir: Path | None
    reason: str = ""
    created: datetime = field(default_factory=now)
    updated: datetime | None = None
    deleted: datetime | None = None
    plan: Prepared | None = None
    resources: dict[str, ResourceState] = field(default_factory=dict)
    outputs: list[dict[str, Any]] = field(default_factory=list)
    events: list[dict[str, Any]] = field(default_factory=list)
    notification_arns: list[str] = field(default_factory=list)
    disable_rollback: bool = False
    on_failure: str = "ROLLBACK"
    timeout_in_minutes: int | None = None
    change_set_id: str | None = None
    # what an update in progress replaced: (body, base_dir, tags, capabilities, parameters)
    previous: tuple[Any, ...] | None = None
    role_arn: str | None = None  # the service role CloudFormation acts with (stack_role.py)
    # a failed update's rollback (recovery.py): why, and in UPDATE_ROLLBACK_FAILED what is left to undo
    rollback_reason: str = ""
    rollback_pending: list[Any] = field(default_factory=list)
    rollback_old_states: dict[str, Any] = field(default_factory=dict)

    @property
    def live(self) -> bool:
        return self.status != "DELETE_COMPLETE"

    @property
    def in_progress(self) -> bool:
        return self.status.endswith("_IN_PROGRESS") and self.status != "REVIEW_IN_PROGRESS"

    def add_event(
        self,
        logical_id: str,
        type_name: str,
        physical_id: str | None,
        status: str,
        reason: str = "",
        properties: dict[str, Any] | None = None,
    ) -> None:
        event: dict[str, Any] = {
            "StackId": self.stack_id,
            "EventId": f"{logical_id}-{uuid.uuid4()}",
            "StackName": self.name,
            "LogicalResourceId": logical_id,
            "PhysicalResourceId": physical_id or "",
            "ResourceType": type_name,
            "Timestamp": now(),
            "ResourceStatus": status,
        }
        if reason:
            event["ResourceStatusReason"] = reason
        if properties is not None:
            event["ResourceProperties"] = json.dumps(properties, default=str)
        self.events.append(event)

    def set_status(self, status: str, reason: str = "") -> None:
        self.status = status
        self.reason = reason
        self.add_event(self.name, STACK_TYPE, self.stack_id, status, reason)

    # ---- API shapes ---------------------------------------------------------------------
    def no_echo(self, key: str) -> bool:
        if self.plan is not None:
            return self.plan.no_echo(key)
        return False

    def describe(self) -> dict[str, Any]:
        """DescribeStacks' shape: the summary's fields, then the stack's details."""
        out = self.summary()
        out["Description"] = out.pop("TemplateDescription")
        out.update(
            {
                "Parameters": [
                    {"ParameterKey": k, "ParameterValue": "****" if self.no_echo(k) else v}
                    for k, v in self.parameters.items()
                ],
                "DisableRollback": self.disable_rollback,
                "NotificationARNs": self.notification_arns,
                "Capabilities": self.capabilities,
                "Outputs": self.outputs,
                "Tags": self.tags,  # moto's serializer turns the dict into [{Key, Value}]
                "EnableTerminationProtection": False,
            }
        )
        if self.change_set_id:
            out["ChangeSetId"] = self.change_set_id
        if self.role_arn:
            out["RoleARN"] = self.role_arn
        if self.timeout_in_minutes:
            out["TimeoutInMinutes"] = self.timeout_in_minutes
        return out

    def summary(self) -> dict[str, Any]:
        """ListStacks' shape."""
        out: dict[str, Any] = {
            "StackId": self.stack_id,
            "StackName": self.name,
            "TemplateDescription": self.plan.description if self.plan else "",
            "CreationTime": self.created,
            "StackStatus": self.status,
            "DriftInformation": {"StackDriftStatus": "NOT_CHECKED"},
        }
        if self.reason:
            out["StackStatusReason"] = self.reason
        if self.updated:
            out["LastUpdatedTime"] = self.updated
        if self.deleted:
            out["DeletionTime"] = self.deleted
        return out

    def resource(self, state: ResourceState, detail: bool = False) -> dict[str, Any]:
        out: dict[str, Any] = {
            "StackName": self.name,
            "StackId": self.stack_id,
            "LogicalResourceId": state.logical_id,
            "PhysicalResourceId": state.physical_id or "",
            "ResourceType": state.type,
            "ResourceStatus": state.status,
            "DriftInformation": {"StackResourceDriftStatus": "NOT_CHECKED"},
        }
        out["LastUpdatedTimestamp" if detail else "Timestamp"] = state.timestamp
        if state.reason:
            out["ResourceStatusReason"] = state.reason
        if detail and self.plan and state.logical_id in self.plan.active:
            out["Metadata"] = json.dumps(self.plan.active[state.logical_id].get("Metadata", {}))
        return out

    def resource_summary(self, state: ResourceState) -> dict[str, Any]:
        out = self.resource(state, detail=True)
        for key in ("StackName", "StackId", "Metadata"):
            out.pop(key, None)
        return out


@dataclass
class ChangeSet:
    change_set_id: str
    name: str
    stack: Stack
    type: str  # CREATE | UPDATE
    body: str
    parameters: dict[str, str]
    tags: dict[str, str]
    capabilities: list[str]
    description: str
    base_dir: Path | None
    status: str = "CREATE_PENDING"
    execution_status: str = "UNAVAILABLE"
    reason: str = ""
    plan: Prepared | None = None
    changes: list[dict[str, Any]] = field(default_factory=list)
    created: datetime = field(default_factory=now)
    role_arn: str | None = None  # the role the stack is to be provisioned with (stack_role.py)

    def describe(self) -> dict[str, Any]:
        """DescribeChangeSet's shape: the summary's fields, then the change set's details."""
        no_echo = self.plan.no_echo if self.plan else (lambda k: False)
        out = self.summary()
        out.update(
            {
                "Parameters": {k: "****" if no_echo(k) else v for k, v in self.parameters.items()},
                "NotificationARNs": [],
                "Capabilities": self.capabilities,
                "Tags": [{"Key": k, "Value": v} for k, v in self.tags.items()],
                "Changes": [{**c, "ChangeSetId": self.change_set_id} for c in self.changes],
            }
        )
        return out

    def summary(self) -> dict[str, Any]:
        """ListChangeSets' shape."""
        out = {
            "StackId": self.stack.stack_id,
            "StackName": self.stack.name,
            "ChangeSetId": self.change_set_id,
            "ChangeSetName": self.name,
            "ExecutionStatus": self.execution_status,
            "Status": self.status,
            "CreationTime": self.created,
            "IncludeNestedStacks": False,
        }
        if self.description:
            out["Description"] = self.description
        if self.reason:
            out["StatusReason"] = self.reason
        return out
