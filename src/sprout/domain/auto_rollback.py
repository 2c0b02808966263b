"""Watching a stage for automatic rollback, the pure part: the settings (defaults, validation of a
``PUT .../auto-rollback`` body), the alarms Sprout owns for a watched stage as data (the
PutMetricAlarm requests), and the fast signal's arithmetic (requests and 5xx answers per second
from JSON access-log lines). No boto3 here: sprout.adapters.auto_rollback makes the calls.

Alarms (names and tags are the contract the rollback path relies on):

* ``sprout-ar-{app}-{stage}-fast``: namespace ``Sprout``, metrics ``Errors5xx`` and ``Requests``
  (dimensions ``App``, ``Stage``; published each second by the fast-signal function from the
  stage's access logs), period ``periodSeconds`` (10 s), metric math
  ``IF(errors >= errorThreshold AND errors / requests >= errorRate, 1, 0)`` >= 1, 1 of 1 datapoints,
  missing data not breaching;
* ``sprout-ar-{app}-{stage}-api5xx``: ``AWS/ApiGateway`` ``5XXError`` (``ApiName``, ``Stage``),
  Sum >= errorThreshold per minute (with several REST APIs in the stage, one alarm each, the
  others named ``api5xx-{ApiLogicalId}``);
* ``sprout-ar-{app}-{stage}-errors-{LogicalId}``: ``AWS/Lambda`` ``Errors`` of the function's ``live``
  alias (``FunctionName``, ``Resource`` = ``name:live``), Sum >= errorThreshold per minute.

Each is tagged ``sprout:app``, ``sprout:stage``, ``sprout:signal`` and ``sprout:stack`` — for people:
tags prove nothing, since anyone who may create an alarm may tag it. What the rollback path trusts
is the lineage's record of each alarm Sprout put (``WatchedAlarm``: name, ARN, stage, and a digest
of the definition DescribeAlarms showed once it was put), checked by ``untrusted_reason``.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sprout.domain.errors import InvalidInput, shown
from sprout.domain.model import LIVE_ALIAS

NAMESPACE = "Sprout"
OWN = "sprout-ar"  # what every name Sprout gives a stage's watch starts with
ALARM_PREFIX = f"{OWN}-"  # its alarms (template.yaml's alarm rule and policies match it: sprout-ar-*)
DEFAULTS: dict[str, Any] = {"errorThreshold": 5, "errorRate": 0.2, "periodSeconds": 10, "cooldownSeconds": 300}
# CloudWatch alarms take 10, 20 or 30 s (high resolution) or a multiple of 60 s
PERIODS = (10, 20, 30, 60, 120, 180, 240, 300)
MAX_ERROR_THRESHOLD = 1_000_000
MAX_COOLDOWN = 86_400
SLOW_PERIOD = 60
FIELDS = ("enabled", "errorThreshold", "errorRate", "periodSeconds", "cooldownSeconds")
DEFAULT_STAGE = "prod"  # watched by default when first deployed


@dataclass(frozen=True)
class Settings:
    enabled: bool
    error_threshold: int = DEFAULTS["errorThreshold"]
    error_rate: float = DEFAULTS["errorRate"]
    period_seconds: int = DEFAULTS["periodSeconds"]
    cooldown_seconds: int = DEFAULTS["cooldownSeconds"]

    def as_api(self) -> dict[str, Any]:
        return {
            "enabled": self.enabled,
            "errorThreshold": self.error_threshold,
            "errorRate": self.error_rate,
            "periodSeconds": self.period_seconds,
            "cooldownSeconds": self.cooldown_seconds,
        }

    @classmethod
    def from_api(cls, doc: Mapping[str, Any]) -> Settings:
        return cls(
            enabled=bool(doc.get("enabled", False)),
            error_threshold=int(doc.get("errorThreshold", DEFAULTS["errorThreshold"])),
            error_rate=float(doc.get("errorRate", DEFAULTS["errorRate"])),
            period_seconds=int(doc.get("periodSeconds", DEFAULTS["periodSeconds"])),
            cooldown_seconds=int(doc.get("cooldownSeconds", DEFAULTS["cooldownSeconds"])),
        )


def _int(name: str, value: Any, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int | float) or isinstance(value, float) and not value.is_integer():
        raise InvalidInput(name, f"must be a whole number, got {shown(value)}")
    if not low <= value <= high:
        raise InvalidInput(name, f"must be between {low} and {high}, got {shown(value)}")
    return int(value)


def parse_request(body: Any, current: Settings | None) -> Settings:
    """The settings a ``PUT .../auto-rollback`` body asks for: fields it leaves out keep their
    current value (or the default). 400 naming the field for anything else."""
    if not isinstance(body, dict):
        raise InvalidInput("enabled", 'the body must be a JSON object such as {"enabled": true}')
    unknown = sorted(k for k in body if k not in FIELDS)
    if unknown:
        raise InvalidInput(unknown[0], f"is not a setting (known: {', '.join(FIELDS)})")
    if not isinstance(body.get("enabled"), bool):
        raise InvalidInput("enabled", f"must be true or false, got {shown(body.get('enabled'))}")
    base = current or Settings(enabled=False)
    threshold = base.error_threshold
    if "errorThreshold" in body:
        threshold = _int("errorThreshold", body["errorThreshold"], 1, MAX_ERROR_THRESHOLD)
    rate = base.error_rate
    if "errorRate" in body:
        value = body["errorRate"]
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
            raise InvalidInput("errorRate", f"must be a fraction between 0 and 1 (0.2 is 20 %), got {shown(value)}")
        if not 0 <= value <= 1:
            raise InvalidInput("errorRate", f"must be a fraction between 0 and 1 (0.2 is 20 %), got {shown(value)}")
        rate = float(value)
    period = base.period_seconds
    if "periodSeconds" in body:
        period = _int("periodSeconds", body["periodSeconds"], PERIODS[0], PERIODS[-1])
        if period not in PERIODS:
            raise InvalidInput("periodSeconds", f"must be one of {', '.join(map(str, PERIODS))}, got {period}")
    cooldown = base.cooldown_seconds
    if "cooldownSeconds" in body:
        cooldown = _int("cooldownSeconds", body["cooldownSeconds"], 0, MAX_COOLDOWN)
    return Settings(body["enabled"], threshold, rate, period, cooldown)


# ---- names ----------------------------------------------------------------------------------------
def alarm_name(app: str, stage: str, signal: str) -> str:
    return f"{ALARM_PREFIX}{app}-{stage}-{signal}"


FAST_SIGNAL_FILTER = OWN
ISSUES_FILTER = "sprout-is"  # the same mechanism on the functions' log groups (sprout.domain.issues)


def filter_name(app: str, stage: str, prefix: str = FAST_SIGNAL_FILTER) -> str:
    """The subscription filter's name carries app and stage to the function it delivers to ('#' is
    in no app or stage name: it is refused at registration)."""
    return f"{prefix}#{app}#{stage}"


def parse_filter_name(name: str, prefix: str = FAST_SIGNAL_FILTER) -> tuple[str, str] | None:
    parts = name.split("#") if isinstance(name, str) else []
    if len(parts) != 3 or parts[0] != prefix or not parts[1] or not parts[2]:
        return None
    return parts[1], parts[2]


# ---- alarms as data ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class ApiRef:
    logical_id: str
    api_name: str
    stage: str


@dataclass(frozen=True)
class AlarmSpec:
    name: str
    signal: str
    metric: str  # for people
    request: dict[str, Any] = field(default_factory=dict)  # PutMetricAlarm's parameters

    @property
    def tags(self) -> list[dict[str, str]]:
        tags: list[dict[str, str]] = self.request["Tags"]
        return tags


def _tags(app: str, stage: str, signal: str, stack: str) -> list[dict[str, str]]:
    return [
        {"Key": "sprout:app", "Value": app},
        {"Key": "sprout:stage", "Value": stage},
        {"Key": "sprout:signal", "Value": signal},
        {"Key": "sprout:stack", "Value": stack},
    ]


def _rate(value: float) -> str:
    return f"{value:.6g}"


def fast_alarm(app: str, stage: str, s: Settings, stack: str) -> AlarmSpec:
    dims = [{"Name": "App", "Value": app}, {"Name": "Stage", "Value": stage}]

    def stat(ident: str, metric: str) -> dict[str, Any]:
        return {
            "Id": ident,
            "MetricStat": {"Metric": {"Namespace": NAMESPACE, "MetricName": metric, "Dimensions": dims},
                           "Period": s.period_seconds, "Stat": "Sum"},
            "ReturnData": False,
        }

    expression = f"IF(errors >= {s.error_threshold} AND errors / requests >= {_rate(s.error_rate)}, 1, 0)"
    name = alarm_name(app, stage, "fast")
    return AlarmSpec(
        name,
        "fast",
        f"{NAMESPACE} Errors5xx >= {s.error_threshold} and >= {s.error_rate:.0%} of Requests in {s.period_seconds} s",
        {
            "AlarmName": name,
            "AlarmDescription": f"Sprout auto-rollback, fast signal (access logs) of stage {stage} of app {app}",
            "ActionsEnabled": False,
            "Metrics": [{"Id": "breach", "Expression": expression, "Label": "errors and error rate over thresholds",
                         "ReturnData": True}, stat("errors", "Errors5xx"), stat("requests", "Requests")],
            "EvaluationPeriods": 1,
            "DatapointsToAlarm": 1,
            "Threshold": 1,
            "ComparisonOperator": "GreaterThanOrEqualToThreshold",
            "TreatMissingData": "notBreaching",
            "Tags": _tags(app, stage, "fast", stack),
        },
    )


def _slow_alarm(name: str, signal: str, app: str, stage: str, stack: str, threshold: int, namespace: str,
                metric: str, dims: list[dict[str, str]], what: str) -> AlarmSpec:
    return AlarmSpec(
        name,
        signal,
        f"{namespace} {metric} ({', '.join(d['Value'] for d in dims)}) Sum >= {threshold} in {SLOW_PERIOD} s",
        {
            "AlarmName": name,
            "AlarmDescription": f"Sprout auto-rollback, {what} of stage {stage} of app {app}",
            "ActionsEnabled": False,
            "Namespace": namespace,
            "MetricName": metric,
            "Dimensions": dims,
            "Statistic": "Sum",
            "Period": SLOW_PERIOD,
            "EvaluationPeriods": 1,
            "DatapointsToAlarm": 1,
            "Threshold": threshold,
            "ComparisonOperator": "GreaterThanOrEqualToThreshold",
            "TreatMissingData": "notBreaching",
            "Tags": _tags(app, stage, signal, stack),
        },
    )


def alarm_specs(app: str, stage: str, s: Settings, stack: str, apis: Iterable[ApiRef],
                functions: Mapping[str, str]) -> list[AlarmSpec]:
    """Every alarm of a watched stage: the fast signal when it has a REST API, each API's
    ``5XXError``, each function's ``Errors`` on ``live`` (``functions``: logical id -> name)."""
    apis = list(apis)
    specs = [fast_alarm(app, stage, s, stack)] if apis else []
    for i, api in enumerate(apis):
        signal = "api5xx" if i == 0 else f"api5xx-{api.logical_id}"
        specs.append(_slow_alarm(
            alarm_name(app, stage, signal), signal, app, stage, stack, s.error_threshold, "AWS/ApiGateway", "5XXError",
            [{"Name": "ApiName", "Value": api.api_name}, {"Name": "Stage", "Value": api.stage}],
            f"API {api.logical_id} 5XXError",
        ))
    for logical_id, function_name in sorted(functions.items()):
        signal = f"errors-{logical_id}"
        specs.append(_slow_alarm(
            alarm_name(app, stage, signal), signal, app, stage, stack, s.error_threshold, "AWS/Lambda", "Errors",
            [{"Name": "FunctionName", "Value": function_name},
             {"Name": "Resource", "Value": f"{function_name}:{LIVE_ALIAS}"}],
            f"Lambda Errors of {logical_id} (alias {LIVE_ALIAS})",
        ))
    return specs


