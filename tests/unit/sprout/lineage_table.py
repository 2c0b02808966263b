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


def notes_lineage_on_moto(monkeypatch, table: str, bucket: str):
    """A generator for a fixture: moto in-process with the lineage table (as template.yaml declares it)
    and the notes app registered (dev follows main, prod promote-only), the settings a task function
    gets from template.yaml in the environment. Yields the Lineage."""
    import boto3
    from moto import mock_aws

    from sprout.domain.model import App, StageSpec

    lineage_mod = importlib.import_module("sprout.adapters.lineage")
    for var in ("AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_DYNAMODB"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("TABLE_NAME", table)
    monkeypatch.setenv("ARTIFACT_BUCKET", bucket)
    monkeypatch.setenv("POWERTOOLS_METRICS_NAMESPACE", "SproutUnit")
    lineage_mod.reset_connections()
    with mock_aws():
        boto3.client("dynamodb").create_table(TableName=table, **table_properties())
        lineage = lineage_mod.Lineage()
        lineage.create_app(App("notes", "notes", stages=(StageSpec("dev", "main", True), StageSpec("prod"))))
        yield lineage
    lineage_mod.reset_connections()
