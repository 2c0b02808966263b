"""EventBridge API destinations on the local cloud: a rule's target that is an ApiDestination calls
its endpoint over HTTP with the connection's authorization and the target's parameters, retries
5xx/429 per its RetryPolicy, never retries other 4xx, and dead-letters what it could not deliver."""

from __future__ import annotations

import base64
import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from tests.integration.localcloud.lambda_helpers import service_role


class Receiver:
    """A loopback HTTP server: records every request; answers per path from ``script`` (a list of
    statuses consumed in order, the last one repeated), 200 by default."""

    def __init__(self, port: int = 0) -> None:
        self.requests: list[dict] = []
        self.script: dict[str, list[int]] = {}
        self.cv = threading.Condition()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                path = self.path.split("?", 1)[0]
                with receiver.cv:
                    receiver.requests.append({"method": self.command, "path": self.path, "headers": dict(self.headers),
                                              "body": body.decode()})
                    statuses = receiver.script.get(path) or [200]
                    status = statuses.pop(0) if len(statuses) > 1 else statuses[0]
                    receiver.cv.notify_all()
                if path.startswith("/hang"):
                    time.sleep(6)  # longer than EventBridge waits for an answer (5 s)
                payload = b'{"access_token":"tok-1","expires_in":3600}' if path == "/token" else b"{}"
                self.send_response(status)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            do_POST = do_PUT = do_GET = _answer

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def wait(self, path: str, count: int, timeout: float = 30) -> list[dict]:
        with self.cv:
            self.cv.wait_for(lambda: len(self.on(path)) >= count, timeout)
            return self.on(path)

    def on(self, path: str) -> list[dict]:
        return [r for r in self.requests if r["path"].split("?", 1)[0] == path]


@pytest.fixture(scope="module")
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.server.shutdown()


@pytest.fixture(scope="module")
def role(cloud) -> str:
    return service_role(cloud, "events-api-destinations", "events.amazonaws.com",
                        [{"Effect": "Allow", "Action": "events:InvokeApiDestination",
                          "Resource": "arn:aws:events:us-east-1:123456789012:api-destination/*"}])


def destination(cloud, name: str, endpoint: str, auth_type: str, auth: dict, method: str = "POST") -> str:
    events = cloud.client("events")
    connection = events.create_connection(Name=name, AuthorizationType=auth_type, AuthParameters=auth)["ConnectionArn"]
    return events.create_api_destination(Name=name, ConnectionArn=connection, InvocationEndpoint=endpoint,
                                         HttpMethod=method, InvocationRateLimitPerSecond=10)["ApiDestinationArn"]


def rule(cloud, name: str, target: dict) -> None:
    events = cloud.client("events")
    events.put_rule(Name=name, EventPattern=json.dumps({"source": [f"test.{name}"]}))
    events.put_targets(Rule=name, Targets=[target])


def put(cloud, name: str, detail: dict) -> None:
    answer = cloud.client("events").put_events(
        Entries=[{"Source": f"test.{name}", "DetailType": "Thing Happened", "Detail": json.dumps(detail)}])
    assert answer["FailedEntryCount"] == 0


def queue(cloud, name: str) -> tuple[str, str]:
    sqs = cloud.client("sqs")
    url = sqs.create_queue(QueueName=name)["QueueUrl"]
    return url, sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]


def dead_letters(cloud, url: str, count: int, timeout: float = 30) -> list[dict]:
    sqs, found, deadline = cloud.client("sqs"), [], time.monotonic() + timeout
    while len(found) < count and time.monotonic() < deadline:
        for m in sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, MessageAttributeNames=["All"],
                                     WaitTimeSeconds=1).get("Messages", []):
            found.append({"event": json.loads(m["Body"]),
                          "attributes": {k: v["StringValue"] for k, v in m.get("MessageAttributes", {}).items()}})
    return found


