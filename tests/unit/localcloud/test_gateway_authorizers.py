"""Lambda authorizers as the gateway runs them, with an in-memory Lambda standing in for Invoke."""

from __future__ import annotations

import json
from types import SimpleNamespace

import pytest

from localcloud.gateway import authorizers

API = "arn:aws:execute-api:us-east-1:123456789012:api1"
METHOD = f"{API}/dev/GET/items"
URI = "arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/arn:aws:lambda:us-east-1:123456789012:function:auth/invocations"


class FakeLambda:
    """Answers Invoke with what ``answer(event)`` returns; records the events."""

    def __init__(self, answer):
        self.answer = answer
        self.events: list[dict] = []

    def invoke(self, function, qualifier, payload, timeout):
        event = json.loads(payload)
        self.events.append(event)
        result = self.answer(event)
        if isinstance(result, Exception):
            return 200, {"x-amz-function-error": "Unhandled"}, json.dumps({"errorMessage": str(result)}).encode()
        return 200, {}, json.dumps(result).encode()


def allow(resource=METHOD, effect="Allow", **context):
    return {
        "principalId": "user-1",
        "policyDocument": {"Version": "2012-10-17", "Statement": [{"Action": "execute-api:Invoke", "Effect": effect, "Resource": resource}]},
        "context": context,
    }


def authorizer(kind="TOKEN", source="method.request.header.Authorization", ttl=300, expression=None):
    return SimpleNamespace(
        id="abc123",
        name="Auth",
        type=kind,
        authorizer_uri=URI,
        authorizer_credentials=None,
        identity_source=source,
        identity_validation_expression=expression,
        authorizer_result_ttl=ttl,
    )


def request(headers=None, query=None, stage=None):
    return {
        "resource": "/items",
        "path": "/items",
        "httpMethod": "GET",
        "headers": headers or {},
        "queryStringParameters": query,
        "stageVariables": stage,
        "requestContext": {"identity": {"sourceIp": "10.0.0.1"}, "stage": "dev"},
        "body": "secret body",
    }


def test_given_a_token_then_the_function_gets_api_gateways_token_event_and_the_context_as_strings():
    fake = FakeLambda(lambda e: allow(n=3, ok=True, s="x"))
    out = authorizers.LambdaAuthorizers(fake).authorize(authorizer(), "api1", "dev", METHOD, request({"authorization": "tok"}))
    assert fake.events == [{"type": "TOKEN", "authorizationToken": "tok", "methodArn": METHOD}]
    assert out.refusal is None
    assert {k: v for k, v in out.authorizer.items() if k != "integrationLatency"} == {
        "n": "3", "ok": "true", "s": "x", "principalId": "user-1"
    }


def test_given_a_request_authorizer_then_its_event_is_the_request_without_body_and_all_sources_are_read():
    fake = FakeLambda(lambda e: allow())
    source = "method.request.header.X-Tenant, method.request.querystring.key, stageVariables.tier, context.identity.sourceIp"
    out = authorizers.LambdaAuthorizers(fake).authorize(
        authorizer("REQUEST", source), "api1", "dev", METHOD, request({"X-Tenant": "acme"}, {"key": "k"}, {"tier": "gold"})
    )
    assert out.refusal is None
    (event,) = fake.events
    assert (event["type"], event["methodArn"], event["headers"], event["stageVariables"]) == (
        "REQUEST", METHOD, {"X-Tenant": "acme"}, {"tier": "gold"}
    )
    assert "body" not in event


@pytest.mark.parametrize(
    "answer, expected",
    [
        (allow(effect="Deny"), authorizers.EXPLICIT_DENY),
        (allow(resource=f"{API}/dev/POST/items"), authorizers.NOT_ALLOWED),
        (Exception("Unauthorized"), authorizers.UNAUTHORIZED),
        (Exception("boom"), authorizers.FAILURE),
        ({"principalId": "u"}, authorizers.FAILURE),
        ({**allow(), "principalId": None}, authorizers.FAILURE),
        (allow(nested={"a": 1}), authorizers.FAILURE),
        ({**allow(), "policyDocument": json.dumps(allow()["policyDocument"])}, None),
    ],
    ids=["deny", "no-allow", "unauthorized", "error", "no-policy", "no-principal", "nested-context", "policy-as-text"],
)
def test_given_an_authorizer_answer_then_the_refusal_is_api_gateways(answer, expected):
    out = authorizers.LambdaAuthorizers(FakeLambda(lambda e: answer)).authorize(
        authorizer(), "api1", "dev", METHOD, request({"Authorization": "t"})
    )
    assert out.refusal == expected


