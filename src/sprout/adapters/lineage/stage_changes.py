"""The pipeline after registration: stages added (ordinary or previews), stage removals recorded
before the teardown acts and finished after it, apps deleted (a tombstone: builds and history
stay), and the app's preview settings.

A removal's intent lives on the stage item (``removing``: who, when, the teardown execution, what
Sprout made for the stage, the blockers of a failed stack deletion) and in gsi1 ``REMOVING``, the
sweep's list; once the teardown is done the stage item keeps ``removedAt`` and its deployments,
its stack name is free again, and the app's pipeline no longer lists it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

from sprout.adapters.lineage.items import (
    PREVIEWS_GSI2PK,
    REMOVING_GSI1PK,
    AppItem,
    PreviewsItem,
    StackClaimItem,
    StageItem,
    app_pk,
    branch_gsi1pk,
    previews_gsi1pk,
    stack_pk,
    stage_sk,
)
from sprout.adapters.lineage.table import Txn, get, now, now_iso, optimistically, spec_doc, to_app, to_stage
from sprout.domain.errors import AppNotFound, Conflict, StackNameTaken, StageBusy, StageNotFound, named
from sprout.domain.model import App, Stage, StageSpec
from sprout.domain.pipeline import stack_name, takeover_reason
from sprout.domain.previews import PreviewSettings, settings_inheritance
from sprout.domain.settings_values import Inheritance
from sprout.domain.stages import StageRemoved, insert_stage, without_stage

HolderCheck = Callable[[str], "bool | None"]


def _live_app(name: str) -> AppItem:
    item = get(AppItem, app_pk(name), "APP")
    if item is None or item.deleted_at:
        raise AppNotFound(f"app {named(name)} not found", field="app")
    return item


def _same_stages(item: AppItem):  # the condition that the pipeline did not change since it was read
    return AppItem.stages == item.stages


class StageChangeRepository:
    stack_owner: Callable[[str], tuple[str, str] | None]  # AppRepository's, beside it in Lineage

    def set_stage_strategy(self, app_name: str, stage: str, strategy: dict[str, Any] | None) -> App:
        """The strategy of ``stage`` in the app's pipeline (None: all at once), written only while the
        pipeline is as it was read. StageNotFound when the app declares no such stage."""

        def attempt() -> App | None:
            item = _live_app(app_name)
            app = to_app(item)
            if app.stage(stage) is None:
                raise StageNotFound(f"app {named(app_name)} has no stage {named(stage)}", field="stage")
            stages = tuple(dataclasses.replace(s, strategy=strategy) if s.name == stage else s for s in app.stages)
            txn = Txn()
            txn.update("app", item, [AppItem.stages.set([spec_doc(s) for s in stages])], condition=_same_stages(item))
            return None if txn.commit() else App(app.name, app.repository, app.template_path, stages, app.created_at)

        return optimistically(f"set the strategy of stage {named(stage)}", attempt)
    def add_stage(self, app_name: str, spec: StageSpec, after: str | None = None) -> App:
        """Add ``spec`` to the pipeline and claim its stack, in one transaction. Raises Conflict (the
        app is being deleted, a stage of that name), StackNameTaken, InvalidInput."""

        def attempt() -> App | None:
            item = _live_app(app_name)
            if item.deleting:
                raise Conflict(f"app {named(app_name)} is being deleted")
            app = to_app(item)
            stages = insert_stage(app.stages, spec, after)
            stack = stack_name(app_name, spec.name)
            old = get(StageItem, app_pk(app_name), stage_sk(spec.name))
            if old is not None and old.removing and not old.removed_at:
                raise StageRemoved(f"stage {named(spec.name)} of app {named(app_name)} is still being removed")
            txn = Txn()
            txn.update("app", item, [AppItem.stages.set([spec_doc(s) for s in stages])], condition=_same_stages(item))
            follows: dict[str, Any] = {"gsi1pk": branch_gsi1pk(app.repository, spec.branch), "gsi1sk": f"APP#{app_name}#STAGE#{spec.name}"} \
                if spec.branch else {"gsi1pk": None, "gsi1sk": None}
            preview = spec.preview.view() if spec.preview else None
            live_preview: dict[str, Any] = {"gsi2pk": PREVIEWS_GSI2PK, "gsi2sk": f"APP#{app_name}#STAGE#{spec.name}"} if preview else {}
            if old is None:
                txn.put("stage", StageItem(app_pk(app_name), stage_sk(spec.name), app=app_name, name=spec.name,
                                           branch=spec.branch, auto_deploy=spec.auto_deploy, deployments=0,
                                           preview=preview, **follows, **live_preview),
                        condition=StageItem.pk.does_not_exist())
            else:  # a stage of that name was removed before: its deployments' numbering goes on
                actions = [StageItem.branch.set(spec.branch) if spec.branch else StageItem.branch.remove(),
                           StageItem.auto_deploy.set(spec.auto_deploy), StageItem.removed_at.remove(),
                           StageItem.removing.remove(),
                           StageItem.current_deployment.remove(),
                           StageItem.preview.set(preview) if preview else StageItem.preview.remove()]
                for attr in ("gsi1pk", "gsi1sk"):
                    value = follows[attr]
                    actions.append(getattr(StageItem, attr).set(value) if value else getattr(StageItem, attr).remove())
                if preview:
                    actions += [StageItem.gsi2pk.set(PREVIEWS_GSI2PK), StageItem.gsi2sk.set(live_preview["gsi2sk"])]
                txn.update("stage", old, actions, condition=StageItem.removed_at.exists())
            txn.put(f"stack {stack}", StackClaimItem(stack_pk(stack), "STACK", app=app_name, stage=spec.name),
                    condition=StackClaimItem.pk.does_not_exist())
            failed = txn.commit()
            if not failed:
                return App(app.name, app.repository, app.template_path, stages, app.created_at)
            if f"stack {stack}" in failed:
                owner = self.stack_owner(stack)
                whose = f"app {named(owner[0])}'s stage {named(owner[1])}" if owner else "another app's stage"
                raise StackNameTaken(f"stack name {named(stack)} is already {whose}: choose another stage name")
            return None  # the pipeline or the stage changed since it was read: look again

        return optimistically(f"add stage {spec.name} to app {app_name}", attempt)

    def begin_removal(self, app_name: str, stage: str, intent: dict, holder_running: HolderCheck | None = None,
                      wait_for_lock: bool = False) -> tuple[Stage, bool]:
        """Record that ``stage`` is being removed (``intent``: who, when, the teardown execution) —
        before anything is deleted. A stage a running deployment holds → StageBusy with the holder;
        a stage already being removed → (it, False): its recorded removal goes on."""

        def attempt() -> tuple[Stage, bool] | None:
            st = get(StageItem, app_pk(app_name), stage_sk(stage))
            if st is None or st.removed_at:
                _live_app(app_name)
                raise StageNotFound(f"app {named(app_name)} has no stage {named(stage)}"
                                    + (f" (removed at {st.removed_at})" if st is not None else ""), field="stage")
            if st.removing:
                return to_stage(st), False
            if st.lock and not wait_for_lock:
                lock = to_stage(st).lock
                assert lock is not None
                running = holder_running(lock.execution) if holder_running and lock.execution else None
                if takeover_reason(lock, now(), running) is None:
                    raise StageBusy(
                        f"stage {named(stage)} of app {named(app_name)} is running deployment {st.lock}: "
                        "remove it once the deployment ended",
                        holder={"deployment": st.lock, "execution": st.lock_execution, "since": st.lock_since,
                                "expiresAt": st.lock_expires},
                    )
            txn = Txn()
            txn.update("stage", st, [
                StageItem.removing.set({**intent, "requestedAt": intent.get("requestedAt") or now_iso()}),
                StageItem.gsi1pk.set(REMOVING_GSI1PK), StageItem.gsi1sk.set(f"APP#{app_name}#STAGE#{stage}"),
            ])
            if txn.commit():
                return None
            fresh = get(StageItem, app_pk(app_name), stage_sk(stage))
            return to_stage(fresh), True

        return optimistically(f"record the removal of stage {stage} of app {app_name}", attempt)

    def note_removal(self, app_name: str, stage: str, **fields: object) -> dict:
        """Merge ``fields`` into the stage's recorded removal (what to delete, blockers, attempts)."""

        def attempt() -> dict | None:
            st = get(StageItem, app_pk(app_name), stage_sk(stage))
            if st is None or not st.removing:
                raise StageRemoved(f"stage {named(stage)} of app {named(app_name)} has no removal under way")
            merged = {**st.removing, **fields}
            txn = Txn()
            txn.update("stage", st, [StageItem.removing.set(merged)])
            return None if txn.commit() else merged

        return optimistically(f"note the removal of stage {stage}", attempt)

    def note_preview_comment(self, app_name: str, stage: str, comment_id: str) -> None:
        """The pull request's comment Sprout edits from now on (a preview's item only)."""

        def attempt() -> bool | None:
            st = get(StageItem, app_pk(app_name), stage_sk(stage))
            if st is None or not st.preview or st.removed_at:
                return True  # gone meanwhile: nothing to keep
            txn = Txn()
            txn.update("stage", st, [StageItem.preview.set({**st.preview, "commentId": comment_id})])
            return None if txn.commit() else True

        optimistically(f"note the comment of preview {stage}", attempt)

    def finish_removal(self, app_name: str, stage: str) -> Stage:
        """The teardown is done: the stage leaves the pipeline, its stack name is free, its item keeps
        ``removedAt`` and its history. Idempotent."""

        def attempt() -> Stage | None:
            st = get(StageItem, app_pk(app_name), stage_sk(stage))
            if st is None:
                raise StageNotFound(f"app {named(app_name)} has no stage {named(stage)}", field="stage")
            if st.removed_at:
                return to_stage(st)
            app = get(AppItem, app_pk(app_name), "APP")
            stamp = now_iso()
            txn = Txn()
            txn.update("stage", st, [
                StageItem.removed_at.set(stamp), StageItem.removing.set({**(st.removing or {}), "finishedAt": stamp}),
                StageItem.gsi1pk.remove(), StageItem.gsi1sk.remove(), StageItem.gsi2pk.remove(),
                StageItem.gsi2sk.remove(), StageItem.lock.remove(), StageItem.lock_execution.remove(),
                StageItem.lock_since.remove(), StageItem.lock_expires.remove(),
            ])
            if app is not None:
                stages = without_stage(to_app(app).stages, stage)
                txn.update("app", app, [AppItem.stages.set([spec_doc(s) for s in stages])], condition=_same_stages(app))
            stack = stack_name(app_name, stage)
            claim = get(StackClaimItem, stack_pk(stack), "STACK")
            if claim is not None and (claim.app, claim.stage) == (app_name, stage):
                txn.delete("claim", claim)
            if txn.commit():
                return None
            return to_stage(get(StageItem, app_pk(app_name), stage_sk(stage)))

        return optimistically(f"finish the removal of stage {stage}", attempt)

    def stage_presence(self, app_name: str, stage: str) -> tuple[bool, str | None, bool]:
        """What the lineage knows of a stage (sprout.domain.orphans.orphan_reason's input): whether
        the app is live, its stage record (``"live"``, ``"removed"`` or None) and whether the app's
        pipeline lists it."""
        st = get(StageItem, app_pk(app_name), stage_sk(stage))
        record = None if st is None else ("removed" if st.removed_at else "live")
        app = get(AppItem, app_pk(app_name), "APP")
        app_live = app is not None and not app.deleted_at
        listed = app_live and app is not None and any(s.get("name") == stage for s in app.stages or ())
        return app_live, record, listed

    def begin_orphan_removal(self, app_name: str, stage: str, intent: dict) -> tuple[Stage, bool]:
        """Record the removal of a stack whose stage no longer exists, on the stage's item (made
        when there is none; a removed stage's item keeps its earlier removal under
        ``previousRemoval``), so the teardown machine removes it as any stage and the sweep restarts
        it if it stops. A stage that exists meanwhile (added again, or being removed) → (it, False)."""

        def attempt() -> tuple[Stage, bool] | None:
            st = get(StageItem, app_pk(app_name), stage_sk(stage))
            if st is not None and not st.removed_at:
                return to_stage(st), False
            removing = {**intent, "requestedAt": intent.get("requestedAt") or now_iso()}
            sk = f"APP#{app_name}#STAGE#{stage}"  # listed in gsi1 REMOVING: the sweep's list
            txn = Txn()
            if st is None:
                txn.put("stage", StageItem(app_pk(app_name), stage_sk(stage), app=app_name, name=stage, deployments=0,
                                           removing=removing, gsi1pk=REMOVING_GSI1PK, gsi1sk=sk),
                        condition=StageItem.pk.does_not_exist())
            else:
                removing["previousRemoval"] = {**(st.removing or {}), "removedAt": st.removed_at}
                txn.update("stage", st, [StageItem.removing.set(removing), StageItem.removed_at.remove(),
                                         StageItem.gsi1pk.set(REMOVING_GSI1PK), StageItem.gsi1sk.set(sk)],
                           condition=StageItem.removed_at.exists())
            if txn.commit():
                return None
            return to_stage(get(StageItem, app_pk(app_name), stage_sk(stage))), True

        return optimistically(f"record the removal of the orphan stack of stage {stage} of app {app_name}", attempt)

    def removals_pending(self) -> list[Stage]:
        """Every stage whose removal is recorded and not finished (the sweep's list)."""
        return [to_stage(i) for i in StageItem.by_gsi1.query(REMOVING_GSI1PK)]

    def live_previews(self) -> list[Stage]:
        return [to_stage(i) for i in StageItem.by_gsi2.query(PREVIEWS_GSI2PK)]

    def begin_app_deletion(self, app_name: str, intent: dict) -> App:
        """Record that the app is being deleted (no stage is added from now on)."""
        item = _live_app(app_name)
        if not item.deleting:
            item.update(actions=[AppItem.deleting.set({**intent, "requestedAt": now_iso()})],
                        condition=AppItem.deleted_at.does_not_exist())
        return to_app(item)

    def finish_app_deletion(self, app_name: str) -> None:
        """Every stage is gone: the app leaves the list, its name stays a tombstone (its builds and
        their deployments are kept, and its number sequence with them); its preview settings go."""
        item = get(AppItem, app_pk(app_name), "APP")
        if item is None or item.deleted_at:
            return
        left = [s["name"] for s in item.stages or ()]
        if left:
            raise Conflict(f"app {named(app_name)} still has stages {named(', '.join(left))}")
        txn = Txn()
        txn.update("app", item, [AppItem.deleted_at.set(now_iso()), AppItem.gsi1pk.remove(), AppItem.gsi1sk.remove()],
                   condition=_same_stages(item))
        previews = get(PreviewsItem, app_pk(app_name), "PREVIEWS")
        if previews is not None:
            txn.delete("previews", previews)
        if txn.commit():
            raise Conflict(f"app {named(app_name)} changed while it was being deleted: try again")

    # ---- preview settings ------------------------------------------------------------------------

    def get_previews(self, app_name: str) -> PreviewSettings | None:
        item = get(PreviewsItem, app_pk(app_name), "PREVIEWS")
        return settings_of(item.settings) if item else None

    def settings_inheritance(self, app_name: str, stage: str) -> Inheritance | None:
        """What preview ``stage`` inherits (its app's previews' ``inheritFrom``); None for any other stage."""
        item = get(AppItem, app_pk(app_name), "APP")
        if item is None:
            raise AppNotFound(f"app {named(app_name)} not found", field="app")
        app = to_app(item)
        spec = app.stage(stage)
        if spec is None or spec.preview is None:
            return None
        return settings_inheritance(app, stage, self.get_previews(app_name))

    def put_previews(self, app: App, settings: PreviewSettings) -> None:
        on: dict[str, Any] = {"gsi1pk": previews_gsi1pk(app.repository), "gsi1sk": app_pk(app.name)} if settings.enabled else {}
        PreviewsItem(app_pk(app.name), "PREVIEWS", app=app.name, settings=settings.view(), **on).save()

    def apps_with_previews(self, repository: str) -> list[tuple[App, PreviewSettings]]:
        found = []
        for item in PreviewsItem.by_gsi1.query(previews_gsi1pk(repository)):
            app = get(AppItem, app_pk(item.app), "APP")
            if app is not None and not app.deleted_at and not app.deleting:
                found.append((to_app(app), settings_of(item.settings)))
        return sorted(found, key=lambda pair: pair[0].name)


def settings_of(doc: dict) -> PreviewSettings:
    branches, prs = doc.get("branches") or {}, doc.get("pullRequests") or {}
    return PreviewSettings(bool(branches.get("enabled")), branches.get("pattern") or "*", bool(prs.get("enabled")),
                           tuple(prs.get("targets") or ()), doc.get("inheritFrom"), int(doc.get("limit", 10)),
                           doc.get("updatedAt") or "", doc.get("updatedBy"))
