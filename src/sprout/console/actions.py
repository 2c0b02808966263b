"""Promote and rollback: a page showing what will happen, and the POST that does it.

Both POSTs carry the session's token (checked in ``server.Console.dispatch``) and an explicit
confirm; the API's refusals (a stale change set, a busy stage, a quarantined build) are shown in
the API's words, with the fresh change set when the API sent one.
"""

from __future__ import annotations

from sprout.console.api import Got, call, get_all
from sprout.console.filters import link
from sprout.console.web import Page, Request, Response, Routes, redirect

routes = Routes()


def _grouped(changeset: dict) -> list[tuple[str, list[dict]]]:
    """The changes grouped by class, major first."""
    changes = changeset.get("changes", [])
    groups = [(cls, [c for c in changes if c.get("class") == cls]) for cls in ("major", "minor")]
    return [(cls, items) for cls, items in groups if items]


def _promote_form(console: Page, request: Request, build: str, error: Got | None = None,
                  status: int = 200, changeset: dict | None = None) -> Response:
    app, stage = request.params["app"], request.params["stage"]
    got = None
    if changeset is None:
        got = get_all(console.client, {"cs": (("apps", app, "stages", stage, "changeset"),
                                              {"build": build or None})})["cs"]
        changeset = got.value if got.ok else None
    built = None
    if changeset is not None:
        built = call(console.client, "GET", ("apps", app, "builds", changeset["build"])).value
    return console.render("promote.html", request, status=status, app=app, stage=stage, build=build,
                          changeset=changeset, groups=_grouped(changeset or {}), load_error=got if got and not
                          got.ok else None, error=error, built=built)


@routes.route("GET", "/apps/{app}/stages/{stage}/promote")
def promote_page(console: Page, request: Request) -> Response:
    return _promote_form(console, request, request.arg("build"))


@routes.route("POST", "/apps/{app}/stages/{stage}/promote")
def promote(console: Page, request: Request) -> Response:
    app, stage = request.params["app"], request.params["stage"]
    form = request.form
    build = form.get("build", "")
    if form.get("confirmRequired") == "true" and form.get("confirm") != "yes":
        return _promote_form(console, request, build, Got(error="this change set needs a confirm: tick "
                                                          "“I have read the change set” and promote again",
                                                          status=400), status=400)
    body: dict = {"changesetId": form.get("changesetId") or None}
    if build.isdigit():
        body["build"] = int(build)
    if form.get("force") == "yes":
        body["force"] = True
    got = call(console.client, "POST", ("apps", app, "stages", stage, "promote"),
               body={k: v for k, v in body.items() if v is not None})
    if got.ok:
        return redirect(link("apps", app, "stages", stage, "deployments", got.value["deployment"]))
    fresh = got.body.get("changeset") if isinstance(got.body, dict) else None
    return _promote_form(console, request, build, got, status=got.status or 502,
                         changeset=fresh if isinstance(fresh, dict) else None)


def _previous_good(deployments: list[dict], current: dict | None, quarantined: set[int]) -> dict | None:
    """What the API rolls back to by default: the newest SUCCEEDED deployment before the current one
    whose build differs from the current build and is not quarantined."""
    if not current:
        return None
    seen_current = False
    for d in deployments:
        if d["id"] == current["id"]:
            seen_current = True
            continue
        if seen_current and d["status"] == "SUCCEEDED" and d["build"] != current["build"] and d["build"] not in quarantined:
            return d
    return None


def _rollback_form(console: Page, request: Request, error: Got | None = None, status: int = 200) -> Response:
    app, stage = request.params["app"], request.params["stage"]
    got = get_all(console.client, {
        "stage": (("apps", app, "stages", stage), None),
        "deployments": (("apps", app, "stages", stage, "deployments"), {"limit": "50"}),
        "builds": (("apps", app, "builds"), {"limit": "50"}),
    })
    if not got["stage"].ok:
        return console.error_page(request, got["stage"].status or 502, got["stage"].error or "")
    current = got["stage"].value.get("currentDeployment")
    deployments = (got["deployments"].value or {}).get("deployments", [])
    builds = [b for b in (got["builds"].value or {}).get("builds", []) if b["status"] == "SUCCEEDED"]
    quarantined = {b["number"] for b in builds if b.get("quarantined")}
    return console.render("rollback.html", request, status=status, app=app, stage=stage,
                          view=got["stage"].value, default=_previous_good(deployments, current, quarantined),
                          builds=builds, error=error, load_errors=[g for g in got.values() if not g.ok])


@routes.route("GET", "/apps/{app}/stages/{stage}/rollback")
def rollback_page(console: Page, request: Request) -> Response:
    return _rollback_form(console, request)


@routes.route("POST", "/apps/{app}/stages/{stage}/rollback")
def rollback(console: Page, request: Request) -> Response:
    app, stage = request.params["app"], request.params["stage"]
    if request.form.get("confirm") != "yes":
        return _rollback_form(console, request, Got(error="a rollback needs a confirm: tick “Roll back "
                                                    f"{stage}” and press Rollback again", status=400), 400)
    build = request.form.get("build", "")
    body: dict = {"build": int(build)} if build.isdigit() else {}
    if request.form.get("force") == "yes":
        body["force"] = True
    got = call(console.client, "POST", ("apps", app, "stages", stage, "rollback"), body=body)
    if got.ok:
        return redirect(link("apps", app, "stages", stage, "deployments", got.value["deployment"]))
    return _rollback_form(console, request, got, status=got.status or 502)


CANARY_ACTIONS = {
    "finish": ("Finish now", "shift the rest of the traffic to the new version now, without judging the steps left"),
    "abort": ("Abort", "put every function's traffic back on the version it replaces, at once; the build is not "
                       "quarantined (a person aborted it)"),
    "resume": ("Resume", "judge the paused step again from now"),
}


def _canary_form(console: Page, request: Request, error: Got | None = None, status: int = 200) -> Response:
    app, stage, ident, action = (request.params[k] for k in ("app", "stage", "id", "action"))
    if action not in CANARY_ACTIONS:
        return console.error_page(request, 404, f"no such action on a deployment: {action}")
    got = call(console.client, "GET", ("apps", app, "stages", stage, "deployments", ident))
    if not got.ok:
        return console.error_page(request, got.status or 502, got.error or "no answer")
    title, what = CANARY_ACTIONS[action]
    return console.render("canary_control.html", request, status=status, app=app, stage=stage,
                          deployment=got.value, action=action, title=title, what=what, error=error)


@routes.route("GET", "/apps/{app}/stages/{stage}/deployments/{id}/{action}")
def canary_control_page(console: Page, request: Request) -> Response:
    return _canary_form(console, request)


@routes.route("POST", "/apps/{app}/stages/{stage}/deployments/{id}/{action}")
def canary_control(console: Page, request: Request) -> Response:
    """``POST …/deployments/{id}/finish|abort|resume`` of the API, after an explicit confirm."""
    app, stage, ident, action = (request.params[k] for k in ("app", "stage", "id", "action"))
    if action not in CANARY_ACTIONS:
        return console.error_page(request, 404, f"no such action on a deployment: {action}")
    if request.form.get("confirm") != "yes":
        return _canary_form(console, request, Got(error=f"this needs a confirm: tick the box and press "
                                                        f"{CANARY_ACTIONS[action][0]} again", status=400), 400)
    got = call(console.client, "POST", ("apps", app, "stages", stage, "deployments", ident, action), body={})
    if got.ok:
        return redirect(link("apps", app, "stages", stage, "deployments", ident))
    return _canary_form(console, request, got, status=got.status or 502)
