"""``sprout access-logs``, ``metrics``, ``logs``, ``functions list`` and ``auto-rollback``."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from sprout.cli import render_monitoring as show
from sprout.cli.client import api_path
from sprout.cli.commands.common import Context, group, leaf, positive_float, positive_int
from sprout.cli.follow import EntryFollower, follow

ACCESS_LOG_VERBS = ("enable", "disable", "settings", "show")
TIME_HELP = "ISO 8601 time or a duration back from now (15m, 2h, 1d, 30s)"


def add_parsers(sub: Any) -> None:
    logs = group(sub, "access-logs", "API Gateway access logs of a stage (no verb: show)")
    leaf(logs, "enable", access_logs_enable, "turn access logs on (role, log group, stage settings)")
    leaf(logs, "disable", access_logs_disable, "turn access logs off (the logs are kept)")
    leaf(logs, "settings", access_logs_settings, "whether access logs are on, and where they go")
    show_logs = leaf(
        logs, "show", access_logs_show, "access-log entries, newest last; `sprout access-logs APP STAGE` too"
    )
    for parser in logs.choices.values():
        parser.add_argument("app", metavar="APP", help="the app's name")
        parser.add_argument("stage", metavar="STAGE", help="the stage's name")
    show_logs.add_argument("--status", default=None, help="5xx, 4xx, 2xx or an exact code such as 502")
    add_window(show_logs, since_default="15m")
    add_paging(show_logs, follow_help="keep printing new entries as they arrive (Ctrl-C stops)")

    metrics = leaf(sub, "metrics", metrics_show, "API metrics of a stage, or a function's Lambda metrics")
    metrics.add_argument("app", metavar="APP", help="the app's name")
    metrics.add_argument("stage", metavar="STAGE", help="the stage's name")
    metrics.add_argument(
        "--function", metavar="FN", default=None, help="a function's logical id or a unique short form"
    )
    add_window(metrics, since_default="1h")
    metrics.add_argument(
        "--period", type=positive_int, default=None, help="seconds per datapoint (default: the API's)"
    )
    metrics.add_argument("--no-chart", action="store_true", help="the table only")

    fn_logs = leaf(sub, "logs", logs_show, "a function's log events, newest last")
    fn_logs.add_argument("app", metavar="APP", help="the app's name")
    fn_logs.add_argument("stage", metavar="STAGE", help="the stage's name")
    fn_logs.add_argument(
        "function", metavar="FN", help="its logical id (CreateNoteFunction) or a unique short form (create)"
    )
    fn_logs.add_argument(
        "--errors", action="store_true", help="only failures: exceptions, timeouts, ERROR lines"
    )
    add_window(fn_logs, since_default="15m")
    add_paging(fn_logs, follow_help="keep printing new events as they arrive (Ctrl-C stops)")

    functions = group(sub, "functions", "the functions of a stage")
    fn_list = leaf(functions, "list", functions_list, "a stage's functions and the version behind `live`")
    fn_list.add_argument("app", metavar="APP", help="the app's name")
    fn_list.add_argument("stage", metavar="STAGE", help="the stage's name")

    watch = group(sub, "auto-rollback", "roll a stage back by itself when its alarms fire")
    enable = leaf(watch, "enable", auto_rollback_enable, "watch the stage with alarms (turns access logs on)")
    leaf(watch, "disable", auto_rollback_disable, "stop watching the stage (removes Sprout's alarms)")
    leaf(watch, "show", auto_rollback_show, "whether the stage is watched, its alarms and their states")
    for parser in watch.choices.values():
        parser.add_argument("app", metavar="APP", help="the app's name")
        parser.add_argument("stage", metavar="STAGE", help="the stage's name")
    enable.add_argument(
        "--error-threshold",
        type=positive_int,
        default=None,
        help="errors in one period that can trigger it (API default 5)",
    )
    enable.add_argument(
        "--error-rate",
        type=positive_float,
        default=None,
        help="share of failing requests in one period, as the API takes it (API default: 20 %%)",
    )
    enable.add_argument(
        "--period-seconds",
        type=positive_int,
        default=None,
        help="the fast alarm's period in seconds (API default 10)",
    )


def add_window(parser: Any, since_default: str) -> None:
    parser.add_argument("--since", default=since_default, help=f"from ({TIME_HELP}; default {since_default})")
    parser.add_argument("--until", default=None, help=f"to ({TIME_HELP}; default now)")


def add_paging(parser: Any, follow_help: str) -> None:
    parser.add_argument("--limit", type=positive_int, default=None, help="at most this many per page")
    parser.add_argument(
        "--next-token", default=None, help="the next (older) page, as the previous one printed"
    )
    parser.add_argument("--follow", "-f", action="store_true", help=follow_help)
    parser.add_argument(
        "--every", type=positive_float, default=2.0, help="seconds between polls with --follow"
    )


def default_access_logs_verb(argv: list[str]) -> list[str]:
    """``sprout access-logs APP STAGE …`` means ``sprout access-logs show APP STAGE …``."""
    at = command_index(argv)
    if at is None or argv[at] != "access-logs" or at + 1 >= len(argv):
        return argv
    nxt = argv[at + 1]
    if nxt in ACCESS_LOG_VERBS or nxt.startswith("-"):
        return argv
    return [*argv[: at + 1], "show", *argv[at + 1 :]]


def command_index(argv: list[str]) -> int | None:
    """Where the command word is, past the options given before it (``--api-url URL``, ``--json``)."""
    i = 0
    while i < len(argv):
        if argv[i] == "--api-url":
            i += 2
        elif argv[i].startswith("-"):
            i += 1
        else:
            return i
    return None


def stage_path(ctx: Context, *rest: object) -> str:
    return api_path("apps", ctx.args.app, "stages", ctx.args.stage, *rest)


def put_access_logs(ctx: Context, enabled: bool) -> int:
    ctx.emit(
        ctx.client.request("PUT", stage_path(ctx, "access-logs"), {"enabled": enabled}),
        show.access_log_settings,
    )
    return 0


def access_logs_enable(ctx: Context) -> int:
    return put_access_logs(ctx, True)


def access_logs_disable(ctx: Context) -> int:
    return put_access_logs(ctx, False)


def access_logs_settings(ctx: Context) -> int:
    ctx.emit(ctx.client.request("GET", stage_path(ctx, "access-logs", "settings")), show.access_log_settings)
    return 0


def iso_ms(epoch_ms: int) -> str:
    return (
        datetime.fromtimestamp(epoch_ms / 1000, tz=UTC).strftime("%Y-%m-%dT%H:%M:%S.")
        + f"{epoch_ms % 1000:03d}Z"
    )


def access_log_stamp(entry: dict) -> str | None:
    epoch = show.entry_epoch_ms(entry)
    return iso_ms(epoch) if epoch is not None else None


def access_logs_show(ctx: Context) -> int:
    args = ctx.args
    query = {"status": args.status, "until": args.until, "limit": args.limit}
    return listing(
        ctx,
        lambda since, token: ctx.client.request(
            "GET", stage_path(ctx, "access-logs"), query={**query, "since": since, "nextToken": token}
        ),
        items="entries",
        key=lambda e: e.get("requestId") or json.dumps(e, sort_keys=True),
        stamp=access_log_stamp,
        text=show.access_log_entries,
        follow_text=show.access_log_lines,
    )


def logs_show(ctx: Context) -> int:
    args = ctx.args
    query = {"errors": "true" if args.errors else None, "until": args.until, "limit": args.limit}
    path = stage_path(ctx, "functions", args.function, "logs")
    return listing(
        ctx,
        lambda since, token: ctx.client.request(
            "GET", path, query={**query, "since": since, "nextToken": token}
        ),
        items="events",
        key=lambda e: (e.get("timestamp"), e.get("logStream"), e.get("message")),
        stamp=lambda e: e.get("timestamp"),
        text=show.log_events,
        follow_text=show.log_events,
    )


def listing(
    ctx: Context,
    fetch: Callable[[str | None, str | None], dict],
    items: str,
    key: Callable[[dict], Any],
    stamp: Callable[[dict], str | None],
    text: Callable[[list[dict]], str],
    follow_text: Callable[[list[dict]], str],
) -> int:
    """One page (a table, or the JSON), or with ``--follow`` that page and then each new entry as
    it comes (``--json``: one JSON line per entry)."""
    args = ctx.args
    if not args.follow:
        page = fetch(args.since, args.next_token)
        if ctx.json:
            print(json.dumps(page, indent=2))
        else:
            print(text(page.get(items, [])))
            if page.get("nextToken"):
                print(f"(older: --next-token {page['nextToken']})")
        return 0
    follower = EntryFollower(fetch, items, key, stamp)

    def emit(entries: list[dict]) -> None:
        if ctx.json:
            for entry in entries:
                print(json.dumps(entry))
        elif entries:
            print(follow_text(list(reversed(entries))))  # the renderers take the API's newest-first order
        sys.stdout.flush()

    if sys.stderr.isatty():
        print(f"(following: new entries every {args.every:g} s; Ctrl-C stops)", file=sys.stderr)
    try:
        follow(follower, emit, args.since, every=args.every)
    except KeyboardInterrupt:
        return 0
    return 0


def metrics_show(ctx: Context) -> int:
    args = ctx.args
    query = {"since": args.since, "until": args.until, "period": args.period}
    color = sys.stdout.isatty()
    width = None if args.no_chart else 72
    if args.function:
        path = stage_path(ctx, "functions", args.function, "metrics")
        ctx.emit(
            ctx.client.request("GET", path, query=query), lambda b: show.function_metrics(b, width, color)
        )
    else:
        ctx.emit(
            ctx.client.request("GET", stage_path(ctx, "metrics"), query=query),
            lambda b: show.api_metrics(b, width, color),
        )
    return 0


def functions_list(ctx: Context) -> int:
    ctx.emit(ctx.client.request("GET", stage_path(ctx, "functions")), show.functions)
    return 0


def auto_rollback_enable(ctx: Context) -> int:
    args = ctx.args
    body: dict = {"enabled": True}
    for field, value in (
        ("errorThreshold", args.error_threshold),
        ("errorRate", args.error_rate),
        ("periodSeconds", args.period_seconds),
    ):
        if value is not None:
            body[field] = value
    ctx.emit(ctx.client.request("PUT", stage_path(ctx, "auto-rollback"), body), show.auto_rollback)
    return 0


def auto_rollback_disable(ctx: Context) -> int:
    ctx.emit(
        ctx.client.request("PUT", stage_path(ctx, "auto-rollback"), {"enabled": False}), show.auto_rollback
    )
    return 0


def auto_rollback_show(ctx: Context) -> int:
    ctx.emit(ctx.client.request("GET", stage_path(ctx, "auto-rollback")), show.auto_rollback)
    return 0
