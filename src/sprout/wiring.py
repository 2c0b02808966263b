"""The composition root: the settings read once, the AWS clients and adapters built once per cold
start, and the services handed the adapters as their ports. Handlers ask here for what they use
(``wiring.delivery()``…); nothing else in Sprout builds an adapter for a service.

Each builder is cached: the first call (at a function's cold start, or its first request) builds
it, later calls reuse it for as long as the execution environment lives. ``reset()`` forgets them
(tests that change the environment between cases).
"""

from __future__ import annotations

import secrets
import time
import uuid
from functools import cache

from sprout.adapters.alarms import Alarms
from sprout.adapters.aliases import Aliases
from sprout.adapters.apigateway import AccessLogging, StageResources
from sprout.adapters.artifacts import ArtifactStore
from sprout.adapters.auto_rollback import Alarms as WatchAlarms
from sprout.adapters.auto_rollback import AutoRollbackSettings, Subscriptions
from sprout.adapters.delivery_events import DeliveryEvents
from sprout.adapters.dependency_builds import DependencyCache, why_failed
from sprout.adapters.executions import Executions
from sprout.adapters.issue_events import IssueEvents
from sprout.adapters.lineage import Lineage
from sprout.adapters.lineage.stage_settings import SettingsRepository
from sprout.adapters.lineage.table import now_iso
from sprout.adapters.logs import LogReader
from sprout.adapters.metrics import MetricReader, VersionCounts
from sprout.adapters.node_check import node_checker
from sprout.adapters.notification_routes import NotificationQueues, NotificationRoutes, NotificationSecrets
from sprout.adapters.secrets import ParameterStoreSecrets
from sprout.adapters.source import Repositories
from sprout.adapters.sprout_events import SproutEvents
from sprout.adapters.stacks import StageStacks
from sprout.adapters.version_faults import LogVersionFaults
from sprout.domain.app_roles import AppRoles
from sprout.services.access_logs import AccessLogs
from sprout.services.apps import Apps
from sprout.services.build_steps import BuildSteps
from sprout.services.builds import Builds
from sprout.services.canary import Canary
from sprout.services.delivery import Delivery
from sprout.services.deploy import Deploys
from sprout.services.issues import Grouping, Issues
from sprout.services.monitoring import Monitoring
from sprout.services.notifications import NotificationSettings, Notifier
from sprout.services.previews import Previews
from sprout.services.rollbacks import AlarmRollback
from sprout.services.stage_changes import StageChanges
from sprout.services.stage_settings import StageSettingsService
from sprout.services.stages import Stages
from sprout.services.teardown import Teardown
from sprout.services.watch import Watcher
from sprout.settings import Settings


@cache
def settings() -> Settings:
    """The running function's settings, what it declares checked (sprout.settings.FUNCTION_SETTINGS):
    every handler module asks for them at import, so a function lacking one fails its cold start."""
    return Settings.for_function()


@cache
def lineage() -> Lineage:
    """The lineage; closing a deployment or a build puts Sprout's delivery event (notifications)."""
    built = Lineage()
    built.closed_records = DeliveryEvents()
    return built


@cache
def artifacts() -> ArtifactStore:
    return ArtifactStore(settings().artifact_bucket)


@cache
def executions() -> Executions:
    return Executions()


@cache
def repositories() -> Repositories:
    return Repositories()


@cache
def stacks() -> StageStacks:
    return StageStacks()


@cache
def delivery() -> Delivery:
    return Delivery(lineage(), artifacts(), executions(), repositories(),
                    promote_machine=settings().need("promote_machine"),
                    rollback_machine=settings().need("rollback_machine"),
                    configuration=stage_settings().change_set_configuration, issues=lineage())


def _now() -> str:
    from datetime import UTC, datetime

    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@cache
def stage_settings() -> StageSettingsService:
    """A stage's settings and secrets (the lineage's record, Parameter Store), and the parameters
    the stage's stack runs with (for the change set's configuration)."""
    return StageSettingsService(SettingsRepository(), ParameterStoreSecrets(), lineage(), _now, stacks(), lineage())


@cache
def builds() -> Builds:
    return Builds(lineage(), repositories(), executions(), artifacts(), build_machine=settings().need("build_machine"))


