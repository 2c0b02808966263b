"""The pipeline after registration: ``/apps/{app}/stages`` (list, add), ``DELETE
/apps/{app}/stages/{stage}``, ``DELETE /apps/{app}``, and ``/apps/{app}/previews``. Parse → call
sprout.services.stages / previews → answer."""

from __future__ import annotations

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import Router

from sprout.domain.canary import default_strategy
from sprout.domain.model import StageSpec
from sprout.handlers.http import body_of, caller, json_response
from sprout.handlers.views import app_view, lock_view
from sprout.schemas import validate

router = Router()


def _stage_row(st) -> dict:
    return {"name": st.name, "branch": st.branch, "autoDeploy": st.auto_deploy,
            "currentDeployment": st.current_deployment, "lock": lock_view(st.lock),
            "preview": st.preview.view() if st.preview else None,
            "removing": st.removing if st.removing and not st.removed_at else None}


@router.get("/apps/<name>/stages")
def list_stages(name: str) -> Response:
    return json_response(200, {"stages": [_stage_row(s) for s in router.context["stage_changes"].list(name)]})


@router.post("/apps/<name>/stages")
def add_stage(name: str) -> Response:
    body = body_of(router)
    validate("stage_request", body)
    spec = StageSpec(body["name"], body.get("branch"), bool(body.get("autoDeploy", False)),
                     strategy=default_strategy(body.get("strategy"), "strategy"))
    app = router.context["stage_changes"].add(name, spec, body.get("after"))
    return json_response(201, app_view(app))


@router.delete("/apps/<name>/stages/<stage>")
def remove_stage(name: str, stage: str) -> Response:
    return json_response(202, router.context["stage_changes"].remove(name, stage, caller(router)))


@router.delete("/apps/<name>")
def delete_app(name: str) -> Response:
    return json_response(202, router.context["stage_changes"].delete_app(name, caller(router)))


@router.put("/apps/<name>/previews")
def put_previews(name: str) -> Response:
    body = body_of(router)
    validate("previews_request", body)
    return json_response(200, router.context["previews"].put(name, body, caller(router)).view())


@router.get("/apps/<name>/previews")
def get_previews(name: str) -> Response:
    return json_response(200, router.context["previews"].get(name).view())
