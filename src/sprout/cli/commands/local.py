"""``sprout local up``: the local cloud with Sprout deployed on it, run by ``python -m localcloud``
in place of this process (src/sprout never imports localcloud: it is a tool beside the product)."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

from sprout.cli.client import STACK_NAME

SOURCE_ROOT = Path(__file__).resolve().parents[4]
UP_HELP = (
    "start the offline local cloud in the foreground, with Sprout's template.yaml deployed as stack sprout"
)


def add_parsers(sub: Any) -> None:
    local = sub.add_parser("local", help="the offline local cloud", description="The offline local cloud.")
    verbs = local.add_subparsers(dest="action", required=True)
    # its options are localcloud's (`sprout local up --help` shows them): main() passes them on
    verbs.add_parser(
        "up",
        add_help=False,
        help=UP_HELP + " (`sprout local up --help` lists its options)",
        description=UP_HELP,
    )
    for verb, text in KEEPING.items():
        verbs.add_parser(verb, add_help=False, help=text + f" (`sprout local {verb} --help`)", description=text)


KEEPING = {
    "export": "write the local cloud kept in --data-dir (stopped) to FILE, to move it to another machine",
    "import": "bring a local cloud from FILE (an export) into an empty --data-dir",
    "reset": "empty --data-dir after asking: the next `sprout local up` starts a new local cloud",
}


def local_verb(action: str, rest: list[str]) -> None:
    """``sprout local export|import|reset``: ``python -m localcloud <action>`` with ``rest``."""
    os.execv(sys.executable, [sys.executable, "-m", "localcloud", action, *rest])


def local_up(rest: list[str]) -> None:
    """Run ``python -m localcloud up`` with ``rest``, plus ``--stack sprout=template.yaml`` unless
    ``--no-sprout``; ``--help`` prints what sprout adds, then localcloud's own help."""
    if "-h" in rest or "--help" in rest:
        print(
            "usage: sprout local up [--no-sprout] [localcloud up options]\n\n"
            f"{UP_HELP[0].upper() + UP_HELP[1:]} (default http://127.0.0.1:4566); prints\n"
            "`localcloud ready <endpoint>` then `stack sprout ready ApiUrl=… …`. Ctrl-C stops it.\n\n"
            "options added by sprout:\n"
            "  --no-sprout           the bare local cloud, without Sprout deployed\n\n"
            "localcloud up's own options:",
            flush=True,
        )
        os.execv(sys.executable, [sys.executable, "-m", "localcloud", "up", "--help"])
    argv = ["up", *(a for a in rest if a != "--no-sprout")]
    if "--no-sprout" not in rest:
        template = SOURCE_ROOT / "template.yaml"
        if not template.is_file():
            sys.exit(
                f"sprout local up: Sprout's template.yaml is not at {template}; run it from a source checkout"
            )
        argv += ["--stack", f"{STACK_NAME}={template}"]
    os.execv(sys.executable, [sys.executable, "-m", "localcloud", *argv])
