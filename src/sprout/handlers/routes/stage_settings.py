"""``/apps/{app}/stages/{stage}/settings``, ``.../secrets[/{name}]`` and ``.../redeploy``: a stage's
settings (template parameter values), its secrets (SecureStrings in Parameter Store: names,
versions, who and when — never a value) and the redeploy that applies changed settings."""

from __future__ import annotations

from datetime import UTC, datetime

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import Router

from sprout.adapters.lineage.stage_settings import SettingsRepository
from sprout.adapters.secrets import ParameterStoreSecrets
from sprout.adapters.stacks import StageStacks, stack_name
from sprout.handlers.http import body_of, caller, json_response
from sprout.services.stage_settings import StageExists, StageSettingsService

router = Router()


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def build_stage_settings(stages: StageExists) -> StageSettingsService:
    """Built once per cold start (the lead moves this into wiring.py)."""
    return StageSettingsService(SettingsRepository(), ParameterStoreSecrets(), stages, _now)


def _service() -> StageSettingsService:
    return router.context["stage_settings"]


@router.get("/apps/<name>/stages/<stage>/settings")
def get_settings(name: str, stage: str) -> Response:
    return json_response(200, _service().get_settings(name, stage))


@router.put("/apps/<name>/stages/<stage>/settings")
def put_settings(name: str, stage: str) -> Response:
    return json_response(200, _service().put_settings(name, stage, body_of(router)))


@router.get("/apps/<name>/stages/<stage>/secrets")
def list_secrets(name: str, stage: str) -> Response:
    return json_response(200, _service().list_secrets(name, stage))


@router.put("/apps/<name>/stages/<stage>/secrets/<secret>")
def put_secret(name: str, stage: str, secret: str) -> Response:
    return json_response(200, _service().put_secret(name, stage, secret, body_of(router), caller(router)))


@router.delete("/apps/<name>/stages/<stage>/secrets/<secret>")
def delete_secret(name: str, stage: str, secret: str) -> Response:
    return json_response(200, _service().delete_secret(name, stage, secret))


@router.post("/apps/<name>/stages/<stage>/redeploy")
def redeploy(name: str, stage: str) -> Response:
    """Deploy the build the stage runs again, with its settings as they are now (kind ``config``)."""
    body_of(router, required=False)
    started = router.context["delivery"].redeploy(name, stage, caller(router))
    return json_response(202, started.view())


def build_configuration(service: StageSettingsService, stacks: StageStacks | None = None):
    """The change set's ``configuration`` (Delivery's hook): the parameters the stage's stack runs
    with (DescribeStacks: reality, not a record) against those a deploy would pass now."""
    stacks = stacks or StageStacks()

    def configuration(app: str, stage: str, template: dict) -> dict:
        found = stacks.describe(stack_name(app, stage))
        running = {p["ParameterKey"]: p.get("ParameterValue", "") for p in found.get("Parameters") or []} if found else None
        return service.configuration(app, stage, template, running)

    return configuration
