"""GET /greet: a greeting in the stage's language (a setting: the Language parameter), for callers
that send the stage's API key (a secret) in ``x-api-key``.

The key's value is never in this function's configuration: its environment holds the Parameter
Store **name** Sprout passed to the ApiKey parameter, and the value is read here at run time,
decrypted, cached for SECRET_MAX_AGE seconds (so a rotated key is seen without a deploy)."""

import hmac
import json
import os

from aws_lambda_powertools.utilities import parameters

GREETINGS = {"en": "Hello", "fr": "Bonjour", "de": "Hallo", "es": "Hola", "ko": "안녕하세요"}


def handler(event, context):
    name = os.environ.get("API_KEY_PARAMETER", "")
    if not name:
        return _answer(503, {"message": "this stage has no API key (set the ApiKey secret)"})
    expected = parameters.get_parameter(name, decrypt=True, max_age=int(os.environ.get("SECRET_MAX_AGE", "5")))
    headers = {k.lower(): v for k, v in (event.get("headers") or {}).items()}
    given = headers.get("x-api-key") or ""
    if not hmac.compare_digest(given.encode(), str(expected).encode()):
        return _answer(403, {"message": "wrong or missing x-api-key"})
    language = os.environ.get("GREETING_LANGUAGE", "en")
    return _answer(200, {"greeting": GREETINGS.get(language, GREETINGS["en"]), "language": language})


def _answer(status, body):
    return {"statusCode": status, "headers": {"content-type": "application/json"}, "body": json.dumps(body)}
