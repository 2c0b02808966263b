"""``sprout stages show``, ``deployments list|show``, ``changeset``, ``promote``, ``rollback`` and
``reconcile``."""

from __future__ import annotations

import json
from typing import Any

from sprout.cli import render
from sprout.cli.client import ApiError, SproutClient, SproutError, UnknownStage, api_path
from sprout.cli.commands import pipeline
from sprout.cli.commands.common import (
    Context,
    confirm,
    group,
    leaf,
    positive_float,
    positive_int,
    strategy_arg,
)
from sprout.cli.follow import Progress, follow_deployment


def add_parsers(sub: Any) -> None:
    stages = group(sub, "stages", "an app's stages: list, add, show, remove")
    show = leaf(stages, "show", stages_show, "what a stage runs: build, deployment, function versions, lock")
    show.add_argument("app", metavar="APP", help="the app's name")
    show.add_argument("stage", metavar="STAGE", help="the stage's name")
    pipeline.add_stage_commands(stages)

    deployments = group(sub, "deployments", "deployments of a stage")
    d_list = leaf(deployments, "list", deployments_list, "deployments of a stage, newest first")
    d_list.add_argument("app", metavar="APP", help="the app's name")
    d_list.add_argument("stage", metavar="STAGE", help="the stage's name")
    d_list.add_argument("--limit", type=positive_int, default=None, help="at most this many (default 25)")
    d_list.add_argument("--next-token", default=None, help="the next page, as the previous one printed")
    d_show = leaf(deployments, "show", deployments_show, "one deployment: trigger, versions, error")
    d_show.add_argument("app", metavar="APP", help="the app's name")
    d_show.add_argument("stage", metavar="STAGE", help="the stage's name")
    d_show.add_argument("id", metavar="ID", help="the deployment id, as `deployments list` prints it")

    for action, about in (("finish", "shift the rest of a canary's traffic now"),
                          ("abort", "abort a canary: every weight back to 0, the deployment FAILED"),
                          ("resume", "resume a canary paused INCONCLUSIVE")):
        control = leaf(deployments, action, deployments_control, about)
        control.add_argument("app", metavar="APP", help="the app's name")
        control.add_argument("stage", metavar="STAGE", help="the stage's name")
        control.add_argument("id", metavar="ID", help="the deployment id, as `deployments list` prints it")
        control.set_defaults(action=action)

    changeset = leaf(sub, "changeset", changeset_show, "what deploying a build to a stage would change")
    changeset.add_argument("app", metavar="APP", help="the app's name")
    changeset.add_argument("stage", metavar="STAGE", help="the stage's name")
    changeset.add_argument(
        "--build", type=positive_int, default=None, help="the build (default: what the stage before it runs)"
    )

    promote = leaf(
        sub,
        "promote",
        promote_run,
        "deploy a build to a stage after showing its change set",
        "Show the change set, ask to confirm (on a terminal; --yes skips it, and without a terminal a "
        "change set with major changes needs --yes), promote, and follow the deployment until it ends. "
        "Exit 1 when it fails.",
    )
    promote.add_argument("app", metavar="APP", help="the app's name")
    promote.add_argument("--to", required=True, dest="stage", metavar="STAGE", help="the stage to promote to")
    promote.add_argument(
        "--build", type=positive_int, default=None, help="the build (default: what the stage before it runs)"
    )
    add_go_options(promote)
    promote.add_argument("--force", action="store_true", help="promote a quarantined build anyway")
    promote.add_argument(
        "--strategy", default=None, metavar="STRATEGY",
        help="allAtOnce (default), a preset (canary10-10s, canary10-30s, canary10-1m, canary10-5m, canary25-30s, "
             "linear10-10s, linear25-30s, linear25-1m, linear50-1m) or a JSON object "
             '{"type": "canary"|"linear", "percent": P, "intervalSeconds": S, "steps": [..]}',
    )

    rollback = leaf(
        sub,
        "rollback",
        rollback_run,
        "put a stage back on an earlier build, without rebuilding",
        "Ask to confirm (on a terminal; without one, --yes is needed), roll back, and follow the "
        "deployment until it ends. Exit 1 when it fails.",
    )
    rollback.add_argument("app", metavar="APP", help="the app's name")
    rollback.add_argument("stage", metavar="STAGE", help="the stage's name")
    rollback.add_argument(
        "--build", type=positive_int, default=None, help="the build (default: the previous good deployment's)"
    )
    add_go_options(rollback)
    rollback.add_argument("--force", action="store_true", help="roll back to a quarantined build anyway")

    reconcile = leaf(
        sub,
        "reconcile",
        reconcile_run,
        "check a stage's record against its stack and live aliases, and repair it",
        "Compare what Sprout's record says the stage runs with what its stack and `live` aliases say; "
        "where the stack says which deployment runs, record it so. Prints what the record said, what "
        "the aliases say, and what was repaired. Exit 1 when they differ and nothing could be repaired.",
    )
    reconcile.add_argument("app", metavar="APP", help="the app's name")
    reconcile.add_argument("stage", metavar="STAGE", help="the stage's name")


def add_go_options(parser: Any) -> None:
    parser.add_argument("--yes", "-y", action="store_true", help="do not ask to confirm")
    parser.add_argument("--no-wait", action="store_true", help="start it and return without following it")
    parser.add_argument(
        "--timeout", type=positive_float, default=600.0, help="seconds to follow the deployment (default 600)"
    )


def stage_path(ctx: Context, *rest: object) -> str:
    return api_path("apps", ctx.args.app, "stages", ctx.args.stage, *rest)


def stages_show(ctx: Context) -> int:
    ctx.emit(ctx.client.request("GET", stage_path(ctx)), render.stage)
    return 0


