"""The HTTP gateway: REST API stages of the local cloud served as API Gateway serves them."""

from __future__ import annotations

import base64
import datetime
import json
import re
import socket
import time
import uuid
from unittest import mock

import pytest
import requests
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials

from localcloud.urls import execute_api_url
from tests.archives import zip_of
from tests.integration.localcloud.lambda_helpers import BASIC_EXECUTION

ACCOUNT = "123456789012"

HANDLERS = '''
import base64, json, time

def echo(event, context):
    return {
        "statusCode": 201,
        "headers": {"Content-Type": "application/json", "X-Echo": "yes"},
        "multiValueHeaders": {"Set-Cookie": ["a=1", "b=2"]},
        "body": json.dumps(event),
    }

def boom(event, context):
    raise RuntimeError("boom")

def malformed(event, context):
    return {"statusCode": 200, "body": {"not": "a string"}}

def slow(event, context):
    time.sleep(2)
    return {"statusCode": 200, "body": "late"}

def binary(event, context):
    data = base64.b64decode(event["body"]) if event["isBase64Encoded"] else event["body"].encode()
    return {
        "statusCode": 200,
        "headers": {"Content-Type": "application/octet-stream", "X-Was-Base64": str(event["isBase64Encoded"])},
        "body": base64.b64encode(data[::-1]).decode(),
        "isBase64Encoded": True,
    }
'''


ANY_API = f"arn:aws:execute-api:us-east-1:{ACCOUNT}:*/*"


def _lambda_uri(function_arn: str) -> str:
    return f"arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/{function_arn}/invocations"


def _proxy(uri: str, timeout_ms: int | None = None) -> dict:
    integration = {"type": "aws_proxy", "httpMethod": "POST", "uri": uri}
    if timeout_ms:
        integration["timeoutInMillis"] = timeout_ms
    return {"x-amazon-apigateway-integration": integration, "responses": {}}


CORS = {
    "x-amazon-apigateway-integration": {
        "type": "mock",
        "requestTemplates": {"application/json": '{"statusCode": 200}'},
        "responses": {
            "default": {
                "statusCode": "200",
                "responseParameters": {
                    "method.response.header.Access-Control-Allow-Origin": "'*'",
                    "method.response.header.Access-Control-Allow-Methods": "'GET,POST,OPTIONS'",
                    "method.response.header.Access-Control-Allow-Headers": "'Content-Type,Authorization'",
                },
                "responseTemplates": {"application/json": "{}"},
            }
        },
    },
    "responses": {"200": {"description": "CORS"}},
}


@pytest.fixture(scope="module")
def api(cloud):
    """One API over five functions, deployed to stage ``dev`` with stage variable ``alias=live``."""
    suffix = uuid.uuid4().hex[:8]
    iam = cloud.client("iam")
    role = iam.create_role(
        RoleName=f"gw-role-{suffix}",
        AssumeRolePolicyDocument=json.dumps(
            {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]}
        ),
    )["Role"]["Arn"]
    iam.attach_role_policy(RoleName=f"gw-role-{suffix}", PolicyArn=BASIC_EXECUTION)  # Lambda writes their logs with it
    lam = cloud.client("lambda")
    code = zip_of({"handlers.py": HANDLERS})
    arns = {}
    for name in ("echo", "boom", "malformed", "slow", "binary"):
        fn = lam.create_function(
            FunctionName=f"gw-{name}-{suffix}",
            Runtime="python3.11",
            Role=role,
            Handler=f"handlers.{name}",
            Code={"ZipFile": code},
            Timeout=10,
        )
        arns[name] = fn["FunctionArn"]
    version = lam.publish_version(FunctionName=arns["echo"])["Version"]
    lam.create_alias(FunctionName=arns["echo"], Name="live", FunctionVersion=version)

    echo_live = _lambda_uri(arns["echo"] + ":${stageVariables.alias}")
    doc = {
        "openapi": "3.0.1",
        "info": {"title": f"gw-api-{suffix}", "version": "1.0"},
        "x-amazon-apigateway-binary-media-types": ["application/octet-stream", "image/png"],
        "components": {
            "securitySchemes": {
                "sigv4": {"type": "apiKey", "name": "Authorization", "in": "header", "x-amazon-apigateway-authtype": "awsSigv4"}
            }
        },
        "paths": {
            "/": {"get": _proxy(_lambda_uri(arns["echo"]))},
            "/items/{id}": {"get": _proxy(echo_live), "options": CORS},
            "/items/special": {"get": _proxy(_lambda_uri(arns["echo"]))},
            "/files/{proxy+}": {"x-amazon-apigateway-any-method": _proxy(_lambda_uri(arns["echo"]))},
            "/boom": {"get": _proxy(_lambda_uri(arns["boom"]))},
            "/malformed": {"get": _proxy(_lambda_uri(arns["malformed"]))},
            "/slow": {"get": _proxy(_lambda_uri(arns["slow"]), timeout_ms=300)},
            "/binary": {"post": _proxy(_lambda_uri(arns["binary"]))},
            "/private": {"get": {**_proxy(_lambda_uri(arns["echo"])), "security": [{"sigv4": []}]}},
        },
    }
    apigw = cloud.client("apigateway")
    api_id = apigw.import_rest_api(body=json.dumps(doc).encode())["id"]
    apigw.create_deployment(restApiId=api_id, stageName="dev", variables={"alias": "live"})
    # API Gateway invokes under each function's resource policy, as SAM's AWS::Lambda::Permission grants
    # (for any API of the account here: some tests build more APIs over these functions)
    for name, arn in arns.items():
        for qualifier in ({}, {"Qualifier": "live"}) if name == "echo" else ({},):
            lam.add_permission(
                FunctionName=arn, StatementId=f"apigw-{suffix}", Action="lambda:InvokeFunction",
                Principal="apigateway.amazonaws.com", SourceArn=ANY_API,
                **qualifier,
            )
    return {"id": api_id, "name": doc["info"]["title"], "url": execute_api_url(cloud.endpoint, api_id, "dev"), "arns": arns}


