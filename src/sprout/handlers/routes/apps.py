"""``/apps``: register apps (claiming their stage stacks) and read them."""

from __future__ import annotations

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import Router

from sprout.adapters.source import check_repository, resolve_branch
from sprout.adapters.stacks import StageStacks
from sprout.domain.errors import InvalidInput, NotFound, SourceError, StackNameTaken, named
from sprout.domain.model import App, StageSpec
from sprout.domain.pipeline import check_stages, stage_stacks
from sprout.handlers.build_starts import build_branch_heads
from sprout.handlers.http import body_of, caller, json_response
from sprout.handlers.views import app_view
from sprout.observability import logger
from sprout.schemas import validate
from sprout.settings import require_env

router = Router()


@router.post("/apps")
def create_app() -> Response:
    body = body_of(router)
    validate("app", body)
    stages = check_stages(
        tuple(StageSpec(s["name"], branch=s.get("branch"), auto_deploy=bool(s.get("autoDeploy", False)))
              for s in body.get("stages", ()))
    )
    app = App(body["name"], body["repository"], body.get("templatePath", "template.yaml"), stages)
    try:
        check_repository(app.repository)
    except SourceError as e:
        raise InvalidInput("repository", str(e)) from None
    _refuse_foreign_stacks(app)
    created = router.context["lineage"].create_app(app)
    logger.info("app registered", extra={"app": created.name, "repository": created.repository})
    builds = build_branch_heads(router.context, created, {"type": "user", "by": caller(router), "reason": "registered"})
    return json_response(201, {**app_view(created), "builds": builds})


def _refuse_foreign_stacks(app: App) -> None:
    """A stage stack name that is a stack Sprout does not own (Sprout's own included) is refused;
    a name another app claimed is refused by the registration's transaction."""
    own = require_env("SPROUT_STACK_NAME")
    stacks = StageStacks()
    lineage = router.context["lineage"]
    for stage, stack in stage_stacks(app).items():
        if stack == own:
            raise StackNameTaken(f"stack name {named(stack)} (stage {named(stage)}) is Sprout's own stack: choose another app or stage name")
        if lineage.stack_owner(stack) is None and stacks.exists(stack):
            raise StackNameTaken(
                f"stack name {named(stack)} (stage {named(stage)}) is a stack Sprout does not own: choose another app or stage name"
            )


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
    lineage = router.context["lineage"]
    registered = lineage.get_app(name)
    heads = []
    for branch in dict.fromkeys(s.branch for s in registered.stages if s.branch):
        try:
            commit = resolve_branch(registered.repository, branch)
        except SourceError:
            heads.append({"branch": branch, "commit": None, "build": None})
            continue
        try:
            number = lineage.get_build_by_commit(name, commit).number
        except NotFound:
            number = None
        heads.append({"branch": branch, "commit": commit, "build": number})
    return json_response(200, {"heads": heads})
