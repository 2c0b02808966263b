"""Change sets: made (the template prepared and compared with the stack's, diff.py), described,
deleted, and executed (a CREATE change set creates its REVIEW_IN_PROGRESS stack, an UPDATE one
updates the stack; the stack's other change sets are dropped), with CloudFormation's checks."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from . import provision, recovery, stack_role
from .account import Account
from .diff import diff
from .model import ApiError, ChangeSet, Stack, validation
from .sources import Sources, parameter_values, same
from .steps import Steps
from .store import STACK_NAME, StackStore
from .template import TemplateError

NO_CHANGES = (
    "The submitted information didn't contain changes. Submit different information to create a change set."
)


class ChangeSets:
    def __init__(self, account: Account, store: StackStore, sources: Sources, steps: Steps):
        self.account = account
        self.store = store
        self.sources = sources
        self.steps = steps

    def create(
        self,
        stack_name: str,
        name: str,
        change_set_type: str,
        body: str | None,
        url: str | None,
        use_previous: bool,
        parameters: list[dict[str, Any]],
        tags: dict[str, str] | None,
        capabilities: list[str],
        description: str,
        role_arn: str | None = None,
    ) -> tuple[str, str]:
        if not name or not STACK_NAME.fullmatch(name):
            raise validation(f"ChangeSetName {name!r} must match [a-zA-Z][-a-zA-Z0-9]*")
        if change_set_type not in ("CREATE", "UPDATE"):
            raise validation(
                f"ChangeSetType {change_set_type} is not supported by localcloud (CREATE or UPDATE)"
            )
        with self.store.lock:
            existing = self.store.find_live(stack_name)
            if change_set_type == "CREATE":
                if existing is not None and existing.status != "REVIEW_IN_PROGRESS":
                    raise validation(
                        f"Stack [{stack_name}] already exists and cannot be created again with the changeSet [{name}]."
                    )
                if not STACK_NAME.fullmatch(stack_name):
                    raise validation(f"Stack name {stack_name!r} must match [a-zA-Z][-a-zA-Z0-9]*")
            elif existing is None or existing.status == "REVIEW_IN_PROGRESS":
                raise validation(f"Stack [{stack_name}] does not exist")
            else:
                recovery.check_updatable(existing)
            if existing is not None and any(cs.name == name for cs in self.store.change_sets_of(existing)):
                raise ApiError("AlreadyExistsException", f"ChangeSet [{name}] already exists")
        effective_tags = tags if tags is not None else (existing.tags if existing else {})
        if use_previous:
            if existing is None or change_set_type == "CREATE":
                raise validation("UsePreviousTemplate can only be used for an UPDATE change set")
            body, base_dir, source = existing.body, existing.base_dir, "template"
        else:
            body, base_dir, source = self.sources.template_source(body, url, effective_tags)
            if base_dir is None and existing is not None and not url:
                base_dir = existing.base_dir
        given = parameter_values(parameters, existing.parameters if existing else None)
        role = stack_role.checked(role_arn)
        stack = existing or Stack(
            stack_id=self.account.new_stack_id(stack_name),
            name=stack_name,
            status="REVIEW_IN_PROGRESS",
            body=body,
            parameters=given,
            tags=effective_tags,
            capabilities=capabilities,
            base_dir=base_dir,
        )
        plan, error = self.sources.try_prepare(stack, body, given, base_dir, source)
        with self.store.lock:
            if existing is None:
                if self.store.name_taken(stack_name):
                    raise validation(
                        f"Stack [{stack_name}] already exists and cannot be created again with the changeSet [{name}]."
                    )
                existing = stack
                self.store.stacks.append(existing)
                existing.set_status("REVIEW_IN_PROGRESS", "User Initiated")
            cs = ChangeSet(
                change_set_id=self.account.new_change_set_id(name),
                name=name,
                stack=existing,
                type=change_set_type,
                body=body,
                parameters=given,
                tags=effective_tags,
                capabilities=capabilities,
                description=description,
                base_dir=base_dir,
                role_arn=role or existing.role_arn,
            )
            self.store.change_sets.append(cs)
            cs.plan = plan
            if error:
                cs.status, cs.reason = "FAILED", error
                return cs.change_set_id, stack.stack_id
            assert plan is not None
            old = stack.plan if change_set_type == "UPDATE" else None
            physical = {lid: s.physical_id for lid, s in stack.resources.items() if s.physical_id}
            pseudo = self.account.pseudo(stack)
            try:
                cs.changes = diff(old, pseudo if old else None, plan, pseudo, physical)
            except TemplateError as e:
                cs.status, cs.reason = "FAILED", str(e)
                return cs.change_set_id, stack.stack_id
            if old is not None and not cs.changes and same(old, plan) and effective_tags == stack.tags:
                cs.status, cs.reason = "FAILED", NO_CHANGES
            else:
                cs.status, cs.execution_status = "CREATE_COMPLETE", "AVAILABLE"
        return cs.change_set_id, stack.stack_id

    def delete(self, name_or_id: str, stack_name: str | None) -> None:
        cs = self.store.find_change_set(name_or_id, stack_name)
        with self.store.lock:
            if cs.execution_status == "EXECUTE_IN_PROGRESS":
                raise ApiError(
                    "InvalidChangeSetStatus",
                    f"ChangeSet [{cs.change_set_id}] cannot be deleted in its current status",
                )
            self.store.change_sets.remove(cs)

    def execute(self, name_or_id: str, stack_name: str | None) -> None:
        cs = self.store.find_change_set(name_or_id, stack_name)
        stack = cs.stack
        run: Callable[..., None]
        with self.store.lock:
            if cs.status != "CREATE_COMPLETE" or cs.execution_status != "AVAILABLE":
                raise ApiError(
                    "InvalidChangeSetStatus",
                    f"ChangeSet [{cs.change_set_id}] cannot be executed in its current status of [{cs.status}]",
                )
            if cs.type == "CREATE":
                if stack.status != "REVIEW_IN_PROGRESS":
                    raise validation(
                        f"Stack:{stack.stack_id} is in {stack.status} state and can not be created."
                    )
                stack.parameters, stack.tags, stack.capabilities, stack.base_dir, stack.body = (
                    cs.parameters,
                    cs.tags,
                    cs.capabilities,
                    cs.base_dir,
                    cs.body,
                )
                stack.set_status("CREATE_IN_PROGRESS", "User Initiated")
                run = provision.run_create
            else:
                recovery.check_updatable(stack)
                provision.begin_update(stack, cs.body, cs.base_dir, cs.tags, cs.capabilities)
                run = provision.run_update
            cs.execution_status = "EXECUTE_IN_PROGRESS"
            stack.change_set_id = cs.change_set_id
            stack.role_arn = cs.role_arn
            self.store.drop_change_sets_of(stack, keep=cs)
        self.steps.start(stack, run, self.steps, stack, cs.plan, None, cs)