def _signed(
    method: str, url: str, access_key: str, secret: str, body: bytes = b"", headers: dict | None = None, token: str | None = None
) -> requests.Response:
    req = AWSRequest(method=method, url=url, data=body, headers=headers or {})
    SigV4Auth(Credentials(access_key, secret, token), "execute-api", "us-east-1").add_auth(req)
    prepared = req.prepare()
    return requests.request(method, prepared.url, headers=dict(prepared.headers), data=body, timeout=30)


# ---- Lambda proxy integration -----------------------------------------------------------------


def test_given_a_proxy_route_when_called_then_the_function_gets_the_rest_v1_event(api):
    r = requests.get(f"{api['url']}/items/42?a=1&a=2&b=x%20y", headers={"X-Custom": "v", "User-Agent": "gw-test"}, timeout=30)
    assert r.status_code == 201, r.text
    event = r.json()
    assert event["resource"] == "/items/{id}"
    assert event["path"] == "/items/42"
    assert event["httpMethod"] == "GET"
    assert event["headers"]["X-Custom"] == "v"
    assert event["multiValueHeaders"]["X-Custom"] == ["v"]
    assert event["queryStringParameters"] == {"a": "2", "b": "x y"}
    assert event["multiValueQueryStringParameters"] == {"a": ["1", "2"], "b": ["x y"]}
    assert event["pathParameters"] == {"id": "42"}
    assert event["stageVariables"] == {"alias": "live"}
    assert event["body"] is None and event["isBase64Encoded"] is False
    ctx = event["requestContext"]
    assert ctx["accountId"] == ACCOUNT and ctx["apiId"] == api["id"] and ctx["stage"] == "dev"
    assert ctx["resourcePath"] == "/items/{id}" and ctx["httpMethod"] == "GET" and ctx["path"] == "/dev/items/42"
    assert ctx["protocol"] == "HTTP/1.1" and ctx["resourceId"]
    assert ctx["requestId"] == r.headers["x-amzn-RequestId"]
    assert ctx["extendedRequestId"] == r.headers["x-amz-apigw-id"]
    assert abs(ctx["requestTimeEpoch"] / 1000 - time.time()) < 60
    datetime.datetime.strptime(ctx["requestTime"], "%d/%b/%Y:%H:%M:%S +0000")
    identity = ctx["identity"]
    assert identity["sourceIp"] == "127.0.0.1" and identity["userAgent"] == "gw-test"
    assert identity["caller"] is None and identity["user"] is None and identity["accessKey"] is None
    assert {"userArn", "accountId"} <= set(identity)


def test_given_a_proxy_response_when_mapped_then_status_headers_and_multi_value_headers_reach_the_client(api):
    r = requests.get(f"{api['url']}/items/special", timeout=30)
    assert r.status_code == 201
    assert r.headers["X-Echo"] == "yes"
    assert r.raw.headers.getlist("Set-Cookie") == ["a=1", "b=2"]
    assert r.json()["resource"] == "/items/special"  # the literal path wins over {id}


