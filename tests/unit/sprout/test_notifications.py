"""Notifications: targets' validation, Sprout's events mapped to notification names, the webhook
body and Slack payload, signing, the once-per-30-minutes limit (a fake clock), the targets'
settings (a generated secret shown once), and the lineage telling each close once."""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any

import pytest

from sprout.adapters.delivery_events import build_detail, deployment_detail
from sprout.domain import notifications as rules
from sprout.domain.errors import AppNotFound, InvalidInput, NotificationsNotQueued
from sprout.domain.model import Build, BuildStatus, Deployment, DeploymentKind, DeploymentStatus
from sprout.services.notifications import NotificationSettings, Notifier, secret_path
from tests.unit.sprout.lineage_table import notes_lineage_on_moto

HOOK = "https://hooks.example.com/sprout"


# ---- validation -----------------------------------------------------------------------------------

@pytest.mark.parametrize("url", [HOOK, "http://127.0.0.1:8123/hook", "http://localhost/x", "http://[::1]:9/x"])
def test_given_https_or_loopback_http_when_parsed_then_taken(url):
    """GIVEN a webhook URL that is https, or plain http to a loopback address
    WHEN the targets are parsed
    THEN it is taken as given."""
    [target] = rules.parse_targets({"targets": [{"type": "webhook", "url": url, "events": ["issue.new"]}]})
    assert target.url == url and target.events == ("issue.new",)


@pytest.mark.parametrize(("target", "field"), [
    ({"type": "webhook", "url": "http://hooks.example.com/x", "events": ["issue.new"]}, "targets[0].url"),
    ({"type": "webhook", "url": "http://10.0.0.5/x", "events": ["issue.new"]}, "targets[0].url"),
    ({"type": "webhook", "url": "ftp://127.0.0.1/x", "events": ["issue.new"]}, "targets[0].url"),
    ({"type": "webhook", "url": "https://u:p@hooks.example.com/x", "events": ["issue.new"]}, "targets[0].url"),
    ({"type": "webhook", "url": HOOK, "events": ["issue.new", "issue.exploded"]}, "targets[0].events[1]"),
    ({"type": "webhook", "url": HOOK}, "targets[0].events"),
    ({"type": "webhook", "url": HOOK, "events": ["issue.new"], "secret": "short"}, "targets[0].secret"),
    ({"type": "slack", "url": HOOK, "secret": "a" * 20}, "targets[0].secret"),
    ({"type": "email", "url": HOOK}, "targets[0].type"),
])
def test_given_bad_targets_when_parsed_then_400_names_the_field(target, field):
    """GIVEN a target with a non-https URL (not loopback), an unknown event, a missing event list,
    a short secret, a secret on a Slack target or an unknown type
    WHEN parsed
    THEN InvalidInput names the field as the API spells it."""
    with pytest.raises(InvalidInput) as e:
        rules.parse_targets({"targets": [target]})
    assert e.value.field == field


def test_given_a_slack_target_without_events_then_it_gets_every_event_and_its_url_is_masked():
    """GIVEN a Slack target without events
    WHEN parsed and shown
    THEN it subscribes every event, and its URL (whose path is its secret) is shown masked."""
    [target] = rules.parse_targets({"targets": [{"type": "slack", "url": "https://hooks.slack.com/services/T/B/XYZ"}]})
    assert target.events == rules.EVENTS
    assert rules.shown_url("slack", target.url) == "https://hooks.slack.com/…"


# ---- Sprout's events -> notifications ---------------------------------------------------------------

def _deployment(kind=DeploymentKind.DEPLOY, status=DeploymentStatus.FAILED, error=None, trigger=None) -> Deployment:
    return Deployment(app="notes", stage="prod", id="000004", build=2, kind=kind, status=status,
                      trigger=trigger or {"type": "user", "by": "dev"}, error=error, step="CheckDeploy" if error else None,
                      started_at="2026-12-02T11:14:01.120Z", finished_at="2026-12-02T11:14:09.870Z")


