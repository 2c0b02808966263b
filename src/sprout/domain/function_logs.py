"""Every app function's log group is Sprout's to name.

CloudWatch Logs authorizes PutLogEvents on a log stream and takes no ``aws:ResourceTag`` condition
there, so the permissions boundary of an app's roles (``AppRoleBoundary`` in Sprout's
``template.yaml``) can tell whose a log group is only by its name. Package therefore sets, on every
``AWS::Serverless::Function`` and ``AWS::Lambda::Function``, ``LoggingConfig.LogGroup`` to
``/aws/lambda/${AWS::StackName}/<LogicalId>`` (:func:`function_log_group`): the stage's stack name
(``<app>-<stage>``, unique among registered apps) followed by ``/``, which no other stage's
``/aws/lambda/<app>-<stage>/*`` matches. The boundary lets a role write, read and delete only the
groups under its own stage's name (its stack's ``sprout:app``/``sprout:stage`` tags); every other
``/aws/lambda/*`` group is not the app's.

The app's other logging choices (``LogFormat``, ``ApplicationLogLevel``, ``SystemLogLevel``, on the
resource or in ``Globals.Function``) are kept. An app that sets ``LoggingConfig.LogGroup`` itself is
refused, naming the resource and the property, as sprout.domain.app_roles refuses boundaries.

Sprout reads an app function's logs, subscribes them and deletes them by the same name
(:func:`function_log_group`); Sprout's own functions keep Lambda's default ``/aws/lambda/<name>``.
Pure: no AWS calls.
"""

from __future__ import annotations

from typing import Any

from sprout.domain.errors import PackagingError

FUNCTION_TYPES = ("AWS::Serverless::Function", "AWS::Lambda::Function")
PREFIX = "/aws/lambda/"


def function_log_group(stack: str, logical_id: str) -> str:
    """The log group of the app function ``logical_id`` of the stack ``stack`` (``<app>-<stage>``)."""
    return f"{PREFIX}{stack}/{logical_id}"


def stage_log_group_pattern(stack: str) -> str:
    """Every function log group of one stage's stack (IAM's wildcard syntax)."""
    return f"{PREFIX}{stack}/*"


def own_log_groups(template: dict[str, Any]) -> None:
    """Set every function's ``LoggingConfig.LogGroup`` of a (packaged) SAM template, in place."""
    fn_globals = (template.get("Globals") or {}).get("Function") or {}
    if isinstance(fn_globals, dict):
        _refuse_own_group("Globals.Function", fn_globals.get("LoggingConfig"))
    for logical_id, resource in (template.get("Resources") or {}).items():
        if not isinstance(resource, dict) or resource.get("Type") not in FUNCTION_TYPES:
            continue
        props = resource.setdefault("Properties", {})
        if not isinstance(props, dict):
            raise PackagingError(f"{logical_id}.Properties must be a mapping")
        config = props.get("LoggingConfig")
        _refuse_own_group(logical_id, config)
        props["LoggingConfig"] = {
            **(config or {}),
            "LogGroup": {"Fn::Sub": f"{PREFIX}${{AWS::StackName}}/{logical_id}"},
        }


def _refuse_own_group(where: str, config: Any) -> None:
    if config is None:
        return
    if not isinstance(config, dict) or any(str(k).startswith("Fn::") or k == "Ref" for k in config):
        raise PackagingError(
            f"{where}.LoggingConfig must be a mapping of LogFormat, ApplicationLogLevel and SystemLogLevel "
            "(no intrinsic function around it): Sprout sets its LogGroup"
        )
    if "LogGroup" in config:
        raise PackagingError(
            f"{where}.LoggingConfig.LogGroup: an app may not choose its functions' log groups; Sprout names "
            f"each /aws/lambda/<app>-<stage>/<LogicalId> (see the README's Security section)"
        )