def test_given_a_greedy_proxy_with_any_when_any_method_and_depth_then_it_matches_with_the_rest_of_the_path(api):
    r = requests.delete(f"{api['url']}/files/a/b/c.txt", timeout=30)
    assert r.status_code == 201, r.text
    event = r.json()
    assert event["resource"] == "/files/{proxy+}"
    assert event["pathParameters"] == {"proxy": "a/b/c.txt"}
    assert event["httpMethod"] == "DELETE"


def test_given_the_root_resource_when_called_without_a_trailing_path_then_it_is_served(api):
    r = requests.get(api["url"], timeout=30)
    assert r.status_code == 201
    assert r.json()["resource"] == "/" and r.json()["path"] == "/"


def test_given_a_binary_media_type_when_posting_bytes_then_the_event_is_base64_and_the_answer_is_binary(api):
    payload = bytes(range(256)) * 4
    r = requests.post(
        f"{api['url']}/binary", data=payload, headers={"Content-Type": "application/octet-stream", "Accept": "application/octet-stream"}, timeout=30
    )
    assert r.status_code == 200, r.text
    assert r.headers["X-Was-Base64"] == "True"
    assert r.content == payload[::-1]


def test_given_a_base64_answer_when_the_client_does_not_accept_binary_then_it_gets_the_base64_text(api):
    r = requests.post(f"{api['url']}/binary", data=b"hello", headers={"Content-Type": "text/plain", "Accept": "text/plain"}, timeout=30)
    assert r.status_code == 200
    assert r.headers["X-Was-Base64"] == "False"
    assert base64.b64decode(r.content) == b"olleh"


# ---- API Gateway's own answers ----------------------------------------------------------------


def test_given_a_function_that_raises_when_called_then_502_internal_server_error(api):
    r = requests.get(f"{api['url']}/boom", timeout=30)
    assert r.status_code == 502
    assert r.json() == {"message": "Internal server error"}
    assert r.headers["x-amzn-ErrorType"] == "InternalServerErrorException"
    assert r.headers["x-amzn-RequestId"] and r.headers["x-amz-apigw-id"]


def test_given_a_malformed_proxy_response_when_called_then_502(api):
    r = requests.get(f"{api['url']}/malformed", timeout=30)
    assert r.status_code == 502
    assert r.json() == {"message": "Internal server error"}


def test_given_an_integration_slower_than_its_timeout_when_called_then_504_endpoint_request_timed_out(api):
    started = time.monotonic()
    r = requests.get(f"{api['url']}/slow", timeout=30)
    assert r.status_code == 504
    assert r.json() == {"message": "Endpoint request timed out"}
    assert time.monotonic() - started < 1.9


@pytest.mark.parametrize(("method", "path"), [("GET", "/nope"), ("POST", "/items/1"), ("GET", "/items/1/deeper"), ("GET", "/files")])
def test_given_an_unknown_route_or_method_when_called_then_403_missing_authentication_token(api, method, path):
    r = requests.request(method, f"{api['url']}{path}", timeout=30)
    assert r.status_code == 403
    assert r.json() == {"message": "Missing Authentication Token"}
    assert r.headers["x-amzn-ErrorType"] == "MissingAuthenticationTokenException"


def test_given_an_unknown_stage_or_api_when_called_then_403_forbidden(cloud, api):
    for url in (execute_api_url(cloud.endpoint, api["id"], "nostage") + "/items/1", execute_api_url(cloud.endpoint, "noapi123", "dev") + "/"):
        r = requests.get(url, timeout=30)
        assert r.status_code == 403
        assert r.json() == {"message": "Forbidden"}


def test_given_a_body_over_10mb_when_sent_then_413_and_the_connection_closes(cloud, api):
    host, port = cloud.endpoint.split("//")[1].split(":")
    path = f"/_aws/execute-api/{api['id']}/dev/binary"
    with socket.create_connection((host, int(port)), timeout=10) as s:
        s.sendall(f"POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Length: 20000000\r\n\r\n".encode())
        answer = s.recv(65536)
    assert answer.startswith(b"HTTP/1.1 413")


def _exchange(cloud, raw: bytes) -> bytes:
    """Send raw bytes, read until the server closes (a hang fails on the socket timeout)."""
    host, port = cloud.endpoint.split("//")[1].split(":")
    with socket.create_connection((host, int(port)), timeout=10) as s:
        s.sendall(raw)
        s.shutdown(socket.SHUT_WR)
        chunks = []
        while chunk := s.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


