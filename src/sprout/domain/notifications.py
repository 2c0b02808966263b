"""Notifications (issue 24): which of Sprout's events tell people what, in which words, signed how.

An app has notification targets: ``webhook`` (a JSON body naming the event, signed with the
target's secret) and ``slack`` (Slack's incoming-webhook payload). Each target subscribes to some
of ``EVENTS``. Sprout's own events (``Sprout Deployment State Change``, ``Sprout Build State
Change``, ``Sprout Issue State Change``) are mapped to those names here; the same issue tells one
target at most once per ``ISSUE_QUIET`` (the caller keeps that record).

Pure: no boto3, no clock (times are passed in)."""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import json
import re
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

from sprout.domain.errors import InvalidInput

EVENTS = ("build.failed", "deployment.failed", "deployment.rolledBack", "issue.new", "issue.regressed", "canary.aborted")
TEST_EVENT = "test"
TYPES = ("webhook", "slack")
MAX_TARGETS = 5
MAX_URL = 2048  # an API destination's InvocationEndpoint
ISSUE_QUIET = timedelta(minutes=30)
CANARY_ABORTED = "CanaryAborted"
MAX_TEXT = 1000  # per text field of a notification: a body stays far below EventBridge's 256 KB
SIGNATURE_HEADER = "X-Sprout-Signature"
# What each target's EventBridge pipe makes of a queued message (its SQS body is JSON, so Pipes
# parse it: "implicit body data parsing"). A template of one object variable alone would lose its
# quotes, so a webhook's notification is sent wrapped: {"notification": {...}} (see README).
# A webhook's body, key by key at its top level (``"event": "issue.new"``, app, stage, build...): a
# pipe's template inserts each value as JSON, null where the notification has none. (A template made
# of one object variable alone would lose its quotes, as the Pipes guide warns.)
WEBHOOK_FIELDS = ("event", "app", "stage", "build", "what", "at", "deployment", "issue", "link")
WEBHOOK_TEMPLATE = "{" + ",".join(f'"{k}":<$.body.notification.{k}>' for k in WEBHOOK_FIELDS) + "}"
SLACK_TEMPLATE = '{"text":<$.body.text>,"blocks":<$.body.blocks>}'
SIGNATURE_PATH = "$.body.signature"  # the header's value, taken from the message by the pipe

# what became of one notification sent to its target's queue (services.notifications.Outbox)
QUEUED, GONE, FAILED = "queued", "gone", "failed"


@dataclass(frozen=True)
class TargetSpec:
    type: str
    url: str
    events: tuple[str, ...]
    secret: str | None = None  # a webhook's secret as given (None: generate one)


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_url(field: str, url: Any) -> str:
    if not isinstance(url, str) or not url:
        raise InvalidInput(field, "is required (an https URL)")
    if len(url) > MAX_URL or any(c.isspace() or ord(c) < 32 for c in url):
        raise InvalidInput(field, f"must be a URL of at most {MAX_URL} characters, without spaces")
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        _ = parts.port
    except ValueError:
        raise InvalidInput(field, "is not a URL") from None
    if not host:
        raise InvalidInput(field, "has no host")
    if parts.username or parts.password:
        raise InvalidInput(field, "may not carry credentials (user:password@): give the webhook a secret instead")
    if "*" in url:
        raise InvalidInput(field, "may not contain '*'")
    if parts.scheme == "https":
        return url
    if parts.scheme == "http" and _is_loopback(host):
        return url
    raise InvalidInput(field, "must be https (plain http only to a loopback address)")


