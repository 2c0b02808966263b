"""DynamoDB responses without moto's generic walk over every attribute value.

moto serializes every response through one generic serializer that, for each member of each
structure in the output shape, tries a list of attribute aliases on the value. A DynamoDB item is
a map of ``AttributeValue`` structures (10 members each, nested in ``M`` and ``L``), so an item of a
dozen attributes costs ~1 ms (profiled with bench/bench_lineage.py: ~80% of a 25-item page).
By the time it is serialized, moto has already turned the item into its wire form
(``{"S": ...}``, ``{"M": {...}}``, binary values as bytes), so the serializer's work on an
``AttributeValue`` is a plain conversion: strings stay strings, blobs are base64, maps and lists
recurse. This hook does that conversion directly, with the generic serializer's results.
"""

from __future__ import annotations

from collections.abc import Callable
from enum import Enum
from typing import Any

from localcloud.moto_hooks import hook

SERVICES = frozenset({"dynamodb"})
_STRINGS = ("S", "N")
_STRING_SETS = ("SS", "NS")
_BOOLEANS = ("NULL", "BOOL")


def install() -> None:
    @hook(
        "moto.core.serialize",
        "BaseJSONSerializer._serialize_type_structure",
        "a DynamoDB AttributeValue is converted directly (moto's generic walk costs ~1 ms per item)",
    )
    def serialize_structure(original, self, serialized, value, shape, key):
        if shape.name != "AttributeValue" or not isinstance(value, dict) or self.service_model.service_name not in SERVICES:
            return original(self, serialized, value, shape, key)

        def generic(item: Any) -> Any:  # anything not in wire form goes the generic way
            holder: dict = {}
            original(self, holder, item, shape, "item")
            return holder.get("item")

        converted = attribute_value(value, self._base64, generic)
        if key:
            serialized[self.get_serialized_name(shape, key)] = converted
        else:
            serialized.update(converted)


def attribute_value(value: dict, base64: Callable[[Any], str], generic: Callable[[Any], Any]) -> dict:
    """An ``AttributeValue`` in wire form (``{"S": "x"}``, ``{"M": {...}}``, B as bytes) as moto's
    JSON serializer renders it."""
    out: dict[str, Any] = {}
    for member, item in value.items():
        if item is None:
            continue
        if member in _STRINGS:
            out[member] = _string(item)
        elif member == "B":
            out[member] = base64(item)
        elif member in _STRING_SETS:
            out[member] = [_string(v) for v in item]
        elif member == "BS":
            out[member] = [base64(v) for v in item]
        elif member == "M":
            out[member] = {k: attribute_value(v, base64, generic) if isinstance(v, dict) else generic(v) for k, v in item.items()}
        elif member == "L":
            out[member] = [attribute_value(v, base64, generic) if isinstance(v, dict) else generic(v) for v in item]
        elif member in _BOOLEANS:
            out[member] = item
        # any other key is not a member of AttributeValue: the generic serializer leaves it out too
    return out


def _string(value: Any) -> Any:
    if isinstance(value, str):
        return value
    if isinstance(value, Enum):
        value = value.value
    return str(value) if value not in (None, {}, []) else value
