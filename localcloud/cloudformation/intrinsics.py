"""CloudFormation intrinsic functions, conditions and references: pure functions, no I/O.

``resolve(value, scope, where)`` evaluates every intrinsic in ``value`` (``Ref``, ``Fn::GetAtt``,
``Fn::Sub`` in both forms, ``Fn::Join``, ``Fn::If``, ``Fn::Select``, ``Fn::Split``, ``Fn::GetAZs``,
``Fn::Base64``, ``Fn::FindInMap``, ``Fn::ImportValue``) and drops ``AWS::NoValue``. Values of
resources come from ``scope.resource_ref`` / ``scope.resource_attr``; when ``scope.partial`` is set
and such a value is not known yet (they raise ``Unresolvable``), the intrinsic is kept as written
(with its arguments resolved as far as possible): that is how change sets compare templates before
anything is provisioned.

``evaluate_conditions`` evaluates a template's ``Conditions`` (``Fn::Equals``, ``Fn::And``,
``Fn::Or``, ``Fn::Not``, ``Condition``); ``references`` lists what a value refers to, for the
dependency graph and for naming dangling references.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from .template import TemplateError

NO_VALUE = object()  # what Ref AWS::NoValue evaluates to; removed from the enclosing dict/list


class Unresolvable(Exception):
    """A resource's value is not known yet (only raised in partial mode)."""


PSEUDO_PARAMETERS = (
    "AWS::AccountId",
    "AWS::NotificationARNs",
    "AWS::NoValue",
    "AWS::Partition",
    "AWS::Region",
    "AWS::StackId",
    "AWS::StackName",
    "AWS::URLSuffix",
)

FUNCTIONS = (
    "Ref",
    "Fn::GetAtt",
    "Fn::Sub",
    "Fn::Join",
    "Fn::If",
    "Fn::Select",
    "Fn::Split",
    "Fn::GetAZs",
    "Fn::Base64",
    "Fn::FindInMap",
    "Fn::ImportValue",
)
UNSUPPORTED_FUNCTIONS = ("Fn::Cidr", "Fn::Transform", "Fn::Length", "Fn::ToJsonString", "Fn::ForEach")

_SUB_VAR = re.compile(r"\$\{([^}]*)\}")


def _unknown(name: str) -> Any:
    raise Unresolvable(name)


@dataclass
class Scope:
    """What intrinsics can see. ``parameters`` holds resolved values (lists for list types)."""

    parameters: dict[str, Any] = field(default_factory=dict)
    pseudo: dict[str, Any] = field(default_factory=dict)
    conditions: dict[str, bool] = field(default_factory=dict)
    mappings: dict[str, Any] = field(default_factory=dict)
    resources: set[str] = field(default_factory=set)  # logical ids that exist (condition true)
    resource_ref: Callable[[str], Any] = _unknown
    resource_attr: Callable[[str, str], Any] = lambda logical_id, attr: _unknown(f"{logical_id}.{attr}")
    import_value: Callable[[str], Any] = _unknown
    partial: bool = False


def is_intrinsic(value: Any) -> bool:
    return (
        isinstance(value, dict) and len(value) == 1 and next(iter(value)) in FUNCTIONS + UNSUPPORTED_FUNCTIONS
    )


def resolve(value: Any, scope: Scope, where: str) -> Any:
    """``value`` with every intrinsic evaluated; raises TemplateError naming ``where``."""
    result = _eval(value, scope, where)
    return None if result is NO_VALUE else result


def _eval(value: Any, scope: Scope, where: str) -> Any:
    if isinstance(value, dict):
        if is_intrinsic(value):
            name, args = next(iter(value.items()))
            if name in UNSUPPORTED_FUNCTIONS:
                raise TemplateError(f"{where}: intrinsic function {name} is not supported by localcloud")
            if not scope.partial:
                return _FUNCTIONS[name](args, scope, where)
            try:
                return _FUNCTIONS[name](args, scope, where)
            except Unresolvable:
                return {name: _eval(args, scope, where)}
        out = {}
        for k, v in value.items():
            r = _eval(v, scope, where)
            if r is not NO_VALUE:
                out[k] = r
        return out
    if isinstance(value, list):
        return [r for r in (_eval(v, scope, where) for v in value) if r is not NO_VALUE]
    return value


