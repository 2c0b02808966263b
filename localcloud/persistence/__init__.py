"""The local cloud keeps its state in its data dir across restarts and crashes.

What is kept: every moto backend in use (stacks' resources, functions and their code, tables and
items, buckets and objects, queues and messages, state machines and executions with their history,
rules, alarms, metrics, log groups and events, APIs, IAM, SSM, KMS, CodeCommit and CodeBuild
metadata ...) and what components hold themselves (``register``: the CloudFormation engine's
stacks, change sets and events), pickled together into one snapshot (``snapshot``), in
``<data dir>/state/snapshot.bin``. CodeCommit's git data lives in its own bare repositories under
``<data dir>/codecommit`` (git writes them safely) and is served again.

When: a saver thread writes a new snapshot shortly (``DEBOUNCE``) after a request that may have
changed something (any request but reads: GET/HEAD, and JSON/query actions named Describe*, Get*,
List*, Query, Scan, ...), and never more often than every ``SPACING`` times as long as the last
one took (so saving takes at most a ninth of the time). A clean stop writes a last one. After
``kill -9`` the next start loads the last snapshot written whole: what was acknowledged in the last
``DEBOUNCE`` + (``SPACING`` + 1) x one snapshot's time may be lost (measured by bench/bench_persistence.py).

``GET {endpoint}/_localcloud/persistence`` says whether a change is still to be written
(``pending``), how many snapshots were written and what the last one cost (tests and benches wait
on it before a ``kill -9``).

One ``up`` per data dir: ``DataDirLock`` (an ``flock`` the kernel releases however the process ends).
"""

from __future__ import annotations

import errno
import fcntl
import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

from . import backends, blobs, snapshot
from .counts import Tally, counts
from .snapshot import SnapshotRefused

log = logging.getLogger("localcloud.persistence")

DEBOUNCE = 0.05  # seconds after a changing request before the snapshot is written
SPACING = 8.0  # a snapshot that took T waits SPACING * T before the next one (saving: at most 1/9 of the time)
LOCK_FILE = "lock"
STATUS_PATH = "/_localcloud/persistence"
READ_PREFIXES = (
    "Describe", "Get", "List", "Query", "Scan", "BatchGet", "Head", "Lookup", "Filter", "Search", "Test",
    "Validate", "Select", "Estimate", "Simulate", "Preview", "Check",
)
_SIDE_EFFECT_READS = ("GetShardIterator",)  # reads that still change nothing worth a snapshot: none yet


class DataDirBusy(RuntimeError):
    pass


class DataDirUnusable(RuntimeError):
    pass


def moto_version() -> str:
    import moto

    return str(moto.__version__)


class DataDirLock:
    """An exclusive ``flock`` on ``<data dir>/lock`` for the life of the process."""

    def __init__(self, data_dir: Path):
        self.path = data_dir / LOCK_FILE
        self._fd: int | None = None

    def acquire(self) -> None:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        except OSError as e:
            raise DataDirUnusable(f"data dir {self.path.parent} cannot be used: {e.strerror} ({e.filename})") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as e:
            os.close(fd)
            if e.errno in (errno.EWOULDBLOCK, errno.EAGAIN):
                raise DataDirBusy(
                    f"data dir {self.path.parent} is in use by another local cloud (pid {self._holder()}); "
                    "stop it, or give this one another --data-dir"
                ) from None
            raise DataDirUnusable(f"cannot lock data dir {self.path.parent}: {e.strerror}") from None
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        self._fd = fd

    def _holder(self) -> str:
        try:
            return self.path.read_text().strip() or "?"
        except OSError:
            return "?"

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


@dataclass
class Restored:
    """What a start brought back."""

    written: str | None = None  # when the snapshot was written (None: nothing to restore)
    seconds: float = 0.0
    bytes: int = 0
    counts: dict[str, int] = field(default_factory=dict)
    ended: list[str] = field(default_factory=list)  # one line per kind of work in flight that was ended

    def line(self) -> str:
        if self.written is None:
            return "localcloud: nothing to restore (new data dir)"
        shown = ", ".join(f"{n} {what}" for what, n in self.counts.items() if n) or "nothing"
        return (
            f"localcloud: restored the state written {self.written} ({self.bytes / 1e6:.1f} MB) in "
            f"{self.seconds:.2f} s: {shown}"
        )


