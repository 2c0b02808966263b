"""HttpApi on the local cloud: SAM's ``AWS::Serverless::HttpApi`` and ``HttpApi`` events (translated
into ``AWS::ApiGatewayV2::*``) served over real HTTP by the gateway, with payload formats 2.0 and
1.0, route keys, the ``$default`` stage, HTTP APIs' error bodies, access logs and metrics. The
event_app fixture is deployed once for this module."""

from __future__ import annotations

import json
import os
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import requests

from tests.integration.localcloud.test_cloudformation import create, failed_reason, outputs

TEMPLATE = Path(__file__).parent / "templates" / "event_app" / "template.yaml"


@pytest.fixture(scope="module")
def app(cloud) -> dict[str, str]:
    stack = create(cloud.client("cloudformation"), f"http-app-{os.getpid()}", TEMPLATE)
    return outputs(stack)


def test_given_an_http_api_then_its_url_output_is_the_local_gateways_default_stage(cloud, app):
    # GIVEN the output !Sub https://${Http}.execute-api.${AWS::Region}.amazonaws.com/
    # THEN it names the local gateway's URL of the API's $default stage, and the API is an HTTP API
    assert app["HttpApiUrl"] == f"{cloud.endpoint}/_aws/execute-api/{app['HttpApiId']}/"
    api = cloud.client("apigatewayv2").get_api(ApiId=app["HttpApiId"])
    assert api["ProtocolType"] == "HTTP"
    assert api["ApiEndpoint"] == f"https://{app['HttpApiId']}.execute-api.us-east-1.amazonaws.com"
    routes = {r["RouteKey"] for r in cloud.client("apigatewayv2").get_routes(ApiId=app["HttpApiId"])["Items"]}
    assert {"GET /items/{id}", "POST /items", "ANY /v1/{proxy+}"} <= routes


def test_given_a_route_with_a_path_parameter_when_called_then_the_function_gets_a_payload_2_0_event(app, uid):
    # WHEN GET /items/{id} is called with a repeated query parameter and cookies
    r = requests.get(
        f"{app['HttpApiUrl']}items/{uid}?tag=a&tag=b&q=1", headers={"Cookie": "c1=v1; c2=v2", "X-Test": uid}, timeout=30
    )
    # THEN the function's response is the HTTP response (status, headers, cookies as Set-Cookie)
    assert r.status_code == 200, r.text
    assert r.headers["x-handler"] == "http"
    assert r.headers["Set-Cookie"] == "flavour=oat"
    assert r.headers["apigw-requestid"]
    # AND the event it got is payload format 2.0
    event = r.json()
    assert event["version"] == "2.0"
    assert event["routeKey"] == "GET /items/{id}"
    assert event["rawPath"] == f"/items/{uid}"
    assert event["rawQueryString"] == "tag=a&tag=b&q=1"
    assert event["queryStringParameters"] == {"tag": "a,b", "q": "1"}
    assert event["pathParameters"] == {"id": uid}
    assert event["cookies"] == ["c1=v1", "c2=v2"]
    assert event["headers"]["x-test"] == uid and "cookie" not in event["headers"]
    assert event["isBase64Encoded"] is False and "body" not in event
    context = event["requestContext"]
    assert context["http"]["method"] == "GET" and context["http"]["path"] == f"/items/{uid}"
    assert context["stage"] == "$default" and context["apiId"] == app["HttpApiId"]
    assert context["routeKey"] == "GET /items/{id}" and context["requestId"] == r.headers["apigw-requestid"]


def test_given_routes_when_one_is_literal_and_one_has_a_parameter_then_the_literal_one_wins(app):
    # GIVEN GET /items/plain (answers a bare object) next to GET /items/{id}
    r = requests.get(f"{app['HttpApiUrl']}items/plain", timeout=30)
    # THEN the literal route answers; its bare object (no statusCode) is a 200 JSON body
    assert r.status_code == 200
    assert r.headers["Content-Type"] == "application/json"
    assert r.json() == {"plain": True}


