"""Typed settings from the environment, read once at cold start (``sprout.wiring``).

This module is the one place in Sprout's functions that reads their environment: handlers,
services, adapters and the domain are handed a ``Settings`` (or the values they need from it).

``TABLE_NAME`` and ``ARTIFACT_BUCKET`` reach every function (template.yaml's Globals): a function
without them fails its cold start with the variable's name. The rest reach only the functions that
use them; asking for one a function was not given (``Settings.need``) fails naming the variable.
Where Sprout runs is not a setting: boto3's own defaults (AWS_ENDPOINT_URL, region, credentials)
decide that.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, fields


class MissingSetting(RuntimeError):
    pass


def require_env(name: str, environ: Mapping[str, str] | None = None) -> str:
    value = (os.environ if environ is None else environ).get(name, "").strip()
    if not value:
        raise MissingSetting(f"environment variable {name} is not set")
    return value


# field -> the environment variable template.yaml sets (names kept as they are)
ENV_NAMES = {
    "table_name": "TABLE_NAME",
    "artifact_bucket": "ARTIFACT_BUCKET",
    "build_machine": "BUILD_STATE_MACHINE_ARN",
    "promote_machine": "PROMOTE_STATE_MACHINE_ARN",
    "rollback_machine": "ROLLBACK_STATE_MACHINE_ARN",
    "sprout_stack_name": "SPROUT_STACK_NAME",
    "deploy_role_arn": "DEPLOY_ROLE_ARN",
    "app_role_boundary_arn": "APP_ROLE_BOUNDARY_ARN",
    "app_role_path": "APP_ROLE_PATH",
    "access_log_role_arn": "ACCESS_LOG_ROLE_ARN",
    "fast_signal_function_arn": "FAST_SIGNAL_FUNCTION_ARN",
    "teardown_machine": "TEARDOWN_STATE_MACHINE_ARN",
    "issues_function_arn": "ISSUES_FUNCTION_ARN",
    "notification_role_arn": "NOTIFICATION_ROLE_ARN",
    "notification_dlq_arn": "NOTIFICATION_DLQ_ARN",
    "console_url": "CONSOLE_URL",
}


@dataclass(frozen=True)
class Settings:
    table_name: str
    artifact_bucket: str
    build_machine: str | None = None
    promote_machine: str | None = None
    rollback_machine: str | None = None
    sprout_stack_name: str | None = None
    deploy_role_arn: str | None = None
    app_role_boundary_arn: str | None = None
    app_role_path: str | None = None
    access_log_role_arn: str | None = None
    fast_signal_function_arn: str | None = None
    teardown_machine: str | None = None
    issues_function_arn: str | None = None
    notification_role_arn: str | None = None
    notification_dlq_arn: str | None = None
    console_url: str | None = None

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ
        optional = {f.name: (env.get(ENV_NAMES[f.name], "").strip() or None)
                    for f in fields(cls) if f.name not in ("table_name", "artifact_bucket")}
        return cls(table_name=require_env("TABLE_NAME", env), artifact_bucket=require_env("ARTIFACT_BUCKET", env),
                   **optional)

    def need(self, name: str) -> str:
        """The setting ``name`` (a field), or MissingSetting naming its environment variable."""
        value = getattr(self, name)
        if not value:
            raise MissingSetting(f"environment variable {ENV_NAMES[name]} is not set")
        return str(value)


def lineage_table() -> str:
    """The lineage table's name, read when the first model talks to DynamoDB (not at import)."""
    name = os.environ.get("TABLE_NAME", "").strip()
    if not name:
        raise MissingSetting(
            "TABLE_NAME is not set: Sprout's lineage needs the name of its table "
            "(template.yaml passes SproutTable to every function as TABLE_NAME)"
        )
    return name


def lineage_region() -> str | None:
    return os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or None
