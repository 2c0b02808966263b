"""Stage monitoring pages: access logs, API metric charts, and each function's logs and metrics.

Charts are drawn in the browser by the vendored uPlot from a JSON block the page carries; the
stage's deployments are passed along as markers, drawn as vertical lines on the time axis.
"""

from __future__ import annotations

import re
import time
from typing import Any

from sprout.console.api import get_all
from sprout.console.filters import epoch
from sprout.console.web import Page, Request, Response, Routes

routes = Routes()

WINDOWS = [("15m", "15 minutes"), ("1h", "1 hour"), ("3h", "3 hours"), ("12h", "12 hours"), ("1d", "1 day")]
# a period per window keeping a chart near 300 points at most (a day at one minute is 1440)
PERIODS = {"15m": "60", "1h": "60", "3h": "60", "12h": "300", "1d": "300"}
STATUSES = [("", "any"), ("2xx", "2xx"), ("4xx", "4xx"), ("5xx", "5xx")]
API_CHARTS = [
    ("requests", "Requests", [("requests", "requests")], "count"),
    ("4xx", "4xx errors", [("4xx", "4xx")], "count"),
    ("5xx", "5xx errors", [("5xx", "5xx")], "count"),
    ("latency", "Latency (ms)", [("latencyAvg", "avg"), ("latencyP90", "p90"), ("latencyP95", "p95"),
                                 ("latencyP99", "p99")], "ms"),
]
FUNCTION_CHARTS = [
    ("invocations", "Invocations", [("invocations", "invocations")], "count"),
    ("errors", "Errors", [("errors", "errors")], "count"),
    ("throttles", "Throttles", [("throttles", "throttles")], "count"),
    ("duration", "Duration (ms)", [("durationAvg", "avg"), ("durationP90", "p90"), ("durationP95", "p95"),
                                   ("durationP99", "p99")], "ms"),
]


def markers(deployments: list[dict]) -> list[dict[str, Any]]:
    """Each deployment as a marker: its start time and ``kind build N``."""
    out = []
    for d in deployments:
        t = epoch(d.get("startedAt"))
        if t is not None:
            out.append({"t": t, "label": f"{d.get('kind')} build {d.get('build')}", "kind": d.get("kind")})
    return out


def chart(chart_id: str, title: str, points: list[dict], fields: list[tuple[str, str]], unit: str,
          marks: list[dict], window: dict | None = None) -> dict[str, Any]:
    """One chart's data: the x axis (epoch seconds), a series per field the points have, and the
    window the answer covers (``since``/``until``), so deployments after the last point show too."""
    xs = [epoch(p.get("timestamp")) for p in points]
    keep = [i for i, x in enumerate(xs) if x is not None]
    series = []
    for key, label in fields:
        if any(key in p for p in points) or not points:
            series.append({"label": label, "values": [points[i].get(key) for i in keep]})
    window = window or {}
    return {"id": chart_id, "title": title, "unit": unit, "x": [xs[i] for i in keep], "series": series,
            "markers": marks, "range": [epoch(window.get("since")), epoch(window.get("until"))]}


def _window(request: Request) -> str:
    return request.arg("since") or "1h"


def _span(since: str, answer: dict | None) -> dict:
    """The window an answer covers: its own ``since``/``until`` when it says them, else ``since``
    (a relative duration such as ``15m``) back from now."""
    answer = answer or {}
    if answer.get("since") and answer.get("until"):
        return answer
    seconds = {"s": 1, "m": 60, "h": 3600, "d": 86400}
    match = re.fullmatch(r"(\d+)([smhd])", since)
    if not match:
        return {}
    now = time.time()
    start = now - int(match.group(1)) * seconds[match.group(2)]
    return {"since": int(start * 1000), "until": int(now * 1000)}


@routes.route("GET", "/apps/{app}/stages/{stage}")
def stage_page(console: Page, request: Request) -> Response:
    app, stage = request.params["app"], request.params["stage"]
    since, status = _window(request), request.arg("status")
    base = ("apps", app, "stages", stage)
    got = get_all(console.client, {
        "stage": (base, None),
        "logs": ((*base, "access-logs"), {"since": since, "status": status or None, "limit": "50"}),
        "metrics": ((*base, "metrics"), {"since": since, "period": PERIODS.get(since)}),
        "deployments": ((*base, "deployments"), {"limit": "50"}),
        "functions": ((*base, "functions"), None),
        "issues": ((*base, "issues"), {"status": "open", "limit": "25"}),
        "regressed": ((*base, "issues"), {"status": "regressed", "limit": "25"}),
    })
    if not got["stage"].ok:
        return console.error_page(request, got["stage"].status or 502, got["stage"].error or "")
    marks = markers((got["deployments"].value or {}).get("deployments", []))
    points = (got["metrics"].value or {}).get("points", [])
    window = _span(since, got["metrics"].value)
    charts = [chart(f"api-{cid}", title, points, fields, unit, marks, window)
              for cid, title, fields, unit in API_CHARTS]
    return console.render(
        "stage.html", request, app=app, stage=stage, view=got["stage"].value, logs=got["logs"],
        issues=got["issues"], regressed=got["regressed"],
        metrics=got["metrics"], charts=charts if got["metrics"].ok else [], functions=got["functions"],
        since=since, status_filter=status, follow=request.arg("follow") == "1", windows=WINDOWS, statuses=STATUSES,
        deployments=got["deployments"],
    )


@routes.route("GET", "/apps/{app}/stages/{stage}/functions/{fn}")
def function_page(console: Page, request: Request) -> Response:
    app, stage, fn = request.params["app"], request.params["stage"], request.params["fn"]
    since, errors = _window(request), request.arg("errors") == "1"
    base = ("apps", app, "stages", stage)
    got = get_all(console.client, {
        "logs": ((*base, "functions", fn, "logs"), {"since": since, "errors": "true" if errors else None,
                                                    "limit": "100"}),
        "metrics": ((*base, "functions", fn, "metrics"), {"since": since, "period": PERIODS.get(since)}),
        "deployments": ((*base, "deployments"), {"limit": "50"}),
    })
    marks = markers((got["deployments"].value or {}).get("deployments", []))
    charts = []
    if got["metrics"].ok:
        live, whole = got["metrics"].value.get("live", []), got["metrics"].value.get("all", [])
        for cid, title, fields, unit in FUNCTION_CHARTS:
            window = _span(since, got["metrics"].value)
            charts.append(chart(f"fn-{cid}", title + " — all versions", whole, fields, unit, marks, window))
            if cid in ("invocations", "errors"):
                charts.append(chart(f"fn-{cid}-live", title + " — alias live", live, fields, unit, marks, window))
    return console.render(
        "function.html", request, app=app, stage=stage, fn=fn, logs=got["logs"], metrics=got["metrics"],
        charts=charts, since=since, errors=errors, follow=request.arg("follow") == "1", windows=WINDOWS,
    )