@pytest.mark.parametrize(("deployment", "name"), [
    (_deployment(error="stack UPDATE_ROLLBACK_COMPLETE"), "deployment.failed"),
    (_deployment(error="CanaryAborted: alarm sprout-ar-notes-prod-fast"), "canary.aborted"),
    (_deployment(kind=DeploymentKind.ROLLBACK, status=DeploymentStatus.SUCCEEDED), "deployment.rolledBack"),
    (_deployment(kind=DeploymentKind.AUTO_ROLLBACK, status=DeploymentStatus.SUCCEEDED, trigger={"type": "alarm"}),
     "deployment.rolledBack"),
    (_deployment(kind=DeploymentKind.PROMOTE, status=DeploymentStatus.SUCCEEDED), None),
])
def test_given_a_closed_deployment_then_its_event_names_the_notification(deployment, name):
    """GIVEN a deployment closed FAILED, FAILED by an aborted canary, a rollback (by hand or by
    itself) or a promote that SUCCEEDED
    WHEN its event detail is made and mapped
    THEN it is deployment.failed, canary.aborted, deployment.rolledBack, or nothing."""
    detail = json.loads(json.dumps(deployment_detail(deployment)))
    assert rules.event_name("Sprout Deployment State Change", detail) == name
    if name == "canary.aborted":
        assert detail["failure"]["error"] == "CanaryAborted"
    if deployment.kind is DeploymentKind.AUTO_ROLLBACK:
        assert detail["auto"] is True
        assert "by itself" in rules.what_happened(name, detail)


def test_given_a_failed_build_then_build_failed_names_the_step():
    """GIVEN a build closed FAILED at Package
    WHEN mapped
    THEN it is build.failed and says where and why."""
    build = Build(app="notes", number=3, commit_id="c" * 40, branch="main", status=BuildStatus.FAILED,
                  failure={"step": "Package", "error": "PackageFailed", "cause": "no handler"})
    detail = build_detail(build)
    assert rules.event_name("Sprout Build State Change", detail) == "build.failed"
    body = rules.notification("build.failed", detail, "2026-12-02T11:00:00.000Z", None)
    assert body["build"] == 3 and "at Package: PackageFailed" in body["what"]


# ---- body, Slack, signature ---------------------------------------------------------------------------

ISSUE = {"event": "issue.new", "app": "notes", "stage": "dev", "build": 2,
         "issue": {"id": "a1b2", "title": "NameError: name 'gibberish' is not defined", "kind": "python", "count": 3,
                   "status": "open", "firstSeen": {"build": 2}, "samples": ["x" * 300_000]}}


def test_given_an_issue_event_then_the_body_names_event_app_stage_build_and_what():
    """GIVEN an issue.new event (even one carrying a huge value)
    WHEN the notification is made
    THEN it names the event, app, stage, build, what happened and links the console, and stays small."""
    body = rules.notification("issue.new", ISSUE, "2026-12-02T11:00:00.000Z", "http://127.0.0.1:8080")
    assert (body["event"], body["app"], body["stage"], body["build"]) == ("issue.new", "notes", "dev", 2)
    assert "gibberish" in body["what"] and "new in build #2" in body["what"]
    assert body["link"] == "http://127.0.0.1:8080/apps/notes/stages/dev/deployments"
    assert "samples" not in body["issue"] and len(rules.canonical(body)) < 4096


def test_given_a_body_then_its_signature_is_the_hmac_sha256_of_the_bytes_sent():
    """GIVEN a body and a secret
    WHEN signed
    THEN the signature is sha256=<hex HMAC-SHA256 of the minified JSON>, and verifies."""
    body = rules.notification("issue.new", ISSUE, "2026-12-02T11:00:00.000Z", None)
    text = rules.canonical(body)
    expected = hmac.new(b"k" * 32, text.encode(), hashlib.sha256).hexdigest()
    assert rules.sign("k" * 32, text) == f"sha256={expected}"
    assert rules.verify("k" * 32, text, f"sha256={expected}") and not rules.verify("x" * 32, text, f"sha256={expected}")


