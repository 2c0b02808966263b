"""CodeCommit pull requests over the real git data: CreatePullRequest, GetPullRequest,
ListPullRequests, UpdatePullRequestStatus, MergePullRequestByFastForward,
PostCommentForPullRequest, GetCommentsForPullRequest, UpdateComment — and the ``CodeCommit Pull
Request State Change`` events CodeCommit sends (``pullRequestCreated``,
``pullRequestSourceBranchUpdated`` when a push moves an open pull request's source branch,
``pullRequestStatusChanged``, ``pullRequestMergeStatusUpdated``). Shapes follow botocore's
service model (codecommit 2015-04-13) and the event reference's detail fields.
"""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from .events import SOURCE, PushedRef, RepositoryInfo
from .gitrepo import ZERO_ID

if TYPE_CHECKING:
    from .api import CodeCommitApi

DETAIL_TYPE = "CodeCommit Pull Request State Change"
MAX_TITLE = 150
MAX_COMMENT = 10240


def _heads(ref: str) -> str:
    return ref if ref.startswith("refs/") else f"refs/heads/{ref}"


def _branch(ref: str) -> str:
    return ref.removeprefix("refs/heads/")


class PullRequests:
    def __init__(self, api: CodeCommitApi, put_events: Callable[..., dict], caller_arn: str):
        self.api = api
        self.put_events = put_events
        self.caller_arn = caller_arn
        self.lock = threading.Lock()
        self.items: dict[str, dict[str, Any]] = {}
        self.comments: dict[str, list[dict[str, Any]]] = {}
        self.next_id = 1

    def operations(self) -> dict[str, Callable[[dict], dict]]:
        return {
            "CreatePullRequest": self.create, "GetPullRequest": self.get, "ListPullRequests": self.list,
            "UpdatePullRequestStatus": self.update_status, "MergePullRequestByFastForward": self.merge_fast_forward,
            "PostCommentForPullRequest": self.post_comment, "GetCommentsForPullRequest": self.get_comments,
            "UpdateComment": self.update_comment,
        }

    def repository_of(self, params: dict) -> str | None:
        """The repository of the pull request (``pullRequestId``) or comment (``commentId``) a call
        names: IAM checks that repository's ARN (the calls name no repository themselves)."""
        pr_id = params.get("pullRequestId")
        with self.lock:
            if isinstance(pr_id, str) and pr_id in self.items:
                return str(self.items[pr_id]["pullRequestTargets"][0]["repositoryName"])
            comment_id = params.get("commentId")
            for owner, comments in self.comments.items():
                if any(c["commentId"] == comment_id for c in comments) and owner in self.items:
                    return str(self.items[owner]["pullRequestTargets"][0]["repositoryName"])
        return None

    # ---- the calls --------------------------------------------------------------------------
    def create(self, params: dict) -> dict:
        from .api import ApiError

        title = params.get("title")
        if not isinstance(title, str) or not title:
            raise ApiError("TitleRequiredException", "A pull request title is required.")
        if len(title) > MAX_TITLE:
            raise ApiError("InvalidTitleException", f"The title is longer than {MAX_TITLE} characters.")
        targets = params.get("targets") or []
        if not isinstance(targets, list) or len(targets) != 1 or not isinstance(targets[0], dict):
            raise ApiError("MultipleRepositoriesInPullRequestException" if len(targets) > 1 else "TargetsRequiredException",
                           "Exactly one target is required.")
        target = targets[0]
        info, repo = self.api._repository(target)
        source = target.get("sourceReference")
        if not isinstance(source, str) or not source:
            raise ApiError("ReferenceNameRequiredException", "A source reference is required.")
        destination = target.get("destinationReference") or repo.head_branch()
        source_commit = repo.branch_commit(_branch(source))
        if source_commit is None:
            raise ApiError("ReferenceDoesNotExistException", f"The reference {source} does not exist.")
        destination_commit = repo.branch_commit(_branch(destination or ""))
        if destination_commit is None:
            raise ApiError("ReferenceDoesNotExistException", f"The reference {destination} does not exist.")
        if _branch(source) == _branch(destination):
            raise ApiError("SourceAndDestinationAreSameException", "The source and destination are the same.")
        now = datetime.now(UTC)
        with self.lock:
            pr_id = str(self.next_id)
            self.next_id += 1
            pr = {
                "pullRequestId": pr_id, "title": title, "description": params.get("description") or "",
                "lastActivityDate": now, "creationDate": now, "pullRequestStatus": "OPEN",
                "authorArn": self.caller_arn, "revisionId": uuid.uuid4().hex,
                "clientRequestToken": params.get("clientRequestToken") or "",
                "pullRequestTargets": [{
                    "repositoryName": info.name, "sourceReference": _heads(source),
                    "destinationReference": _heads(destination or ""), "sourceCommit": source_commit,
                    "destinationCommit": destination_commit,
                    "mergeBase": self._merge_base(repo, source_commit, destination_commit),
                    "mergeMetadata": {"isMerged": False},
                }],
            }
            self.items[pr_id] = pr
            self.comments[pr_id] = []
        self._emit(info, pr, "pullRequestCreated")
        return {"pullRequest": _shown(pr)}

    def get(self, params: dict) -> dict:
        return {"pullRequest": _shown(self._find(params))}

    def list(self, params: dict) -> dict:
        info, _ = self.api._repository(params)
        status = params.get("pullRequestStatus")
        ids = [i for i, pr in self.items.items() if pr["pullRequestTargets"][0]["repositoryName"] == info.name
               and (not status or pr["pullRequestStatus"] == status)]
        return {"pullRequestIds": sorted(ids, key=int, reverse=True)}

    def update_status(self, params: dict) -> dict:
        from .api import ApiError

        pr = self._find(params)
        status = params.get("pullRequestStatus")
        if status not in ("OPEN", "CLOSED"):
            raise ApiError("InvalidPullRequestStatusException", "The pull request status is not valid.")
        if pr["pullRequestStatus"] == "CLOSED":
            raise ApiError("InvalidPullRequestStatusUpdateException", "A closed pull request cannot be updated.")
        if status != pr["pullRequestStatus"]:
            self._touch(pr, pullRequestStatus=status)
            self._emit(self._info(pr), pr, "pullRequestStatusChanged")
        return {"pullRequest": _shown(pr)}

    def merge_fast_forward(self, params: dict) -> dict:
        from .api import ApiError

        pr = self._find(params)
        if pr["pullRequestStatus"] != "OPEN":
            raise ApiError("PullRequestAlreadyClosedException", "The pull request is already closed.")
        target = pr["pullRequestTargets"][0]
        info, repo = self.api._repository({"repositoryName": target["repositoryName"]})
        source = repo.branch_commit(_branch(target["sourceReference"]))
        destination = repo.branch_commit(_branch(target["destinationReference"]))
        if source is None:
            raise ApiError("ReferenceDoesNotExistException", "The source branch no longer exists.")
        if destination and repo.git("merge-base", "--is-ancestor", destination, source, ok=(0, 1)).returncode != 0:
            raise ApiError("ManualMergeRequiredException", "The pull request cannot be merged by fast-forward.")
        repo.git("update-ref", target["destinationReference"], source, destination or ZERO_ID)
        target["mergeMetadata"] = {"isMerged": True, "mergedBy": self.caller_arn, "mergeCommitId": source,
                                   "mergeOption": "FAST_FORWARD_MERGE"}
        self._touch(pr, pullRequestStatus="CLOSED")
        self._emit(info, pr, "pullRequestMergeStatusUpdated")
        self.api.on_ref_change(info, [PushedRef(destination or ZERO_ID, source, target["destinationReference"])])
        return {"pullRequest": _shown(pr)}

    def post_comment(self, params: dict) -> dict:
        from .api import ApiError

        pr = self._find(params)
        content = params.get("content")
        if not isinstance(content, str) or not content:
            raise ApiError("CommentContentRequiredException", "The comment is empty.")
        if len(content) > MAX_COMMENT:
            raise ApiError("CommentContentSizeLimitExceededException", "The comment is too large.")
        now = datetime.now(UTC)
        comment = {"commentId": uuid.uuid4().hex, "content": content, "authorArn": self.caller_arn,
                   "creationDate": now, "lastModifiedDate": now, "deleted": False}
        with self.lock:
            self.comments[pr["pullRequestId"]].append(comment)
        target = pr["pullRequestTargets"][0]
        return {"repositoryName": target["repositoryName"], "pullRequestId": pr["pullRequestId"],
                "beforeCommitId": params.get("beforeCommitId"), "afterCommitId": params.get("afterCommitId"),
                "comment": _shown(comment)}

    def get_comments(self, params: dict) -> dict:
        pr = self._find(params)
        comments = [_shown(c) for c in self.comments[pr["pullRequestId"]]]
        target = pr["pullRequestTargets"][0]
        return {"commentsForPullRequestData": [{
            "pullRequestId": pr["pullRequestId"], "repositoryName": target["repositoryName"],
            "beforeCommitId": target["destinationCommit"], "afterCommitId": target["sourceCommit"],
            "comments": comments}] if comments else []}

    def update_comment(self, params: dict) -> dict:
        from .api import ApiError

        content = params.get("content")
        if not isinstance(content, str) or not content:
            raise ApiError("CommentContentRequiredException", "The comment is empty.")
        with self.lock:
            for comments in self.comments.values():
                for comment in comments:
                    if comment["commentId"] == params.get("commentId"):
                        comment.update(content=content, lastModifiedDate=datetime.now(UTC))
                        return {"comment": _shown(comment)}
        raise ApiError("CommentDoesNotExistException", "No comment exists with the provided ID.")

    # ---- pushes -----------------------------------------------------------------------------
    def on_push(self, info: RepositoryInfo, changes: list[PushedRef]) -> None:
        """A push that moves an open pull request's source branch updates it (and says so)."""
        for change in changes:
            if change.new == ZERO_ID:
                continue
            for pr in list(self.items.values()):
                target = pr["pullRequestTargets"][0]
                if (pr["pullRequestStatus"] == "OPEN" and target["repositoryName"] == info.name
                        and target["sourceReference"] == change.ref and target["sourceCommit"] != change.new):
                    target["sourceCommit"] = change.new
                    self._touch(pr)
                    self._emit(info, pr, "pullRequestSourceBranchUpdated")

    # ---- helpers ----------------------------------------------------------------------------
    def _find(self, params: dict) -> dict:
        from .api import ApiError

        pr_id = params.get("pullRequestId")
        if not isinstance(pr_id, str) or not pr_id:
            raise ApiError("PullRequestIdRequiredException", "A pull request ID is required.")
        if not pr_id.isdigit():
            raise ApiError("InvalidPullRequestIdException", "The pull request ID is not valid.")
        pr = self.items.get(pr_id)
        if pr is None:
            raise ApiError("PullRequestDoesNotExistException", f"The pull request ID {pr_id} does not exist.")
        return pr

    def _info(self, pr: dict) -> RepositoryInfo:
        info, _ = self.api._repository({"repositoryName": pr["pullRequestTargets"][0]["repositoryName"]})
        return info

    def _touch(self, pr: dict, **changes: Any) -> None:
        with self.lock:
            pr.update(changes, lastActivityDate=datetime.now(UTC), revisionId=uuid.uuid4().hex)

    @staticmethod
    def _merge_base(repo: Any, a: str, b: str) -> str | None:
        out = repo.git("merge-base", a, b, ok=(0, 1)).stdout.decode().strip()
        return out or None

    def _emit(self, info: RepositoryInfo, pr: dict, event: str) -> None:
        target = pr["pullRequestTargets"][0]
        detail = {
            "author": pr["authorArn"], "callerUserArn": self.caller_arn,
            "creationDate": _when(pr["creationDate"]), "lastModifiedDate": _when(pr["lastActivityDate"]),
            "description": pr["description"], "title": pr["title"], "event": event,
            "pullRequestId": pr["pullRequestId"], "pullRequestStatus": pr["pullRequestStatus"].capitalize(),
            "repositoryNames": [info.name], "revisionId": pr["revisionId"],
            "sourceReference": target["sourceReference"], "sourceCommit": target["sourceCommit"],
            "destinationReference": target["destinationReference"], "destinationCommit": target["destinationCommit"],
            "isMerged": "True" if target["mergeMetadata"].get("isMerged") else "False",
            "notificationBody": f"A pull request event occurred in the following AWS CodeCommit repository: {info.name}.",
        }
        if target["mergeMetadata"].get("isMerged"):
            detail["mergeOption"] = "FAST_FORWARD_MERGE"
        self.put_events(Entries=[{"Time": datetime.now(UTC), "Source": SOURCE, "DetailType": DETAIL_TYPE,
                                  "Resources": [info.arn], "Detail": json.dumps(detail), "EventBusName": "default"}])


def _when(moment: datetime) -> str:
    return moment.strftime("%a %b %d %H:%M:%S UTC %Y")


def _shown(pr: dict) -> dict:
    """A pull request as the API returns it (a copy: callers never hold the store's dicts)."""
    return json.loads(json.dumps(pr, default=lambda v: v.timestamp() if isinstance(v, datetime) else str(v)))
