"""Lambda authorizers on a SAM API, enforced by the local gateway as API Gateway enforces them.

One stack per module (templates/authorizers): a TOKEN authorizer (default, cached 300 s, with a
validation expression) and a REQUEST authorizer (header, query string and stage variable identity
sources, not cached). The functions have no CodeUri: their code is the template's folder."""

from __future__ import annotations

import base64
import json
import time
import uuid
from pathlib import Path

import pytest
import requests

TEMPLATE = Path(__file__).parent / "templates" / "authorizers" / "template.yaml"


def _wait_settled(cf, name: str) -> dict:
    deadline = time.monotonic() + 120
    while True:
        stack = cf.describe_stacks(StackName=name)["Stacks"][0]
        if not stack["StackStatus"].endswith("IN_PROGRESS"):
            return stack
        assert time.monotonic() < deadline, stack["StackStatus"]
        time.sleep(0.3)


@pytest.fixture(scope="module")
def api(cloud) -> str:
    cf = cloud.client("cloudformation")
    name = f"authorizers-{uuid.uuid4().hex[:8]}"
    cf.create_stack(StackName=name, TemplateURL=TEMPLATE.as_uri(), Capabilities=["CAPABILITY_IAM"])
    stack = _wait_settled(cf, name)
    assert stack["StackStatus"] == "CREATE_COMPLETE", stack.get("StackStatusReason")
    url = next(o["OutputValue"] for o in stack["Outputs"] if o["OutputKey"] == "Url")
    yield url
    cf.delete_stack(StackName=name)


def get(url: str, path: str, token: str | None = None, **kwargs) -> requests.Response:
    headers = kwargs.pop("headers", {})
    if token is not None:
        headers["Authorization"] = token
    return requests.request(kwargs.pop("method", "GET"), url + path, headers=headers, timeout=30, **kwargs)


def fresh(word: str) -> str:
    """A token nobody used before (so no cached answer exists for it)."""
    return f"Bearer {word}-{uuid.uuid4().hex[:10]}"


# ---- TOKEN -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "token",
    [None, "", "Bearer UPPER-case", "Basic abc"],
    ids=["no-header", "empty", "not-matching-validation-expression", "other-scheme"],
)
def test_given_no_valid_token_when_called_then_401_unauthorized_as_api_gateway_answers(api, token):
    # WHEN a guarded method is called without a token the validation expression accepts
    answer = get(api, "/token", token)
    # THEN API Gateway's 401, before any function runs
    assert answer.status_code == 401
    assert answer.json() == {"message": "Unauthorized"}
    assert answer.headers["x-amzn-ErrorType"] == "UnauthorizedException"


def test_given_a_token_the_authorizer_denies_then_403_with_an_explicit_deny(api):
    answer = get(api, "/token", fresh("deny"))
    assert answer.status_code == 403
    assert answer.json() == {"message": "User is not authorized to access this resource with an explicit deny"}


def test_given_a_policy_that_allows_another_method_only_then_403_not_authorized(api):
    answer = get(api, "/token", fresh("other"))
    assert answer.status_code == 403
    assert answer.json() == {"message": "User is not authorized to access this resource"}


def test_given_an_allowed_token_then_the_function_sees_the_principal_and_context(api):
    # GIVEN a token the authorizer allows for user alice
    token = fresh("allow")
    user = token.split("-", 1)[1]
    # WHEN the method is called
    answer = get(api, "/token", token)
    # THEN it runs, and requestContext.authorizer carries the principal and the context as strings
    assert answer.status_code == 200, answer.text
    seen = answer.json()["authorizer"]
    assert seen["principalId"] == user and seen["user"] == user
    assert (seen["type"], seen["count"], seen["admin"]) == ("TOKEN", "3", "true")
    assert seen["methodArn"].startswith("arn:aws:execute-api:us-east-1:123456789012:")
    assert seen["methodArn"].endswith("/dev/GET/token")
    assert isinstance(seen["integrationLatency"], int)


def test_given_the_same_token_within_its_ttl_then_the_authorizer_runs_once(api):
    # GIVEN a token never seen
    token = fresh("allow")
    # WHEN two requests (two methods) carry it, then another token
    first = get(api, "/token", token).json()["authorizer"]
    second = get(api, "/token", token).json()["authorizer"]
    other_method = get(api, "/token/42", token, method="POST").json()["authorizer"]
    other_token = get(api, "/token", fresh("allow")).json()["authorizer"]
    # THEN one invocation served the three requests with that token (its cached policy allows the
    # API's every method), and another token made another invocation
    assert first["invocation"] == second["invocation"] == other_method["invocation"]
    assert other_token["invocation"] != first["invocation"]
    assert second["integrationLatency"] == 0