# ---- which alarms the rollback path trusts --------------------------------------------------------
# What makes an alarm fire, as DescribeAlarms shows it: anything else (state, timestamps, actions,
# description, tags) may change without changing what it watches.
DEFINITION_KEYS = (
    "AlarmName", "AlarmArn", "Namespace", "MetricName", "Dimensions", "Statistic", "ExtendedStatistic", "Period",
    "Unit", "EvaluationPeriods", "DatapointsToAlarm", "Threshold", "ComparisonOperator", "TreatMissingData",
    "EvaluateLowSampleCountPercentile", "Metrics", "ThresholdMetricId",
)


@dataclass(frozen=True)
class AlarmEvent:
    """An alarm's state change as the event tells it (a claim: DescribeAlarms tells what it is now)."""

    name: str
    arn: str
    state: str
    reason: str
    breaching_since: datetime  # the end of the first period whose data breached
    datapoints: list[Any]


@dataclass(frozen=True)
class WatchedAlarm:
    """An alarm Sprout put for a watched stage, as the lineage recorded it."""

    name: str
    app: str
    stage: str
    signal: str
    arn: str
    definition: str  # definition_digest of the alarm once Sprout had put it


def definition_digest(described: Mapping[str, Any]) -> str:
    """The sha256 of an alarm's definition (``DEFINITION_KEYS`` of a DescribeAlarms MetricAlarm)."""
    doc = {k: described[k] for k in DEFINITION_KEYS if described.get(k) is not None}
    return hashlib.sha256(json.dumps(doc, sort_keys=True, default=str).encode()).hexdigest()


