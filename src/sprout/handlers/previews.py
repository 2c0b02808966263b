"""Preview events and the teardown sweep (template.yaml: PreviewEventsFunction on CodeCommit's
``referenceDeleted``, ``CodeCommit Pull Request State Change`` and a deploy execution's end; TeardownSweepFunction on a
schedule)."""

from __future__ import annotations

from typing import Any

from sprout import wiring
from sprout.observability import logger

previews = wiring.previews()


@logger.inject_lambda_context
def on_event(event: dict, context: Any) -> dict:
    detail = event.get("detail") or {}
    if event.get("source") == "aws.states" and event.get("detail-type") == "Step Functions Execution Status Change":
        told = previews.deployment_ended(detail)
        logger.info("deploy ended", extra={"outcome": told})
        return {"deployEnded": told}
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
