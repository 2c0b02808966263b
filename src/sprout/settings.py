"""Typed settings from the environment, read once at cold start (``sprout.wiring``).

This module is the one place in Sprout's functions that reads their environment: handlers,
services, adapters and the domain are handed a ``Settings`` (or the values they need from it).

``TABLE_NAME`` and ``ARTIFACT_BUCKET`` reach every function (template.yaml's Globals). The rest
reach only the functions that use them, and each function declares which it needs, once:
``FUNCTION_SETTINGS``, by its entry point (its ``Handler``, which Lambda also hands the function as
``_HANDLER``). ``Settings.for_function`` checks them at the function's cold start (every handler
module asks ``sprout.wiring.settings()`` at import), failing with one ``MissingSetting`` naming
every variable that is not set; tests/unit/sprout/test_function_settings.py checks that
template.yaml gives every function what it declares, so a missing variable fails the test suite,
not a cold start. ``Settings.need`` reads a setting a function declared (or fails naming its
variable, outside a function: tests, the console).
Where Sprout runs is not a setting: boto3's own defaults (AWS_ENDPOINT_URL, region, credentials)
decide that.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, fields


class MissingSetting(RuntimeError):
    pass


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


ALWAYS = ("table_name", "artifact_bucket")  # template.yaml's Globals: every function gets them
# settings a function may run without (the notifier's links to the console)
OPTIONAL = frozenset({"console_url"})

# Each function's entry point (its Handler in template.yaml) -> the settings it needs besides ALWAYS.
FUNCTION_SETTINGS: dict[str, tuple[str, ...]] = {
    "sprout.handlers.api.lambda_handler": (
        "build_machine", "promote_machine", "rollback_machine", "teardown_machine", "sprout_stack_name",
        "notification_role_arn", "notification_dlq_arn"),
    "sprout.handlers.tasks.build.resolve": ("sprout_stack_name",),  # a push may make a preview stage
    "sprout.handlers.tasks.build.record_build": (),
    "sprout.handlers.tasks.build.plan_dependencies": (),
    "sprout.handlers.tasks.build.cache_dependencies": (),
    "sprout.handlers.tasks.build.package": ("app_role_boundary_arn", "app_role_path"),
    "sprout.handlers.tasks.build.record_build_outcome": (),
    "sprout.handlers.tasks.deploy.begin_deploy": (),
    "sprout.handlers.tasks.deploy.start_change_set": ("deploy_role_arn",),
    "sprout.handlers.tasks.deploy.check_deploy": (),
    "sprout.handlers.tasks.deploy.settle_deploy": (),
    "sprout.handlers.tasks.deploy.watch_stage": (
        "sprout_stack_name", "access_log_role_arn", "fast_signal_function_arn", "issues_function_arn"),
    "sprout.handlers.tasks.deploy.abandon_deploy": (),
    "sprout.handlers.tasks.rollback.resolve_alarm": (),
    "sprout.handlers.tasks.rollback.flip_aliases": (),
    "sprout.handlers.tasks.canary.canary_step": (),
    "sprout.handlers.tasks.canary.canary_abandon": (),
    "sprout.handlers.finalize.lambda_handler": (),
    "sprout.handlers.tasks.teardown.lambda_handler": (),
    "sprout.handlers.previews.sweep": ("sprout_stack_name", "teardown_machine", "deploy_role_arn"),
    "sprout.handlers.previews.on_event": ("build_machine", "sprout_stack_name", "teardown_machine"),
    "sprout.handlers.monitoring.lambda_handler": ("access_log_role_arn",),
    "sprout.handlers.auto_rollback.lambda_handler": (
        "sprout_stack_name", "access_log_role_arn", "fast_signal_function_arn"),
    "sprout.handlers.fast_signal.lambda_handler": (),  # reads no settings (it only puts metrics)
    "sprout.handlers.issues_ingest.lambda_handler": (),
    "sprout.handlers.notify.lambda_handler": (),  # CONSOLE_URL when there is a console (OPTIONAL)
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
    def from_env(cls, environ: Mapping[str, str] | None = None, needs: tuple[str, ...] = (),
                 function: str | None = None) -> Settings:
        """The settings, with ALWAYS and ``needs`` checked: one MissingSetting naming every variable
        of them that is not set (and ``function``, the entry point that needs them)."""
        env = os.environ if environ is None else environ
        values = {f.name: (env.get(ENV_NAMES[f.name], "").strip() or None) for f in fields(cls)}
        missing = [ENV_NAMES[name] for name in dict.fromkeys((*ALWAYS, *needs)) if not values[name]]
        if missing:
            who = f"{function} needs" if function else "Sprout needs"
            raise MissingSetting(f"{who} the environment variable{'s' if len(missing) > 1 else ''} "
                                 f"{', '.join(missing)}, not set (template.yaml gives each function its Environment)")
        return cls(**values)  # type: ignore[arg-type]  # ALWAYS checked just above

    @classmethod
    def for_function(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """The settings of the running function (Lambda's ``_HANDLER``: its entry point), with what
        it declares in FUNCTION_SETTINGS checked; outside a function, ALWAYS alone."""
        env = os.environ if environ is None else environ
        function = env.get("_HANDLER", "").strip() or None
        return cls.from_env(env, FUNCTION_SETTINGS.get(function or "", ()), function)

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
