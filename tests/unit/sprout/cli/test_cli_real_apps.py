"""The CLI for real apps: registering names the builds it started, waiting for a build that does
not exist says so at once, a build shows its fixed names and what it resolved without a lockfile,
the resolved lockfile prints as it is, a change set marks names another stage holds."""

from __future__ import annotations

import json

from sprout.cli import render
from tests.unit.sprout.cli.samples import APP, BUILD7, changeset

LOCK = json.dumps({"lockfileVersion": 3, "packages": {"node_modules/ms": {"version": "2.1.3"}}}, indent=2)


def test_given_a_repository_with_main_when_registered_then_the_build_of_its_head_is_named(api, sprout):
    started = [{"branch": "main", "commit": "a" * 40, "build": 1, "execution": "arn:x"}]
    api.on("POST", "/apps", (201, {**APP, "builds": started}))
    code, out, _ = sprout("apps", "create", "notes", "--repository", "notes")
    assert code == 0
    assert out.splitlines()[-1] == "building main at aaaaaaaaaaaa as build 1; `sprout builds wait notes 1` follows it"


def test_given_a_build_that_does_not_exist_when_waited_for_then_it_says_so_at_once(api, sprout):
    api.on("GET", "/apps/notes", (200, APP))
    api.on("GET", "/apps/notes/builds/9", (404, {"message": "build 9 of app notes not found"}))
    api.on("GET", "/apps/notes/builds", (200, {"builds": [BUILD7], "nextToken": None}))
    # WHEN build 9 is waited for (the newest is 7: 8 may be a push on its way, 9 is not)
    code, out, err = sprout("builds", "wait", "notes", "9", "--stage", "dev", "--timeout", "600")
    # THEN one line says there is no such build, exit 1, without waiting
    assert (code, out) == (1, "")
    assert err.startswith("sprout: no build 9 of app notes (its newest is 7)")
    # (the build looked at once more: not recorded while the newest was read)
    assert api.paths() == ["/apps/notes", "/apps/notes/builds/9", "/apps/notes/builds", "/apps/notes/builds/9"]


def test_given_an_app_without_builds_and_no_push_on_its_way_when_build_1_is_waited_for_then_it_says_so(api, sprout):
    # GIVEN an app with no build, whose followed branch has no commit (nothing pushed, nothing coming)
    api.on("GET", "/apps/notes", (200, APP))
    api.on("GET", "/apps/notes/builds/1", (404, {"message": "build 1 of app notes not found"}))
    api.on("GET", "/apps/notes/builds", (200, {"builds": [], "nextToken": None}))
    api.on("GET", "/apps/notes/heads", (200, {"heads": [{"branch": "main", "commit": None, "build": None}]}))
    # WHEN build 1 is waited for THEN it says so at once
    code, _, err = sprout("builds", "wait", "notes", "1", "--timeout", "600")
    assert code == 1 and err.startswith("sprout: no build 1 of app notes (its newest is none yet; main at no commit is not built)")
    assert api.paths().count("/apps/notes/builds/1") == 2  # one poll, and the look again before saying so


def test_given_a_pushed_head_not_built_yet_when_the_next_build_is_waited_for_then_it_is_waited_for(api, sprout):
    # GIVEN main's head pushed, its build not recorded at the first look, then recorded and settled
    api.on("GET", "/apps/notes", (200, APP))
    api.on("GET", "/apps/notes/builds/8", (404, {"message": "build 8 of app notes not found"}),
           (200, {**BUILD7, "number": 8, "status": "SUCCEEDED", "deployedTo": {}}))
    api.on("GET", "/apps/notes/builds", (200, {"builds": [BUILD7], "nextToken": None}))
    api.on("GET", "/apps/notes/heads", (200, {"heads": [{"branch": "main", "commit": "d" * 40, "build": None}]}))
    # WHEN build 8 is waited for THEN it is found once recorded
    code, out, _ = sprout("builds", "wait", "notes", "8", "--timeout", "600")
    assert code == 0 and out.startswith("build 8  SUCCEEDED")


def test_given_a_build_with_notes_when_shown_then_fixed_names_and_the_lockfile_to_commit_are_said():
    shown = render.build({
        **BUILD7, "app": "notes", "functions": [],
        "fixedNames": [{"logicalId": "OrdersTable", "type": "AWS::DynamoDB::Table", "property": "TableName",
                        "name": "orders"}],
        "resolvedWithoutLockfile": [{"manifest": "web/package.json", "lockfile": "web/package-lock.json",
                                     "sha256": "f" * 64, "cacheKey": "k"}],
    })
    assert "  fixed name OrdersTable TableName orders: the same for every stage" in shown
    assert ("  web/package.json: resolved without a lockfile: not reproducible; commit this lockfile: "
            "sprout builds lockfile notes 7 web/package.json > web/package-lock.json") in shown


def test_given_a_resolved_lockfile_when_asked_then_it_prints_as_it_is(api, sprout):
    answer = {"manifest": "web/package.json", "lockfile": "web/package-lock.json", "sha256": "f" * 64, "content": LOCK + "\n"}
    api.on("GET", "/apps/notes/builds/7/lockfile", (200, answer))
    code, out, _ = sprout("builds", "lockfile", "notes", "7", "web/package.json")
    assert (code, out) == (0, LOCK + "\n")
    assert api.asked[-1].query == {"manifest": "web/package.json"}


def test_given_a_change_set_with_collisions_when_rendered_then_each_is_marked():
    cs = {**changeset(True), "collisions": [{"logicalId": "OrdersTable", "type": "AWS::DynamoDB::Table",
                                             "property": "TableName", "name": "orders", "stage": "dev"}]}
    lines = render.changeset(cs).splitlines()
    marked = [line for line in lines if "! COLLIDES" in line]
    assert len(marked) == 1 and "OrdersTable" in marked[0] and "orders (held by dev)" in marked[0]