def _resolved_string(value: Any, scope: Scope, where: str, what: str) -> str:
    r = _eval(value, scope, where)
    if isinstance(r, bool):
        return "true" if r else "false"
    if isinstance(r, (int, float)):
        return str(r)
    if not isinstance(r, str):
        if scope.partial and is_intrinsic(r):
            raise Unresolvable(what)
        raise TemplateError(f"{where}: {what} must be a string, got {type(r).__name__}")
    return r


def _ref(args: Any, scope: Scope, where: str) -> Any:
    if not isinstance(args, str):
        raise TemplateError(f"{where}: Ref takes a name, got {args!r}")
    if args == "AWS::NoValue":
        return NO_VALUE
    if args in scope.pseudo:
        return scope.pseudo[args]
    if args in scope.parameters:
        return scope.parameters[args]
    if args in scope.resources:
        return scope.resource_ref(args)
    raise TemplateError(
        f"{where}: Unresolved resource dependencies [{args}] (Ref to an unknown parameter or resource)"
    )


def getatt_parts(args: Any, where: str) -> tuple[Any, Any]:
    if isinstance(args, str) and "." in args:
        logical_id, attr = args.split(".", 1)
        return logical_id, attr
    if isinstance(args, list) and len(args) == 2 and isinstance(args[0], str):
        return args[0], args[1]
    raise TemplateError(f"{where}: Fn::GetAtt takes [LogicalId, Attribute], got {args!r}")


def _getatt(args: Any, scope: Scope, where: str) -> Any:
    logical_id, attr = getatt_parts(args, where)
    attr = _resolved_string(attr, scope, where, "Fn::GetAtt attribute")
    if logical_id not in scope.resources:
        raise TemplateError(
            f"{where}: Unresolved resource dependencies [{logical_id}] (Fn::GetAtt {logical_id}.{attr})"
        )
    return scope.resource_attr(logical_id, attr)


def _sub(args: Any, scope: Scope, where: str) -> str:
    if isinstance(args, str):
        text, variables = args, {}
    elif isinstance(args, list) and len(args) == 2 and isinstance(args[1], dict):
        text = _resolved_string(args[0], scope, where, "Fn::Sub string")
        variables = args[1]
    else:
        raise TemplateError(f"{where}: Fn::Sub takes a string or [string, {{variables}}], got {args!r}")

    def value_of(name: str) -> str:
        name = name.strip()
        if name in variables:
            return _resolved_string(variables[name], scope, where, f"Fn::Sub variable {name}")
        if "." in name and name not in scope.pseudo:
            logical_id, attr = name.split(".", 1)
            return _resolved_string({"Fn::GetAtt": [logical_id, attr]}, scope, where, f"${{{name}}}")
        return _resolved_string({"Ref": name}, scope, where, f"${{{name}}}")

    def repl(m: re.Match) -> str:
        inner = m.group(1)
        if inner.startswith("!"):
            return "${" + inner[1:] + "}"
        return value_of(inner)

    return _SUB_VAR.sub(repl, text)


def _list_arg(value: Any, scope: Scope, where: str, what: str) -> list:
    r = _eval(value, scope, where)
    if not isinstance(r, list):
        if scope.partial and is_intrinsic(r):
            raise Unresolvable(what)
        raise TemplateError(f"{where}: {what} must be a list, got {r!r}")
    return r


