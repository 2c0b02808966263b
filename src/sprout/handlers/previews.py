"""Preview events and the teardown sweep (template.yaml: PreviewEventsFunction on CodeCommit's
``referenceDeleted`` and ``CodeCommit Pull Request State Change``; TeardownSweepFunction on a
schedule)."""

from __future__ import annotations

import os
from typing import Any

import boto3

from sprout.adapters.executions import Executions
from sprout.adapters.lineage import Lineage
from sprout.adapters.pull_requests import PullRequestPreviews
from sprout.adapters.source import resolve_branch
from sprout.adapters.stacks import StageStacks
from sprout.handlers.build_starts import start_build
from sprout.observability import logger
from sprout.services.previews import Previews
from sprout.services.stages import StageChanges
from sprout.settings import require_env


def build_previews() -> Previews:
    """(moves into wiring.py when the lead merges)"""
    lineage = Lineage()
    stages = StageChanges(lineage, Executions(), StageStacks(), require_env("TEARDOWN_STATE_MACHINE_ARN"),
                          require_env("SPROUT_STACK_NAME"))
    machine = os.environ.get("BUILD_STATE_MACHINE_ARN", "")  # the events function only: pull requests build
    context = {"lineage": lineage, "sfn": boto3.client("stepfunctions"), "build_machine": machine}
    pull_requests = PullRequestPreviews(lambda app, commit, branch, trigger: start_build(context, app, commit, branch,
                                                                                         trigger))
    return Previews(lineage, stages, resolve_branch, pull_requests)


previews = build_previews()


@logger.inject_lambda_context
def on_event(event: dict, context: Any) -> dict:
    detail = event.get("detail") or {}
    if event.get("source") == "aws.codecommit" and event.get("detail-type") == "CodeCommit Pull Request State Change":
        outcomes = previews.pull_request_event(detail)
        logger.info("pull request event", extra={"event": detail.get("event"), "outcomes": outcomes})
        return {"pullRequest": outcomes}
    if event.get("source") != "aws.codecommit" or detail.get("event") != "referenceDeleted":
        return {"ignored": True}
    repository, branch = str(detail.get("repositoryName") or ""), str(detail.get("referenceName") or "")
    removed = previews.branch_deleted(repository, branch, detail.get("callerUserArn") or "sprout:branch-deleted")
    logger.info("branch deleted", extra={"repository": repository, "branch": branch, "removed": len(removed)})
    return {"removed": removed}


@logger.inject_lambda_context
def sweep(event: dict, context: Any) -> dict:
    done = previews.sweep()
    logger.info("teardown sweep", extra=done)
    return done
