"""``/apps/{app}/builds``: start builds (checked before answering) and read them."""

from __future__ import annotations

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import Router

from sprout.handlers.http import body_of, caller, json_response, query_of, whole_number
from sprout.handlers.views import build_summary, build_view
from sprout.schemas import validate

router = Router()


@router.post("/apps/<name>/builds")
def start_build(name: str) -> Response:
    body = body_of(router)
    validate("build_request", body)
    branch = body.get("branch")
    started = router.context["builds"].start_requested(name, branch, body.get("commit"), {"type": "user", "by": caller(router)})
    return json_response(
        202, {"app": name, "commitId": started["commit"], "branch": branch, "build": started["build"],
              "executionArn": started["execution"]}
    )


@router.get("/apps/<name>/builds")
def list_builds(name: str) -> Response:
    query = query_of(router)
    limit = whole_number("limit", query.get("limit"), default=25)
    builds, token = router.context["builds"].listing(name, limit, query.get("nextToken"))
    return json_response(200, {"builds": [{**build_summary(b), "liveOn": live} for b, live in builds], "nextToken": token})


@router.get("/apps/<name>/builds/<number>")
def get_build(name: str, number: str) -> Response:
    router.context["lineage"].get_app(name)
    found = router.context["builds"].detail(name, whole_number("number", number, maximum=10**9))
    return json_response(200, build_view(found.build, found.deployed_to, found.live_on, found.rolled_back_from))


@router.get("/apps/<name>/builds/<number>/lockfile")
def get_lockfile(name: str, number: str) -> Response:
    """The lockfile build ``number`` resolved for ``?manifest=`` (a package.json it installed
    without one): what to commit to make the build reproducible."""
    router.context["lineage"].get_app(name)
    n = whole_number("number", number, maximum=10**9)
    return json_response(200, router.context["builds"].lockfile(name, n, query_of(router).get("manifest")))
