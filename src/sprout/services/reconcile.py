"""The check that a stage's record matches its stack: what the record says runs (the stage's current
deployment and its versions) against what the stack and the ``live`` aliases say. Where they
differ and the stack says which deployment runs, the record is repaired to say so. Run by the
finalizer after it closes a deployment, and on demand (``POST /apps/{app}/stages/{stage}/reconcile``,
``sprout reconcile APP STAGE``). The answer says what the record said, what the aliases say, and
what was repaired."""

from __future__ import annotations

from typing import Any, Protocol

from sprout.domain.model import Deployment, DeploymentStatus
from sprout.domain.pipeline import stack_name
from sprout.domain.stack_events import SUCCEEDED, UPDATABLE
from sprout.observability import logger
from sprout.services.ports import AppReads, DeploymentReads


class ReconcileLineage(AppReads, DeploymentReads, Protocol):
    def repair_deployment(self, app: str, stage: str, deployment_id: str, versions: dict[str, str],
                          why: str) -> Deployment: ...


class StackTruth(Protocol):
    """What the stage's stack and its ``live`` aliases say."""

    def describe(self, stack: str) -> dict[str, Any] | None: ...

    def live_versions(self, stack: str) -> dict[str, str]: ...

    def cause(self, found: dict[str, Any]) -> dict[str, Any]: ...


HISTORY_PAGES = 5  # how far back the check looks for the deployment the stack runs: 5 pages of 100


def _history(lineage: ReconcileLineage, app: str, stage: str) -> list[Deployment]:
    found: list[Deployment] = []
    token: str | None = None
    for _ in range(HISTORY_PAGES):
        page, token = lineage.list_deployments(app, stage, limit=100, next_token=token)
        found += page
        if not token:
            break
    return found


def _record(d: Deployment | None) -> dict[str, Any] | None:
    if d is None:
        return None
    return {"deployment": d.id, "build": d.build, "status": str(d.status), "versions": d.versions}


def reconcile(app: str, stage: str, lineage: ReconcileLineage, stacks: StackTruth) -> dict[str, Any]:
    """Compare the stage's record with its stack and aliases; repair the record when the stack
    says which deployment runs. Never while a deployment holds the stage (it only reports)."""
    st = lineage.get_stage(app, stage)
    current = lineage.current_deployment(app, stage)
    name = stack_name(app, stage)
    found = stacks.describe(name)
    answer: dict[str, Any] = {"app": app, "stage": stage, "record": _record(current), "aliases": None, "repaired": [],
                    "consistent": None, "stack": None}
    if found is None:
        answer["stack"] = {"name": name, "status": None}
        answer["consistent"] = current is None
        answer["message"] = ("the stage has no stack and its record says nothing runs" if current is None else
                             f"the record says deployment {current.id} runs, but stack {name} does not exist: "
                             "deploy the stage again")
        return answer
    status = found["StackStatus"]
    answer["stack"] = {"name": name, "status": status, "reason": found.get("StackStatusReason")}
    if status.endswith("_IN_PROGRESS"):
        answer["message"] = f"stack {name} is {status}: nothing to compare until it settles"
        return answer
    if status not in UPDATABLE:  # e.g. UPDATE_ROLLBACK_FAILED: say why, and what to do
        answer["stack"]["cause"] = stacks.cause(found)
    aliases = stacks.live_versions(name)
    answer["aliases"] = aliases
    history = _history(lineage, app, stage)
    runs = _what_runs(found, aliases, current, history)
    if runs is not None and current is not None and runs.id == current.id:
        answer["consistent"] = True
        answer["message"] = "the record matches the stack"
        return answer
    if runs is None:
        answer["consistent"] = current is None and not aliases
        answer["message"] = ("the stage runs nothing Sprout deployed" if answer["consistent"] else
                             "the aliases point at versions no deployment of this stage recorded: deploy again "
                             "to bring the stage to a known build")
        return answer
    answer["consistent"] = False
    if st.lock is not None:
        answer["message"] = (f"the stack runs deployment {runs.id} (build {runs.build}) but deployment "
                             f"{st.lock.deployment} holds the stage: nothing repaired while it runs")
        return answer
    why = (f"stack {name} ({status}) runs deployment {runs.id} (build {runs.build}); the record said "
           + (f"deployment {current.id} (build {current.build})" if current else "nothing") + " runs")
    repaired = lineage.repair_deployment(app, stage, runs.id, aliases, why)
    answer["repaired"] = [{"deployment": repaired.id, "build": repaired.build, "was": runs.status.value,
                           "now": repaired.status.value, "versions": aliases, "current": True}]
    answer["message"] = f"repaired: {why}"
    logger.warning("record repaired", extra={"app": app, "stage": stage, "deployment": runs.id, "why": why})
    return answer


def _what_runs(found: dict[str, Any], aliases: dict[str, str], current: Deployment | None,
               history: list[Deployment]) -> Deployment | None:
    """The deployment the stack runs: a deployment newer than the current one whose change set the
    stack last executed, when that operation succeeded (whatever its task recorded); else the
    current one if the aliases agree with it; else the newest succeeded deployment whose versions
    are the aliases'. None when none fits."""
    change_set = found.get("ChangeSetId")
    if change_set and found["StackStatus"] in SUCCEEDED:
        newer = next((d for d in history if d.change_set == change_set), None)
        if newer is not None and newer.status is not DeploymentStatus.IN_PROGRESS and (
            current is None or newer.id > current.id
        ):
            return newer
    if current is not None and current.versions == aliases:
        return current
    if not aliases:
        return None
    return next((d for d in history if d.status is DeploymentStatus.SUCCEEDED and d.versions == aliases), None)
