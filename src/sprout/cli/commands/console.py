"""``sprout console``: serve the web console on 127.0.0.1 (a client of the same API as the CLI)."""

from __future__ import annotations

import errno
import sys
import webbrowser
from typing import Any

from sprout.cli.client import SproutError
from sprout.cli.commands.common import Context, leaf


def add_parsers(sub: Any) -> None:
    parser = leaf(
        sub,
        "console",
        console_run,
        "serve the web console on 127.0.0.1",
        "Serve Sprout's web console on 127.0.0.1 only: the pipeline, change sets, promote and rollback, "
        "access logs, logs and metric charts. It calls Sprout's API signed with your AWS credentials, as "
        "the CLI does; no credential reaches the browser. Ctrl-C stops it.",
    )
    parser.add_argument("--port", type=int, default=8080, help="the port on 127.0.0.1 (default 8080; 0: any free one)")
    parser.add_argument("--open", action="store_true", help="open the console in your web browser")


def console_run(ctx: Context) -> int:
    from sprout.console.server import serve

    port = ctx.args.port
    if not 0 <= port <= 65535:
        raise SproutError(f"--port {port} is not a port number (0 to 65535)")
    client = ctx.client  # fails now, in one line, without credentials or an API to talk to

    def ready(url: str) -> None:
        print(f"sprout console: {url} (Ctrl-C stops it)", flush=True)
        if ctx.args.open:
            webbrowser.open(url)

    try:
        serve(client, port, ready)
    except OSError as e:
        if e.errno == errno.EADDRINUSE:
            raise SproutError(f"port {port} on 127.0.0.1 is in use: pass another --port (0 picks a free one)") from None
        raise
    except KeyboardInterrupt:
        print("sprout console: stopped", file=sys.stderr)
    return 0