def test_given_a_webhook_message_then_it_signs_exactly_what_the_pipe_template_sends():
    """GIVEN a notification with quotes, non-ASCII text and a newline, and a secret
    WHEN queued for a webhook's pipe
    THEN the message holds the notification and the signature of the bytes WEBHOOK_TEMPLATE makes of
    it (the notification's fields at the top level, in order, null where it has none: `"event"`
    first); the header comes from $.body.signature."""
    body = rules.notification("issue.new", {**ISSUE, "issue": {"id": "a1", "title": 'KeyError: "é"\nnext'}},
                              "2026-12-02T11:00:00.000Z", None)
    message = json.loads(rules.webhook_message("k" * 32, body))
    fields = {k: body.get(k) for k in rules.WEBHOOK_FIELDS}
    sent = json.dumps(fields, separators=(",", ":"), ensure_ascii=False)
    assert rules.sent_body(body) == sent and message["notification"] == body
    assert sent.startswith('{"event":"issue.new","app":') and json.loads(sent)["deployment"] is None
    assert rules.verify("k" * 32, sent, message["signature"])
    assert rules.WEBHOOK_TEMPLATE.startswith('{"event":<$.body.notification.event>,"app":<$.body.notification.app>,')
    assert rules.SIGNATURE_PATH == "$.body.signature" and rules.SIGNATURE_HEADER == "X-Sprout-Signature"


def test_given_a_notification_then_slack_gets_text_and_blocks_with_the_link():
    """GIVEN a notification with a console link
    WHEN made into Slack's payload
    THEN it has text (app, stage, build, what) and blocks with a button to the console."""
    body = rules.notification("issue.new", ISSUE, "2026-12-02T11:00:00.000Z", "http://127.0.0.1:8080")
    slack = rules.slack_payload(body)
    assert "notes/dev build #2" in slack["text"] and "gibberish" in slack["text"]
    assert slack["blocks"][-1]["elements"][0]["url"] == body["link"]


def test_given_hostile_text_then_the_notification_is_plain_and_its_signature_verifies():
    """GIVEN an issue whose title holds control characters and a lone surrogate (an app's log line
    chooses it)
    WHEN the notification is made and queued for a webhook
    THEN the body has neither (tab and newline stay), and the signature verifies over the bytes sent."""
    title = "Boom\x00\x1b[31m\ud800 tab\there\nline"
    body = rules.notification("issue.new", {**ISSUE, "issue": {"id": "a1", "title": title}}, "2026-12-02T11:00:00.000Z", None)
    shown = body["issue"]["title"]
    assert "\x00" not in shown and "\x1b" not in shown and "\ud800" not in shown and "\t" in shown and "\n" in shown
    message = json.loads(rules.webhook_message("k" * 32, body))
    assert rules.verify("k" * 32, rules.sent_body(message["notification"]), message["signature"])


# ---- the notifier, with fakes ---------------------------------------------------------------------------

class Store:
    def __init__(self, targets: list[dict[str, Any]]):
        self.targets = {"notes": targets}
        self.told: dict[tuple[str, str], float] = {}
        self.saved: list[Any] = []

    def notification_targets(self, app: str) -> list[dict[str, Any]]:
        return list(self.targets.get(app, []))

    def save_notification_targets(self, app: str, targets: list[dict[str, Any]], at: str) -> None:
        self.targets[app] = targets
        self.saved.append((app, at))

    def claim_quiet_window(self, app: str, key: str, now: float, window: float) -> bool:
        last = self.told.get((app, key))
        if last is not None and last > now - window:
            return False
        self.told[(app, key)] = now
        return True

    def release_quiet_window(self, app: str, key: str, now: float) -> None:
        if self.told.get((app, key)) == now:
            del self.told[(app, key)]


class Bus:
    def __init__(self):
        self.events: list[dict[str, Any]] = []

    def announce(self, events: list[dict[str, Any]]) -> int:
        self.events += events
        return len(events)


