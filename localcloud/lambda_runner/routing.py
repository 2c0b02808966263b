"""Weighted aliases (Lambda's traffic shifting): an alias's ``RoutingConfig.AdditionalVersionWeights``.

As Lambda documents it: an alias points at two versions at most — its ``FunctionVersion`` and one
additional version with a weight in [0.0, 1.0]; both must be published (not ``$LATEST``), share
the execution role and the dead-letter configuration; the split is probabilistic, chosen per
invocation. Every path that invokes the alias (Invoke by name:alias, alias ARN or Qualifier; the
API gateway's proxy integrations; event source mappings and pushes, which all call Invoke) gets
the chosen version, reported as ``ExecutedVersion`` (the Invoke response header and the
``AWS/Lambda`` metrics' dimension) and in the log stream name ``YYYY/MM/DD/[<version>]<id>``.

CreateAlias and UpdateAlias refuse what Lambda refuses (InvalidParameterValueException).
"""

from __future__ import annotations

import random
import re
from typing import Any

from localcloud.moto_hooks import hook, require

_VERSION = re.compile(r"^[0-9]+$")
_random = random.SystemRandom()


def weights_of(routing_config: Any) -> dict[str, float]:
    """The additional versions and their weights, as moto stores what the caller sent."""
    if not isinstance(routing_config, dict):
        return {}
    weights = routing_config.get("AdditionalVersionWeights") or {}
    return {str(k): float(v) for k, v in weights.items()} if isinstance(weights, dict) else {}


def choose(primary: str, routing_config: Any, draw: float | None = None) -> str:
    """The version one invocation of an alias runs: an additional version with its weight's
    probability, else the primary version."""
    weights = weights_of(routing_config)
    if not weights:
        return primary
    point = _random.random() if draw is None else draw
    for version, weight in weights.items():
        if point < weight:
            return version
        point -= weight
    return primary


def problem(primary: str, routing_config: Any, config_of: Any) -> str | None:
    """Why Lambda would refuse this routing configuration for an alias on ``primary``, or None.
    ``config_of(version)`` is the version's configuration (None when it does not exist)."""
    raw = routing_config.get("AdditionalVersionWeights") if isinstance(routing_config, dict) else None
    if not raw:
        return None
    if not isinstance(raw, dict):
        return "RoutingConfig.AdditionalVersionWeights must be a map of version to weight"
    if len(raw) > 1:
        return "RoutingConfig.AdditionalVersionWeights: an alias can point to at most two versions (one additional version)"
    (version, weight), = raw.items()
    if not _VERSION.match(str(version)):
        return f"RoutingConfig.AdditionalVersionWeights: {version!r} is not a published version number"
    try:
        value = float(weight)
    except (TypeError, ValueError):
        return f"RoutingConfig.AdditionalVersionWeights: weight {weight!r} is not a number"
    if not 0.0 <= value <= 1.0:
        return f"RoutingConfig.AdditionalVersionWeights: weight {value} must be between 0.0 and 1.0"
    if primary == "$LATEST":
        return "$LATEST is not supported for an alias pointing to more than 1 version"
    if str(version) == primary:
        return f"Alias cannot point to the same version {primary} twice"
    extra, main = config_of(str(version)), config_of(primary)
    if extra is None:
        return f"Function version {version} does not exist"
    if main is not None:
        if extra.get("Role") != main.get("Role"):
            return "The execution role of both versions of a weighted alias must be the same"
        if (extra.get("DeadLetterConfig") or {}) != (main.get("DeadLetterConfig") or {}):
            return "The dead-letter configuration of both versions of a weighted alias must be the same"
    return None


def install(cloud: Any) -> None:  # noqa: ARG001 - the same signature as the runner's other parts
    invalid = require(
        "moto.awslambda.exceptions", "InvalidParameterValueException", "Lambda's InvalidParameterValueException"
    )
    get_configuration = require(
        "moto.awslambda.models", "LambdaFunction.get_configuration", "a version's configuration (API shape)"
    )

    def check(backend: Any, function_name: str, primary: str, routing_config: Any) -> None:
        def config_of(version: str) -> dict[str, Any] | None:
            try:
                return get_configuration(backend.get_function(function_name, version))
            except Exception:  # noqa: BLE001 - moto's not-found errors vary by path
                return None

        why = problem(primary, routing_config, config_of)
        if why:
            raise invalid(why)

    @hook("moto.awslambda.models", "LambdaBackend.create_alias", "a weighted alias is checked as Lambda checks it")
    def create_alias(original, backend, name, function_name, function_version, description, routing_config):
        check(backend, function_name, function_version, routing_config)
        return original(backend, name, function_name, function_version, description, routing_config)

    @hook("moto.awslambda.models", "LambdaBackend.update_alias", "a weighted alias is checked as Lambda checks it")
    def update_alias(original, backend, name, function_name, function_version, description, routing_config):
        primary = function_version or backend.get_alias(name, function_name).function_version
        check(backend, function_name, primary, routing_config)
        return original(backend, name, function_name, function_version, description, routing_config)
