"""Issues in the lineage table: one item per app, stage and fingerprint, a counter of a stage's
issues (bounded: ``MAX_ISSUES_PER_STAGE``), and the record of which function log groups Sprout
subscribed for the stage (the only groups whose lines it groups for that stage).

==================  ===============================  ===============
item                pk                               sk
==================  ===============================  ===============
issue               ``ISSUES#{app}#{stage}``         ``ISSUE#{id}``
issue counter       ``ISSUES#{app}#{stage}``         ``COUNT``
subscribed groups   ``ISSUES#{app}#{stage}``         ``WATCH``
==================  ===============================  ===============

An issue carries a version (optimistic locking): the subscribed function reads it, absorbs a
batch, and writes it back only if nobody wrote in between, else reads again.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from pynamodb.attributes import JSONAttribute, NumberAttribute, UnicodeAttribute, VersionAttribute
from pynamodb.exceptions import PutError

from sprout.adapters.lineage.items import Item
from sprout.adapters.lineage.table import Txn, get, now_iso
from sprout.domain.issues import MAX_ISSUES_PER_STAGE, OVERFLOW_TYPE, Frame, Issue


def issues_pk(app: str, stage: str) -> str:
    return f"ISSUES#{app}#{stage}"


def issue_sk(issue_id: str) -> str:
    return f"ISSUE#{issue_id}"


class IssueItem(Item):
    app = UnicodeAttribute()
    stage = UnicodeAttribute()
    id = UnicodeAttribute()
    type = UnicodeAttribute()
    title = UnicodeAttribute()
    kind = UnicodeAttribute()
    frame = JSONAttribute(null=True)
    status = UnicodeAttribute()
    first_seen = JSONAttribute(attr_name="firstSeen")
    last_seen = UnicodeAttribute(attr_name="lastSeen")
    occurrences = NumberAttribute(attr_name="count")  # not `count`: Model.count is PynamoDB's
    counts = JSONAttribute()
    samples = JSONAttribute()
    status_changed_at = UnicodeAttribute(attr_name="statusChangedAt", null=True)
    status_changed_by = UnicodeAttribute(attr_name="statusChangedBy", null=True)
    regressed_at = UnicodeAttribute(attr_name="regressedAt", null=True)
    batches = JSONAttribute(null=True)
    version = VersionAttribute()


class IssueCountItem(Item):
    n = NumberAttribute(default=0)


class IssueWatchItem(Item):
    groups = JSONAttribute(default=dict)  # log group -> function logical id
    unsubscribed = JSONAttribute(default=list)  # [{"function", "logGroup", "reason"}]
    deployment = UnicodeAttribute(null=True)
    updated_at = UnicodeAttribute(attr_name="updatedAt")


def _to_issue(item: IssueItem) -> Issue:
    frame = item.frame if isinstance(item.frame, dict) else None
    return Issue(
        app=item.app, stage=item.stage, id=item.id, type=item.type, title=item.title, kind=item.kind,
        frame=Frame(frame["file"], frame["function"]) if frame else None, status=item.status,
        first_seen=dict(item.first_seen or {}), last_seen=item.last_seen, count=int(item.occurrences),
        counts={str(k): int(v) for k, v in (item.counts or {}).items()}, samples=list(item.samples or []),
        status_changed_at=item.status_changed_at, status_changed_by=item.status_changed_by,
        regressed_at=item.regressed_at, batches=list(item.batches or []), version=int(item.version) if item.version is not None else None,
    )


def _to_item(issue: Issue) -> IssueItem:
    item = IssueItem(
        issues_pk(issue.app, issue.stage), issue_sk(issue.id), app=issue.app, stage=issue.stage, id=issue.id,
        type=issue.type, title=issue.title, kind=issue.kind,
        frame={"file": issue.frame.file, "function": issue.frame.function} if issue.frame else None,
        status=issue.status, first_seen=issue.first_seen, last_seen=issue.last_seen, occurrences=issue.count,
        counts=issue.counts, samples=issue.samples, status_changed_at=issue.status_changed_at,
        status_changed_by=issue.status_changed_by, regressed_at=issue.regressed_at, batches=issue.batches,
    )
    if issue.version is not None:
        item.version = issue.version
    return item


class IssueRepository:
    def issue(self, app: str, stage: str, issue_id: str) -> Issue | None:
        item = get(IssueItem, issues_pk(app, stage), issue_sk(issue_id))
        return _to_issue(item) if item is not None else None

    def issues(self, app: str, stage: str) -> list[Issue]:
        """Every issue of a stage (at most ``MAX_ISSUES_PER_STAGE`` and the overflow issue)."""
        return [_to_issue(i) for i in IssueItem.query(issues_pk(app, stage), IssueItem.sk.startswith("ISSUE#"),
                                                      consistent_read=True)]

    def create_issue(self, issue: Issue) -> str:
        """``created``; ``exists`` when another writer created it first; ``full`` when the stage
        holds ``MAX_ISSUES_PER_STAGE`` issues already (the overflow issue is always let in)."""
        item = _to_item(replace(issue, version=None))
        if issue.type == OVERFLOW_TYPE:
            try:
                item.save(condition=IssueItem.pk.does_not_exist())
            except PutError as e:
                if e.cause_response_code == "ConditionalCheckFailedException":
                    return "exists"
                raise
            return "created"
        txn = Txn()
        counter = IssueCountItem(issues_pk(issue.app, issue.stage), "COUNT")
        txn.update("count", counter, [IssueCountItem.n.add(1)],
                   condition=IssueCountItem.n.does_not_exist() | (IssueCountItem.n < MAX_ISSUES_PER_STAGE))
        txn.put("issue", item, condition=IssueItem.pk.does_not_exist())
        failed = txn.commit()
        if not failed:
            return "created"
        if "issue" in failed:
            return "exists"
        return "full"

    def update_issue(self, issue: Issue) -> bool:
        """Write the issue back unless another writer changed it since it was read (False then)."""
        try:
            _to_item(issue).save()
        except PutError as e:
            if e.cause_response_code == "ConditionalCheckFailedException":
                return False
            raise
        return True

    # ---- the stage's subscribed log groups -------------------------------------------------------
    def issue_watch(self, app: str, stage: str) -> dict[str, Any] | None:
        item = get(IssueWatchItem, issues_pk(app, stage), "WATCH")
        if item is None:
            return None
        return {"groups": dict(item.groups or {}), "unsubscribed": list(item.unsubscribed or []),
                "deployment": item.deployment, "updatedAt": item.updated_at}

    def record_issue_watch(self, app: str, stage: str, groups: dict[str, str], unsubscribed: list[dict[str, str]],
                           deployment: str | None) -> None:
        IssueWatchItem(issues_pk(app, stage), "WATCH", groups=groups, unsubscribed=unsubscribed,
                       deployment=deployment, updated_at=now_iso()).save()
