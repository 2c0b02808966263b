"""The local cloud's command line: ``up`` starts it in the foreground until SIGINT or SIGTERM."""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
from collections.abc import Callable, Sequence

from localcloud.cloud import LocalCloud, PortInUse


def up(port: int, data_dir: str, on_ready: Callable[[LocalCloud], None] | None = None) -> int:
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    cloud = LocalCloud(port=port, data_dir=data_dir)
    try:
        cloud.start()
    except PortInUse as e:
        print(f"localcloud: cannot start: {e}", file=sys.stderr)
        return 2
    try:
        print(f"localcloud ready {cloud.endpoint}", flush=True)
        if on_ready is not None:
            on_ready(cloud)
        stop.wait()
    finally:
        cloud.stop()
    print("localcloud stopped", flush=True)
    return 0


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="localcloud", description="The offline AWS that Sprout runs on.")
    sub = parser.add_subparsers(dest="command", required=True)
    p_up = sub.add_parser("up", help="start the local cloud in the foreground")
    p_up.add_argument("--port", type=int, default=4566, help="port to listen on (0 picks a free one)")
    p_up.add_argument("--data-dir", default=".localcloud", help="where the local cloud writes its files")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    sys.exit(up(args.port, args.data_dir))
