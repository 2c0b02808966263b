"""Supported resource types: ``REGISTRY`` maps a type name to its handler (see base.py)."""

from . import apigateway, events, iam, lambda_, lambda_sources, messaging, stepfunctions, storage  # noqa: F401  (they register themselves)
from .base import (
    MUTABLE,
    REGISTRY,
    REPLACE,
    Context,
    Provisioned,
    ResourceFailed,
    ResourceType,
    changed_properties,
)

__all__ = [
    "MUTABLE",
    "REGISTRY",
    "REPLACE",
    "Context",
    "Provisioned",
    "ResourceFailed",
    "ResourceType",
    "changed_properties",
]