class Outbox:
    """The targets' queues: what was queued, as (target id, message); ``fail`` names targets whose
    queue answers an error that may pass, ``gone`` those whose queue is gone."""

    def __init__(self, fail: tuple[str, ...] = (), gone: tuple[str, ...] = ()):
        self.events: list[dict[str, Any]] = []
        self.fail, self.gone = set(fail), set(gone)

    def send(self, messages: list[tuple[str, str]]) -> list[str]:
        outcomes = []
        for queue, body in messages:
            target = queue.rsplit("-", 1)[-1]
            if target in self.fail | self.gone:
                outcomes.append(rules.FAILED if target in self.fail else rules.GONE)
                continue
            self.events.append({"target": target, **json.loads(body)})
            outcomes.append(rules.QUEUED)
        return outcomes


class Clock:
    def __init__(self):
        self.now = 1_796_210_000.0

    def __call__(self) -> float:
        return self.now


QUEUE = "https://sqs.us-east-1.amazonaws.com/123456789012/sprout-n-notes-"
WEBHOOK = {"id": "t1", "type": "webhook", "url": HOOK, "events": ["issue.new", "deployment.rolledBack"],
           "secretPath": secret_path("notes", "t1"), "routes": {"queue": QUEUE + "t1"}}
SLACK = {"id": "t2", "type": "slack", "url": "https://hooks.slack.com/services/T/B/X", "events": list(rules.EVENTS),
         "routes": {"queue": QUEUE + "t2"}}


class Secrets:
    def read(self, path: str) -> str | None:
        return "s" * 32 if path == secret_path("notes", "t1") else None


def test_given_one_issue_again_and_again_then_each_target_is_told_once_per_30_minutes():
    """GIVEN a webhook and a Slack target wanting issue.new, and a fake clock
    WHEN the same issue.new comes three times (now, 29 minutes later, 31 minutes after the first)
    THEN each target is told at the first and the third only; the webhook's body is signed."""
    store, bus, clock = Store([WEBHOOK, SLACK]), Outbox(), Clock()
    notifier = Notifier(store, Secrets(), bus, clock)
    first = notifier.handle("Sprout Issue State Change", ISSUE)
    clock.now += 29 * 60
    second = notifier.handle("Sprout Issue State Change", ISSUE)
    clock.now += 2 * 60
    third = notifier.handle("Sprout Issue State Change", ISSUE)
    assert (first["sent"], second["sent"], second["quiet"], third["sent"]) == (2, 0, 2, 2)
    webhook = [e for e in bus.events if e["target"] == "t1"]
    assert len(webhook) == 2
    assert webhook[0]["signature"] == rules.sign("s" * 32, rules.sent_body(webhook[0]["notification"]))
    assert [e for e in bus.events if e["target"] == "t2"][0]["text"].startswith("[issue.new]")


def test_given_targets_then_only_those_wanting_the_event_are_told_and_rollbacks_are_not_limited():
    """GIVEN a webhook wanting issue.new and deployment.rolledBack, a Slack target wanting everything
    WHEN a build fails, then two rollbacks close
    THEN only Slack hears of the build; both hear of both rollbacks (no per-issue limit)."""
    store, bus = Store([WEBHOOK, SLACK]), Outbox()
    notifier = Notifier(store, Secrets(), bus, Clock())
    build = build_detail(Build(app="notes", number=3, commit_id="c" * 40, branch="main", status=BuildStatus.FAILED))
    notifier.handle("Sprout Build State Change", build)
    rollback = deployment_detail(_deployment(kind=DeploymentKind.ROLLBACK, status=DeploymentStatus.SUCCEEDED))
    notifier.handle("Sprout Deployment State Change", rollback)
    notifier.handle("Sprout Deployment State Change", rollback)
    assert [(e["target"], (e.get("notification") or {}).get("event") or e["text"].split("]")[0][1:])
            for e in bus.events] == [
        ("t2", "build.failed"), ("t1", "deployment.rolledBack"), ("t2", "deployment.rolledBack"),
        ("t1", "deployment.rolledBack"), ("t2", "deployment.rolledBack")]


