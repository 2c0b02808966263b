"""``localcloud export FILE`` / ``import FILE`` / ``reset``: a whole data dir moved between machines,
or emptied. Each takes the data dir's lock, so it never runs beside an ``up`` on the same data dir.

An export is a gzip'd tar of what a restart needs: the snapshot (``state/``), the CodeCommit git data
(``codecommit/repos``) and the API definitions (``cloudformation/apis``); build caches, unpacked
function code and tools are left out (they are made again). Import refuses a data dir that holds
state (``reset`` it first) and an archive that is not an export (checked before anything is
written), and reads the snapshot's header to say what it brought.
"""

from __future__ import annotations

import io
import json
import shutil
import tarfile
from pathlib import Path

from . import DataDirLock, snapshot

KEPT = ("state", "codecommit/repos", "cloudformation/apis")
MARK = "localcloud-export.json"


class ArchiveRefused(RuntimeError):
    """One line for the user."""


def export(data_dir: Path, target: Path) -> str:
    lock = DataDirLock(data_dir)
    lock.acquire()
    try:
        if not (data_dir / snapshot.FOLDER / snapshot.NAME).is_file():
            raise ArchiveRefused(f"{data_dir} holds no snapshot: nothing to export")
        partial = target.with_name(target.name + ".partial")
        with tarfile.open(partial, "w:gz") as tar:
            meta = json.dumps({"format": snapshot.FORMAT}).encode()
            info = tarfile.TarInfo(MARK)
            info.size = len(meta)
            tar.addfile(info, io.BytesIO(meta))
            for part in KEPT:
                if (data_dir / part).exists():
                    tar.add(data_dir / part, arcname=part, filter=_no_temporaries)
        partial.replace(target)
    finally:
        lock.release()
    return f"localcloud: exported {data_dir} to {target} ({target.stat().st_size / 1e6:.1f} MB)"


def _no_temporaries(info: tarfile.TarInfo) -> tarfile.TarInfo | None:
    return None if info.name.endswith(".tmp") else info


def import_(source: Path, data_dir: Path) -> str:
    try:
        tar = tarfile.open(source, "r:gz")
    except (OSError, tarfile.TarError) as e:
        raise ArchiveRefused(f"{source} is not a localcloud export ({e})") from None
    with tar:
        names = tar.getnames()
        if MARK not in names:
            raise ArchiveRefused(f"{source} is not a localcloud export (no {MARK})")
        unsafe = [n for n in names if n.startswith("/") or ".." in Path(n).parts or not (n == MARK or n.startswith(KEPT))]
        if unsafe:
            raise ArchiveRefused(f"{source} holds paths an export never has: {unsafe[:3]}")
        lock = DataDirLock(data_dir)
        lock.acquire()
        try:
            if (data_dir / snapshot.FOLDER / snapshot.NAME).exists():
                raise ArchiveRefused(f"{data_dir} already holds a local cloud's state: `reset` it first, or import elsewhere")
            tar.extractall(data_dir, members=[m for m in tar.getmembers() if m.name != MARK], filter="data")
        finally:
            lock.release()
    header = (data_dir / snapshot.FOLDER / snapshot.NAME).read_bytes().partition(b"\n")[0]
    written = json.loads(header).get("written", "?")
    return f"localcloud: imported {source} into {data_dir} (state written {written}); `up` with --data-dir {data_dir}"


def reset(data_dir: Path) -> str:
    lock = DataDirLock(data_dir)
    lock.acquire()
    try:
        for child in data_dir.iterdir():
            if child.name == lock.path.name:
                continue
            if child.is_dir() and not child.is_symlink():
                shutil.rmtree(child)
            else:
                child.unlink()
    finally:
        lock.release()
    return f"localcloud: {data_dir} is empty: the next `up` starts a new local cloud"