def test_given_a_post_route_when_called_with_a_body_then_the_function_gets_it(app, uid):
    r = requests.post(f"{app['HttpApiUrl']}items", json={"id": uid}, timeout=30)
    assert r.status_code == 201
    event = r.json()
    assert event["routeKey"] == "POST /items"
    assert json.loads(event["body"]) == {"id": uid} and event["isBase64Encoded"] is False


def test_given_a_payload_1_0_route_when_called_then_the_function_gets_the_rest_shaped_event(app):
    r = requests.delete(f"{app['HttpApiUrl']}v1/a/b?x=1", timeout=30)
    assert r.status_code == 200, r.text
    event = r.json()
    assert event["version"] == "1.0"
    assert event["resource"] == "/v1/{proxy+}" and event["path"] == "/v1/a/b" and event["httpMethod"] == "DELETE"
    assert event["pathParameters"] == {"proxy": "a/b"}
    assert event["multiValueQueryStringParameters"] == {"x": ["1"]}


def test_given_no_matching_route_or_a_failing_function_then_http_apis_error_bodies_answer(app):
    missing = requests.get(f"{app['HttpApiUrl']}nothing/here", timeout=30)
    assert (missing.status_code, missing.text) == (404, '{"message":"Not Found"}')
    failing = requests.get(f"{app['HttpApiUrl']}boom", timeout=30)
    assert (failing.status_code, failing.text) == (500, '{"message":"Internal Server Error"}')


def test_given_access_log_settings_when_requests_are_served_then_lines_and_metrics_are_written(cloud, app, uid):
    # WHEN two requests are served (one 200, one 404)
    ok = requests.get(f"{app['HttpApiUrl']}items/{uid}", timeout=30)
    missing = requests.get(f"{app['HttpApiUrl']}missing-{uid}", timeout=30)
    # THEN the stage's access log group has a line per request in the stage's $context format
    logs = cloud.client("logs")
    wanted = {
        f"{ok.headers['apigw-requestid']} GET GET /items/{{id}} 200 $default",
        f"{missing.headers['apigw-requestid']} GET - 404 $default",
    }
    deadline = time.monotonic() + 10
    lines: set[str] = set()
    while not wanted <= lines and time.monotonic() < deadline:
        lines = {e["message"] for e in logs.filter_log_events(logGroupName=app["HttpAccessLogGroup"])["events"]}
        time.sleep(0.2)
    assert wanted <= lines
    # AND AWS/ApiGateway has HTTP APIs' metrics with the ApiId and Stage dimensions
    cw = cloud.client("cloudwatch")
    dims = [{"Name": "ApiId", "Value": app["HttpApiId"]}, {"Name": "Stage", "Value": "$default"}]
    now = datetime.now(UTC)

    def total(metric: str, dimensions: list[dict] = dims) -> float:
        points = cw.get_metric_statistics(
            Namespace="AWS/ApiGateway", MetricName=metric, Dimensions=dimensions,
            StartTime=now - timedelta(minutes=10), EndTime=now + timedelta(minutes=1), Period=60, Statistics=["Sum"],
        )["Datapoints"]
        return sum(p["Sum"] for p in points)

    deadline = time.monotonic() + 10
    while (total("Count") < 2 or total("4xx") < 1) and time.monotonic() < deadline:
        time.sleep(0.3)
    assert total("Count") >= 2 and total("4xx") >= 1
    # AND, the stage enabling detailed metrics, per-route ones (ApiId, Method, Resource, Stage)
    route = [{"Name": "ApiId", "Value": app["HttpApiId"]}, {"Name": "Method", "Value": "GET"},
             {"Name": "Resource", "Value": "/items/{id}"}, {"Name": "Stage", "Value": "$default"}]
    assert total("Count", route) >= 1