def test_given_a_queue_that_fails_for_a_while_then_the_invocation_fails_and_its_retry_tells_the_target():
    """GIVEN a webhook and a Slack target wanting issue.new, the webhook's queue throttled
    WHEN the issue.new comes, and comes again (Lambda's retry) once the queue answers
    THEN the first invocation fails naming what was not queued, Slack is told once, and the retry tells
    the webhook: its 30-minute window was given back, not spent on a message nobody got."""
    store, clock = Store([WEBHOOK, SLACK]), Clock()
    bus = Outbox(fail=("t1",))
    notifier = Notifier(store, Secrets(), bus, clock)
    with pytest.raises(NotificationsNotQueued, match="1 of 2"):
        notifier.handle("Sprout Issue State Change", ISSUE)
    assert [e["target"] for e in bus.events] == ["t2"]
    bus.fail.clear()
    clock.now += 5
    retry = notifier.handle("Sprout Issue State Change", ISSUE)
    assert (retry["sent"], retry["quiet"]) == (1, 1)
    assert [e["target"] for e in bus.events] == ["t2", "t1"]


def test_given_a_target_whose_queue_is_gone_then_the_others_are_told_and_nothing_is_retried():
    """GIVEN a webhook whose queue was deleted (its target removed meanwhile) and a Slack target
    WHEN an issue.new comes
    THEN Slack is told, the invocation succeeds (a retry would find the queue gone again)."""
    bus = Outbox(gone=("t1",))
    result = Notifier(Store([WEBHOOK, SLACK]), Secrets(), bus, Clock()).handle("Sprout Issue State Change", ISSUE)
    assert result["sent"] == 1 and [e["target"] for e in bus.events] == ["t2"]


def test_given_a_webhook_whose_secret_is_gone_then_nothing_unsigned_is_sent():
    """GIVEN a webhook target whose secret is no longer in Parameter Store
    WHEN its event comes
    THEN no notification is queued for it."""
    bus = Outbox()
    gone = {**WEBHOOK, "secretPath": secret_path("notes", "zz")}
    Notifier(Store([gone]), Secrets(), bus, Clock()).handle("Sprout Issue State Change", ISSUE)
    assert bus.events == []


def test_given_a_target_made_before_pipes_then_it_is_skipped_and_the_others_are_told():
    """GIVEN a webhook recorded without a queue (made when rules delivered) and a Slack target
    WHEN an issue.new comes
    THEN only the Slack target's queue gets a message."""
    bus = Outbox()
    legacy = {**WEBHOOK, "routes": {"rule": "sprout-n-notes-t1"}}
    Notifier(Store([legacy, SLACK]), Secrets(), bus, Clock()).handle("Sprout Issue State Change", ISSUE)
    assert [e["target"] for e in bus.events] == ["t2"]


# ---- the targets' settings, with fakes ---------------------------------------------------------------------

class Routes:
    def __init__(self, fail_on: int | None = None):
        self.live: dict[str, dict[str, str]] = {}
        self.fail_on, self.calls = fail_on, 0

    def create(self, app: str, target_id: str, kind: str, url: str) -> dict[str, str]:
        self.calls += 1
        if self.calls == self.fail_on:
            raise RuntimeError("EventBridge said no")
        names = {"rule": f"sprout-n-{app}-{target_id}"}
        self.live[target_id] = names
        return names

    def delete(self, names: dict[str, str]) -> None:
        self.live = {k: v for k, v in self.live.items() if v != names}


class SecretWrites:
    def __init__(self):
        self.values: dict[str, str] = {}

    def put(self, path: str, value: str) -> int:
        self.values[path] = value
        return 1

    def delete(self, path: str) -> bool:
        return self.values.pop(path, None) is not None


class Apps:
    def get_app(self, name: str) -> Any:
        if name != "notes":
            raise AppNotFound(f"app {name} not found", field="app")
        return name


