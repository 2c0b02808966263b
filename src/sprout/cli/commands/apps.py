"""``sprout apps create|list|show`` and ``sprout builds list|show|wait|start``."""

from __future__ import annotations

import argparse
from typing import Any

from sprout.cli import render
from sprout.cli.client import SproutError, api_path
from sprout.cli.commands import pipeline
from sprout.cli.commands.common import Context, group, leaf, positive_float, positive_int
from sprout.domain.changeset import masked_config


def stage_flag(text: str) -> dict:
    """``name[:branch[:auto]]`` → a stage; e.g. ``dev:main:auto``, ``prod``."""
    parts = text.split(":")
    if not parts[0] or len(parts) > 3 or (len(parts) == 3 and parts[2] not in ("auto", "manual")):
        raise argparse.ArgumentTypeError(f"stage {text!r}: expected name[:branch[:auto|manual]]")
    stage: dict = {"name": parts[0]}
    if len(parts) > 1 and parts[1]:
        stage["branch"] = parts[1]
    if len(parts) == 3:
        stage["autoDeploy"] = parts[2] == "auto"
    return stage


def add_parsers(sub: Any) -> None:
    apps = group(sub, "apps", "register and inspect apps")
    create = leaf(apps, "create", apps_create, "register an app")
    create.add_argument(
        "name", metavar="APP", help="the app's name (part of its stacks' names: <app>-<stage>)"
    )
    create.add_argument("--repository", required=True, help="its CodeCommit repository")
    create.add_argument(
        "--template-path", default=None, help="its SAM template in the repository (default template.yaml)"
    )
    create.add_argument(
        "--stage",
        dest="stages",
        action="append",
        type=stage_flag,
        help="name[:branch[:auto|manual]], repeated in pipeline order (default: dev:main:auto then prod)",
    )
    leaf(apps, "list", apps_list, "list the registered apps")
    show = leaf(apps, "show", apps_show, "show an app and its stages")
    show.add_argument("name", metavar="APP", help="the app's name")
    pipeline.add_app_commands(apps)

    builds = group(sub, "builds", "start and inspect builds")
    b_list = leaf(builds, "list", builds_list, "builds of an app, newest first")
    b_list.add_argument("app", metavar="APP", help="the app's name")
    b_list.add_argument("--limit", type=positive_int, default=None, help="at most this many (default 25)")
    b_list.add_argument("--next-token", default=None, help="the next page, as the previous one printed")
    b_show = leaf(builds, "show", builds_show, "one build: functions, hashes, failure, where it is deployed")
    b_show.add_argument("app", metavar="APP", help="the app's name")
    b_show.add_argument("number", metavar="N", type=positive_int, help="the build number")
    b_wait = leaf(
        builds,
        "wait",
        builds_wait,
        "wait until a build has failed, or succeeded (and deployed to --stage); exit 1 on failure",
    )
    b_wait.add_argument("app", metavar="APP", help="the app's name")
    b_wait.add_argument("number", metavar="N", type=positive_int, help="the build number")
    b_wait.add_argument("--stage", default=None, help="also wait for its deployment to this stage to finish")
    b_wait.add_argument("--timeout", type=positive_float, default=600.0, help="seconds (default 600)")
    b_lock = leaf(builds, "lockfile", builds_lockfile,
                  "print the lockfile a build resolved for a package.json committed without one")
    b_lock.add_argument("app", metavar="APP", help="the app's name")
    b_lock.add_argument("number", metavar="N", type=positive_int, help="the build number")
    b_lock.add_argument("manifest", metavar="MANIFEST", nargs="?", default=None,
                        help="the package.json's path in the repository (default: the only one)")
    b_start = leaf(builds, "start", builds_start, "build a branch's head or a commit")
    b_start.add_argument("app", metavar="APP", help="the app's name")
    which = b_start.add_mutually_exclusive_group(required=True)
    which.add_argument("--branch", help="build the head of this branch")
    which.add_argument("--commit", help="build this commit (full id)")


def apps_create(ctx: Context) -> int:
    args = ctx.args
    body: dict = {"name": args.name, "repository": args.repository}
    if args.template_path:
        body["templatePath"] = args.template_path
    if args.stages:
        body["stages"] = args.stages
    ctx.emit(ctx.client.request("POST", "/apps", body), lambda a: "registered " + render.app(a) + _started(a))
    return 0


def _started(a: dict) -> str:
    """The builds registering started: the branch heads its stages follow."""
    lines = [
        f"\nbuilding {b.get('branch')} at {(b.get('commit') or '')[:12]} as build {b.get('build')}; "
        f"`sprout builds wait {a['name']} {b.get('build')}` follows it"
        for b in a.get("builds") or []
    ]
    return "".join(lines)


def apps_list(ctx: Context) -> int:
    ctx.emit(ctx.client.request("GET", "/apps"), render.apps)
    return 0


def apps_show(ctx: Context) -> int:
    ctx.emit(ctx.client.request("GET", api_path("apps", ctx.args.name)), render.app)
    return 0


def builds_list(ctx: Context) -> int:
    query = {"limit": ctx.args.limit, "nextToken": ctx.args.next_token}
    ctx.emit(ctx.client.request("GET", api_path("apps", ctx.args.app, "builds"), query=query), render.builds)
    return 0


def builds_show(ctx: Context) -> int:
    build = ctx.client.request("GET", api_path("apps", ctx.args.app, "builds", ctx.args.number))
    # environment values masked as the API masks them, also with --json (and an older API)
    build["functions"] = [{**f, "config": masked_config(f.get("config"))} for f in build.get("functions") or []]
    ctx.emit(build, render.build)
    return 0


def builds_wait(ctx: Context) -> int:
    args = ctx.args
    try:
        result = ctx.client.wait_for_build(args.app, args.number, args.stage, args.timeout)
    except TimeoutError as e:
        raise SproutError(f"{e}; `sprout builds show {args.app} {args.number}` shows where it is") from None
    ctx.emit(result, render.build)
    deployment = (result.get("deployedTo") or {}).get(args.stage or "") or {}
    return 1 if result["status"] == "FAILED" or deployment.get("status") == "FAILED" else 0


def builds_lockfile(ctx: Context) -> int:
    args = ctx.args
    query = {"manifest": args.manifest} if args.manifest else None
    result = ctx.client.request("GET", api_path("apps", args.app, "builds", args.number, "lockfile"), query=query)
    ctx.emit(result, lambda r: r["content"].rstrip("\n"))
    return 0


def builds_start(ctx: Context) -> int:
    args = ctx.args
    body = {"branch": args.branch} if args.branch else {"commit": args.commit}
    result = ctx.client.request("POST", api_path("apps", args.app, "builds"), body)
    ctx.emit(
        result,
        lambda r: (
            f"building {r.get('app')} at {(r.get('commitId') or '')[:12]}"
            + (f" ({r['branch']})" if r.get("branch") else "")
            + (f" as build {r['build']}; `sprout builds wait {args.app} {r['build']}` follows it"
               if r.get("build") else f"; `sprout builds list {args.app}` shows it")
        ),
    )
    return 0
