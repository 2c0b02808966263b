"""events_router: EventBridge rules reach Lambda and Step Functions targets, and schedules fire.

moto matches events to rules and delivers to SQS queues, log groups and buses; it ignores a rule's
state, fires schedule-only rules on every event, and raises on any other target. The router hooks
the one place where moto hands an event to a rule's targets (``Rule.send_to_targets``):

- a disabled rule, or a rule with only a ``ScheduleExpression``, receives no put event;
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

from localcloud.events_router import schedule, sources
from localcloud.events_router.delivery import SERVICES, Deliverer, Delivery
from localcloud.events_router.transform import target_input
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
            if service in SERVICES:
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


def install(cloud: Any) -> None:
    global _router
    _router = EventRouter(cloud)
    _install_hooks()
    sources.install()
    cloud.add_service(_router.deliverer)
    cloud.add_service(_router.scheduler)


def router() -> EventRouter:
    """The router of the running cloud (tests and benches wait on ``router().deliverer``)."""
    if _router is None:
        raise RuntimeError("the event router is not installed")
    return _router
