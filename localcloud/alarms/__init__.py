"""alarms: CloudWatch metric alarms with AWS's semantics, evaluated as their periods close.

- ``evaluation``: the pure evaluation (definition + datapoints per period + now -> state, reason);
- ``validation``: PutMetricAlarm input -> AlarmDefinition, refusing what CloudWatch refuses;
- ``expressions``: metric math (+ - * / ^, comparisons, AND, OR, IF, parentheses, numbers, query ids), parsed safely;
- ``moto_patches``: hooks into moto (validation, initial state, history, DescribeAlarmHistory);
- ``service``: the scheduler and the ``CloudWatch Alarm State Change`` event emitter.
"""

from __future__ import annotations

from typing import Any

from . import moto_patches
from .service import AlarmEvaluator


def install(cloud: Any) -> None:
    moto_patches.install()
    cloud.add_service(AlarmEvaluator(cloud))
