"""``sprout settings show|set``, ``sprout secrets set|list|remove`` and ``sprout redeploy``: a
stage's settings and secrets (issue 22). A secret's value is read from a prompt or stdin, never
from an argument (shell history keeps arguments), and is never printed."""

from __future__ import annotations

import getpass
import sys
from typing import Any

from sprout.cli import render
from sprout.cli.client import SproutError, api_path
from sprout.cli.commands.common import Context, confirm, group, leaf
from sprout.cli.commands.delivery import add_go_options, finish, stage_path


def _app_stage(parser: Any) -> None:
    parser.add_argument("app", metavar="APP", help="the app's name")
    parser.add_argument("stage", metavar="STAGE", help="the stage's name")


def add_parsers(sub: Any) -> None:
    settings = group(sub, "settings", "a stage's settings: template Parameter values")
    _app_stage(leaf(settings, "show", settings_show, "a stage's settings"))
    s_set = leaf(settings, "set", settings_set, "set (NAME=value) or remove (--remove NAME) settings",
                 "Merge into the stage's settings; applied at the next deploy (`sprout redeploy APP STAGE`).")
    _app_stage(s_set)
    s_set.add_argument("pairs", nargs="*", metavar="NAME=value", help="settings to set")
    s_set.add_argument("--remove", action="append", default=[], metavar="NAME", help="a setting to remove")

    secrets = group(sub, "secrets", "a stage's secrets: SecureStrings in Parameter Store")
    x_set = leaf(secrets, "set", secrets_set, "set a secret, its value read from a prompt or stdin",
                 "The value is read from a prompt (on a terminal) or from stdin (one line), never from an "
                 "argument. Functions see a new value within their cache age: no deploy needed.")
    _app_stage(x_set)
    x_set.add_argument("name", metavar="NAME", help="the secret's name (a template Parameter's name)")
    _app_stage(leaf(secrets, "list", secrets_list, "a stage's secrets: names, versions, who and when"))
    x_rm = leaf(secrets, "remove", secrets_remove, "remove a secret")
    _app_stage(x_rm)
    x_rm.add_argument("name", metavar="NAME", help="the secret's name")

    redeploy = leaf(sub, "redeploy", redeploy_run, "deploy the build a stage runs again, with its settings as they are",
                    "Show the configuration change (settings old → new), ask to confirm, redeploy (a deployment "
                    "of kind config, rolled back like any other) and follow it. Exit 1 when it fails.")
    _app_stage(redeploy)
    add_go_options(redeploy)


def _settings_text(s: dict) -> str:
    values = s.get("values") or {}
    lines = [f"{s.get('app')}/{s.get('stage')}: {len(values)} setting{'s' if len(values) != 1 else ''}"]
    lines += [f"  {k} = {v}" for k, v in values.items()]
    if s.get("secrets"):
        lines.append(f"secrets: {', '.join(s['secrets'])}")
    inherited = s.get("inherited")
    if inherited:  # a preview: what it takes from its app's previews' inheritFrom
        lines.append(f"inherited from {inherited.get('from')}"
                     + ("" if inherited.get("secrets") else " (settings only: the last stage's secrets never reach a preview)") + ":")
        lines += [f"  {k} = {v}" for k, v in (inherited.get("values") or {}).items()]
        if inherited.get("secretNames"):
            lines.append(f"  secrets: {', '.join(inherited['secretNames'])}")
    return "\n".join(lines)


def settings_show(ctx: Context) -> int:
    ctx.emit(ctx.client.request("GET", stage_path(ctx, "settings")), _settings_text)
    return 0


def settings_set(ctx: Context) -> int:
    values: dict[str, Any] = {}
    for pair in ctx.args.pairs:
        name, sep, value = pair.partition("=")
        if not sep:
            raise SproutError(f"{pair!r}: write NAME=value (or --remove NAME)")
        values[name] = value
    for name in ctx.args.remove:
        values[name] = None
    if not values:
        raise SproutError("nothing to set: give NAME=value pairs or --remove NAME")
    ctx.emit(ctx.client.request("PUT", stage_path(ctx, "settings"), {"values": values}), _settings_text)
    return 0


def read_secret(prompt: str, stdin: Any = None) -> str:
    """The value: from a prompt without echo on a terminal, else stdin's first line."""
    stdin = stdin or sys.stdin
    if stdin.isatty():
        value = getpass.getpass(prompt)
    else:
        value = stdin.readline().rstrip("\r\n")
    if not value:
        raise SproutError("no value given (type it at the prompt, or pipe it on stdin)")
    return value


def secrets_set(ctx: Context) -> int:
    args = ctx.args
    value = read_secret(f"value of {args.name} for {args.app}/{args.stage}: ")
    stored = ctx.client.request("PUT", stage_path(ctx, "secrets", args.name), {"value": value})
    ctx.emit(stored, lambda s: f"{args.app}/{args.stage}: secret {s.get('name')} version {s.get('version')} stored at {s.get('path')}")
    return 0


def _secrets_text(found: dict) -> str:
    rows = found.get("secrets") or []
    if not rows:
        return f"{found.get('app')}/{found.get('stage')}: no secrets"
    lines = [f"{'NAME':<24} {'VERSION':<8} {'WHEN':<25} BY"]
    lines += [f"{r.get('name'):<24} {render.cell(r.get('version')):<8} {render.cell(r.get('at')):<25} {render.cell(r.get('by'))}"
              for r in rows]
    return "\n".join(lines)


def secrets_list(ctx: Context) -> int:
    ctx.emit(ctx.client.request("GET", stage_path(ctx, "secrets")), _secrets_text)
    return 0


def secrets_remove(ctx: Context) -> int:
    args = ctx.args
    ctx.emit(ctx.client.request("DELETE", stage_path(ctx, "secrets", args.name)),
             lambda _: f"{args.app}/{args.stage}: secret {args.name} removed")
    return 0


def redeploy_run(ctx: Context) -> int:
    args = ctx.args
    now = ctx.client.request("GET", stage_path(ctx))
    running = (now.get("build") or {}).get("number") or (now.get("currentDeployment") or {}).get("build")
    if running is None:
        raise SproutError(f"{args.app}/{args.stage} runs no build yet: nothing to redeploy")
    changes = ctx.client.request("GET", api_path("apps", args.app, "stages", args.stage, "changeset"),
                                 query={"build": running})
    if not ctx.json:
        lines = render.configuration_lines(changes.get("configuration")) or ["configuration: no changes"]
        print(f"{args.app}/{args.stage}: redeploy build {running}\n" + "\n".join(lines))
    confirm(f"Redeploy build {running} to {args.app}/{args.stage}?", required=True, yes=args.yes)
    started = ctx.client.request("POST", stage_path(ctx, "redeploy"), {})
    return finish(ctx, {"changeset": changes, "redeploy": started}, started)