def test_given_ttl_then_one_invocation_serves_the_same_identity_and_its_policy_is_evaluated_per_method():
    fake = FakeLambda(lambda e: allow(resource=METHOD))
    runner = authorizers.LambdaAuthorizers(fake)
    first = runner.authorize(authorizer(), "api1", "dev", METHOD, request({"Authorization": "a"}))
    other_method = runner.authorize(authorizer(), "api1", "dev", f"{API}/dev/DELETE/items", request({"Authorization": "a"}))
    other_token = runner.authorize(authorizer(), "api1", "dev", METHOD, request({"Authorization": "b"}))
    other_stage = runner.authorize(authorizer(), "api1", "prod", METHOD, request({"Authorization": "a"}))
    assert (first.refusal, other_method.refusal, other_method.cached) == (None, authorizers.NOT_ALLOWED, True)
    assert [e["authorizationToken"] for e in fake.events] == ["a", "b", "a"]  # per token and per stage
    assert other_token.refusal is None and other_stage.refusal is None


@pytest.mark.parametrize("ttl, source", [(0, "method.request.header.Authorization"), (300, "")], ids=["ttl-0", "no-source"])
def test_given_no_caching_or_no_identity_source_then_every_request_invokes(ttl, source):
    fake = FakeLambda(lambda e: allow())
    runner = authorizers.LambdaAuthorizers(fake)
    for _ in range(2):
        runner.authorize(authorizer("REQUEST", source, ttl), "api1", "dev", METHOD, request({"Authorization": "a"}))
    assert len(fake.events) == 2


@pytest.mark.parametrize(
    "headers, expression",
    [({}, None), ({"Authorization": ""}, None), ({"Authorization": "bad token"}, r"^[a-z]+$")],
    ids=["missing", "empty", "validation-expression"],
)
def test_given_no_acceptable_token_then_401_without_invoking(headers, expression):
    fake = FakeLambda(lambda e: allow())
    out = authorizers.LambdaAuthorizers(fake).authorize(authorizer(expression=expression), "api1", "dev", METHOD, request(headers))
    assert (out.refusal, fake.events) == (authorizers.UNAUTHORIZED, [])


def test_given_a_validation_expression_that_is_no_regex_then_500_without_invoking():
    fake = FakeLambda(lambda e: allow())
    out = authorizers.LambdaAuthorizers(fake).authorize(
        authorizer(expression="(unclosed"), "api1", "dev", METHOD, request({"Authorization": "t"})
    )
    assert (out.refusal, fake.events) == (authorizers.CONFIGURATION_ERROR, [])


def test_given_an_unsupported_authorizer_type_then_the_request_is_refused():
    fake = FakeLambda(lambda e: allow())
    out = authorizers.LambdaAuthorizers(fake).authorize(authorizer("COGNITO_USER_POOLS"), "api1", "dev", METHOD, request())
    assert out.refusal == authorizers.CONFIGURATION_ERROR and fake.events == []


def test_given_cognito_claims_then_the_integration_sees_them_as_rest_apis_show_them():
    from localcloud.gateway import cognito

    texts = cognito.claim_texts(
        {"sub": "u-1", "exp": 0, "iat": 86400, "email_verified": True, "cognito:groups": ["admins", "ops"], "n": 3}
    )
    assert texts == {
        "sub": "u-1",
        "exp": "Thu Jan 01 00:00:00 UTC 1970",
        "iat": "Fri Jan 02 00:00:00 UTC 1970",
        "email_verified": "true",
        "cognito:groups": "admins,ops",
        "n": "3",
    }


@pytest.mark.parametrize("token", ["junk", "a.b.c", "a.eyJzdWIiOiJ4In0.c"], ids=["not-jwt", "bad-payload", "no-issuer"])
def test_given_a_token_that_is_no_user_pool_jwt_then_it_is_refused_before_any_key_is_read(token):
    from localcloud.gateway import cognito

    pools = cognito.UserPoolTokens(lambda: "http://127.0.0.1:1")  # never reached
    with pytest.raises(cognito.InvalidToken):
        pools.claims(token, ["arn:aws:cognito-idp:us-east-1:123456789012:userpool/us-east-1_abc"], [])
