"""The console's server over real HTTP on 127.0.0.1, with a stand-in for Sprout's API: who it
refuses (Host, Origin, cross-site, no session token), and that the API's refusals reach the page."""

from __future__ import annotations

import http.client
import json
import re
import threading
import urllib.parse

import pytest

from sprout.cli.client import ApiError
from sprout.console.actions import _previous_good
from sprout.console.server import serve

APP = {"name": "notes", "repository": "notes", "stages": [{"name": "dev", "branch": "main", "autoDeploy": True},
                                                          {"name": "prod"}]}


class StubApi:
    """Answers the few calls these tests make, and records every call."""

    def __init__(self):
        self.calls: list[tuple[str, str, object]] = []

    def request(self, method, path, body=None, query=None):
        self.calls.append((method, path, body))
        if path == "/apps":
            return {"apps": [APP]}
        if path == "/apps/notes":
            return APP
        if path == "/apps/missing":
            raise ApiError(404, {"message": "app missing not found"}, method, path)
        if path.endswith("/changeset") and str((query or {}).get("build")) == "3":
            return {"changesetId": "prod.d1.build-3", "build": 3, "current": {"deployment": "d1", "build": 1},
                    "confirmRequired": True, "summary": "no changes, 1 name colliding with another stage",
                    "commits": [], "changes": [],
                    "collisions": [{"logicalId": "OrdersTable", "type": "AWS::DynamoDB::Table",
                                    "property": "TableName", "name": "orders", "stage": "dev"}]}
        if path.endswith("/changeset"):
            return {"changesetId": "prod.d1.build-2", "build": 2, "current": {"deployment": "d1", "build": 1},
                    "confirmRequired": False, "summary": "1 change (0 major, 1 minor)", "commits": [],
                    "changes": [{"class": "minor", "kind": "code-changed", "logicalId": "CreateNoteFunction",
                                 "type": "AWS::Serverless::Function", "detail": "code <b>changed</b>"}]}
        if path.endswith("/promote") and method == "POST":
            fresh = {"changesetId": "prod.d9.build-2", "build": 2, "current": {"deployment": "d9", "build": 3},
                     "confirmRequired": False, "summary": "fresh one", "changes": [], "commits": []}
            raise ApiError(409, {"message": "the change set is stale: prod changed", "changeset": fresh}, method, path)
        if path.endswith("/rollback") and method == "POST":
            raise ApiError(409, {"message": "nothing to roll back to on prod"}, method, path)
        if path == "/apps/notes/builds/3":
            return {"number": 3, "status": "SUCCEEDED", "commitId": "c3", "branch": "main", "quarantined": False,
                    "liveOn": [], "deployedTo": {}, "functions": [
                        {"logicalId": "CreateNoteFunction", "sha256": "a" * 64, "s3Key": "k",
                         "config": {"Handler": "create.main", "Environment": {"Variables": {"TOKEN": "s3cr3t"}}}}]}
        if path.endswith("/builds"):
            return {"builds": [{"number": 2, "status": "FAILED", "commitId": "c2", "branch": "main",
                                "quarantined": False, "liveOn": []}]}
        if "/stages/" in path and path.count("/") == 4:
            return {"name": path.rsplit("/", 1)[1], "build": None, "currentDeployment": {"id": "d1", "build": 1,
                    "status": "SUCCEEDED"}, "lock": None, "functions": []}
        if path.endswith("/deployments"):
            return {"deployments": []}
        if path == "/apps/notes/stages/dev/deployments/000002":
            return {"id": "000002", "build": 2, "kind": "deploy", "status": "SUCCEEDED", "trigger": {"type": "push"},
                    "durationMs": 1000, "startedAt": "2026-12-07T15:58:00.000Z"}
        if path == "/apps/notes/stages/prod/deployments/000007":
            return {"id": "000007", "build": 2, "kind": "promote", "status": "FAILED", "trigger": {"type": "user"},
                    "durationMs": 9000, "startedAt": "2026-12-07T16:00:00.000Z", "step": "canary",
                    "error": "CanaryAborted: 5 errors in 6 requests of the new version: above 5%",
                    "strategy": {"type": "canary", "percent": 10, "intervalSeconds": 60, "steps": [10],
                                 "preset": "canary10-1m"},
                    "canary": {"state": "ABORTING", "versions": {"Create": "2"}, "previous": {"Create": "1"}},
                    "steps": [{"index": 0, "weight": 10, "startedAt": "2026-12-07T16:00:01.000Z",
                               "judgedAt": "2026-12-07T16:00:04.000Z", "requests": 6, "errors": 5, "verdict": "FAIL"}]}
        if path == "/apps/notes/stages/prod/deployments/000008":
            return {"id": "000008", "build": 3, "kind": "promote", "status": "IN_PROGRESS", "trigger": {"type": "user"},
                    "startedAt": "2026-12-07T16:10:00.000Z", "durationMs": None,
                    "strategy": {"type": "linear", "percent": 25, "intervalSeconds": 30, "steps": [25, 50, 75],
                                 "preset": "linear25-30s"},
                    "canary": {"state": "SHIFTING", "versions": {"Create": "3"}, "previous": {"Create": "2"}},
                    "steps": [{"index": 0, "weight": 25, "startedAt": "2026-12-07T16:10:01.000Z",
                               "judgedAt": "2026-12-07T16:10:31.000Z", "requests": 40, "errors": 0, "verdict": "PASS",
                               "replaced": {"requests": 120, "errors": 6}},
                              {"index": 1, "weight": 50, "startedAt": "2026-12-07T16:10:31.000Z", "judgedAt": None,
                               "requests": 20, "errors": 1, "verdict": "BAKING",
                               "replaced": {"requests": 0, "errors": 0}}]}
        if path == "/apps/notes/stages/prod/deployments/000008/finish" and method == "POST":
            return {"deployment": "000008", "action": "finish"}
        if path == "/apps/notes/stages/prod/deployments/000008/resume" and method == "POST":
            raise ApiError(409, {"message": "only an INCONCLUSIVE canary can be resumed"}, method, path)
        if path.endswith("/issues"):
            status = (query or {}).get("status")
            issue = {"id": "0a4d", "title": "NameError in create.py:<b>handler</b>", "status": "open", "count": 3,
                     "newInBuild": 2, "lastSeen": "2026-12-07T16:00:00.000Z",
                     "firstSeen": {"at": "2026-12-07T15:59:00.000Z", "build": 2, "deployment": "000002"}}
            return {"issues": [issue] if status in (None, "open") else [], "nextToken": None,
                    "notSubscribed": [{"function": "Full", "reason": "2 subscription filters"}]}
        if path.endswith("/auto-rollback"):
            return {"enabled": False, "alarms": []}
        raise ApiError(404, {"message": f"no route {path}"}, method, path)


