"""``CodeCommit Repository State Change`` events, as CodeCommit sends them for ref changes."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from .gitrepo import ZERO_ID

log = logging.getLogger("localcloud.codecommit_git")

SOURCE = "aws.codecommit"
DETAIL_TYPE = "CodeCommit Repository State Change"
_REF_TYPES = (("refs/heads/", "branch"), ("refs/tags/", "tag"))
PUT_EVENTS_BATCH = 10  # the PutEvents limit


@dataclass(frozen=True)
class RepositoryInfo:
    name: str
    id: str
    arn: str
    account_id: str


@dataclass(frozen=True)
class PushedRef:
    old: str
    new: str
    ref: str


def reference_detail(repo: RepositoryInfo, change: PushedRef, caller_arn: str) -> dict[str, Any] | None:
    """The event detail for one ref change, or None for refs CodeCommit does not report."""
    matching = [(prefix, kind) for prefix, kind in _REF_TYPES if change.ref.startswith(prefix)]
    if not matching:
        return None
    prefix, ref_type = matching[0]
    detail: dict[str, Any] = {
        "callerUserArn": caller_arn,
        "repositoryName": repo.name,
        "repositoryId": repo.id,
        "referenceType": ref_type,
        "referenceName": change.ref[len(prefix) :],
        "referenceFullName": change.ref,
    }
    if change.old == ZERO_ID:
        detail.update(event="referenceCreated", commitId=change.new)
    elif change.new == ZERO_ID:
        detail.update(event="referenceDeleted", oldCommitId=change.old)
    else:
        detail.update(event="referenceUpdated", commitId=change.new, oldCommitId=change.old)
    return detail


def put_reference_events(
    put_events: Callable[..., dict], repo: RepositoryInfo, changes: list[PushedRef], caller_arn: str
) -> int:
    """Send one event per ref change through PutEvents (default bus). Returns how many were put."""
    now = datetime.now(UTC)
    entries = []
    for change in changes:
        detail = reference_detail(repo, change, caller_arn)
        if detail is not None:
            entries.append(
                {
                    "Time": now,
                    "Source": SOURCE,
                    "DetailType": DETAIL_TYPE,
                    "Resources": [repo.arn],
                    "Detail": json.dumps(detail),
                    "EventBusName": "default",
                }
            )
    put = 0
    for start in range(0, len(entries), PUT_EVENTS_BATCH):
        batch = entries[start : start + PUT_EVENTS_BATCH]
        answer = put_events(Entries=batch)
        failed = answer.get("FailedEntryCount", 0)
        if failed:
            log.warning("PutEvents refused %s CodeCommit events: %s", failed, answer.get("Entries"))
        put += len(batch) - failed
    return put
