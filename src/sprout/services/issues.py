"""Issues, the use cases: grouping a delivered batch of a stage's function log lines into issues
(``Grouping``), reading them and changing their status (``Issues``), and subscribing a deployed
stage's function log groups (``subscribe_stage``).

Trust: the batch's app and stage come from the subscription filter's name, which only Sprout
sets (``sprout-is#{app}#{stage}``); its log group must be one Sprout recorded subscribing for that
stage, or the batch is refused. What the lines say is the app's: it chooses nothing but its own
stage's issues, and every field it reaches is bounded and masked (``sprout.domain.issues``).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any, Protocol

from sprout.domain.auto_rollback import ISSUES_FILTER, parse_filter_name
from sprout.domain.errors import Conflict, InvalidInput, NotFound, named
from sprout.domain.function_logs import function_log_group
from sprout.domain.issues import (
    MAX_FINGERPRINTS_PER_BATCH,
    MAX_SAMPLES,
    STATUSES,
    Issue,
    Occurrence,
    Recognised,
    absorb,
    absorbed,
    mask,
    overflow,
    parse_status,
    recognise,
    set_status,
    version_of_stream,
)
from sprout.domain.model import Build, Deployment, DeploymentStatus
from sprout.domain.pipeline import stack_name
from sprout.domain.tokens import listing, seal, unseal

MAX_ATTEMPTS = 8  # read-absorb-write rounds of one issue before the batch is retried by Lambda
RECENT_DEPLOYMENTS = 20  # searched for the one whose versions ran a line


class IssueStore(Protocol):
    def issue(self, app: str, stage: str, issue_id: str) -> Issue | None: ...
    def issues(self, app: str, stage: str) -> list[Issue]: ...
    def create_issue(self, issue: Issue) -> str: ...
    def update_issue(self, issue: Issue) -> bool: ...
    def issue_watch(self, app: str, stage: str) -> dict[str, Any] | None: ...
    def record_issue_watch(self, app: str, stage: str, groups: dict[str, str], unsubscribed: list[dict[str, str]],
                           deployment: str | None) -> None: ...


class StageHistory(Protocol):
    def list_deployments(self, app: str, stage: str, limit: int = 25,
                         next_token: str | None = None) -> tuple[list[Deployment], str | None]: ...
    def get_build(self, app: str, number: int) -> Build: ...


class Announcer(Protocol):
    def announce(self, events: list[dict[str, Any]]) -> object: ...


class Subscriber(Protocol):
    def put(self, group: str, name: str, destination_arn: str) -> None: ...
    def delete(self, group: str, name: str) -> None: ...
    def ensure_group(self, group: str) -> None: ...


@dataclass(frozen=True)
class Batch:
    """A subscription's delivery: which filters, which group and stream, the events."""

    filters: tuple[str, ...]
    group: str
    stream: str
    events: tuple[dict[str, Any], ...]


def env_values(build: Build | None) -> list[str]:
    """The values of every function's environment in a build: masked wherever a sample shows them."""
    values: list[str] = []
    for f in build.functions if build else ():
        variables = ((f.config or {}).get("Environment") or {}).get("Variables") or {}
        values += [str(v) for v in variables.values() if v is not None]
    return values