def untrusted_reason(name: str, arn: str, recorded: WatchedAlarm | None, described: Mapping[str, Any] | None) -> str | None:
    """Why the rollback path must not act on alarm ``name`` (``arn`` from the event), or None.

    Only an alarm the lineage recorded (``recorded``), with the event's ARN, whose definition is
    still the one Sprout put, and which DescribeAlarms shows in ALARM now (``described``; None when
    it is gone) is acted on. Its tags are never asked: anyone who may create an alarm may tag it."""
    if recorded is None:
        return "not an alarm Sprout created and recorded for a watched stage (its name, tags and prefix prove nothing)"
    if arn and arn != recorded.arn:
        return f"the event's alarm ARN is not the one Sprout recorded for {recorded.name}"
    if described is None:
        return f"alarm {recorded.name} is gone (DescribeAlarms does not show it)"
    if described.get("AlarmArn") != recorded.arn:
        return f"alarm {recorded.name} is not the one Sprout recorded (another ARN)"
    if definition_digest(described) != recorded.definition:
        return (f"alarm {recorded.name} was changed after Sprout put it (its definition is not the one recorded): "
                "turn auto-rollback on again to put it back")
    if described.get("StateValue") != "ALARM":
        return f"alarm {recorded.name} is not in ALARM now ({described.get('StateValue')})"
    return None