@pytest.mark.parametrize(
    "raw",
    [
        b"GARBAGE\r\n\r\n",
        b"GET /_aws/execute-api/x/dev/ HTTP/1.1\r\nHost: h\r\nContent-Length: abc\r\n\r\n",
        b"POST /_aws/execute-api/x/dev/ HTTP/1.1\r\nHost: h\r\nContent-Length: 10\r\n\r\nshort",
        b"GET /_aws/execute-api/%zz/%/..%2f HTTP/1.1\r\nHost: h\r\nAuthorization: AWS4-HMAC-SHA256 ,,,==\r\n\r\n",
    ],
)
def test_given_malformed_http_when_sent_then_an_error_status_and_no_hang(cloud, raw):
    answer = _exchange(cloud, raw)
    assert b" 400 " in answer or b" 403 " in answer or b"400" in answer[:200]
    assert b"Traceback" not in answer


# ---- IAM auth ---------------------------------------------------------------------------------


def test_given_an_iam_method_when_unsigned_then_403_missing_authentication_token(api):
    r = requests.get(f"{api['url']}/private", timeout=30)
    assert r.status_code == 403
    assert r.json() == {"message": "Missing Authentication Token"}


def test_given_an_iam_method_when_signed_by_an_iam_users_key_then_it_passes_with_the_callers_identity(cloud, api):
    iam = cloud.client("iam")
    user = f"gw-user-{uuid.uuid4().hex[:8]}"
    created = iam.create_user(UserName=user)["User"]
    iam.put_user_policy(UserName=user, PolicyName="invoke", PolicyDocument=json.dumps({
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "execute-api:Invoke", "Resource": f"arn:aws:execute-api:us-east-1:{ACCOUNT}:{api['id']}/dev/GET/private"}],
    }))
    key = iam.create_access_key(UserName=user)["AccessKey"]
    r = _signed("GET", f"{api['url']}/private?q=1", key["AccessKeyId"], key["SecretAccessKey"])
    assert r.status_code == 201, r.text
    identity = r.json()["requestContext"]["identity"]
    assert identity["accessKey"] == key["AccessKeyId"]
    assert identity["userArn"] == created["Arn"]
    assert identity["caller"] == created["UserId"] and identity["user"] == created["UserId"]
    assert identity["accountId"] == ACCOUNT


def test_given_an_iam_user_without_execute_api_invoke_when_it_calls_an_iam_method_then_403_naming_the_method(cloud, api):
    iam = cloud.client("iam")
    user = f"gw-nobody-{uuid.uuid4().hex[:8]}"
    iam.create_user(UserName=user)
    key = iam.create_access_key(UserName=user)["AccessKey"]
    r = _signed("GET", f"{api['url']}/private", key["AccessKeyId"], key["SecretAccessKey"])
    assert r.status_code == 403
    assert r.headers["x-amzn-ErrorType"] == "AccessDeniedException"
    message = r.json()["message"]
    assert f"user/{user}" in message and "execute-api:Invoke" in message
    assert f"{api['id']}/dev/GET/private" in message


def test_given_a_function_api_gateway_may_not_invoke_when_its_route_is_called_then_500(cloud, api):
    # GIVEN the permission API Gateway invokes echo with is taken away
    lam = cloud.client("lambda")
    statement = json.loads(lam.get_policy(FunctionName=api["arns"]["echo"])["Policy"])["Statement"][0]["Sid"]
    lam.remove_permission(FunctionName=api["arns"]["echo"], StatementId=statement)
    try:
        # WHEN its route is called THEN API Gateway cannot invoke it: 500, as AWS answers (once the
        # change is seen: resource policies are read at most once a second, AWS too is eventually consistent)
        deadline = time.monotonic() + 5
        while True:
            r = requests.get(f"{api['url']}/items/special", timeout=30)
            if r.status_code == 500 or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        assert r.status_code == 500 and r.json() == {"message": "Internal server error"}
    finally:
        lam.add_permission(
            FunctionName=api["arns"]["echo"], StatementId=statement, Action="lambda:InvokeFunction",
            Principal="apigateway.amazonaws.com", SourceArn=ANY_API,
        )
        deadline = time.monotonic() + 5  # the other tests share this API: wait until the grant is seen again
        while requests.get(f"{api['url']}/items/special", timeout=30).status_code == 500 and time.monotonic() < deadline:
            time.sleep(0.2)


def test_given_an_iam_method_when_signed_by_the_root_key_with_a_body_then_it_passes(api):
    r = _signed("GET", f"{api['url']}/private", "localcloud", "localcloud", body=b'{"x": 1}', headers={"Content-Type": "application/json"})
    assert r.status_code == 201, r.text
    assert r.json()["requestContext"]["identity"]["userArn"] == f"arn:aws:iam::{ACCOUNT}:root"


