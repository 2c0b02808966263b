"""Delivery events on EventBridge's default bus, ``Source: sprout``, sent by the lineage when it
closes a record (the one place records close: sprout.adapters.lineage's ``finish_deployment``,
``record_failed_start``, a lock's take-over, ``finish_build``), after the transaction committed:

- ``Sprout Deployment State Change``: ``{"app", "stage", "deploymentId", "build", "kind"
  (deploy|promote|rollback|auto-rollback|config), "auto" (started by an alarm or a push, not a
  person), "trigger", "status" (SUCCEEDED|FAILED), "replaces", "failure": {"error", "step",
  "cause"} | null, "startedAt", "finishedAt"}``. An aborted canary closes FAILED with
  ``failure.error`` ``CanaryAborted``.
- ``Sprout Build State Change``: ``{"app", "buildNumber", "commitId", "branch", "status",
  "failure": {"step", "error", "cause"} | null, "finishedAt"}``.
"""

from __future__ import annotations

from typing import Any

from sprout.adapters.sprout_events import SproutEvents
from sprout.domain.model import Build, Deployment, DeploymentKind

DEPLOYMENT = "Sprout Deployment State Change"
BUILD = "Sprout Build State Change"
CANARY_ABORTED = "CanaryAborted"
CAUSE_LIMIT = 2000


def _cut(text: Any) -> Any:
    return text[:CAUSE_LIMIT] + "…" if isinstance(text, str) and len(text) > CAUSE_LIMIT else text


def deployment_detail(d: Deployment) -> dict[str, Any]:
    trigger = dict(d.trigger or {})
    failure = None
    if d.status.value == "FAILED":
        error = d.error or ""
        cause = d.cause or {}
        canary = error.startswith(CANARY_ABORTED) or cause.get("error") == CANARY_ABORTED
        failure = {"error": CANARY_ABORTED if canary else _cut(error), "step": d.step,
                   "cause": {k: _cut(v) for k, v in cause.items()} if cause else (_cut(error) if canary else None)}
    return {
        "app": d.app, "stage": d.stage, "deploymentId": d.id, "build": d.build, "kind": d.kind.value,
        "auto": d.kind is DeploymentKind.AUTO_ROLLBACK or trigger.get("type") in ("alarm", "push"),
        "trigger": {k: v for k, v in trigger.items() if k in ("type", "by", "alarm", "branch", "commit")},
        "status": d.status.value, "replaces": d.replaces, "failure": failure,
        "startedAt": d.started_at, "finishedAt": d.finished_at,
    }


def build_detail(b: Build) -> dict[str, Any]:
    failure = {k: _cut(v) for k, v in (b.failure or {}).items()} if b.failure else None
    return {"app": b.app, "buildNumber": b.number, "commitId": b.commit_id, "branch": b.branch,
            "status": b.status.value, "failure": failure, "finishedAt": b.finished_at}


class DeliveryEvents:
    """What the lineage tells when it closes a deployment or a build (ClosedRecords)."""

    def __init__(self, client: Any = None):
        self._deployments = SproutEvents(DEPLOYMENT, client)
        self._builds = SproutEvents(BUILD, client)

    def deployment_closed(self, deployment: Deployment) -> None:
        self._deployments.announce([deployment_detail(deployment)])

    def build_closed(self, build: Build) -> None:
        self._builds.announce([build_detail(build)])
