"""A function's ``LoggingConfig``, as Lambda keeps it (the pinned moto drops it).

- CreateFunction and UpdateFunctionConfiguration take ``LoggingConfig`` (``LogFormat``
  ``Text``|``JSON``, ``ApplicationLogLevel``, ``SystemLogLevel``, ``LogGroup``: 1 to 512 characters of
  ``[.\\-_/#A-Za-z0-9]``), else ``InvalidParameterValueException``. An update's LoggingConfig
  replaces the function's (``{}``: Lambda's defaults again), which is what CloudFormation's
  provider sends for a changed or removed ``LoggingConfig`` property.
- GetFunction / GetFunctionConfiguration answer it with Lambda's defaults filled in: ``LogFormat``
  ``Text`` and ``LogGroup`` ``/aws/lambda/<function name>``; with ``JSON``, both levels ``INFO``
  unless set. A published version keeps the configuration it was published with.
- The runner writes the function's lines (START/END/REPORT too) to that group
  (:func:`log_group`), creating it if missing, as Lambda does; in a group named by ``LoggingConfig``
  Lambda names the streams ``YYYY/MM/DD/<function name>[<version>]<id>`` (:func:`log_stream`).
- Lambda writes them with the function's execution role: with IAM enforced, a role whose policies
  (and permissions boundary) do not allow ``logs:CreateLogStream`` and ``logs:PutLogEvents`` on the
  stream loses its lines silently, as on AWS (:class:`WritePermission`). (``logs:CreateLogGroup``,
  which Lambda needs only for a group that does not exist yet, is not checked.)
"""

from __future__ import annotations

import re
import threading
import time
import uuid
from datetime import datetime
from typing import Any

from localcloud import iam
from localcloud.iam.actions import Check
from localcloud.moto_hooks import hook, require

FORMATS = ("Text", "JSON")
APPLICATION_LEVELS = ("TRACE", "DEBUG", "INFO", "WARN", "ERROR", "FATAL")
SYSTEM_LEVELS = ("DEBUG", "INFO", "WARN")
_GROUP = re.compile(r"[.\-_/#A-Za-z0-9]{1,512}")
ATTRIBUTE = "_localcloud_logging_config"  # the fields set on the function (moto's model has none)


def default_group(function_name: str) -> str:
    return f"/aws/lambda/{function_name}"


def effective(function_name: str, chosen: dict[str, Any] | None) -> dict[str, Any]:
    """What GetFunctionConfiguration shows for ``chosen`` (the fields set), Lambda's defaults filled in."""
    chosen = chosen or {}
    out: dict[str, Any] = {"LogFormat": chosen.get("LogFormat") or "Text"}
    if out["LogFormat"] == "JSON":
        out["ApplicationLogLevel"] = chosen.get("ApplicationLogLevel") or "INFO"
        out["SystemLogLevel"] = chosen.get("SystemLogLevel") or "INFO"
    out["LogGroup"] = chosen.get("LogGroup") or default_group(function_name)
    return out


def problem(config: Any) -> str | None:
    """Why Lambda refuses ``config`` (a request's LoggingConfig), or None."""
    if not isinstance(config, dict):
        return "LoggingConfig must be an object"
    checks = (("LogFormat", FORMATS), ("ApplicationLogLevel", APPLICATION_LEVELS), ("SystemLogLevel", SYSTEM_LEVELS))
    for key, allowed in checks:
        if key in config and config[key] not in allowed:
            return (f"1 validation error detected: Value '{config[key]}' at 'loggingConfig.{key[0].lower()}{key[1:]}' "
                    f"failed to satisfy constraint: Member must satisfy enum value set: [{', '.join(allowed)}]")
    group = config.get("LogGroup")
    if group is not None and not (isinstance(group, str) and _GROUP.fullmatch(group)):
        return (f"1 validation error detected: Value '{group}' at 'loggingConfig.logGroup' failed to satisfy "
                "constraint: Member must satisfy regular expression pattern: [\\.\\-_/#A-Za-z0-9]+ and have length "
                "between 1 and 512")
    return None


