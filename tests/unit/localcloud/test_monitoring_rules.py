"""The rules localcloud.monitoring applies as AWS documents them: GetMetricData's periods, start
rounding and statistics; API Gateway's checks of the logging role and access-log settings."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from localcloud.alarms.evaluation import Samples, StatisticSet
from localcloud.monitoring.apigateway_logging import check_access_log_settings, trusts_apigateway
from localcloud.monitoring.metric_data import compute, rounded_start, valid_period

NOW = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)
ARN = "arn:aws:logs:us-east-1:123456789012:log-group:API-Gateway-Access-Logs_abc/dev"


@pytest.mark.parametrize("period, ok", [(1, True), (5, True), (10, True), (20, True), (30, True), (60, True), (300, True), (45, False), (90, False), (0, False)])
def test_given_a_period_then_only_cloudwatchs_are_valid(period, ok):
    assert valid_period(period) is ok


@pytest.mark.parametrize(
    "start, period, expected",
    [
        (NOW - timedelta(minutes=7, seconds=34), 300, NOW - timedelta(minutes=8)),  # < 15 days: the minute
        (NOW - timedelta(days=20, minutes=2, seconds=34), 60, NOW - timedelta(days=20, minutes=5)),  # 15-63 days: 5 minutes
        (NOW - timedelta(days=70, minutes=32), 3600, NOW - timedelta(days=70, hours=1)),  # > 63 days: the hour
        (NOW - timedelta(seconds=13), 10, NOW - timedelta(seconds=20)),  # high resolution: the period
    ],
)
def test_given_a_start_time_then_it_is_rounded_down_as_cloudwatch_does(start, period, expected):
    assert rounded_start(start, period, NOW) == expected.timestamp()


def test_given_values_and_sets_then_percentiles_use_the_values_and_only_sets_whose_values_are_known():
    values = Samples(tuple(float(v) for v in range(1, 101)))
    assert (compute("p90", values), compute("p99", values), compute("tm90", values)) == (90.0, 99.0, 45.5)
    equal = Samples((), (StatisticSet(4, 20.0, 5.0, 5.0),))
    spread = Samples((), (StatisticSet(4, 20.0, 1.0, 9.0),))
    assert compute("p50", equal) == 5.0 and compute("p50", spread) is None
    assert compute("Average", spread) == 5.0 and compute("p50", Samples()) is None


def test_given_trust_policies_then_only_one_trusting_api_gateway_may_be_the_accounts_role():
    allow = {"Statement": [{"Effect": "Allow", "Principal": {"Service": ["apigateway.amazonaws.com"]}, "Action": "sts:AssumeRole"}]}
    other = {"Statement": [{"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]}
    assert trusts_apigateway(allow) and not trusts_apigateway(other) and not trusts_apigateway("not json")


@pytest.mark.parametrize(
    "settings, role, problem",
    [
        ({"destinationArn": ARN, "format": "$context.requestId"}, None, "role ARN must be set"),
        ({"destinationArn": "arn:aws:s3:::bucket", "format": "$context.requestId"}, "r", "Invalid ARN"),
        ({"destinationArn": ARN, "format": "$context.status"}, "r", "must contain at least one of"),
        ({"destinationArn": ARN, "format": '{"id":"$context.extendedRequestId"}'}, "r", None),
        ({}, None, None),
    ],
)
def test_given_access_log_settings_then_aws_complaints_come_back(settings, role, problem):
    found = check_access_log_settings(settings, role)
    assert (found is None) if problem is None else (problem in (found or ""))
