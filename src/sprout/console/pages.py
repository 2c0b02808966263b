"""The console's read-only pages: apps, pipeline, build, deployments, one deployment.

Each page fetches what it shows from Sprout's API (concurrently) and renders a template; a failed
call is shown where its data would be, in the API's own words.
"""

from __future__ import annotations

from sprout.console.api import get_all
from sprout.console.monitoring import chart
from sprout.console.web import Page, Request, Response, Routes
from sprout.domain.canary import Control, control_refusal

routes = Routes()


def _fail_page(console: Page, request: Request, got) -> Response:
    return console.error_page(request, got.status or 502, got.error or "no answer")


@routes.route("GET", "/")
def apps_page(console: Page, request: Request) -> Response:
    listed = get_all(console.client, {"apps": (("apps",), None)})["apps"]
    if not listed.ok:
        return _fail_page(console, request, listed)
    apps = sorted(listed.value.get("apps", []), key=lambda a: a["name"])
    calls: dict[str, tuple[tuple, dict | None]] = {}
    for app in apps:
        calls[f"builds:{app['name']}"] = (("apps", app["name"], "builds"), {"limit": "10"})
        for stage in app["stages"]:
            calls[f"stage:{app['name']}:{stage['name']}"] = (("apps", app["name"], "stages", stage["name"]), None)
    got = get_all(console.client, calls)
    rows = []
    for app in apps:
        builds = got[f"builds:{app['name']}"]
        rows.append({
            "app": app,
            "stages": [(s, got[f"stage:{app['name']}:{s['name']}"]) for s in app["stages"]],
            "builds": builds,
            "failing": [b for b in (builds.value or {}).get("builds", []) if b["status"] == "FAILED"],
        })
    return console.render("apps.html", request, rows=rows)


@routes.route("GET", "/apps/{app}")
def pipeline_page(console: Page, request: Request) -> Response:
    app_name = request.params["app"]
    first = get_all(console.client, {"app": (("apps", app_name), None)})["app"]
    if not first.ok:
        return _fail_page(console, request, first)
    app = first.value
    calls: dict[str, tuple[tuple, dict | None]] = {"builds": (("apps", app_name, "builds"), {"limit": "20"})}
    for stage in app["stages"]:
        calls[f"stage:{stage['name']}"] = (("apps", app_name, "stages", stage["name"]), None)
        calls[f"ar:{stage['name']}"] = (("apps", app_name, "stages", stage["name"], "auto-rollback"), None)
    got = get_all(console.client, calls)
    stages = []
    previous = None
    for stage in app["stages"]:
        view = got[f"stage:{stage['name']}"]
        preview = (view.value or {}).get("preview")
        stages.append({
            "name": stage["name"],
            "config": stage,
            "view": view,
            "autoRollback": got[f"ar:{stage['name']}"],
            "promoteFrom": None if preview else previous,  # a preview never promotes, nor is promoted to
        })
        if not preview:
            previous = {"name": stage["name"], "build": ((view.value or {}).get("build") or {}).get("number")}
    builds = got["builds"]
    return console.render("pipeline.html", request, app=app, stages=stages, builds=builds,
                          message=request.arg("message"))


@routes.route("GET", "/apps/{app}/builds/{number}")
def build_page(console: Page, request: Request) -> Response:
    app, number = request.params["app"], request.params["number"]
    got = get_all(console.client, {"build": (("apps", app, "builds", number), None)})["build"]
    if not got.ok:
        return _fail_page(console, request, got)
    return console.render("build.html", request, app=app, build=got.value)


@routes.route("GET", "/apps/{app}/stages/{stage}/deployments")
def deployments_page(console: Page, request: Request) -> Response:
    app, stage = request.params["app"], request.params["stage"]
    query = {"limit": "50", "nextToken": request.arg("nextToken") or None}
    got = get_all(console.client, {"d": (("apps", app, "stages", stage, "deployments"), query)})["d"]
    if not got.ok:
        return _fail_page(console, request, got)
    return console.render("deployments.html", request, app=app, stage=stage,
                          deployments=got.value.get("deployments", []), next_token=got.value.get("nextToken"))


@routes.route("GET", "/apps/{app}/stages/{stage}/deployments/{id}")
def deployment_page(console: Page, request: Request) -> Response:
    app, stage, ident = request.params["app"], request.params["stage"], request.params["id"]
    got = get_all(console.client, {"d": (("apps", app, "stages", stage, "deployments", ident), None)})["d"]
    if not got.ok:
        return _fail_page(console, request, got)
    # the issues this deployment introduced: first seen while it ran (new in its build)
    issues = get_all(console.client, {"i": (("apps", app, "stages", stage, "issues"),
                                            {"build": str(got.value.get("build")), "limit": "100"})})["i"]
    introduced = [i for i in (issues.value or {}).get("issues", []) if (i.get("firstSeen") or {}).get("deployment")
                  == got.value.get("id")] if issues.ok else []
    return console.render("deployment.html", request, app=app, stage=stage, deployment=got.value,
                          live=got.value.get("status") == "IN_PROGRESS", issues=issues, introduced=introduced,
                          charts=canary_charts(got.value), controls=canary_controls(got.value))


def _rate(counts: dict) -> float | None:
    requests = counts.get("requests") or 0
    return round(100.0 * (counts.get("errors") or 0) / requests, 2) if requests else None


def canary_charts(deployment: dict) -> list[dict]:
    """A canary's steps as one chart: each step's error rate of the new version beside the version
    it replaces (the new one judged, the old one shown), at the time the step began."""
    steps = deployment.get("steps") or []
    if not steps:
        return []
    points = [{"timestamp": s.get("startedAt"), "new": _rate(s), "replaced": _rate(s.get("replaced") or {})}
              for s in steps]
    return [chart("canary-errors", "Error rate per step (%): the new version beside the version it replaces", points,
                  [("new", "new version"), ("replaced", "replaced version")], "%", [])]


def canary_controls(deployment: dict) -> tuple[str, ...]:
    """The actions (``finish``, ``abort``, ``resume``) the API takes of this deployment now: the
    domain's own rule, so that the console offers exactly what the API accepts."""
    state = (deployment.get("canary") or {}).get("state")
    return tuple(a.value for a in (Control.RESUME, Control.FINISH, Control.ABORT)
                 if control_refusal(a, state, str(deployment.get("status"))) is None)
