"""A canary or linear promote on its deployment's record: the strategy, the canary (its versions,
the ones they replace, its state), each step — written before it is acted on — and what a person
asked of it (finish, abort, resume). Every write holds only while the deployment is IN_PROGRESS."""

from __future__ import annotations

from typing import Any

from pynamodb.exceptions import UpdateError

from sprout.adapters.lineage.items import DeploymentItem, deployment_sk, deployments_pk
from sprout.adapters.lineage.table import get, now_iso, to_deployment
from sprout.domain.errors import Conflict, DeploymentNotFound, named
from sprout.domain.model import Deployment, DeploymentStatus


def _item(app: str, stage: str, deployment_id: str) -> DeploymentItem:
    item = get(DeploymentItem, deployments_pk(app, stage), deployment_sk(deployment_id))
    if item is None:
        raise DeploymentNotFound(f"deployment {named(deployment_id)} of stage {named(stage)} of app {named(app)} not found",
                                 field="id")
    return item


class CanaryRepository:
    def _update_open(self, app: str, stage: str, deployment_id: str, actions: list[Any], extra: Any = None) -> Deployment:
        item = _item(app, stage, deployment_id)
        condition = DeploymentItem.status == DeploymentStatus.IN_PROGRESS.value
        if extra is not None:
            condition = condition & extra
        try:
            item.update(actions=actions, condition=condition)
        except UpdateError as e:
            if e.cause_response_code == "ConditionalCheckFailedException":
                raise Conflict(f"deployment {named(deployment_id)} of {named(app)}/{named(stage)} is no longer a canary "
                               "in progress") from e
            raise
        return to_deployment(item)

    def record_strategy(self, app: str, stage: str, deployment_id: str, strategy: dict[str, Any]) -> Deployment:
        return self._update_open(app, stage, deployment_id, [DeploymentItem.strategy.set(strategy)])

    def record_canary(self, app: str, stage: str, deployment_id: str, canary: dict[str, Any]) -> Deployment:
        """The canary as it is now (its state, versions…); replaces what was recorded."""
        return self._update_open(app, stage, deployment_id, [DeploymentItem.canary.set(canary)])

    def record_step(self, app: str, stage: str, deployment_id: str, index: int, step: dict[str, Any]) -> Deployment:
        """Step ``index`` as it is now (a new step is appended; one task at a time writes them)."""
        item = _item(app, stage, deployment_id)
        steps = list(item.steps or [])
        if index < len(steps):
            steps[index] = step
        else:
            steps.append(step)
        return self._update_open(app, stage, deployment_id, [DeploymentItem.steps.set(steps)])

    def request_control(self, app: str, stage: str, deployment_id: str, action: str, by: str) -> Deployment:
        """A person's finish, abort or resume, for the canary's execution to act on at its next look."""
        return self._update_open(app, stage, deployment_id,
                                 [DeploymentItem.control.set({"action": action, "by": by, "at": now_iso()})],
                                 DeploymentItem.canary.exists())

    def clear_control(self, app: str, stage: str, deployment_id: str) -> None:
        item = _item(app, stage, deployment_id)
        item.update(actions=[DeploymentItem.control.remove()])