@pytest.fixture(scope="module")
def console():
    api = StubApi()
    ready = threading.Event()
    urls: list[str] = []

    def started(url: str) -> None:
        urls.append(url)
        ready.set()

    threading.Thread(target=serve, args=(api, 0, started), daemon=True).start()
    assert ready.wait(10), "the console did not start"
    port = urllib.parse.urlsplit(urls[0]).port
    return api, port


def send(port: int, method: str, path: str, headers: dict | None = None, body: str | None = None):
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    all_headers = {"Host": f"127.0.0.1:{port}", **(headers or {})}
    if body is not None:
        all_headers["Content-Type"] = "application/x-www-form-urlencoded"
    connection.request(method, path, body=body, headers=all_headers)
    response = connection.getresponse()
    return response.status, dict(response.getheaders()), response.read().decode()


def session(port: int, path: str = "/apps/notes/stages/prod/rollback") -> tuple[str, str]:
    """A session cookie and the page's token, as a browser gets them."""
    status, headers, page = send(port, "GET", path)
    assert status == 200, page
    cookie = headers["Set-Cookie"].split(";")[0]
    token = re.search(r'name="csrf" value="([0-9a-f]+)"', page).group(1)
    return cookie, token


def test_given_the_console_when_asked_for_the_apps_page_then_apps_and_failing_builds_are_shown(console):
    _, port = console
    status, headers, page = send(port, "GET", "/")
    assert status == 200
    assert "notes" in page and "build 2 failed" in page
    assert "script-src 'self'" in headers["Content-Security-Policy"]
    assert "HttpOnly" in headers["Set-Cookie"] and "SameSite=Strict" in headers["Set-Cookie"]


