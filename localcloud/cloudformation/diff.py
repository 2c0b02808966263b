"""The Changes of a change set: two prepared templates compared by logical id (pure).

Each side's Properties are resolved as far as they can be without provisioning anything
(parameters, pseudo parameters, conditions, mappings, Fn::Sub/Join/... of those); references to
resources stay as written. A resource only in the new template is ``Add``, only in the old one
``Remove``; in both with different values ``Modify``, with ``Replacement`` ``True`` when a changed
property cannot be updated in place (per the type's property table) or the type changed. A resource
that refers to a replaced one changes too (its reference gets a new value): ``Modify`` with
``Replacement`` ``Conditional`` if that reference is in a replace-only property, else ``False``.
"""

from __future__ import annotations

from typing import Any

from .intrinsics import Scope, references, resolve
from .prepare import Prepared
from .resources import REGISTRY, REPLACE, changed_properties


def static_properties(plan: Prepared, logical_id: str, pseudo: dict[str, Any]) -> dict[str, Any]:
    definition = plan.active[logical_id]
    scope = Scope(
        parameters=plan.values,
        pseudo=pseudo,
        conditions=plan.conditions,
        mappings=plan.template.get("Mappings") or {},
        resources=set(plan.active),
        partial=True,
    )
    return resolve(definition.get("Properties", {}), scope, f"Resource {logical_id}") or {}


def _recreation(type_name: str, prop: str) -> str:
    handler = REGISTRY.get(type_name)
    return "Always" if handler is not None and handler.properties.get(prop) == REPLACE else "Never"


def diff(
    old: Prepared | None,
    old_pseudo: dict[str, Any] | None,
    new: Prepared,
    new_pseudo: dict[str, Any],
    physical_ids: dict[str, str] | None = None,
) -> list[dict[str, Any]]:
    """ResourceChange dicts (as DescribeChangeSet returns them), in the new template's order."""
    physical_ids = physical_ids or {}
    old_active = old.active if old else {}
    changes: dict[str, dict[str, Any]] = {}

    for logical_id in new.order:
        type_name = new.active[logical_id]["Type"]
        if logical_id not in old_active:
            changes[logical_id] = _change("Add", logical_id, type_name, None, [])
            continue
        assert old is not None and old_pseudo is not None
        if old_active[logical_id]["Type"] != type_name:
            change = _change("Modify", logical_id, type_name, physical_ids.get(logical_id), [])
            change["Replacement"] = "True"
            changes[logical_id] = change
            continue
        before = static_properties(old, logical_id, old_pseudo)
        after = static_properties(new, logical_id, new_pseudo)
        props = changed_properties(before, after)
        if props:
            details = [
                {
                    "Target": {
                        "Attribute": "Properties",
                        "Name": p,
                        "RequiresRecreation": _recreation(type_name, p),
                    },
                    "Evaluation": "Static",
                    "ChangeSource": "DirectModification",
                }
                for p in props
            ]
            change = _change("Modify", logical_id, type_name, physical_ids.get(logical_id), details)
            change["Replacement"] = (
                "True" if any(d["Target"]["RequiresRecreation"] == "Always" for d in details) else "False"
            )
            changes[logical_id] = change

    _propagate_replacements(new, changes, physical_ids)

    for logical_id in old_active:
        if logical_id not in new.active:
            changes[logical_id] = _change(
                "Remove", logical_id, old_active[logical_id]["Type"], physical_ids.get(logical_id), []
            )
    return list(changes.values())


def _propagate_replacements(
    new: Prepared, changes: dict[str, dict[str, Any]], physical_ids: dict[str, str]
) -> None:
    replaced = {lid for lid, c in changes.items() if c.get("Replacement") == "True"}
    pending = list(replaced)
    while pending:
        cause = pending.pop()
        for logical_id in new.order:
            if logical_id == cause or logical_id not in physical_ids:
                continue
            definition = new.active[logical_id]
            props = definition.get("Properties", {}) or {}
            referring = sorted(
                p for p, v in props.items() if any(r.name == cause for r in references(v, new.conditions))
            )
            if not referring:
                continue
            type_name = definition["Type"]
            details = [
                {
                    "Target": {
                        "Attribute": "Properties",
                        "Name": p,
                        "RequiresRecreation": "Conditionally"
                        if _recreation(type_name, p) == "Always"
                        else "Never",
                    },
                    "Evaluation": "Dynamic",
                    "ChangeSource": "ResourceReference",
                    "CausingEntity": cause,
                }
                for p in referring
            ]
            change = changes.get(logical_id)
            if change is None:
                change = _change("Modify", logical_id, type_name, physical_ids.get(logical_id), [])
                change["Replacement"] = "False"
                changes[logical_id] = change
            change["Details"].extend(details)
            change["Scope"] = ["Properties"]
            if (
                any(d["Target"]["RequiresRecreation"] == "Conditionally" for d in details)
                and change["Replacement"] == "False"
            ):
                change["Replacement"] = "Conditional"
            if change["Replacement"] != "False" and logical_id not in replaced:
                replaced.add(logical_id)
                pending.append(logical_id)


def _change(
    action: str, logical_id: str, type_name: str, physical_id: str | None, details: list
) -> dict[str, Any]:
    change: dict[str, Any] = {
        "Action": action,
        "LogicalResourceId": logical_id,
        "ResourceType": type_name,
        "Scope": ["Properties"] if details else [],
        "Details": details,
    }
    if physical_id:
        change["PhysicalResourceId"] = physical_id
    return change
