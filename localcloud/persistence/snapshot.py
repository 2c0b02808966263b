"""The snapshot file: one header line, then a pickle; written whole or not at all.

``<data dir>/state/snapshot.bin``::

    {"format": 1, "moto": "5.2.5", "python": "3.11", "written": "...Z", "length": N, "sha256": "..."}\\n
    <N bytes: the pickle>

Writing: a temporary file in the same folder, written, ``fsync``-ed, renamed over the snapshot,
then the folder ``fsync``-ed: after ``kill -9`` (or a power cut) the snapshot is the previous one
or the new one, never a mix. Reading checks the format version, moto's version, the length and
the checksum before anything is unpickled: a file another version wrote, or a torn or corrupted
one, is refused with one line (``SnapshotRefused``), never loaded in part.

Pickling: locks and threads are not state. A lock is written as a new lock, a thread as None
and a child process as None (the work they did is ended on load, see ``inflight``); a ``WeakValueDictionary`` as its values,
a ``defaultdict`` whose factory is a lambda as one whose factory is the type the lambda makes.
"""

from __future__ import annotations

import copyreg
import hashlib
import io
import json
import os
import pickle
import subprocess
import sys
import threading
import weakref
from collections import defaultdict
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

FORMAT = 1
NAME = "snapshot.bin"
FOLDER = "state"

_LOCK_TYPES = (type(threading.Lock()), type(threading.RLock()))


class SnapshotRefused(RuntimeError):
    """The snapshot cannot be loaded; the message is the one line the user reads."""


def _new_lock(kind: str) -> Any:
    return threading.RLock() if kind == "rlock" else threading.Lock()


def _nothing() -> None:
    return None


def subclasses(cls: type) -> list[type]:
    """``cls`` and every class below it."""
    out, todo = [], [cls]
    while todo:
        c = todo.pop()
        out.append(c)
        todo.extend(c.__subclasses__())
    return out


def _defaultdict(obj: defaultdict) -> Any:
    if "<" in getattr(obj.default_factory, "__qualname__", ""):
        # a defaultdict(lambda: {}) is written as a defaultdict(dict): what its factory makes
        return (defaultdict, (type(obj.default_factory()),), None, None, iter(obj.items()))
    return obj.__reduce_ex__(5)


def _table(reducers: dict[type, Callable[[Any], Any]] | None) -> dict[type, Callable[[Any], Any]]:
    """How each type that is not plain state is written: looked up by exact type, in C, so the
    objects that are plain state (nearly all) cost no Python call."""
    table: dict[type, Callable[[Any], Any]] = dict(copyreg.dispatch_table)
    table[_LOCK_TYPES[0]] = lambda obj: (_new_lock, ("lock",))
    table[_LOCK_TYPES[1]] = lambda obj: (_new_lock, ("rlock",))
    for cls in (*subclasses(threading.Thread), *subclasses(subprocess.Popen)):
        table[cls] = lambda obj: (_nothing, ())
    table[weakref.WeakValueDictionary] = lambda obj: (weakref.WeakValueDictionary, (dict(obj.items()),))
    table[defaultdict] = _defaultdict
    table.update(reducers or {})
    return table


def dumps(state: Any, reducers: dict[type, Callable[[Any], Any]] | None = None) -> bytes:
    """``state`` pickled; ``reducers`` write objects of those exact types their own way (a pickle
    reduce value each)."""
    buf = io.BytesIO()
    pickler = pickle.Pickler(buf, protocol=5)
    pickler.dispatch_table = _table(reducers)
    pickler.dump(state)
    return buf.getvalue()


def loads(data: bytes) -> Any:
    return pickle.loads(data)


def header(body: bytes, moto_version: str, extra: dict[str, Any] | None = None) -> bytes:
    meta = {
        **(extra or {}),
        "format": FORMAT,
        "moto": moto_version,
        "python": f"{sys.version_info.major}.{sys.version_info.minor}",
        "written": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        "length": len(body),
        "sha256": hashlib.sha256(body).hexdigest(),
    }
    return (json.dumps(meta, sort_keys=True) + "\n").encode()


def write(folder: Path, body: bytes, moto_version: str, extra: dict[str, Any] | None = None) -> int:
    """Replace ``folder/NAME`` atomically and durably (``extra``: more header fields); the bytes written."""
    folder.mkdir(parents=True, exist_ok=True)
    final = folder / NAME
    tmp = folder / f".{NAME}.{os.getpid()}.{threading.get_ident()}.tmp"
    head = header(body, moto_version, extra)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(head)
            f.write(body)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, final)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    dir_fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)
    return len(head) + len(body)


def read(folder: Path, moto_version: str) -> tuple[dict[str, Any], bytes] | None:
    """(header, body) of the snapshot in ``folder``; None when there is none. Raises SnapshotRefused."""
    path = folder / NAME
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as e:
        raise SnapshotRefused(f"cannot read {path}: {e.strerror}") from e
    line, sep, body = raw.partition(b"\n")
    try:
        meta = json.loads(line) if sep else None
    except ValueError:
        meta = None
    if not isinstance(meta, dict) or "format" not in meta:
        raise SnapshotRefused(
            f"{path} is not a localcloud snapshot (corrupted?): move it away or run `sprout local reset`"
        )
    if meta["format"] != FORMAT or meta.get("moto") != moto_version:
        raise SnapshotRefused(
            f"{path} was written by localcloud snapshot format {meta['format']} with moto {meta.get('moto')}; "
            f"this local cloud reads format {FORMAT} with moto {moto_version}: start the version that wrote it "
            "and `sprout local export`, or `sprout local reset` to start empty"
        )
    if len(body) != meta.get("length") or hashlib.sha256(body).hexdigest() != meta.get("sha256"):
        raise SnapshotRefused(
            f"{path} is truncated or corrupted ({len(body)} of {meta.get('length')} bytes, checksum "
            f"{'differs' if len(body) == meta.get('length') else 'not checked'}): nothing was loaded; "
            "restore it from an export or `sprout local reset`"
        )
    return meta, body