def test_api_key_connection_input_path_and_parameters(cloud, receiver, role, uid):
    """GIVEN an API_KEY connection, a destination, and a rule target with InputPath, a static
    header and a query string parameter taken from the event by JSON path
    WHEN an event is put
    THEN the endpoint gets the selected part of the event, the key header, the static header and
    the dynamic query value; DescribeConnection does not show the key's value."""
    name = f"apikey-{uid}"
    arn = destination(cloud, name, f"{receiver.url}/hook-{uid}", "API_KEY",
                      {"ApiKeyAuthParameters": {"ApiKeyName": "X-Api-Key", "ApiKeyValue": "s3cret"}})
    rule(cloud, name, {"Id": "web", "Arn": arn, "RoleArn": role, "InputPath": "$.detail.body",
                       "HttpParameters": {"HeaderParameters": {"X-Static": "yes"},
                                          "QueryStringParameters": {"sig": "$.detail.signature"}}})
    put(cloud, name, {"body": {"event": "issue.new", "n": 1}, "signature": "sha256=abc"})
    [got] = receiver.wait(f"/hook-{uid}", 1)
    assert json.loads(got["body"]) == {"event": "issue.new", "n": 1}
    assert got["headers"]["X-Api-Key"] == "s3cret" and got["headers"]["X-Static"] == "yes"
    assert got["path"].endswith("?sig=sha256%3Dabc")
    shown = cloud.client("events").describe_connection(Name=name)["AuthParameters"]["ApiKeyAuthParameters"]
    assert shown == {"ApiKeyName": "X-Api-Key"}


def test_basic_auth_5xx_retried_until_delivered(cloud, receiver, role, uid):
    """GIVEN a BASIC connection and an endpoint answering 500, then 429, then 200
    WHEN an event is put
    THEN it is sent three times with the Basic authorization, and delivered (nothing dead-lettered)."""
    name = f"basic-{uid}"
    path = f"/flaky-{uid}"
    receiver.script[path] = [500, 429, 200]
    url, dlq = queue(cloud, f"dlq-{name}")
    arn = destination(cloud, name, receiver.url + path, "BASIC",
                      {"BasicAuthParameters": {"Username": "u", "Password": "p"}})
    rule(cloud, name, {"Id": "web", "Arn": arn, "RoleArn": role, "DeadLetterConfig": {"Arn": dlq},
                       "RetryPolicy": {"MaximumRetryAttempts": 5, "MaximumEventAgeInSeconds": 60}})
    put(cloud, name, {"n": 2})
    got = receiver.wait(path, 3)
    assert len(got) == 3
    assert {r["headers"]["Authorization"] for r in got} == {"Basic " + base64.b64encode(b"u:p").decode()}
    # the sentinel: a 4xx event (never retried) reaches the DLQ; the delivered one never does
    receiver.script[f"/gone-{uid}"] = [404]
    events = cloud.client("events")
    events.update_api_destination(Name=name, InvocationEndpoint=f"{receiver.url}/gone-{uid}")
    put(cloud, name, {"n": 3})
    [letter] = dead_letters(cloud, url, 1)
    assert letter["event"]["detail"] == {"n": 3}
    assert letter["attributes"]["ERROR_CODE"] == "404" and letter["attributes"]["RETRY_ATTEMPTS"] == "0"
    assert len(receiver.on(f"/gone-{uid}")) == 1


def test_retries_exhausted_go_to_the_dead_letter_queue(cloud, receiver, role, uid):
    """GIVEN an endpoint that always answers 503 and a target allowing 2 retries, with a DLQ
    WHEN an event is put
    THEN the endpoint is called 3 times, then the event is in the DLQ saying why."""
    name = f"exhaust-{uid}"
    path = f"/down-{uid}"
    receiver.script[path] = [503]
    url, dlq = queue(cloud, f"dlq-{name}")
    arn = destination(cloud, name, receiver.url + path, "API_KEY",
                      {"ApiKeyAuthParameters": {"ApiKeyName": "k", "ApiKeyValue": "v"}})
    rule(cloud, name, {"Id": "web", "Arn": arn, "RoleArn": role, "DeadLetterConfig": {"Arn": dlq},
                       "RetryPolicy": {"MaximumRetryAttempts": 2, "MaximumEventAgeInSeconds": 60}})
    put(cloud, name, {"n": 4})
    [letter] = dead_letters(cloud, url, 1)
    assert letter["attributes"]["EXHAUSTED_RETRY_CONDITION"] == "MaximumRetryAttempts"
    assert letter["attributes"]["ERROR_CODE"] == "503" and letter["attributes"]["RETRY_ATTEMPTS"] == "2"
    assert len(receiver.on(path)) == 3


