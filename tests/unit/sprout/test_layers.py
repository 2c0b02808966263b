"""The code's layers (README, Architecture): read from the source, so a shortcut fails here, not
in review. The domain and the services never reach AWS or the handlers; nothing under handlers/,
services/, adapters/ or domain/ reads the environment (settings.py does, once)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[3] / "src" / "sprout"
LAYERS = ("domain", "services", "adapters", "handlers")
# what each pure layer may not import (a prefix of the module's dotted name)
FORBIDDEN = {
    "domain": ("boto3", "botocore", "pynamodb", "sprout.adapters", "sprout.handlers", "sprout.services", "sprout.wiring"),
    "services": ("boto3", "botocore", "pynamodb", "sprout.adapters", "sprout.handlers", "sprout.wiring"),
}


def modules(layer: str) -> list[Path]:
    return sorted((SRC / layer).rglob("*.py"))


def imported(tree: ast.AST) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


@pytest.mark.parametrize("layer", sorted(FORBIDDEN))
def test_given_a_pure_layer_when_its_imports_are_read_then_none_reaches_aws_or_an_outer_layer(layer):
    """GIVEN every module of domain/ and services/
    WHEN their imports are read
    THEN none imports boto3, botocore, PynamoDB, the adapters, the handlers or the composition root."""
    found = [f"{path.relative_to(SRC)}: {name}" for path in modules(layer)
             for name in imported(ast.parse(path.read_text()))
             if any(name == f or name.startswith(f + ".") for f in FORBIDDEN[layer])]
    assert modules(layer) and found == []


@pytest.mark.parametrize("layer", LAYERS)
def test_given_a_layer_when_its_code_is_read_then_nothing_reads_the_environment(layer):
    """GIVEN every module of handlers/, services/, adapters/ and domain/
    WHEN its code is read
    THEN none reads ``os.environ`` or ``os.getenv`` or calls ``require_env`` (the typed Settings is read
    once, by sprout.wiring)."""
    found = []
    for path in modules(layer):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "os" \
                    and node.attr in ("environ", "getenv", "putenv"):
                found.append(f"{path.relative_to(SRC)}:{node.lineno} os.{node.attr}")
            if isinstance(node, ast.Name) and node.id in ("require_env", "environ", "getenv"):
                found.append(f"{path.relative_to(SRC)}:{node.lineno} {node.id}")
    assert modules(layer) and found == []