# ---- function URLs --------------------------------------------------------------------------------
def test_given_a_public_function_url_when_called_then_the_function_gets_the_function_url_event(cloud, app, uid):
    # GIVEN PublicUrlFunction's URL (SAM FunctionUrlConfig on the live alias, AuthType NONE, CORS)
    url_id = app["PublicFunctionUrl"].rstrip("/").rsplit("/", 1)[1]
    assert app["PublicFunctionUrl"] == f"{cloud.endpoint}/_aws/lambda-url/{url_id}/"
    config = cloud.client("lambda").get_function_url_config(FunctionName=app["PublicUrlFunctionName"], Qualifier="live")
    assert config["FunctionUrl"] == f"https://{url_id}.lambda-url.us-east-1.on.aws/"
    assert config["FunctionArn"].endswith(f":function:{app['PublicUrlFunctionName']}:live") and config["AuthType"] == "NONE"
    # WHEN it is called from an allowed origin
    r = requests.post(
        f"{app['PublicFunctionUrl']}orders/{uid}?x=1", json={"id": uid}, headers={"Origin": "https://example.com"}, timeout=30
    )
    # THEN the function's answer comes back with the URL's CORS headers
    assert r.status_code == 201, r.text
    assert r.headers["Access-Control-Allow-Origin"] == "https://example.com"
    # AND it got the function URL event (payload 2.0, anonymous caller, the URL's AWS domain)
    event = r.json()
    assert event["version"] == "2.0" and event["routeKey"] == "$default"
    assert event["rawPath"] == f"/orders/{uid}" and event["queryStringParameters"] == {"x": "1"}
    assert json.loads(event["body"]) == {"id": uid}
    context = event["requestContext"]
    assert context["accountId"] == "anonymous" and context["apiId"] == url_id
    assert context["domainName"] == f"{url_id}.lambda-url.us-east-1.on.aws" and context["stage"] == "$default"
    assert context["http"]["method"] == "POST"


def test_given_an_aws_iam_function_url_then_an_unsigned_call_is_forbidden_and_a_signed_one_answers(cloud, app):
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    url = f"{app['IamFunctionUrl']}whoami"
    # WHEN called without a signature THEN Lambda's 403
    unsigned = requests.get(url, timeout=30)
    assert (unsigned.status_code, unsigned.text) == (403, '{"Message":"Forbidden"}')
    # WHEN signed (SigV4, service lambda) by the account's root THEN the function answers, told who called
    request = AWSRequest(method="GET", url=url)
    SigV4Auth(Credentials("localcloud", "localcloud"), "lambda", "us-east-1").add_auth(request)
    signed = requests.get(url, headers=dict(request.headers), timeout=30)
    assert signed.status_code == 200, signed.text
    iam = signed.json()["requestContext"]["authorizer"]["iam"]
    assert iam["accessKey"] == "localcloud" and iam["accountId"] == "123456789012"


def test_given_an_http_api_authorizer_then_the_stack_fails_naming_the_api_and_what_is_unsupported(cloud, uid, tmp_path):
    # GIVEN an HttpApi whose routes are behind a Lambda authorizer (not served by localcloud's HTTP APIs)
    template = tmp_path / "template.yaml"
    template.write_text(
        """
Transform: AWS::Serverless-2016-10-31
Resources:
  Fn:
    Type: AWS::Serverless::Function
    Properties:
      Runtime: python3.11
      Handler: index.handler
      InlineCode: "def handler(event, context):\\n    return {}\\n"
      Events:
        Get:
          Type: HttpApi
          Properties: {ApiId: !Ref Guarded, Path: /secret, Method: GET}
  Guarded:
    Type: AWS::Serverless::HttpApi
    Properties:
      Auth:
        DefaultAuthorizer: Checker
        Authorizers:
          Checker:
            FunctionArn: !GetAtt Fn.Arn
            AuthorizerPayloadFormatVersion: "2.0"
            EnableSimpleResponses: true
"""
    )
    cf = cloud.client("cloudformation")
    name = f"http-auth-{uid}"
    # WHEN it is deployed THEN the stack fails, naming the API and that authorizers are not supported (not dropped)
    try:
        cf.create_stack(StackName=name, TemplateURL=template.as_uri(), Capabilities=["CAPABILITY_IAM"])
    except cf.exceptions.ClientError as e:
        reason = e.response["Error"]["Message"]
    else:
        reason = failed_reason(cf, name, "ROLLBACK_COMPLETE")
    assert "Guarded (AWS::ApiGatewayV2::Api)" in reason, reason
    assert "authorizers" in reason and "not supported by localcloud" in reason, reason


