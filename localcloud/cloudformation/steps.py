"""One resource at a time: the steps provisioning is made of, each recorded as a stack event.

A resource's properties are resolved against what is already made (``Ref``, ``Fn::GetAtt``,
``Fn::ImportValue``), its dynamic references replaced by their values for the API call only, and
its handler called; any failure becomes ``Failed``, with a reason naming the resource. Operations
run on a thread per stack (``start``), which stops between resources when the cloud stops.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from .. import faults
from ..urls import localize_execute_api_urls
from . import dynamic, stack_role
from .account import Account
from .intrinsics import Scope, resolve
from .model import ChangeSet, ResourceState, Stack, now
from .prepare import Prepared
from .resources import REGISTRY, Context, Provisioned, ResourceFailed
from .resources.base import error_text
from .store import StackStore
from .template import TemplateError

log = logging.getLogger("localcloud.cloudformation")


class Failed(Exception):
    def __init__(self, logical_id: str | None, reason: str):
        super().__init__(reason)
        self.logical_id = logical_id
        self.reason = reason


class Stopping(Exception):
    pass


def failure_reason(verb: str, failure: Failed) -> str:
    if failure.logical_id:
        return f"The following resource(s) failed to {verb}: [{failure.logical_id}]. {failure.reason}"
    return failure.reason


class Steps:
    def __init__(self, account: Account, store: StackStore, stopping: threading.Event):
        self.account = account
        self.store = store
        self.stopping = stopping
        self._lookup = dynamic.client_lookup(account.client)

    # ---- threads ---------------------------------------------------------------------------
    def start(self, stack: Stack, target: Callable[..., None], *args: Any) -> None:
        def run() -> None:
            try:
                target(*args)
            except Stopping:
                pass
            except Exception:  # never let a bug kill silently with the stack stuck in progress
                log.exception("stack %s: provisioning crashed", stack.name)
                with self.store.lock:
                    stack.set_status(
                        stack.status.replace("IN_PROGRESS", "FAILED"),
                        "Internal error in localcloud's provisioner",
                    )

        threading.Thread(target=run, name=f"cfn-{stack.name}", daemon=True).start()

    def check_stop(self) -> None:
        if self.stopping.is_set():
            raise Stopping()

    def context(self, stack: Stack) -> Context:
        account = self.account
        return Context(
            stack_role.client_factory(account.client, account.client_factory, stack.role_arn),
            stack.name,
            stack.stack_id,
            account.region,
            account.account_id,
            account.endpoint(),
            str(account.data_dir) if account.data_dir else None,
            stack_tags=stack.tags,
        )

    def finish_change_set(self, change_set: ChangeSet | None, ok: bool) -> None:
        if change_set is not None:
            with self.store.lock:
                change_set.execution_status = "EXECUTE_COMPLETE" if ok else "EXECUTE_FAILED"

    # ---- values ----------------------------------------------------------------------------
    def scope(self, stack: Stack, plan: Prepared, states: dict[str, ResourceState]) -> Scope:
        def ref(logical_id: str) -> Any:
            state = states.get(logical_id)
            if state is None or state.physical_id is None:
                raise TemplateError(f"{logical_id} has not been created")
            return state.physical_id

        def attr(logical_id: str, name: str) -> Any:
            state = states.get(logical_id)
            if state is None:
                raise TemplateError(f"{logical_id} has not been created")
            if name not in state.attrs:
                raise TemplateError(
                    f"Template error: resource {logical_id} does not support attribute type {name} in Fn::GetAtt"
                )
            return state.attrs[name]

        return Scope(
            parameters=plan.values,
            pseudo=self.account.pseudo(stack),
            conditions=plan.conditions,
            mappings=plan.template.get("Mappings") or {},
            resources=set(plan.active),
            resource_ref=ref,
            resource_attr=attr,
            import_value=lambda name: self.store.import_value(name, stack),
        )

    def resolve_props(
        self, stack: Stack, plan: Prepared, states: dict[str, ResourceState], logical_id: str
    ) -> dict[str, Any]:
        definition = plan.active[logical_id]
        try:
            return (
                resolve(
                    definition.get("Properties", {}),
                    self.scope(stack, plan, states),
                    f"Resource {logical_id}",
                )
                or {}
            )
        except TemplateError as e:
            raise Failed(logical_id, str(e)) from None

    def values(self, logical_id: str, type_name: str, props: dict[str, Any]) -> dict[str, Any]:
        """``props`` as the resource's API call gets them: dynamic references replaced by their
        values (the stack keeps and shows the references, as CloudFormation does)."""
        try:
            return dynamic.resolve(props, type_name, self._lookup)
        except TemplateError as e:
            raise Failed(logical_id, f"Resource {logical_id} ({type_name}): {e}") from None

    def values_if_any(self, state: ResourceState) -> dict[str, Any]:
        """For a delete: the values where they can still be read, else the references as kept."""
        try:
            return self.values(state.logical_id, state.type, state.props)
        except Failed:
            return state.props

    def outputs(self, stack: Stack, plan: Prepared, states: dict[str, ResourceState]) -> list[dict[str, Any]]:
        scope = self.scope(stack, plan, states)
        endpoint = self.account.endpoint()
        taken = {e["Name"]: e["ExportingStackId"] for e in self.store.exports()}
        out = []
        for key, output in (plan.template.get("Outputs") or {}).items():
            condition = output.get("Condition")
            if condition is not None and not plan.conditions.get(condition):
                continue
            try:
                value = resolve(output["Value"], scope, f"Output {key}")
                item: dict[str, Any] = {
                    "OutputKey": key,
                    "OutputValue": localize_execute_api_urls(_text(value), endpoint),
                }
                if output.get("Description"):
                    item["Description"] = _text(resolve(output["Description"], scope, f"Output {key}"))
                if output.get("Export"):
                    export = _text(resolve(output["Export"].get("Name"), scope, f"Output {key} Export"))
                    if taken.get(export, stack.stack_id) != stack.stack_id:
                        raise TemplateError(
                            f"Output {key}: Export with name {export} is already exported by stack {taken[export]}"
                        )
                    item["ExportName"] = export
            except TemplateError as e:
                raise Failed(None, str(e)) from None
            out.append(item)
        return out

    # ---- resources -------------------------------------------------------------------------
    def event(
        self,
        stack: Stack,
        state: ResourceState,
        status: str,
        reason: str = "",
        props: dict[str, Any] | None = None,
    ) -> None:
        with self.store.lock:
            state.status, state.reason, state.timestamp = status, reason, now()
            stack.add_event(state.logical_id, state.type, state.physical_id, status, reason, props)

    def call(self, logical_id: str, type_name: str, fn: Callable[..., Any], *args: Any) -> Any:
        """``fn(*args)``; any failure becomes ``Failed`` with a reason naming the resource."""
        if faults.FAULTS.armed("fail-resource"):
            injected = faults.FAULTS.take(
                "fail-resource", stack=args[0].stack_name, logicalId=logical_id, phase=fn.__name__
            )
            if injected is not None:
                raise Failed(logical_id, f"Resource {logical_id} ({type_name}): {injected.get('message') or 'refused'}")
        try:
            return fn(*args)
        except (ResourceFailed, TemplateError) as e:
            raise Failed(logical_id, f"Resource {logical_id} ({type_name}): {e}") from None
        except ClientError as e:
            denied = stack_role.denied_reason(e)  # the stack's role may not: CloudFormation's words
            raise Failed(logical_id, denied or f"Resource {logical_id} ({type_name}): {error_text(e)}") from None
        except (BotoCoreError, KeyError, TypeError, ValueError) as e:
            raise Failed(
                logical_id, f"Resource {logical_id} ({type_name}): {type(e).__name__}: {e}"
            ) from None

    def create_resource(
        self,
        stack: Stack,
        plan: Prepared,
        states: dict[str, ResourceState],
        ctx: Context,
        logical_id: str,
        replacing: bool = False,
    ) -> ResourceState:
        definition = plan.active[logical_id]
        type_name = definition["Type"]
        state = ResourceState(
            logical_id, type_name, None, "", deletion_policy=definition.get("DeletionPolicy", "Delete")
        )
        props = self.resolve_props(stack, plan, states, logical_id)
        state.props = props
        if replacing:
            self.event(
                stack,
                state,
                "UPDATE_IN_PROGRESS",
                "Requested update requires the creation of a new physical resource; hence creating one.",
                props,
            )
        else:
            with self.store.lock:
                stack.resources[logical_id] = state
            self.event(stack, state, "CREATE_IN_PROGRESS", "", props)
        try:
            done: Provisioned = self.call(
                logical_id, type_name, REGISTRY[type_name].create, ctx, logical_id, self.values(logical_id, type_name, props)
            )
        except Failed as e:
            self.event(stack, state, "UPDATE_FAILED" if replacing else "CREATE_FAILED", e.reason)
            raise
        state.physical_id, state.attrs = done.physical_id, dict(done.attrs)
        with self.store.lock:
            stack.resources[logical_id] = state
        self.event(stack, state, "UPDATE_COMPLETE" if replacing else "CREATE_COMPLETE")
        return state

    def delete_resource(self, stack: Stack, ctx: Context, state: ResourceState) -> str | None:
        """Deletes one resource (or keeps it for DeletionPolicy Retain); the failure reason, if any."""
        if state.physical_id is None:
            return None
        if state.deletion_policy in ("Retain", "RetainExceptOnCreate"):
            self.event(stack, state, "DELETE_SKIPPED")
            return None
        self.event(stack, state, "DELETE_IN_PROGRESS")
        try:
            current = Provisioned(state.physical_id, state.attrs)
            self.call(
                state.logical_id, state.type, REGISTRY[state.type].delete, ctx, current, self.values_if_any(state)
            )
        except Failed as e:
            self.event(stack, state, "DELETE_FAILED", e.reason)
            return e.reason
        self.event(stack, state, "DELETE_COMPLETE")
        return None


def _text(value: Any) -> str:
    if isinstance(value, list):
        return ",".join(_text(v) for v in value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict):
        return json.dumps(value)
    return str(value)
