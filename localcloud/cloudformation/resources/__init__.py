"""Supported resource types: ``REGISTRY`` maps a type name to its handler (see base.py)."""

from . import (  # noqa: F401  (they register themselves)
    apigateway,
    apigatewayv2,
    codebuild,
    event_buses,
    events,
    iam,
    iam_policies,
    lambda_,
    lambda_sources,
    lambda_urls,
    messaging,
    stepfunctions,
    storage,
)
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
