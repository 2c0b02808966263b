"""The ``sprout`` command.

``sprout local ...`` hands over to the local cloud's own command line in a fresh interpreter
(src/sprout never imports localcloud: the local cloud is a tool beside the product, not part of it).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence


def main(argv: Sequence[str] | None = None) -> None:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = argparse.ArgumentParser(prog="sprout", description="Sprout: deliver serverless apps.")
    sub = parser.add_subparsers(dest="command", required=True)
    local = sub.add_parser("local", help="the offline local cloud (development, tests, demo)", add_help=False)
    local.add_argument("rest", nargs=argparse.REMAINDER)
    args = parser.parse_args(argv)
    if args.command == "local":
        os.execv(sys.executable, [sys.executable, "-m", "localcloud", *args.rest])
