"""``sprout issues list|show|resolve|ignore``: the errors grouped from a stage's function logs."""

from __future__ import annotations

from typing import Any

from sprout.cli.client import api_path
from sprout.cli.commands.common import Context, group, leaf, positive_int
from sprout.cli.render import table, when

STATUSES = ("open", "resolved", "ignored", "regressed")


def add_parsers(sub: Any) -> None:
    issues = group(sub, "issues", "errors grouped from a stage's function logs, with the build that brought each")
    listing = leaf(issues, "list", issues_list, "a stage's issues, most recently seen first")
    show = leaf(issues, "show", issues_show, "an issue: counts per build, samples, the deployments around it")
    resolve = leaf(issues, "resolve", issues_resolve, "mark an issue resolved (it regresses if it happens again)")
    ignore = leaf(issues, "ignore", issues_ignore, "ignore an issue (counted on, never told again)")
    for parser in issues.choices.values():
        parser.add_argument("app", metavar="APP", help="the app's name")
        parser.add_argument("stage", metavar="STAGE", help="the stage's name")
    for parser in (show, resolve, ignore):
        parser.add_argument("issue", metavar="ID", help="the issue's id (`sprout issues list APP STAGE`)")
    listing.add_argument("--status", choices=STATUSES, default=None, help="only issues with this status")
    listing.add_argument("--build", type=positive_int, default=None, help="only issues new in this build")
    listing.add_argument("--limit", type=positive_int, default=None, help="issues per page (API default 25)")
    listing.add_argument("--next-token", default=None, help="the page after the one that gave this token")


def _path(ctx: Context, *rest: str) -> str:
    return api_path("apps", ctx.args.app, "stages", ctx.args.stage, "issues", *rest)


def render_list(answer: dict) -> str:
    rows = answer.get("issues") or []
    out = table(rows, [
        ("ID", lambda i: i.get("id")), ("STATUS", lambda i: i.get("status")),
        ("NEW IN", lambda i: f"build #{i['newInBuild']}" if i.get("newInBuild") else None),
        ("COUNT", lambda i: i.get("count")), ("LAST SEEN", lambda i: when(i.get("lastSeen"))),
        ("ISSUE", lambda i: i.get("title")),
    ], empty="(no issues)")
    for gap in answer.get("notSubscribed") or []:
        out += f"\nnot grouped: {gap.get('function')} ({gap.get('reason')})"
    if answer.get("nextToken"):
        out += f"\nmore: --next-token {answer['nextToken']}"
    return out


def render_issue(issue: dict) -> str:
    first = issue.get("firstSeen") or {}
    lines = [
        f"{issue.get('title')}  [{issue.get('status')}]",
        f"id {issue.get('id')}, {issue.get('count')} occurrences, last seen {when(issue.get('lastSeen'))}",
        f"new in build #{first.get('build')} (deployment {first.get('deployment')}, function {first.get('function')}, "
        f"{when(first.get('at'))})",
    ]
    if issue.get("countsByBuild"):
        lines += ["", table(issue["countsByBuild"], [("BUILD", lambda c: c["build"]), ("COUNT", lambda c: c["count"])])]
    if issue.get("deployments"):
        lines += ["", table(issue["deployments"], [
            ("DEPLOYMENT", lambda d: d["id"]), ("BUILD", lambda d: d["build"]), ("KIND", lambda d: d["kind"]),
            ("STATUS", lambda d: d["status"]), ("STARTED", lambda d: when(d["startedAt"])),
            ("", lambda d: "<- first seen" if d.get("firstSeenHere") else ""),
        ])]
    for sample in issue.get("samples") or []:
        lines += ["", f"--- {when(sample.get('at'))} {sample.get('function')} build #{sample.get('build')}",
                  str(sample.get("message", ""))]
    return "\n".join(lines)


def issues_list(ctx: Context) -> int:
    a = ctx.args
    query = {"status": a.status, "build": a.build, "limit": a.limit, "nextToken": a.next_token}
    ctx.emit(ctx.client.request("GET", _path(ctx), query=query), render_list)
    return 0


def issues_show(ctx: Context) -> int:
    ctx.emit(ctx.client.request("GET", _path(ctx, ctx.args.issue)), render_issue)
    return 0


def _set(ctx: Context, status: str) -> int:
    answer = ctx.client.request("PATCH", _path(ctx, ctx.args.issue), {"status": status})
    ctx.emit(answer, lambda i: f"{i.get('title')}: {i.get('status')}")
    return 0


def issues_resolve(ctx: Context) -> int:
    return _set(ctx, "resolved")


def issues_ignore(ctx: Context) -> int:
    return _set(ctx, "ignored")
