"""``sprout notifications set|show|test``: who hears about an app's failed builds and deployments,
rollbacks, new and regressed issues and aborted canaries.

``set`` replaces the app's targets: ``--webhook URL[,EVENT...]`` and ``--slack URL[,EVENT...]``, each
repeatable (a Slack target without events gets every event; a webhook names its events). A
webhook's secret is generated unless ``--secret`` gives it (for the first webhook given), and is
printed once."""

from __future__ import annotations

from typing import Any

from sprout.cli.client import api_path
from sprout.cli.commands.common import Context, group, leaf
from sprout.cli.render import table

EVENTS = ("build.failed", "deployment.failed", "deployment.rolledBack", "issue.new", "issue.regressed", "canary.aborted")


def add_parsers(sub: Any) -> None:
    notifications = group(sub, "notifications", "an app's notification targets (webhooks, Slack)")
    put = leaf(notifications, "set", notifications_set, "replace the app's notification targets")
    leaf(notifications, "show", notifications_show, "the app's notification targets (secrets never shown)")
    leaf(notifications, "test", notifications_test, "send a test notification to each target")
    for parser in notifications.choices.values():
        parser.add_argument("app", metavar="APP", help="the app's name")
    put.add_argument("--webhook", action="append", default=[], metavar="URL,EVENT[,EVENT...]",
                     help=f"a webhook and its events ({', '.join(EVENTS)}); repeatable")
    put.add_argument("--slack", action="append", default=[], metavar="URL[,EVENT...]",
                     help="a Slack incoming webhook (and its events: all when none); repeatable")
    put.add_argument("--secret", default=None, help="the first webhook's secret (default: generated, printed once)")


def targets_of(webhooks: list[str], slacks: list[str], secret: str | None) -> list[dict[str, Any]]:
    targets: list[dict[str, Any]] = []
    for i, spec in enumerate(webhooks):
        url, *events = [p.strip() for p in spec.split(",")]
        target: dict[str, Any] = {"type": "webhook", "url": url, "events": events}
        if secret and i == 0:
            target["secret"] = secret
        targets.append(target)
    for spec in slacks:
        url, *events = [p.strip() for p in spec.split(",")]
        targets.append({"type": "slack", "url": url, **({"events": events} if events else {})})
    return targets


def render(answer: dict) -> str:
    rows = answer.get("targets") or []
    out = table(rows, [("ID", lambda t: t.get("id")), ("TYPE", lambda t: t.get("type")),
                       ("URL", lambda t: t.get("url")), ("EVENTS", lambda t: ", ".join(t.get("events") or []))],
                empty="(no notification targets)")
    for t in rows:
        secret = t.get("secret")
        if secret and not secret.startswith("set "):
            out += f"\nsecret of {t['id']} (shown once): {secret}"
    return out


def notifications_set(ctx: Context) -> int:
    a = ctx.args
    body = {"targets": targets_of(a.webhook, a.slack, a.secret)}
    ctx.emit(ctx.client.request("PUT", api_path("apps", a.app, "notifications"), body), render)
    return 0


def notifications_show(ctx: Context) -> int:
    ctx.emit(ctx.client.request("GET", api_path("apps", ctx.args.app, "notifications")), render)
    return 0


def notifications_test(ctx: Context) -> int:
    answer = ctx.client.request("POST", api_path("apps", ctx.args.app, "notifications", "test"), {})
    ctx.emit(answer, lambda r: f"test notification asked for {len(r.get('targets') or [])} target(s)")
    return 0