def _join(args: Any, scope: Scope, where: str) -> str:
    if not (isinstance(args, list) and len(args) == 2):
        raise TemplateError(f"{where}: Fn::Join takes [delimiter, [values]], got {args!r}")
    delimiter = _resolved_string(args[0], scope, where, "Fn::Join delimiter")
    items = _list_arg(args[1], scope, where, "Fn::Join values")
    return delimiter.join(_resolved_string(i, scope, where, "Fn::Join value") for i in items)


def _if(args: Any, scope: Scope, where: str) -> Any:
    if not (isinstance(args, list) and len(args) == 3 and isinstance(args[0], str)):
        raise TemplateError(f"{where}: Fn::If takes [condition, value_if_true, value_if_false], got {args!r}")
    if args[0] not in scope.conditions:
        raise TemplateError(f"{where}: Fn::If refers to unknown condition {args[0]}")
    return _eval(args[1] if scope.conditions[args[0]] else args[2], scope, where)


def _select(args: Any, scope: Scope, where: str) -> Any:
    if not (isinstance(args, list) and len(args) == 2):
        raise TemplateError(f"{where}: Fn::Select takes [index, [values]], got {args!r}")
    index = _eval(args[0], scope, where)
    try:
        index = int(index)
    except (TypeError, ValueError):
        raise TemplateError(f"{where}: Fn::Select index must be a number, got {index!r}") from None
    items = _list_arg(args[1], scope, where, "Fn::Select values")
    if not 0 <= index < len(items):
        raise TemplateError(f"{where}: Fn::Select index {index} is out of range for a list of {len(items)}")
    return items[index]


def _split(args: Any, scope: Scope, where: str) -> list[str]:
    if not (isinstance(args, list) and len(args) == 2):
        raise TemplateError(f"{where}: Fn::Split takes [delimiter, string], got {args!r}")
    delimiter = _resolved_string(args[0], scope, where, "Fn::Split delimiter")
    return _resolved_string(args[1], scope, where, "Fn::Split string").split(delimiter)


def _getazs(args: Any, scope: Scope, where: str) -> list[str]:
    region = _resolved_string(args, scope, where, "Fn::GetAZs region") if args else ""
    region = region or scope.pseudo.get("AWS::Region", "us-east-1")
    return [f"{region}{z}" for z in "abcdef"]


def _base64(args: Any, scope: Scope, where: str) -> str:
    return base64.b64encode(_resolved_string(args, scope, where, "Fn::Base64 value").encode()).decode()


def _findinmap(args: Any, scope: Scope, where: str) -> Any:
    if not (isinstance(args, list) and len(args) == 3):
        raise TemplateError(
            f"{where}: Fn::FindInMap takes [MapName, TopLevelKey, SecondLevelKey], got {args!r}"
        )
    keys = [_resolved_string(a, scope, where, "Fn::FindInMap key") for a in args]
    value: Any = scope.mappings
    for depth, key in enumerate(keys):
        if not isinstance(value, dict) or key not in value:
            path = ".".join(keys[: depth + 1])
            raise TemplateError(f"{where}: Fn::FindInMap: Mappings has no {path}")
        value = value[key]
    return value


def _importvalue(args: Any, scope: Scope, where: str) -> Any:
    return scope.import_value(_resolved_string(args, scope, where, "Fn::ImportValue name"))


_FUNCTIONS: dict[str, Callable[[Any, Scope, str], Any]] = {
    "Ref": _ref,
    "Fn::GetAtt": _getatt,
    "Fn::Sub": _sub,
    "Fn::Join": _join,
    "Fn::If": _if,
    "Fn::Select": _select,
    "Fn::Split": _split,
    "Fn::GetAZs": _getazs,
    "Fn::Base64": _base64,
    "Fn::FindInMap": _findinmap,
    "Fn::ImportValue": _importvalue,
}


# ---- conditions ------------------------------------------------------------------------------


