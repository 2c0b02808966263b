"""events_router: EventBridge rules reach Lambda and Step Functions targets, and schedules fire.

moto matches events to rules and delivers to SQS queues, log groups and buses; it ignores a rule's
state, fires schedule-only rules on every event, and raises on any other target. The router hooks
the one place where moto hands an event to a rule's targets (``Rule.send_to_targets``):

- a disabled rule, or a rule with only a ``ScheduleExpression``, receives no put event;
- a target that is an API destination is called over HTTP with its connection's authorization,
  retried per its RetryPolicy, dead-lettered when not delivered (``api_destinations``);
- a matching event (moto's pattern matching) goes to each Lambda / Step Functions target through
  a background ``Deliverer`` (Input / InputPath / InputTransformer applied, see ``transform``),
  and to the targets moto knows through moto's own code; errors are logged, never raised;
- a ``Scheduler`` fires rules with ``rate(...)`` / ``cron(...)`` expressions, sending the
  ``Scheduled Event`` AWS sends (``source: aws.events``, ``resources: [ruleArn]``).

PutEvents refuses ``aws.*`` sources per entry to callers other than the root (``sources``).
"""

from __future__ import annotations

import copy
import json
import logging
import time
import uuid
from collections.abc import Iterator
from datetime import datetime
from typing import Any

from localcloud.events_router import api_destinations, schedule, sources
from localcloud.events_router.delivery import SERVICES, Deliverer, Delivery
from localcloud.events_router.transform import aws_event, target_input
from localcloud.moto_hooks import HOOKS, hook, require

log = logging.getLogger("localcloud.events_router")

# Targets moto delivers to itself (Rule.send_to_targets); anything else it raises on.
_MOTO_TARGETS = ("logs", "sqs", "events")

_router: EventRouter | None = None
_moto: dict[str, Any] = {}  # private moto names read (through require) at install


class EventRouter:
    def __init__(self, cloud: Any):
        self.cloud = cloud
        self.deliverer = Deliverer(cloud)
        self.http = api_destinations.HttpDeliverer(cloud, _api_destination)
        self.scheduler = schedule.Scheduler(self._scheduled_rules, self._fire)

    def route(
        self,
        original: Any,
        rule: Any,
        event: dict[str, Any],
        transform_input: bool = True,
        scheduled: bool = False,
    ) -> None:
        """Send ``event`` (moto's message) to ``rule``'s targets, if the rule takes it."""
        if rule.state != "ENABLED":
            return
        if not scheduled:
            if rule.event_pattern.dump() is None:  # schedule-only rules fire on their schedule only
                return
            if not rule.event_pattern.matches_event(event):
                return
        moto_targets = []
        for target in list(rule.targets):
            service = target["Arn"].split(":")[2] if target.get("Arn", "").count(":") >= 5 else ""
            if api_destinations.is_api_destination(target.get("Arn", "")):
                try:
                    payload = target_input(target, event, rule.arn, rule.name)
                except Exception as e:
                    log.error("rule %s target %s: cannot build its input: %s", rule.arn, target.get("Id"), e)
                    continue
                self.http.submit(rule.arn, dict(target), aws_event(event), payload)
            elif service in SERVICES:
                try:
                    payload = target_input(target, event, rule.arn, rule.name)
                except Exception as e:
                    log.error("rule %s target %s: cannot build its input: %s", rule.arn, target.get("Id"), e)
                    continue
                self.deliverer.submit(Delivery(rule.arn, target["Id"], target["Arn"], payload, target.get("RoleArn")))
            elif service in _MOTO_TARGETS:
                moto_targets.append(target)
            else:
                log.error(
                    "rule %s target %s: %s targets are not supported locally",
                    rule.arn,
                    target.get("Id"),
                    target.get("Arn"),
                )
        if moto_targets:
            only_moto = copy.copy(rule)
            only_moto.targets = moto_targets
            try:
                original(only_moto, event, transform_input)
            except Exception as e:
                log.error("rule %s: moto's delivery failed: %s", rule.arn, e)

    # ---- schedules ---------------------------------------------------------------------------
    def _moto_rules(self) -> Iterator[Any]:
        for account in list(_moto["events_backends"].values()):
            for backend in list(account.values()):
                bus = backend.event_buses.get("default")
                if bus is not None:
                    yield from list(bus.rules.values())

    def _scheduled_rules(self) -> list[schedule.ScheduledRule]:
        return [
            schedule.ScheduledRule(rule.arn, rule.scheduled_expression, rule.state == "ENABLED")
            for rule in self._moto_rules()
            if rule.scheduled_expression
        ]

    def _fire(self, scheduled: schedule.ScheduledRule, at: datetime) -> None:
        rule = next((r for r in self._moto_rules() if r.arn == scheduled.arn), None)
        if rule is None:
            return
        event = {
            "version": "0",
            "id": str(uuid.uuid4()),
            "detail-type": "Scheduled Event",
            "source": "aws.events",
            "account": rule.account_id,
            "time": at.timestamp(),
            "region": rule.region_name,
            "resources": [rule.arn],
            "detail": {},
            "ingestion-time": time.time(),
        }
        original = HOOKS[("moto.events.models", "Rule.send_to_targets")].original
        self.route(original, rule, event, scheduled=True)


