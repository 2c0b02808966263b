"""A commit's files through the CodeCommit API, as a packaging SourceTree.

``CodeCommitSource(repository, commit_id)`` lists folders with ``GetFolder`` (recursively) and
reads files with ``GetBlob`` (by the blob id the listing gave) or ``GetFile``. Executables come
from the listing's ``fileMode``; symbolic links and submodules are not part of a package.
``commit_info`` and ``resolve_branch`` answer the build's other questions. Every CodeCommit
failure becomes a ``SourceError`` naming the repository, the commit and the path.
"""

from __future__ import annotations

from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from sprout.domain.errors import SourceError, named
from sprout.domain.source_tree import SourceTree, normalize

READ_WORKERS = 8


def _code(e: ClientError) -> str:
    return e.response.get("Error", {}).get("Code", "")


def _fail(what: str, e: Exception) -> SourceError:
    reason = f"{_code(e)}: {e.response.get('Error', {}).get('Message', '')}" if isinstance(e, ClientError) else str(e)
    return SourceError(f"{what}: {named(reason, 160)}")


class CodeCommitSource(SourceTree):
    def __init__(self, repository: str, commit_id: str, client=None):
        self.repository = repository
        self.commit_id = commit_id
        self.client = client or boto3.client("codecommit")
        self.location = f"commit {commit_id} of repository {repository}"
        self._blobs: dict[str, str] = {}  # path -> blob id, from listings
        self._executables: set[str] = set()

    def read(self, path: str) -> bytes | None:
        path = normalize(path)
        blob = self._blobs.get(path)
        try:
            if blob is not None:
                return self.client.get_blob(repositoryName=self.repository, blobId=blob)["content"]
            response = self.client.get_file(
                repositoryName=self.repository, commitSpecifier=self.commit_id, filePath="/" + path
            )
        except ClientError as e:
            if _code(e) in ("FileDoesNotExistException", "FolderDoesNotExistException"):
                return None
            raise _fail(f"cannot read {path} at {self.location}", e) from None
        except BotoCoreError as e:
            raise _fail(f"cannot read {path} at {self.location}", e) from None
        if response.get("fileMode") == "EXECUTABLE":
            self._executables.add(path)
        return response["fileContent"]

    def read_many(self, paths: Iterable[str]) -> dict[str, bytes]:
        paths = list(paths)
        with ThreadPoolExecutor(max_workers=READ_WORKERS) as pool:
            contents = list(pool.map(self.read, paths))
        return {p: data for p, data in zip(paths, contents, strict=True) if data is not None}

    def list_files(self, folder: str) -> list[str]:
        files: list[str] = []
        pending = [normalize(folder)]
        while pending:
            current = pending.pop()
            try:
                response = self.client.get_folder(
                    repositoryName=self.repository, commitSpecifier=self.commit_id, folderPath="/" + current
                )
            except ClientError as e:
                if _code(e) == "FolderDoesNotExistException":
                    if current == normalize(folder):
                        return []
                    continue
                raise _fail(f"cannot list {current or '/'} at {self.location}", e) from None
            except BotoCoreError as e:
                raise _fail(f"cannot list {current or '/'} at {self.location}", e) from None
            for entry in response.get("files", []):
                path = self._path(current, entry)
                if entry.get("fileMode") == "SYMLINK":
                    continue
                files.append(path)
                self._blobs[path] = entry["blobId"]
                if entry.get("fileMode") == "EXECUTABLE":
                    self._executables.add(path)
            pending += [self._path(current, sub) for sub in response.get("subFolders", [])]
        return files

    def is_executable(self, path: str) -> bool:
        return normalize(path) in self._executables

    def commit_info(self) -> dict:
        return commit_info(self.repository, self.commit_id, client=self.client)

    @staticmethod
    def _path(folder: str, entry: dict) -> str:
        if entry.get("absolutePath"):
            return normalize(entry["absolutePath"])
        return normalize(f"{folder}/{entry['relativePath']}")


def commit_info(repository: str, commit_id: str, client=None) -> dict:
    """``{"message", "author", "email", "date"}`` of a commit; ``date`` in ISO 8601 UTC when
    CodeCommit gives git's ``<epoch seconds> <offset>``, else as given."""
    client = client or boto3.client("codecommit")
    try:
        commit = client.get_commit(repositoryName=repository, commitId=commit_id)["commit"]
    except (ClientError, BotoCoreError) as e:
        raise _fail(f"cannot read commit {commit_id} of repository {repository}", e) from None
    author = commit.get("author") or {}
    return {
        "message": (commit.get("message") or "").strip(),
        "author": author.get("name", ""),
        "email": author.get("email", ""),
        "date": _git_date(author.get("date", "")),
    }


