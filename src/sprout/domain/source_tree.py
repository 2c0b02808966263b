"""The files of one commit, as packaging reads them.

Paths are relative to the repository root, ``/``-separated, without a leading slash; the root
folder is ``""``. :class:`MemoryTree` is an in-memory tree; ``sprout.adapters.source.CodeCommitSource``
reads a CodeCommit commit.
"""

from __future__ import annotations

import posixpath
from collections.abc import Iterable, Mapping
from pathlib import Path


class SourceTree:
    """The files of one commit. Subclasses implement ``read`` and ``list_files``.

    - ``read(path)``: the file's bytes, or None when there is no such file;
    - ``list_files(folder)``: every file path under ``folder`` (recursively; ``""`` is the root),
      each relative to the repository root, in any order; [] when the folder does not exist;
    - ``is_executable(path)``: whether the file has the executable bit (default False);
    - ``read_many(paths)``: bytes by path (default: one ``read`` each; adapters may parallelise);
    - ``location``: how errors name this tree, e.g. ``commit 1a2b3c in repository notes``.
    """

    location: str = "the source tree"

    def read(self, path: str) -> bytes | None:
        raise NotImplementedError

    def list_files(self, folder: str) -> list[str]:
        raise NotImplementedError

    def is_executable(self, path: str) -> bool:
        return False

    def read_many(self, paths: Iterable[str]) -> dict[str, bytes]:
        found: dict[str, bytes] = {}
        for path in paths:
            data = self.read(path)
            if data is not None:
                found[path] = data
        return found


class MemoryTree(SourceTree):
    """A source tree held in memory: ``{path: bytes}``, plus the set of executable paths."""

    def __init__(
        self,
        files: Mapping[str, bytes],
        executables: Iterable[str] = (),
        location: str = "the source tree",
    ):
        self.files = {normalize(p): data for p, data in files.items()}
        self.executables = {normalize(p) for p in executables}
        self.location = location

    @classmethod
    def from_directory(cls, root: str | Path, location: str | None = None) -> MemoryTree:
        """Every file under ``root`` (symlinks and ``.git`` skipped), executables by mode."""
        root = Path(root)
        files: dict[str, bytes] = {}
        executables: list[str] = []
        for p in root.rglob("*"):
            rel = p.relative_to(root).as_posix()
            if p.is_symlink() or not p.is_file() or rel.split("/")[0] == ".git":
                continue
            files[rel] = p.read_bytes()
            if p.stat().st_mode & 0o111:
                executables.append(rel)
        return cls(files, executables, location or f"directory {root}")

    def read(self, path: str) -> bytes | None:
        return self.files.get(normalize(path))

    def list_files(self, folder: str) -> list[str]:
        prefix = normalize(folder)
        if not prefix:
            return list(self.files)
        return [p for p in self.files if p.startswith(prefix + "/")]

    def is_executable(self, path: str) -> bool:
        return normalize(path) in self.executables


def normalize(path: str) -> str:
    """A repository-relative path: no leading ``/`` or ``./``, no trailing ``/``; root is ``""``."""
    p = posixpath.normpath("/" + path.strip()).lstrip("/")
    return "" if p == "." else p
