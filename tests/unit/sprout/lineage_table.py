"""The lineage table for tests, built from template.yaml's SproutTable so tests cannot drift."""

from __future__ import annotations

import importlib
import os
from pathlib import Path

from sprout.domain.template import load_template

ROOT = Path(__file__).resolve().parents[3]
CREATE_TABLE_KEYS = ("AttributeDefinitions", "KeySchema", "GlobalSecondaryIndexes", "BillingMode")


def table_properties() -> dict:
    """CreateTable arguments from template.yaml (CloudFormation's property names are the API's)."""
    template = load_template((ROOT / "template.yaml").read_text(), "template.yaml")
    props = template["Resources"]["SproutTable"]["Properties"]
    return {k: props[k] for k in CREATE_TABLE_KEYS if k in props}


def lineage_module():
    """sprout.adapters.lineage, imported with a TABLE_NAME when none is set (the environment is
    restored afterwards, so that other tests still see it unset)."""
    saved = os.environ.get("TABLE_NAME")
    os.environ.setdefault("TABLE_NAME", "sprout-unit-lineage")
    try:
        return importlib.import_module("sprout.adapters.lineage")
    finally:
        if saved is None:
            os.environ.pop("TABLE_NAME", None)
