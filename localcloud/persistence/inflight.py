"""Work that was in flight when the local cloud stopped, ended as AWS would show it.

After a restart nothing runs that ran before (its threads and processes died with the cloud):

- Step Functions executions that were ``RUNNING`` end ``ABORTED`` now, with an
  ``ExecutionAborted`` history event and their ``Step Functions Execution Status Change`` event
  on the default bus (so a rule on ``ABORTED`` -- Sprout's finalizer -- closes what they had open);
- CodeBuild builds that were running end ``STOPPED``;
- CloudFormation stacks caught in the middle of an operation are settled
  (``localcloud.cloudformation.restart``);
- SQS messages that were received and not deleted (in flight) are visible again;
- Lambda invocations that were running are lost (as a crashed execution environment's are).

``end_all`` returns one line per kind of thing it ended, for ``up`` to print.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from localcloud.moto_hooks import require

log = logging.getLogger("localcloud.persistence")

ERROR = "Localcloud.Restarted"
CAUSE = "The local cloud stopped while this execution ran; it was ended when the local cloud started again."


def end_all(cloud: Any) -> list[str]:
    lines = []
    for what, ender in (
        ("Step Functions executions ended ABORTED", _executions),
        ("CodeBuild builds ended STOPPED", _builds),
        ("CloudFormation stack operations taken on (rolled back, or the delete run again)", _stacks),
        ("SQS messages in flight made visible again", _sqs_in_flight),
    ):
        try:
            n = ender(cloud)
        except Exception:  # one kind failing to end must not keep the others running
            log.exception("ending %s failed", what)
            lines.append(f"localcloud: ending in-flight work failed: {what} (see the log above)")
            continue
        if n:
            lines.append(f"localcloud: {n} {what}")
    return lines


def _executions(cloud: Any) -> int:
    from localcloud.stepfunctions import status_events

    backends = require("moto.stepfunctions.parser.models", "stepfunctions_parser_backends", "executions in flight at a restart")
    statuses = require("moto.stepfunctions.parser.backend.execution", "ExecutionStatus", "RUNNING, ABORTED")
    emitter = status_events.Emitter(cloud.client("events").put_events)
    ended = []
    now = datetime.now(UTC)
    for account in list(backends.values()):
        for backend in list(account.values()):
            for machine in list(backend.state_machines):
                for execution in list(getattr(machine, "executions", []) or []):
                    if execution.exec_status != statuses.RUNNING:
                        continue
                    execution.exec_status = statuses.ABORTED
                    execution.stop_date = now
                    execution.error, execution.cause = ERROR, CAUSE
                    worker = execution.exec_worker
                    history = worker.env.event_manager.get_event_history() if worker is not None and worker.env else None
                    if isinstance(history, list):
                        history.append(_aborted_event(history, now))
                    ended.append(execution)
    for execution in ended:
        if str(getattr(execution.sm_type, "value", execution.sm_type) or "STANDARD") != "EXPRESS":
            emitter.emit(status_events.detail(execution.to_describe_output()))
    return len(ended)


def _aborted_event(history: list[dict[str, Any]], when: datetime) -> dict[str, Any]:
    last = history[-1]["id"] if history else 0
    return {
        "timestamp": when,
        "type": "ExecutionAborted",
        "id": last + 1,
        "previousEventId": last,
        "executionAbortedEventDetails": {"error": ERROR, "cause": CAUSE},
    }


def _builds(cloud: Any) -> int:
    from localcloud import codebuild

    return codebuild.builds().end_interrupted()


def _stacks(cloud: Any) -> int:
    from localcloud.cloudformation import take_on_interrupted

    return take_on_interrupted()


def _sqs_in_flight(cloud: Any) -> int:
    backends = require("moto.sqs.models", "sqs_backends", "messages in flight at a restart")
    made_visible = 0
    for account in list(backends.values()):
        for backend in list(account.values()):
            for queue in list(backend.queues.values()):
                for message in list(queue._messages):
                    if not message.visible and not message.delayed:
                        message.change_visibility(0)
                        made_visible += 1
    return made_visible
