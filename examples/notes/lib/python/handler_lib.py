"""What every notes handler shares: turning a result or an error into an API Gateway proxy response.

``run(event, work)`` calls ``work(event)`` and answers 200 with its JSON result, 4xx with
``{"error": ...}`` for a ``HttpError`` it raises, and 500 with ``{"error": ...}`` for anything
else. Like the guide's handler-lib, it is called from inside each handler's ``main``, so a line
put above that call (the chapter's ``gibberish.what;``) fails the function itself: API Gateway
then answers 502.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from decimal import Decimal
from typing import Any

logger = logging.getLogger(__name__)
logger.setLevel(logging.INFO)

CORS_HEADERS = {
    "Access-Control-Allow-Origin": "*",
    "Access-Control-Allow-Credentials": "true",
    "Content-Type": "application/json",
}


class HttpError(Exception):
    """An error the caller caused (or a missing item): answered with this status and message."""

    def __init__(self, status_code: int, message: str):
        super().__init__(message)
        self.status_code = status_code
        self.message = message


class NotFound(HttpError):
    def __init__(self, message: str = "Item not found."):
        super().__init__(404, message)


class BadRequest(HttpError):
    def __init__(self, message: str):
        super().__init__(400, message)


def _json_default(value: Any) -> Any:
    # DynamoDB hands numbers back as Decimal.
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def response(status_code: int, body: Any) -> dict:
    return {
        "statusCode": status_code,
        "headers": dict(CORS_HEADERS),
        "body": json.dumps(body, default=_json_default),
    }


def run(event: dict, work: Callable[[dict], Any]) -> dict:
    try:
        return response(200, work(event))
    except HttpError as e:
        return response(e.status_code, {"error": e.message})
    except Exception as e:  # the guide's handler-lib: any failure becomes a 500 with its message
        logger.exception("request failed")
        return response(500, {"error": str(e) or type(e).__name__})


# ---- reading the request ------------------------------------------------------------------------


def user_id(event: dict) -> str:
    """The caller: the Cognito identity as in the guide; the IAM user (or caller) when there is none."""
    identity = (event.get("requestContext") or {}).get("identity") or {}
    for key in ("cognitoIdentityId", "user", "caller"):
        value = identity.get(key)
        if value:
            return value
    raise HttpError(403, "requestContext.identity has no cognitoIdentityId, user or caller")


def path_id(event: dict) -> str:
    note_id = (event.get("pathParameters") or {}).get("id")
    if not note_id:
        raise BadRequest("path parameter id is missing")
    return note_id


def note_body(event: dict) -> dict:
    """The body of a create or update: ``{"content": str, "attachment": str | null}``."""
    raw = event.get("body")
    if raw is None or raw == "":
        raise BadRequest("body is missing: expected a JSON object with content and attachment")
    try:
        data = json.loads(raw)
    except (TypeError, ValueError) as e:
        raise BadRequest(f"body is not valid JSON: {e}") from None
    if not isinstance(data, dict):
        raise BadRequest("body must be a JSON object")
    content = data.get("content")
    if not isinstance(content, str):
        raise BadRequest("content must be a string")
    attachment = data.get("attachment")
    if attachment is not None and not isinstance(attachment, str):
        raise BadRequest("attachment must be a string or null")
    return {"content": content, "attachment": attachment}
