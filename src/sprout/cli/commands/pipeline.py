"""``sprout stages list|add|remove|strategy``, ``sprout apps delete`` and ``sprout previews
enable|disable|show``: the pipeline after registration (joined to the ``stages`` and ``apps``
groups by delivery.py and apps.py)."""

from __future__ import annotations

from typing import Any

from sprout.cli.client import api_path
from sprout.cli.commands.common import Context, confirm, group, leaf, positive_int, strategy_arg

STRATEGY_HELP = "a preset (canary10-1m, linear25-30s, ...) or a JSON object {type, percent, intervalSeconds, steps}"


def add_stage_commands(stages: Any) -> None:
    s_list = leaf(stages, "list", stages_list, "the app's stages in pipeline order, previews after them")
    s_list.add_argument("app", metavar="APP", help="the app's name")
    add = leaf(stages, "add", stages_add, "add a stage to the app's pipeline (its stack <app>-<stage> is claimed)")
    add.add_argument("app", metavar="APP", help="the app's name")
    add.add_argument("stage", metavar="STAGE", help="the new stage's name")
    add.add_argument("--branch", default=None, help="the branch it follows")
    add.add_argument("--auto-deploy", action="store_true", help="deploy every push of --branch")
    add.add_argument("--after", default=None, help="the stage it comes after (default: last before the previews)")
    add.add_argument("--strategy", default=None, metavar="STRATEGY", help=STRATEGY_HELP)
    strategy = leaf(stages, "strategy", stages_strategy,
                    "set a stage's strategy: its promotes' default, and a push's deploys once it runs a build")
    strategy.add_argument("app", metavar="APP", help="the app's name")
    strategy.add_argument("stage", metavar="STAGE", help="the stage's name")
    strategy.add_argument("strategy", metavar="STRATEGY", help=STRATEGY_HELP + "; allAtOnce: none")
    rm = leaf(stages, "remove", stages_remove,
              "remove a stage: its stack and what Sprout made for it are deleted; its history stays")
    rm.add_argument("app", metavar="APP", help="the app's name")
    rm.add_argument("stage", metavar="STAGE", help="the stage's name")
    rm.add_argument("--yes", "-y", action="store_true", help="do not ask to confirm")


def add_app_commands(apps: Any) -> None:
    delete = leaf(apps, "delete", apps_delete,
                  "delete an app: every stage removed, then the app (its repository and build artifacts are kept)")
    delete.add_argument("name", metavar="APP", help="the app's name")
    delete.add_argument("--yes", "-y", action="store_true", help="do not ask to confirm")


def add_parsers(sub: Any) -> None:
    previews = group(sub, "previews", "preview stages for branches and pull requests")
    enable = leaf(previews, "enable", previews_enable, "turn preview stages on")
    enable.add_argument("app", metavar="APP", help="the app's name")
    enable.add_argument("--branches", metavar="GLOB", default=None,
                        help="branches that get a preview (a glob: feature/*); omit for none")
    enable.add_argument("--pull-requests", action="store_true", help="pull requests get a preview")
    enable.add_argument("--target", dest="targets", action="append", default=None,
                        help="a pull request's destination branch that gets previews (repeat; default: the first stage's)")
    enable.add_argument("--inherit-from", default=None, help="the stage whose settings previews inherit")
    enable.add_argument("--limit", type=positive_int, default=None, help="at most this many live previews (default 10)")
    disable = leaf(previews, "disable", previews_disable, "turn preview stages off (live ones stay until removed)")
    disable.add_argument("app", metavar="APP", help="the app's name")
    show = leaf(previews, "show", previews_show, "the app's preview settings")
    show.add_argument("app", metavar="APP", help="the app's name")


def _stage_line(s: dict) -> str:
    preview = s.get("preview") or {}
    what = f"follows {s['branch']}" + (" (auto-deploy)" if s.get("autoDeploy") else "") if s.get("branch") else "promote-only"
    if preview:
        what = (f"preview of pull request {preview.get('pullRequestId')}" if preview.get("kind") == "pullRequest"
                else f"preview of branch {preview.get('branch')}") + f", since {preview.get('createdAt')}"
    state = " REMOVING" if s.get("removing") else (" locked" if s.get("lock") else "")
    return f"{s['name']:<26}{what}{state}  deployment {s.get('currentDeployment') or '-'}"