def test_given_a_foreign_host_header_when_requested_then_403_dns_rebinding_refused(console):
    api, port = console
    before = len(api.calls)
    status, _, body = send(port, "GET", "/", {"Host": f"evil.example:{port}"})
    assert status == 403 and "Host" in body
    assert len(api.calls) == before  # the API was never called


def test_given_a_foreign_origin_when_posting_then_403_before_any_api_call(console):
    api, port = console
    cookie, token = session(port)
    before = len(api.calls)
    status, _, body = send(port, "POST", "/apps/notes/stages/prod/rollback",
                           {"Origin": "http://evil.example", "Cookie": cookie}, f"csrf={token}&confirm=yes")
    assert status == 403 and "Origin" in body
    assert len(api.calls) == before


def test_given_a_cross_site_fetch_when_requested_then_403(console):
    _, port = console
    status, _, _ = send(port, "GET", "/", {"Sec-Fetch-Site": "cross-site"})
    assert status == 403


def test_given_no_or_a_wrong_token_when_posting_then_403_and_nothing_is_rolled_back(console):
    api, port = console
    cookie, token = session(port)
    for form in ("confirm=yes", f"csrf={'0' * len(token)}&confirm=yes"):
        status, _, page = send(port, "POST", "/apps/notes/stages/prod/rollback", {"Cookie": cookie}, form)
        assert status == 403 and "session token" in page
    other_cookie, _ = session(port)
    status, _, _ = send(port, "POST", "/apps/notes/stages/prod/rollback", {"Cookie": other_cookie},
                        f"csrf={token}&confirm=yes")
    assert status == 403  # a token is good for its own session only
    assert not [c for c in api.calls if c[0] == "POST"]


def test_given_a_valid_token_when_the_api_refuses_then_the_page_shows_the_apis_words(console):
    api, port = console
    cookie, token = session(port)
    origin = f"http://127.0.0.1:{port}"
    status, _, page = send(port, "POST", "/apps/notes/stages/prod/rollback", {"Cookie": cookie, "Origin": origin},
                           f"csrf={token}&confirm=yes&build=")
    assert status == 409 and "nothing to roll back to on prod" in page
    assert ("POST", "/apps/notes/stages/prod/rollback", {}) in api.calls


def test_given_no_confirm_when_rolling_back_then_400_and_the_api_is_not_called(console):
    api, port = console
    cookie, token = session(port)
    before = [c for c in api.calls if c[0] == "POST"]
    status, _, page = send(port, "POST", "/apps/notes/stages/prod/rollback", {"Cookie": cookie}, f"csrf={token}")
    assert status == 400 and "needs a confirm" in page
    assert [c for c in api.calls if c[0] == "POST"] == before


def test_given_an_unknown_app_when_its_pipeline_is_asked_then_the_apis_404_is_shown(console):
    _, port = console
    status, _, page = send(port, "GET", "/apps/missing")
    assert status == 404 and "app missing not found" in page


def test_given_a_path_outside_static_when_asked_then_404(console):
    _, port = console
    status, _, _ = send(port, "GET", "/static/../server.py")
    assert status == 404
    status, headers, _ = send(port, "GET", "/static/vendor/uplot/uPlot.iife.min.js")
    assert status == 200 and "javascript" in headers["Content-Type"]


def test_given_the_port_is_taken_when_sprout_console_starts_then_one_line_says_so(console, capsys, monkeypatch):
    from sprout.cli.main import main

    # GIVEN the stand-in console already listening on its port
    _, port = console
    monkeypatch.setenv("SPROUT_API_URL", "http://127.0.0.1:9/api")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "test")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "test")
    # WHEN another console is started on it
    with pytest.raises(SystemExit) as exited:
        main(["console", "--port", str(port)])
    # THEN it fails in one line naming the port and what to do
    assert exited.value.code == 1
    assert f"port {port} on 127.0.0.1 is in use" in capsys.readouterr().err