class Persistence:
    """The snapshot of one local cloud's data dir: restore on start, save as things change."""

    def __init__(self, data_dir: Path):
        self.folder = data_dir / snapshot.FOLDER
        self._parts: dict[str, tuple[Callable[[], Any], Callable[[Any], None]]] = {}
        self._dirty = threading.Event()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._save_lock = threading.Lock()
        self._moto_version = moto_version()
        self.blobs = blobs.Blobs(self.folder)
        self.last_seconds = 0.0
        self.last_bytes = 0
        self.last_counts: dict[str, int] = {}  # what the last snapshot holds, per kind (counts.KINDS)
        self.saves = 0
        self.failure: str | None = None
        self._saving = False

    # ---- what components use ------------------------------------------------------------------
    def register(self, name: str, dump: Callable[[], Any], load: Callable[[Any], None]) -> None:
        """Keep ``dump()`` in every snapshot; ``load(value)`` it back on start."""
        self._parts[name] = (dump, load)

    def changed(self) -> None:
        """Something changed: a snapshot follows shortly."""
        self._dirty.set()

    def note_request(self, environ: dict[str, Any]) -> bool:
        """A request arrives: True (and a snapshot follows) when it may change state."""
        if changes_state(environ):
            self._dirty.set()
            return True
        return False

    def previous_port(self) -> int | None:
        """The port the data dir's earlier run listened on, if known."""
        try:
            return int((self.folder / "port").read_text().strip()) or None
        except (OSError, ValueError):
            return None

    def remember_port(self, port: int) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        tmp = self.folder / ".port.tmp"
        tmp.write_text(f"{port}\n")
        os.replace(tmp, self.folder / "port")

    # ---- restore ------------------------------------------------------------------------------
    def restore(self) -> Restored:
        """Load the snapshot, if any; raises SnapshotRefused (nothing is loaded then)."""
        started = time.monotonic()
        found = snapshot.read(self.folder, self._moto_version)
        if found is None:
            return Restored()
        meta, body = found
        try:
            with blobs.loading(self.blobs):
                state = snapshot.loads(body)
        except SnapshotRefused:
            raise
        except Exception as e:  # a checksum that matches but a pickle that does not load: a bug, said so
            raise SnapshotRefused(f"{self.folder / snapshot.NAME} could not be loaded ({type(e).__name__}: {e})") from None
        backends.restore(state["moto"])
        for name, value in state.get("parts", {}).items():
            if name in self._parts:
                self._parts[name][1](value)
        self.last_counts = counts(meta)
        return Restored(written=meta.get("written"), seconds=time.monotonic() - started, bytes=len(body),
                        counts=self.last_counts)

    def settle_start(self, restored: Restored) -> None:
        """After a start: make sure the data dir takes the next snapshot, or raise OSError (a full
        or read-only disk: ``up`` refuses to start). A start that restored a snapshot and ended
        nothing holds exactly what that snapshot holds: the space a snapshot as large needs is
        reserved and given back (no pickling: a restart is ready sooner); otherwise it is written now."""
        if restored.written is None or restored.ended or not restored.counts:
            self.save()
            if restored.written is not None:
                restored.counts = self.last_counts
            return
        self.folder.mkdir(parents=True, exist_ok=True)
        probe = self.folder / f".space.{os.getpid()}.tmp"
        fd = os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            os.posix_fallocate(fd, 0, max(restored.bytes, 1) * 2)  # the snapshot and its temporary copy
            os.fsync(fd)
        except OSError as e:
            if e.errno not in (errno.EOPNOTSUPP, errno.EINVAL):  # a file system without fallocate: write it
                raise
            self.save()
        finally:
            os.close(fd)
            probe.unlink(missing_ok=True)

    # ---- save ---------------------------------------------------------------------------------
    def save(self) -> None:
        """Write a snapshot now (raises OSError when the data dir cannot take it)."""
        with self._save_lock:
            self._saving = True
            try:
                started = time.monotonic()
                body, tally = self._pickled()
                self.blobs.durable()  # the blobs it names are on disk before it is
                self.last_bytes = snapshot.write(self.folder, body, self._moto_version, {"counts": tally})
                self.last_counts = tally
                self.blobs.collect_garbage()
                self.last_seconds = time.monotonic() - started
                self.saves += 1
            finally:
                self._saving = False

    def _pickled(self) -> tuple[bytes, dict[str, int]]:
        """The state pickled, and what it holds per kind."""
        refs = backends.References(self.blobs)
        for attempt in range(5):
            self.blobs.begin()
            tally = Tally()
            try:
                state = {"moto": backends.collect(), "parts": {n: dump() for n, (dump, _) in self._parts.items()}}
                return snapshot.dumps(state, tally.reducers(refs.reducers())), tally.counts
            except RuntimeError:  # a dict changed size while it was pickled: a request was changing it
                if attempt == 4:
                    raise
                time.sleep(0.01)
        raise AssertionError("unreachable")

    def status(self) -> dict[str, Any]:
        """What ``GET /_localcloud/persistence`` answers: whether a change is still to be written."""
        return {
            "saves": self.saves,
            "pending": self._dirty.is_set() or self._saving,
            "lastSeconds": round(self.last_seconds, 4),
            "lastBytes": self.last_bytes,
            "failure": self.failure,
        }

    def status_app(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        import json

        body = json.dumps(self.status()).encode()
        start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
        return [body]

    def start(self) -> None:
        self._stopping.clear()
        self._thread = threading.Thread(target=self._run, name="localcloud-persistence", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        self._dirty.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
            self._thread = None
        try:
            self.save()  # the last word of a clean stop
        except Exception as e:
            log.error("localcloud: the last snapshot could not be written: %s", e)

    def _run(self) -> None:
        while not self._stopping.is_set():
            self._dirty.wait()
            if self._stopping.is_set():
                return
            time.sleep(DEBOUNCE)
            self._saving = True  # pending until written, with no gap between the two flags
            self._dirty.clear()
            try:
                self.save()
                if self.failure is not None:
                    log.warning("localcloud: snapshots are written again in %s", self.folder)
                self.failure = None
            except Exception as e:  # a full disk: said once, retried at the next change
                if self.failure is None:
                    log.error("localcloud: cannot write the snapshot in %s: %s", self.folder, e)
                self.failure = str(e)
            self._stopping.wait(SPACING * self.last_seconds)


def changes_state(environ: dict[str, Any]) -> bool:
    """Whether a request may change state (False only for what is surely a read)."""
    method = environ.get("REQUEST_METHOD", "GET")
    if method in ("GET", "HEAD", "OPTIONS"):
        return False
    target = environ.get("HTTP_X_AMZ_TARGET")
    if target:
        return not _read_action(target.rsplit(".", 1)[-1])
    query = parse_qs(environ.get("QUERY_STRING", ""))
    action = (query.get("Action") or [None])[0]
    if action is None and environ.get("CONTENT_TYPE", "").startswith("application/x-www-form-urlencoded"):
        action = _peek_action(environ)
    if action:
        return not _read_action(action)
    return True


def _read_action(action: str) -> bool:
    return action.startswith(READ_PREFIXES) and action not in _SIDE_EFFECT_READS


def _peek_action(environ: dict[str, Any]) -> str | None:
    """The query protocol's ``Action`` from the form body, leaving the body for moto to read."""
    import io

    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return None
    if length <= 0 or length > 1 << 20:
        return None
    body = environ["wsgi.input"].read(length)
    environ["wsgi.input"] = io.BytesIO(body)
    values = parse_qs(body.decode("utf-8", "replace")).get("Action")
    return values[0] if values else None


__all__ = [
    "DataDirBusy", "DataDirLock", "DataDirUnusable", "Persistence", "Restored", "SnapshotRefused", "changes_state",
]
