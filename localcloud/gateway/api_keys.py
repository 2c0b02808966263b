"""API keys of REST API methods, as API Gateway checks them.

A method with ``apiKeyRequired`` (an OpenAPI body's ``security`` naming an ``apiKey`` scheme for the
``x-api-key`` header: what SAM's ``Auth.ApiKeyRequired`` writes) serves a request only when its
``x-api-key`` header is the value of an enabled API key that belongs to a usage plan including this
API's stage; otherwise 403 ``{"message":"Forbidden"}``. Keys and usage plans are moto's (created
through the API Gateway API). ``apiKeySource: AUTHORIZER`` (the key coming from a Lambda
authorizer's ``usageIdentifierKey``) is not supported: such methods are refused, never let through.
"""

from __future__ import annotations

import logging
from typing import Any

from localcloud.moto_hooks import require

from .config import ACCOUNT_ID, REGION

log = logging.getLogger("localcloud.gateway")

_WHY = "API keys: APIGatewayBackend.{keys,usage_plans,usage_plan_keys}, ApiKey.{value,enabled}, UsagePlan.api_stages"
_backends = require("moto.apigateway.models", "apigateway_backends", _WHY)
require("moto.apigateway.models", "ApiKey", _WHY)
require("moto.apigateway.models", "UsagePlan", _WHY)

HEADER = "x-api-key"


def key_schemes(schemes: Any) -> set[str]:
    """The names of an OpenAPI body's API-key security schemes (``x-api-key`` header)."""
    if not isinstance(schemes, dict):
        return set()
    return {
        name
        for name, scheme in schemes.items()
        if isinstance(scheme, dict)
        and scheme.get("type") == "apiKey"
        and str(scheme.get("in", "")).lower() == "header"
        and str(scheme.get("name", "")).lower() == HEADER
        and "x-amazon-apigateway-authorizer" not in scheme
        and "x-amazon-apigateway-authtype" not in scheme
    }


def allowed(api: Any, stage: str, environ: dict) -> bool:
    """Whether the request carries an API key this API stage accepts (see the module doc)."""
    if str(getattr(api, "api_key_source", "HEADER") or "HEADER").upper() != "HEADER":
        log.warning("API %s: apiKeySource %s is not supported by localcloud; refusing the request", api.id, api.api_key_source)
        return False
    value = environ.get("HTTP_X_API_KEY")
    if not value:
        return False
    backend = _backends[ACCOUNT_ID][REGION]
    keys = [k for k in list(backend.keys.values()) if k.value == value and k.enabled]
    for key in keys:
        for plan_id, plan_keys in list(backend.usage_plan_keys.items()):
            plan = backend.usage_plans.get(plan_id)
            if plan is None or key.id not in plan_keys:
                continue
            if any(s.get("apiId") == api.id and s.get("stage") == stage for s in plan.api_stages or []):
                return True
    return False