def log_group(config: dict[str, Any], function_name: str) -> str:
    """The group a function version (``config``: its GetFunctionConfiguration shape) logs to."""
    return (config.get("LoggingConfig") or {}).get("LogGroup") or default_group(function_name)


def log_stream(config: dict[str, Any], function_name: str, version: str, now: datetime) -> str:
    """A new execution environment's log stream: ``YYYY/MM/DD/[<version>]<id>`` in the function's
    default group, ``YYYY/MM/DD/<function name>[<version>]<id>`` in a group LoggingConfig names."""
    custom = log_group(config, function_name) != default_group(function_name)
    return f"{now:%Y/%m/%d}/{function_name if custom else ''}[{version}]{uuid.uuid4().hex}"


class WritePermission:
    """Whether a function's execution role may write its lines to a stream (always, without IAM
    enforced); a decision is kept ``TTL_S`` seconds, so that the invoke path rarely evaluates."""

    TTL_S = 5.0
    MAX_KEPT = 2048

    def __init__(self, region: str, account: str):
        self.region, self.account = region, account
        self._kept: dict[tuple[str, str, str], tuple[float, bool]] = {}
        self._lock = threading.Lock()

    def allows(self, role: str | None, group: str, stream: str) -> bool:
        if not iam.enforcing():
            return True
        key, now = (role or "", group, stream), time.monotonic()
        with self._lock:
            hit = self._kept.get(key)
        if hit is not None and now - hit[0] < self.TTL_S:
            return hit[1]
        arn = f"arn:aws:logs:{self.region}:{self.account}:log-group:{group}:log-stream:{stream}"
        try:
            allowed = bool(role) and iam.first_denied(
                str(role), "lambda.amazonaws.com", [Check("logs:CreateLogStream", arn), Check("logs:PutLogEvents", arn)]
            ) is None
        except iam.RoleNotAssumable:
            allowed = False
        with self._lock:
            if len(self._kept) >= self.MAX_KEPT:
                self._kept.clear()
            self._kept[key] = (now, allowed)
        return allowed


def install(cloud: Any) -> None:  # noqa: ARG001 - the same signature as the other installers
    invalid = require(
        "moto.awslambda.exceptions", "InvalidParameterValueException", "Lambda's InvalidParameterValueException"
    )

    def checked(config: Any) -> dict[str, Any]:
        reason = problem(config)
        if reason is not None:
            raise invalid(reason)
        return {k: v for k, v in config.items() if k in ("LogFormat", "ApplicationLogLevel", "SystemLogLevel", "LogGroup")}

    @hook("moto.awslambda.models", "LambdaFunction.__init__", "keep the function's LoggingConfig (moto drops it)")
    def init(original, fn, account_id, spec, region, version=1):
        chosen = checked(spec["LoggingConfig"]) if spec.get("LoggingConfig") is not None else {}
        original(fn, account_id, spec, region, version)
        setattr(fn, ATTRIBUTE, chosen)
        fn.logs_group_name = log_group({"LoggingConfig": chosen}, fn.function_name)

    @hook("moto.awslambda.models", "LambdaFunction.get_configuration", "answer the function's LoggingConfig")
    def get_configuration(original, fn, on_create=False):
        config = original(fn, on_create)
        config["LoggingConfig"] = effective(fn.function_name, getattr(fn, ATTRIBUTE, None))
        return config

    @hook("moto.awslambda.models", "LambdaBackend.update_function_configuration",
          "UpdateFunctionConfiguration sets the function's LoggingConfig")
    def update_function_configuration(original, backend, function_name, qualifier, body):
        if body.get("LoggingConfig") is not None:
            fn = backend.get_function(function_name, qualifier)
            chosen = checked(body["LoggingConfig"])
            setattr(fn, ATTRIBUTE, chosen)  # a new dict: published versions keep theirs
            fn.logs_group_name = log_group({"LoggingConfig": chosen}, fn.function_name)
        return original(backend, function_name, qualifier, body)