def test_given_an_app_when_its_pipeline_is_opened_then_stages_promote_and_rollback_are_offered(console):
    _, port = console
    status, _, page = send(port, "GET", "/apps/notes")
    assert status == 200
    assert 'data-stage="dev"' in page and 'data-stage="prod"' in page
    assert "Promote to prod…" in page and "Promote to dev…" not in page  # the first stage is not promoted to
    assert "Rollback prod…" in page and "Auto-rollback: <strong>off</strong>" in page
    assert 'http-equiv="refresh"' not in page  # no stage is held: nothing to follow


def test_given_a_stale_change_set_when_promoting_then_the_apis_409_and_the_fresh_change_set_are_shown(console):
    api, port = console
    # GIVEN the change set page (its text escaped: no markup from the API reaches the page as markup)
    status, _, page = send(port, "GET", "/apps/notes/stages/prod/promote?build=2")
    assert status == 200 and "code &lt;b&gt;changed&lt;/b&gt;" in page and "prod.d1.build-2" in page
    cookie, token = session(port, "/apps/notes/stages/prod/promote?build=2")
    # WHEN it is confirmed after the stage moved on
    status, _, page = send(port, "POST", "/apps/notes/stages/prod/promote", {"Cookie": cookie},
                           f"csrf={token}&build=2&changesetId=prod.d1.build-2&confirmRequired=false")
    # THEN the API's words are shown with the fresh change set to confirm instead
    assert status == 409 and "the change set is stale: prod changed" in page
    assert 'name="changesetId" value="prod.d9.build-2"' in page and "fresh one" in page
    assert ("POST", "/apps/notes/stages/prod/promote", {"changesetId": "prod.d1.build-2", "build": 2}) in api.calls


def test_given_a_change_set_with_names_another_stage_holds_then_each_is_shown_and_a_confirm_asked(console):
    _, port = console
    status, _, page = send(port, "GET", "/apps/notes/stages/prod/promote?build=3")
    assert status == 200
    assert "Names another stage holds (1)" in page and "<code>orders</code>" in page
    assert "I have read the change set: it has names another stage holds" in page


def test_given_a_build_with_environment_values_when_its_page_is_opened_then_values_are_masked(console):
    # GIVEN an API answering a function's environment value in clear (an older Sprout)
    _, port = console
    # WHEN the build's page is rendered
    status, _, page = send(port, "GET", "/apps/notes/builds/3")
    # THEN the key shows, the value never does: masked as change sets mask it
    assert status == 200 and "TOKEN" in page and "(value masked)" in page
    assert "s3cr3t" not in page


def test_given_a_quarantined_build_when_rolling_back_then_the_default_skips_it_and_force_is_passed_on(console):
    # GIVEN prod on build 4, before it build 3 (quarantined) and build 2
    deployments = [{"id": "d4", "build": 4, "status": "SUCCEEDED"}, {"id": "d3", "build": 3, "status": "SUCCEEDED"},
                   {"id": "d2", "build": 2, "status": "SUCCEEDED"}]
    # THEN the page's default target is what the API goes back to: build 2
    assert _previous_good(deployments, deployments[0], quarantined={3})["build"] == 2
    # AND a rollback to build 3 with "roll back to it anyway" ticked sends force
    api, port = console
    cookie, token = session(port)
    origin = f"http://127.0.0.1:{port}"
    send(port, "POST", "/apps/notes/stages/prod/rollback", {"Cookie": cookie, "Origin": origin},
         f"csrf={token}&confirm=yes&build=3&force=yes")
    assert ("POST", "/apps/notes/stages/prod/rollback", {"build": 3, "force": True}) in api.calls


def test_given_open_issues_when_a_stage_and_a_deployment_are_opened_then_they_show_new_in_build_escaped(console):
    """GIVEN a stage with one open issue first seen in deployment 000002 (build 2), and a function not subscribed
    WHEN the stage's page and that deployment's page are opened
    THEN both show it ("new in build #2" on the stage), its title escaped, and the unsubscribed function is named"""
    _, port = console
    status, _, page = send(port, "GET", "/apps/notes/stages/dev")
    assert status == 200 and "Open issues" in page and "#2" in page and "new in build" in page
    assert "&lt;b&gt;handler&lt;/b&gt;" in page and "<b>handler</b>" not in page
    assert "Not grouped: Full" in page
    status, _, page = send(port, "GET", "/apps/notes/stages/dev/deployments/000002")
    assert status == 200 and "Issues it introduced" in page and "&lt;b&gt;handler&lt;/b&gt;" in page


