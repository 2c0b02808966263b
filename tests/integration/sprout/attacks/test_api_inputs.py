"""Attack: the API's inputs (IAM enforced, through Sprout's SigV4-signed API as the CLI calls it).

A hostile caller sends what no client would: a build back from quarantine by name without
``force``, a ``nextToken`` of one listing to another app's listing, names of 3000 characters, and
reads a build to learn its environment values. Each is refused naming the field, echoes at most a
short prefix, or shows nothing secret; the app keeps running its build.
"""

from __future__ import annotations

import uuid

import pytest

from sprout.cli.client import ApiError
from tests.integration.sprout.conftest import NOTES, AppRepo, registered_app
from tests.integration.sprout.test_promote_rollback import settled, stage

LONG = "x" * 3000


@pytest.fixture(scope="module")
def app(cloud, api, tmp_path_factory) -> AppRepo:
    """The notes app with builds 1 and 2 both deployed on dev (dev runs build 2)."""
    repo = registered_app(cloud, api, f"inputs-{uuid.uuid4().hex[:8]}", NOTES, tmp_path_factory.mktemp("inputs"))
    repo.commit_and_push("The notes app")
    assert repo.wait_build(1)["status"] == "SUCCEEDED"
    create = repo.work / "functions" / "create" / "create.py"
    create.write_text(create.read_text() + "\n# build 2\n")
    repo.commit_and_push("A second build")
    assert repo.wait_build(2)["status"] == "SUCCEEDED"
    return repo


@pytest.fixture(scope="module")
def other(cloud, api, tmp_path_factory) -> AppRepo:
    """Another team's app, registered."""
    return registered_app(cloud, api, f"other-{uuid.uuid4().hex[:8]}", NOTES, tmp_path_factory.mktemp("other"))


def refused(call) -> ApiError:
    with pytest.raises(ApiError) as e:
        call()
    return e.value


def test_given_a_quarantined_build_when_rolled_back_to_without_force_then_400_force_and_the_default_skips_it(
    app, cloud, monkeypatch
):
    # GIVEN build 1 quarantined (as an alarm's rollback records it), dev running build 2
    monkeypatch.setenv("TABLE_NAME", cloud.sprout["TableName"])
    from sprout.adapters.lineage import Lineage

    Lineage().quarantine(app.name, 1, {"stage": "dev", "reason": "an alarm fired", "alarm": "test"})
    path = f"/apps/{app.name}/stages/dev/rollback"
    # WHEN dev is rolled back to build 1 by name, without force THEN 400 naming force
    e = refused(lambda: app.api.request("POST", path, {"build": 1}))
    assert (e.status, e.body["field"]) == (400, "force"), e.body
    # AND the default target skips the quarantined build: nothing else to go back to
    e = refused(lambda: app.api.request("POST", path, {}))
    assert e.status == 409 and "not quarantined" in e.body["message"], e.body
    assert stage(app, "dev")["build"]["number"] == 2
    # AND with force it goes
    started = app.api.request("POST", path, {"build": 1, "force": True})
    assert settled(app, "dev", started["deployment"])["status"] == "SUCCEEDED"
    assert stage(app, "dev")["build"]["number"] == 1


def test_given_a_next_token_of_one_listing_when_given_to_another_then_400_next_token(app, other):
    # GIVEN a nextToken of the app's builds
    page = app.api.request("GET", f"/apps/{app.name}/builds", query={"limit": "1"})
    token = page["nextToken"]
    assert token
    # WHEN another app's builds, or this app's deployments, are asked with it THEN 400 nextToken
    for path in (f"/apps/{other.name}/builds", f"/apps/{app.name}/stages/dev/deployments"):
        e = refused(lambda path=path: app.api.request("GET", path, query={"limit": "1", "nextToken": token}))
        assert (e.status, e.body["field"]) == (400, "nextToken"), (path, e.body)
    # AND it still works for the listing that gave it
    again = app.api.request("GET", f"/apps/{app.name}/builds", query={"limit": "1", "nextToken": token})
    assert [b["number"] for b in again["builds"]] == [page["builds"][0]["number"] - 1]


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("GET", "/apps/{long}", None),
        ("GET", "/apps/{app}/stages/{long}", None),
        ("GET", "/apps/{app}/stages/dev/deployments/{long}", None),
        ("GET", "/apps/{app}/stages/dev/functions/{long}/logs", None),
        ("POST", "/apps/{app}/builds", {"branch": LONG}),
        ("POST", "/apps/{app}/stages/prod/promote", {"changesetId": LONG}),
    ],
)
def test_given_a_3000_character_name_when_refused_then_the_message_echoes_a_short_prefix(app, method, path, body):
    e = refused(lambda: app.api.request(method, path.format(long=LONG, app=app.name), body))
    assert 400 <= e.status < 500, e.body
    assert "x" * 41 not in e.body["message"] and len(e.body["message"]) < 300, e.body["message"][:400]


def test_given_a_build_when_read_then_environment_values_are_masked_as_in_change_sets(app):
    build = app.api.request("GET", f"/apps/{app.name}/builds/1")
    variables = {f["logicalId"]: (f["config"].get("Environment") or {}).get("Variables") or {} for f in build["functions"]}
    assert any(variables.values())
    assert {v for vs in variables.values() for v in vs.values()} == {"(value masked)"}
