"""``Step Functions Execution Status Change`` events, as Step Functions sends them to EventBridge.

AWS ("EventBridge (CloudWatch Events) for Step Functions execution status changes"): every
execution of a STANDARD state machine puts an event on the account's default bus when it starts
(``RUNNING``) and when it ends (``SUCCEEDED``, ``FAILED``, ``TIMED_OUT``, ``ABORTED``); EXPRESS
workflows emit none. The event::

    {"source": "aws.states", "detail-type": "Step Functions Execution Status Change",
     "resources": [executionArn],
     "detail": {"executionArn", "stateMachineArn", "name", "status",
                "startDate", "stopDate" (epoch milliseconds; stopDate null while RUNNING),
                "input", "inputDetails": {"included": true},
                "output", "outputDetails" (set when SUCCEEDED, else null),
                "error", "cause" (set when the execution failed, else null)}}

When the escaped input and output together exceed 248 KB the input is left out
(``inputDetails.included`` false); when the output alone does, the output is left out too.
Redrive fields (``redriveCount`` ...) are not sent: the local cloud does not redrive executions.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

log = logging.getLogger("localcloud.stepfunctions")

SOURCE = "aws.states"
DETAIL_TYPE = "Step Functions Execution Status Change"
PAYLOAD_LIMIT = 248 * 1024  # escaped input + output beyond this: the input is left out


def epoch_ms(value: Any) -> int | None:
    """A datetime (naive means UTC) as epoch milliseconds, as the event carries dates."""
    if value is None:
        return None
    if isinstance(value, datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return int(value.timestamp() * 1000)
    return int(value)


def _escaped_size(text: str | None) -> int:
    return 0 if text is None else len(json.dumps(text))


def detail(described: dict[str, Any], status: str | None = None) -> dict[str, Any]:
    """The event detail from an execution's DescribeExecution answer (``status`` overrides its status)."""
    status = status or str(getattr(described.get("status"), "value", described.get("status")))
    succeeded = status == "SUCCEEDED"
    execution_input: str | None = described.get("input")
    output: str | None = described.get("output") if succeeded else None
    input_included = output_included = True
    if _escaped_size(execution_input) + _escaped_size(output) > PAYLOAD_LIMIT:
        execution_input, input_included = None, False
        if _escaped_size(output) > PAYLOAD_LIMIT:
            output, output_included = None, False
    return {
        "executionArn": described["executionArn"],
        "stateMachineArn": described["stateMachineArn"],
        "name": described["name"],
        "status": status,
        "startDate": epoch_ms(described.get("startDate")),
        "stopDate": None if status == "RUNNING" else epoch_ms(described.get("stopDate")),
        "input": execution_input,
        "output": output,
        "inputDetails": {"included": input_included},
        "outputDetails": {"included": output_included} if succeeded else None,
        "error": described.get("error"),
        "cause": described.get("cause"),
    }


def entry(event_detail: dict[str, Any], when: datetime | None = None) -> dict[str, Any]:
    """One PutEvents entry for the default bus."""
    return {
        "Time": when or datetime.now(UTC),
        "Source": SOURCE,
        "DetailType": DETAIL_TYPE,
        "Resources": [event_detail["executionArn"]],
        "Detail": json.dumps(event_detail),
        "EventBusName": "default",
    }


class Emitter:
    """Puts status change events through the Events API of the local endpoint (as the service)."""

    def __init__(self, put_events: Callable[..., dict]):
        self._put_events = put_events

    def emit(self, event_detail: dict[str, Any]) -> None:
        """Best effort, as on AWS: a refused or failed put is logged, never raised into the execution."""
        try:
            answer = self._put_events(Entries=[entry(event_detail)])
        except Exception as e:
            log.warning("putting the %s event of %s failed: %s", event_detail["status"], event_detail["executionArn"], e)
            return
        if answer.get("FailedEntryCount"):
            log.warning("EventBridge refused the %s event of %s: %s", event_detail["status"], event_detail["executionArn"], answer.get("Entries"))