def test_given_an_aborted_canary_when_its_deployment_is_opened_then_each_step_shows_the_new_versions_counts(console):
    """GIVEN a canary10-1m promote aborted at its first step (5 errors in 6 requests of the new version)
    WHEN its deployment's page is opened
    THEN the strategy and the step (weight, requests, errors, verdict) are shown."""
    _, port = console
    status, _, page = send(port, "GET", "/apps/notes/stages/prod/deployments/000007")
    assert status == 200 and "<h2>Canary</h2>" in page and "canary10-1m" in page
    assert "<td>10 %</td>" in page and "<td>6</td><td>5</td><td>FAIL</td>" in page and "CanaryAborted" in page


def test_given_a_canary_in_progress_when_its_page_is_opened_then_both_versions_error_rates_and_its_actions_show(console):
    """GIVEN a linear promote at its second step (the new version 0 % then 5 % errors, the version it
    replaces 5 %)
    WHEN its deployment's page is opened
    THEN one chart carries both versions' error rate per step, and finish and abort are offered (not
    resume: the canary is not paused)."""
    _, port = console
    status, _, page = send(port, "GET", "/apps/notes/stages/prod/deployments/000008")
    assert status == 200 and 'data-chart="canary-errors"' in page
    data = json.loads(re.search(r'<script type="application/json" id="chart-data">(.*?)</script>', page, re.S).group(1))
    (chart,) = data
    assert [s["label"] for s in chart["series"]] == ["new version", "replaced version"]
    assert chart["series"][0]["values"] == [0.0, 5.0] and chart["series"][1]["values"] == [5.0, None]
    assert "/deployments/000008/finish" in page and "/deployments/000008/abort" in page
    assert "/deployments/000008/resume" not in page
    # AND an ended canary offers nothing
    _, _, ended = send(port, "GET", "/apps/notes/stages/prod/deployments/000007")
    assert "/deployments/000007/abort" not in ended


def test_given_a_canary_when_finish_is_confirmed_then_the_api_is_asked_and_unconfirmed_or_refused_is_said(console):
    """GIVEN a canary in progress and a session
    WHEN finish is posted without the confirm, then with it, and resume is posted (the API refuses)
    THEN the first is a 400 with no API call, the second calls the API's finish and goes back to the
    deployment, the third shows the API's 409 in its words."""
    api, port = console
    cookie, token = session(port, "/apps/notes/stages/prod/deployments/000008/finish")
    path = "/apps/notes/stages/prod/deployments/000008/finish"
    status, _, page = send(port, "POST", path, {"Cookie": cookie}, f"csrf={token}")
    assert status == 400 and "needs a confirm" in page
    assert ("POST", path, {}) not in api.calls
    status, headers, _ = send(port, "POST", path, {"Cookie": cookie}, f"csrf={token}&confirm=yes")
    assert status == 303 and headers["Location"].endswith("/apps/notes/stages/prod/deployments/000008")
    assert ("POST", path, {}) in api.calls
    status, _, page = send(port, "POST", path.replace("finish", "resume"), {"Cookie": cookie},
                           f"csrf={token}&confirm=yes")
    assert status == 409 and "only an INCONCLUSIVE canary can be resumed" in page
    status, _, _ = send(port, "GET", "/apps/notes/stages/prod/deployments/000008/explode")
    assert status == 404


def test_given_a_console_built_without_serve_when_the_apps_page_is_asked_then_it_is_served():
    """GIVEN a Console built directly (no ``serve``: its routes come with it, not from an import)
    WHEN its WSGI app is asked for ``/`` by its own host
    THEN the apps page is rendered from the API."""
    import io

    from sprout.console.server import Console

    api = StubApi()
    app = Console(api, 8080)
    status: list[str] = []
    body = b"".join(app({"REQUEST_METHOD": "GET", "PATH_INFO": "/", "QUERY_STRING": "", "HTTP_HOST": "127.0.0.1:8080",
                         "wsgi.input": io.BytesIO(b"")}, lambda s, headers: status.append(s)))
    assert status == ["200 OK"] and b"notes" in body and ("GET", "/apps", None) in api.calls
