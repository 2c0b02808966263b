"""The CodeCommit read calls a build needs, answered from the real git repository.

moto's CodeCommit keeps only repository metadata; these operations (JSON protocol, target
``CodeCommit_20150413.<Operation>``) are claimed before moto sees them. Shapes and error names
follow botocore's service model for codecommit 2015-04-13.
"""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Callable, Iterable
from typing import Any

from werkzeug.datastructures import EnvironHeaders

from localcloud import iam
from localcloud.iam.actions import Call

from .events import RepositoryInfo
from .gitrepo import OBJECT_ID, REPOSITORY_NAME, GitStore, Repository, split_path

TARGET_PREFIX = "CodeCommit_20150413."
MAX_FILE_SIZE = 6 * 1024 * 1024  # GetFile / GetBlob refuse larger blobs
DEFAULT_MAX_RESULTS = 100
FILE_MODES = {"100644": "NORMAL", "100664": "NORMAL", "100755": "EXECUTABLE", "120000": "SYMLINK"}


class ApiError(Exception):
    def __init__(self, code: str, message: str, status: int = 400):
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status


class CodeCommitApi:
    """WSGI app for the operations in ``OPERATIONS``; ``claim(environ)`` is the cloud's chooser."""

    def __init__(
        self,
        store: GitStore,
        lookup: Callable[[str], RepositoryInfo | None],
        list_repositories: Callable[[], list[dict[str, Any]]],
        on_ref_change: Callable[[RepositoryInfo, list], None] | None = None,
    ):
        self.on_ref_change = on_ref_change or (lambda info, changes: None)  # a merge moved a branch
        self.store = store
        self.lookup = lookup
        self.list_repositories_metadata = list_repositories
        # the repository a call names only through its pull request or comment (IAM checks the
        # repository's ARN, as AWS does for UpdateComment, UpdatePullRequestStatus...)
        self.repository_of: Callable[[dict], str | None] = lambda params: None
        self.operations: dict[str, Callable[[dict], dict]] = {
            "GetBranch": self.get_branch,
            "ListBranches": self.list_branches,
            "GetCommit": self.get_commit,
            "GetDifferences": self.get_differences,
            "GetFolder": self.get_folder,
            "GetFile": self.get_file,
            "GetBlob": self.get_blob,
            "ListRepositories": self.list_repositories,
        }

    def claim(self, environ: dict) -> Callable | None:
        target = environ.get("HTTP_X_AMZ_TARGET", "")
        if target.startswith(TARGET_PREFIX) and target[len(TARGET_PREFIX) :] in self.operations:
            return self
        return None

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        name = environ["HTTP_X_AMZ_TARGET"][len(TARGET_PREFIX) :]
        operation = self.operations[name]
        try:
            params = _read_json(environ)
            _authorize(environ, name, params, None if params.get("repositoryName") else self.repository_of(params))
            status, body = "200 OK", operation(params)
        except ApiError as e:
            status, body = f"{e.status} Bad Request", {"__type": e.code, "message": e.message}
        payload = json.dumps(body).encode()
        headers = [
            ("Content-Type", "application/x-amz-json-1.1"),
            ("Content-Length", str(len(payload))),
            ("x-amzn-RequestId", str(uuid.uuid4())),
        ]
        if "__type" in body:
            headers.append(("x-amzn-ErrorType", body["__type"]))
        start_response(status, headers)
        return [payload]

    # ---- helpers -------------------------------------------------------------------------
    def _repository(self, params: dict) -> tuple[RepositoryInfo, Repository]:
        name = params.get("repositoryName")
        if not name:
            raise ApiError(
                "RepositoryNameRequiredException", "A repository name is required, but was not specified."
            )
        if not isinstance(name, str) or not REPOSITORY_NAME.fullmatch(name):
            raise ApiError("InvalidRepositoryNameException", f"The repository name {name!r} is not valid.")
        info = self.lookup(name)
        if info is None:
            raise ApiError("RepositoryDoesNotExistException", f"{name} does not exist")
        return info, self.store.ensure(name)

    @staticmethod
    def _commit(repo: Repository, info: RepositoryInfo, spec: Any, *, required: bool = False) -> str:
        """A commit specifier (or the default branch when absent) → commit id."""
        if spec is None or spec == "":
            if required:
                raise ApiError(
                    "CommitRequiredException", "A commit specifier is required, but was not specified."
                )
            branch = repo.head_branch()
            if branch is None:
                raise ApiError("CommitDoesNotExistException", f"Repository {info.name} has no commits yet.")
            spec = branch
        if not isinstance(spec, str) or spec.startswith("-"):
            raise ApiError("InvalidCommitException", f"The commit specifier {spec!r} is not valid.")
        commit = repo.resolve_commit(spec)
        if commit is None:
            raise ApiError(
                "CommitDoesNotExistException", f"Could not find commit {spec} in repository {info.name}."
            )
        return commit

    @staticmethod
    def _path(params: dict, key: str, required_error: str) -> str:
        value = params.get(key)
        if value is None:
            raise ApiError(required_error, f"{key} is required, but was not specified.")
        if (
            not isinstance(value, str)
            or "\0" in value
            or any(part in (".", "..") for part in value.split("/"))
        ):
            raise ApiError("InvalidPathException", f"The {key} {value!r} is not valid.")
        return split_path(value)

    # ---- operations ----------------------------------------------------------------------
    def get_branch(self, params: dict) -> dict:
        info, repo = self._repository(params)
        branch = params.get("branchName")
        if not branch:
            raise ApiError("BranchNameRequiredException", "A branch name is required, but was not specified.")
        commit = repo.branch_commit(branch) if isinstance(branch, str) else None
        if commit is None:
            raise ApiError(
                "BranchDoesNotExistException", f"Branch {branch} does not exist in repository {info.name}."
            )
        return {"branch": {"branchName": branch, "commitId": commit}}

    def list_branches(self, params: dict) -> dict:
        _, repo = self._repository(params)
        return {"branches": repo.branches()}

    def get_commit(self, params: dict) -> dict:
        info, repo = self._repository(params)
        oid = params.get("commitId")
        if not oid:
            raise ApiError("CommitIdRequiredException", "A commit ID is required, but was not specified.")
        if not isinstance(oid, str) or not OBJECT_ID.fullmatch(oid):
            raise ApiError(
                "InvalidCommitIdException", f"The commit ID {oid!r} is not a valid full commit ID."
            )
        commit = repo.read_commit(oid)
        if commit is None:
            raise ApiError(
                "CommitIdDoesNotExistException", f"Commit {oid} does not exist in repository {info.name}."
            )
        person = lambda p: {"name": p.name, "email": p.email, "date": p.date}  # noqa: E731
        return {
            "commit": {
                "commitId": commit.oid,
                "treeId": commit.tree,
                "parents": commit.parents,
                "message": commit.message,
                "author": person(commit.author),
                "committer": person(commit.committer),
                "additionalData": "",
            }
        }

    def get_differences(self, params: dict) -> dict:
        info, repo = self._repository(params)
        after = self._commit(repo, info, params.get("afterCommitSpecifier"), required=True)
        before_spec = params.get("beforeCommitSpecifier")
        before = self._commit(repo, info, before_spec) if before_spec else None
        paths = []
        for key, commit in (("beforePath", before), ("afterPath", after)):
            if params.get(key) is None:
                continue
            path = self._path(params, key, "PathRequiredException")
            if path and (commit is None or repo.entry(commit, path) is None):
                raise ApiError("PathDoesNotExistException", f"The path {params[key]} does not exist.")
            if path:
                paths.append(path)
        max_results = params.get("MaxResults", DEFAULT_MAX_RESULTS)
        if not isinstance(max_results, int) or max_results < 1:
            raise ApiError(
                "InvalidMaxResultsException",
                f"MaxResults {max_results!r} is not valid; it must be 1 or more.",
            )
        start = _decode_token(params.get("NextToken"))
        changes = repo.diff(before, after, sorted(set(paths)))
        page = changes[start : start + max_results]
        answer: dict[str, Any] = {"differences": [_difference(c) for c in page]}
        if start + max_results < len(changes):
            answer["NextToken"] = _encode_token(start + max_results)
        return answer

    def get_folder(self, params: dict) -> dict:
        info, repo = self._repository(params)
        path = self._path(params, "folderPath", "PathRequiredException")
        commit = self._commit(repo, info, params.get("commitSpecifier"))
        folder = repo.entry(commit, path)
        if folder is None or folder.type != "tree":
            raise ApiError(
                "FolderDoesNotExistException",
                f"The folder {params['folderPath']} does not exist at commit {commit}.",
            )
        answer: dict[str, Any] = {
            "commitId": commit,
            "folderPath": path,
            "treeId": folder.oid,
            "subFolders": [],
            "files": [],
            "symbolicLinks": [],
            "subModules": [],
        }
        for entry in repo.list_tree(folder.oid):
            item: dict[str, Any] = {
                "absolutePath": f"{path}/{entry.path}" if path else entry.path,
                "relativePath": entry.path,
            }
            if entry.type == "tree":
                answer["subFolders"].append({"treeId": entry.oid, **item})
            elif entry.type == "commit":
                answer["subModules"].append({"commitId": entry.oid, **item})
            else:
                mode = FILE_MODES.get(entry.mode, "NORMAL")
                target = answer["symbolicLinks"] if mode == "SYMLINK" else answer["files"]
                target.append({"blobId": entry.oid, **item, "fileMode": mode})
        return answer

    def get_file(self, params: dict) -> dict:
        info, repo = self._repository(params)
        path = self._path(params, "filePath", "PathRequiredException")
        commit = self._commit(repo, info, params.get("commitSpecifier"))
        entry = repo.entry(commit, path) if path else None
        if entry is None or entry.type != "blob":
            raise ApiError(
                "FileDoesNotExistException",
                f"The file {params['filePath']} does not exist at commit {commit}.",
            )
        size = repo.blob_size(entry.oid)
        if size > MAX_FILE_SIZE:
            raise ApiError(
                "FileTooLargeException", f"The file {path} is {size} bytes; the limit is {MAX_FILE_SIZE}."
            )
        return {
            "commitId": commit,
            "blobId": entry.oid,
            "filePath": path,
            "fileMode": FILE_MODES.get(entry.mode, "NORMAL"),
            "fileSize": size,
            "fileContent": base64.b64encode(repo.blob(entry.oid)).decode(),
        }

    def get_blob(self, params: dict) -> dict:
        info, repo = self._repository(params)
        oid = params.get("blobId")
        if not oid:
            raise ApiError("BlobIdRequiredException", "A blob ID is required, but was not specified.")
        if not isinstance(oid, str) or not OBJECT_ID.fullmatch(oid):
            raise ApiError("InvalidBlobIdException", f"The blob ID {oid!r} is not valid.")
        if repo.object_type(oid) != "blob":
            raise ApiError(
                "BlobIdDoesNotExistException", f"Blob {oid} does not exist in repository {info.name}."
            )
        size = repo.blob_size(oid)
        if size > MAX_FILE_SIZE:
            raise ApiError(
                "FileTooLargeException", f"The blob {oid} is {size} bytes; the limit is {MAX_FILE_SIZE}."
            )
        return {"content": base64.b64encode(repo.blob(oid)).decode()}

    def list_repositories(self, params: dict) -> dict:
        sort_by = params.get("sortBy", "repositoryName")
        order = params.get("order", "ascending")
        if sort_by not in ("repositoryName", "lastModifiedDate"):
            raise ApiError("InvalidSortByException", f"sortBy {sort_by!r} is not valid.")
        if order not in ("ascending", "descending"):
            raise ApiError("InvalidOrderException", f"order {order!r} is not valid.")
        repos = sorted(
            self.list_repositories_metadata(),
            key=lambda m: str(m.get(sort_by, "")),
            reverse=order == "descending",
        )
        return {
            "repositories": [
                {"repositoryName": m["repositoryName"], "repositoryId": m["repositoryId"]} for m in repos
            ]
        }


