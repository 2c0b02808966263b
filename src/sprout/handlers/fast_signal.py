"""The fast signal of auto-rollback: a CloudWatch Logs subscription filter on a watched stage's
access-log group delivers each batch of new lines here, and this function publishes, per second,
how many requests the stage answered and how many with a 5xx (namespace ``Sprout``, metrics
``Requests`` and ``Errors5xx``, dimensions ``App`` and ``Stage``, 1-second storage resolution) for
the stage's 10-second alarm.

CloudWatch Logs invokes the function asynchronously with ``{"awslogs": {"data": ...}}``: base64 of
gzip of ``{"messageType", "owner", "logGroup", "logStream", "subscriptionFilters", "logEvents":
[{"id", "timestamp", "message"}]}``. A ``CONTROL_MESSAGE`` (sent when the filter is created, to
check the destination is reachable) carries no events and is ignored. The subscription filter's
name, ``sprout-ar#{app}#{stage}``, says which app and stage the lines belong to.
"""

from __future__ import annotations

import base64
import binascii
import gzip
import json
import zlib
from typing import Any

import boto3
from aws_lambda_powertools.utilities.typing import LambdaContext

from sprout.domain.auto_rollback import NAMESPACE, count_per_second, metric_data, parse_filter_name
from sprout.observability import logger

MAX_DATUMS_PER_PUT = 1000
_cloudwatch: Any = None


class BadPayload(ValueError):
    """Not a CloudWatch Logs subscription payload."""


def decode(event: Any) -> dict:
    """The subscription payload inside ``event`` (``awslogs.data``: base64, gzip, JSON)."""
    try:
        data = event["awslogs"]["data"]
        doc = json.loads(gzip.decompress(base64.b64decode(data, validate=True)))
    except (KeyError, TypeError, binascii.Error, OSError, EOFError, zlib.error, ValueError) as e:
        raise BadPayload(f"not a CloudWatch Logs subscription payload: {type(e).__name__}: {e}") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("logEvents", []), list):
        raise BadPayload("not a CloudWatch Logs subscription payload: no logEvents list")
    return doc


def data_message(event: Any) -> tuple[dict | None, str | None]:
    """The payload of a ``DATA_MESSAGE``, or None and why the event is ignored (a malformed one is
    logged and dropped: retrying it cannot help; a ``CONTROL_MESSAGE`` carries no lines)."""
    try:
        payload = decode(event)
    except BadPayload as e:
        logger.error("ignored an event", extra={"reason": str(e)})
        return None, str(e)
    if payload.get("messageType") != "DATA_MESSAGE":
        return None, f"messageType {payload.get('messageType')}"
    return payload, None


def _client() -> Any:
    global _cloudwatch
    if _cloudwatch is None:
        _cloudwatch = boto3.client("cloudwatch")
    return _cloudwatch


@logger.inject_lambda_context
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    payload, ignored = data_message(event)
    if payload is None:
        return {"published": 0, "ignored": ignored}
    target = next((t for t in map(parse_filter_name, payload.get("subscriptionFilters") or []) if t), None)
    if target is None:
        logger.error("ignored a batch from a filter Sprout does not own",
                     extra={"logGroup": payload.get("logGroup"), "filters": payload.get("subscriptionFilters")})
        return {"published": 0, "ignored": "no Sprout subscription filter"}
    app, stage = target
    data = metric_data(app, stage, count_per_second(payload["logEvents"]))
    for start in range(0, len(data), MAX_DATUMS_PER_PUT):
        _client().put_metric_data(Namespace=NAMESPACE, MetricData=data[start : start + MAX_DATUMS_PER_PUT])
    logger.debug("published", extra={"app": app, "stage": stage, "datums": len(data)})
    return {"published": len(data), "app": app, "stage": stage}
