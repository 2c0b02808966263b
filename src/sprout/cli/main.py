"""The ``sprout`` command: a client of Sprout's HTTP API, plus ``sprout local`` for the local cloud.

This module parses and dispatches; the commands live in ``sprout.cli.commands.*``, what they print
in ``sprout.cli.render*``. Every failure ends in one line on stderr saying what is wrong and what to
do, with exit status 1 (2 for usage errors); never a traceback.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from sprout.cli.client import ApiError, SproutError, one_line
from sprout.cli.commands import (
    apps,
    console,
    delivery,
    issues,
    local,
    monitoring,
    notifications,
    pipeline,
    stage_settings,
)
from sprout.cli.commands.apps import stage_flag
from sprout.cli.commands.common import Context

_stage = stage_flag  # the name older tests import


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="sprout",
        description="Sprout: deliver serverless apps. A client of Sprout's API (SigV4-signed with your AWS "
        "credentials), plus `sprout local` for the offline local cloud.",
        epilog="`sprout COMMAND --help` lists a command's options. Exit status: 0 done, 1 failed, 2 usage error.",
    )
    parser.add_argument(
        "--api-url",
        default=None,
        help="Sprout's API URL (default: $SPROUT_API_URL, or the ApiUrl output of stack $SPROUT_STACK_NAME, "
        "default sprout)",
    )
    parser.add_argument("--json", action="store_true", help="print the API's raw JSON")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    local.add_parsers(sub)
    apps.add_parsers(sub)
    delivery.add_parsers(sub)
    stage_settings.add_parsers(sub)
    monitoring.add_parsers(sub)
    pipeline.add_parsers(sub)
    issues.add_parsers(sub)
    notifications.add_parsers(sub)
    console.add_parsers(sub)
    return parser


_parser = build_parser  # the name older tests import


def run(argv: list[str]) -> int:
    parser = build_parser()
    args, extra = parser.parse_known_args(monitoring.default_access_logs_verb(argv))
    if args.command == "local":
        if args.action != "up":
            local.local_verb(args.action, extra)  # does not return
        local.local_up(extra)  # does not return
    if extra:
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    return args.handler(Context(args))


def explain(e: ApiError) -> str:
    """One line for an API refusal: what the API said, and what to do about it."""
    body = e.body if isinstance(e.body, dict) else {}
    message = e.message
    if e.status == 400:
        field = body.get("field")
        return message + (f" (field {field})" if field and str(field) not in message else "")
    if e.status == 404:
        if "build" in message.lower():
            return f"{message}; `sprout builds list APP` lists an app's builds"
        if "function" in message.lower():
            return f"{message}; `sprout functions list APP STAGE` lists a stage's functions"
        if "deployment" in message.lower():
            return f"{message}; `sprout deployments list APP STAGE` lists a stage's deployments"
        return f"{message}; `sprout apps list` lists the apps, `sprout apps show APP` an app's stages"
    if e.status == 409:
        holder = body.get("holder")
        if isinstance(holder, dict):
            message += (
                f" (held by deployment {holder.get('deployment')} since {holder.get('since')}, lease until "
                f"{holder.get('expiresAt')}); retry when it ends: `sprout stages show APP STAGE` shows the lock"
            )
        return message
    if e.status in (401, 403):
        if "Missing Authentication Token" in message and e.path:
            return (
                f"Sprout's API has no route {e.method} {e.path}: is the deployed Sprout older than this "
                "CLI, or --api-url not Sprout's API?"
            )
        return (
            f"Sprout's API refused the request: {message}; check your AWS credentials (AWS_ACCESS_KEY_ID / "
            "AWS_PROFILE): the caller needs execute-api:Invoke on Sprout's API"
        )
    if e.status >= 500:
        return f"Sprout's API failed (HTTP {e.status}): {message}; retry, and if it persists read its logs"
    return f"{message} (HTTP {e.status})"


def fail(message: str, status: int = 1) -> None:
    print(f"sprout: {one_line(message, 500)}", file=sys.stderr)
    sys.exit(status)


def main(argv: Sequence[str] | None = None) -> None:
    try:
        sys.exit(run(list(sys.argv[1:] if argv is None else argv)))
    except ApiError as e:
        fail(explain(e))
    except (SproutError, TimeoutError) as e:
        fail(str(e))
    except KeyboardInterrupt:
        fail("interrupted", 130)
    except BrokenPipeError:
        # the reader went away (`sprout … | head`): say nothing more, on a stdout that cannot flush
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        sys.exit(1)
    except Exception as e:  # the last resort: a bug, said in one line all the same
        fail(
            f"unexpected {type(e).__name__}: {one_line(e, 200)} (a bug in sprout: please report it with the "
            "command you ran)"
        )