@pytest.mark.parametrize(
    "word, status, body",
    [("unauthorized", 401, {"message": "Unauthorized"}), ("boom", 500, {"message": None}), ("junk", 500, {"message": None})],
)
def test_given_an_authorizer_that_fails_then_api_gateways_answer(api, word, status, body):
    # WHEN the authorizer raises "Unauthorized", raises anything else, or answers no policy
    answer = get(api, "/token", fresh(word))
    # THEN 401, or 500 {"message": null} (AuthorizerConfigurationException)
    assert (answer.status_code, answer.json()) == (status, body)
    if status == 500:
        assert answer.headers["x-amzn-ErrorType"] == "AuthorizerConfigurationException"


def test_given_a_method_with_auth_none_then_no_token_is_needed(api):
    answer = get(api, "/open")
    assert answer.status_code == 200
    assert answer.json()["authorizer"] is None


# ---- REQUEST ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "headers, query",
    [({}, {"key": "k1"}), ({"X-Tenant": "acme"}, {}), ({"X-Tenant": ""}, {"key": "k1"})],
    ids=["no-header", "no-query-string", "empty-header"],
)
def test_given_a_missing_identity_source_then_the_request_authorizer_answers_401(api, headers, query):
    answer = get(api, "/request", headers=headers, params=query)
    assert (answer.status_code, answer.json()) == (401, {"message": "Unauthorized"})


def test_given_a_request_authorizer_then_it_sees_the_request_and_its_answer_is_not_cached(api):
    # GIVEN the identity sources the REQUEST authorizer allows
    headers, query = {"X-Tenant": "acme"}, {"key": "k1"}
    # WHEN called twice
    first = get(api, "/request", headers=dict(headers), params=query)
    second = get(api, "/request", headers=dict(headers), params=query)
    # THEN allowed, the authorizer saw a REQUEST event with the stage variable, and ran twice (TTL 0)
    assert first.status_code == 200, first.text
    seen = first.json()["authorizer"]
    assert (seen["type"], seen["resource"], seen["httpMethod"], seen["tier"]) == ("REQUEST", "/request", "GET", "gold")
    assert seen["principalId"] == "tenant-acme"
    assert second.json()["authorizer"]["invocation"] != seen["invocation"]


def test_given_identity_sources_the_request_authorizer_denies_then_403(api):
    answer = get(api, "/request", headers={"X-Tenant": "globex"}, params={"key": "k1"})
    assert answer.status_code == 403


# ---- API Gateway's permission to invoke the authorizer -----------------------------------------


def test_given_the_authorizer_permission_removed_then_500_and_the_function_is_not_run(cloud, api):
    # GIVEN the stack's AWS::Lambda::Permission letting API Gateway invoke the TOKEN authorizer removed
    lam = cloud.client("lambda")
    api_id = api.rstrip("/").split("/")[-2]
    function = next(
        f["FunctionName"]
        for f in lam.list_functions()["Functions"]
        if "TokenAuthFunction" in f["FunctionName"]
        and api_id in lam.get_policy(FunctionName=f["FunctionName"])["Policy"]
    )
    policy = lam.get_policy(FunctionName=function)["Policy"]
    (statement,) = json.loads(policy)["Statement"]
    lam.remove_permission(FunctionName=function, StatementId=statement["Sid"])
    try:
        # WHEN a new token arrives (under --enforce-iam)
        deadline = time.monotonic() + 10
        while True:
            answer = get(api, "/token", fresh("allow"))
            if answer.status_code != 200 or time.monotonic() > deadline:
                break
            time.sleep(0.3)
        # THEN API Gateway cannot run the authorizer: 500 AuthorizerConfigurationException
        assert (answer.status_code, answer.json()) == (500, {"message": None})
    finally:
        lam.add_permission(
            FunctionName=function,
            StatementId=statement["Sid"],
            Action="lambda:InvokeFunction",
            Principal="apigateway.amazonaws.com",
            SourceArn=statement["Condition"]["ArnLike"]["AWS:SourceArn"],
        )


# ---- Cognito ---------------------------------------------------------------------------------