def test_oauth_client_credentials(cloud, receiver, role, uid):
    """GIVEN an OAUTH_CLIENT_CREDENTIALS connection whose authorization endpoint gives a token
    WHEN an event is put
    THEN the token is asked for with the client's credentials and the call carries it as Bearer."""
    name = f"oauth-{uid}"
    arn = destination(cloud, name, f"{receiver.url}/api-{uid}", "OAUTH_CLIENT_CREDENTIALS", {
        "OAuthParameters": {"ClientParameters": {"ClientID": "id", "ClientSecret": "sec"},
                            "AuthorizationEndpoint": f"{receiver.url}/token", "HttpMethod": "POST"}})
    rule(cloud, name, {"Id": "web", "Arn": arn, "RoleArn": role})
    put(cloud, name, {"n": 5})
    [got] = receiver.wait(f"/api-{uid}", 1)
    assert got["headers"]["Authorization"] == "Bearer tok-1"
    token_calls = receiver.on("/token")
    assert token_calls and token_calls[-1]["headers"]["Authorization"] == "Basic " + base64.b64encode(b"id:sec").decode()
    shown = cloud.client("events").describe_connection(Name=name)["AuthParameters"]["OAuthParameters"]
    assert shown["ClientParameters"] == {"ClientID": "id"}


def test_a_hanging_endpoint_times_out_and_is_dead_lettered_when_retries_run_out(cloud, receiver, role, uid):
    """GIVEN an endpoint that answers after 6 s and a target allowing no retry, with a DLQ
    WHEN an event is put
    THEN the call times out (5 s), and the event is in the DLQ as a client error, called once."""
    name = f"hang-{uid}"
    url, dlq = queue(cloud, f"dlq-{name}")
    arn = destination(cloud, name, f"{receiver.url}/hang-{uid}", "API_KEY",
                      {"ApiKeyAuthParameters": {"ApiKeyName": "k", "ApiKeyValue": "v"}})
    rule(cloud, name, {"Id": "web", "Arn": arn, "RoleArn": role, "DeadLetterConfig": {"Arn": dlq},
                       "RetryPolicy": {"MaximumRetryAttempts": 0, "MaximumEventAgeInSeconds": 60}})
    put(cloud, name, {"n": 6})
    [letter] = dead_letters(cloud, url, 1)
    assert letter["attributes"]["ERROR_CODE"] == "SDK_CLIENT_ERROR"
    assert letter["attributes"]["EXHAUSTED_RETRY_CONDITION"] == "MaximumRetryAttempts"
    assert len(receiver.on(f"/hang-{uid}")) == 1


def test_a_target_role_without_invoke_api_destination_sends_nothing(cloud, receiver, uid):
    """GIVEN a target whose role EventBridge may assume but which lacks events:InvokeApiDestination
    WHEN an event is put
    THEN the endpoint is never called and the event is in the DLQ saying why (IAM is enforced)."""
    name = f"norole-{uid}"
    weak = service_role(cloud, f"events-weak-{uid}", "events.amazonaws.com",
                        [{"Effect": "Allow", "Action": "sqs:SendMessage", "Resource": "*"}])
    url, dlq = queue(cloud, f"dlq-{name}")
    arn = destination(cloud, name, f"{receiver.url}/never-{uid}", "API_KEY",
                      {"ApiKeyAuthParameters": {"ApiKeyName": "k", "ApiKeyValue": "v"}})
    rule(cloud, name, {"Id": "web", "Arn": arn, "RoleArn": weak, "DeadLetterConfig": {"Arn": dlq}})
    put(cloud, name, {"n": 7})
    [letter] = dead_letters(cloud, url, 1)
    assert "events:InvokeApiDestination" in letter["attributes"]["ERROR_MESSAGE"]
    assert receiver.on(f"/never-{uid}") == []