def test_given_an_iam_method_when_signed_with_a_wrong_secret_then_403_signature_mismatch(api):
    r = _signed("GET", f"{api['url']}/private", "localcloud", "not-the-secret")
    assert r.status_code == 403
    assert r.json()["message"].startswith("The request signature we calculated does not match the signature you provided.")
    assert r.headers["x-amzn-ErrorType"] == "InvalidSignatureException"


def test_given_an_iam_method_when_signed_with_an_unknown_key_then_403_invalid_token(api):
    r = _signed("GET", f"{api['url']}/private", "AKIAUNKNOWNKEY000000", "whatever")
    assert r.status_code == 403
    assert r.json() == {"message": "The security token included in the request is invalid."}


def test_given_an_iam_method_when_a_long_term_key_comes_with_a_session_token_then_403_invalid_token(cloud, api):
    # GIVEN an IAM user's key allowed to invoke the method, and the root key
    iam = cloud.client("iam")
    user = f"gw-tok-{uuid.uuid4().hex[:8]}"
    iam.create_user(UserName=user)
    iam.put_user_policy(UserName=user, PolicyName="invoke", PolicyDocument=json.dumps({
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "execute-api:Invoke", "Resource": "*"}],
    }))
    key = iam.create_access_key(UserName=user)["AccessKey"]
    for access_key, secret in ((key["AccessKeyId"], key["SecretAccessKey"]), ("localcloud", "localcloud")):
        assert _signed("GET", f"{api['url']}/private", access_key, secret).status_code == 201
        # WHEN either signs with a session token it cannot have THEN both are refused, as AWS does
        r = _signed("GET", f"{api['url']}/private", access_key, secret, token="garbage-token")
        assert r.status_code == 403, (access_key, r.text)
        assert r.json() == {"message": "The security token included in the request is invalid."}
        assert r.headers["x-amzn-ErrorType"] == "UnrecognizedClientException"


def test_given_an_iam_method_when_a_role_session_signs_then_its_token_is_required_and_checked(cloud, api, uid):
    # GIVEN a role the account may assume, allowed to invoke the method, and a session of it
    iam = cloud.client("iam")
    role = iam.create_role(
        RoleName=f"gw-caller-{uid}",
        AssumeRolePolicyDocument=json.dumps({
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"}, "Action": "sts:AssumeRole"}],
        }),
    )["Role"]
    iam.put_role_policy(RoleName=role["RoleName"], PolicyName="invoke", PolicyDocument=json.dumps({
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "execute-api:Invoke", "Resource": "*"}],
    }))
    creds = cloud.client("sts").assume_role(RoleArn=role["Arn"], RoleSessionName="caller")["Credentials"]
    url = f"{api['url']}/private"

    # WHEN it signs with its token THEN it passes, as the assumed role
    r = _signed("GET", url, creds["AccessKeyId"], creds["SecretAccessKey"], token=creds["SessionToken"])
    assert r.status_code == 201, r.text
    assert r.json()["requestContext"]["identity"]["userArn"] == f"arn:aws:sts::{ACCOUNT}:assumed-role/{role['RoleName']}/caller"
    # AND without its token, or with another, it is refused
    for token in (None, "not-its-token"):
        r = _signed("GET", url, creds["AccessKeyId"], creds["SecretAccessKey"], token=token)
        assert r.status_code == 403 and r.json() == {"message": "The security token included in the request is invalid."}

    # AND once the session has expired, its own token is refused as expired
    sts = cloud.client("sts", config=Config(parameter_validation=False, retries={"max_attempts": 1}))
    short = sts.assume_role(RoleArn=role["Arn"], RoleSessionName="short", DurationSeconds=1)["Credentials"]
    time.sleep(2.1)  # past the expiry, and past the gateway's 1 s cache of keys
    r = _signed("GET", url, short["AccessKeyId"], short["SecretAccessKey"], token=short["SessionToken"])
    assert r.status_code == 403 and r.json() == {"message": "The security token included in the request is expired"}
    assert r.headers["x-amzn-ErrorType"] == "ExpiredTokenException"


def test_given_an_iam_method_when_the_signature_is_older_than_5_minutes_then_403_signature_expired(api):
    old = datetime.datetime.now(datetime.UTC).replace(tzinfo=None) - datetime.timedelta(minutes=10)
    with mock.patch("botocore.auth.get_current_datetime", return_value=old):
        r = _signed("GET", f"{api['url']}/private", "localcloud", "localcloud")
    assert r.status_code == 403
    assert r.json()["message"].startswith("Signature expired: ")
    assert "is now earlier than" in r.json()["message"]


