"""``--smoke`` for every bench: the same code path at the smallest size that still exercises it.

A smoke run checks that a bench works (CI runs every one: ``make bench-smoke``), never how fast:
its figures mean nothing, and a target it misses is not a failure. A bench fails (non-zero exit)
when what it measures does not happen (a build fails, an event never comes), at any size.
"""

from __future__ import annotations

import argparse


def parse(parser: argparse.ArgumentParser, argv: list[str] | None = None, **smoke: object) -> argparse.Namespace:
    """``parser``'s arguments (``argv``, else the command line's) plus ``--smoke``, which sets each of
    ``smoke``'s options (by dest) to its value, whatever else was given."""
    sizes = " ".join(f"--{dest.replace('_', '-')} {value}" for dest, value in smoke.items())
    parser.add_argument(
        "--smoke", action="store_true",
        help=f"check that the bench works, in seconds, not how fast it is (as {sizes})",
    )
    args = parser.parse_args(argv)
    if args.smoke:
        for dest, value in smoke.items():
            if not hasattr(args, dest):
                raise AttributeError(f"--smoke sets {dest}, which this bench has no option for")
            setattr(args, dest, value)
    return args
