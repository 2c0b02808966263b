"""``/apps/{app}/stages/{stage}/settings``, ``.../secrets[/{name}]`` and ``.../redeploy``: a stage's
settings (template parameter values), its secrets (SecureStrings in Parameter Store: names,
versions, who and when — never a value) and the redeploy that applies changed settings."""

from __future__ import annotations

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import Router

from sprout.handlers.http import body_of, caller, json_response
from sprout.services.stage_settings import StageSettingsService

router = Router()


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

