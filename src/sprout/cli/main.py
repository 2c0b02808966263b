"""The ``sprout`` command: a client of Sprout's HTTP API, plus ``sprout local`` for the local cloud.

``sprout local ...`` hands over to the local cloud's own command line in a fresh interpreter
(src/sprout never imports localcloud: the local cloud is a tool beside the product, not part of it).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from sprout.cli.client import STACK_NAME, ApiError, SproutClient, discover_api_url


def _stage(text: str) -> dict:
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


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="sprout", description="Sprout: deliver serverless apps.")
    parser.add_argument(
        "--api-url", help="Sprout's API URL (default: $SPROUT_API_URL, or the stack's ApiUrl output)"
    )
    parser.add_argument("--json", action="store_true", help="print raw JSON")
    sub = parser.add_subparsers(dest="command", required=True)

    local = sub.add_parser(
        "local",
        help="`sprout local up [--port N] [--data-dir D] [--no-sprout]`: the offline local cloud, with Sprout deployed on it",
        add_help=False,
    )
    local.add_argument("rest", nargs=argparse.REMAINDER)

    apps = sub.add_parser("apps", help="register and inspect apps").add_subparsers(
        dest="action", required=True
    )
    create = apps.add_parser("create", help="register an app")
    create.add_argument("name")
    create.add_argument("--repository", required=True, help="its CodeCommit repository")
    create.add_argument(
        "--template-path", default=None, help="its SAM template in the repository (default template.yaml)"
    )
    create.add_argument(
        "--stage",
        dest="stages",
        action="append",
        type=_stage,
        help="name[:branch[:auto|manual]], in pipeline order (default: dev:main:auto then prod)",
    )
    apps.add_parser("list", help="list apps")
    show = apps.add_parser("show", help="show an app")
    show.add_argument("name")

    builds = sub.add_parser("builds", help="start and inspect builds").add_subparsers(
        dest="action", required=True
    )
    b_list = builds.add_parser("list", help="builds of an app, newest first")
    b_list.add_argument("app")
    b_list.add_argument("--limit", type=int, default=None)
    b_list.add_argument("--next-token", default=None)
    b_show = builds.add_parser("show", help="one build: functions, hashes, failure, where it is deployed")
    b_show.add_argument("app")
    b_show.add_argument("number", type=int)
    b_wait = builds.add_parser(
        "wait", help="wait until a build has failed, or succeeded (and deployed to --stage)"
    )
    b_wait.add_argument("app")
    b_wait.add_argument("number", type=int)
    b_wait.add_argument("--stage", default=None, help="also wait for its deployment to this stage to finish")
    b_wait.add_argument("--timeout", type=float, default=600.0, help="seconds (default 600)")
    b_start = builds.add_parser("start", help="build a branch's head or a commit")
    b_start.add_argument("app")
    which = b_start.add_mutually_exclusive_group(required=True)
    which.add_argument("--branch")
    which.add_argument("--commit")

    deployments = sub.add_parser("deployments", help="deployments of a stage").add_subparsers(
        dest="action", required=True
    )
    d_list = deployments.add_parser("list", help="deployments of a stage, newest first")
    d_list.add_argument("app")
    d_list.add_argument("stage")
    return parser


def _print_builds(body: dict) -> None:
    print(f"{'#':>5}  {'status':<10} {'commit':<12} {'branch':<16} message")
    for b in body["builds"]:
        print(
            f"{b['number']:>5}  {b['status']:<10} {b['commitId'][:12]:<12} {(b.get('branch') or '-'):<16} {b.get('message', '').splitlines()[0] if b.get('message') else ''}"
        )
    if body.get("nextToken"):
        print(f"(more: --next-token {body['nextToken']})")


def _print_build(b: dict) -> None:
    print(f"build {b['number']}  {b['status']}")
    print(f"  commit   {b['commitId']}  ({b.get('branch') or 'no branch'})")
    if b.get("message"):
        print(f"  message  {b['message'].splitlines()[0]}")
    if b.get("author"):
        print(f"  author   {b['author']}")
    for f in b.get("functions", []):
        print(f"  function {f['logicalId']:<28} sha256 {f['sha256'][:16]}…")
    if b.get("failure"):
        f = b["failure"]
        print(f"  FAILED at {f.get('step')}: {f.get('error')}: {f.get('cause')}")
    for stage, d in (b.get("deployedTo") or {}).items():
        print(f"  deployed to {stage} (deployment {d['id']}, {d['status']})")


def _run(args: argparse.Namespace) -> int:
    client = SproutClient(args.api_url or discover_api_url())
    if args.command == "apps":
        if args.action == "create":
            body = {"name": args.name, "repository": args.repository}
            if args.template_path:
                body["templatePath"] = args.template_path
            if args.stages:
                body["stages"] = args.stages
            result = client.request("POST", "/apps", body)
        elif args.action == "list":
            result = client.request("GET", "/apps")
        else:
            result = client.request("GET", f"/apps/{args.name}")
    elif args.command == "builds":
        if args.action == "list":
            result = client.request(
                "GET", f"/apps/{args.app}/builds", query={"limit": args.limit, "nextToken": args.next_token}
            )
            if not args.json:
                _print_builds(result)
                return 0
        elif args.action in ("show", "wait"):
            if args.action == "show":
                result = client.request("GET", f"/apps/{args.app}/builds/{args.number}")
            else:
                result = client.wait_for_build(args.app, args.number, args.stage, args.timeout)
            if args.json:
                print(json.dumps(result, indent=2))
            else:
                _print_build(result)
            if args.action == "show":
                return 0
            deployment = (result.get("deployedTo") or {}).get(args.stage or "") or {}
            return 1 if result["status"] == "FAILED" or deployment.get("status") == "FAILED" else 0
        else:
            body = {"branch": args.branch} if args.branch else {"commit": args.commit}
            result = client.request("POST", f"/apps/{args.app}/builds", body)
    else:
        result = client.request("GET", f"/apps/{args.app}/stages/{args.stage}/deployments")
    print(json.dumps(result, indent=2))
    return 0


SOURCE_ROOT = Path(__file__).resolve().parents[3]


def _local(rest: list[str]) -> None:
    """Start the local cloud with Sprout's own template.yaml deployed as stack ``sprout``
    (``--no-sprout``: the bare cloud). Runs ``python -m localcloud`` in place of this process."""
    argv = [a for a in rest if a != "--no-sprout"]
    if argv[:1] == ["up"] and "--no-sprout" not in rest:
        template = SOURCE_ROOT / "template.yaml"
        if not template.is_file():
            sys.exit(
                f"sprout local up: Sprout's template.yaml is not at {template} (run from a source checkout)"
            )
        argv += ["--stack", f"{STACK_NAME}={template}"]
    os.execv(sys.executable, [sys.executable, "-m", "localcloud", *argv])


def main(argv: Sequence[str] | None = None) -> None:
    args = _parser().parse_args(list(sys.argv[1:] if argv is None else argv))
    if args.command == "local":
        _local(args.rest)
    try:
        sys.exit(_run(args))
    except (ApiError, TimeoutError) as e:
        print(f"sprout: {e}", file=sys.stderr)
        sys.exit(1)