class Grouping:
    def __init__(self, store: IssueStore, history: StageHistory, announcer: Announcer):
        self._store, self._history, self._announcer = store, history, announcer

    def ingest(self, batch: Batch) -> dict[str, Any]:
        target = next((t for t in (parse_filter_name(f, ISSUES_FILTER) for f in batch.filters) if t), None)
        if target is None:
            return {"ignored": "no Sprout issues subscription filter"}
        app, stage = target
        watch = self._store.issue_watch(app, stage) or {}
        function = (watch.get("groups") or {}).get(batch.group)
        if function is None:  # someone else's filter named like Sprout's, on a group not of this stage
            return {"ignored": f"log group {named(batch.group)} is not one Sprout subscribed for {app}/{stage}"}
        deployment = self._deployment_of(app, stage, function, version_of_stream(batch.stream))
        build = deployment.build if deployment else None
        secrets = env_values(self._build(app, build))
        grouped: dict[str, list[Occurrence]] = {}
        for event in batch.events:
            message = event.get("message")
            error = recognise(message) if isinstance(message, str) else None
            if error is None:
                continue
            if error.fingerprint not in grouped and len(grouped) >= MAX_FINGERPRINTS_PER_BATCH:
                error = overflow(error)
            at = event.get("timestamp")
            at_ms = at if isinstance(at, int) and not isinstance(at, bool) and at > 0 else 0
            grouped.setdefault(error.fingerprint, []).append(Occurrence(
                error, at_ms, function, build, deployment.id if deployment else None, message or ""))
        announced: list[dict[str, Any]] = []
        key = _batch_key(batch)
        for fingerprint, occurrences in grouped.items():
            occurrences.sort(key=lambda o: o.at_ms)
            _mask_samples(occurrences, secrets)
            # per batch and fingerprint: several fingerprints of one batch may land in the overflow issue
            issue, event_name = self._absorb(app, stage, occurrences, f"{key}.{fingerprint[:8]}")
            if event_name:
                announced.append({"event": event_name, "app": app, "stage": stage, "build": build,
                                  "issue": issue.view()})
        if announced:
            self._announcer.announce(announced)
        return {"app": app, "stage": stage, "errors": sum(len(o) for o in grouped.values()), "issues": len(grouped),
                "events": [a["event"] for a in announced]}

    def _absorb(self, app: str, stage: str, occurrences: list[Occurrence], key: str) -> tuple[Issue, str | None]:
        for _ in range(MAX_ATTEMPTS):
            fingerprint = occurrences[0].error.fingerprint
            current = self._store.issue(app, stage, fingerprint)
            if current is not None and absorbed(current, key):  # a retried or repeated delivery
                return current, None
            issue, event_name = absorb(current, app, stage, occurrences, key)
            if current is not None:
                if self._store.update_issue(issue):
                    return issue, event_name
                continue
            created = self._store.create_issue(issue)
            if created == "created":
                return issue, event_name
            if created == "full":  # the stage holds its most issues: counted in the overflow issue
                occurrences = [_overflowed(o) for o in occurrences]
        raise Conflict(f"could not record an issue of {app}/{stage}: too much contention")

    def _deployment_of(self, app: str, stage: str, function: str, version: str | None) -> Deployment | None:
        """The deployment whose ``live`` version of ``function`` wrote the line (by the version in
        the log stream's name), else the stage's newest succeeded deployment."""
        recent, _ = self._history.list_deployments(app, stage, limit=RECENT_DEPLOYMENTS)
        succeeded = [d for d in recent if d.status == DeploymentStatus.SUCCEEDED]
        if version is not None:
            for d in succeeded:
                if (d.versions or {}).get(function) == version:
                    return d
        return succeeded[0] if succeeded else (recent[0] if recent else None)

    def _build(self, app: str, number: int | None) -> Build | None:
        if number is None:
            return None
        try:
            return self._history.get_build(app, number)
        except NotFound:
            return None


def _batch_key(batch: Batch) -> str:
    """A delivery's identity: its group, stream and the ids of its first and last events."""
    ids = [str(e.get("id", "")) for e in batch.events[:1] + batch.events[-1:]]
    return hashlib.sha256("\n".join([batch.group, batch.stream, *ids]).encode()).hexdigest()[:16]


def _mask_samples(occurrences: list[Occurrence], secrets: list[str]) -> None:
    """Mask the lines ``absorb`` may keep as samples (the first and the newest), blank the others:
    masking every line of a 10 000-line batch would cost more than recognising them."""
    keep = {0, *range(max(len(occurrences) - MAX_SAMPLES, 0), len(occurrences))}
    for n, o in enumerate(occurrences):
        occurrences[n] = replace(o, sample=mask(o.sample, secrets) if n in keep else "")


def _overflowed(o: Occurrence) -> Occurrence:
    return Occurrence(overflow(o.error), o.at_ms, o.function, o.build, o.deployment, o.sample)


# ---- reading and changing ------------------------------------------------------------------------