def _api_destination(arn: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """(destination, connection) of an ApiDestination ARN, the connection's secrets included (what
    EventBridge reads from the connection's secret). Raises LookupError."""
    parts = arn.split(":", 5)
    name = parts[5].split("/")[1] if len(parts) == 6 and parts[5].count("/") >= 1 else ""
    backend = _moto["events_backends"].get(parts[4], {}).get(parts[3]) if len(parts) == 6 else None
    destination = getattr(backend, "destinations", {}).get(name) if backend is not None else None
    if destination is None or destination.arn != arn:
        raise LookupError(f"API destination {arn} does not exist")
    if destination.state != "ACTIVE":
        raise LookupError(f"API destination {arn} is {destination.state}")
    connection = next((c for c in backend.connections.values() if c.arn == destination.connection_arn), None)
    if connection is None:
        raise LookupError(f"connection {destination.connection_arn} of {arn} does not exist")
    return destination.describe(), {
        "ConnectionArn": connection.arn,
        "AuthorizationType": connection.authorization_type,
        "AuthParameters": copy.deepcopy(connection.auth_parameters or {}),
    }


_SECRET_FIELDS = {"ApiKeyAuthParameters": ("ApiKeyValue",), "BasicAuthParameters": ("Password",)}


def public_auth_parameters(auth: dict[str, Any]) -> dict[str, Any]:
    """A connection's AuthParameters as DescribeConnection answers them: without the API key's
    value, the password, the OAuth client secret, nor the values of parameters marked secret."""
    out = copy.deepcopy(auth or {})
    for section, secrets in _SECRET_FIELDS.items():
        for key in secrets:
            (out.get(section) or {}).pop(key, None)
    oauth = out.get("OAuthParameters") or {}
    (oauth.get("ClientParameters") or {}).pop("ClientSecret", None)
    for holder in (out.get("InvocationHttpParameters"), oauth.get("OAuthHttpParameters")):
        for kind in ("HeaderParameters", "QueryStringParameters", "BodyParameters"):
            for p in (holder or {}).get(kind) or []:
                if p.get("IsValueSecret"):
                    p.pop("Value", None)
    return out


def _flatten(node: Any, prefix: str, out: dict[str, Any]) -> dict[str, Any]:
    """Event fields by dotted path, for matching. As on AWS, an array of objects is flattened:
    ``{"items": [{"a": 1}, {"a": 2}]}`` gives ``items.a = [1, 2]`` (moto 5.2.5 stops at arrays)."""
    if isinstance(node, dict) and node:
        for k, v in node.items():
            _flatten(v, f"{prefix}.{k}" if prefix else k, out)
    elif isinstance(node, list) and any(isinstance(x, dict) for x in node):
        for x in node:
            _flatten(x, prefix, out)
    elif prefix in out:
        before = out[prefix] if isinstance(out[prefix], list) else [out[prefix]]
        out[prefix] = before + (node if isinstance(node, list) else [node])
    else:
        out[prefix] = node
    return out


def _install_hooks() -> None:
    _moto["events_backends"] = require(
        "moto.events.models", "events_backends", "scheduled rules are read from moto's events backends"
    )
    _moto["ValidationException"] = require(
        "moto.events.exceptions", "ValidationException", "refuse a bad ScheduleExpression as AWS does"
    )

    @hook(
        "moto.events.models",
        "Rule.send_to_targets",
        "skip disabled and schedule-only rules; deliver to Lambda and Step Functions targets in the background",
    )
    def send_to_targets(original: Any, rule: Any, event: Any, transform_input: bool = True) -> None:
        router = _router
        if router is None:  # no local cloud: moto's behaviour, but never raise into put_events
            try:
                original(rule, event, transform_input)
            except Exception as e:
                log.error("rule %s: %s", getattr(rule, "arn", "?"), e)
            return
        router.route(original, rule, event, transform_input)

    _does_event_match = require(
        "moto.events.models",
        "EventPattern._does_event_match",
        "match a pattern against flattened event fields",
    )

    @hook(
        "moto.events.models",
        "EventPattern.matches_event",
        "match fields inside arrays of objects, as AWS does (moto does not flatten arrays)",
    )
    def matches_event(original: Any, pattern: Any, event: Any) -> bool:
        rules = pattern.get_pattern()
        if not rules:
            return True
        return _does_event_match(pattern, _flatten(json.loads(json.dumps(event)), "", {}), rules)

    @hook(
        "moto.events.models",
        "EventsBackend.put_rule",
        "validate ScheduleExpression as AWS does, naming the fault",
    )
    def put_rule(original: Any, backend: Any, name: str, *args: Any, **kwargs: Any) -> Any:
        expression = kwargs.get("scheduled_expression")
        if expression:
            try:
                schedule.parse(expression)
            except schedule.InvalidSchedule as e:
                raise _moto["ValidationException"](
                    f"Parameter ScheduleExpression is not valid: {e}"
                ) from None
        return original(backend, name, *args, **kwargs)


def _install_connection_hooks() -> None:
    @hook(
        "moto.events.models",
        "Connection.describe",
        "DescribeConnection answers no secret values (API key value, password, client secret), as AWS",
    )
    def describe(original: Any, connection: Any) -> dict[str, Any]:
        answer = original(connection)
        answer["AuthParameters"] = public_auth_parameters(answer.get("AuthParameters") or {})
        return answer


def install(cloud: Any) -> None:
    global _router
    _router = EventRouter(cloud)
    _install_hooks()
    _install_connection_hooks()
    sources.install()
    cloud.add_service(_router.deliverer)
    cloud.add_service(_router.http)
    cloud.add_service(_router.scheduler)


def router() -> EventRouter:
    """The router of the running cloud (tests and benches wait on ``router().deliverer``)."""
    if _router is None:
        raise RuntimeError("the event router is not installed")
    return _router
