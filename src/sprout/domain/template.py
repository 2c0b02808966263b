"""CloudFormation/SAM templates as plain data: YAML or JSON in, short tags (``!Ref``, ``!Sub``, ...)
read as long-form intrinsics, dates kept as strings; and out again as YAML."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import yaml

from sprout.domain.errors import PackagingError


class _TemplateLoader(yaml.SafeLoader):
    """SafeLoader that reads CloudFormation short tags (``!Ref``, ``!Sub``, ...) as long-form
    intrinsics and keeps dates such as ``2010-09-09`` as strings."""


_TemplateLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def _construct_intrinsic(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> dict[str, Any]:
    if isinstance(node, yaml.ScalarNode):
        value: Any = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    elif isinstance(node, yaml.MappingNode):
        value = loader.construct_mapping(node, deep=True)
    else:
        raise yaml.constructor.ConstructorError(None, None, f"!{suffix} takes a scalar, a list or a mapping", node.start_mark)
    if suffix in ("Ref", "Condition"):
        return {suffix: value}
    if suffix == "GetAtt" and isinstance(value, str):
        resource, _, attribute = value.partition(".")
        value = [resource, attribute]
    return {f"Fn::{suffix}": value}


_TemplateLoader.add_multi_constructor("!", _construct_intrinsic)


class _TemplateDumper(yaml.SafeDumper):
    pass


def _str_presenter(dumper: yaml.SafeDumper, data: str) -> yaml.Node:
    style = "|" if "\n" in data else None  # keep inline code and policies readable
    return dumper.represent_scalar("tag:yaml.org,2002:str", data, style=style)


_TemplateDumper.add_representer(str, _str_presenter)


def load_template(text: str, path: str = "template.yaml") -> Any:
    """Parse a CloudFormation/SAM template (YAML or JSON) into plain data, intrinsics long-form (a
    mapping, unless the text is no template: the caller checks)."""
    try:
        data = yaml.load(text, Loader=_TemplateLoader)  # noqa: S506 - a SafeLoader subclass
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise PackagingError(f"{path}: invalid YAML{where}: {e.problem or e.context}") from e
    except yaml.YAMLError as e:
        raise PackagingError(f"{path}: invalid YAML: {e}") from e
    return data


def dump_template(template: Mapping[str, Any]) -> str:
    return yaml.dump(template, Dumper=_TemplateDumper, sort_keys=False, default_flow_style=False, allow_unicode=True)


def is_intrinsic(value: Any) -> bool:
    return (
        isinstance(value, dict)
        and len(value) == 1
        and (next(iter(value)) in ("Ref", "Condition") or next(iter(value)).startswith("Fn::"))
    )
