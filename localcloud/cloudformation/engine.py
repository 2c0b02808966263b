"""The provisioner: stack operations as the API asks for them, carried out on background threads.

``Engine`` puts the parts together and answers CreateStack, UpdateStack and DeleteStack:

- ``store`` (store.py): every stack and change set, in memory, under one lock;
- ``sources`` (sources.py): where a template and its local code come from, and preparing it
  (parse, package, translate, check) in the API call;
- ``steps`` (steps.py): one resource at a time (dynamic references resolved for its API call,
  dynamic.py), on a thread per operation;
- ``provision.py``: create, update and delete, resource by resource in dependency order, with
  their rollbacks (recovery.py);
- ``change_sets`` (changesets.py): CreateChangeSet, ExecuteChangeSet, DeleteChangeSet.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from . import provision, recovery, stack_role
from .account import Account
from .changesets import ChangeSets
from .model import ApiError, Stack, validation
from .sources import TEMPLATE_DIR_TAG, Sources, parameter_values, same
from .steps import Steps
from .store import STACK_NAME, StackStore


class Engine:
    def __init__(
        self,
        client_factory: Callable[[str], Any],
        region: str,
        account_id: str,
        endpoint: Callable[[], str],
        data_dir: Path | None = None,
    ):
        self.account = Account(client_factory, region, account_id, endpoint, data_dir)
        self.store = StackStore()
        self.stopping = threading.Event()
        self.sources = Sources(self.account)
        self.steps = Steps(self.account, self.store, self.stopping)
        self.change_sets = ChangeSets(self.account, self.store, self.sources, self.steps)

    def create_stack(
        self,
        name: str,
        body: str | None,
        url: str | None,
        parameters: list[dict[str, Any]],
        tags: dict[str, str],
        **options: Any,
    ) -> str:
        if not name or not STACK_NAME.fullmatch(name):
            raise validation(
                f"1 validation error detected: Value '{name}' at 'stackName' failed to satisfy constraint: Member must satisfy regular expression pattern: [a-zA-Z][-a-zA-Z0-9]*"
            )
        body, base_dir, source = self.sources.template_source(body, url, tags)
        given = parameter_values(parameters, None)
        self.store.check_new_name(name)
        role_arn = stack_role.checked(options.get("role_arn"))
        stack = Stack(
            stack_id=self.account.new_stack_id(name),
            name=name,
            status="CREATE_IN_PROGRESS",
            body=body,
            parameters=given,
            tags=tags,
            capabilities=options.get("capabilities") or [],
            base_dir=base_dir,
            notification_arns=options.get("notification_arns") or [],
            disable_rollback=bool(options.get("disable_rollback")),
            on_failure=options.get("on_failure") or "ROLLBACK",
            timeout_in_minutes=options.get("timeout_in_minutes"),
            role_arn=role_arn,
        )
        plan, error = self.sources.try_prepare(stack, body, given, base_dir, source)
        with self.store.lock:
            self.store.check_new_name(name)
            self.store.stacks.append(stack)
            stack.set_status("CREATE_IN_PROGRESS", "User Initiated")
        self.steps.start(stack, provision.run_create, self.steps, stack, plan, error, None)
        return stack.stack_id

    def update_stack(
        self,
        name: str,
        body: str | None,
        url: str | None,
        use_previous: bool,
        parameters: list[dict[str, Any]],
        tags: dict[str, str] | None,
        **options: Any,
    ) -> str:
        stack = self.store.find_stack(name)
        recovery.check_updatable(stack)
        role_arn = stack_role.checked(options.get("role_arn")) or stack.role_arn
        effective_tags = tags if tags is not None else stack.tags
        if use_previous:
            if body or url:
                raise validation(
                    "You cannot specify both usePreviousTemplate and Template Body/Template URL."
                )
            body, base_dir, source = stack.body, stack.base_dir, "template"
            if tags and tags.get(TEMPLATE_DIR_TAG):
                base_dir = Path(tags[TEMPLATE_DIR_TAG])
        else:
            body, base_dir, source = self.sources.template_source(body, url, effective_tags)
            base_dir = base_dir or (stack.base_dir if not url else base_dir)
        given = parameter_values(parameters, stack.parameters)
        plan, error = self.sources.try_prepare(stack, body, given, base_dir, source)
        with self.store.lock:
            recovery.check_updatable(stack)
            if (
                plan is not None
                and stack.plan is not None
                and same(stack.plan, plan)
                and effective_tags == stack.tags
            ):
                raise validation("No updates are to be performed.")
            provision.begin_update(stack, body, base_dir, effective_tags, options.get("capabilities"))
            stack.role_arn = role_arn
        self.steps.start(stack, provision.run_update, self.steps, stack, plan, error, None)
        return stack.stack_id

    def delete_stack(self, name: str) -> None:
        try:
            stack = self.store.find_stack(name)
        except ApiError:
            return  # deleting a stack that does not exist succeeds, as in CloudFormation
        with self.store.lock:
            if stack.status in ("DELETE_IN_PROGRESS", "DELETE_COMPLETE"):
                return
            if stack.in_progress:
                raise validation(f"Stack:{stack.stack_id} is in {stack.status} state and can not be deleted.")
            stack.set_status("DELETE_IN_PROGRESS", "User Initiated")
        self.steps.start(stack, provision.run_delete, self.steps, stack)
