"""Promote with a confirmed change set and roll back in seconds, on the local cloud with IAM
enforced: the story's prod, broken by build 2 and put back on build 1 without a rebuild."""

from __future__ import annotations

import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest

from sprout.cli.client import ApiError, SproutClient
from tests.integration.sprout.conftest import NOTES, AppRepo, registered_app, wait_for

BROKEN = "    gibberish.what  # the story's broken line\n"


@pytest.fixture(scope="module")
def story(cloud, api, tmp_path_factory) -> AppRepo:
    """The notes app with build 1 (good) and build 2 (create broken) built; dev runs build 2."""
    app = registered_app(cloud, api, f"story-{uuid.uuid4().hex[:8]}", NOTES, tmp_path_factory.mktemp("story"))
    app.commit_and_push("The notes app")
    app.wait_build(1)
    create = app.work / "functions" / "create" / "create.py"
    marker = "def main(event, context):\n"
    create.write_text(create.read_text().replace(marker, marker + BROKEN, 1))
    app.commit_and_push("Break create")
    app.wait_build(2)
    return app


def stage(app: AppRepo, name: str) -> dict:
    return app.api.request("GET", f"/apps/{app.name}/stages/{name}")


def settled(app: AppRepo, stage_name: str, deployment: str, timeout: float = 90) -> dict:
    """The deployment once it has ended and its execution has let the stage go (a rollback holds the
    stage a little longer than its deployment: until its stack is reconciled and its event is put)."""
    ended = wait_for(
        f"deployment {deployment} of {stage_name}",
        lambda: (lambda d: d if d["status"] != "IN_PROGRESS" else None)(
            app.api.request("GET", f"/apps/{app.name}/stages/{stage_name}/deployments/{deployment}")
        ),
        timeout=timeout,
    )
    wait_for(f"deployment {deployment} to let {stage_name} go",
             lambda: (stage(app, stage_name)["lock"] or {}).get("deployment") != deployment, timeout=timeout)
    return ended


def post_note(app: AppRepo) -> int:
    try:
        SproutClient(app.stage_url("prod"), timeout=30).request("POST", "/notes", {"content": "hello"})
        return 200
    except ApiError as e:
        return e.status


def test_given_build_1_on_dev_when_promoted_to_prod_with_its_change_set_then_prod_serves_it(story):
    # GIVEN the change set of build 1 for an empty prod: everything is added, so a confirm is required
    cs = story.api.request("GET", f"/apps/{story.name}/stages/prod/changeset", query={"build": "1"})
    assert cs["confirmRequired"] is True and cs["current"] is None
    assert {c["kind"] for c in cs["changes"]} >= {"function-added", "resource-added"}
    # WHEN promoted without confirming, it is refused with the change set to confirm
    with pytest.raises(ApiError) as refused:
        story.api.request("POST", f"/apps/{story.name}/stages/prod/promote", {"build": 1})
    assert refused.value.status == 409 and refused.value.body["changeset"]["changesetId"] == cs["changesetId"]
    # AND confirmed, it is accepted and deploys the stored build
    started = story.api.request("POST", f"/apps/{story.name}/stages/prod/promote",
                                {"build": 1, "changesetId": cs["changesetId"]})
    done = settled(story, "prod", started["deployment"])
    assert (done["status"], done["kind"], done["build"]) == ("SUCCEEDED", "promote", 1), done
    # THEN prod answers POST /notes with the note, and says what it runs
    assert post_note(story) == 200
    prod = stage(story, "prod")
    assert prod["build"]["number"] == 1 and prod["lock"] is None
    assert {f["logicalId"] for f in prod["functions"]} >= {"CreateNoteFunction"}


def test_given_a_change_set_that_went_stale_when_promoted_then_409_with_the_fresh_one(story):
    stale = "prod.none.build-2"
    with pytest.raises(ApiError) as refused:
        story.api.request("POST", f"/apps/{story.name}/stages/prod/promote", {"build": 2, "changesetId": stale})
    assert refused.value.status == 409
    fresh = refused.value.body["changeset"]
    assert fresh["changesetId"] != stale and fresh["current"]["build"] == 1


