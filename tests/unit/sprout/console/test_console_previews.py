"""The console's pipeline with a preview stage (issue 21): shown after the pipeline with its pull
request, branch and age, what it runs, never offered a promote, and a remove button that asks a
confirm before it DELETEs the stage (with the session's token, as every action)."""

from __future__ import annotations

import threading
import urllib.parse

import pytest

from sprout.console.server import serve
from tests.unit.sprout.console.test_console_server import APP, StubApi, send, session

PREVIEW = {"kind": "pullRequest", "branch": "break-create", "pullRequestId": "1", "createdAt": "2026-12-07T20:00:00.000Z"}
WITH_PREVIEW = {**APP, "stages": [*APP["stages"], {"name": "pr-1", "branch": "break-create", "autoDeploy": True,
                                                   "preview": PREVIEW}]}


class PreviewApi(StubApi):
    def request(self, method, path, body=None, query=None):
        if path == "/apps/notes":
            self.calls.append((method, path, body))
            return WITH_PREVIEW
        if path == "/apps/notes/stages/pr-1" and method == "GET":
            self.calls.append((method, path, body))
            return {"name": "pr-1", "build": {"number": 4, "commitId": "c4" * 20}, "preview": PREVIEW, "removing": None,
                    "currentDeployment": {"id": "000001", "build": 4, "status": "SUCCEEDED"}, "lock": None,
                    "functions": []}
        if path == "/apps/notes/stages/pr-1" and method == "DELETE":
            self.calls.append((method, path, body))
            return {"removal": {"execution": "arn:aws:states:us-east-1:123456789012:execution:sprout-teardown:x"}}
        return super().request(method, path, body, query)


@pytest.fixture(scope="module")
def console():
    api = PreviewApi()
    ready = threading.Event()
    urls: list[str] = []

    def started(url: str) -> None:
        urls.append(url)
        ready.set()

    threading.Thread(target=serve, args=(api, 0, started), daemon=True).start()
    assert ready.wait(10), "the console did not start"
    return api, urllib.parse.urlsplit(urls[0]).port


def test_given_a_preview_when_the_pipeline_is_opened_then_it_is_shown_after_it_with_a_remove_button(console):
    """GIVEN notes with dev, prod and preview pr-1 WHEN its pipeline page is opened THEN pr-1 comes
    last, says which pull request and branch, since when, what build it runs, is offered no promote,
    and has a remove button behind a confirm."""
    _, port = console
    status, _, page = send(port, "GET", "/apps/notes")
    assert status == 200
    assert page.index('data-stage="prod"') < page.index('data-stage="pr-1"')
    card = page[page.index('data-stage="pr-1"'):]
    assert "pull request 1 from break-create" in card and "since" in card
    assert "Promote to pr-1" not in page
    assert 'action="/apps/notes/stages/pr-1/remove"' in card and 'name="confirm"' in card


def test_given_the_remove_button_when_posted_without_then_with_the_confirm_then_only_the_confirmed_one_deletes(console):
    """GIVEN a session WHEN Remove is posted without the confirm THEN the API is not called; WHEN with
    it THEN DELETE /apps/notes/stages/pr-1 is called once and the pipeline says the stage is going."""
    api, port = console
    cookie, token = session(port, "/apps/notes")
    origin = f"http://127.0.0.1:{port}"
    status, headers, _ = send(port, "POST", "/apps/notes/stages/pr-1/remove", {"Cookie": cookie, "Origin": origin},
                              f"csrf={token}")
    assert status in (302, 303) and "needs%20a%20confirm" in headers["Location"]
    assert not [c for c in api.calls if c[0] == "DELETE"]
    status, headers, _ = send(port, "POST", "/apps/notes/stages/pr-1/remove", {"Cookie": cookie, "Origin": origin},
                              f"csrf={token}&confirm=yes")
    assert status in (302, 303) and "removing%20pr-1" in headers["Location"]
    assert [c[:2] for c in api.calls if c[0] == "DELETE"] == [("DELETE", "/apps/notes/stages/pr-1")]