def evaluate_conditions(conditions: Any, scope: Scope) -> dict[str, bool]:
    """The value of every condition of a template's ``Conditions`` section."""
    if conditions is None:
        return {}
    if not isinstance(conditions, dict):
        raise TemplateError("Template format error: Conditions must be a mapping")
    values: dict[str, bool] = {}
    evaluating: list[str] = []

    def condition(name: str) -> bool:
        if name in values:
            return values[name]
        if name not in conditions:
            raise TemplateError(f"Conditions: unknown condition {name}")
        if name in evaluating:
            raise TemplateError(f"Conditions: circular dependency between conditions {evaluating + [name]}")
        evaluating.append(name)
        values[name] = expr(conditions[name], f"condition {name}")
        evaluating.pop()
        return values[name]

    def expr(node: Any, where: str) -> bool:
        if isinstance(node, bool):
            return node
        if not (isinstance(node, dict) and len(node) == 1):
            raise TemplateError(
                f"{where}: a condition must be Fn::Equals, Fn::And, Fn::Or, Fn::Not or Condition"
            )
        fn, args = next(iter(node.items()))
        if fn == "Condition":
            return condition(args)
        if fn == "Fn::Equals":
            if not (isinstance(args, list) and len(args) == 2):
                raise TemplateError(f"{where}: Fn::Equals takes two values")
            a, b = (resolve(x, scope, where) for x in args)
            return _as_text(a) == _as_text(b)
        if fn in ("Fn::And", "Fn::Or"):
            if not (isinstance(args, list) and 2 <= len(args) <= 10):
                raise TemplateError(f"{where}: {fn} takes 2 to 10 conditions")
            results = [expr(a, where) for a in args]
            return all(results) if fn == "Fn::And" else any(results)
        if fn == "Fn::Not":
            if not (isinstance(args, list) and len(args) == 1):
                raise TemplateError(f"{where}: Fn::Not takes one condition")
            return not expr(args[0], where)
        raise TemplateError(f"{where}: {fn} is not a condition function")

    scope.conditions = values  # Fn::If inside conditions is not allowed, but Condition refs are
    for name in conditions:
        condition(name)
    return values


def _as_text(value: Any) -> Any:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return str(value)
    return value


# ---- references ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Reference:
    name: str
    attribute: str | None = None  # set for Fn::GetAtt and ${A.B}


def references(value: Any, conditions: dict[str, bool] | None = None) -> Iterator[Reference]:
    """Names ``value`` refers to. With ``conditions``, only the taken branch of each Fn::If."""
    if isinstance(value, list):
        for v in value:
            yield from references(v, conditions)
        return
    if not isinstance(value, dict):
        return
    if not is_intrinsic(value):
        for v in value.values():
            yield from references(v, conditions)
        return
    name, args = next(iter(value.items()))
    if name == "Ref" and isinstance(args, str):
        yield Reference(args)
    elif name == "Fn::GetAtt":
        try:
            logical_id, attr = getatt_parts(args, "")
        except TemplateError:
            return
        yield Reference(logical_id, attr if isinstance(attr, str) else "?")
        yield from references(attr, conditions)
    elif name == "Fn::Sub":
        text, variables = (
            (args, {})
            if isinstance(args, str)
            else (args[0], args[1])
            if isinstance(args, list) and len(args) == 2
            else ("", {})
        )
        if not isinstance(variables, dict):
            variables = {}
        if isinstance(text, str):
            for m in _SUB_VAR.finditer(text):
                var = m.group(1).strip()
                if var.startswith("!") or var in variables:
                    continue
                if "." in var and not var.startswith("AWS::"):
                    logical_id, attr = var.split(".", 1)
                    yield Reference(logical_id, attr)
                else:
                    yield Reference(var)
        else:
            yield from references(text, conditions)
        yield from references(variables, conditions)
    elif name == "Fn::If" and conditions is not None and isinstance(args, list) and len(args) == 3:
        if args[0] in conditions:
            yield from references(args[1] if conditions[args[0]] else args[2], conditions)
    else:
        yield from references(args, conditions)