def test_given_the_broken_build_promoted_when_rolled_back_then_prod_answers_from_the_old_code_again(story):
    # GIVEN build 2's change set for prod: only create's code changed, a minor change
    cs = story.api.request("GET", f"/apps/{story.name}/stages/prod/changeset", query={"build": "2"})
    assert [(c["kind"], c["logicalId"], c["class"]) for c in cs["changes"]] == [("code-changed", "CreateNoteFunction", "minor")]
    assert cs["confirmRequired"] is False and cs["commits"][0]["message"] == "Break create"
    started = story.api.request("POST", f"/apps/{story.name}/stages/prod/promote", {"changesetId": cs["changesetId"]})
    assert started["build"] == 2  # the build dev runs
    assert settled(story, "prod", started["deployment"])["status"] == "SUCCEEDED"
    assert post_note(story) == 502
    before = stage(story, "prod")
    # WHEN prod is rolled back (to the previous good deployment, by default)
    asked = time.monotonic()
    rolled = story.api.request("POST", f"/apps/{story.name}/stages/prod/rollback", {})
    wait_for("prod to answer 200", lambda: post_note(story) == 200, timeout=30, every=0.1)
    restored_after = time.monotonic() - asked
    done = settled(story, "prod", rolled["deployment"])
    # THEN the rollback is recorded, with build 1's code behind every alias
    assert (done["status"], done["kind"], done["build"], done["replaces"]) == (
        "SUCCEEDED", "rollback", 1, before["currentDeployment"]["id"])
    after = stage(story, "prod")
    one = story.api.request("GET", f"/apps/{story.name}/builds/1")
    assert {f["logicalId"]: f["sha256"] for f in after["functions"]} == {f["logicalId"]: f["sha256"] for f in one["functions"]}
    assert post_note(story) == 200
    print(f"rollback call -> 200 on prod: {restored_after:.2f} s")
    # AND build 2 shows it was rolled back away from prod
    assert "prod" in story.api.request("GET", f"/apps/{story.name}/builds/2")["rolledBackFrom"]


def test_given_a_rolled_back_build_when_promoted_again_then_it_is_deployed_again_not_a_no_op(story):
    cs = story.api.request("GET", f"/apps/{story.name}/stages/prod/changeset", query={"build": "2"})
    assert [c["logicalId"] for c in cs["changes"]] == ["CreateNoteFunction"]
    started = story.api.request("POST", f"/apps/{story.name}/stages/prod/promote", {"build": 2, "changesetId": cs["changesetId"]})
    assert settled(story, "prod", started["deployment"])["status"] == "SUCCEEDED"
    assert post_note(story) == 502
    rolled = story.api.request("POST", f"/apps/{story.name}/stages/prod/rollback", {"build": 1})
    assert settled(story, "prod", rolled["deployment"])["status"] == "SUCCEEDED"
    assert post_note(story) == 200


def test_given_two_promotes_of_different_builds_at_once_then_exactly_one_is_accepted(story):
    wait_for("prod to be free", lambda: stage(story, "prod")["lock"] is None, timeout=60)
    before = story.api.request("GET", f"/apps/{story.name}/stages/prod/deployments")["deployments"][0]["id"]
    change_sets = {n: story.api.request("GET", f"/apps/{story.name}/stages/prod/changeset", query={"build": str(n)})
                   for n in (1, 2)}
    both_ready = threading.Barrier(2)

    def promote(number: int):
        both_ready.wait()  # the two requests leave together
        try:
            return story.api.request("POST", f"/apps/{story.name}/stages/prod/promote",
                                     {"build": number, "force": True, "changesetId": change_sets[number]["changesetId"]})
        except ApiError as e:
            return e

    with ThreadPoolExecutor(2) as pool:
        results = list(pool.map(promote, [1, 2]))
    accepted = [r for r in results if isinstance(r, dict)]
    refused = [r for r in results if isinstance(r, ApiError)]
    # exactly one 202, whatever the timing: while the first runs the stage is locked; once it has finished,
    # the other's change set names a deployment prod no longer runs, so it is stale
    assert len(accepted) == 1 and len(refused) == 1, results
    assert refused[0].status == 409
    assert refused[0].body.get("holder", {}).get("deployment") == accepted[0]["deployment"] or "changeset" in refused[0].body
    settled(story, "prod", accepted[0]["deployment"])
    ids = [d["id"] for d in story.api.request("GET", f"/apps/{story.name}/stages/prod/deployments")["deployments"]]
    assert ids[: ids.index(before)] == [accepted[0]["deployment"]]


def test_given_a_flip_that_fails_midway_then_the_aliases_already_flipped_are_put_back(story, cloud):
    from sprout.adapters.aliases import Aliases, Flip, RollbackFailed

    prod = stage(story, "prod")
    functions = {f["logicalId"]: f for f in prod["functions"]}
    lam = cloud.client("lambda")
    before = {lid: lam.get_alias(FunctionName=f["functionName"], Name="live")["FunctionVersion"] for lid, f in functions.items()}
    flips = [Flip(lid, f["functionName"], "1") for lid, f in sorted(functions.items())]
    doomed = flips[2].logical_id

    def fail_third(flip):
        if flip.logical_id == doomed:
            raise RuntimeError("injected failure")

    with pytest.raises(RollbackFailed, match=doomed):
        Aliases(cloud.sprout["ArtifactBucketName"], client=lam, before_flip=fail_third).flip_all(flips)

    after = {lid: lam.get_alias(FunctionName=f["functionName"], Name="live")["FunctionVersion"] for lid, f in functions.items()}
    assert after == before
