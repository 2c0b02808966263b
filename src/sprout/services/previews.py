"""Preview stages from CodeCommit's own events: a push to a new branch matching an app's pattern
adds a stage named by the branch's slug (before the build resolves who follows the branch, so the
same push deploys it); a deleted branch removes its previews (the stage's recorded removal, then
the teardown); the sweep removes previews whose branch is gone, restarts removals left half-way and removes the
stacks of stages that no longer exist.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any, Protocol

from sprout.domain.errors import Conflict, InvalidInput, NotFound, SourceError
from sprout.domain.model import App, Build, Deployment, Preview, Stage, StageSpec
from sprout.domain.previews import (
    CommentState,
    PreviewSettings,
    branch_slug,
    branch_wants_preview,
    over_limit,
    preview_comment,
    pull_request_stage,
    pull_request_wants_preview,
    settings_from_api,
)
from sprout.observability import logger
from sprout.services.stage_changes import StageChanges


class PreviewLineage(Protocol):
    def get_app(self, name: str) -> App: ...
    def get_stage(self, app: str, stage: str) -> Stage: ...
    def current_deployment(self, app: str, stage: str) -> Deployment | None: ...
    def list_deployments(self, app: str, stage: str, limit: int = 25,
                         next_token: str | None = None) -> tuple[list[Deployment], str | None]: ...
    def get_build(self, app: str, number: int) -> Build: ...
    def note_preview_comment(self, app_name: str, stage: str, comment_id: str) -> None: ...
    def get_previews(self, app_name: str) -> PreviewSettings | None: ...
    def put_previews(self, app: App, settings: PreviewSettings) -> None: ...
    def apps_with_previews(self, repository: str) -> list[tuple[App, PreviewSettings]]: ...
    def stages_following(self, repository: str, branch: str) -> list[tuple[App, StageSpec]]: ...
    def live_previews(self) -> list[Stage]: ...


class PullRequestPort(Protocol):
    def comment(self, repository: str, pull_request_id: str, before: str, after: str, content: str) -> str | None: ...  # its id
    def edit(self, comment_id: str, content: str) -> bool: ...  # False: the comment is gone (or not Sprout's)
    def stage_urls(self, app: str, stage: str) -> list[str]: ...  # its stack's http(s) outputs
    def start_build(self, app: App, commit: str, branch: str, trigger: dict[str, Any]) -> dict[str, Any]: ...  # {"build", "execution"}


class BranchLookup(Protocol):
    def __call__(self, repository: str, branch: str) -> str: ...  # the head commit; SourceError when gone


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class Previews:
    def __init__(self, lineage: PreviewLineage, stages: StageChanges, resolve_branch: BranchLookup | None = None,
                 pull_requests: PullRequestPort | None = None):
        self.lineage = lineage
        self.stages = stages
        self.resolve_branch = resolve_branch
        self.pull_requests = pull_requests

    def put(self, app_name: str, body: dict[str, Any], by: str | None) -> PreviewSettings:
        app = self.lineage.get_app(app_name)
        parsed = settings_from_api(body, [s.name for s in app.stages if not s.preview])
        settings = PreviewSettings(parsed.branches_enabled, parsed.pattern, parsed.pull_requests_enabled,
                                   parsed.targets, parsed.inherit_from, parsed.limit, _now(), by)
        self.lineage.put_previews(app, settings)
        return settings

    def get(self, app_name: str) -> PreviewSettings:
        self.lineage.get_app(app_name)
        return self.lineage.get_previews(app_name) or PreviewSettings()

    def ensure_branch(self, repository: str, branch: str) -> list[dict[str, Any]]:
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

    def branch_deleted(self, repository: str, branch: str, by: str | None) -> list[dict[str, Any]]:
        """Every preview following ``branch`` is removed (recorded, then torn down). A deployment
        still running on it is waited for by the teardown, not refused."""
        removed = []
        for app, spec in self.lineage.stages_following(repository, branch):
            if spec.preview is None:
                continue
            removed.append(self.stages.remove(app.name, spec.name, by, reason="branch deleted", wait_for_lock=True))
        return removed

    def sweep(self) -> dict[str, Any]:
        """Previews whose branch is gone are removed; removals whose execution ended are restarted;
        stacks of stages that no longer exist are removed."""
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
        restarted = self.stages.sweep()
        return {"previewsRemoved": gone, "removalsRestarted": restarted, "orphansRemoved": self.stages.sweep_orphans()}

    # ---- pull requests ---------------------------------------------------------------------------

    def pull_request_event(self, detail: dict[str, Any]) -> list[dict[str, Any]]:
        """``CodeCommit Pull Request State Change``: opened (or reopened) into a target → stage
        ``pr-<id>`` following the source branch, its source commit built and deployed, the pull
        request told where it answers; a new commit → told again (the push itself deploys it);
        closed or merged → the stage removed."""
        assert self.pull_requests is not None
        pull_requests = self.pull_requests
        event = str(detail.get("event") or "")
        try:
            stage = pull_request_stage(str(detail.get("pullRequestId") or ""))
        except InvalidInput:
            return [{"ignored": "not a pull request id"}]
        pr_id = stage.removeprefix("pr-")
        repository = str((detail.get("repositoryNames") or [""])[0])
        source = str(detail.get("sourceReference") or "").removeprefix("refs/heads/")
        target = str(detail.get("destinationReference") or "").removeprefix("refs/heads/")
        commit, base = str(detail.get("sourceCommit") or ""), str(detail.get("destinationCommit") or "")
        closed = detail.get("pullRequestStatus") == "Closed" or detail.get("isMerged") == "True"
        outcomes = []

        def say(text: str) -> None:  # no stage to keep a comment on (refused): a comment of its own
            pull_requests.comment(repository, pr_id, base, commit, text)

        def tell(app_name: str, **state: Any) -> None:
            self._tell(app_name, stage, CommentState(app_name, stage, **state), (repository, pr_id, base, commit))

        for app, settings in self.lineage.apps_with_previews(repository):
            existing = app.stage(stage)
            if closed:
                if existing is not None and existing.preview and existing.preview.kind == "pullRequest":
                    outcomes.append(self.stages.remove(app.name, stage, "sprout:pull-request-closed",
                                                       reason="pull request closed or merged", wait_for_lock=True))
                    tell(app.name, removed="the pull request is closed" + (" and merged" if detail.get("isMerged") == "True" else ""))
                continue
            first_branch = next((s.branch for s in app.stages if not s.preview and s.branch), None)
            if existing is None:
                if not pull_request_wants_preview(settings, target, first_branch) or not source:
                    continue
                refused = over_limit(settings, sum(1 for s in app.stages if s.preview))
                if refused:
                    say(f"**Sprout**: no preview stage for this pull request in app `{app.name}`: {refused}.")
                    outcomes.append({"app": app.name, "stage": stage, "created": False, "reason": refused})
                    continue
                try:
                    self.stages.add(app.name, StageSpec(stage, source, True, Preview("pullRequest", source, _now(), pr_id)),
                                    None)
                except (Conflict, InvalidInput) as e:
                    outcomes.append({"app": app.name, "stage": stage, "created": False, "reason": str(e)[:300]})
                    continue
            elif existing.preview is None or existing.preview.kind != "pullRequest":
                continue  # a stage of the app's own happens to be called pr-N: never touched
            if event in ("pullRequestCreated", "pullRequestStatusChanged") and commit:
                started = self.pull_requests.start_build(app, commit, source, {"type": "pullRequest",
                                                                               "pullRequestId": pr_id})
                tell(app.name, **self._running(app.name, stage), deploying=(started.get("build"), commit))
                outcomes.append({"app": app.name, "stage": stage, "build": started.get("build")})
            elif event == "pullRequestSourceBranchUpdated" and commit:
                running = self._running(app.name, stage)
                if running.get("running", (None, ""))[1] != commit:  # the push builds and deploys it
                    running["deploying"] = (None, commit)
                tell(app.name, **running)
                outcomes.append({"app": app.name, "stage": stage, "commit": commit})
        return outcomes

    def deployment_ended(self, detail: dict[str, Any]) -> dict[str, Any]:
        """``Step Functions Execution Status Change`` of a deploy execution that ended: when it
        deployed a pull request's preview, the pull request's comment says what the stage runs now
        and where it answers (or why the deploy failed)."""
        try:
            request = json.loads(str(detail.get("input") or "{}"))
        except ValueError:
            return {"ignored": "no input"}
        app, stage, build = request.get("app"), request.get("stage"), request.get("build")
        if not isinstance(app, str) or not isinstance(stage, str) or not isinstance(build, int):
            return {"ignored": "not a deploy request"}
        try:
            st = self.lineage.get_stage(app, stage)
        except NotFound:
            return {"ignored": "no such stage"}
        if st.preview is None or st.preview.kind != "pullRequest" or st.removing or st.removed_at:
            return {"ignored": "not a pull request's live preview"}
        status = detail.get("status")
        try:
            output = json.loads(str(detail.get("output") or "null")) if status == "SUCCEEDED" else None
        except ValueError:
            output = None
        if isinstance(output, dict) and output.get("status") == "SUPERSEDED":
            return {"ignored": "superseded"}
        state = self._running(app, stage)
        if status != "SUCCEEDED":
            commit = self._commit(app, build)
            newest = next(iter(self.lineage.list_deployments(app, stage, limit=1)[0]), None)
            recorded = newest.error if newest is not None and newest.build == build else None
            why = str(recorded or detail.get("error") or status or "failed")  # the deployment's own reason
            state["failed"] = (build, commit, why)
        self._tell(app, stage, CommentState(app, stage, **state), None)
        return {"app": app, "stage": stage, "build": build, "told": True}

    def _running(self, app: str, stage: str) -> dict[str, Any]:
        """What the stage runs now, and where it answers (nothing when never deployed)."""
        assert self.pull_requests is not None
        current = self.lineage.current_deployment(app, stage)
        if current is None:
            return {}
        return {"running": (current.build, self._commit(app, current.build)),
                "urls": tuple(self.pull_requests.stage_urls(app, stage))}

    def _commit(self, app: str, build: int) -> str:
        try:
            return self.lineage.get_build(app, build).commit_id
        except NotFound:
            return ""

    def _tell(self, app: str, stage: str, state: CommentState, post: tuple[str, str, str, str] | None) -> None:
        """One comment per preview, edited as the preview changes; posted the first time (``post``:
        repository, pull request, before and after commits), its id kept with the stage."""
        assert self.pull_requests is not None
        text = preview_comment(state)
        try:
            st = self.lineage.get_stage(app, stage)
        except NotFound:
            st = None
        comment_id = st.preview.comment_id if st is not None and st.preview is not None else None
        if comment_id and self.pull_requests.edit(comment_id, text):
            return
        if post is None:
            return
        new_id = self.pull_requests.comment(*post, text)
        if new_id and st is not None and not st.removed_at:
            self.lineage.note_preview_comment(app, stage, new_id)
