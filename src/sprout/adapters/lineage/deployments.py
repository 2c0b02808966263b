"""Deployments of a stage and the stage's lock: one deployment holds a stage at a time, for its
execution, under a lease; a lock whose holder has ended or whose lease ran out is taken over, and
the take-over is recorded on both deployments."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import timedelta
from typing import Any

from pynamodb.exceptions import UpdateError
from pynamodb.expressions.update import Action

from sprout.adapters.lineage.closing import Closing
from sprout.adapters.lineage.items import (
    BuildItem,
    DeployedItem,
    DeploymentItem,
    OpenItem,
    StageItem,
    app_pk,
    build_sk,
    deployed_sk,
    deployment_sk,
    deployments_pk,
    open_deployment_sk,
    open_pk,
    stage_sk,
)
from sprout.adapters.lineage.table import (
    Txn,
    batch_get,
    get,
    now,
    now_iso,
    numbered_page,
    optimistically,
    to_deployment,
    to_stage,
)
from sprout.domain.canary import closed_state
from sprout.domain.errors import (
    BuildNotFound,
    Conflict,
    DeploymentNotFound,
    InvalidInput,
    StageBusy,
    StageMoved,
    StageNotFound,
    named,
)
from sprout.domain.model import Build, Deployment, DeploymentKind, DeploymentStatus
from sprout.domain.pipeline import DEFAULT_LEASE, lease_until, takeover_reason
from sprout.domain.stages import StageRemoved
from sprout.domain.tokens import listing

# Says whether an execution is still running: True, False, or None when it cannot tell.
HolderCheck = Callable[[str], "bool | None"]

# begin_deployment's default: take the lock whatever deployment the stage runs.
ANY_CURRENT = object()


def _stage_item(app: str, stage: str) -> StageItem:
    item = get(StageItem, app_pk(app), stage_sk(stage))
    if item is None:
        raise StageNotFound(f"app {named(app)} has no stage {named(stage)}", field="stage")
    return item


def _lock_view(st: StageItem) -> dict:
    return {"deployment": st.lock, "execution": st.lock_execution, "since": st.lock_since, "expiresAt": st.lock_expires}


class DeploymentRepository(Closing):
    """Deployments and stage locks, as domain types."""

    def begin_deployment(
        self,
        app: str,
        stage: str,
        build: Build | int,
        kind: DeploymentKind | str,
        trigger: Mapping[str, Any],
        execution: str | None = None,
        holder_running: HolderCheck | None = None,
        lease: timedelta = DEFAULT_LEASE,
        expect_current: str | None | object = ANY_CURRENT,
    ) -> Deployment:
        """Take the stage's lock for ``execution`` and record an IN_PROGRESS deployment of ``build``
        (and the execution's open work), in one transaction. A lock whose lease ran out, or whose
        holder execution has ended (``holder_running``), is taken over: its deployment is closed
        FAILED saying so, and the new one records what it took over.

        With ``expect_current`` (a deployment id, or None for a stage that never ran one), the lock is
        taken only while the stage still runs that deployment, in the same transaction: a promote
        judged against a change set cannot start after the stage has moved on.

        Raises StageBusy (with the holder), StageMoved, StageNotFound, BuildNotFound."""
        kind = DeploymentKind(kind)
        number = build.number if isinstance(build, Build) else int(build)

        def attempt() -> Deployment | None:
            st = _stage_item(app, stage)
            if st.removing or st.removed_at:
                raise StageRemoved(f"stage {named(stage)} of app {named(app)} is "
                                   + (f"removed (at {st.removed_at})" if st.removed_at else "being removed")
                                   + ": nothing deploys to it")
            if expect_current is not ANY_CURRENT and st.current_deployment != expect_current:
                raise StageMoved(
                    f"stage {named(stage)} of app {named(app)} now runs deployment {st.current_deployment}, not {expect_current}"
                )
            taken_over = None
            lock = to_stage(st).lock  # set when the stage item holds a lock
            if lock is not None:
                running = holder_running(lock.execution) if holder_running and lock.execution else None
                reason = takeover_reason(lock, now(), running)
                if reason is None:
                    raise StageBusy(
                        f"stage {named(stage)} of app {named(app)} is busy: deployment {st.lock} holds it"
                        + (f" for execution {st.lock_execution}" if st.lock_execution else "")
                        + f" until {st.lock_expires}",
                        holder=_lock_view(st),
                    )
                taken_over = {"deployment": st.lock, "execution": st.lock_execution, "reason": reason}
            seq = int(st.deployments or 0) + 1
            deployment = DeploymentItem(
                deployments_pk(app, stage), deployment_sk(f"{seq:06d}"),
                app=app, stage=stage, id=f"{seq:06d}", build=number, kind=kind.value,
                status=DeploymentStatus.IN_PROGRESS.value, trigger=dict(trigger or {}),
                replaces=st.current_deployment, versions={}, started_at=now_iso(),
                execution=execution, took_over=taken_over,
            )
            txn = Txn()
            txn.check("build", BuildItem, app_pk(app), build_sk(number), BuildItem.pk.exists())
            if taken_over:
                self._close_taken_over(txn, app, stage, taken_over, f"{seq:06d}")
            txn.put("deployment", deployment, condition=DeploymentItem.pk.does_not_exist())
            txn.put("deployed", DeployedItem(app_pk(app), deployed_sk(number, stage), app=app, build=number,
                                             stage=stage, deployment=deployment.id))
            if execution:
                txn.put("open", OpenItem(open_pk(execution), open_deployment_sk(app, stage, deployment.id),
                                         kind="deployment", app=app, stage=stage, build=number, deployment=deployment.id))
            held = StageItem.lock == st.lock if st.lock else StageItem.lock.does_not_exist()
            # the version attribute adds "version = <read>": a stale stage is refused
            txn.update(
                "stage", st,
                [
                    StageItem.lock.set(deployment.id),
                    StageItem.lock_execution.set(execution) if execution else StageItem.lock_execution.remove(),
                    StageItem.lock_since.set(deployment.started_at),
                    StageItem.lock_expires.set(lease_until(now(), lease)),
                    StageItem.deployments.set(seq),
                ],
                condition=held,
            )
            failed = txn.commit()
            if not failed:
                if taken_over:
                    self._told_taken_over(app, stage, taken_over["deployment"])
                return to_deployment(deployment)
            if failed.get("build"):
                raise BuildNotFound(f"build {number} of app {named(app)} not found", field="build")
            return None  # the stage changed since it was read: look again

        return optimistically(f"lock stage {stage} of app {app}", attempt)

    def _told_taken_over(self, app: str, stage: str, deployment_id: str) -> None:
        old = get(DeploymentItem, deployments_pk(app, stage), deployment_sk(deployment_id))
        if old is not None and old.status == DeploymentStatus.FAILED.value:
            self._deployment_closed(to_deployment(old))

    def _close_taken_over(self, txn: Txn, app: str, stage: str, taken_over: dict, by: str) -> None:
        old = get(DeploymentItem, deployments_pk(app, stage), deployment_sk(taken_over["deployment"]))
        if old is None or old.status != DeploymentStatus.IN_PROGRESS.value:
            return
        txn.update(
            "taken over", old,
            [
                DeploymentItem.status.set(DeploymentStatus.FAILED.value),
                DeploymentItem.finished_at.set(now_iso()),
                DeploymentItem.error.set(f"taken over by deployment {by}: {taken_over['reason']}"),
                DeploymentItem.step.set("Lock"),
            ],
            condition=DeploymentItem.status == DeploymentStatus.IN_PROGRESS.value,
        )
        if old.execution:
            txn.delete("taken over open", OpenItem(open_pk(old.execution), open_deployment_sk(app, stage, old.id)))

    def record_failed_start(
        self, app: str, stage: str, build: int, kind: DeploymentKind | str, trigger: Mapping[str, Any], error: str, step: str
    ) -> Deployment:
        """Record a deployment that could not start (the stage stayed busy, the build may not
        deploy): FAILED at once, with the reason and the step; the stage's lock is not touched."""

        def attempt() -> Deployment | None:
            st = _stage_item(app, stage)
            seq = int(st.deployments or 0) + 1
            stamp = now_iso()
            deployment = DeploymentItem(
                deployments_pk(app, stage), deployment_sk(f"{seq:06d}"),
                app=app, stage=stage, id=f"{seq:06d}", build=int(build), kind=DeploymentKind(kind).value,
                status=DeploymentStatus.FAILED.value, trigger=dict(trigger or {}), replaces=st.current_deployment,
                versions={}, started_at=stamp, finished_at=stamp, error=error, step=step,
            )
            txn = Txn()
            txn.put("deployment", deployment, condition=DeploymentItem.pk.does_not_exist())
            txn.update("stage", st, [StageItem.deployments.set(seq)])
            return None if txn.commit() else to_deployment(deployment)

        failed = optimistically(f"record a failed deployment of {app}/{stage}", attempt)
        self._deployment_closed(failed)
        return failed

    def renew_lease(self, app: str, stage: str, deployment_id: str, lease: timedelta = DEFAULT_LEASE) -> bool:
        """Extend the lease of the lock ``deployment_id`` holds; False when it no longer holds it."""
        item = StageItem(app_pk(app), stage_sk(stage))
        try:
            item.update(
                actions=[StageItem.lock_expires.set(lease_until(now(), lease))],
                condition=StageItem.lock == deployment_id,
                add_version_condition=False,
            )
        except UpdateError as e:
            if e.cause_response_code == "ConditionalCheckFailedException":
                return False  # another deployment holds it now
            raise
        return True

    def finish_deployment(
        self,
        app: str,
        stage: str,
        deployment_id: str,
        status: DeploymentStatus | str,
        versions: dict[str, str] | None = None,
        error: str | None = None,
        step: str | None = None,
        cause: dict | None = None,
    ) -> Deployment:
        """Record how a deployment ended (a failure with its ``cause`` when CloudFormation told one), close it as its execution's open work and release the
        stage's lock (if it still holds it); SUCCEEDED also makes it the stage's current deployment.
        Finishing it again the same way is a no-op."""
        status = DeploymentStatus(status)
        if status is DeploymentStatus.IN_PROGRESS:
            raise InvalidInput("status", "a deployment finishes as SUCCEEDED or FAILED")

        closed_now: list[bool] = []

        def attempt() -> Deployment | None:
            st = _stage_item(app, stage)
            item = get(DeploymentItem, deployments_pk(app, stage), deployment_sk(deployment_id))
            if item is None:
                raise DeploymentNotFound(f"deployment {named(deployment_id)} of stage {named(stage)} of app {named(app)} not found")
            if item.status != DeploymentStatus.IN_PROGRESS.value:
                if item.status == status.value:
                    return to_deployment(item)  # closed before (maybe by this call's earlier attempt)
                raise Conflict(f"deployment {named(deployment_id)} of {named(app)}/{named(stage)} already finished as {item.status}")
            txn = Txn()
            txn.update(
                "deployment", item,
                [
                    DeploymentItem.status.set(status.value),
                    DeploymentItem.finished_at.set(now_iso()),
                    DeploymentItem.versions.set(dict(versions or {})),
                    DeploymentItem.error.set(error) if error else DeploymentItem.error.remove(),
                    DeploymentItem.step.set(step) if step else DeploymentItem.step.remove(),
                    DeploymentItem.cause.set(cause) if cause else DeploymentItem.cause.remove(),
                    *([DeploymentItem.canary.set({**item.canary, "state": closed_state(item.canary.get("state"),
                                                                                       status.value)})]
                      if isinstance(item.canary, dict) else []),
                ],
                condition=DeploymentItem.status == DeploymentStatus.IN_PROGRESS.value,
            )
            if item.execution:
                txn.delete("open", OpenItem(open_pk(item.execution), open_deployment_sk(app, stage, deployment_id)))
            stage_actions: list[Action] = []
            if st.lock == deployment_id:
                stage_actions += [StageItem.lock.remove(), StageItem.lock_execution.remove(),
                                  StageItem.lock_since.remove(), StageItem.lock_expires.remove()]
            if status is DeploymentStatus.SUCCEEDED:
                stage_actions.append(StageItem.current_deployment.set(deployment_id))
            if stage_actions:
                txn.update("stage", st, stage_actions)
            if txn.commit():
                return None
            closed_now.append(True)
            return self.get_deployment(app, stage, deployment_id)

        finished = optimistically(f"finish deployment {deployment_id} of {app}/{stage}", attempt)
        if closed_now:
            self._deployment_closed(finished)
        return finished

    def annotate_deployment(
        self, app: str, stage: str, deployment_id: str, change_set: str | None = None, note: str | None = None
    ) -> None:
        """Record on an open deployment the change set it deploys through, or a note of what Sprout
        did on its way (kept in order)."""
        if not change_set and not note:
            return
        item = get(DeploymentItem, deployments_pk(app, stage), deployment_sk(deployment_id))
        if item is None:
            raise DeploymentNotFound(f"deployment {named(deployment_id)} of stage {named(stage)} of app {named(app)} not found")
        actions = [DeploymentItem.change_set.set(change_set)] if change_set else []
        if note:  # one task at a time writes a deployment's notes: read, append, write
            actions.append(DeploymentItem.notes.set([*(item.notes or []), note]))
        item.update(actions=actions)

    def repair_deployment(
        self, app: str, stage: str, deployment_id: str, versions: dict[str, str], why: str
    ) -> Deployment:
        """A check found that the stack runs ``deployment_id`` (its aliases point at ``versions``):
        record it so — SUCCEEDED with those versions, the stage's current deployment — keeping what
        the record said before in ``reconciled``. Never while a deployment holds the stage."""

        def attempt() -> Deployment | None:
            st = _stage_item(app, stage)
            if st.lock:
                raise StageBusy(f"stage {named(stage)} of app {named(app)} is busy: deployment {st.lock} holds it", holder=_lock_view(st))
            item = get(DeploymentItem, deployments_pk(app, stage), deployment_sk(deployment_id))
            if item is None:
                raise DeploymentNotFound(f"deployment {named(deployment_id)} of stage {named(stage)} of app {named(app)} not found")
            was = {"status": item.status, "versions": item.versions or {}, "current": st.current_deployment}
            txn = Txn()
            txn.update(
                "deployment", item,
                [
                    DeploymentItem.status.set(DeploymentStatus.SUCCEEDED.value),
                    DeploymentItem.versions.set(dict(versions)),
                    DeploymentItem.finished_at.set(item.finished_at or now_iso()),
                    DeploymentItem.reconciled.set({"at": now_iso(), "was": was, "why": why}),
                ],
                condition=DeploymentItem.status == item.status,
            )
            txn.update("stage", st, [StageItem.current_deployment.set(deployment_id)], condition=StageItem.lock.does_not_exist())
            return None if txn.commit() else self.get_deployment(app, stage, deployment_id)

        return optimistically(f"repair the record of {app}/{stage}", attempt)

    def get_deployment(self, app: str, stage: str, deployment_id: str) -> Deployment:
        item = get(DeploymentItem, deployments_pk(app, stage), deployment_sk(deployment_id))
        if item is None:
            raise DeploymentNotFound(f"deployment {named(deployment_id)} of stage {named(stage)} of app {named(app)} not found", field="id")
        return to_deployment(item)

    def current_deployment(self, app: str, stage: str) -> Deployment | None:
        st = _stage_item(app, stage)
        return self.get_deployment(app, stage, st.current_deployment) if st.current_deployment else None

    def list_deployments(
        self, app: str, stage: str, limit: int = 25, next_token: str | None = None
    ) -> tuple[list[Deployment], str | None]:
        """Deployments of a stage newest first, and a token for the next page (None on the last)."""
        newest = int(_stage_item(app, stage).deployments or 0)
        items, token = numbered_page(
            DeploymentItem, deployments_pk(app, stage), lambda n: deployment_sk(f"{n:06d}"), newest, limit, next_token,
            listing("deployments", app, stage),
        )
        return [to_deployment(i) for i in items], token

    def deployments_by_id(self, app: str, pairs: list[tuple[str, str]]) -> dict[str, Deployment]:
        """stage -> deployment for (stage, deployment id) pairs, read in one batch."""
        keys = [(deployments_pk(app, stage), deployment_sk(d)) for stage, d in pairs]
        found = {d.stage: to_deployment(d) for d in batch_get(DeploymentItem, keys)}
        return dict(sorted(found.items()))
