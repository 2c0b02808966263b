"""A stage's teardown in AWS: what its stack made that Sprout must clean after it (functions' and
access-log groups), Sprout's own watch of the stage (alarms, subscription filters, settings item),
the access-log settings, the stack's deletion and why it failed, and the log groups; and the
account's Sprout-tagged stacks, which the sweep checks for stages that no longer exist."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any, Protocol

import boto3
from botocore.exceptions import ClientError

from sprout.adapters.apigateway import AccessLogging, StageResources
from sprout.adapters.auto_rollback import AutoRollbackItem, Subscriptions, settings_sk
from sprout.adapters.lineage.items import app_pk
from sprout.domain.auto_rollback import Settings, filter_name
from sprout.domain.errors import NotDeployed
from sprout.domain.monitoring import StageInventory, access_log_group
from sprout.domain.orphans import APP_TAG, TaggedStack

# CloudWatch Logs throttles control-plane calls per account (a throttled call is retried by
# botocore), and twenty previews may close at once: a few deletes at a time, never one thread per group.
LOG_GROUP_DELETES_AT_ONCE = 4


def _missing(e: ClientError) -> bool:
    error = e.response.get("Error", {})
    return error.get("Code") in ("ResourceNotFoundException", "NotFoundException") or "does not exist" in str(
        error.get("Message", ""))


class WatchSwitch(Protocol):
    """The auto-rollback watch of a stage (sprout.services.watch.Watcher, from the composition root)."""

    def current(self, app: str, stage: str) -> tuple[Settings | None, list[str]]: ...
    def apply(self, app: str, stage: str, wanted: Settings, by: str | None) -> None: ...


class StageCloud:
    def __init__(self, watcher: WatchSwitch, subscriptions: Subscriptions | None = None, cloudformation: Any = None,
                 logs: Any = None, resources: StageResources | None = None, access_logs: AccessLogging | None = None):
        self._cfn = cloudformation or boto3.client("cloudformation")
        self._logs = logs or boto3.client("logs")
        self._resources = resources or StageResources(self._cfn)
        self._access_logs = access_logs or AccessLogging()
        self._watcher = watcher
        self._subscriptions = subscriptions or Subscriptions(self._logs)

    def inventory(self, stack: str) -> StageInventory | None:
        """The stack's functions and API stages; None when there is no stack."""
        try:
            return self._resources.inventory(stack, f"stack {stack}")
        except NotDeployed:
            return None

    def unwatch(self, app: str, stage: str, inventory: StageInventory | None) -> list[str]:
        """Auto-rollback off as ``PUT .../auto-rollback {"enabled": false}`` does it (alarms forgotten,
        then deleted; subscription filters deleted), then its settings item deleted."""
        current, alarms = self._watcher.current(app, stage)
        if current is not None:
            self._watcher.apply(app, stage, Settings(enabled=False), by="sprout:teardown")
        for api in inventory.apis if inventory else ():
            self._subscriptions.delete(access_log_group(api.api_id, api.stage), filter_name(app, stage))
        AutoRollbackItem(app_pk(app), settings_sk(stage)).delete()  # one already gone: nothing happens
        return list(alarms)

    def access_logs_off(self, inventory: StageInventory | None) -> None:
        for api in inventory.apis if inventory else ():
            try:
                self._access_logs.disable(api)
            except ClientError as e:
                if not _missing(e):
                    raise

    def delete_stack(self, stack: str) -> None:
        """DeleteStack (CloudFormation uses the role the stack was deployed with)."""
        self._cfn.delete_stack(StackName=stack)

    def stack_status(self, stack: str) -> tuple[str | None, list[dict]]:
        try:
            found = self._cfn.describe_stacks(StackName=stack)["Stacks"][0]
        except ClientError as e:
            if _missing(e):
                return None, []
            raise
        status = found["StackStatus"]
        if status != "DELETE_FAILED":
            return status, []
        resources = self._cfn.describe_stack_resources(StackName=found["StackId"])["StackResources"]
        blockers = [{"logicalId": r["LogicalResourceId"], "type": r["ResourceType"],
                     "physicalId": r.get("PhysicalResourceId"), "reason": (r.get("ResourceStatusReason") or "")[:300]}
                    for r in resources if r.get("ResourceStatus") == "DELETE_FAILED"]
        return status, blockers

    def delete_log_groups(self, names: list[str]) -> list[str]:
        """The ones that existed, deleted a few at a time (a stage has one per function: one after
        another, they were most of the clean-up's time)."""

        def delete(name: str) -> str | None:
            try:
                self._logs.delete_log_group(logGroupName=name)
            except self._logs.exceptions.ResourceNotFoundException:
                return None
            return name

        with ThreadPoolExecutor(max_workers=LOG_GROUP_DELETES_AT_ONCE) as pool:
            return [name for name in pool.map(delete, names) if name is not None]


class AccountStacks:
    """The account's stacks tagged ``sprout:app`` (DescribeStacks without a name, every page: it
    needs cloudformation:DescribeStacks and ListStacks on ``*``), for the sweep."""

    def __init__(self, cloudformation: Any = None):
        self._cfn = cloudformation

    def tagged_stacks(self) -> list[TaggedStack]:
        self._cfn = self._cfn or boto3.client("cloudformation")
        found = []
        for page in self._cfn.get_paginator("describe_stacks").paginate():
            for stack in page.get("Stacks") or []:
                tags = {t.get("Key", ""): t.get("Value", "") for t in stack.get("Tags") or []}
                if APP_TAG in tags:
                    found.append(TaggedStack(stack["StackName"], stack.get("StackStatus", ""), tags, stack.get("RoleARN")))
        return found
