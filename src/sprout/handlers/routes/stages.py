"""``/apps/{app}/stages/{stage}``: what a stage runs, its deployments, change sets, promote,
rollback, and the check of its record against its stack (reconcile)."""

from __future__ import annotations

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import Router

from sprout.domain.canary import Control, parse_strategy
from sprout.domain.errors import NotFound, named
from sprout.handlers.http import body_of, caller, json_response, query_of, whole_number
from sprout.handlers.views import deployment_view, stage_view
from sprout.schemas import validate
from sprout.services.canary import request_control
from sprout.services.reconcile import reconcile as reconcile_stage

router = Router()


@router.get("/apps/<name>/stages/<stage>")
def get_stage(name: str, stage: str) -> Response:
    state = router.context["stages"].state(name, stage)
    view = stage_view(state.stage, state.current, state.build, state.function_names)
    view["stack"] = state.stack
    return json_response(200, view)


@router.patch("/apps/<name>/stages/<stage>")
def patch_stage(name: str, stage: str) -> Response:
    """The stage's strategy: ``{"strategy": <preset | object | null>}``."""
    app = router.context["stages"].set_strategy(name, stage, body_of(router))
    spec = app.stage(stage)
    return json_response(200, {"app": app.name, "stage": stage, "strategy": spec.strategy if spec else None})


@router.get("/apps/<name>/stages/<stage>/deployments")
def list_deployments(name: str, stage: str) -> Response:
    query = query_of(router)
    limit = whole_number("limit", query.get("limit"), default=25)
    deployments, token = router.context["stages"].deployments(name, stage, limit, query.get("nextToken"))
    return json_response(200, {"deployments": [deployment_view(d) for d in deployments], "nextToken": token})


@router.get("/apps/<name>/stages/<stage>/deployments/<deployment>")
def get_deployment(name: str, stage: str, deployment: str) -> Response:
    return json_response(200, deployment_view(router.context["stages"].deployment(name, stage, deployment)))


@router.get("/apps/<name>/stages/<stage>/changeset")
def get_changeset(name: str, stage: str) -> Response:
    number = whole_number("build", query_of(router).get("build"), maximum=10**9)
    return json_response(200, router.context["delivery"].changeset(name, stage, number))


@router.post("/apps/<name>/stages/<stage>/promote")
def promote(name: str, stage: str) -> Response:
    body = body_of(router, required=False)
    validate("promote_request", body)
    strategy = parse_strategy(body["strategy"]) if "strategy" in body else None  # None: the stage's default
    started = router.context["delivery"].promote(
        name, stage, body.get("build"), body.get("changesetId"), bool(body.get("force")), caller(router), strategy
    )
    return json_response(202, {**started.view(), "strategy": started.deployment.strategy})


@router.post("/apps/<name>/stages/<stage>/deployments/<deployment>/<action>")
def control_deployment(name: str, stage: str, deployment: str, action: str) -> Response:
    """A person's finish (shift the rest now), abort or resume (after INCONCLUSIVE) of a canary in
    progress: recorded, and acted on by its execution within CHECK_SECONDS (202)."""
    try:
        wanted = Control(action)
    except ValueError:
        raise NotFound(f"no such action on a deployment: {named(action)} (finish, abort or resume)") from None
    d = request_control(router.context["lineage"], name, stage, deployment, wanted, caller(router))
    return json_response(202, {"deployment": d.id, "requested": wanted.value, "control": d.control})


@router.post("/apps/<name>/stages/<stage>/rollback")
def rollback(name: str, stage: str) -> Response:
    body = body_of(router, required=False)
    validate("rollback_request", body)
    started = router.context["delivery"].rollback(name, stage, body.get("build"), caller(router), bool(body.get("force")))
    return json_response(202, started.view())


@router.post("/apps/<name>/stages/<stage>/reconcile")
def reconcile(name: str, stage: str) -> Response:
    """Compare what the record says the stage runs with its stack and ``live`` aliases, and repair
    the record where the stack says which deployment runs: what it said, what they say, what changed."""
    return json_response(200, reconcile_stage(name, stage, router.context["lineage"], router.context["stacks"]))