class Issues:
    def __init__(self, store: IssueStore, history: StageHistory, now: Callable[[], str]):
        self._store, self._history, self._now = store, history, now

    def page(self, app: str, stage: str, status: str | None, build: int | None, limit: int,
             next_token: str | None) -> dict[str, Any]:
        if status is not None and status not in STATUSES:
            raise InvalidInput("status", f"must be one of {', '.join(STATUSES)}")
        found = [i for i in self._store.issues(app, stage)
                 if (status is None or i.status == status) and (build is None or i.first_seen.get("build") == build)]
        found.sort(key=lambda i: (i.last_seen, i.id), reverse=True)
        name = listing("issues", app, stage, status or "", str(build or ""))
        start = 0
        if next_token:
            start = unseal(name, next_token).get("o", -1)
            if not isinstance(start, int) or isinstance(start, bool) or start < 0:
                raise InvalidInput("nextToken", "is not a token this list returned")
        page = found[start:start + limit]
        more = start + limit < len(found)
        watch = self._store.issue_watch(app, stage) or {}
        return {"issues": [i.view() for i in page], "nextToken": seal(name, {"o": start + limit}) if more else None,
                "notSubscribed": watch.get("unsubscribed") or []}

    def show(self, app: str, stage: str, issue_id: str) -> dict[str, Any]:
        issue = self._get(app, stage, issue_id)
        return {**issue.detail(), "deployments": self._around(app, stage, issue.first_seen.get("deployment"))}

    def set_status(self, app: str, stage: str, issue_id: str, status: Any, by: str | None) -> dict[str, Any]:
        wanted = parse_status(status)
        for _ in range(MAX_ATTEMPTS):
            issue = self._get(app, stage, issue_id)
            if self._store.update_issue(set_status(issue, wanted, self._now(), by)):
                return issue.view()
        raise Conflict(f"issue {named(issue_id)} is changing too fast: try again")

    def _get(self, app: str, stage: str, issue_id: str) -> Issue:
        if not isinstance(issue_id, str) or not issue_id.isalnum() or len(issue_id) > 64:
            raise InvalidInput("id", "is an issue id such as 0a4d1e756bc22ef053e8")
        issue = self._store.issue(app, stage, issue_id)
        if issue is None:
            raise NotFound(f"stage {named(stage)} of app {named(app)} has no issue {named(issue_id)}", field="id")
        return issue

    def _around(self, app: str, stage: str, deployment: str | None) -> list[dict[str, Any]]:
        """The deployment of the first occurrence and its neighbours (one before, one after)."""
        if not deployment or not deployment.isdigit():
            return []
        recent, _ = self._history.list_deployments(app, stage, limit=100)
        ids = [d.id for d in recent]
        if deployment not in ids:
            return []
        at = ids.index(deployment)
        return [{"id": d.id, "build": d.build, "kind": str(d.kind), "status": str(d.status), "startedAt": d.started_at,
                 "firstSeenHere": d.id == deployment} for d in recent[max(at - 1, 0):at + 2]]


def open_issues_of_build(store: IssueStore, app: str, stage: str, build: int) -> dict[str, Any]:
    """What a promote's change set says of the build on the stage before: its open (or regressed)
    issues there that build ``build`` raised (``build #2 has 1 open issue on dev: NameError in …``)."""
    found = [i for i in store.issues(app, stage) if i.status in ("open", "regressed") and str(build) in i.counts]
    found.sort(key=lambda i: -i.counts.get(str(build), 0))
    titles = "; ".join(i.title for i in found[:3]) + ("; …" if len(found) > 3 else "")
    summary = (f"build #{build} has {len(found)} open issue{'s' if len(found) != 1 else ''} on {stage}: {titles}"
               if found else f"build #{build} has no open issue on {stage}")
    return {"stage": stage, "build": build, "summary": summary,
            "issues": [{"id": i.id, "title": i.title, "status": i.status, "count": i.counts.get(str(build), 0)}
                       for i in found[:25]]}


# ---- subscribing a stage -------------------------------------------------------------------------


def subscribe_stage(store: IssueStore, subscriber: Subscriber, app: str, stage: str, functions: dict[str, str],
                    destination: str, deployment: str | None) -> dict[str, Any]:
    """Subscribe every function log group of a deployed stage (``functions``: logical id ->
    physical name; each logs to the group Package named, sprout.domain.function_logs) to the issues function. The groups are recorded first (a line delivered before
    the record would be refused), the filters put, and a group CloudWatch Logs refuses (it allows 2
    subscription filters per log group, and the app's own may hold both) recorded as not
    subscribed, with the reason: the deployment goes on, that function's errors are not grouped."""
    groups = {function_log_group(stack_name(app, stage), logical): logical for logical in sorted(functions)}
    previous = set((store.issue_watch(app, stage) or {}).get("groups") or {})
    store.record_issue_watch(app, stage, groups, [], deployment)
    name = f"{ISSUES_FILTER}#{app}#{stage}"
    refused: list[dict[str, str]] = []
    for group, logical in groups.items():
        try:
            subscriber.ensure_group(group)
            subscriber.put(group, name, destination)
        except Conflict as e:
            refused.append({"function": logical, "logGroup": group, "reason": str(e)})
    for gone in sorted(previous - set(groups)):
        subscriber.delete(gone, name)
    kept = {g: f for g, f in groups.items() if g not in {r["logGroup"] for r in refused}}
    store.record_issue_watch(app, stage, kept, refused, deployment)
    return {"subscribed": sorted(kept), "notSubscribed": refused}


__all__ = ["Batch", "Grouping", "Issues", "Recognised", "open_issues_of_build", "subscribe_stage"]
