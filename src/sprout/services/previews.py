"""Preview stages from CodeCommit's own events: a push to a new branch matching an app's pattern
adds a stage named by the branch's slug (before the build resolves who follows the branch, so the
same push deploys it); a deleted branch removes its previews (the stage's recorded removal, then
the teardown); the sweep removes previews whose branch is gone and restarts removals left half-way.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Protocol

from sprout.domain.errors import Conflict, InvalidInput, NotFound, SourceError
from sprout.domain.model import App, Preview, Stage, StageSpec
from sprout.domain.previews import (
    PreviewSettings,
    branch_slug,
    branch_wants_preview,
    over_limit,
    settings_from_api,
)
from sprout.observability import logger
from sprout.services.stages import StageChanges


class PreviewLineage(Protocol):
    def get_app(self, name: str) -> App: ...
    def get_previews(self, app_name: str) -> PreviewSettings | None: ...
    def put_previews(self, app: App, settings: PreviewSettings) -> None: ...
    def apps_with_previews(self, repository: str) -> list[tuple[App, PreviewSettings]]: ...
    def stages_following(self, repository: str, branch: str) -> list[tuple[App, StageSpec]]: ...
    def live_previews(self) -> list[Stage]: ...


class BranchLookup(Protocol):
    def __call__(self, repository: str, branch: str) -> str: ...  # the head commit; SourceError when gone


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class Previews:
    def __init__(self, lineage: PreviewLineage, stages: StageChanges, resolve_branch: BranchLookup | None = None):
        self.lineage = lineage
        self.stages = stages
        self.resolve_branch = resolve_branch

    def put(self, app_name: str, body: dict, by: str | None) -> PreviewSettings:
        app = self.lineage.get_app(app_name)
        parsed = settings_from_api(body, [s.name for s in app.stages if not s.preview])
        settings = PreviewSettings(parsed.branches_enabled, parsed.pattern, parsed.pull_requests_enabled,
                                   parsed.targets, parsed.inherit_from, parsed.limit, _now(), by)
        self.lineage.put_previews(app, settings)
        return settings

    def get(self, app_name: str) -> PreviewSettings:
        self.lineage.get_app(app_name)
        return self.lineage.get_previews(app_name) or PreviewSettings()

    def ensure_branch(self, repository: str, branch: str) -> list[dict]:
        """A pushed branch: for every app of the repository whose branch previews match it and whose
        stages do not follow it yet, a preview stage (auto-deploy) — or why none was made."""
        outcomes = []
        for app, settings in self.lineage.apps_with_previews(repository):
            followed = any(s.branch == branch for s in app.stages)
            if not branch_wants_preview(settings, branch, followed):
                continue
            live = sum(1 for s in app.stages if s.preview)
            refused = over_limit(settings, live)
            if refused:
                logger.info("preview refused", extra={"app": app.name, "reason": refused})
                outcomes.append({"app": app.name, "branch": branch, "created": False, "reason": refused})
                continue
            name = branch_slug(branch, {s.name for s in app.stages})
            spec = StageSpec(name, branch, True, Preview("branch", branch, _now()))
            try:
                self.stages.add(app.name, spec, None)
            except (Conflict, InvalidInput) as e:  # a concurrent push made it, or the name is taken
                outcomes.append({"app": app.name, "branch": branch, "created": False, "reason": str(e)[:300]})
                continue
            logger.info("preview created", extra={"app": app.name, "stage": name})
            outcomes.append({"app": app.name, "branch": branch, "stage": name, "created": True})
        return outcomes

    def branch_deleted(self, repository: str, branch: str, by: str | None) -> list[dict]:
        """Every preview following ``branch`` is removed (recorded, then torn down). A deployment
        still running on it is waited for by the teardown, not refused."""
        removed = []
        for app, spec in self.lineage.stages_following(repository, branch):
            if spec.preview is None:
                continue
            removed.append(self.stages.remove(app.name, spec.name, by, reason="branch deleted", wait_for_lock=True))
        return removed

    def sweep(self) -> dict:
        """Previews whose branch is gone are removed; removals whose execution ended are restarted."""
        gone = []
        for st in self.lineage.live_previews():
            if st.preview is None or st.removing or self.resolve_branch is None:
                continue
            try:
                app = self.lineage.get_app(st.app)
                self.resolve_branch(app.repository, st.preview.branch)
            except NotFound:
                continue
            except SourceError as e:
                if "DoesNotExist" not in str(e):  # unreadable now is not gone: the next sweep looks again
                    continue
                gone.append(self.stages.remove(st.app, st.name, "sprout:sweep", reason="branch gone",
                                               wait_for_lock=True))
        return {"previewsRemoved": gone, "removalsRestarted": self.stages.sweep()}
