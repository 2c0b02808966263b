"""Notifications on the local cloud (IAM enforced), one app for the module: targets are set through
the API, Sprout's events reach a webhook on a loopback HTTP server through each target's queue and
EventBridge pipe to its API destination, signed in the X-Sprout-Signature header; an issue tells a
target once; a webhook answering 500 is tried a bounded number of times (the queue's redrive
policy), then the notification is in the dead-letter queue; another team may not change the app's
targets."""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

import pytest
from botocore.credentials import Credentials

from sprout.adapters.notification_routes import RECEIVES
from sprout.cli.client import ApiError, SproutClient
from sprout.domain.notifications import sent_body, verify
from tests.integration.sprout.conftest import NOTES, registered_app, wait_for

ACCOUNT = "123456789012"


class Webhook:
    """A loopback receiver: records each request (path, query, headers, body); ``/down`` answers 500."""

    def __init__(self) -> None:
        self.got: list[dict] = []
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode()
                url = urlparse(self.path)
                hook.got.append({"path": url.path, "query": parse_qs(url.query), "headers": dict(self.headers),
                                 "body": body})
                self.send_response(500 if url.path == "/down" else 200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def on(self, path: str, event: str | None = None) -> list[dict]:
        return [g for g in self.got if g["path"] == path and (event is None or notification(g).get("event") == event)]


def notification(got: dict) -> dict:
    """A webhook body's notification (the body is {"notification": {...}})."""
    return json.loads(got["body"])


def signed(secret: str, got: dict) -> bool:
    """What a receiver does: the HMAC of the raw request body, against the header."""
    return verify(secret, got["body"], got["headers"].get("X-Sprout-Signature", ""))


@pytest.fixture(scope="module")
def hook() -> Iterator[Webhook]:
    w = Webhook()
    yield w
    w.server.shutdown()


@pytest.fixture(scope="module")
def app(cloud, api, tmp_path_factory, hook) -> dict:
    """App notes-<id> with a webhook on /hook for rollbacks and new issues (secret generated), one
    on /down (answering 500) for failed deployments, and a Slack target on /slack for rollbacks."""
    name = f"notes-{uuid.uuid4().hex[:8]}"
    registered_app(cloud, api, name, NOTES, tmp_path_factory.mktemp("notify"))
    answer = api.request("PUT", f"/apps/{name}/notifications", {"targets": [
        {"type": "webhook", "url": f"{hook.url}/hook", "events": ["deployment.rolledBack", "issue.new"]},
        {"type": "webhook", "url": f"{hook.url}/down", "events": ["deployment.failed"], "secret": "d" * 24},
        {"type": "slack", "url": f"{hook.url}/slack", "events": ["deployment.rolledBack"]},
    ]})
    return {"name": name, "secret": answer["targets"][0]["secret"], "answer": answer}


def put_sprout_event(cloud, detail_type: str, detail: dict) -> None:
    answer = cloud.client("events").put_events(Entries=[{"Source": "sprout", "DetailType": detail_type,
                                                         "Detail": json.dumps(detail)}])
    assert answer["FailedEntryCount"] == 0


def status_of(call) -> int:
    try:
        call()
    except ApiError as e:
        return e.status
    return 200


def test_given_targets_set_then_the_secret_shows_once_and_bad_targets_are_refused(api, app):
    """GIVEN the app's targets just set (one webhook's secret generated)
    WHEN GET is asked, and PUTs with plain http to a public host or an unknown event are made
    THEN the PUT's answer had the secret and GET does not; the bad PUTs are 400 naming the field,
    and the targets did not change."""
    assert len(app["secret"]) >= 32
    shown = api.request("GET", f"/apps/{app['name']}/notifications")["targets"]
    assert [t.get("secret") for t in shown] == ["set (never shown again)"] * 2 + [None]
    assert shown[2]["url"].endswith("/…")  # a Slack URL's path is its secret
    for body, field in (
        ({"targets": [{"type": "webhook", "url": "http://hooks.example.com/x", "events": ["issue.new"]}]}, "targets[0].url"),
        ({"targets": [{"type": "slack", "url": "https://hooks.slack.com/services/T/B/X",
                       "events": ["issue.new", "issue.gone"]}]}, "targets[0].events[1]"),
    ):
        with pytest.raises(ApiError) as e:
            api.request("PUT", f"/apps/{app['name']}/notifications", body)
        assert e.value.status == 400 and field in str(e.value)
    assert [t["id"] for t in api.request("GET", f"/apps/{app['name']}/notifications")["targets"]] == [t["id"] for t in shown]


def test_given_a_rollback_then_the_webhook_gets_it_signed(cloud, app, hook):
    """GIVEN the webhook on /hook wanting deployment.rolledBack
    WHEN Sprout's `Sprout Deployment State Change` of an automatic rollback is put
    THEN /hook receives a JSON body naming the event, app, stage and build, whose
    X-Sprout-Signature header is the HMAC-SHA256 of the raw body with the target's secret; the Slack
    target gets Slack's payload, without a signature."""
    put_sprout_event(cloud, "Sprout Deployment State Change", {
        "app": app["name"], "stage": "prod", "deploymentId": "000004", "build": 1, "kind": "auto-rollback",
        "auto": True, "status": "SUCCEEDED", "failure": None})
    [got] = wait_for("the rollback notification", lambda: hook.on("/hook", "deployment.rolledBack") or None)
    body = notification(got)
    assert (body["app"], body["stage"], body["build"]) == (app["name"], "prod", 1) and "by itself" in body["what"]
    assert signed(app["secret"], got) and got["query"] == {}
    assert not signed("x" * 32, got) and not verify(app["secret"], got["body"] + " ", got["headers"]["X-Sprout-Signature"])
    [slack] = wait_for("the Slack message", lambda: hook.on("/slack") or None)
    message = json.loads(slack["body"])
    assert "deployment.rolledBack" in message["text"] and message["blocks"][0]["type"] == "section"
    assert "X-Sprout-Signature" not in slack["headers"] and slack["query"] == {}


def test_given_one_issue_twice_then_it_is_told_once(cloud, app, hook):
    """GIVEN the webhook wanting issue.new
    WHEN the same issue.new is put twice, then a test notification is asked (the sentinel)
    THEN /hook gets the test notification and the issue exactly once."""
    issue = {"event": "issue.new", "app": app["name"], "stage": "dev", "build": 2,
             "issue": {"id": f"i-{uuid.uuid4().hex[:6]}", "title": "NameError: name 'gibberish' is not defined"}}
    put_sprout_event(cloud, "Sprout Issue State Change", issue)
    wait_for("the issue notification", lambda: hook.on("/hook", "issue.new") or None)
    put_sprout_event(cloud, "Sprout Issue State Change", issue)
    sentinel = {**issue, "issue": {"id": f"s-{uuid.uuid4().hex[:6]}", "title": "KeyError: 'x'"}}
    put_sprout_event(cloud, "Sprout Issue State Change", sentinel)
    wait_for("the sentinel issue", lambda: len(hook.on("/hook", "issue.new")) >= 2 or None)
    ids = [notification(g)["issue"]["id"] for g in hook.on("/hook", "issue.new")]
    assert ids.count(issue["issue"]["id"]) == 1 and ids.count(sentinel["issue"]["id"]) == 1


def test_given_an_event_near_256_kb_then_a_small_notification_is_sent(cloud, app, hook):
    """GIVEN an issue.new whose title is ~250 KB (an app's log line chooses it)
    WHEN it is put
    THEN the webhook gets the notification with the title cut, the body a few KB."""
    huge = {"event": "issue.new", "app": app["name"], "stage": "prod", "build": 2,
            "issue": {"id": f"h-{uuid.uuid4().hex[:6]}", "title": "E" * 250_000}}
    put_sprout_event(cloud, "Sprout Issue State Change", huge)
    [got] = wait_for("the huge issue's notification",
                     lambda: [g for g in hook.on("/hook", "issue.new") if huge["issue"]["id"] in g["body"]] or None)
    assert len(got["body"]) < 4096 and signed(app["secret"], got)


def test_given_a_test_asked_then_each_target_gets_one(api, app, hook):
    """GIVEN the app's two webhooks
    WHEN a test notification is asked through the API
    THEN each gets a `test` notification."""
    assert api.request("POST", f"/apps/{app['name']}/notifications/test", {})["sent"] is True
    wait_for("the test notifications", lambda: (hook.on("/hook", "test") and hook.on("/down", "test")) or None)
    assert signed(app["secret"], hook.on("/hook", "test")[0]) and signed("d" * 24, hook.on("/down", "test")[0])


def test_given_a_webhook_answering_500_then_bounded_retries_then_the_dead_letter_queue(cloud, app, hook):
    """GIVEN the webhook on /down (always 500) wanting deployment.failed
    WHEN a failed deployment is put
    THEN /down is called RECEIVES times (the target queue's maxReceiveCount), no more, and the
    queued notification, its signature with it, is in Sprout's notification dead-letter queue."""
    deployment = f"f{uuid.uuid4().hex[:5]}"
    put_sprout_event(cloud, "Sprout Deployment State Change", {
        "app": app["name"], "stage": "dev", "deploymentId": deployment, "build": 3, "kind": "deploy",
        "status": "FAILED", "failure": {"error": "stack UPDATE_ROLLBACK_COMPLETE"}})
    sqs = cloud.client("sqs")
    url = cloud.sprout["NotificationDeadLetterQueueUrl"]

    def dead() -> dict | None:
        for m in sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1).get("Messages", []):
            message = json.loads(m["Body"])
            if ((message.get("notification") or {}).get("deployment") or {}).get("id") == deployment:
                return message
        return None

    letter = wait_for("the dead letter", dead, timeout=120)
    assert verify("d" * 24, sent_body(letter["notification"]), letter["signature"])
    mine = [g for g in hook.on("/down") if (notification(g).get("deployment") or {}).get("id") == deployment]
    assert len(mine) == RECEIVES and all(signed("d" * 24, g) for g in mine)


