"""The stage's CloudFormation stack: deploy a packaged template through a change set, follow it,
settle on what the stack did (whatever happened to the task that followed it), and read which
Lambda version each function's ``live`` alias points at. Every failure carries its cause as
CloudFormation tells it (stack_events.py)."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import boto3
from botocore.exceptions import ClientError

from sprout.domain.errors import DeployError, StackNotReady
from sprout.domain.model import LIVE_ALIAS
from sprout.domain.pipeline import stack_name
from sprout.domain.stack_events import (
    SUCCEEDED,
    UPDATABLE,
    cut,
    describe_cause,
    first_failure,
    rollback_failed_advice,
)

__all__ = ["LIVE_ALIAS", "OWNER_TAG", "Progress", "StageStacks", "stack_name"]

OWNER_TAG = "sprout:stack"  # set by Sprout on every stage stack it creates
_NO_CHANGES = ("didn't contain changes", "No updates are to be performed")


@dataclass(frozen=True)
class Progress:
    """Where a change set stands: ``IN_PROGRESS``, ``SUCCEEDED`` or ``FAILED`` (with ``reason`` and
    its ``cause``: stack status, first failed resource, change set reason, advice)."""

    status: str
    reason: str | None = None
    changed: bool = True
    cause: dict | None = None


def _failed(cause: dict, changed: bool = True) -> Progress:
    return Progress("FAILED", describe_cause(cause), changed=changed, cause=cause)


class StageStacks:
    def __init__(self, cloudformation: Any = None, lambda_client: Any = None, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self._cfn = cloudformation or boto3.client("cloudformation")
        self._lambda = lambda_client or boto3.client("lambda")
        self._clock = clock
        self._sleep = sleep

    # ---- before a change set ---------------------------------------------------------------------

    def clear_failed_first_deploy(self, stack: str, on_delete: Callable[[str], None], budget_s: float = 20.0) -> None:
        """A stack Sprout created whose first deploy failed (``ROLLBACK_COMPLETE``) holds nothing but
        its name, and CloudFormation refuses to update it: delete it (``on_delete`` says so first)
        and wait for it to go. Raises StackNotReady while it is still being deleted."""
        found = self.describe(stack)
        if found is None or found["StackStatus"] != "ROLLBACK_COMPLETE":
            return
        tags = {t.get("Key"): t.get("Value") for t in found.get("Tags") or []}
        if tags.get(OWNER_TAG) != stack:
            raise DeployError(
                f"stack {stack} is in ROLLBACK_COMPLETE and Sprout did not create it (no {OWNER_TAG} tag): "
                "delete it before deploying again"
            )
        cause = self.cause(found)
        on_delete(f"deleted stack {stack} left in ROLLBACK_COMPLETE by a failed first deploy ({describe_cause(cause)})")
        self._cfn.delete_stack(StackName=found["StackId"])
        deadline = self._clock() + budget_s
        while True:
            status = self._cfn.describe_stacks(StackName=found["StackId"])["Stacks"][0]["StackStatus"]
            if status == "DELETE_COMPLETE":
                return
            if status == "DELETE_FAILED" or self._clock() >= deadline:
                raise StackNotReady(f"stack {stack} is {status} (deleting the failed first deploy's stack)")
            self._sleep(0.5)

    def start(self, stack: str, template_url: str, parameters: dict[str, str], role_arn: str | None,
              tags: dict[str, str] | None = None) -> str:
        """Create (not execute) a change set that brings ``stack`` to the template; returns its id.
        Raises StackNotReady while another operation runs on it, DeployError when CloudFormation
        would refuse it (saying why and what to do)."""
        found = self.describe(stack)
        status = found["StackStatus"] if found else None
        if status and status.endswith("_IN_PROGRESS") and status != "REVIEW_IN_PROGRESS":
            raise StackNotReady(f"stack {stack} is {status}: another operation is running on it")
        if found and status != "REVIEW_IN_PROGRESS" and status not in UPDATABLE:
            raise DeployError(f"stack {stack} can not be updated: {describe_cause(self.cause(found))}")
        change_set_type = "CREATE" if status in (None, "REVIEW_IN_PROGRESS") else "UPDATE"
        kwargs = {
            "StackName": stack,
            "TemplateURL": template_url,
            "ChangeSetName": f"sprout-{uuid.uuid4().hex[:16]}",
            "ChangeSetType": change_set_type,
            "Parameters": [{"ParameterKey": k, "ParameterValue": v} for k, v in parameters.items()],
            "Capabilities": ["CAPABILITY_IAM", "CAPABILITY_NAMED_IAM", "CAPABILITY_AUTO_EXPAND"],
            # the stack's tags reach its roles: sprout:app and sprout:stage scope their secrets (AppRoleBoundary)
            "Tags": [{"Key": OWNER_TAG, "Value": stack}, *({"Key": k, "Value": v} for k, v in (tags or {}).items())],
        }
        if role_arn:
            kwargs["RoleARN"] = role_arn
        try:
            return self._cfn.create_change_set(**kwargs)["Id"]
        except ClientError as e:
            raise DeployError(f"stack {stack}: {e.response['Error']['Message']}") from e

    # ---- following a change set -------------------------------------------------------------------

    def progress(self, change_set_id: str) -> Progress:
        """Advance the change set one step (execute it once it is ready) and say where it stands.
        A call CloudFormation does not answer raises DeployError: the change set's outcome is then
        unknown, never assumed (``settle`` reads it from the stack)."""
        try:
            cs = self._cfn.describe_change_set(ChangeSetName=change_set_id)
        except ClientError as e:
            raise DeployError(f"change set {change_set_id}: {e.response['Error']['Message']}") from e
        status, execution = cs["Status"], cs.get("ExecutionStatus")
        reason = cs.get("StatusReason") or ""
        if status == "FAILED":
            if any(marker in reason for marker in _NO_CHANGES):
                return self._unchanged(cs["StackId"], reason)
            return _failed({"changeSetReason": cut(reason) or "the change set failed"}, changed=False)
        if status in ("CREATE_PENDING", "CREATE_IN_PROGRESS"):
            return Progress("IN_PROGRESS")
        if execution == "AVAILABLE":
            self._cfn.execute_change_set(ChangeSetName=change_set_id)
            return Progress("IN_PROGRESS")
        if execution in ("EXECUTE_IN_PROGRESS", "UNAVAILABLE", "EXECUTE_COMPLETE", "EXECUTE_FAILED"):
            return self._outcome(self._cfn.describe_stacks(StackName=cs["StackId"])["Stacks"][0], reason)
        return _failed({"changeSetReason": f"change set execution {execution}" + (f": {reason}" if reason else "")},
                       changed=False)

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

    def settle(self, stack: str, change_set_id: str) -> Progress:
        """What the change set did, read from the stack alone (for when following it failed):
        IN_PROGRESS while an operation runs; else the outcome of the change set if it is the one the
        stack last executed, or FAILED unchanged when it never ran."""
        found = self.describe(stack)
        if found is None or found["StackStatus"] == "REVIEW_IN_PROGRESS":
            return _failed({"stackReason": f"change set {change_set_id} was never executed: stack {stack} was not created"},
                           changed=False)
        status = found["StackStatus"]
        if status.endswith("_IN_PROGRESS"):
            return Progress("IN_PROGRESS")
        if found.get("ChangeSetId") == change_set_id:
            return self._outcome(found)
        try:  # not executed: a change set without changes is a success that changed nothing
            cs = self._cfn.describe_change_set(ChangeSetName=change_set_id)
            if cs.get("Status") == "FAILED" and any(m in (cs.get("StatusReason") or "") for m in _NO_CHANGES):
                return self._unchanged(found["StackId"], cs["StatusReason"])
        except ClientError:
            pass  # unreadable: either way the stack did not change
        return _failed({"stackStatus": status,
                        "stackReason": f"change set {change_set_id} was never executed; the stack is as it was"},
                       changed=False)

    # ---- reading the stack ------------------------------------------------------------------------

    def describe(self, stack: str) -> dict | None:
        """The stack as DescribeStacks tells it, or None when there is none (or it is deleted)."""
        try:
            found = self._cfn.describe_stacks(StackName=stack)["Stacks"][0]
        except ClientError as e:
            if "does not exist" in e.response["Error"]["Message"]:
                return None
            raise
        return None if found["StackStatus"] == "DELETE_COMPLETE" else found

    def exists(self, stack: str) -> bool:
        """Whether a stack of that name exists (and is not deleted)."""
        return self.describe(stack) is not None

    def function_names(self, stack: str) -> dict[str, str]:
        """Function logical id -> its physical name, for the stack's Lambda functions."""
        try:
            resources = self._cfn.describe_stack_resources(StackName=stack)["StackResources"]
        except ClientError as e:
            if "does not exist" in e.response["Error"]["Message"]:
                return {}  # deleted since it was described (a stage's removal under way)
            raise
        return {
            r["LogicalResourceId"]: r["PhysicalResourceId"]
            for r in resources
            if r["ResourceType"] == "AWS::Lambda::Function"
        }

    def live_versions(self, stack: str) -> dict[str, str]:
        """Function logical id -> the Lambda version its ``live`` alias points at."""
        versions = {}
        for logical_id, name in self.function_names(stack).items():
            try:
                alias = self._lambda.get_alias(FunctionName=name, Name=LIVE_ALIAS)
            except ClientError as e:
                if e.response["Error"]["Code"] == "ResourceNotFoundException":
                    continue  # a function without AutoPublishAlias: live
                raise
            versions[logical_id] = alias["FunctionVersion"]
        return versions

    def _unchanged(self, stack_id: str, reason: str) -> Progress:
        """A change set without changes: a success only on a stack in a state that runs its template."""
        found = self._cfn.describe_stacks(StackName=stack_id)["Stacks"][0]
        if found["StackStatus"] in UPDATABLE:
            return Progress("SUCCEEDED", reason, changed=False)
        return _failed({**self.cause(found), "changeSetReason": reason}, changed=False)

    def _outcome(self, found: dict, change_set_reason: str = "") -> Progress:
        status = found["StackStatus"]
        if status.endswith("_IN_PROGRESS"):
            return Progress("IN_PROGRESS")
        if status in SUCCEEDED:
            return Progress("SUCCEEDED")
        cause = self.cause(found)
        if change_set_reason:
            cause["changeSetReason"] = cut(change_set_reason)
        return _failed(cause)

    def cause(self, found: dict) -> dict:
        """Why ``found`` is where it is: its status and reason, the first resource that failed in its
        latest operation, and for UPDATE_ROLLBACK_FAILED what the user has to do."""
        stack_id, status = found["StackId"], found["StackStatus"]
        cause: dict = {"stackStatus": status}
        if found.get("StackStatusReason"):
            cause["stackReason"] = cut(found["StackStatusReason"])
        events = self._cfn.describe_stack_events(StackName=stack_id)["StackEvents"]
        cause.update(first_failure(events) or {})
        if status == "UPDATE_ROLLBACK_FAILED":
            resources = self._cfn.describe_stack_resources(StackName=stack_id)["StackResources"]
            stuck = sorted(r["LogicalResourceId"] for r in resources if r["ResourceStatus"] == "UPDATE_FAILED")
            cause["resourcesToSkip"] = stuck
            cause["advice"] = rollback_failed_advice(found["StackName"], stuck)
        return cause