def test_given_an_iam_method_when_the_authorization_header_is_malformed_then_403_incomplete_signature(api):
    r = requests.get(f"{api['url']}/private", headers={"Authorization": "Bearer abc"}, timeout=30)
    assert r.status_code == 403
    assert "not a valid key=value pair (missing equal-sign) in Authorization header" in r.json()["message"]
    r = requests.get(f"{api['url']}/private", headers={"Authorization": "eyJtoken"}, timeout=30)
    assert r.status_code == 403
    assert r.json()["message"].startswith("Authorization header requires 'Credential' parameter.")
    assert r.headers["x-amzn-ErrorType"] == "IncompleteSignatureException"


# ---- CORS -------------------------------------------------------------------------------------


def test_given_a_mock_options_method_when_preflighted_then_the_static_cors_headers_are_served(api):
    r = requests.options(
        f"{api['url']}/items/7", headers={"Origin": "http://example.test", "Access-Control-Request-Method": "GET"}, timeout=30
    )
    assert r.status_code == 200
    assert r.headers["Access-Control-Allow-Origin"] == "*"
    assert r.headers["Access-Control-Allow-Methods"] == "GET,POST,OPTIONS"
    assert r.headers["Access-Control-Allow-Headers"] == "Content-Type,Authorization"


# ---- access logs and metrics ------------------------------------------------------------------


def _poll(fn, timeout: float = 10.0):
    deadline = time.monotonic() + timeout
    while True:
        result = fn()
        if result or time.monotonic() > deadline:
            return result
        time.sleep(0.2)


def test_given_access_log_settings_set_by_update_stage_when_requests_arrive_then_one_line_each(cloud, api):
    logs = cloud.client("logs")
    group = f"/gw/access-{uuid.uuid4().hex[:8]}"
    logs.create_log_group(logGroupName=group)
    fmt = (
        '{"requestId":"$context.requestId","ip":"$context.identity.sourceIp","caller":"$context.identity.caller",'
        '"method":"$context.httpMethod","resource":"$context.resourcePath","path":"$context.path","status":$context.status,'
        '"time":"$context.requestTime","epoch":$context.requestTimeEpoch,"protocol":"$context.protocol",'
        '"len":$context.responseLength,"integ":"$context.integrationStatus","err":"$context.error.message",'
        '"errType":"$context.error.responseType","stage":"$context.stage","api":"$context.apiId","ext":"$context.extendedRequestId",'
        '"invocation":"$context.integration.requestId"}'
    )
    apigw = cloud.client("apigateway")
    # as on AWS, the account needs a CloudWatch role API Gateway can assume before a stage may log
    if not apigw.get_account().get("cloudwatchRoleArn"):
        trust = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": "apigateway.amazonaws.com"}, "Action": "sts:AssumeRole"}]}
        role = cloud.client("iam").create_role(RoleName=f"gw-logs-{uuid.uuid4().hex[:8]}", AssumeRolePolicyDocument=json.dumps(trust))
        apigw.update_account(patchOperations=[{"op": "replace", "path": "/cloudwatchRoleArn", "value": role["Role"]["Arn"]}])
    apigw.update_stage(
        restApiId=api["id"],
        stageName="dev",
        patchOperations=[
            {"op": "replace", "path": "/accessLogSettings/destinationArn", "value": f"arn:aws:logs:us-east-1:{ACCOUNT}:log-group:{group}"},
            {"op": "replace", "path": "/accessLogSettings/format", "value": fmt},
        ],
    )
    try:
        ok = requests.get(f"{api['url']}/items/5", timeout=30)
        missing = requests.get(f"{api['url']}/nope", timeout=30)

        def lines():
            events = logs.filter_log_events(logGroupName=group)["events"]
            return [json.loads(e["message"]) for e in events] if len(events) >= 2 else None

        got = _poll(lines)
        assert got and len(got) == 2, got
        by_id = {line["requestId"]: line for line in got}
        first, second = by_id[ok.headers["x-amzn-RequestId"]], by_id[missing.headers["x-amzn-RequestId"]]
        assert first["status"] == 201 and first["method"] == "GET" and first["resource"] == "/items/{id}"
        assert first["path"] == "/dev/items/5" and first["ip"] == "127.0.0.1" and first["caller"] == "-"
        assert first["integ"] == "200" and first["err"] == "-" and first["stage"] == "dev" and first["api"] == api["id"]
        assert first["len"] == len(ok.content) and first["protocol"] == "HTTP/1.1"
        assert first["ext"] == ok.headers["x-amz-apigw-id"]
        datetime.datetime.strptime(first["time"], "%d/%b/%Y:%H:%M:%S +0000")
        assert second["status"] == 403 and second["err"] == "Missing Authentication Token"
        assert second["errType"] == "MISSING_AUTHENTICATION_TOKEN" and second["resource"] == "-"
        # the integration's request id is the Lambda invocation's: its START line, in the stream of
        # the version the live alias ran; no integration, no id
        assert second["invocation"] == "-"
        echo_group = "/aws/lambda/" + api["arns"]["echo"].rsplit(":", 1)[-1]
        pattern = '"START RequestId: ' + first["invocation"] + '"'
        started = _poll(lambda: logs.filter_log_events(logGroupName=echo_group, filterPattern=pattern)["events"])
        assert started and re.match(r"\d{4}/\d\d/\d\d/\[\d+\]", started[0]["logStreamName"]), started
        streams = logs.describe_log_streams(logGroupName=group)["logStreams"]
        assert len(streams) == 1
    finally:
        apigw.update_stage(restApiId=api["id"], stageName="dev", patchOperations=[{"op": "remove", "path": "/accessLogSettings"}])


