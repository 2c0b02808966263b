"""Removing a stage from the console (a preview's remove button): a POST with the session's token
and an explicit confirm; the API's answer (202, or 409 with the holder) is shown on the pipeline."""

from __future__ import annotations

from urllib.parse import quote

from sprout.console.api import call
from sprout.console.filters import link
from sprout.console.web import Page, Request, Response, Routes, redirect

routes = Routes()


@routes.route("POST", "/apps/{app}/stages/{stage}/remove")
def remove_stage(console: Page, request: Request) -> Response:
    app, stage = request.params["app"], request.params["stage"]
    if request.form.get("confirm") != "yes":
        return redirect(link("apps", app) + "?message=" + quote(f"removing {stage} needs a confirm: tick it and press Remove"))
    got = call(console.client, "DELETE", ("apps", app, "stages", stage))
    said = f"removing {stage}: its stack and everything Sprout made for it are being deleted" if got.ok else \
        f"{stage} was not removed: {got.error}"
    return redirect(link("apps", app) + "?message=" + quote(said))
