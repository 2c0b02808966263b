"""CloudFormation's API on the local endpoint: moto parses the query-protocol request and
serializes the answer; each action here replaces moto's own (``CloudFormationResponse.<action>``,
through ``localcloud.moto_hooks.hook``) and answers from the ``Engine`` instead of moto's
CloudFormation backend. Errors are CloudFormation's codes and messages.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from ..moto_hooks import hook, provide, require
from . import recovery
from .engine import Engine
from .model import ApiError, validation
from .template import TemplateError, parse_template, transforms

MODULE = "moto.cloudformation.responses"
ACTIONS: dict[str, Callable[[Engine, Any], Any]] = {}
# actions the pinned moto does not implement at all: added to its CloudFormationResponse
NEW_ACTIONS = {"continue_update_rollback"}


def action(name: str) -> Callable[[Callable[[Engine, Any], Any]], Callable[[Engine, Any], Any]]:
    def register(fn: Callable[[Engine, Any], Any]) -> Callable[[Engine, Any], Any]:
        ACTIONS[name] = fn
        return fn

    return register


def install_hooks(engine: Engine) -> None:
    action_result = require(
        "moto.core.responses", "ActionResult", "serialize CloudFormation answers in the query protocol"
    )
    empty_result = require("moto.core.responses", "EmptyResult", "serialize answers without a body")
    service_exception = require("moto.core.exceptions", "ServiceException", "answer CloudFormation errors")
    # defined here, not in a moto module: moto then looks the error code up in CloudFormation's model
    error = type("CloudFormationApiError", (service_exception,), {"__module__": __name__})

    def answer(fn: Callable[[Engine, Any], Any], response: Any) -> Any:
        try:
            result = fn(engine, response)
        except ApiError as e:
            raise error(e.code, e.message) from None
        return empty_result() if result is None else action_result(result)

    for name, fn in ACTIONS.items():
        if name in NEW_ACTIONS:
            provide(
                MODULE,
                f"CloudFormationResponse.{name}",
                f"CloudFormation {name} (which moto lacks) is served by localcloud's provisioner",
                lambda response, fn=fn: answer(fn, response),
            )
            continue
        hook(
            MODULE,
            f"CloudFormationResponse.{name}",
            f"CloudFormation {name} is served by localcloud's provisioner",
        )(lambda original, response, fn=fn: answer(fn, response))


def _tags(response: Any) -> dict[str, str] | None:
    tags = response._get_param("Tags")
    if not tags:
        return None
    return {t["Key"]: t.get("Value", "") for t in tags}


def _bool(response: Any, name: str) -> bool:
    return bool(response._get_bool_param(name, False))


@action("create_stack")
def create_stack(engine: Engine, r: Any) -> dict[str, Any]:
    on_failure = r._get_param("OnFailure")
    timeout = r._get_param("TimeoutInMinutes")
    stack_id = engine.create_stack(
        r._get_param("StackName"),
        r._get_param("TemplateBody"),
        r._get_param("TemplateURL"),
        r._get_param("Parameters", []),
        _tags(r) or {},
        capabilities=r._get_param("Capabilities", []),
        notification_arns=r._get_param("NotificationARNs", []),
        disable_rollback=_bool(r, "DisableRollback"),
        on_failure=on_failure,
        timeout_in_minutes=int(timeout) if timeout else None,
        role_arn=r._get_param("RoleARN"),
    )
    return {"StackId": stack_id}


@action("update_stack")
def update_stack(engine: Engine, r: Any) -> dict[str, Any]:
    stack_id = engine.update_stack(
        r._get_param("StackName"),
        r._get_param("TemplateBody"),
        r._get_param("TemplateURL"),
        _bool(r, "UsePreviousTemplate"),
        r._get_param("Parameters", []),
        _tags(r),
        capabilities=r._get_param("Capabilities"),
        role_arn=r._get_param("RoleARN"),
    )
    return {"StackId": stack_id}


@action("delete_stack")
def delete_stack(engine: Engine, r: Any) -> None:
    engine.delete_stack(r._get_param("StackName"))


@action("describe_stacks")
def describe_stacks(engine: Engine, r: Any) -> dict[str, Any]:
    name = r._get_param("StackName")
    if name:
        stack = engine.store.find_stack(name)
        with engine.store.lock:
            return {"Stacks": [stack.describe()]}
    with engine.store.lock:
        return {"Stacks": [s.describe() for s in reversed(engine.store.live_stacks())]}


@action("list_stacks")
def list_stacks(engine: Engine, r: Any) -> dict[str, Any]:
    wanted = set(r._get_param("StackStatusFilter", []) or [])
    with engine.store.lock:
        return {
            "StackSummaries": [
                s.summary() for s in reversed(engine.store.all_stacks()) if not wanted or s.status in wanted
            ]
        }


@action("describe_stack_events")
def describe_stack_events(engine: Engine, r: Any) -> dict[str, Any]:
    stack = engine.store.find_stack(r._get_param("StackName"))
    with engine.store.lock:
        return {"StackEvents": list(reversed(stack.events))}


@action("describe_stack_resources")
def describe_stack_resources(engine: Engine, r: Any) -> dict[str, Any]:
    name = r._get_param("StackName")
    if not name:
        raise validation(
            "StackName must be specified (PhysicalResourceId lookups are not supported by localcloud)"
        )
    stack = engine.store.find_stack(name)
    wanted = r._get_param("LogicalResourceId")
    with engine.store.lock:
        states = [s for s in stack.resources.values() if not wanted or s.logical_id == wanted]
        return {"StackResources": [stack.resource(s) for s in states]}


@action("describe_stack_resource")
def describe_stack_resource(engine: Engine, r: Any) -> dict[str, Any]:
    stack = engine.store.find_stack(r._get_param("StackName"))
    logical_id = r._get_param("LogicalResourceId")
    with engine.store.lock:
        state = stack.resources.get(logical_id)
        if state is None:
            raise validation(f"Resource {logical_id} does not exist for stack {stack.name}")
        return {"StackResourceDetail": stack.resource(state, detail=True)}


@action("list_stack_resources")
def list_stack_resources(engine: Engine, r: Any) -> dict[str, Any]:
    stack = engine.store.find_stack(r._get_param("StackName"))
    with engine.store.lock:
        return {"StackResourceSummaries": [stack.resource_summary(s) for s in stack.resources.values()]}


@action("get_template")
def get_template(engine: Engine, r: Any) -> dict[str, Any]:
    stage = r._get_param("TemplateStage") or "Original"
    change_set_name = r._get_param("ChangeSetName")
    if change_set_name:
        cs = engine.store.find_change_set(change_set_name, r._get_param("StackName"))
        body, plan = cs.body, cs.plan
    else:
        stack = engine.store.find_stack(r._get_param("StackName"))
        body, plan = stack.body, stack.plan
    if stage == "Processed":
        if plan is None:
            raise validation("The Processed template is not available: the template could not be processed")
        body = json.dumps(plan.template, indent=2)
    return {"TemplateBody": body, "StagesAvailable": ["Original", "Processed"]}


def _template_info(engine: Engine, r: Any) -> tuple[dict[str, Any], str]:
    body, _, source = engine.sources.template_source(r._get_param("TemplateBody"), r._get_param("TemplateURL"), {})
    try:
        return parse_template(body, source), body
    except TemplateError as e:
        raise validation(str(e)) from None


def _capabilities(template: dict[str, Any]) -> list[str]:
    types = [str(res.get("Type", "")) for res in (template.get("Resources") or {}).values()]
    caps = []
    if any(t.startswith("AWS::IAM::") or t.startswith("AWS::Serverless::") for t in types):
        named = any(
            isinstance(res.get("Properties"), dict)
            and ("RoleName" in res["Properties"] or "PolicyName" in res["Properties"])
            for res in template["Resources"].values()
            if str(res.get("Type", "")).startswith("AWS::IAM::")
        )
        caps.append("CAPABILITY_NAMED_IAM" if named else "CAPABILITY_IAM")
    if transforms(template):
        caps.append("CAPABILITY_AUTO_EXPAND")
    return caps


@action("validate_template")
def validate_template(engine: Engine, r: Any) -> dict[str, Any]:
    template, _ = _template_info(engine, r)
    parameters = []
    for key, decl in (template.get("Parameters") or {}).items():
        decl = decl or {}
        item: dict[str, Any] = {
            "ParameterKey": key,
            "NoEcho": str(decl.get("NoEcho", "false")).lower() == "true",
        }
        if "Default" in decl:
            item["DefaultValue"] = str(decl["Default"])
        if decl.get("Description"):
            item["Description"] = decl["Description"]
        parameters.append(item)
    out: dict[str, Any] = {
        "Parameters": parameters,
        "Description": str(template.get("Description", "")),
        "Capabilities": _capabilities(template),
        "DeclaredTransforms": transforms(template),
    }
    if out["Capabilities"]:
        out["CapabilitiesReason"] = "The following resource(s) require capabilities: " + ", ".join(
            sorted(
                {
                    str(res.get("Type"))
                    for res in template["Resources"].values()
                    if str(res.get("Type", "")).startswith(("AWS::IAM::", "AWS::Serverless::"))
                }
            )
        )
    return out


@action("get_template_summary")
def get_template_summary(engine: Engine, r: Any) -> dict[str, Any]:
    if r._get_param("StackName"):
        stack = engine.store.find_stack(r._get_param("StackName"))
        template = parse_template(stack.body)
    else:
        template, _ = _template_info(engine, r)
    params = [
        {
            "ParameterKey": k,
            "DefaultValue": str(d.get("Default")) if "Default" in d else None,
            "ParameterType": d.get("Type", "String"),
            "NoEcho": str(d.get("NoEcho", "false")).lower() == "true",
            "Description": d.get("Description", ""),
            "ParameterConstraints": {"AllowedValues": [str(v) for v in d["AllowedValues"]]}
            if "AllowedValues" in d
            else {},
        }
        for k, d in (template.get("Parameters") or {}).items()
    ]
    return {
        "Parameters": params,
        "Description": str(template.get("Description", "")),
        "Capabilities": _capabilities(template),
        "ResourceTypes": sorted({str(res.get("Type")) for res in template["Resources"].values()}),
        "Version": str(template.get("AWSTemplateFormatVersion", "2010-09-09")),
        "DeclaredTransforms": transforms(template),
    }


@action("create_change_set")
def create_change_set(engine: Engine, r: Any) -> dict[str, Any]:
    change_set_id, stack_id = engine.change_sets.create(
        r._get_param("StackName"),
        r._get_param("ChangeSetName"),
        r._get_param("ChangeSetType") or "UPDATE",
        r._get_param("TemplateBody"),
        r._get_param("TemplateURL"),
        _bool(r, "UsePreviousTemplate"),
        r._get_param("Parameters", []),
        _tags(r),
        r._get_param("Capabilities", []) or [],
        r._get_param("Description") or "",
        role_arn=r._get_param("RoleARN"),
    )
    return {"Id": change_set_id, "StackId": stack_id}


@action("describe_change_set")
def describe_change_set(engine: Engine, r: Any) -> dict[str, Any]:
    cs = engine.store.find_change_set(r._get_param("ChangeSetName"), r._get_param("StackName"))
    with engine.store.lock:
        return cs.describe()


@action("execute_change_set")
def execute_change_set(engine: Engine, r: Any) -> None:
    engine.change_sets.execute(r._get_param("ChangeSetName"), r._get_param("StackName"))


@action("delete_change_set")
def delete_change_set(engine: Engine, r: Any) -> None:
    engine.change_sets.delete(r._get_param("ChangeSetName"), r._get_param("StackName"))


@action("list_change_sets")
def list_change_sets(engine: Engine, r: Any) -> dict[str, Any]:
    stack = engine.store.find_stack(r._get_param("StackName"))
    with engine.store.lock:
        return {"Summaries": [cs.summary() for cs in engine.store.change_sets_of(stack)]}


@action("list_exports")
def list_exports(engine: Engine, r: Any) -> dict[str, Any]:
    return {"Exports": engine.store.exports()}


@action("continue_update_rollback")
def continue_update_rollback(engine: Engine, r: Any) -> dict[str, Any]:
    recovery.continue_update_rollback(engine.steps, r._get_param("StackName"), r._get_param("ResourcesToSkip", []) or [])
    return {}