def _stat(cw, metric: str, dimensions: list, statistic: str = "Sum") -> float:
    now = datetime.datetime.now(datetime.UTC)
    points = cw.get_metric_statistics(
        Namespace="AWS/ApiGateway",
        MetricName=metric,
        Dimensions=dimensions,
        StartTime=now - datetime.timedelta(minutes=5),
        EndTime=now + datetime.timedelta(minutes=1),
        Period=3600,
        Statistics=[statistic],
    )["Datapoints"]
    return sum(p[statistic] for p in points)


def test_given_n_requests_when_metrics_are_flushed_then_count_and_error_metrics_add_up(cloud, api):
    cw = cloud.client("cloudwatch")
    apigw = cloud.client("apigateway")
    stage = f"m{uuid.uuid4().hex[:6]}"  # a fresh stage: its metrics are only this test's requests
    apigw.create_deployment(restApiId=api["id"], stageName=stage, variables={"alias": "live"})
    url = execute_api_url(cloud.endpoint, api["id"], stage)
    for _ in range(5):
        assert requests.get(f"{url}/items/1", timeout=30).status_code == 201
    for _ in range(2):
        assert requests.get(f"{url}/nope", timeout=30).status_code == 403
    assert requests.get(f"{url}/boom", timeout=30).status_code == 502

    dims = [{"Name": "ApiName", "Value": api["name"]}, {"Name": "Stage", "Value": stage}]
    assert _poll(lambda: _stat(cw, "Count", dims) == 8), _stat(cw, "Count", dims)
    assert _stat(cw, "Count", dims, "SampleCount") == 8
    assert _stat(cw, "4XXError", dims) == 2
    assert _stat(cw, "5XXError", dims) == 1
    assert _stat(cw, "4XXError", dims, "SampleCount") == 8  # 0 or 1 per request
    assert _stat(cw, "Latency", dims, "SampleCount") == 8
    assert _stat(cw, "IntegrationLatency", dims, "SampleCount") == 6
    assert _stat(cw, "Latency", dims, "Maximum") > 0


def test_given_metrics_enabled_for_all_methods_when_called_then_per_resource_and_method_metrics_too(cloud, api):
    cw = cloud.client("cloudwatch")
    apigw = cloud.client("apigateway")
    stage = f"d{uuid.uuid4().hex[:6]}"
    apigw.create_deployment(restApiId=api["id"], stageName=stage, variables={"alias": "live"})
    apigw.update_stage(
        restApiId=api["id"], stageName=stage, patchOperations=[{"op": "replace", "path": "/*/*/metrics/enabled", "value": "true"}]
    )
    url = execute_api_url(cloud.endpoint, api["id"], stage)
    for _ in range(3):
        assert requests.get(f"{url}/items/1", timeout=30).status_code == 201
    assert requests.get(f"{url}/items/special", timeout=30).status_code == 201

    detailed = [
        {"Name": "ApiName", "Value": api["name"]},
        {"Name": "Stage", "Value": stage},
        {"Name": "Resource", "Value": "/items/{id}"},
        {"Name": "Method", "Value": "GET"},
    ]
    assert _poll(lambda: _stat(cw, "Count", detailed) == 3), _stat(cw, "Count", detailed)
    assert _stat(cw, "IntegrationLatency", detailed, "SampleCount") == 3


