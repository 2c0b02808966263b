"""``/apps/{app}/stages/{stage}``: what a stage runs, its deployments, change sets, promote,
rollback, and the check of its record against its stack (reconcile)."""

from __future__ import annotations

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import Router
from botocore.exceptions import ClientError

from sprout.adapters.stacks import StageStacks, stack_name
from sprout.domain.errors import InvalidInput
from sprout.handlers.http import body_of, caller, json_response, query_of, whole_number
from sprout.handlers.reconcile import reconcile as reconcile_stage
from sprout.handlers.views import deployment_view, stage_view
from sprout.schemas import validate

router = Router()


@router.get("/apps/<name>/stages/<stage>")
def get_stage(name: str, stage: str) -> Response:
    lineage = router.context["lineage"]
    st = lineage.get_stage(name, stage)
    current = lineage.current_deployment(name, stage)
    build = lineage.get_build(name, current.build) if current else None
    stacks = StageStacks()
    found = stacks.describe(stack_name(name, stage))
    try:
        names = stacks.function_names(stack_name(name, stage)) if current and found else {}
    except ClientError:  # the stack went between the two reads (a removal deleting it)
        names, found = {}, stacks.describe(stack_name(name, stage))
    view = stage_view(st, current, build, names)
    # the stack's own state next to the record's (POST .../reconcile compares them in full)
    view["stack"] = {"status": found["StackStatus"], "reason": found.get("StackStatusReason")} if found else None
    return json_response(200, view)


@router.get("/apps/<name>/stages/<stage>/deployments")
def list_deployments(name: str, stage: str) -> Response:
    query = query_of(router)
    limit = whole_number("limit", query.get("limit"), default=25)
    deployments, token = router.context["lineage"].list_deployments(name, stage, limit=limit, next_token=query.get("nextToken"))
    return json_response(200, {"deployments": [deployment_view(d) for d in deployments], "nextToken": token})


@router.get("/apps/<name>/stages/<stage>/deployments/<deployment>")
def get_deployment(name: str, stage: str, deployment: str) -> Response:
    lineage = router.context["lineage"]
    lineage.get_stage(name, stage)
    if not deployment.isascii() or not deployment.isdigit() or len(deployment) > 12:
        raise InvalidInput("id", "is a deployment id such as 000007")
    return json_response(200, deployment_view(lineage.get_deployment(name, stage, f"{int(deployment):06d}")))


@router.get("/apps/<name>/stages/<stage>/changeset")
def get_changeset(name: str, stage: str) -> Response:
    number = whole_number("build", query_of(router).get("build"), maximum=10**9)
    return json_response(200, router.context["delivery"].changeset(name, stage, number))


@router.post("/apps/<name>/stages/<stage>/promote")
def promote(name: str, stage: str) -> Response:
    body = body_of(router, required=False)
    validate("promote_request", body)
    started = router.context["delivery"].promote(
        name, stage, body.get("build"), body.get("changesetId"), bool(body.get("force")), caller(router)
    )
    return json_response(202, started.view())


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
    return json_response(200, reconcile_stage(name, stage, router.context["lineage"]))
