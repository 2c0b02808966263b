"""Restarts are honest: the local cloud's AWS state lives in moto's memory and does not survive a
restart; what is on disk under the data dir is never loaded, and never deleted.

A run writes ``RUN_MARKER`` into its data dir when it starts. ``up`` on a data dir that holds an
earlier run's marker or files says so on stderr, in one line: nothing of the earlier AWS state
(stacks, functions, tables, buckets, state machines, rules, IAM users and roles, repositories'
metadata) is loaded, and the git data of the CodeCommit repositories it finds is kept on disk,
untouched, not served. A repository created again under the same name is a new, empty repository
(as on AWS); the old git data is moved aside, never deleted (see ``GitStore.create``).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

RUN_MARKER = "localcloud-run.json"
REPOS = ("codecommit", "repos")  # where codecommit_git keeps the bare repositories, under the data dir


@dataclass(frozen=True)
class EarlierRun:
    data_dir: Path
    started: str | None  # when the earlier run started (its marker), if known
    repositories: list[str] = field(default_factory=list)  # names of repositories with git data on disk

    def warning(self) -> str:
        """One line for stderr."""
        when = f" (started {self.started})" if self.started else ""
        line = (
            f"localcloud: warning: {self.data_dir} holds state from an earlier run{when} that is not loaded: "
            "the local cloud keeps AWS state in memory, so stacks, functions, tables, buckets, state machines, "
            "rules, IAM users and roles and repositories start empty"
        )
        if self.repositories:
            where = self.data_dir.joinpath(*REPOS)
            names = ", ".join(self.repositories)
            line += (
                f"; the git data of {len(self.repositories)} CodeCommit "
                f"{'repository' if len(self.repositories) == 1 else 'repositories'} is kept on disk, "
                f"not served, never deleted: {names} (in {where}; a repository created again under the same "
                "name starts empty and the old data is moved aside)"
            )
        return line


def repositories_on_disk(data_dir: Path) -> list[str]:
    repos = data_dir.joinpath(*REPOS)
    if not repos.is_dir():
        return []
    return sorted(p.name[: -len(".git")] for p in repos.iterdir() if p.name.endswith(".git") and (p / "HEAD").is_file())


def earlier_run(data_dir: str | os.PathLike) -> EarlierRun | None:
    """What an earlier run left in ``data_dir``, or None when it is new or empty."""
    root = Path(data_dir).resolve()
    if not root.is_dir():
        return None
    marker = root / RUN_MARKER
    started = None
    if marker.is_file():
        try:
            started = str(json.loads(marker.read_text(encoding="utf-8")).get("started") or "") or None
        except (OSError, ValueError, AttributeError):
            started = None
    repositories = repositories_on_disk(root)
    if not marker.is_file() and not repositories:
        return None
    return EarlierRun(root, started, repositories)


def mark(data_dir: Path, endpoint: str) -> None:
    """Record that a run started in ``data_dir`` (read by the next ``up``)."""
    started = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    (data_dir / RUN_MARKER).write_text(json.dumps({"started": started, "endpoint": endpoint, "pid": os.getpid()}) + "\n")