# ---- concurrency ------------------------------------------------------------------------------


def test_given_slow_requests_when_sent_together_then_they_are_served_concurrently(api):
    from concurrent.futures import ThreadPoolExecutor

    started = time.monotonic()
    with ThreadPoolExecutor(4) as pool:
        codes = list(pool.map(lambda _: requests.get(f"{api['url']}/slow", timeout=30).status_code, range(4)))
    assert codes == [504] * 4
    assert time.monotonic() - started < 1.5


# ---- how APIs get made ------------------------------------------------------------------------


def test_given_an_api_built_call_by_call_when_a_route_is_added_later_then_it_is_served_at_once(cloud, api):
    apigw = cloud.client("apigateway")
    api_id = apigw.create_rest_api(name=f"gw-calls-{uuid.uuid4().hex[:8]}")["id"]
    root = next(r["id"] for r in apigw.get_resources(restApiId=api_id)["items"] if r["path"] == "/")

    def route(parent: str, part: str, auth: str = "NONE") -> str:
        rid = apigw.create_resource(restApiId=api_id, parentId=parent, pathPart=part)["id"]
        apigw.put_method(restApiId=api_id, resourceId=rid, httpMethod="GET", authorizationType=auth)
        apigw.put_integration(
            restApiId=api_id, resourceId=rid, httpMethod="GET", type="AWS_PROXY", integrationHttpMethod="POST", uri=_lambda_uri(api["arns"]["echo"])
        )
        return rid

    things = route(root, "things")
    apigw.create_deployment(restApiId=api_id, stageName="v1")
    url = execute_api_url(cloud.endpoint, api_id, "v1")
    assert requests.get(f"{url}/things", timeout=30).status_code == 201
    assert requests.get(f"{url}/things/7", timeout=30).status_code == 403  # warm: the route tree is cached

    route(things, "{thing}", auth="AWS_IAM")
    assert requests.get(f"{url}/things/7", timeout=30).status_code == 403  # now IAM-protected, unsigned
    r = _signed("GET", f"{url}/things/7", "localcloud", "localcloud")
    assert r.status_code == 201, r.text
    assert r.json()["pathParameters"] == {"thing": "7"}


def test_given_a_sam_style_swagger_body_when_put_then_routes_any_iam_auth_and_cors_are_served(cloud, api):
    echo = _lambda_uri(api["arns"]["echo"])
    integration = {"httpMethod": "POST", "type": "aws_proxy", "uri": echo, "credentials": "arn:aws:iam::*:user/*"}
    body = {
        "swagger": "2.0",
        "info": {"version": "1.0", "title": f"gw-sam-{uuid.uuid4().hex[:8]}"},
        "paths": {
            "/notes": {
                "post": {"x-amazon-apigateway-integration": integration, "security": [{"AWS_IAM": []}], "responses": {}},
                "options": CORS,
            },
            "/notes/{id}": {
                "parameters": [{"name": "id", "in": "path", "required": True, "type": "string"}],
                "x-amazon-apigateway-any-method": {"x-amazon-apigateway-integration": integration, "responses": {}},
            },
        },
        "securityDefinitions": {
            "AWS_IAM": {"in": "header", "type": "apiKey", "name": "Authorization", "x-amazon-apigateway-authtype": "awsSigv4"}
        },
    }
    apigw = cloud.client("apigateway")
    api_id = apigw.create_rest_api(name=body["info"]["title"])["id"]
    apigw.put_rest_api(restApiId=api_id, mode="merge", body=json.dumps(body).encode())
    apigw.create_deployment(restApiId=api_id, stageName="dev")
    url = execute_api_url(cloud.endpoint, api_id, "dev")

    notes = {r["path"]: r for r in apigw.get_resources(restApiId=api_id, embed=["methods"])["items"]}
    assert notes["/notes"]["resourceMethods"]["POST"]["authorizationType"] == "AWS_IAM"
    assert requests.post(f"{url}/notes", data=b"{}", timeout=30).status_code == 403
    assert _signed("POST", f"{url}/notes", "localcloud", "localcloud", body=b"{}").status_code == 201
    assert requests.options(f"{url}/notes", timeout=30).headers["Access-Control-Allow-Origin"] == "*"
    r = requests.patch(f"{url}/notes/abc", data=b"x", timeout=30)
    assert r.status_code == 201 and r.json()["pathParameters"] == {"id": "abc"}