def test_given_another_team_then_it_may_not_change_the_apps_targets(cloud, app):
    """GIVEN an IAM user allowed `execute-api:Invoke` on its own app's routes only
    WHEN it PUTs this app's notifications, or asks a test
    THEN API Gateway refuses it (403) and the targets are unchanged."""
    api_id = urlparse(cloud.sprout["ApiUrl"]).path.split("/")[3]
    base = f"arn:aws:execute-api:us-east-1:{ACCOUNT}:{api_id}/v1"
    user = f"other-{uuid.uuid4().hex[:6]}"
    iam = cloud.client("iam")
    iam.create_user(UserName=user)
    iam.put_user_policy(UserName=user, PolicyName="own-app", PolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "execute-api:Invoke",
                                                "Resource": [f"{base}/*/apps/billing-{user}", f"{base}/*/apps/billing-{user}/*"]}]}))
    key = iam.create_access_key(UserName=user)["AccessKey"]
    other = SproutClient(cloud.sprout["ApiUrl"])
    other._credentials = Credentials(key["AccessKeyId"], key["SecretAccessKey"])
    evil = {"targets": [{"type": "webhook", "url": "https://attacker.example.com/", "events": ["issue.new"]}]}
    assert status_of(lambda: other.request("PUT", f"/apps/{app['name']}/notifications", evil)) == 403
    assert status_of(lambda: other.request("POST", f"/apps/{app['name']}/notifications/test", {})) == 403
    root = SproutClient(cloud.sprout["ApiUrl"])
    urls = [t["url"] for t in root.request("GET", f"/apps/{app['name']}/notifications")["targets"]]
    assert not any("attacker" in u for u in urls)
