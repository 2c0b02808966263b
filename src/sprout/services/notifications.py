"""Notifications (issue 24): an app's targets (``PUT/GET /apps/{app}/notifications``), a test
notification, and the notifier that turns Sprout's events into signed notifications.

Delivery is EventBridge's: per target a Connection, an ApiDestination, an SQS queue (redriven to
the dead-letter queue after a bounded number of receives) and an EventBridge pipe from the queue
to the destination, whose target parameters send the notification (``InputTemplate``) with the
header ``X-Sprout-Signature`` taken from the message (``$.body.signature``: Pipes accept JSON
paths in header values, a rule's target does not). The notifier formats, signs (the target's
secret, from Parameter Store) the exact bytes the pipe sends, applies the
once-per-30-minutes-per-issue-per-target limit, and queues one message per target. A webhook's
secret goes from the request (or the generator) straight to Parameter Store and is shown once, in
the answer to the PUT that set it.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, Protocol

from sprout.domain import notifications as rules
from sprout.domain.errors import NotificationsNotQueued
from sprout.domain.notifications import FAILED, QUEUED, TargetSpec

SECRET_DIR = "_notifications"  # stage names start with a letter: no stage's secrets live here


def secret_path(app: str, target_id: str) -> str:
    return f"/sprout/{app}/{SECRET_DIR}/{target_id}"


class TargetStore(Protocol):
    def notification_targets(self, app: str) -> list[dict[str, Any]]: ...

    def save_notification_targets(self, app: str, targets: list[dict[str, Any]], at: str) -> None: ...

    def claim_quiet_window(self, app: str, key: str, now: float, window: float) -> bool: ...

    def release_quiet_window(self, app: str, key: str, now: float) -> None: ...


class Routes(Protocol):
    """EventBridge: what delivers one target (connection, API destination, rule and its target)."""

    def create(self, app: str, target_id: str, kind: str, url: str) -> dict[str, str]: ...

    def delete(self, names: dict[str, str]) -> None: ...


class SecretWrites(Protocol):
    def put(self, path: str, value: str) -> int: ...

    def delete(self, path: str) -> bool: ...


class SecretReads(Protocol):
    def read(self, path: str) -> str | None: ...


class Bus(Protocol):
    def announce(self, events: list[dict[str, Any]]) -> int: ...


class Outbox(Protocol):
    """The targets' queues: ``send([(queue URL, message)])`` answers, per message, ``queued``,
    ``gone`` (its queue no longer exists: the target was removed meanwhile) or ``failed`` (an error
    that may pass: throttling, a service fault)."""

    def send(self, messages: list[tuple[str, str]]) -> list[str]: ...


class AppExists(Protocol):
    def get_app(self, name: str) -> Any: ...


def _iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def view(targets: list[dict[str, Any]], secrets: dict[str, str] | None = None) -> dict[str, Any]:
    """The API's answer: targets without their secrets (a generated one only where given)."""
    shown = []
    for t in targets:
        one: dict[str, Any] = {"id": t["id"], "type": t["type"], "url": rules.shown_url(t["type"], t["url"]),
                               "events": list(t["events"])}
        if t["type"] == "webhook":
            one["secret"] = (secrets or {}).get(t["id"]) or "set (never shown again)"
        shown.append(one)
    return {"targets": shown}


