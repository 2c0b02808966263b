"""``/apps/{app}/stages/{stage}/issues``: the errors grouped from a stage's function logs, each
with the build that brought it; reading them and setting their status (open, resolved, ignored)."""

from __future__ import annotations

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import Router

from sprout.domain.errors import StageNotFound, named
from sprout.handlers.http import body_of, caller, json_response, query_of, whole_number
from sprout.services.issues import Issues

router = Router()


def _issues(app: str, stage: str) -> Issues:
    """The use case (sprout.wiring.issues), after a 404 for an unknown app or stage."""
    if router.context["lineage"].get_app(app).stage(stage) is None:
        raise StageNotFound(f"app {named(app)} has no stage {named(stage)}")
    issues: Issues = router.context["issues"]
    return issues


@router.get("/apps/<app>/stages/<stage>/issues")
def list_issues(app: str, stage: str) -> Response:
    query = query_of(router)
    issues = _issues(app, stage)
    build = whole_number("build", query["build"], maximum=10**9) if query.get("build") else None
    limit = whole_number("limit", query.get("limit"), default=25)
    return json_response(200, issues.page(app, stage, query.get("status"), build, limit, query.get("nextToken")))


@router.get("/apps/<app>/stages/<stage>/issues/<issue>")
def get_issue(app: str, stage: str, issue: str) -> Response:
    return json_response(200, _issues(app, stage).show(app, stage, issue))


@router.patch("/apps/<app>/stages/<stage>/issues/<issue>")
def patch_issue(app: str, stage: str, issue: str) -> Response:
    body = body_of(router)
    issues = _issues(app, stage)
    return json_response(200, issues.set_status(app, stage, issue, body.get("status"), caller(router)))
