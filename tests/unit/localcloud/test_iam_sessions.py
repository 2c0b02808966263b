"""Role sessions a service gets (localcloud.iam.sessions): cached, renewed before they expire, and
only for a role whose trust policy admits the service. STS and IAM are in-memory fakes here."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from botocore.exceptions import ClientError

from localcloud.iam.sessions import RoleNotAssumable, Sessions

ROLE = "arn:aws:iam::123456789012:role/fn-role"
TRUST = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]}


class FakeSts:
    def __init__(self, lifetime: timedelta):
        self.lifetime = lifetime
        self.calls: list[dict] = []

    def assume_role(self, **kwargs):
        self.calls.append(kwargs)
        n = len(self.calls)
        return {
            "Credentials": {
                "AccessKeyId": f"ASIA{n}", "SecretAccessKey": f"secret{n}", "SessionToken": f"token{n}",
                "Expiration": datetime.now(UTC) + self.lifetime,
            },
            "AssumedRoleUser": {"Arn": f"arn:aws:sts::123456789012:assumed-role/fn-role/{kwargs['RoleSessionName']}"},
        }


class FakeIam:
    def __init__(self, roles: dict[str, dict]):
        self.roles = roles

    def get_role(self, RoleName):  # noqa: N803 (boto3's parameter name)
        if RoleName not in self.roles:
            raise ClientError({"Error": {"Code": "NoSuchEntity", "Message": f"The role with name {RoleName} cannot be found."}}, "GetRole")
        return {"Role": {"Arn": f"arn:aws:iam::123456789012:role/{RoleName}", "AssumeRolePolicyDocument": self.roles[RoleName]}}


def test_given_fresh_credentials_when_asked_again_then_the_same_session_is_handed_out():
    sts = FakeSts(timedelta(hours=1))
    sessions = Sessions(sts, FakeIam({"fn-role": TRUST}))
    first = sessions.credentials(ROLE, "my-function", "lambda.amazonaws.com")
    assert sessions.credentials(ROLE, "my-function", "lambda.amazonaws.com") is first
    assert first.arn.endswith("/my-function") and first.env()["AWS_SESSION_TOKEN"] == "token1"
    assert sts.calls == [{"RoleArn": ROLE, "RoleSessionName": "my-function", "DurationSeconds": 3600}]


def test_given_credentials_close_to_expiry_when_asked_then_a_new_session_is_assumed():
    sts = FakeSts(timedelta(minutes=5))  # less than the 10 minutes a session must have left
    sessions = Sessions(sts, FakeIam({"fn-role": TRUST}))
    first = sessions.credentials(ROLE, "my-function", "lambda.amazonaws.com")
    second = sessions.credentials(ROLE, "my-function", "lambda.amazonaws.com")
    assert (first.access_key, second.access_key) == ("ASIA1", "ASIA2")


def test_given_a_role_that_does_not_trust_the_service_or_does_not_exist_then_no_session_is_made():
    sts = FakeSts(timedelta(hours=1))
    sessions = Sessions(sts, FakeIam({"fn-role": TRUST}))
    with pytest.raises(RoleNotAssumable, match="its trust policy does not allow states.amazonaws.com"):
        sessions.credentials(ROLE, "machine", "states.amazonaws.com")
    with pytest.raises(RoleNotAssumable, match="cannot be found"):
        sessions.credentials("arn:aws:iam::123456789012:role/gone", "x", "lambda.amazonaws.com")
    with pytest.raises(RoleNotAssumable, match="no role"):
        sessions.credentials(None, "x", "lambda.amazonaws.com")
    assert sts.calls == []


def test_given_a_session_name_with_characters_sts_refuses_then_they_are_replaced():
    sts = FakeSts(timedelta(hours=1))
    Sessions(sts, FakeIam({"fn-role": json.loads(json.dumps(TRUST))})).credentials(ROLE, "rule/with spaces", "lambda.amazonaws.com")
    assert sts.calls[0]["RoleSessionName"] == "rule-with-spaces"
