"""The local cloud's command line: ``up`` starts it in the foreground until SIGINT or SIGTERM."""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path

from localcloud import logs
from localcloud.cloud import LocalCloud, PortInUse
from localcloud.persistence import DataDirBusy, DataDirUnusable, SnapshotRefused
from localcloud.stacks import Interrupted, StackFailed, deploy


def _stack(text: str) -> tuple[str, Path]:
    name, sep, path = text.partition("=")
    if not sep or not name or not path:
        raise argparse.ArgumentTypeError(f"--stack {text!r}: expected NAME=PATH/TO/template.yaml")
    template = Path(path)
    if not template.is_file():
        raise argparse.ArgumentTypeError(f"--stack {text!r}: {template} is not a file")
    return name, template


def _parameter(text: str) -> tuple[str, str]:
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"--parameter {text!r}: expected KEY=VALUE")
    return key, value


def up(
    port: int,
    data_dir: str,
    stacks: Sequence[tuple[str, Path]] = (),
    parameters: dict[str, str] | None = None,
    enforce_iam: bool = False,
    persist: bool = True,
) -> int:
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    cloud = LocalCloud(port=port, data_dir=data_dir, enforce_iam=enforce_iam, persist=persist)
    started = time.monotonic()
    try:
        cloud.start()
    except PortInUse as e:
        print(f"localcloud: cannot start: {e}", file=sys.stderr)
        return 2
    except (DataDirBusy, DataDirUnusable, SnapshotRefused) as e:
        print(f"localcloud: cannot start: {e}", file=sys.stderr, flush=True)
        return 1
    except OSError as e:  # the first snapshot could not be written (a full or read-only disk)
        print(f"localcloud: cannot start: data dir {cloud.data_dir} cannot be written: {e.strerror or e}",
              file=sys.stderr, flush=True)
        return 1
    if persist:
        print(cloud.restored.line() + f"; up in {time.monotonic() - started:.1f} s", flush=True)
        for line in cloud.restored.ended:
            print(line, flush=True)
    failed: list[str] = []

    def deploy_stacks() -> None:
        """The stacks, one after the other, off the main thread: SIGTERM while one deploys must not wait
        for the call in flight (CreateStack transforms a large template; seconds on a loaded machine),
        so that the cloud exits within 5 s."""
        for name, template in stacks:
            try:
                outputs = deploy(cloud, name, template, parameters or {}, stop=stop)
            except Interrupted:
                return
            except StackFailed as e:
                failed.append(f"localcloud: {e}")
                stop.set()
                return
            except Exception as e:  # the cloud stopping under a call in flight: nothing to report
                if not stop.is_set():
                    failed.append(f"localcloud: stack {name}: {type(e).__name__}: {e}")
                    stop.set()
                return
            if stop.is_set():
                return
            rendered = " ".join(f"{k}={v}" for k, v in sorted(outputs.items()))
            print(f"stack {name} ready {rendered}", flush=True)

    try:
        print(f"localcloud ready {cloud.endpoint}" + (" (IAM enforced)" if enforce_iam else ""), flush=True)
        threading.Thread(target=deploy_stacks, name="up-stacks", daemon=True).start()
        stop.wait()
    finally:
        cloud.stop()
        for line in failed:
            print(line, file=sys.stderr, flush=True)
        print("localcloud stopped", flush=True)
    return 1 if failed else 0


def _archive(args: argparse.Namespace) -> int:
    from localcloud.persistence import archive

    data_dir = Path(args.data_dir).resolve()
    try:
        if args.command == "export":
            print(archive.export(data_dir, args.file.resolve()))
        elif args.command == "import":
            print(archive.import_(args.file.resolve(), data_dir))
        else:
            if not data_dir.is_dir():
                print(f"localcloud: {data_dir} does not exist: nothing to reset")
                return 0
            if not args.yes:
                answer = input(f"Delete every stack, function, table, bucket, repository... kept in {data_dir}? [y/N] ")
                if answer.strip().lower() not in ("y", "yes"):
                    print("localcloud: nothing deleted")
                    return 1
            print(archive.reset(data_dir))
    except (archive.ArchiveRefused, DataDirBusy, DataDirUnusable) as e:
        print(f"localcloud: {args.command}: {e}", file=sys.stderr)
        return 1
    except OSError as e:
        print(f"localcloud: {args.command}: {e.strerror or e}: {e.filename or ''}", file=sys.stderr)
        return 1
    return 0


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="localcloud", description="The offline AWS that Sprout runs on.")
    sub = parser.add_subparsers(dest="command", required=True)
    p_up = sub.add_parser("up", help="start the local cloud in the foreground")
    p_up.add_argument("--port", type=int, default=4566, help="port to listen on (0 picks a free one)")
    p_up.add_argument("--data-dir", default=".localcloud", help="where the local cloud writes its files")
    p_up.add_argument(
        "--stack", dest="stacks", action="append", type=_stack, default=[],
        help="NAME=TEMPLATE: deploy this SAM/CloudFormation template as stack NAME once up (repeatable)",
    )
    p_up.add_argument(
        "--parameter", dest="parameters", action="append", type=_parameter, default=[],
        help="KEY=VALUE: a parameter for the --stack templates (repeatable)",
    )
    p_up.add_argument(
        "--in-memory", action="store_true",
        help="keep nothing: ignore the data dir's snapshot and write none (by default the state is kept"
        " in --data-dir across restarts and crashes)",
    )
    p_up.add_argument(
        "--enforce-iam", action="store_true",
        help="enforce IAM as AWS does: functions, state machines and rules act with their roles' policies"
        " (the root key localcloud/localcloud stays allowed everything)",
    )
    for verb, help_text in (
        ("export", "write the data dir's whole local cloud (stopped) to FILE (a .tar.gz)"),
        ("import", "bring a whole local cloud from FILE (an export) into an empty data dir"),
        ("reset", "empty the data dir (asks first; --yes does not): the next up starts a new local cloud"),
    ):
        p_verb = sub.add_parser(verb, help=help_text, description=help_text)
        if verb != "reset":
            p_verb.add_argument("file", type=Path)
        else:
            p_verb.add_argument("--yes", action="store_true", help="do not ask")
        p_verb.add_argument("--data-dir", default=".localcloud", help="the local cloud's data dir")
    args = parser.parse_args(argv)
    if args.command != "up":
        sys.exit(_archive(args))
    logs.configure(logging.WARNING)
    code = up(args.port, args.data_dir, args.stacks, dict(args.parameters), args.enforce_iam, not args.in_memory)
    # Leave without the interpreter's teardown: up() has stopped every service and flushed what they
    # write; the teardown would still join pool threads (an invocation in flight) and free moto's
    # in-memory state (every item, log event and datum of the session) one object at a time, which
    # grows with the session, while a SIGTERM allows 5 s.
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
