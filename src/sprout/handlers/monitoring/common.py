"""What every monitoring route shares: the stage it is about (app, stage, deployment, stack
resources), query parameters, and JSON answers."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from aws_lambda_powertools.event_handler.api_gateway import Router

from sprout import wiring
from sprout.adapters.apigateway import StageInventory, StageResources
from sprout.adapters.stacks import stack_name
from sprout.domain.errors import NotDeployed, StageNotFound, named
from sprout.domain.model import Deployment

lineage = wiring.lineage()
resources = StageResources()


def query(router: Router) -> dict[str, str]:
    return router.current_event.query_string_parameters or {}


def now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class DeployedStage:
    app: str
    stage: str
    deployment: Deployment
    inventory: StageInventory

    @property
    def where(self) -> str:
        return f"stage {self.stage} of app {self.app}"


def stage_of(app: str, stage: str) -> tuple[str, str]:
    """404 unless the app exists and declares the stage."""
    registered = lineage.get_app(app)
    if registered.stage(stage) is None:
        raise StageNotFound(f"app {named(app)} has no stage {named(stage)}")
    return app, stage


# A stage's stack resources change only with a deployment: kept per (app, stage, deployment) for
# as long as this execution environment lives (a few stages' worth: bounded).
_inventories: dict[tuple[str, str, str], StageInventory] = {}
MAX_CACHED = 64


def deployed(app: str, stage: str, checked: bool = False) -> DeployedStage:
    """The stage with what runs on it; 404 for an unknown app or stage (unless ``checked`` says the
    caller already asked), 409 when it was never deployed."""
    if not checked:
        stage_of(app, stage)
    where = f"stage {named(stage)} of app {named(app)}"
    try:
        deployment = lineage.current_deployment(app, stage)
    except StageNotFound:
        deployment = None
    if deployment is None:
        raise NotDeployed(f"{where} was never deployed: push to its branch or promote a build to it first")
    key = (app, stage, deployment.id)
    inventory = _inventories.get(key)
    if inventory is None:
        inventory = resources.inventory(stack_name(app, stage), where)
        if len(_inventories) >= MAX_CACHED:
            _inventories.clear()
        _inventories[key] = inventory
    return DeployedStage(app, stage, deployment, inventory)