def _settings(routes: Routes, secrets: SecretWrites, store: Store) -> NotificationSettings:
    ids = iter(["aa", "bb", "cc", "dd"])
    return NotificationSettings(store, routes, secrets, Apps(), Bus(), lambda: next(ids), lambda: "g" * 43, Clock())


def test_given_targets_put_then_a_generated_secret_is_shown_once_and_replaced_targets_are_removed():
    """GIVEN a PUT with a webhook without secret and a Slack target, then a second PUT with one webhook
    WHEN each is answered, and GET is asked
    THEN the first answer shows the generated secret (stored in Parameter Store), GET never does,
    and after the second PUT the first targets' routes and secret are gone."""
    routes, secrets, store = Routes(), SecretWrites(), Store([])
    settings = _settings(routes, secrets, store)
    first = settings.put("notes", {"targets": [{"type": "webhook", "url": HOOK, "events": ["issue.new"]},
                                               {"type": "slack", "url": "https://hooks.slack.com/services/T/B/X"}]})
    assert first["targets"][0]["secret"] == "g" * 43 and "secret" not in first["targets"][1]
    assert secrets.values == {secret_path("notes", "aa"): "g" * 43}
    assert settings.show("notes")["targets"][0]["secret"] == "set (never shown again)"
    settings.put("notes", {"targets": [{"type": "webhook", "url": HOOK, "events": ["issue.new"], "secret": "m" * 20}]})
    assert set(routes.live) == {"cc"} and secrets.values == {secret_path("notes", "cc"): "m" * 20}


def test_given_a_route_that_cannot_be_made_then_nothing_is_left_behind_and_old_targets_stay():
    """GIVEN an app with one target, and EventBridge refusing the second of two new targets
    WHEN the PUT is made
    THEN it fails, the first new target's route and secret are removed, and the old target stays."""
    routes, secrets, store = Routes(), SecretWrites(), Store([])
    settings = _settings(routes, secrets, store)
    settings.put("notes", {"targets": [{"type": "webhook", "url": HOOK, "events": ["issue.new"]}]})
    routes.fail_on = routes.calls + 2
    with pytest.raises(RuntimeError):
        settings.put("notes", {"targets": [{"type": "webhook", "url": HOOK, "events": ["issue.new"]},
                                           {"type": "webhook", "url": HOOK, "events": ["issue.new"]}]})
    assert set(routes.live) == {"aa"} and set(secrets.values) == {secret_path("notes", "aa")}
    assert [t["id"] for t in store.targets["notes"]] == ["aa"]


# ---- the lineage tells each close once (moto in-process) ------------------------------------------------------

class Heard:
    def __init__(self):
        self.deployments: list[Deployment] = []
        self.builds: list[Build] = []

    def deployment_closed(self, deployment: Deployment) -> None:
        self.deployments.append(deployment)

    def build_closed(self, build: Build) -> None:
        self.builds.append(build)


@pytest.fixture
def lineage(monkeypatch):
    yield from notes_lineage_on_moto(monkeypatch, "sprout-unit-notify", "sprout-unit-notify-artifacts")


def test_given_the_lineage_when_records_close_then_each_close_is_told_once(lineage):
    """GIVEN the lineage with a listener
    WHEN a build fails (twice the same way), a deployment succeeds (twice), another fails to start
    THEN the listener hears the build once, the deployment once and the failed start once."""
    heard = Heard()
    lineage.closed_records = heard
    build, _ = lineage.record_build("notes", "a" * 40, "main")
    lineage.finish_build("notes", build.number, BuildStatus.FAILED, failure={"step": "Package", "error": "X"})
    lineage.finish_build("notes", build.number, BuildStatus.FAILED, failure={"step": "Package", "error": "X"})
    good, _ = lineage.record_build("notes", "b" * 40, "main")
    lineage.finish_build("notes", good.number, BuildStatus.SUCCEEDED)
    d = lineage.begin_deployment("notes", "dev", good.number, "deploy", {"type": "push"})
    lineage.finish_deployment("notes", "dev", d.id, DeploymentStatus.SUCCEEDED, versions={"Create": "2"})
    lineage.finish_deployment("notes", "dev", d.id, DeploymentStatus.SUCCEEDED, versions={"Create": "2"})
    lineage.record_failed_start("notes", "dev", good.number, "deploy", {"type": "user"}, "stage busy", "Begin")
    assert [(b.number, b.status) for b in heard.builds] == [(build.number, BuildStatus.FAILED), (good.number, BuildStatus.SUCCEEDED)]
    assert [(x.id, x.status) for x in heard.deployments] == [(d.id, DeploymentStatus.SUCCEEDED), ("000002", DeploymentStatus.FAILED)]


