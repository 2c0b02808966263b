"""What every monitoring route shares: the stage it is about (sprout.services.monitoring, built
once by sprout.wiring), query parameters, and the time."""

from __future__ import annotations

from datetime import UTC, datetime

from aws_lambda_powertools.event_handler.api_gateway import Router

from sprout import wiring
from sprout.services.monitoring import DeployedStage

monitoring = wiring.monitoring()

__all__ = ["DeployedStage", "deployed", "monitoring", "now", "query", "stage_of"]


def query(router: Router) -> dict[str, str]:
    return router.current_event.query_string_parameters or {}


def now() -> datetime:
    return datetime.now(UTC)


def stage_of(app: str, stage: str) -> tuple[str, str]:
    """404 unless the app exists and declares the stage."""
    return monitoring.stage_of(app, stage)


def deployed(app: str, stage: str, checked: bool = False) -> DeployedStage:
    """The stage with what runs on it; 404 for an unknown app or stage (unless ``checked``), 409
    when it was never deployed."""
    return monitoring.deployed(app, stage, checked)