@cache
def build_steps() -> BuildSteps:
    """The build machine's steps: the commit's source, the preview stages a push makes (built when a
    push is resolved: only Resolve needs the previews' settings), the dependency cache (the artifact
    bucket, digests in the lineage), the artifact store, ``node --check`` where there is a node."""
    s = settings()
    return BuildSteps(lineage(), repositories(), lambda repository, branch: previews().ensure_branch(repository, branch),
                      DependencyCache(artifacts(), lineage()), artifacts(), s.artifact_bucket,
                      roles=lambda: AppRoles(boundary_arn=s.need("app_role_boundary_arn"), path=s.need("app_role_path")),
                      js_checker=node_checker, explain_dependency_failure=why_failed)


@cache
def apps() -> Apps:
    return Apps(lineage(), repositories(), stacks(), builds(), own_stack=settings().need("sprout_stack_name"))


@cache
def stages() -> Stages:
    return Stages(lineage(), stacks())


@cache
def issues() -> Issues:
    return Issues(lineage(), lineage(), now_iso)


@cache
def grouping() -> Grouping:
    return Grouping(lineage(), lineage(), IssueEvents())


@cache
def monitoring() -> Monitoring:
    return Monitoring(lineage(), StageResources(), MetricReader(), LogReader())


@cache
def access_logs() -> AccessLogs:
    return AccessLogs(monitoring(), AccessLogging(), LogReader(), lambda: settings().need("access_log_role_arn"))


@cache
def subscriptions() -> Subscriptions:
    return Subscriptions()


@cache
def watcher() -> Watcher:
    """Watching a stage for auto-rollback (its API function, and the deploy path's WatchStage)."""
    return Watcher(AutoRollbackSettings(), WatchAlarms(), subscriptions(), StageResources(), AccessLogging(),
                   LogReader(), lineage(), settings().need)


@cache
def alarm_rollback() -> AlarmRollback:
    return AlarmRollback(lineage(), Alarms(), executions(), AutoRollbackSettings())


@cache
def stage_changes() -> StageChanges:
    from sprout.adapters.teardown import AccountStacks

    return StageChanges(lineage(), executions(), stacks(), settings().teardown_machine or "",
                        settings().need("sprout_stack_name"), AccountStacks(), settings().deploy_role_arn)


@cache
def previews() -> Previews:
    from sprout.adapters.pull_requests import PullRequestPreviews
    from sprout.adapters.source import resolve_branch

    pull_requests = PullRequestPreviews(lambda app, commit, branch, trigger: builds().start(app, commit, branch, trigger),
                                        stacks=stacks()) if settings().build_machine else None
    return Previews(lineage(), stage_changes(), resolve_branch, pull_requests)


@cache
def teardown() -> Teardown:
    from sprout.adapters.teardown import StageCloud

    return Teardown(lineage(), StageCloud(watcher(), subscriptions()))


@cache
def deploys() -> Deploys:
    """The deploy path's steps: the stage's stack, its packaged templates, its settings."""
    return Deploys(lineage(), stacks(), artifacts(), repositories(), SettingsRepository(), executions().is_running,
                   lambda: settings().need("deploy_role_arn"))


@cache
def canary() -> Canary:
    """Canary and linear promotes: the stage's aliases, the new versions' own metrics."""
    return Canary(lineage(), Aliases(settings().artifact_bucket), VersionCounts(), stacks(), faults=LogVersionFaults())


@cache
def notification_settings() -> NotificationSettings:
    """An app's notification targets: EventBridge routes per target, webhook secrets in Parameter Store."""
    s = settings()
    routes = NotificationRoutes(s.sprout_stack_name or "sprout", s.notification_role_arn or "", s.notification_dlq_arn or "")
    return NotificationSettings(lineage(), routes, ParameterStoreSecrets(), lineage(), SproutEvents("Sprout Notification Test"),
                                lambda: uuid.uuid4().hex[:8], lambda: secrets.token_urlsafe(32), time.time)


@cache
def notifier() -> Notifier:
    """Sprout's events in, signed notifications queued to each target's pipe."""
    return Notifier(lineage(), NotificationSecrets(), NotificationQueues(), time.time, settings().console_url)


def api() -> dict[str, object]:
    """What the API's routes use (Powertools' router context), all built at its cold start."""
    return {"lineage": lineage(), "delivery": delivery(), "builds": builds(), "apps": apps(), "stages": stages(),
            "stacks": stacks(), "stage_settings": stage_settings(), "issues": issues(),
            "stage_changes": stage_changes(), "previews": previews(), "notifications": notification_settings()}


def reset() -> None:
    for built in (settings, lineage, artifacts, executions, repositories, stacks, delivery, builds, build_steps, apps, stages,
                  monitoring, access_logs, subscriptions, watcher, alarm_rollback, stage_settings, issues, grouping,
                  stage_changes, previews, teardown, notification_settings, notifier, canary, deploys):
        built.cache_clear()