def descends_from(repository: str, commit_id: str, ancestor_id: str, client=None, max_commits: int = 200) -> bool:
    """True when ``ancestor_id`` is in the history of ``commit_id`` (and is not that commit),
    walking parents breadth first through GetCommit, at most ``max_commits`` of them."""
    if commit_id == ancestor_id:
        return False
    client = client or boto3.client("codecommit")
    seen, queue = {commit_id}, [commit_id]
    while queue and len(seen) <= max_commits:
        current = queue.pop(0)
        try:
            parents = client.get_commit(repositoryName=repository, commitId=current)["commit"].get("parents") or []
        except (ClientError, BotoCoreError) as e:
            raise _fail(f"cannot read commit {named(current)} of repository {named(repository)}", e) from None
        for parent in parents:
            if parent == ancestor_id:
                return True
            if parent not in seen:
                seen.add(parent)
                queue.append(parent)
    return False


def resolve_branch(repository: str, branch: str, client=None) -> str:
    """The commit id at the tip of ``branch``."""
    client = client or boto3.client("codecommit")
    try:
        return client.get_branch(repositoryName=repository, branchName=branch)["branch"]["commitId"]
    except (ClientError, BotoCoreError) as e:
        raise _fail(f"cannot resolve branch {named(branch)} of repository {named(repository)}", e) from None
    except KeyError:
        raise SourceError(f"branch {named(branch)} of repository {named(repository)} has no commit") from None


def _git_date(value: str) -> str:
    parts = value.split()
    if len(parts) == 2 and parts[0].isdigit() and len(parts[1]) == 5 and parts[1][0] in "+-":
        return datetime.fromtimestamp(int(parts[0]), UTC).isoformat().replace("+00:00", "Z")
    return value


def commits_between(repository: str, newest: str, oldest: str | None, limit: int = 50, client=None) -> list[dict]:
    """The commits after ``oldest`` up to ``newest``, newest first (first parents, at most
    ``limit``): ``{"id", "author", "message"}`` with the message's first line. Empty when
    ``oldest`` is not an ancestor within the limit."""
    client = client or boto3.client("codecommit")
    found: list[dict[str, str]] = []
    current: str | None = newest
    while current and current != oldest and len(found) < limit:
        try:
            commit = client.get_commit(repositoryName=repository, commitId=current)["commit"]
        except (ClientError, BotoCoreError) as e:
            raise _fail(f"cannot read commit {named(current)} of repository {named(repository)}", e) from None
        message = (commit.get("message") or "").strip().splitlines()
        found.append({"id": current, "author": (commit.get("author") or {}).get("name", ""),
                      "message": message[0] if message else ""})
        parents = commit.get("parents") or []
        current = parents[0] if parents else None
    return found if oldest is None or current == oldest else []


def check_repository(repository: str, client=None) -> None:
    """SourceError unless the CodeCommit repository exists."""
    client = client or boto3.client("codecommit")
    try:
        client.get_repository(repositoryName=repository)
    except (ClientError, BotoCoreError) as e:
        raise _fail(f"repository {named(repository)} cannot be read", e) from None


def check_commit(repository: str, commit_id: str, client=None) -> None:
    """SourceError unless ``commit_id`` is a commit of the repository."""
    client = client or boto3.client("codecommit")
    try:
        client.get_commit(repositoryName=repository, commitId=commit_id)
    except (ClientError, BotoCoreError) as e:
        raise _fail(f"commit {named(commit_id)} of repository {named(repository)} cannot be read", e) from None


class Repositories:
    """The questions above as one object with one CodeCommit client (built on first use, kept for
    the life of the execution environment): the services' source port."""

    def __init__(self, client: Any = None) -> None:
        self._given = client

    @property
    def _client(self):
        if self._given is None:
            self._given = boto3.client("codecommit")
        return self._given

    def check_repository(self, repository: str) -> None:
        check_repository(repository, self._client)

    def check_commit(self, repository: str, commit_id: str) -> None:
        check_commit(repository, commit_id, self._client)

    def resolve_branch(self, repository: str, branch: str) -> str:
        return resolve_branch(repository, branch, self._client)

    def commit_info(self, repository: str, commit_id: str) -> dict:
        return commit_info(repository, commit_id, self._client)

    def tree(self, repository: str, commit_id: str) -> CodeCommitSource:
        """The commit's files (a packaging SourceTree)."""
        return CodeCommitSource(repository, commit_id, self._client)

    def commits_between(self, repository: str, newest: str, oldest: str | None, limit: int = 50) -> list[dict]:
        return commits_between(repository, newest, oldest, limit, self._client)

    def descends_from(self, repository: str, commit_id: str, ancestor_id: str) -> bool:
        return descends_from(repository, commit_id, ancestor_id, self._client)
