"""Weighted aliases, the pure part (localcloud.lambda_runner.routing): the version an invocation
runs, and what CreateAlias/UpdateAlias refuse as Lambda refuses it."""

from __future__ import annotations

import random

from localcloud.lambda_runner.routing import choose, problem

CONFIGS = {"1": {"Role": "r"}, "2": {"Role": "r"}, "3": {"Role": "other"}}


def test_given_a_weight_when_drawn_then_the_additional_version_runs_below_it_and_the_primary_above():
    """GIVEN an alias on 1 with 10 % on 2
    WHEN draws are made (fixed, then 10 000 seeded ones)
    THEN a draw below 0.1 runs 2, others 1, and the share of 2 is within 5 standard deviations of 10 %;
    no weights, or an empty map, run the primary."""
    config = {"AdditionalVersionWeights": {"2": 0.1}}
    assert choose("1", config, draw=0.05) == "2" and choose("1", config, draw=0.5) == "1"
    rng = random.Random(23)
    n = 10_000
    share = sum(choose("1", config, draw=rng.random()) == "2" for _ in range(n))
    assert abs(share - n * 0.1) <= 5 * (n * 0.1 * 0.9) ** 0.5
    assert choose("1", None) == "1" and choose("1", {"AdditionalVersionWeights": {}}) == "1"


def test_given_routing_configurations_when_checked_then_lambdas_refusals_are_named():
    """GIVEN routing configurations Lambda refuses (and one it accepts)
    WHEN checked
    THEN each refusal says why: the range, two extra versions, $LATEST, the same version, a missing
    version, another role; clearing the weights is accepted."""
    def config_of(v):
        return CONFIGS.get(v)

    def w(weights):
        return {"AdditionalVersionWeights": weights}

    assert problem("1", w({"2": 0.5}), config_of) is None
    assert problem("1", w({}), config_of) is None
    assert "between 0.0 and 1.0" in problem("1", w({"2": -0.1}), config_of)
    assert "at most two versions" in problem("1", w({"2": 0.1, "3": 0.1}), config_of)
    assert "$LATEST" in problem("$LATEST", w({"2": 0.1}), config_of)
    assert "same version" in problem("1", w({"1": 0.1}), config_of)
    assert "does not exist" in problem("1", w({"9": 0.1}), config_of)
    assert "execution role" in problem("1", w({"3": 0.1}), config_of)
    assert "published version" in problem("1", w({"$LATEST": 0.1}), config_of)