class NotificationSettings:
    def __init__(self, store: TargetStore, routes: Routes, secrets: SecretWrites, apps: AppExists, bus: Bus,
                 new_id: Callable[[], str], new_secret: Callable[[], str], now: Callable[[], float]):
        self.store, self.routes, self.secrets, self.apps, self.bus = store, routes, secrets, apps, bus
        self.new_id, self.new_secret, self.now = new_id, new_secret, now

    def show(self, app: str) -> dict[str, Any]:
        self.apps.get_app(app)
        return view(self.store.notification_targets(app))

    def put(self, app: str, body: Any) -> dict[str, Any]:
        """Replace the app's targets: the new ones are made and recorded before the old ones go."""
        specs = rules.parse_targets(body)
        self.apps.get_app(app)
        old = self.store.notification_targets(app)
        made: list[dict[str, Any]] = []
        generated: dict[str, str] = {}
        try:
            for spec in specs:
                made.append(self._make(app, spec, generated))
            self.store.save_notification_targets(app, made, _iso(self.now()))
        except Exception:
            for target in made:
                self._remove(target)
            raise
        for target in old:
            self._remove(target)
        return view(made, generated)

    def test(self, app: str, by: str | None) -> dict[str, Any]:
        """Ask the notifier (through EventBridge, as every notification goes) to send a test
        notification to each of the app's targets."""
        self.apps.get_app(app)
        targets = self.store.notification_targets(app)
        if targets:
            self.bus.announce([{"app": app, "by": by, "at": _iso(self.now())}])
        return {"app": app, "targets": [t["id"] for t in targets], "sent": bool(targets)}

    def _make(self, app: str, spec: TargetSpec, generated: dict[str, str]) -> dict[str, Any]:
        target_id = self.new_id()
        target: dict[str, Any] = {"id": target_id, "type": spec.type, "url": spec.url, "events": list(spec.events)}
        if spec.type == "webhook":
            secret = spec.secret or self.new_secret()
            if spec.secret is None:
                generated[target_id] = secret
            target["secretPath"] = secret_path(app, target_id)
            self.secrets.put(target["secretPath"], secret)
        try:
            target["routes"] = self.routes.create(app, target_id, spec.type, spec.url)
        except Exception:
            self._remove(target)
            raise
        return target

    def _remove(self, target: dict[str, Any]) -> None:
        if target.get("routes"):
            self.routes.delete(target["routes"])
        if target.get("secretPath"):
            self.secrets.delete(target["secretPath"])


class Notifier:
    """One of Sprout's events in, a queued notification per target that wants it out."""

    def __init__(self, store: TargetStore, secrets: SecretReads, outbox: Outbox, now: Callable[[], float],
                 console_url: str | None = None):
        self.store, self.secrets, self.outbox, self.now, self.console_url = store, secrets, outbox, now, console_url

    def handle(self, detail_type: str, detail: dict[str, Any]) -> dict[str, Any]:
        test = detail_type == "Sprout Notification Test"
        name = rules.TEST_EVENT if test else rules.event_name(detail_type, detail)
        app = detail.get("app")
        if not name or not isinstance(app, str):
            return {"event": name, "sent": 0, "quiet": 0}
        now = self.now()
        out: list[tuple[str, str, str | None]] = []  # queue, message, the quiet window it claimed
        quiet = 0
        for target in self.store.notification_targets(app):
            if not test and name not in target.get("events", []):
                continue
            queue = (target.get("routes") or {}).get("queue")
            if not queue:
                continue  # made before pipes delivered notifications: PUT the targets again
            key = rules.quiet_key(target["id"], detail) if name.startswith("issue.") else None
            if key and not self.store.claim_quiet_window(app, key, now, rules.ISSUE_QUIET.total_seconds()):
                quiet += 1
                continue
            message = self._message(target, rules.notification(name, detail, _iso(now), self.console_url))
            if message is not None:
                out.append((str(queue), message, key))
            elif key:
                self.store.release_quiet_window(app, key, now)
        outcomes = self.outbox.send([(queue, message) for queue, message, _ in out]) if out else []
        failed = [key for (_, _, key), outcome in zip(out, outcomes, strict=True) if outcome == FAILED]
        for key in failed:
            if key:  # told nobody: the retry (or the next occurrence) may tell
                self.store.release_quiet_window(app, key, now)
        if failed:
            raise NotificationsNotQueued(f"{len(failed)} of {len(out)} notifications of {name} were not queued")
        return {"event": name, "app": app, "sent": outcomes.count(QUEUED), "quiet": quiet}

    def _message(self, target: dict[str, Any], body: dict[str, Any]) -> str | None:
        if target["type"] == "slack":
            return rules.slack_message(body)
        secret = self.secrets.read(target.get("secretPath") or "")
        if not secret:
            return None  # removed meanwhile: nothing to sign with, nothing sent unsigned
        return rules.webhook_message(secret, body)