def stages_list(ctx: Context) -> int:
    ctx.emit(ctx.client.request("GET", api_path("apps", ctx.args.app, "stages")),
             lambda r: "\n".join(_stage_line(s) for s in r["stages"]) or "no stages")
    return 0


def stages_add(ctx: Context) -> int:
    args = ctx.args
    body: dict = {"name": args.stage, "autoDeploy": bool(args.auto_deploy)}
    if args.branch:
        body["branch"] = args.branch
    if args.after:
        body["after"] = args.after
    if args.strategy:
        body["strategy"] = strategy_arg(args.strategy)
    ctx.emit(ctx.client.request("POST", api_path("apps", args.app, "stages"), body),
             lambda a: f"added {args.stage}: pipeline " + " → ".join(s["name"] for s in a["stages"]))
    return 0


def stages_strategy(ctx: Context) -> int:
    args = ctx.args
    result = ctx.client.request("PATCH", api_path("apps", args.app, "stages", args.stage),
                                {"strategy": strategy_arg(args.strategy)})
    ctx.emit(result, lambda r: f"{args.app}/{args.stage}: " + (
        f"{(r['strategy'] or {}).get('preset') or r['strategy']['type']}, steps {r['strategy']['steps']} % every "
        f"{r['strategy']['intervalSeconds']} s" if r.get("strategy") else "all at once"))
    return 0


def stages_remove(ctx: Context) -> int:
    args = ctx.args
    confirm(f"Remove stage {args.stage} of {args.app}, deleting its stack {args.app}-{args.stage}?",
            required=True, yes=args.yes)
    result = ctx.client.request("DELETE", api_path("apps", args.app, "stages", args.stage))
    ctx.emit(result, lambda r: f"removing {args.app}/{args.stage} (execution {(r.get('removal') or {}).get('execution')}); "
                               f"`sprout stages show {args.app} {args.stage}` says when it is removed")
    return 0


def apps_delete(ctx: Context) -> int:
    args = ctx.args
    confirm(f"Delete app {args.name} and every stage's stack?", required=True, yes=args.yes)
    result = ctx.client.request("DELETE", api_path("apps", args.name))
    ctx.emit(result, lambda r: f"deleting {args.name}: stages {', '.join(r.get('stages') or []) or '-'} being removed; "
                               f"{r.get('kept')}")
    return 0


def _show(r: dict) -> str:
    branches, prs = r.get("branches") or {}, r.get("pullRequests") or {}
    return "\n".join([
        f"branches       {'on, ' + branches.get('pattern', '') if branches.get('enabled') else 'off'}",
        f"pull requests  {'on, into ' + (', '.join(prs.get('targets') or []) or 'the first stage branch') if prs.get('enabled') else 'off'}",
        f"inherit from   {r.get('inheritFrom') or '-'}",
        f"limit          {r.get('limit')}",
    ])


def previews_enable(ctx: Context) -> int:
    args = ctx.args
    body: dict = {"branches": {"enabled": bool(args.branches), **({"pattern": args.branches} if args.branches else {})},
                  "pullRequests": {"enabled": bool(args.pull_requests), **({"targets": args.targets} if args.targets else {})}}
    if args.inherit_from:
        body["inheritFrom"] = args.inherit_from
    if args.limit is not None:
        body["limit"] = args.limit
    ctx.emit(ctx.client.request("PUT", api_path("apps", args.app, "previews"), body), _show)
    return 0


def previews_disable(ctx: Context) -> int:
    body = {"branches": {"enabled": False}, "pullRequests": {"enabled": False}}
    ctx.emit(ctx.client.request("PUT", api_path("apps", ctx.args.app, "previews"), body), _show)
    return 0


def previews_show(ctx: Context) -> int:
    ctx.emit(ctx.client.request("GET", api_path("apps", ctx.args.app, "previews")), _show)
    return 0