def parse_targets(body: Any) -> list[TargetSpec]:
    """The targets of a ``PUT /apps/{app}/notifications`` body; InvalidInput naming the field."""
    if not isinstance(body, dict):
        raise InvalidInput("body", "must be a JSON object with targets")
    unknown = sorted(set(body) - {"targets"})
    if unknown:
        raise InvalidInput(unknown[0], "is not a field of notifications")
    targets = body.get("targets")
    if not isinstance(targets, list):
        raise InvalidInput("targets", "must be a list")
    if len(targets) > MAX_TARGETS:
        raise InvalidInput("targets", f"at most {MAX_TARGETS} targets")
    out: list[TargetSpec] = []
    for i, t in enumerate(targets):
        at = f"targets[{i}]"
        if not isinstance(t, dict):
            raise InvalidInput(at, "must be an object")
        kind = t.get("type")
        if kind not in TYPES:
            raise InvalidInput(f"{at}.type", f"must be one of {', '.join(TYPES)}")
        allowed = {"type", "url", "events"} | ({"secret"} if kind == "webhook" else set())
        extra = sorted(set(t) - allowed)
        if extra:
            raise InvalidInput(f"{at}.{extra[0]}", f"is not a field of a {kind} target")
        url = check_url(f"{at}.url", t.get("url"))
        events = t.get("events", None if kind == "webhook" else list(EVENTS))
        if not isinstance(events, list) or not events:
            raise InvalidInput(f"{at}.events", f"must be a non-empty list of {', '.join(EVENTS)}")
        for j, e in enumerate(events):
            if e not in EVENTS:
                raise InvalidInput(f"{at}.events[{j}]", f"unknown event (one of {', '.join(EVENTS)})")
        secret = t.get("secret")
        if secret is not None and (not isinstance(secret, str) or not 16 <= len(secret) <= 256
                                   or not secret.isprintable()):
            raise InvalidInput(f"{at}.secret", "must be 16 to 256 printable characters")
        out.append(TargetSpec(kind, url, tuple(dict.fromkeys(events)), secret))
    return out


def shown_url(kind: str, url: str) -> str:
    """A target's URL as GET shows it: a Slack incoming webhook's path is its secret; a query
    string may hold a token."""
    parts = urlsplit(url)
    if kind == "slack":
        return f"{parts.scheme}://{parts.netloc}/…"
    return f"{parts.scheme}://{parts.netloc}{parts.path}" + ("?…" if parts.query else "")


# ---- Sprout's events -> notification names ------------------------------------------------------

def event_name(detail_type: str, detail: dict[str, Any]) -> str | None:
    """The notification event one of Sprout's events is, or None (e.g. a deploy that succeeded)."""
    status = detail.get("status")
    if detail_type == "Sprout Deployment State Change":
        if status == "FAILED":
            failure = detail.get("failure") or {}
            if failure.get("error") == CANARY_ABORTED:
                return "canary.aborted"
            return "deployment.failed"
        if status == "SUCCEEDED" and detail.get("kind") in ("rollback", "auto-rollback"):
            return "deployment.rolledBack"
        return None
    if detail_type == "Sprout Build State Change":
        return "build.failed" if status == "FAILED" else None
    if detail_type == "Sprout Issue State Change":
        name = detail.get("event")
        return name if name in ("issue.new", "issue.regressed") else None
    return None


def _cut(value: Any, limit: int = MAX_TEXT) -> str:
    text = "" if value is None else str(value)
    return text if len(text) <= limit else text[:limit] + "…"


def what_happened(name: str, detail: dict[str, Any]) -> str:
    app, stage = detail.get("app"), detail.get("stage")
    if name.startswith("issue."):
        issue = detail.get("issue") or {}
        build = detail.get("build")
        word = "new" if name == "issue.new" else "back (regressed)"
        return _cut(f"{issue.get('title') or issue.get('kind') or 'an error'} is {word} in build #{build} on {app}/{stage}")
    if name == "build.failed":
        failure = detail.get("failure") or {}
        return _cut(f"build #{detail.get('buildNumber')} of {app} failed"
                    + (f" at {failure['step']}" if failure.get("step") else "")
                    + (f": {failure.get('error')}" if failure.get("error") else ""))
    if name == "deployment.rolledBack":
        by = "by itself (an alarm fired)" if detail.get("auto") else "by hand"
        return _cut(f"{app}/{stage} was rolled back {by} to build #{detail.get('build')}")
    if name == "canary.aborted":
        return _cut(f"the canary of build #{detail.get('build')} on {app}/{stage} was aborted: "
                    f"{(detail.get('failure') or {}).get('cause') or 'its alarm fired'}")
    if name == "deployment.failed":
        failure = detail.get("failure") or {}
        return _cut(f"deployment {detail.get('deploymentId')} of build #{detail.get('build')} to {app}/{stage} failed"
                    + (f": {failure.get('error')}" if failure.get("error") else ""))
    return _cut(f"a test notification for {app}")