def deployments_list(ctx: Context) -> int:
    query = {"limit": ctx.args.limit, "nextToken": ctx.args.next_token}
    ctx.emit(ctx.client.request("GET", stage_path(ctx, "deployments"), query=query), render.deployments)
    return 0


def deployments_show(ctx: Context) -> int:
    ctx.emit(ctx.client.request("GET", stage_path(ctx, "deployments", ctx.args.id)), render.deployment)
    return 0


def deployments_control(ctx: Context) -> int:
    """``sprout deployments finish|abort|resume``: asked of a canary in progress; its execution acts
    on it within seconds."""
    answer = ctx.client.request("POST", stage_path(ctx, "deployments", ctx.args.id, ctx.args.action), {})
    ctx.emit(answer, lambda a: f"{a.get('requested')} requested of deployment {a.get('deployment')}; "
                               f"`sprout deployments show {ctx.args.app} {ctx.args.stage} {a.get('deployment')}`")
    return 0


def source_build(client: SproutClient, app: str, stage: str) -> int:
    """The build the stage before ``stage`` in ``app``'s pipeline runs (what a promote takes)."""
    stages = client.stage_names(app)
    if stage not in stages:
        raise UnknownStage(f"app {app} has no stage {stage} (its stages: {', '.join(stages) or 'none'})")
    at = stages.index(stage)
    if at == 0:
        raise SproutError(
            f"{stage} is the first stage of {app}: no stage before it to promote from; pass --build N"
        )
    before = client.request("GET", api_path("apps", app, "stages", stages[at - 1]))
    number = (before.get("build") or {}).get("number") or (before.get("currentDeployment") or {}).get("build")
    if number is None:
        raise SproutError(
            f"{stages[at - 1]} runs no build yet, so there is nothing to promote to {stage}; pass --build N"
        )
    return int(number)


def get_changeset(ctx: Context) -> dict:
    args = ctx.args
    number = args.build or source_build(ctx.client, args.app, args.stage)
    return ctx.client.request("GET", stage_path(ctx, "changeset"), query={"build": number})


def changeset_show(ctx: Context) -> int:
    ctx.emit(get_changeset(ctx), render.changeset)
    return 0


def promote_run(ctx: Context) -> int:
    args = ctx.args
    changes = get_changeset(ctx)
    if not ctx.json:
        print(render.changeset(changes))
    confirm(
        f"Promote build {changes['build']} of {args.app} to {args.stage}?",
        required=bool(changes.get("confirmRequired")),
        yes=args.yes,
    )
    body: dict = {"build": changes["build"], "changesetId": changes.get("changesetId")}
    if args.force:
        body["force"] = True
    if args.strategy:
        body["strategy"] = strategy_arg(args.strategy)
    try:
        started = ctx.client.request("POST", stage_path(ctx, "promote"), body)
    except ApiError as e:
        fresh = e.body.get("changeset") if e.status == 409 and isinstance(e.body, dict) else None
        if not fresh:
            raise
        print(json.dumps(fresh, indent=2) if ctx.json else "\n" + render.changeset(fresh))
        raise SproutError(
            f"{args.stage} changed since that change set was made ({e.message}): the fresh one is above; "
            f"re-run `sprout promote {args.app} --to {args.stage}` to confirm it"
        ) from None
    return finish(ctx, {"changeset": changes, "promote": started}, started)


def rollback_run(ctx: Context) -> int:
    args = ctx.args
    now = ctx.client.request("GET", stage_path(ctx))
    running = (now.get("build") or {}).get("number") or (now.get("currentDeployment") or {}).get("build")
    target = f"build {args.build}" if args.build else "the build of its previous good deployment"
    if not ctx.json:
        print(
            f"{args.app}/{args.stage} runs build {running if running is not None else '(none)'}; "
            f"rolling back to {target}"
        )
    confirm(f"Roll {args.app}/{args.stage} back to {target}?", required=True, yes=args.yes)
    body = {"build": args.build} if args.build else {}
    if args.force:
        body["force"] = True
    started = ctx.client.request("POST", stage_path(ctx, "rollback"), body)
    return finish(ctx, {"rollback": started}, started)


def reconcile_run(ctx: Context) -> int:
    found = ctx.client.request("POST", stage_path(ctx, "reconcile"), {})
    ctx.emit(found, render.reconciled)
    return 1 if found.get("consistent") is False and not found.get("repaired") else 0


def finish(ctx: Context, result: dict, started: dict) -> int:
    """Follow the deployment that ``started`` (a 202 answer) began, print how it ended; 1 on FAILED."""
    args = ctx.args
    if args.no_wait:
        ctx.emit(
            result,
            lambda _: (
                f"started deployment {started.get('deployment')} of build {started.get('build')} "
                f"to {args.stage}; `sprout deployments show {args.app} {args.stage} {started.get('deployment')}`"
            ),
        )
        return 0
    progress = Progress()
    if ctx.json and not progress.tty:
        progress.show = lambda text: None  # type: ignore[method-assign]  # scripts read stdout only
    deployment_id = str(started["deployment"])
    try:
        deployment = follow_deployment(
            ctx.client, args.app, args.stage, deployment_id, timeout=args.timeout, progress=progress
        )
    except KeyboardInterrupt:
        raise SproutError(
            f"stopped following; deployment {deployment_id} goes on: "
            f"`sprout deployments show {args.app} {args.stage} {deployment_id}` shows it"
        ) from None
    ctx.emit({**result, "deployment": deployment}, lambda r: render.deployment_line(r["deployment"]))
    return 1 if deployment.get("status") == "FAILED" else 0