def test_given_a_cors_configuration_then_preflights_are_answered_and_responses_carry_the_allowed_origin(app):
    origin = "https://app.example.com"
    # WHEN a browser sends a preflight for a route THEN API Gateway answers it (the function is not invoked)
    preflight = requests.options(
        f"{app['HttpApiUrl']}items/1",
        headers={"Origin": origin, "Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "content-type"},
        timeout=30,
    )
    assert preflight.status_code == 204 and preflight.text == ""
    assert preflight.headers["Access-Control-Allow-Origin"] == origin
    assert preflight.headers["Access-Control-Allow-Methods"] == "GET,POST"
    assert preflight.headers["Access-Control-Max-Age"] == "600"
    # AND the actual request's response carries the allowed origin; another origin gets none
    allowed = requests.get(f"{app['HttpApiUrl']}items/1", headers={"Origin": origin}, timeout=30)
    assert allowed.headers["Access-Control-Allow-Origin"] == origin
    other = requests.get(f"{app['HttpApiUrl']}items/1", headers={"Origin": "https://evil.example"}, timeout=30)
    assert other.status_code == 200 and "Access-Control-Allow-Origin" not in other.headers


def _signed_get(url: str, credentials) -> requests.Response:
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest

    request = AWSRequest(method="GET", url=url)
    SigV4Auth(credentials, "execute-api", "us-east-1").add_auth(request)
    return requests.get(url, headers=dict(request.headers), timeout=30)


def test_given_an_aws_iam_route_then_only_signed_callers_allowed_execute_api_invoke_get_through(cloud, app, uid):
    from botocore.credentials import Credentials

    url = f"{app['HttpApiUrl']}private"
    # WHEN called unsigned THEN HTTP APIs' 403
    unsigned = requests.get(url, timeout=30)
    assert (unsigned.status_code, unsigned.text) == (403, '{"message":"Forbidden"}')
    # WHEN signed by the account's root THEN the function answers, told who called
    signed = _signed_get(url, Credentials("localcloud", "localcloud"))
    assert signed.status_code == 200, signed.text
    assert signed.json()["requestContext"]["authorizer"]["iam"]["accessKey"] == "localcloud"
    # WHEN signed by an IAM user whose policies do not allow execute-api:Invoke THEN 403 (IAM enforced)
    iam = cloud.client("iam")
    iam.create_user(UserName=f"caller-{uid}")
    key = iam.create_access_key(UserName=f"caller-{uid}")["AccessKey"]
    session = Credentials(key["AccessKeyId"], key["SecretAccessKey"])
    denied = _signed_get(url, session)
    assert (denied.status_code, denied.text) == (403, '{"message":"Forbidden"}')
    # AND once its policy allows execute-api:Invoke on the route's ARN, it gets through
    route_arn = f"arn:aws:execute-api:us-east-1:123456789012:{app['HttpApiId']}/$default/GET/private"
    allow = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "execute-api:Invoke", "Resource": route_arn}]}
    iam.put_user_policy(UserName=f"caller-{uid}", PolicyName="invoke", PolicyDocument=json.dumps(allow))
    deadline = time.monotonic() + 5
    allowed = _signed_get(url, session)
    while allowed.status_code != 200 and time.monotonic() < deadline:
        time.sleep(0.3)
        allowed = _signed_get(url, session)
    assert allowed.status_code == 200, allowed.text
