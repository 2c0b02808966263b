"""``/apps/{app}/builds``: start builds (checked before answering) and read them."""

from __future__ import annotations

import json
import uuid

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import Router

from sprout.adapters.source import check_commit, resolve_branch
from sprout.domain.errors import NotFound, SourceError
from sprout.handlers.http import body_of, caller, json_response, query_of, whole_number
from sprout.handlers.views import build_summary, build_view
from sprout.schemas import validate

router = Router()


@router.post("/apps/<name>/builds")
def start_build(name: str) -> Response:
    body = body_of(router)
    validate("build_request", body)
    lineage = router.context["lineage"]
    registered = lineage.get_app(name)
    branch = body.get("branch")
    try:
        if branch:
            commit = resolve_branch(registered.repository, branch)
        else:
            commit = body["commit"]
            check_commit(registered.repository, commit)
    except SourceError as e:
        raise NotFound(str(e), field="branch" if branch else "commit") from None
    execution = router.context["sfn"].start_execution(
        stateMachineArn=router.context["build_machine"],
        name=f"{name}-{commit[:12]}-{uuid.uuid4().hex[:8]}"[-80:],
        input=json.dumps(
            {"source": "sprout.api", "app": name, "branch": branch, "commitId": commit,
             "trigger": {"type": "user", "by": caller(router)}}
        ),
    )
    return json_response(202, {"app": name, "commitId": commit, "branch": branch, "executionArn": execution["executionArn"]})


@router.get("/apps/<name>/builds")
def list_builds(name: str) -> Response:
    query = query_of(router)
    limit = whole_number("limit", query.get("limit"), default=25)
    builds, token = router.context["lineage"].list_builds(name, limit=limit, next_token=query.get("nextToken"))
    return json_response(200, {"builds": [build_summary(b) for b in builds], "nextToken": token})


@router.get("/apps/<name>/builds/<number>")
def get_build(name: str, number: str) -> Response:
    lineage = router.context["lineage"]
    lineage.get_app(name)
    n = whole_number("number", number, maximum=10**9)
    build = lineage.get_build(name, n)
    deployed_to = lineage.deployments_of_build(name, n)
    live_on = [s.name for s in lineage.list_stages(name) if s.current_deployment and s.current_deployment == (deployed_to.get(s.name).id if deployed_to.get(s.name) else None)]
    return json_response(200, build_view(build, deployed_to, live_on))