# ---- the routes, on moto in-process ---------------------------------------------------------------------

def test_given_a_webhook_target_then_its_queue_redrives_and_its_pipe_sends_the_signature_header(monkeypatch):
    """GIVEN moto in-process and the notification routes of stack `sprout`
    WHEN a webhook target's routes are made, then deleted
    THEN its queue redrives to the DLQ after RECEIVES receives, its pipe goes from that queue to the
    API destination with the signature header from $.body.signature and the wrapping template; after
    delete nothing of it is left."""
    import boto3
    from moto import mock_aws

    from sprout.adapters.notification_routes import RECEIVES, NotificationRoutes

    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.setenv(key, "testing")
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)  # a worker's session cloud set it: moto, not that cloud
    with mock_aws():
        sqs = boto3.client("sqs")
        dlq = sqs.get_queue_attributes(QueueUrl=sqs.create_queue(QueueName="dlq")["QueueUrl"],
                                       AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        routes = NotificationRoutes("sprout", "arn:aws:iam::123456789012:role/delivery", dlq)
        made = routes.create("notes", "t1", "webhook", HOOK)
        assert made["pipe"] == made["connection"] == "sprout-n-notes-t1"
        redrive = json.loads(sqs.get_queue_attributes(QueueUrl=made["queue"], AttributeNames=["RedrivePolicy"])
                             ["Attributes"]["RedrivePolicy"])
        assert redrive == {"deadLetterTargetArn": dlq, "maxReceiveCount": RECEIVES}
        pipe = boto3.client("pipes").describe_pipe(Name=made["pipe"])
        assert pipe["Source"].endswith(":sprout-n-notes-t1") and ":api-destination/sprout-n-notes-t1/" in pipe["Target"]
        assert pipe["TargetParameters"] == {"InputTemplate": rules.WEBHOOK_TEMPLATE, "HttpParameters": {
            "HeaderParameters": {"X-Sprout-Signature": "$.body.signature"}}}
        assert pipe["SourceParameters"] == {"SqsQueueParameters": {"BatchSize": 1}}
        routes.delete(made)
        assert boto3.client("pipes").list_pipes()["Pipes"] == []
        assert sqs.list_queues().get("QueueUrls") == [sqs.get_queue_url(QueueName="dlq")["QueueUrl"]]
        assert boto3.client("events").list_api_destinations()["ApiDestinations"] == []


def test_given_a_claimed_quiet_window_when_given_back_then_only_that_claim_is_released(lineage):
    """GIVEN the lineage on moto's DynamoDB with a window claimed at t
    WHEN a release for another moment comes, then the release for t
    THEN the first changes nothing (the window holds), the second frees it: a claim succeeds again."""
    assert lineage.claim_quiet_window("notes", "t1#dev#abc", 1_000.0, 1_800.0) is True
    lineage.release_quiet_window("notes", "t1#dev#abc", 999.0)
    assert lineage.claim_quiet_window("notes", "t1#dev#abc", 1_001.0, 1_800.0) is False
    lineage.release_quiet_window("notes", "t1#dev#abc", 1_000.0)
    assert lineage.claim_quiet_window("notes", "t1#dev#abc", 1_002.0, 1_800.0) is True
