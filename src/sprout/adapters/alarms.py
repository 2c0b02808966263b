"""Alarm events as Sprout reads them (which alarm, since when it breached), and the alarm as
DescribeAlarms shows it now. Whose stage an alarm watches is the lineage's record, never its tags."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import boto3

from sprout.domain.auto_rollback import AlarmEvent
from sprout.domain.pipeline import parse_iso

__all__ = ["AlarmEvent", "Alarms"]


class Alarms:
    def __init__(self, client: Any = None) -> None:
        self._cw = client or boto3.client("cloudwatch")

    def read(self, event: dict) -> AlarmEvent:
        """The alarm of a ``CloudWatch Alarm State Change`` event (ValueError when the event is not
        one). What the event says is a claim: ``describe`` tells what the alarm is now."""
        detail = event.get("detail") or {}
        name, state = detail.get("alarmName"), (detail.get("state") or {})
        if not isinstance(name, str) or not isinstance(state, dict) or not state.get("value"):
            raise ValueError("not a CloudWatch Alarm State Change event (no detail.alarmName and detail.state)")
        resources = event.get("resources") or []
        arn = resources[0] if resources and isinstance(resources[0], str) else ""
        reason_data = _json(state.get("reasonData"))
        recent = reason_data.get("recentDatapoints") if isinstance(reason_data, dict) else None
        since = reason_data.get("startDate") if isinstance(reason_data, dict) else None
        try:
            breaching = parse_iso(_iso(since or state.get("timestamp") or event.get("time")))
        except (TypeError, ValueError):
            raise ValueError("the alarm event has no readable time") from None
        period = reason_data.get("period") if isinstance(reason_data, dict) else None
        if since and isinstance(period, int | float) and period > 0:
            breaching += timedelta(seconds=period)  # the end of the first breaching period
        return AlarmEvent(name, arn, state["value"], str(state.get("reason") or "")[:500], breaching,
                          recent if isinstance(recent, list) else [])

    def describe(self, name: str) -> dict | None:
        """The metric alarm ``name`` as DescribeAlarms shows it now, or None when there is none."""
        answer = self._cw.describe_alarms(AlarmNames=[name], AlarmTypes=["MetricAlarm"], MaxRecords=1)
        return next((a for a in answer.get("MetricAlarms", []) if a.get("AlarmName") == name), None)


def _json(text) -> dict:
    try:
        value = json.loads(text) if isinstance(text, str) else text
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def _iso(text: object) -> str:
    """CloudWatch writes ``2026-12-02T10:31:29.123+0000``; make it ISO 8601 that Python reads."""
    if not isinstance(text, str):
        raise TypeError(f"not a time: {text!r}")
    if len(text) > 5 and text[-5] in "+-" and text[-4:].isdigit():
        return text[:-2] + ":" + text[-2:]
    return text