COGNITO = """
Transform: AWS::Serverless-2016-10-31
Parameters:
  PoolArn: {Type: String}
Resources:
  CognitoApi:
    Type: AWS::Serverless::Api
    Properties:
      StageName: dev
      Auth:
        DefaultAuthorizer: Pool
        Authorizers:
          Pool:
            UserPoolArn: !Ref PoolArn
  Fn:
    Type: AWS::Serverless::Function
    Properties:
      Runtime: python3.11
      Handler: index.handler
      InlineCode: |
        import json
        def handler(event, context):
            return {"statusCode": 200, "body": json.dumps(event["requestContext"].get("authorizer"))}
      Events:
        Id:
          Type: Api
          Properties: {RestApiId: !Ref CognitoApi, Path: /id, Method: get}
        Scoped:
          Type: Api
          Properties:
            RestApiId: !Ref CognitoApi
            Path: /scoped
            Method: get
            Auth:
              Authorizer: Pool
              AuthorizationScopes: [aws.cognito.signin.user.admin]
Outputs:
  Url:
    Value: !Sub "https://${CognitoApi}.execute-api.${AWS::Region}.amazonaws.com/dev"
"""


def _pool_with_user(idp, name: str) -> tuple[str, dict]:
    """A user pool (its ARN) and the tokens of a user signed in to it."""
    pool = idp.create_user_pool(PoolName=name)["UserPool"]
    client = idp.create_user_pool_client(
        UserPoolId=pool["Id"], ClientName="app", ExplicitAuthFlows=["ALLOW_ADMIN_USER_PASSWORD_AUTH"]
    )["UserPoolClient"]
    idp.admin_create_user(UserPoolId=pool["Id"], Username="alice", MessageAction="SUPPRESS")
    idp.admin_set_user_password(UserPoolId=pool["Id"], Username="alice", Password="Passw0rd!x", Permanent=True)
    tokens = idp.admin_initiate_auth(
        UserPoolId=pool["Id"],
        ClientId=client["ClientId"],
        AuthFlow="ADMIN_USER_PASSWORD_AUTH",
        AuthParameters={"USERNAME": "alice", "PASSWORD": "Passw0rd!x"},
    )["AuthenticationResult"]
    return pool["Arn"], tokens


def test_given_a_cognito_authorizer_then_only_tokens_of_its_pool_get_in_with_their_claims(cloud, uid):
    # GIVEN a SAM API whose default authorizer is a Cognito user pool, a user signed in to it, and
    # a user of another pool
    cf, idp = cloud.client("cloudformation"), cloud.client("cognito-idp")
    pool_arn, tokens = _pool_with_user(idp, f"pool-{uid}")
    _, strangers = _pool_with_user(idp, f"other-{uid}")
    name = f"cognito-{uid}"
    cf.create_stack(
        StackName=name,
        TemplateBody=COGNITO,
        Parameters=[{"ParameterKey": "PoolArn", "ParameterValue": pool_arn}],
        Capabilities=["CAPABILITY_IAM"],
    )
    stack = _wait_settled(cf, name)
    assert stack["StackStatus"] == "CREATE_COMPLETE", stack.get("StackStatusReason")
    url = stack["Outputs"][0]["OutputValue"]

    def call(path: str, token: str | None) -> requests.Response:
        return requests.get(url + path, headers={"Authorization": token} if token else {}, timeout=30)

    head, payload, signature = tokens["IdToken"].split(".")
    claimed = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claimed["cognito:username"] = "mallory"  # same issuer and expiry, another user: the signature no longer fits
    forged = ".".join([head, base64.urlsafe_b64encode(json.dumps(claimed).encode()).decode().rstrip("="), signature])
    # WHEN called without a token, with junk, a forged token, another pool's token, the wrong kind
    for path, token in [
        ("/id", None),
        ("/id", "junk"),
        ("/id", forged),
        ("/id", strangers["IdToken"]),
        ("/id", tokens["AccessToken"]),  # no scopes on the method: an ID token is required
        ("/scoped", tokens["IdToken"]),  # scopes on the method: an access token is required
    ]:
        # THEN 401 Unauthorized
        answer = call(path, token)
        assert (answer.status_code, answer.json()) == (401, {"message": "Unauthorized"}), (path, token)
    # AND the pool's ID token opens /id, its access token (with the scope) /scoped, with the claims
    claims = call("/id", tokens["IdToken"]).json()["claims"]
    assert (claims["cognito:username"], claims["token_use"]) == ("alice", "id")
    assert claims["iss"].endswith(pool_arn.rsplit("/", 1)[-1]) and claims["exp"].endswith(" UTC " + claims["exp"][-4:])
    scoped = call("/scoped", tokens["AccessToken"])
    assert scoped.status_code == 200 and scoped.json()["claims"]["token_use"] == "access"
    cf.delete_stack(StackName=name)