def notification(name: str, detail: dict[str, Any], at: str, console_url: str | None) -> dict[str, Any]:
    """The webhook body: the event's name, app, stage, build and what happened (and a link)."""
    app, stage = detail.get("app"), detail.get("stage")
    build = detail.get("build") if detail.get("build") is not None else detail.get("buildNumber")
    body: dict[str, Any] = {**dict.fromkeys(WEBHOOK_FIELDS), "event": name, "app": app, "stage": stage, "build": build,
                            "what": what_happened(name, detail), "at": at}  # every field there: null where none
    if detail.get("deploymentId"):
        body["deployment"] = {"id": detail["deploymentId"], "kind": detail.get("kind"), "status": detail.get("status"),
                              "auto": bool(detail.get("auto"))}
    if name.startswith("issue."):
        issue = detail.get("issue") or {}
        body["issue"] = {k: _cut(issue[k], 300) if isinstance(issue[k], str) else issue[k]
                         for k in ("id", "title", "kind", "status", "count", "firstSeen", "lastSeen") if k in issue}
    link = console_link(console_url, app, stage, detail)
    if link:
        body["link"] = link
    cleaned: dict[str, Any] = plain(body)
    return cleaned


_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f]")


def plain(value: Any) -> Any:
    """``value`` with every string valid UTF-8 and without control characters but tab and newline:
    the characters JSON serialisers escape alike, so the bytes a pipe sends are the bytes signed."""
    if isinstance(value, str):
        return _CONTROL.sub(" ", value.encode("utf-8", "replace").decode("utf-8"))
    if isinstance(value, dict):
        return {plain(str(k)): plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain(v) for v in value]
    return value


def console_link(console_url: str | None, app: Any, stage: Any, detail: dict[str, Any]) -> str | None:
    if not console_url or not app:
        return None
    base = console_url.rstrip("/")
    if stage and detail.get("deploymentId"):
        return f"{base}/apps/{app}/stages/{stage}/deployments/{detail['deploymentId']}"
    if stage:
        return f"{base}/apps/{app}/stages/{stage}/deployments"
    return f"{base}/apps/{app}"


def slack_payload(body: dict[str, Any]) -> dict[str, Any]:
    """Slack's incoming-webhook payload (``text`` for notifications, ``blocks`` for the message)."""
    where = f"{body.get('app')}" + (f"/{body.get('stage')}" if body.get("stage") else "")
    title = f"[{body['event']}] {where}" + (f" build #{body['build']}" if body.get("build") is not None else "")
    text = f"{title}: {body['what']}"
    blocks: list[dict[str, Any]] = [
        {"type": "section", "text": {"type": "mrkdwn", "text": f"*{_escape(title)}*\n{_escape(body['what'])}"}},
    ]
    if body.get("link"):
        blocks.append({"type": "actions", "elements": [
            {"type": "button", "text": {"type": "plain_text", "text": "Open in Sprout"}, "url": body["link"]}]})
    return {"text": text, "blocks": blocks}


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


# ---- bytes and signatures -------------------------------------------------------------------------

def canonical(body: Any) -> str:
    """Minified JSON, keys in order, UTF-8 unescaped: how a pipe's template inserts an object."""
    return json.dumps(body, separators=(",", ":"), ensure_ascii=False)


def sent_body(body: dict[str, Any]) -> str:
    """The bytes a webhook receives for ``body``: ``WEBHOOK_TEMPLATE`` filled in (every field, in
    its order, null where the notification has none)."""
    return canonical({k: body.get(k) for k in WEBHOOK_FIELDS})


def webhook_message(secret: str, body: dict[str, Any]) -> str:
    """The queued message for a webhook's pipe: the notification and the signature of the bytes
    the pipe will send (header ``X-Sprout-Signature``, from ``SIGNATURE_PATH``)."""
    return canonical({"notification": body, "signature": sign(secret, sent_body(body))})


def slack_message(body: dict[str, Any]) -> str:
    """The queued message for a Slack target's pipe (``SLACK_TEMPLATE`` picks text and blocks)."""
    return canonical(slack_payload(body))


def sign(secret: str, text: str) -> str:
    return "sha256=" + hmac.new(secret.encode(), text.encode("utf-8"), hashlib.sha256).hexdigest()


def verify(secret: str, text: str, signature: str) -> bool:
    return hmac.compare_digest(sign(secret, text), signature or "")


def quiet_key(target_id: str, detail: dict[str, Any]) -> str | None:
    """What the once-per-30-minutes limit counts: the target and the issue (None: no limit)."""
    issue = (detail.get("issue") or {}).get("id")
    if not issue:
        return None
    return f"{target_id}#{detail.get('stage')}#{issue}"
