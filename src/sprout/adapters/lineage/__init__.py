"""Build lineage in DynamoDB: one table (``table``), a repository per aggregate — apps and their
stages (``apps``), builds (``builds``), deployments and stage locks (``deployments``), watched
alarms and alarm events (``alarms``), cached dependency sets and their digests (``dependencies``),
the errors grouped from the functions' logs (``issues``), notification targets (``notifications``) —
and the open work of executions, which the finalizer closes.

``Lineage`` is all of them at once, for callers that need several (the API, the tasks).
"""

from __future__ import annotations

from sprout.adapters.lineage.alarms import AlarmEventRepository, WatchedAlarmRepository
from sprout.adapters.lineage.apps import AppRepository
from sprout.adapters.lineage.builds import BuildRepository
from sprout.adapters.lineage.canary import CanaryRepository
from sprout.adapters.lineage.dependencies import DependencyRepository
from sprout.adapters.lineage.deployments import DeploymentRepository
from sprout.adapters.lineage.issues import IssueRepository
from sprout.adapters.lineage.items import MODELS, OpenItem, open_pk
from sprout.adapters.lineage.notifications import NotificationRepository
from sprout.adapters.lineage.stage_changes import StageChangeRepository
from sprout.adapters.lineage.table import reset_connections
from sprout.domain.model import Deployment, OpenWork


class Lineage(AppRepository, BuildRepository, DeploymentRepository, AlarmEventRepository, WatchedAlarmRepository,
              DependencyRepository, IssueRepository, NotificationRepository, CanaryRepository, StageChangeRepository):
    """Apps, stages, builds and deployments, as domain types."""

    def deployments_of_build(self, app: str, number: int) -> dict[str, Deployment]:
        """Where build ``number`` went: stage -> the newest deployment of that build to that stage
        (any status; compare with the stage's current deployment to tell whether it is live)."""
        return self.deployments_by_id(app, self.stages_of_build(app, number))

    def open_work(self, execution: str) -> list[OpenWork]:
        """What ``execution`` opened and has not closed: builds BUILDING, deployments IN_PROGRESS."""
        return [
            OpenWork(kind=i.kind, app=i.app, build=int(i.build) if i.build is not None else None,
                     stage=i.stage, deployment=i.deployment)
            for i in OpenItem.query(open_pk(execution), consistent_read=True)
        ]


__all__ = ["Lineage", "MODELS", "reset_connections"]
