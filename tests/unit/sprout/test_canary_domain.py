"""Canary and linear strategies (sprout.domain.canary): parsing an API body's ``strategy`` (an
object or a preset), the plan of weights, and the judge's verdict on a step of the new version."""

from __future__ import annotations

import pytest

from sprout.domain.canary import (
    MIN_REQUESTS,
    PRESETS,
    Control,
    StrategyType,
    Verdict,
    control_refusal,
    judge,
    parse_strategy,
    strategy_of,
    wait_limit,
)
from sprout.domain.errors import InvalidInput


def test_presets_and_objects_give_the_plan_of_weights():
    """GIVEN presets and strategy objects
    WHEN parsed
    THEN a canary walks one weight, a linear one every multiple below 100, explicit steps as given,
    and allAtOnce none; each survives its recorded view."""
    assert parse_strategy("canary10-1m").weights() == [10]
    assert parse_strategy("canary10-1m").interval_seconds == 60
    assert parse_strategy("linear25-30s").weights() == [25, 50, 75]
    assert parse_strategy({"type": "linear", "percent": 40, "intervalSeconds": 5}).weights() == [40, 80]
    assert parse_strategy({"type": "canary", "intervalSeconds": 10, "steps": [5, 20]}).weights() == [5, 20]
    assert parse_strategy(None).weights() == [] and not parse_strategy({"type": "allAtOnce"}).gradual
    for name in PRESETS:
        s = parse_strategy(name)
        assert strategy_of(s.view()).weights() == s.weights()
    assert parse_strategy("canary10-10s").view()["preset"] == "canary10-10s"


@pytest.mark.parametrize(("body", "field"), [
    ("canary99-1h", "strategy"),
    (42, "strategy"),
    ({"type": "blue-green"}, "strategy.type"),
    ({"type": "canary", "percent": 0, "intervalSeconds": 10}, "strategy.percent"),
    ({"type": "canary", "percent": 100, "intervalSeconds": 10}, "strategy.percent"),
    ({"type": "canary", "percent": True, "intervalSeconds": 10}, "strategy.percent"),
    ({"type": "canary", "percent": 10}, "strategy.intervalSeconds"),
    ({"type": "canary", "percent": 10, "intervalSeconds": 1}, "strategy.intervalSeconds"),
    ({"type": "canary", "percent": 10, "intervalSeconds": "10"}, "strategy.intervalSeconds"),
    ({"type": "linear", "percent": 1, "intervalSeconds": 10}, "strategy.percent"),
    ({"type": "linear", "intervalSeconds": 10, "steps": [50, 20]}, "strategy.steps"),
    ({"type": "linear", "intervalSeconds": 10, "steps": []}, "strategy.steps"),
    ({"type": "linear", "intervalSeconds": 10, "steps": [5, 100]}, "strategy.steps"),
    ({"type": "allAtOnce", "percent": 10}, "strategy.percent"),
    ({"type": "canary", "percent": 10, "intervalSeconds": 10, "bake": 1}, "strategy.bake"),
    ({"type": "linear", "percent": 5, "intervalSeconds": 3600}, "strategy.intervalSeconds"),
])
def test_a_bad_strategy_is_refused_naming_the_field(body, field):
    """GIVEN a strategy that is not one (unknown preset, type, out-of-range or mistyped values,
    falling steps, an unknown key)
    WHEN parsed
    THEN InvalidInput names the field as the API spells it."""
    with pytest.raises(InvalidInput) as e:
        parse_strategy(body)
    assert e.value.field == field


def test_the_judge_fails_a_bad_new_version_mid_step_and_passes_a_good_one_at_the_end():
    """GIVEN the new version's own counts
    WHEN judged
    THEN 3 errors in 4 requests fail at once, a clean version bakes until the interval and then
    passes, a 4 % error rate passes and a 20 % one fails at the end."""
    assert judge(4, 3, elapsed=2, interval=60).verdict is Verdict.FAIL
    assert judge(500, 0, elapsed=30, interval=60).verdict is Verdict.BAKING
    assert judge(500, 0, elapsed=60, interval=60).verdict is Verdict.PASS
    assert judge(100, 4, elapsed=60, interval=60).verdict is Verdict.PASS
    assert judge(10, 2, elapsed=60, interval=60).verdict is Verdict.FAIL
    assert judge(100, 2, elapsed=10, interval=60).verdict is Verdict.BAKING  # 2 errors: not yet a failure


def test_too_few_requests_wait_up_to_the_limit_then_the_step_is_inconclusive():
    """GIVEN fewer requests of the new version than the documented minimum
    WHEN judged after the interval
    THEN it waits up to the wait limit, then is INCONCLUSIVE — never a PASS."""
    interval = 10
    limit = wait_limit(interval)
    assert judge(MIN_REQUESTS - 1, 0, elapsed=interval, interval=interval).verdict is Verdict.WAITING
    assert judge(MIN_REQUESTS - 1, 0, elapsed=interval + limit - 1, interval=interval).verdict is Verdict.WAITING
    assert judge(MIN_REQUESTS - 1, 0, elapsed=interval + limit, interval=interval).verdict is Verdict.INCONCLUSIVE
    assert judge(0, 0, elapsed=10_000, interval=interval).verdict is Verdict.INCONCLUSIVE
    assert judge(MIN_REQUESTS, 0, elapsed=interval + limit, interval=interval).verdict is Verdict.PASS


def test_a_person_may_resume_only_an_inconclusive_canary_and_nothing_of_a_finished_deployment():
    """GIVEN deployments in several states
    WHEN a person asks finish, abort or resume
    THEN only a canary in progress may be finished or aborted, and only an INCONCLUSIVE one resumed."""
    assert control_refusal(Control.ABORT, "SHIFTING", "IN_PROGRESS") is None
    assert control_refusal(Control.FINISH, "INCONCLUSIVE", "IN_PROGRESS") is None
    assert control_refusal(Control.RESUME, "INCONCLUSIVE", "IN_PROGRESS") is None
    assert "INCONCLUSIVE" in (control_refusal(Control.RESUME, "SHIFTING", "IN_PROGRESS") or "")
    assert "FAILED" in (control_refusal(Control.ABORT, "SHIFTING", "FAILED") or "")
    assert "not a canary" in (control_refusal(Control.FINISH, None, "IN_PROGRESS") or "")
    assert "last flip" in (control_refusal(Control.ABORT, "PROMOTING", "IN_PROGRESS") or "")
    assert StrategyType("linear") is StrategyType.LINEAR
