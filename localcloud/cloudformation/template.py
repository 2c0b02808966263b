"""Reading CloudFormation templates: JSON or YAML with CloudFormation's short tags.

``parse_template(body)`` returns the template as plain dicts/lists/scalars, with every short tag
turned into its long form (``!Ref X`` -> ``{"Ref": "X"}``, ``!GetAtt A.B`` -> ``{"Fn::GetAtt":
["A", "B"]}``, ``!Sub s`` -> ``{"Fn::Sub": s}``, ...). Syntax errors raise ``TemplateError`` with
the line and column. Dates are not converted (``2010-09-09`` stays a string), as in CloudFormation.
"""

from __future__ import annotations

import json
import re
from typing import Any

import yaml


class TemplateError(Exception):
    """The template (or what it asks for) is wrong; the message names the culprit."""


SECTIONS = {
    "AWSTemplateFormatVersion",
    "Description",
    "Metadata",
    "Parameters",
    "Mappings",
    "Conditions",
    "Transform",
    "Resources",
    "Outputs",
    "Rules",
    "Globals",  # SAM only; the transform removes it
}


class _Loader(yaml.SafeLoader):
    """SafeLoader with CloudFormation tags and without YAML 1.1 timestamps."""


_Loader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def _construct(loader: yaml.Loader, node: yaml.Node) -> Any:
    if isinstance(node, yaml.ScalarNode):
        return loader.construct_scalar(node)
    if isinstance(node, yaml.SequenceNode):
        return loader.construct_sequence(node, deep=True)
    return loader.construct_mapping(node, deep=True)


def _tag(loader: yaml.Loader, suffix: str, node: yaml.Node) -> Any:
    value = _construct(loader, node)
    if suffix == "Ref":
        return {"Ref": value}
    if suffix == "Condition":
        return {"Condition": value}
    if suffix == "GetAtt" and isinstance(value, str):
        logical, _, attr = value.partition(".")
        return {"Fn::GetAtt": [logical, attr]}
    return {f"Fn::{suffix}": value}


_Loader.add_multi_constructor("!", _tag)


def _no_duplicates(loader: yaml.Loader, node: yaml.MappingNode, deep: bool = False) -> dict:
    seen: set = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        if key in seen:
            mark = key_node.start_mark
            raise TemplateError(
                f"Template format error: duplicate key '{key}' at line {mark.line + 1}, column {mark.column + 1}"
            )
        seen.add(key)
    return yaml.SafeLoader.construct_mapping(loader, node, deep=deep)


_Loader.construct_mapping = _no_duplicates  # type: ignore[method-assign]


def parse_template(body: str | bytes, source: str = "template") -> dict[str, Any]:
    """The template as a dict; TemplateError (naming ``source``, line and column) when it is not."""
    if isinstance(body, bytes):
        body = body.decode("utf-8")
    if not isinstance(body, str) or not body.strip():
        raise TemplateError(f"Template format error: {source} is empty")
    if body.lstrip().startswith("{"):
        try:
            template = json.loads(body)
        except json.JSONDecodeError as e:
            raise TemplateError(
                f"Template format error: JSON not well-formed in {source} (line {e.lineno}, column {e.colno}): {e.msg}"
            ) from None
    else:
        try:
            template = yaml.load(body, Loader=_Loader)  # noqa: S506 - _Loader is a SafeLoader
        except yaml.MarkedYAMLError as e:
            mark = e.problem_mark or e.context_mark
            where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark else ""
            problem = e.problem or e.context or "syntax error"
            if e.context and e.context_mark and e.problem:
                started = e.context_mark
                problem += f" ({e.context} started at line {started.line + 1}, column {started.column + 1})"
            raise TemplateError(
                f"Template format error: YAML not well-formed in {source}{where}: {problem}"
            ) from None
        except yaml.YAMLError as e:
            raise TemplateError(f"Template format error: YAML not well-formed in {source}: {e}") from None
    if not isinstance(template, dict):
        raise TemplateError(f"Template format error: {source} is not a JSON or YAML mapping")
    unknown = sorted(str(k) for k in template if k not in SECTIONS)
    if unknown:
        raise TemplateError(
            f"Template format error: unsupported structure: unknown top-level section(s) {unknown}"
        )
    resources = template.get("Resources")
    if not isinstance(resources, dict) or not resources:
        raise TemplateError("Template format error: at least one Resources member must be defined.")
    for logical_id, resource in resources.items():
        if not re.fullmatch(r"[A-Za-z0-9]+", str(logical_id)):
            raise TemplateError(f"Template format error: resource name {logical_id} is non alphanumeric.")
        if not isinstance(resource, dict) or "Type" not in resource:
            raise TemplateError(f"Template format error: resource {logical_id} has no Type")
    return template


def transforms(template: dict[str, Any]) -> list[str]:
    value = template.get("Transform")
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return list(value)
    raise TemplateError("Template format error: Transform must be a name or a list of names")
