"""What every command shares: the common options, the lazily built client, printing, confirming."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sprout.cli.client import SproutClient, SproutError, discover_api_url

Handler = Callable[["Context"], int]


@dataclass
class Context:
    """One run of a command: its parsed arguments and, once asked for, its API client."""

    args: argparse.Namespace
    _client: SproutClient | None = field(default=None, repr=False)

    @property
    def client(self) -> SproutClient:
        if self._client is None:
            self._client = SproutClient(self.args.api_url or discover_api_url())
        return self._client

    @property
    def json(self) -> bool:
        return bool(self.args.json)

    def emit(self, result: Any, render: Callable[[Any], str]) -> None:
        """``result`` as JSON with ``--json``, else as ``render`` puts it for people."""
        print(json.dumps(result, indent=2) if self.json else render(result))


def add_common(parser: argparse.ArgumentParser) -> None:
    """``--api-url`` and ``--json`` on a command too (``sprout builds list notes --json``); SUPPRESS
    keeps a value given before the command (``sprout --json builds list notes``)."""
    group = parser.add_argument_group("common options")
    group.add_argument(
        "--api-url",
        default=argparse.SUPPRESS,
        help="Sprout's API URL (default: $SPROUT_API_URL, or the ApiUrl output of stack $SPROUT_STACK_NAME, "
        "default sprout)",
    )
    group.add_argument(
        "--json", action="store_true", default=argparse.SUPPRESS, help="print the API's raw JSON"
    )


def leaf(
    sub: Any, name: str, handler: Handler, help: str, description: str | None = None
) -> argparse.ArgumentParser:
    parser = sub.add_parser(name, help=help, description=description or help)
    add_common(parser)
    parser.set_defaults(handler=handler)
    return parser


def group(sub: Any, name: str, help: str) -> Any:
    """A command made of subcommands (``sprout builds list|show|…``)."""
    parser = sub.add_parser(name, help=help, description=help)
    return parser.add_subparsers(dest="action", required=True)


def positive_int(text: str) -> int:
    """A whole number ≥ 1 written in ASCII digits (``²`` and ``-1`` are refused as usage errors)."""
    if not (text.isascii() and text.isdigit()) or int(text) < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number ≥ 1")
    return int(text)


def positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"{text!r} is not a number > 0")
    return value


def confirm(question: str, *, required: bool, yes: bool) -> None:
    """Ask ``question`` on a terminal unless ``yes``; without a terminal, go on only when no confirm
    is ``required``. SproutError when the person says no or cannot be asked."""
    if yes:
        return
    if sys.stdin.isatty():
        # asked on stderr, so that stdout stays what the command prints (`--json … | jq` included),
        # once what it printed so far (the change set) is out
        sys.stdout.flush()
        print(f"{question} [y/N] ", end="", file=sys.stderr, flush=True)
        answer = sys.stdin.readline()
        if not answer.endswith("\n"):  # end of input (Ctrl-D): end the prompt's line
            print(file=sys.stderr)
        if answer.strip().lower() not in ("y", "yes"):
            raise SproutError("not confirmed: nothing changed")
        return
    if required:
        raise SproutError(
            f"{question[:-1] if question.endswith('?') else question}: this needs a confirm and "
            "stdin is not a terminal; re-run with --yes to confirm"
        )


def strategy_arg(text: str) -> Any:
    """--strategy: a preset's name as it is, or a JSON object (the API checks either)."""
    if text.lstrip().startswith("{"):
        try:
            return json.loads(text)
        except ValueError as e:
            raise SproutError(f"--strategy is not a JSON object: {e}") from None
    return text
