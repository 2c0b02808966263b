"""Issues: CloudWatch Logs delivers each batch of new lines of a deployed stage's function log
groups here (subscription filter ``sprout-is#{app}#{stage}``, put by the deploy's WatchStage step),
and the errors among them are grouped into the stage's issues (``sprout.services.issues``).

The payload is the fast signal's (``sprout.handlers.fast_signal.decode``: one decoder for both);
a ``CONTROL_MESSAGE`` carries no events and is ignored, a malformed event is logged and dropped.
A write that loses to contention too often raises, and Lambda retries the asynchronous
invocation (twice, as it does for any asynchronous event)."""

from __future__ import annotations

from aws_lambda_powertools.utilities.typing import LambdaContext

from sprout import wiring
from sprout.handlers.fast_signal import data_message
from sprout.observability import logger
from sprout.services.issues import Batch

settings = wiring.settings()  # what this function needs, checked at its cold start


@logger.inject_lambda_context
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    payload, ignored = data_message(event)
    if payload is None:
        return {"ignored": ignored}
    filters = payload.get("subscriptionFilters")
    batch = Batch(
        filters=tuple(f for f in filters if isinstance(f, str)) if isinstance(filters, list) else (),
        group=str(payload.get("logGroup") or ""),
        stream=str(payload.get("logStream") or ""),
        events=tuple(e for e in payload["logEvents"] if isinstance(e, dict)),
    )
    result = wiring.grouping().ingest(batch)
    if "ignored" in result:
        logger.error("ignored a batch", extra={"logGroup": batch.group, "filters": batch.filters, **result})
    else:
        logger.info("grouped", extra=result)
    return result
