"""codecommit_git: CodeCommit repositories that plain ``git`` clones from and pushes to.

moto stores each repository's metadata; this component keeps a bare git repository for it under
``<data dir>/codecommit/repos``, serves git's smart HTTP protocol at ``localcloud.urls.git_clone_url``
(``git http-backend``), puts a ``CodeCommit Repository State Change`` event through the Events API
for every branch or tag a push creates, updates or deletes, and answers the CodeCommit read calls
(GetBranch, GetCommit, GetDifferences, GetFolder, GetFile, GetBlob, ListBranches,
ListRepositories) from the real repository.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from botocore.exceptions import ClientError

from localcloud.moto_hooks import hook, require
from localcloud.urls import GIT_PREFIX, git_clone_url

from .api import CodeCommitApi
from .events import PushedRef, RepositoryInfo, put_reference_events
from .gitrepo import GitFailed, GitStore
from .pull_requests import PullRequests
from .smart_http import GitHttpApp

__all__ = ["install", "store_for"]

log = logging.getLogger("localcloud.codecommit_git")
MODELS = "moto.codecommit.models"


_stores: dict[str, GitStore] = {}
_stores_lock = threading.Lock()


def store_for(cloud) -> GitStore:
    """The bare repositories of ``cloud`` (one GitStore per data dir, so one lock guards them)."""
    root = cloud.path("codecommit")
    with _stores_lock:
        if str(root) not in _stores:
            _stores[str(root)] = GitStore(root)
        return _stores[str(root)]


def install(cloud) -> None:
    store = store_for(cloud)
    codecommit = cloud.client("codecommit")
    events = cloud.client("events")
    caller_arn = (
        f"arn:aws:iam::{cloud.account_id}:root"  # pushes are anonymous; the local cloud accepts anyone
    )

    def lookup(name: str) -> RepositoryInfo | None:
        try:
            meta = codecommit.get_repository(repositoryName=name)["repositoryMetadata"]
        except ClientError as e:
            if e.response["Error"]["Code"] in (
                "RepositoryDoesNotExistException",
                "InvalidRepositoryNameException",
            ):
                return None
            raise
        return RepositoryInfo(
            name=meta["repositoryName"],
            id=meta["repositoryId"],
            arn=meta["Arn"],
            account_id=meta["accountId"],
        )

    def on_ref_change(info: RepositoryInfo, changes: list[PushedRef]) -> None:
        put_reference_events(events.put_events, info, changes, caller_arn)

    def on_push(info: RepositoryInfo, changes: list[PushedRef]) -> None:
        adopt_default_branch(store, info.name, changes)
        put_reference_events(events.put_events, info, changes, caller_arn)
        pull_requests.on_push(info, changes)

    backends = require(
        MODELS, "codecommit_backends", "ListRepositories: moto has no such call; read its repositories"
    )

    def list_repositories() -> list[dict[str, Any]]:
        return [
            repo.repository_metadata
            for repo in backends[cloud.account_id][cloud.region].repositories.values()
        ]

    _install_moto_hooks()
    api = CodeCommitApi(store, lookup, list_repositories, on_ref_change)
    pull_requests = PullRequests(api, events.put_events, caller_arn)
    api.operations.update(pull_requests.operations())
    api.repository_of = pull_requests.repository_of
    cloud.mount(GIT_PREFIX, GitHttpApp(store, lookup, on_push))
    cloud.intercept(api.claim)


def adopt_default_branch(store: GitStore, name: str, changes: list[PushedRef]) -> None:
    """CodeCommit makes the first branch pushed the default branch (HEAD here)."""
    repo = store.repository(name)
    if repo.head_branch() is not None:
        return
    created = [
        c.ref[len("refs/heads/") :] for c in changes if c.ref.startswith("refs/heads/") and c.new != "0" * 40
    ]
    existing = repo.branches()
    for candidate in ("main", "master", *created, *existing):
        if candidate in existing:
            repo.set_head(candidate)
            return


def _install_moto_hooks() -> None:
    from localcloud.cloud import current

    @hook(
        MODELS,
        "CodeCommitBackend.create_repository",
        "give the repository a real git remote and local clone URL",
    )
    def create_repository(original, self, repository_name: str, repository_description: str) -> dict:
        metadata = original(self, repository_name, repository_description)
        cloud = current()
        metadata["cloneUrlHttp"] = git_clone_url(cloud.endpoint, repository_name)  # moto's dict: persists
        store_for(cloud).create(repository_name)
        return metadata

    @hook(MODELS, "CodeCommitBackend.get_repository", "local clone URL and the default branch from git")
    def get_repository(original, self, repository_name: str) -> dict:
        cloud = current()
        metadata = dict(original(self, repository_name))
        metadata["cloneUrlHttp"] = git_clone_url(cloud.endpoint, repository_name)
        store = store_for(cloud)
        if store.exists(repository_name):
            try:
                branch = store.repository(repository_name).head_branch()
            except GitFailed as e:
                log.warning("reading the default branch of %s failed: %s", repository_name, e)
                branch = None
            if branch:
                metadata["defaultBranch"] = branch
        return metadata

    @hook(MODELS, "CodeCommitBackend.delete_repository", "delete the git repository with it")
    def delete_repository(original, self, repository_name: str):
        repository_id = original(self, repository_name)
        if repository_id:
            store_for(current()).delete(repository_name)
        return repository_id
