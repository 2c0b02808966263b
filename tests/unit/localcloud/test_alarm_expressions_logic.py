"""Metric math's comparisons, logic and IF, as CloudWatch documents them: 1 for true, 0 for false,
no datapoint where an operand has none, IF without a false value gives no datapoint when false."""

from __future__ import annotations

import pytest

from localcloud.alarms import expressions

FAST = "IF(errors >= 5 AND errors / requests >= 0.2, 1, 0)"


@pytest.mark.parametrize(
    ("errors", "requests", "expected"),
    [
        (5.0, 25.0, 1.0),  # 5 errors, 20 %: both thresholds met
        (4.0, 4.0, 0.0),  # 100 % but only 4 errors
        (10.0, 100.0, 0.0),  # 10 errors but 10 %
        (None, 10.0, None),  # no datapoint for errors: none for the result
    ],
)
def test_given_the_fast_signal_expression_when_evaluated_then_both_thresholds_must_hold(errors, requests, expected):
    # GIVEN Sprout's fast-signal expression / WHEN evaluated for one period / THEN
    assert expressions.evaluate(expressions.parse(FAST), {"errors": errors, "requests": requests}) == expected
    assert expressions.references(expressions.parse(FAST)) == {"errors", "requests"}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("m1 < m2", 1.0),
        ("m1 > m2", 0.0),
        ("m1 == 1", 1.0),
        ("m1 != 1", 0.0),
        ("m1 <= 1 && m2 >= 4", 1.0),
        ("m1 > 1 || m2 > 3", 1.0),
        ("m1 > 1 OR m2 > 5", 0.0),
        ("m1 + 1 > m2 - 3", 1.0),  # arithmetic binds tighter than comparison
        ("m1 > 5 AND m2 > 3 OR m1 == 1", 1.0),  # AND binds tighter than OR
        ("IF(m1 > 0, m2 * 2, 0)", 8.0),
        ("IF(m1 > 5, m2)", None),  # false without a false value: no datapoint
        ("IF(m1, IF(m2 > 10, 1, 2), 3)", 2.0),
        ("(m1 < m2) * 10", 10.0),
    ],
)
def test_given_comparisons_logic_and_if_when_evaluated_then_they_follow_cloudwatch(text, expected):
    assert expressions.evaluate(expressions.parse(text), {"m1": 1.0, "m2": 4.0}) == expected


@pytest.mark.parametrize("text", ["IF(m1)", "IF(m1, 1, 2, 3)", "IF(m1, 1", "AND m1", "m1 AND", "m1 >", "FILL(m1, 0)"])
def test_given_malformed_logic_when_parsed_then_it_is_refused(text):
    with pytest.raises(expressions.ExpressionError):
        expressions.parse(text)