def _difference(change) -> dict:
    status = "M" if change.status == "T" else change.status
    answer: dict[str, Any] = {"changeType": status}
    if status != "A":
        answer["beforeBlob"] = {"blobId": change.old_oid, "path": change.path, "mode": change.old_mode}
    if status != "D":
        answer["afterBlob"] = {"blobId": change.new_oid, "path": change.path, "mode": change.new_mode}
    return answer


def _encode_token(offset: int) -> str:
    return base64.urlsafe_b64encode(f"differences:{offset}".encode()).decode()


def _decode_token(token: Any) -> int:
    if token is None:
        return 0
    try:
        kind, _, offset = base64.urlsafe_b64decode(str(token).encode()).decode().partition(":")
        if kind == "differences" and int(offset) >= 0:
            return int(offset)
    except (ValueError, UnicodeDecodeError):
        pass
    raise ApiError("InvalidContinuationTokenException", "The NextToken is not valid.")


def _authorize(environ: dict, operation: str, params: dict, repository: str | None = None) -> None:
    """moto never sees these requests, so IAM (when enforced) is asked here; ``repository`` is the
    one a call names through its pull request or comment."""
    if not iam.enforcing():
        return
    named = {**params, "repositoryName": repository} if repository else params
    call = Call(service="codecommit", operation=operation, params=named, path=environ.get("PATH_INFO", "/"))
    try:
        iam.authorize_request(EnvironHeaders(environ), environ.get("QUERY_STRING", ""), call)
    except iam.Denied as e:
        code = {"AccessDenied": "AccessDeniedException", "InvalidClientTokenId": "UnrecognizedClientException"}
        raise ApiError(code.get(e.code, e.code), e.message, 400 if e.code == "AccessDenied" else 403) from None


def _read_json(environ: dict) -> dict:
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    raw = environ["wsgi.input"].read(length) if length else b""
    if not raw:
        return {}
    try:
        params = json.loads(raw)
    except ValueError as e:
        raise ApiError("SerializationException", f"The request body is not valid JSON: {e}") from None
    if not isinstance(params, dict):
        raise ApiError("SerializationException", "The request body must be a JSON object.")
    return params
