"""JSON Schemas for API bodies, and one ``validate`` that names the offending field."""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError, best_match

from sprout.domain.errors import InvalidInput, named, shown


@cache
def _validator(name: str) -> Draft202012Validator:
    schema = json.loads(resources.files(__package__).joinpath(f"{name}.json").read_text())
    return Draft202012Validator(schema)


def _field(error: ValidationError) -> str:
    path = ".".join(str(p) for p in error.absolute_path)
    if error.validator == "required":
        missing = error.message.split("'")[1]
        return f"{path}.{missing}" if path else missing
    if error.validator == "additionalProperties":
        extra = error.message.split("'")[1]
        return f"{path}.{extra}" if path else extra
    return path or "body"


def validate(name: str, body: Any) -> None:
    """Raise InvalidInput naming the first offending field of ``body`` against schema ``name``."""
    error = best_match(_validator(name).iter_errors(body))
    if error is None:
        return
    if error.validator == "oneOf" and not error.absolute_path:
        options = " or ".join(sorted({s["required"][0] for s in error.schema["oneOf"]}))
        raise InvalidInput(options, f"give exactly one of {options}")
    if error.validator == "additionalProperties":
        raise InvalidInput(_field(error), "is not a known field")
    if error.validator == "required":
        raise InvalidInput(_field(error), "is required")
    description = error.schema.get("description") if isinstance(error.schema, dict) else None
    # jsonschema's messages begin with the offending value's repr: echo a short prefix of it only
    echoed = repr(error.instance)
    text = shown(error.instance) + error.message[len(echoed):] if error.message.startswith(echoed) else error.message
    message = named(text, 160) + (f" ({description})" if description else "")
    raise InvalidInput(_field(error), message)
