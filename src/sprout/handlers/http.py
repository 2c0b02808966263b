"""What every route shares: JSON answers, the body and query parameters read strictly (a
clear 400 naming the field, never a 5xx), and the caller's identity."""

from __future__ import annotations

import json
import re
from typing import Any

from aws_lambda_powertools.event_handler import Response, content_types
from aws_lambda_powertools.event_handler.api_gateway import BaseRouter
from aws_lambda_powertools.utilities.data_classes import APIGatewayProxyEvent

from sprout.domain.errors import InvalidInput, shown

MAX_DEPTH = 16  # no real request nests deeper
MAX_BODY = 64 * 1024
_DIGITS = re.compile(r"[0-9]{1,12}")


def json_response(status: int, body: Any) -> Response:
    return Response(status_code=status, content_type=content_types.APPLICATION_JSON, body=json.dumps(body))


def _depth(value: Any) -> int:
    deepest, stack = 0, [(value, 1)]
    while stack:
        current, depth = stack.pop()
        deepest = max(deepest, depth)
        if depth > MAX_DEPTH:
            return depth
        if isinstance(current, dict):
            stack += [(v, depth + 1) for v in current.values()]
        elif isinstance(current, list):
            stack += [(v, depth + 1) for v in current]
    return deepest


def body_of(router: BaseRouter, required: bool = True) -> dict:
    """The request's JSON object body (``{}`` when none is given and none is required)."""
    event = router.current_event
    if not event.body:
        if required:
            raise InvalidInput("body", "a JSON object is required")
        return {}
    if len(event.body) > MAX_BODY:
        raise InvalidInput("body", f"is larger than {MAX_BODY} bytes")
    try:
        body = json.loads(event.decoded_body or "")
    except RecursionError:
        raise InvalidInput("body", f"nests deeper than {MAX_DEPTH} levels") from None
    except (ValueError, UnicodeDecodeError) as e:
        raise InvalidInput("body", f"is not valid JSON ({str(e)[:80]})") from None
    if not isinstance(body, dict):
        raise InvalidInput("body", "must be a JSON object")
    if _depth(body) > MAX_DEPTH:
        raise InvalidInput("body", f"nests deeper than {MAX_DEPTH} levels")
    return body


def query_of(router: BaseRouter) -> dict[str, str]:
    return router.current_event.query_string_parameters or {}


def whole_number(name: str, value: str | None, default: int | None = None, maximum: int = 100) -> int:
    """A whole number from 1 to ``maximum`` in ASCII digits (``²`` is a digit to ``str.isdigit``)."""
    if value is None:
        if default is None:
            raise InvalidInput(name, "is required")
        return default
    if not isinstance(value, str) or not _DIGITS.fullmatch(value) or not 0 < int(value) <= maximum:
        raise InvalidInput(name, f"must be a whole number from 1 to {maximum}, got {shown(value)}")
    return int(value)


def caller(router: BaseRouter) -> str:
    event = router.current_event
    if not isinstance(event, APIGatewayProxyEvent):  # the API is a REST API: always one
        return "unknown"
    identity = event.request_context.identity
    return identity.user_arn or identity.caller or "unknown"


def resolver_handler(resolver, before=None):
    """The Lambda entry point of an API resolver: Powertools' logger (API Gateway's request id as
    the correlation id), tracer (responses not captured: they may hold configuration) and metrics
    around ``resolver.resolve``; ``before()`` runs first on every request (the API's context)."""
    from aws_lambda_powertools.logging import correlation_paths

    from sprout.observability import logger, metrics, tracer

    @logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
    @tracer.capture_lambda_handler(capture_response=False)
    @metrics.log_metrics
    def lambda_handler(event: dict, context) -> dict:
        if before is not None:
            before()
        return resolver.resolve(event, context)

    return lambda_handler
