"""Large values (function code, layer content, S3 object bodies) are kept once, by content, beside
the snapshot: ``<data dir>/state/blobs/<sha256>``. A snapshot holds a ``BlobRef`` in their place,
so writing one costs what changed, not every zip the cloud holds.

Order of writes: a blob is written whole (temporary file, ``fsync``, rename) and the folder
``fsync``-ed before the snapshot that names it is renamed into place; blobs no snapshot names any
more are deleted only after the new snapshot is. A blob a snapshot names that is missing, or whose content is not what
its name says, refuses the load (``SnapshotRefused``).
"""

from __future__ import annotations

import hashlib
import os
import threading
from pathlib import Path
from typing import Any

from .snapshot import SnapshotRefused

THRESHOLD = 64 * 1024  # values this large or larger go to a blob

_loading: Blobs | None = None  # the store that ``rebuild`` reads from while a snapshot loads


class BlobRef:
    __slots__ = ("sha", "text")

    def __init__(self, sha: str, text: bool):
        self.sha, self.text = sha, text

    def __reduce__(self) -> tuple[Any, ...]:
        return (BlobRef, (self.sha, self.text))


class Blobs:
    def __init__(self, folder: Path):
        self.folder = folder / "blobs"
        self._known: dict[int, tuple[Any, str]] = {}  # id(value) -> (value, sha) from the last snapshot
        self._seen: dict[int, tuple[Any, str]] = {}
        self.used: set[str] = set()
        self._wrote = False
        self._lock = threading.Lock()

    # ---- writing ------------------------------------------------------------------------------
    def begin(self) -> None:
        self._seen, self.used, self._wrote = {}, set(), False

    def put(self, value: bytes | str) -> BlobRef:
        hit = self._seen.get(id(value)) or self._known.get(id(value))
        if hit is not None and hit[0] is value:
            sha = hit[1]
        else:
            data = value.encode() if isinstance(value, str) else value
            sha = hashlib.sha256(data).hexdigest()
            path = self.folder / sha
            if not path.exists():
                self._write(path, data)
        self._seen[id(value)] = (value, sha)
        self.used.add(sha)
        return BlobRef(sha, isinstance(value, str))

    def _write(self, path: Path, data: bytes) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{threading.get_ident()}.tmp")
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
        self._wrote = True

    def durable(self) -> None:
        """Before the snapshot naming the blobs is renamed into place."""
        if self._wrote:
            fd = os.open(self.folder, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
        self._known = self._seen

    def collect_garbage(self) -> None:
        """After the snapshot is in place: delete the blobs it does not name."""
        if not self.folder.is_dir():
            return
        for path in self.folder.iterdir():
            if path.name not in self.used and not path.name.startswith("."):
                path.unlink(missing_ok=True)

    # ---- reading ------------------------------------------------------------------------------
    def get(self, ref: BlobRef) -> bytes | str:
        try:
            data = (self.folder / ref.sha).read_bytes()
        except FileNotFoundError:
            raise SnapshotRefused(
                f"the snapshot names {self.folder / ref.sha}, which is missing: nothing was loaded; "
                "restore the data dir from an export or `sprout local reset`"
            ) from None
        if hashlib.sha256(data).hexdigest() != ref.sha:
            raise SnapshotRefused(
                f"{self.folder / ref.sha} is corrupted (its content is not what its name says): nothing was "
                "loaded; restore the data dir from an export or `sprout local reset`"
            )
        return data.decode() if ref.text else data


def out(value: Any, blobs: Blobs) -> Any:
    """``value`` with large bytes/str (itself, or the values of a dict) replaced by BlobRefs."""
    if isinstance(value, bytes | str):
        return blobs.put(value) if len(value) >= THRESHOLD else value
    if isinstance(value, dict) and any(isinstance(v, bytes | str) and len(v) >= THRESHOLD for v in value.values()):
        return {k: out(v, blobs) if isinstance(v, bytes | str) else v for k, v in value.items()}
    return value


def _in(value: Any) -> Any:
    if isinstance(value, BlobRef):
        if _loading is None:
            raise SnapshotRefused("a snapshot names a blob, and no blob store is open")
        return _loading.get(value)
    if isinstance(value, dict) and any(isinstance(v, BlobRef) for v in value.values()):
        return {k: _in(v) for k, v in value.items()}
    return value


def reduce_with_blobs(obj: Any, blobs: Blobs) -> tuple[Any, ...]:
    """A pickle reduce value for ``obj`` whose large values are written as blobs."""
    getstate = getattr(obj, "__getstate__", None)
    state = getstate() if getstate is not None else obj.__dict__
    if not isinstance(state, dict):  # (object.__getstate__ may answer None for an empty object)
        state = dict(obj.__dict__)
    return (rebuild, (type(obj), {k: out(v, blobs) for k, v in state.items()}))


def rebuild(cls: type, state: dict[str, Any]) -> Any:
    obj = cls.__new__(cls)
    state = {k: _in(v) for k, v in state.items()}
    setstate = getattr(obj, "__setstate__", None)
    if setstate is not None and getattr(cls, "__setstate__", None) is not getattr(object, "__setstate__", None):
        setstate(state)
    else:
        obj.__dict__.update(state)
    return obj


class loading:
    """``with loading(blobs):`` while a snapshot is unpickled."""

    def __init__(self, blobs: Blobs):
        self.blobs = blobs

    def __enter__(self) -> Blobs:
        global _loading
        _loading = self.blobs
        return self.blobs

    def __exit__(self, *exc: object) -> None:
        global _loading
        _loading = None
