"""From a template body and parameter values to a checked plan: ``prepare(...) -> Prepared``.

Steps: parse; check and resolve Parameters (defaults, overrides, AllowedValues, AllowedPattern,
lengths, Number/List types); package and translate SAM; evaluate Conditions; check every active
resource (a supported type, only supported properties, required ones present, allowed resource
attributes, known DependsOn, Ref/GetAtt to things that exist, GetAtt attributes that the type has);
order resources by their dependencies (a cycle is an error). Every problem is a ``TemplateError``
whose message names the parameter, logical id, type or property.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import dynamic, sam
from .intrinsics import PSEUDO_PARAMETERS, Scope, evaluate_conditions, references
from .resources import REGISTRY
from .template import TemplateError, parse_template, transforms

RESOURCE_ATTRIBUTES = {
    "Type",
    "Properties",
    "DependsOn",
    "Condition",
    "DeletionPolicy",
    "UpdateReplacePolicy",
    "Metadata",
    "CreationPolicy",
    "UpdatePolicy",
}
MAX_RESOURCES = 500  # resources per stack (CloudFormation quotas)
PARAMETER_TYPES_PLAIN = {"String", "Number", "List<Number>", "CommaDelimitedList"}


class InvalidTemplate(TemplateError):
    """What CloudFormation refuses in the call itself, as a ``ValidationError`` of CreateStack,
    UpdateStack and CreateChangeSet (no stack, no change set is made): a template that is not
    well-formed (syntax, sections, a resource without Type), parameter values that are missing,
    unknown or outside their constraints, and, for a template without transforms, unknown resource
    types and references to things the template does not declare. What only a transform reveals
    fails the change set or the stack instead, as on AWS."""


@dataclass
class Prepared:
    original: str  # the body as submitted
    template: dict[str, Any]  # the processed template (after transforms)
    parameters: dict[str, str]  # effective values, as text (defaults included)
    values: dict[str, Any]  # what Ref returns for each parameter (lists for list types)
    conditions: dict[str, bool]
    active: dict[str, dict[str, Any]]  # logical id -> resource definition, Condition true
    order: list[str]  # active resources, dependencies first
    depends: dict[str, set[str]] = field(default_factory=dict)
    transforms: list[str] = field(default_factory=list)

    @property
    def description(self) -> str:
        return str(self.template.get("Description", "") or "")

    @property
    def declared_parameters(self) -> dict[str, Any]:
        return self.template.get("Parameters") or {}

    def no_echo(self, name: str) -> bool:
        return str(self.declared_parameters.get(name, {}).get("NoEcho", "false")).lower() == "true"


def pseudo_parameters(stack_name: str, stack_id: str, region: str, account_id: str) -> dict[str, Any]:
    return {
        "AWS::AccountId": account_id,
        "AWS::NotificationARNs": [],
        "AWS::Partition": "aws",
        "AWS::Region": region,
        "AWS::StackId": stack_id,
        "AWS::StackName": stack_name,
        "AWS::URLSuffix": "amazonaws.com",
    }


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return ",".join(_text(v) for v in value)
    return str(value)


def resolve_parameters(
    declared: Any, given: dict[str, str], ssm_lookup: Callable[[str], str] | None = None
) -> tuple[dict[str, str], dict[str, Any]]:
    """(text value of each parameter, what Ref returns for it); TemplateError naming the parameter."""
    if declared is None:
        declared = {}
    if not isinstance(declared, dict):
        raise TemplateError("Template format error: Parameters must be a mapping")
    unknown = sorted(k for k in given if k not in declared)
    if unknown:
        raise TemplateError(f"Parameters: {unknown} do not exist in the template")
    missing = sorted(k for k, d in declared.items() if k not in given and "Default" not in (d or {}))
    if missing:
        raise TemplateError(f"Parameters: {missing} must have values")
    texts: dict[str, str] = {}
    values: dict[str, Any] = {}
    for name, decl in declared.items():
        decl = decl or {}
        if not isinstance(decl, dict) or "Type" not in decl:
            raise TemplateError(f"Template format error: parameter {name} has no Type")
        kind = str(decl["Type"])
        text = given[name] if name in given else _text(decl["Default"])
        texts[name] = text
        if kind.startswith("AWS::SSM::Parameter::Value<"):
            if ssm_lookup is None:
                raise TemplateError(f"Parameter '{name}': SSM parameter types need the SSM service")
            value = ssm_lookup(text)
            values[name] = value.split(",") if "List<" in kind else value
            continue
        is_list = kind == "CommaDelimitedList" or kind.startswith("List<")
        items = (
            [i.strip() if kind != "CommaDelimitedList" else i for i in text.split(",")] if is_list else [text]
        )
        _check_constraints(name, decl, kind, text, items)
        values[name] = items if is_list else text
    return texts, values


def _check_constraints(name: str, decl: dict[str, Any], kind: str, text: str, items: list[str]) -> None:
    hint = f" ({decl['ConstraintDescription']})" if decl.get("ConstraintDescription") else ""
    if kind in ("Number", "List<Number>"):
        for item in items:
            try:
                number = float(item)
            except ValueError:
                raise TemplateError(f"Parameter '{name}' must be a number{hint}") from None
            if "MinValue" in decl and number < float(decl["MinValue"]):
                raise TemplateError(
                    f"Parameter '{name}' must be a number not less than {decl['MinValue']}{hint}"
                )
            if "MaxValue" in decl and number > float(decl["MaxValue"]):
                raise TemplateError(
                    f"Parameter '{name}' must be a number not greater than {decl['MaxValue']}{hint}"
                )
    allowed = decl.get("AllowedValues")
    if allowed is not None:
        allowed_text = [_text(a) for a in allowed]
        if any(item not in allowed_text for item in items):
            raise TemplateError(f"Parameter '{name}' must be one of AllowedValues{hint}")
    if "AllowedPattern" in decl:
        for item in items:
            if not re.fullmatch(str(decl["AllowedPattern"]), item):
                raise TemplateError(f"Parameter '{name}' must match pattern {decl['AllowedPattern']}{hint}")
    if "MinLength" in decl and len(text) < int(decl["MinLength"]):
        raise TemplateError(f"Parameter '{name}' must contain at least {decl['MinLength']} characters{hint}")
    if "MaxLength" in decl and len(text) > int(decl["MaxLength"]):
        raise TemplateError(f"Parameter '{name}' must contain at most {decl['MaxLength']} characters{hint}")


def prepare(
    body: str,
    given: dict[str, str],
    pseudo: dict[str, Any],
    base_dir: Path | None = None,
    upload: sam.Uploader | None = None,
    ssm_lookup: Callable[[str], str] | None = None,
    source: str = "template",
) -> Prepared:
    try:
        raw = parse_template(body, source)
        names = transforms(raw)
        unsupported = [t for t in names if t != sam.SAM_TRANSFORM]
        if unsupported:
            raise TemplateError(
                f"Transform {unsupported[0]} is not supported by localcloud (only {sam.SAM_TRANSFORM})"
            )
        texts, values = resolve_parameters(raw.get("Parameters"), given, ssm_lookup)
    except InvalidTemplate:
        raise
    except TemplateError as e:
        raise InvalidTemplate(str(e)) from None
    template = raw
    if sam.is_sam(names):
        if upload is None:
            raise TemplateError("SAM templates need an artifact uploader")
        packaged = sam.package(raw, base_dir, upload)
        sam_values = {
            **{k: v for k, v in values.items()},
            **{k: v for k, v in pseudo.items() if k != "AWS::NotificationARNs"},
        }
        template = sam.translate(packaged, sam_values, pseudo["AWS::Region"])
        template.pop("Transform", None)
    else:
        template = copy.deepcopy(raw)
    try:
        plan = _structure(body, template, texts, values, names, pseudo)
    except TemplateError as e:
        if sam.is_sam(names):
            raise
        raise InvalidTemplate(str(e)) from None
    if not sam.is_sam(names) and ssm_lookup is not None:
        _check_parameter_references(plan, ssm_lookup)
    for logical_id, definition in plan.active.items():
        handler = REGISTRY[definition["Type"]]
        props = definition.get("Properties", {})
        handler.check_properties(logical_id, props)
        handler.check_required(logical_id, props)
    return plan


def _check_parameter_references(plan: Prepared, ssm_lookup: Callable[[str], str]) -> None:
    """Parameter Store references written in a template (no transform) must name parameters that
    exist when the stack or change set is asked for; those a transform or an intrinsic makes are
    only read when the resource is provisioned (engine)."""
    for definition in plan.active.values():
        for ref in dynamic.literal_ssm_names(definition.get("Properties", {})):
            try:
                ssm_lookup(dynamic.parameter(ref)[1])
            except TemplateError:
                raise InvalidTemplate(f"Parameters: [{ref.label}] cannot be found.") from None


def _structure(
    body: str,
    template: dict[str, Any],
    texts: dict[str, str],
    values: dict[str, Any],
    names: list[str],
    pseudo: dict[str, Any],
) -> Prepared:
    """The plan of a (processed) template: conditions, active resources, checked references, order."""
    scope = Scope(parameters=values, pseudo=pseudo, mappings=template.get("Mappings") or {})
    conditions = evaluate_conditions(template.get("Conditions"), scope)
    resources = template.get("Resources") or {}
    if len(resources) > MAX_RESOURCES:
        # CloudFormation's quota (hard): counted on the processed template, so a SAM template's
        # functions count with the roles, versions and aliases the transform makes of them
        raise TemplateError(
            f"Template format error: Number of resources, {len(resources)}, is greater than maximum allowed, "
            f"{MAX_RESOURCES}"
        )
    active = {}
    for logical_id, definition in resources.items():
        condition = definition.get("Condition")
        if condition is not None and condition not in conditions:
            raise TemplateError(f"Resource {logical_id}: Condition {condition} is not defined in Conditions")
        if condition is None or conditions[condition]:
            active[logical_id] = definition
    plan = Prepared(
        original=body,
        template=template,
        parameters=texts,
        values=values,
        conditions=conditions,
        active=active,
        order=[],
        transforms=names,
    )
    _check_resources(plan, resources, pseudo)
    _check_outputs(plan, resources, pseudo)
    plan.order = _order(plan)
    return plan


def _check_resources(plan: Prepared, resources: dict[str, Any], pseudo: dict[str, Any]) -> None:
    unknown_types = sorted({d["Type"] for d in plan.active.values() if d["Type"] not in REGISTRY})
    if unknown_types:
        names = [lid for lid, d in plan.active.items() if d["Type"] in unknown_types]
        raise TemplateError(
            f"Template format error: Unrecognized resource types: {unknown_types} (resources {names}); "
            f"localcloud supports {sorted(REGISTRY)}"
        )
    for logical_id, definition in plan.active.items():
        extra = sorted(set(definition) - RESOURCE_ATTRIBUTES)
        if extra:
            raise TemplateError(
                f"Resource {logical_id} ({definition['Type']}): unsupported resource attribute(s) {extra}"
            )
        props = definition.get("Properties", {})
        depends = definition.get("DependsOn", [])
        depends = [depends] if isinstance(depends, str) else depends
        for dep in depends:
            if dep not in resources:
                raise TemplateError(
                    f"Template format error: Unresolved resource dependencies [{dep}] in the Resources block of the "
                    f"template (DependsOn of {logical_id})"
                )
        _check_references(plan, props, resources, pseudo, f"Resource {logical_id} ({definition['Type']})")
        plan.depends[logical_id] = {
            r.name for r in references(props, plan.conditions) if r.name in resources
        } | set(depends)
        for dep in plan.depends[logical_id]:
            if dep not in plan.active:
                raise TemplateError(
                    f"Resource {logical_id} ({definition['Type']}): Unresolved resource dependencies [{dep}] "
                    f"({dep} is not created: its Condition is false)"
                )


def _check_references(
    plan: Prepared, value: Any, resources: dict[str, Any], pseudo: dict[str, Any], where: str
) -> None:
    for ref in references(value):
        if ref.attribute is None:
            if (
                ref.name in plan.values
                or ref.name in resources
                or ref.name in pseudo
                or ref.name in PSEUDO_PARAMETERS
            ):
                continue
            raise TemplateError(
                f"{where}: Unresolved resource dependencies [{ref.name}] (Ref to an unknown parameter or resource)"
            )
        if ref.name not in resources:
            raise TemplateError(
                f"{where}: Unresolved resource dependencies [{ref.name}] (Fn::GetAtt {ref.name}.{ref.attribute})"
            )
        handler = REGISTRY.get(resources[ref.name]["Type"])
        if handler is not None and ref.attribute != "?" and ref.attribute not in handler.attributes:
            raise TemplateError(
                f"{where}: Template error: resource {ref.name} does not support attribute type {ref.attribute} in "
                f"Fn::GetAtt ({resources[ref.name]['Type']} has {list(handler.attributes)})"
            )
    for ref in references(value, plan.conditions):
        if ref.name in resources and ref.name not in plan.active:
            raise TemplateError(
                f"{where}: Unresolved resource dependencies [{ref.name}] ({ref.name} is not created: its Condition is false)"
            )


def _check_outputs(plan: Prepared, resources: dict[str, Any], pseudo: dict[str, Any]) -> None:
    outputs = plan.template.get("Outputs") or {}
    if not isinstance(outputs, dict):
        raise TemplateError("Template format error: Outputs must be a mapping")
    for name, output in outputs.items():
        if not isinstance(output, dict) or "Value" not in output:
            raise TemplateError(f"Template format error: Output {name} is malformed: it needs a Value")
        condition = output.get("Condition")
        if condition is not None and condition not in plan.conditions:
            raise TemplateError(f"Output {name}: Condition {condition} is not defined in Conditions")
        if condition is None or plan.conditions[condition]:
            _check_references(plan, output, resources, pseudo, f"Output {name}")


def _order(plan: Prepared) -> list[str]:
    order: list[str] = []
    state: dict[str, str] = {}

    def visit(logical_id: str, path: list[str]) -> None:
        if state.get(logical_id) == "done":
            return
        if state.get(logical_id) == "visiting":
            cycle = path[path.index(logical_id) :] + [logical_id]
            raise TemplateError(f"Circular dependency between resources: {cycle}")
        state[logical_id] = "visiting"
        for dep in sorted(plan.depends.get(logical_id, ())):
            visit(dep, path + [logical_id])
        state[logical_id] = "done"
        order.append(logical_id)

    for logical_id in plan.active:
        visit(logical_id, [])
    return order