UNKNOWN_AUTHORIZER = {
    "Resources": {
        "Api": {
            "Type": "AWS::ApiGateway::RestApi",
            "Properties": {
                "Body": {
                    "swagger": "2.0",
                    "info": {"title": "x"},
                    "paths": {},
                    "securityDefinitions": {
                        "Jwt": {"type": "apiKey", "in": "header", "name": "Authorization",
                                "x-amazon-apigateway-authorizer": {"type": "jwt"}}
                    },
                }
            },
        }
    }
}


def test_given_an_authorizer_type_localcloud_does_not_run_then_the_stack_fails_naming_it(cloud, uid):
    cf = cloud.client("cloudformation")
    name = f"unknown-authorizer-{uid}"
    cf.create_stack(StackName=name, TemplateBody=json.dumps(UNKNOWN_AUTHORIZER))
    stack = _wait_settled(cf, name)
    assert stack["StackStatus"] == "ROLLBACK_COMPLETE"
    reason = stack["StackStatusReason"]
    assert "Api (AWS::ApiGateway::RestApi)" in reason
    assert "Body.securityDefinitions.Jwt.x-amazon-apigateway-authorizer: type 'jwt' is not supported" in reason


# ---- API keys --------------------------------------------------------------------------------

API_KEYS = """
Transform: AWS::Serverless-2016-10-31
Resources:
  KeyApi:
    Type: AWS::Serverless::Api
    Properties:
      StageName: dev
      Auth:
        ApiKeyRequired: true
  Fn:
    Type: AWS::Serverless::Function
    Properties:
      Runtime: python3.11
      Handler: index.handler
      InlineCode: "def handler(e, c): return {'statusCode': 200, 'body': 'in'}"
      Events:
        Keyed:
          Type: Api
          Properties: {RestApiId: !Ref KeyApi, Path: /keyed, Method: get}
        Open:
          Type: Api
          Properties:
            RestApiId: !Ref KeyApi
            Path: /open
            Method: get
            Auth: {ApiKeyRequired: false}
Outputs:
  Url:
    Value: !Sub "https://${KeyApi}.execute-api.${AWS::Region}.amazonaws.com/dev"
"""


def test_given_a_method_requiring_an_api_key_then_only_a_key_of_a_usage_plan_of_the_stage_gets_in(cloud, uid):
    # GIVEN an API whose method requires an API key (SAM's Auth.ApiKeyRequired)
    cf, apigw = cloud.client("cloudformation"), cloud.client("apigateway")
    name = f"apikeys-{uid}"
    cf.create_stack(StackName=name, TemplateBody=API_KEYS, Capabilities=["CAPABILITY_IAM"])
    stack = _wait_settled(cf, name)
    assert stack["StackStatus"] == "CREATE_COMPLETE", stack.get("StackStatusReason")
    url = stack["Outputs"][0]["OutputValue"]
    api_id = url.rstrip("/").split("/")[-2]
    loose = apigw.create_api_key(name=f"loose-{uid}", enabled=True)["value"]
    planned = apigw.create_api_key(name=f"planned-{uid}", enabled=True)
    plan = apigw.create_usage_plan(name=f"plan-{uid}", apiStages=[{"apiId": api_id, "stage": "dev"}])
    apigw.create_usage_plan_key(usagePlanId=plan["id"], keyId=planned["id"], keyType="API_KEY")

    def status(path: str, key: str | None) -> tuple[int, str]:
        answer = requests.get(url + path, headers={"x-api-key": key} if key else {}, timeout=30)
        return answer.status_code, answer.text

    # WHEN called without a key, with a key of no usage plan, with the planned key, then disabled
    assert status("/keyed", None) == (403, '{"message":"Forbidden"}')
    assert status("/keyed", loose) == (403, '{"message":"Forbidden"}')
    assert status("/keyed", planned["value"]) == (200, "in")
    apigw.update_api_key(apiKey=planned["id"], patchOperations=[{"op": "replace", "path": "/enabled", "value": "false"}])
    assert status("/keyed", planned["value"])[0] == 403
    # AND a method that does not require a key needs none
    assert status("/open", None) == (200, "in")
    cf.delete_stack(StackName=name)
