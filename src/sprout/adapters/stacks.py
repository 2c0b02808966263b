"""The stage's CloudFormation stack: deploy a packaged template through a change set, follow it,
and read which Lambda version each function's ``live`` alias points at."""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass

import boto3
from botocore.exceptions import ClientError

from sprout.domain.errors import DeployError
from sprout.domain.pipeline import stack_name

__all__ = ["LIVE_ALIAS", "Progress", "StageStacks", "stack_name"]

LIVE_ALIAS = "live"
_NO_CHANGES = ("didn't contain changes", "No updates are to be performed")


@dataclass(frozen=True)
class Progress:
    """Where a change set stands: ``IN_PROGRESS``, ``SUCCEEDED`` or ``FAILED`` (with ``reason``)."""

    status: str
    reason: str | None = None
    changed: bool = True


class StageStacks:
    def __init__(self, cloudformation=None, lambda_client=None, clock=time.monotonic, sleep=time.sleep):
        self._cfn = cloudformation or boto3.client("cloudformation")
        self._lambda = lambda_client or boto3.client("lambda")
        self._clock = clock
        self._sleep = sleep

    def start(self, stack: str, template_url: str, parameters: dict[str, str], role_arn: str | None) -> str:
        """Create (not execute) a change set that brings ``stack`` to the template; returns its id."""
        status = self._status(stack)
        change_set_type = "CREATE" if status in (None, "REVIEW_IN_PROGRESS") else "UPDATE"
        if status == "ROLLBACK_COMPLETE":
            raise DeployError(
                f"stack {stack} is in ROLLBACK_COMPLETE after a failed first deploy; delete it before deploying again"
            )
        kwargs = {
            "StackName": stack,
            "TemplateURL": template_url,
            "ChangeSetName": f"sprout-{uuid.uuid4().hex[:16]}",
            "ChangeSetType": change_set_type,
            "Parameters": [{"ParameterKey": k, "ParameterValue": v} for k, v in parameters.items()],
            "Capabilities": ["CAPABILITY_IAM", "CAPABILITY_NAMED_IAM", "CAPABILITY_AUTO_EXPAND"],
            "Tags": [{"Key": "sprout:stack", "Value": stack}],
        }
        if role_arn:
            kwargs["RoleARN"] = role_arn
        try:
            return self._cfn.create_change_set(**kwargs)["Id"]
        except ClientError as e:
            raise DeployError(f"stack {stack}: {e.response['Error']['Message']}") from e

    def progress(self, change_set_id: str) -> Progress:
        """Advance the change set one step (execute it once it is ready) and say where it stands."""
        try:
            cs = self._cfn.describe_change_set(ChangeSetName=change_set_id)
        except ClientError as e:
            raise DeployError(f"change set {change_set_id}: {e.response['Error']['Message']}") from e
        status, execution = cs["Status"], cs.get("ExecutionStatus")
        if status == "FAILED":
            reason = cs.get("StatusReason", "")
            if any(marker in reason for marker in _NO_CHANGES):
                return Progress("SUCCEEDED", reason, changed=False)
            return Progress("FAILED", reason or "the change set failed")
        if status in ("CREATE_PENDING", "CREATE_IN_PROGRESS"):
            return Progress("IN_PROGRESS")
        if execution == "AVAILABLE":
            self._cfn.execute_change_set(ChangeSetName=change_set_id)
            return Progress("IN_PROGRESS")
        if execution in ("EXECUTE_IN_PROGRESS", "UNAVAILABLE"):
            return self._stack_progress(cs["StackId"])
        if execution in ("EXECUTE_COMPLETE", "EXECUTE_FAILED"):
            # a failed execution's why is the stack's (its reason, or its first failed resource)
            return self._stack_progress(cs["StackId"])
        return Progress("FAILED", f"change set execution {execution}: {cs.get('StatusReason', '')}".strip())

    def follow(self, change_set_id: str, budget_s: float, every_s: float = 0.2) -> Progress:
        """``progress`` again and again for up to ``budget_s`` seconds, until the change set settles.

        A Lambda task that follows briefly spares the state machine a whole Wait state (whole
        seconds) for stacks that settle quickly; slow ones go back to the state machine's loop."""
        deadline = self._clock() + budget_s
        while True:
            progress = self.progress(change_set_id)
            if progress.status != "IN_PROGRESS" or self._clock() + every_s > deadline:
                return progress
            self._sleep(every_s)

    def function_names(self, stack: str) -> dict[str, str]:
        """Function logical id -> its physical name, for the stack's Lambda functions."""
        resources = self._cfn.describe_stack_resources(StackName=stack)["StackResources"]
        return {
            r["LogicalResourceId"]: r["PhysicalResourceId"]
            for r in resources
            if r["ResourceType"] == "AWS::Lambda::Function"
        }

    def live_versions(self, stack: str) -> dict[str, str]:
        """Function logical id -> the Lambda version its ``live`` alias points at."""
        resources = self._cfn.describe_stack_resources(StackName=stack)["StackResources"]
        versions = {}
        for r in resources:
            if r["ResourceType"] != "AWS::Lambda::Function":
                continue
            try:
                alias = self._lambda.get_alias(FunctionName=r["PhysicalResourceId"], Name=LIVE_ALIAS)
            except ClientError as e:
                if e.response["Error"]["Code"] == "ResourceNotFoundException":
                    continue  # a function without AutoPublishAlias: live
                raise
            versions[r["LogicalResourceId"]] = alias["FunctionVersion"]
        return versions

    def exists(self, stack: str) -> bool:
        """Whether a stack of that name exists (and is not deleted)."""
        return self._status(stack) not in (None, "DELETE_COMPLETE")

    def _status(self, stack: str) -> str | None:
        try:
            return self._cfn.describe_stacks(StackName=stack)["Stacks"][0]["StackStatus"]
        except ClientError as e:
            if "does not exist" in e.response["Error"]["Message"]:
                return None
            raise

    def _stack_progress(self, stack_id: str) -> Progress:
        stack = self._cfn.describe_stacks(StackName=stack_id)["Stacks"][0]
        status = stack["StackStatus"]
        if status.endswith("_IN_PROGRESS"):
            return Progress("IN_PROGRESS")
        if status in ("CREATE_COMPLETE", "UPDATE_COMPLETE"):
            return Progress("SUCCEEDED")
        return Progress(
            "FAILED", f"stack {status}: {stack.get('StackStatusReason') or self._first_failure(stack_id)}"
        )

    def _first_failure(self, stack_id: str) -> str:
        events = self._cfn.describe_stack_events(StackName=stack_id)["StackEvents"]
        failed = [
            e for e in events if e["ResourceStatus"].endswith("_FAILED") and e.get("ResourceStatusReason")
        ]
        if not failed:
            return "no reason given"
        first = failed[-1]  # events are newest first
        return f"{first['LogicalResourceId']}: {first['ResourceStatusReason']}"
