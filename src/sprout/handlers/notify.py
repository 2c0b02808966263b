"""The notifier: an EventBridge rule on Sprout's own events (``Source: sprout``: deployment,
build and issue state changes, and the API's test request) invokes it; it queues one signed
notification per target that wants the event, which that target's EventBridge pipe delivers through
its API destination (sprout.services.notifications). Events from any other source never reach it
(the rule's pattern), and only Sprout's functions may put ``Source: sprout``."""

from __future__ import annotations

from aws_lambda_powertools.utilities.typing import LambdaContext

from sprout import wiring
from sprout.observability import logger, tracer

HANDLED = ("Sprout Deployment State Change", "Sprout Build State Change", "Sprout Issue State Change",
           "Sprout Notification Test")
settings = wiring.settings()  # what this function needs, checked at its cold start


@logger.inject_lambda_context(correlation_id_path="id")
@tracer.capture_lambda_handler(capture_response=False)
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    detail_type, detail = event.get("detail-type"), event.get("detail")
    if event.get("source") != "sprout" or detail_type not in HANDLED or not isinstance(detail, dict):
        logger.info("not a notification", extra={"source": event.get("source"), "detailType": detail_type})
        return {"sent": 0}
    result = wiring.notifier().handle(str(detail_type), detail)
    logger.info("notified", extra=result)
    return result
