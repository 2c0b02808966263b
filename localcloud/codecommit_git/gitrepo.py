"""The bare git repositories behind the local CodeCommit, and the plumbing reads the API needs.

Every git command runs with a fixed, clean environment (no system or user configuration, a HOME
of our own), so the machine's git settings cannot change what the local cloud does.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import subprocess
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

log = logging.getLogger("localcloud.codecommit_git")

ZERO_ID = "0" * 40
EMPTY_TREE = "4b825dc642cb6eb9a060e54bf8d69288fbee4904"  # git knows this object without storing it
OBJECT_ID = re.compile(r"[0-9a-f]{40}")
# CodeCommit's repository name pattern.
REPOSITORY_NAME = re.compile(r"[\w.-]{1,100}")
GIT_TIMEOUT = 120

# Records each accepted ref update ("<old> <new> <ref>") into the file the HTTP side names for
# this one push, so that concurrent pushes never see each other's changes.
POST_RECEIVE = """#!/bin/sh
if [ -n "$LOCALCLOUD_PUSH_LOG" ]; then cat >> "$LOCALCLOUD_PUSH_LOG"; else cat > /dev/null; fi
"""

REPO_CONFIG = {
    "http.receivepack": "true",  # pushes over HTTP without auth: the local cloud accepts any caller
    "http.uploadpack": "true",
    "receive.denyNonFastForwards": "true",  # as CodeCommit
    "gc.autoDetach": "false",  # no background gc outliving the request
}


class GitFailed(RuntimeError):
    pass


def clean_env(home: Path) -> dict[str, str]:
    """The whole environment git runs with: nothing from the machine's or user's git config."""
    return {
        "PATH": os.environ.get("PATH", "/usr/local/bin:/usr/bin:/bin"),
        "HOME": str(home),
        "XDG_CONFIG_HOME": str(home / ".config"),
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_CONFIG_GLOBAL": os.devnull,
        "GIT_ATTR_NOSYSTEM": "1",
        "GIT_TERMINAL_PROMPT": "0",
        "GIT_LITERAL_PATHSPECS": "1",  # paths from API callers are paths, never patterns
        "LC_ALL": "C",
        "LANG": "C",
        "TZ": "UTC",
    }


def split_path(path: str) -> str:
    """A repository path as CodeCommit accepts it ("/a/b/", "a/b", "" or "/") → "a/b" ("" = root)."""
    return "/".join(part for part in path.split("/") if part)


@dataclass(frozen=True)
class TreeEntry:
    mode: str
    type: str  # blob | tree | commit
    oid: str
    path: str


@dataclass(frozen=True)
class Change:
    status: str  # A | M | D | T
    old_mode: str
    new_mode: str
    old_oid: str
    new_oid: str
    path: str


@dataclass(frozen=True)
class Person:
    name: str
    email: str
    date: str  # "<seconds> <+hhmm>", as git stores it and CodeCommit returns it


@dataclass(frozen=True)
class Commit:
    oid: str
    tree: str
    parents: list[str]
    author: Person
    committer: Person
    message: str


def _person(value: str) -> Person:
    m = re.fullmatch(r"(.*?) ?<([^>]*)> ?(.*)", value)
    if not m:
        return Person(name=value, email="", date="")
    return Person(name=m.group(1), email=m.group(2), date=m.group(3))


def parse_commit(oid: str, raw: bytes) -> Commit:
    text = raw.decode("utf-8", errors="replace")
    header, _, message = text.partition("\n\n")
    fields: dict[str, list[str]] = {}
    last = None
    for line in header.split("\n"):
        if line.startswith(" ") and last is not None:  # continuation (gpgsig, mergetag)
            fields[last][-1] += "\n" + line[1:]
            continue
        key, _, value = line.partition(" ")
        fields.setdefault(key, []).append(value)
        last = key
    return Commit(
        oid=oid,
        tree=fields.get("tree", [""])[0],
        parents=fields.get("parent", []),
        author=_person(fields.get("author", [""])[0]),
        committer=_person(fields.get("committer", [""])[0]),
        message=message,
    )


class Repository:
    """One bare repository, read with git plumbing."""

    def __init__(self, git_dir: Path, env: dict[str, str]):
        self.git_dir = git_dir
        self.env = env

    def git(
        self, *args: str, ok: tuple[int, ...] = (0,), input: bytes | None = None
    ) -> subprocess.CompletedProcess:
        proc = subprocess.run(
            ["git", f"--git-dir={self.git_dir}", *args],
            env=self.env,
            input=input,
            capture_output=True,
            timeout=GIT_TIMEOUT,
        )
        if proc.returncode not in ok:
            raise GitFailed(
                f"git {' '.join(args)} failed ({proc.returncode}): {proc.stderr.decode(errors='replace').strip()}"
            )
        return proc

    def _rev(self, spec: str) -> str | None:
        proc = self.git("rev-parse", "--verify", "--quiet", "--end-of-options", spec, ok=(0, 1, 128))
        out = proc.stdout.decode().strip()
        return out if proc.returncode == 0 and OBJECT_ID.fullmatch(out) else None

    # ---- refs ----------------------------------------------------------------------------
    def resolve_commit(self, spec: str) -> str | None:
        """A commit specifier (full or abbreviated id, branch, tag, refs/...) → commit id."""
        if not spec or spec.startswith("-") or any(c in spec for c in "\0\n"):
            return None
        return self._rev(f"{spec}^{{commit}}")

    def branch_commit(self, branch: str) -> str | None:
        if not branch or any(c in branch for c in "\0\n"):
            return None
        return self._rev(f"refs/heads/{branch}^{{commit}}")

    def branches(self) -> list[str]:
        out = self.git("for-each-ref", "--format=%(refname:strip=2)", "refs/heads/").stdout.decode()
        return sorted(line for line in out.split("\n") if line)

    def head_branch(self) -> str | None:
        """The branch HEAD names, if it exists (CodeCommit's default branch)."""
        proc = self.git("symbolic-ref", "--quiet", "HEAD", ok=(0, 1, 128))
        ref = proc.stdout.decode().strip()
        if proc.returncode != 0 or not ref.startswith("refs/heads/"):
            return None
        name = ref[len("refs/heads/") :]
        return name if self.branch_commit(name) else None

    def set_head(self, branch: str) -> None:
        self.git("symbolic-ref", "HEAD", f"refs/heads/{branch}")

    # ---- objects -------------------------------------------------------------------------
    def object_type(self, oid: str) -> str | None:
        if not OBJECT_ID.fullmatch(oid):
            return None
        proc = self.git("cat-file", "-t", oid, ok=(0, 1, 128))
        return proc.stdout.decode().strip() if proc.returncode == 0 else None

    def read_commit(self, oid: str) -> Commit | None:
        if self.object_type(oid) != "commit":
            return None
        return parse_commit(oid, self.git("cat-file", "commit", oid).stdout)

    def blob(self, oid: str) -> bytes:
        return self.git("cat-file", "blob", oid).stdout

    def blob_size(self, oid: str) -> int:
        return int(self.git("cat-file", "-s", oid).stdout.decode().strip())

    def entry(self, commit: str, path: str) -> TreeEntry | None:
        """The tree entry at ``path`` (already split) in ``commit``; the root tree for ""."""
        if not path:
            tree = self._rev(f"{commit}^{{tree}}")
            return TreeEntry("040000", "tree", tree, "") if tree else None
        out = self.git("ls-tree", "-z", "--full-tree", commit, "--", path).stdout.decode(
            "utf-8", errors="surrogateescape"
        )
        for record in out.split("\0"):
            if not record:
                continue
            entry = _tree_entry(record)
            if entry.path == path:
                return entry
        return None

    def list_tree(self, tree: str) -> list[TreeEntry]:
        out = self.git("ls-tree", "-z", tree).stdout.decode("utf-8", errors="surrogateescape")
        return [_tree_entry(record) for record in out.split("\0") if record]

    def diff(self, before: str | None, after: str, paths: list[str]) -> list[Change]:
        args = [
            "diff-tree",
            "-r",
            "-z",
            "--no-renames",
            "--no-commit-id",
            "--raw",
            before or EMPTY_TREE,
            after,
        ]
        if paths:
            args += ["--", *paths]
        fields = self.git(*args).stdout.decode("utf-8", errors="surrogateescape").split("\0")
        changes = []
        i = 0
        while i + 1 < len(fields):
            meta, path = fields[i], fields[i + 1]
            i += 2
            if not meta.startswith(":"):
                continue
            old_mode, new_mode, old_oid, new_oid, status = meta[1:].split(" ")
            changes.append(Change(status[0], old_mode, new_mode, old_oid, new_oid, path))
        return changes


def _tree_entry(record: str) -> TreeEntry:
    meta, _, path = record.partition("\t")
    mode, type_, oid = meta.split(" ")
    return TreeEntry(mode, type_, oid, path)


class GitStore:
    """Bare repositories, one per CodeCommit repository, under ``root/repos/<name>.git``."""

    def __init__(self, root: Path):
        self.root = root
        self.repos = root / "repos"
        self.home = root / "home"
        self.hooks = root / "hooks"
        self.tmp = root / "tmp"
        for folder in (self.repos, self.home, self.hooks, self.tmp):
            folder.mkdir(parents=True, exist_ok=True)
        self.env = clean_env(self.home)
        self._lock = threading.Lock()
        hook = self.hooks / "post-receive"
        if not hook.exists() or hook.read_text() != POST_RECEIVE:
            hook.write_text(POST_RECEIVE)
        hook.chmod(0o755)

    def git_dir(self, name: str) -> Path:
        if not REPOSITORY_NAME.fullmatch(name):
            raise ValueError(f"invalid repository name {name!r}")
        return self.repos / f"{name}.git"  # the suffix keeps "." and ".." names harmless

    def repository(self, name: str) -> Repository:
        return Repository(self.git_dir(name), self.env)

    def exists(self, name: str) -> bool:
        return (self.git_dir(name) / "HEAD").is_file()

    def create(self, name: str) -> Repository:
        """A new empty repository, as CreateRepository makes on AWS. The git data of an earlier
        repository of that name (left by an earlier run: the local cloud does not reload it) is
        moved aside to ``<name>.git.stale-<UTC time>``, never deleted."""
        git_dir = self.git_dir(name)
        with self._lock:
            if git_dir.exists():
                aside = self.repos / f"{git_dir.name}.stale-{datetime.now(UTC).strftime('%Y%m%dT%H%M%S.%fZ')}"
                git_dir.rename(aside)
                log.warning(
                    "repository %s is created anew (empty, as on AWS); the git data of an earlier repository "
                    "of that name was moved aside to %s", name, aside,
                )
            return self._init(git_dir)

    def ensure(self, name: str) -> Repository:
        git_dir = self.git_dir(name)
        with self._lock:
            if not (git_dir / "HEAD").is_file():
                return self._init(git_dir)
        return Repository(git_dir, self.env)

    def delete(self, name: str) -> None:
        with self._lock:
            shutil.rmtree(self.git_dir(name), ignore_errors=True)

    def _init(self, git_dir: Path) -> Repository:
        # Build aside and rename, so a half-made repository is never served.
        staging = self.tmp / f"init-{git_dir.name}-{os.getpid()}-{threading.get_ident()}"
        shutil.rmtree(staging, ignore_errors=True)
        subprocess.run(
            ["git", "init", "--quiet", "--bare", "--template=", "--initial-branch=main", str(staging)],
            env=self.env,
            check=True,
            capture_output=True,
            timeout=GIT_TIMEOUT,
        )
        repo = Repository(staging, self.env)
        for key, value in {**REPO_CONFIG, "core.hooksPath": str(self.hooks)}.items():
            repo.git("config", key, value)
        staging.rename(git_dir)
        return Repository(git_dir, self.env)
