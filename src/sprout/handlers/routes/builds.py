"""``/apps/{app}/builds``: start builds (checked before answering) and read them."""

from __future__ import annotations

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import Router

from sprout.adapters.dependency_builds import lockfile_key
from sprout.adapters.source import check_commit, resolve_branch
from sprout.domain.errors import NotFound, SourceError
from sprout.handlers.build_starts import start_build as start_build_of
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
    started = start_build_of(router.context, registered, commit, branch, {"type": "user", "by": caller(router)})
    return json_response(
        202, {"app": name, "commitId": commit, "branch": branch, "build": started["build"], "executionArn": started["execution"]}
    )


@router.get("/apps/<name>/builds")
def list_builds(name: str) -> Response:
    query = query_of(router)
    limit = whole_number("limit", query.get("limit"), default=25)
    lineage = router.context["lineage"]
    builds, token = lineage.list_builds(name, limit=limit, next_token=query.get("nextToken"))
    live = _live_on(lineage, name)
    return json_response(
        200, {"builds": [{**build_summary(b), "liveOn": live.get(b.number, [])} for b in builds], "nextToken": token}
    )


def _live_on(lineage, app: str) -> dict[int, list[str]]:
    """Build number -> the stages whose current deployment runs it (one batch read)."""
    currents = [(s.name, s.current_deployment) for s in lineage.list_stages(app) if s.current_deployment]
    live: dict[int, list[str]] = {}
    for stage, deployment in lineage.deployments_by_id(app, currents).items():
        live.setdefault(deployment.build, []).append(stage)
    return live


@router.get("/apps/<name>/builds/<number>")
def get_build(name: str, number: str) -> Response:
    lineage = router.context["lineage"]
    lineage.get_app(name)
    n = whole_number("number", number, maximum=10**9)
    build = lineage.get_build(name, n)
    deployed_to = lineage.deployments_of_build(name, n)
    live_on = _live_on(lineage, name).get(n, [])
    return json_response(200, build_view(build, deployed_to, live_on, _rolled_back_from(lineage, name, deployed_to, live_on)))


def _rolled_back_from(lineage, app: str, deployed_to: dict, live_on: list[str]) -> list[str]:
    """Stages where a rollback replaced this build's newest deployment there."""
    found = []
    for stage, deployment in deployed_to.items():
        if stage in live_on or deployment.status.value != "SUCCEEDED":
            continue
        later, _ = lineage.list_deployments(app, stage, limit=25)
        if any(d.replaces == deployment.id and d.kind.value in ("rollback", "auto-rollback") for d in later):
            found.append(stage)
    return found


@router.get("/apps/<name>/builds/<number>/lockfile")
def get_lockfile(name: str, number: str) -> Response:
    """The lockfile build ``number`` resolved for ``?manifest=`` (a package.json it installed
    without one): what to commit to make the build reproducible."""
    lineage = router.context["lineage"]
    lineage.get_app(name)
    build = lineage.get_build(name, whole_number("number", number, maximum=10**9))
    resolved = (build.notes or {}).get("resolvedWithoutLockfile") or []
    manifest = query_of(router).get("manifest") or (resolved[0]["manifest"] if len(resolved) == 1 else None)
    found = next((r for r in resolved if r["manifest"] == manifest), None)
    if found is None:
        listed = ", ".join(r["manifest"] for r in resolved) or "none"
        asked = manifest if manifest is None or len(manifest) <= 100 else manifest[:100] + "…"
        raise NotFound(f"build {build.number} of {name} resolved no lockfile for {asked} (it resolved: {listed})",
                       field="manifest")
    content = router.context["delivery"].artifacts.read(
        lockfile_key(found["sha256"]), f"the lockfile of {found['manifest']} is no longer stored"
    )
    return json_response(200, {**found, "content": content.decode("utf-8", errors="replace")})
