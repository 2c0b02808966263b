"""``/apps``: register apps (claiming their stage stacks) and read them."""

from __future__ import annotations

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import Router

from sprout.domain.canary import default_strategy
from sprout.domain.model import App, StageSpec
from sprout.domain.pipeline import check_stages
from sprout.handlers.http import body_of, caller, json_response
from sprout.handlers.views import app_view
from sprout.schemas import validate

router = Router()


@router.post("/apps")
def create_app() -> Response:
    body = body_of(router)
    validate("app", body)
    stages = check_stages(
        tuple(StageSpec(s["name"], branch=s.get("branch"), auto_deploy=bool(s.get("autoDeploy", False)),
                        strategy=default_strategy(s.get("strategy"), f"stages[{i}].strategy"))
              for i, s in enumerate(body.get("stages", ())))
    )
    app = App(body["name"], body["repository"], body.get("templatePath", "template.yaml"), stages)
    created, builds = router.context["apps"].register(app, caller(router))
    return json_response(201, {**app_view(created), "builds": builds})


@router.get("/apps")
def list_apps() -> Response:
    return json_response(200, {"apps": [app_view(a) for a in router.context["lineage"].list_apps()]})


@router.get("/apps/<name>")
def get_app(name: str) -> Response:
    return json_response(200, app_view(router.context["lineage"].get_app(name)))


@router.get("/apps/<name>/heads")
def get_heads(name: str) -> Response:
    """The head of every branch the app's stages follow, and its build (None: not built yet, as
    right after a push, or the branch has no commit): whether a build is on its way."""
    return json_response(200, {"heads": router.context["apps"].heads(name)})