# ---- the fast signal --------------------------------------------------------------------------------
@dataclass
class SecondCounts:
    requests: int = 0
    errors: int = 0


def count_per_second(events: Iterable[Mapping[str, Any]]) -> dict[int, SecondCounts]:
    """Requests and 5xx answers per epoch second from access-log events (``timestamp`` in ms,
    ``message`` a JSON line with ``status``; ``requestTimeEpoch`` wins over the event's timestamp
    when present). Lines that are not JSON or have no status are not requests and are skipped."""
    seconds: dict[int, SecondCounts] = defaultdict(SecondCounts)
    for event in events:
        try:
            doc = json.loads(event.get("message") or "")
            status = int(float(doc["status"]))
        except (ValueError, TypeError, KeyError):
            continue
        second = None
        epoch = doc.get("requestTimeEpoch")
        try:
            if epoch not in (None, "", "-"):
                value = float(epoch)
                second = int(value / 1000) if value > 1e11 else int(value)  # ms or s, as formats differ
        except (TypeError, ValueError):
            second = None
        if second is None:
            try:
                second = int(event["timestamp"]) // 1000
            except (KeyError, TypeError, ValueError):
                continue
        counts = seconds[second]
        counts.requests += 1
        if 500 <= status <= 599:
            counts.errors += 1
    return dict(seconds)


def metric_data(app: str, stage: str, seconds: Mapping[int, SecondCounts]) -> list[dict[str, Any]]:
    """PutMetricData datums (1-second storage resolution): ``Requests`` and ``Errors5xx`` for each
    second that had requests (an error-free second says 0 errors, so the rate is defined)."""
    from datetime import UTC, datetime

    dims = [{"Name": "App", "Value": app}, {"Name": "Stage", "Value": stage}]
    data = []
    for second, counts in sorted(seconds.items()):
        at = datetime.fromtimestamp(second, UTC)
        for metric, value in (("Requests", counts.requests), ("Errors5xx", counts.errors)):
            data.append({"MetricName": metric, "Dimensions": dims, "Timestamp": at, "Value": float(value),
                         "Unit": "Count", "StorageResolution": 1})
    return data
