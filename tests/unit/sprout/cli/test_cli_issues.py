"""``sprout issues``, run in-process against the fake Sprout API over real HTTP."""

from __future__ import annotations

ISSUE = {"id": "0a4d1e756bc22ef053e8", "status": "open", "type": "NameError", "title": "NameError in create.py:main",
         "newInBuild": 2, "count": 3, "lastSeen": "2026-12-07T16:00:00.123Z",
         "firstSeen": {"at": "2026-12-07T15:59:00.000Z", "build": 2, "deployment": "000002", "function": "CreateNote"}}
PATH = "/apps/notes/stages/dev/issues"


def test_given_issues_when_listed_then_each_says_new_in_build_and_unsubscribed_functions_are_named(api, sprout):
    """GIVEN one open issue new in build 2 and a function Sprout could not subscribe
    WHEN listed with --status open --build 2
    THEN a row says build #2 and its count, the gap is named, the filters reach the API"""
    api.on("GET", PATH, (200, {"issues": [ISSUE], "nextToken": None,
                               "notSubscribed": [{"function": "Get", "reason": "2 subscription filters"}]}))
    code, out, _ = sprout("issues", "list", "notes", "dev", "--status", "open", "--build", "2")
    assert code == 0 and "build #2" in out and "NameError in create.py:main" in out and "not grouped: Get" in out
    assert api.asked[-1].query == {"status": "open", "build": "2"}


def test_given_an_issue_when_shown_resolved_and_ignored_then_the_api_is_asked_as_the_contract_says(api, sprout):
    """GIVEN an issue
    WHEN shown, resolved, ignored
    THEN GET, PATCH {"status": "resolved"}, PATCH {"status": "ignored"} on its path"""
    detail = {**ISSUE, "countsByBuild": [{"build": 2, "count": 3}], "samples": [
        {"at": "2026-12-07T15:59:00.000Z", "function": "CreateNote", "build": 2, "message": "[ERROR] NameError: x"}],
        "deployments": [{"id": "000002", "build": 2, "kind": "deploy", "status": "SUCCEEDED",
                         "startedAt": "2026-12-07T15:58:00.000Z", "firstSeenHere": True}]}
    api.on("GET", f"{PATH}/{ISSUE['id']}", (200, detail))
    api.on_call("PATCH", f"{PATH}/{ISSUE['id']}", lambda asked: (200, {**ISSUE, "status": asked.body["status"]}))
    code, out, _ = sprout("issues", "show", "notes", "dev", ISSUE["id"])
    assert code == 0 and "new in build #2" in out and "<- first seen" in out and "[ERROR] NameError: x" in out
    assert sprout("issues", "resolve", "notes", "dev", ISSUE["id"])[1].strip().endswith("resolved")
    assert sprout("issues", "ignore", "notes", "dev", ISSUE["id"])[1].strip().endswith("ignored")
    assert [a.body for a in api.asked if a.method == "PATCH"] == [{"status": "resolved"}, {"status": "ignored"}]
