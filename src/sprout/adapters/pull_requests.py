"""What a pull request's preview needs from AWS: a comment on the pull request
(PostCommentForPullRequest, then UpdateComment: one comment per preview), where the stage answers (its stack's http(s) outputs), and a build
of the source commit started as the API starts one (sprout.handlers.build_starts)."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import boto3
from botocore.exceptions import ClientError

from sprout.adapters.stacks import StageStacks
from sprout.domain.model import App
from sprout.domain.pipeline import stack_name
from sprout.observability import logger


class PullRequestPreviews:
    def __init__(self, start_build: Callable[[App, str, str, dict], dict], codecommit: Any = None,
                 stacks: StageStacks | None = None):
        self._codecommit = codecommit or boto3.client("codecommit")
        self._stacks = stacks or StageStacks()
        self._start_build = start_build

    def comment(self, repository: str, pull_request_id: str, before: str, after: str, content: str) -> str | None:
        """PostCommentForPullRequest; the comment's id, or None when CodeCommit refused it (the
        preview is the truth, the comment only tells of it: a failure is logged, never raised)."""
        try:
            posted = self._codecommit.post_comment_for_pull_request(
                pullRequestId=pull_request_id, repositoryName=repository, beforeCommitId=before, afterCommitId=after,
                content=content[:10000], clientRequestToken=uuid.uuid4().hex)
        except ClientError as e:
            logger.warning("pull request comment refused", extra={"pullRequest": pull_request_id,
                                                                 "error": e.response.get("Error", {}).get("Code")})
            return None
        return str(posted.get("comment", {}).get("commentId") or "") or None

    def edit(self, comment_id: str, content: str) -> bool:
        """UpdateComment (only its author may: Sprout's own comment); False when it is gone or refused."""
        try:
            self._codecommit.update_comment(commentId=comment_id, content=content[:10000])
        except ClientError as e:
            logger.warning("pull request comment not updated", extra={"error": e.response.get("Error", {}).get("Code")})
            return False
        return True

    def stage_urls(self, app: str, stage: str) -> list[str]:
        found = self._stacks.describe(stack_name(app, stage)) or {}
        return [o["OutputValue"] for o in found.get("Outputs") or []
                if str(o.get("OutputValue", "")).startswith(("https://", "http://"))]

    def start_build(self, app: App, commit: str, branch: str, trigger: dict) -> dict:
        return self._start_build(app, commit, branch, trigger)
