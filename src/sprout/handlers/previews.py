"""Preview events and the teardown sweep (template.yaml: PreviewEventsFunction on CodeCommit's
``referenceDeleted``; TeardownSweepFunction on a schedule)."""

from __future__ import annotations

from typing import Any

from sprout.adapters.executions import Executions
from sprout.adapters.lineage import Lineage
from sprout.adapters.source import resolve_branch
from sprout.adapters.stacks import StageStacks
from sprout.observability import logger
from sprout.services.previews import Previews
from sprout.services.stages import StageChanges
from sprout.settings import require_env


def build_previews() -> Previews:
    """(moves into wiring.py when the lead merges)"""
    lineage = Lineage()
    stages = StageChanges(lineage, Executions(), StageStacks(), require_env("TEARDOWN_STATE_MACHINE_ARN"),
                          require_env("SPROUT_STACK_NAME"))
    return Previews(lineage, stages, resolve_branch)


previews = build_previews()


@logger.inject_lambda_context
def on_event(event: dict, context: Any) -> dict:
    detail = event.get("detail") or {}
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
