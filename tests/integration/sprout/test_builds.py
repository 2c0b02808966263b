"""Builds on the local cloud: a push becomes an immutable build, recorded, and deployed to dev."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

from sprout.cli.client import SproutClient
from tests.integration.sprout.conftest import codecommit_event, wait_for

MARKER = '        "createdAt": int(time.time() * 1000),\n'


def test_given_a_registered_app_when_main_is_pushed_then_the_build_is_recorded_and_dev_serves_it(
    notes_app, cloud
):
    # WHEN the notes app is pushed to the branch dev follows
    commit = notes_app.commit_and_push("The notes app")
    # THEN an execution of the build state machine carries the commit and succeeds
    build = notes_app.wait_build(1)
    executions = wait_for(
        "the build's execution to end",
        lambda: (lambda found: found if found and all(e["status"] != "RUNNING" for e in found) else None)(
            notes_app.executions_for(commit)
        ),
    )
    assert [e["status"] for e in executions] == ["SUCCEEDED"]
    # AND the build is recorded with its commit, branch and one hashed artifact per function
    assert (build["status"], build["commitId"], build["branch"], build["message"]) == (
        "SUCCEEDED",
        commit,
        "main",
        "The notes app",
    )
    functions = {f["logicalId"]: f for f in build["functions"]}
    assert set(functions) == {
        "CreateNoteFunction",
        "GetNoteFunction",
        "ListNotesFunction",
        "UpdateNoteFunction",
        "DeleteNoteFunction",
    }
    assert all(
        len(f["sha256"]) == 64 and f["s3Key"] == f"artifacts/{f['sha256']}.zip" for f in functions.values()
    )
    # AND dev runs it: the deployment records the version behind every function's live alias
    deployment = build["deployedTo"]["dev"]
    assert (deployment["status"], deployment["kind"], deployment["build"], deployment["trigger"]["type"]) == (
        "SUCCEEDED",
        "deploy",
        1,
        "push",
    )
    assert deployment["versions"] == dict.fromkeys(functions, "1")
    # AND the CLI waits for it as a user would, and says where it is deployed
    for command in (["wait", notes_app.name, "1", "--stage", "dev"], ["show", notes_app.name, "1"]):
        answered = subprocess.run(
            [str(Path(sys.executable).with_name("sprout")), "builds", *command],
            env={**os.environ, "SPROUT_API_URL": cloud.sprout["ApiUrl"]}, capture_output=True, text=True, timeout=120,
        )
        assert answered.returncode == 0, answered.stderr
        assert "build 1  SUCCEEDED" in answered.stdout
        assert "deployed to dev (deployment 000001, SUCCEEDED)" in answered.stdout
    # AND dev serves the app over HTTP
    notes = SproutClient(notes_app.stage_url("dev"))
    note = notes.request("POST", "/notes", {"content": "hello", "attachment": None})
    assert notes.request("GET", f"/notes/{note['noteId']}")["content"] == "hello"


def test_given_a_deployed_app_when_one_function_changes_then_exactly_one_new_version_serves_the_new_code(
    notes_app,
):
    notes_app.commit_and_push("The notes app")
    first = notes_app.wait_build(1)
    # WHEN create changes (it now stamps the notes it makes) and is pushed
    create = notes_app.work / "functions" / "create" / "create.py"
    source = create.read_text()
    assert MARKER in source
    create.write_text(source.replace(MARKER, MARKER + '        "stamp": "v2",\n'))
    notes_app.commit_and_push("Stamp new notes")
    second = notes_app.wait_build(2)
    # THEN only create's artifact changed, and only create got a new version
    hashes = lambda b: {f["logicalId"]: f["sha256"] for f in b["functions"]}  # noqa: E731
    assert [k for k in hashes(second) if hashes(second)[k] != hashes(first)[k]] == ["CreateNoteFunction"]
    before, after = first["deployedTo"]["dev"]["versions"], second["deployedTo"]["dev"]["versions"]
    assert {k: v for k, v in after.items() if before[k] != v} == {"CreateNoteFunction": "2"}
    assert second["deployedTo"]["dev"]["replaces"] == first["deployedTo"]["dev"]["id"]
    # AND dev serves the new code
    assert (
        SproutClient(notes_app.stage_url("dev")).request("POST", "/notes", {"content": "x"})["stamp"] == "v2"
    )


def test_given_a_push_event_delivered_twice_when_both_are_handled_then_one_build_exists(notes_app, cloud):
    commit = notes_app.commit_and_push("The notes app")
    notes_app.wait_build(1)
    # WHEN EventBridge delivers the same push again
    cloud.client("events").put_events(
        Entries=[codecommit_event(notes_app.name, "main", commit, str(uuid.uuid4()))]
    )
    executions = wait_for(
        "the duplicate's execution to finish",
        lambda: (
            lambda found: found if len(found) == 2 and all(e["status"] != "RUNNING" for e in found) else None
        )(notes_app.executions_for(commit)),
    )
    # THEN it succeeds without building again: still one build for the commit
    assert [e["status"] for e in executions] == ["SUCCEEDED", "SUCCEEDED"]
    assert [(b["number"], b["commitId"]) for b in notes_app.builds()] == [(1, commit)]


def test_given_a_broken_template_when_pushed_then_the_build_fails_with_the_reason_and_dev_keeps_what_it_ran(
    notes_app, cloud
):
    notes_app.commit_and_push("The notes app")
    good = notes_app.wait_build(1)
    # WHEN a commit breaks template.yaml
    template = notes_app.work / "template.yaml"
    template.write_text(template.read_text() + "\n  : not yaml [\n")
    commit = notes_app.commit_and_push("Break the template")
    failed = notes_app.wait_build(2, stage=None)
    # THEN the build failed at its first step that reads the template (PlanDependencies), saying why; the
    # execution ends normally: the failure is the app's own
    assert failed["status"] == "FAILED"
    assert (failed["failure"]["step"], failed["failure"]["error"]) == ("PlanDependencies", "PackagingError")
    assert "invalid YAML" in failed["failure"]["cause"]
    ended = wait_for("the execution to end", lambda: [e for e in notes_app.executions_for(commit) if e["status"] != "RUNNING"])
    assert [e["status"] for e in ended] == ["SUCCEEDED"]
    assert json.loads(ended[0]["output"])["results"] == [{"app": notes_app.name, "build": 2, "status": "FAILED"}]
    # AND dev still runs the first build
    deployments = notes_app.api.request("GET", f"/apps/{notes_app.name}/stages/dev/deployments")[
        "deployments"
    ]
    assert [(d["build"], d["status"]) for d in deployments] == [(1, "SUCCEEDED")]
    assert deployments[0]["id"] == good["deployedTo"]["dev"]["id"]
    assert (
        SproutClient(notes_app.stage_url("dev")).request("POST", "/notes", {"content": "still here"})[
            "content"
        ]
        == "still here"
    )


def test_given_the_same_event_redelivered_when_handled_again_then_resolve_answers_from_its_idempotency_record(
    notes_app, cloud
):
    commit = notes_app.commit_and_push("The notes app")
    notes_app.wait_build(1)
    # GIVEN one EventBridge event, with its id, delivered twice to the state machine (at least once)
    event = {
        "id": str(uuid.uuid4()),
        "source": "aws.codecommit",
        "detail-type": "CodeCommit Repository State Change",
        "detail": json.loads(codecommit_event(notes_app.name, "main", commit, "repo-id")["Detail"]),
    }
    sfn = cloud.client("stepfunctions")
    arns = [
        sfn.start_execution(stateMachineArn=cloud.sprout["BuildStateMachineArn"], input=json.dumps(event))[
            "executionArn"
        ]
        for _ in range(2)
    ]
    # WHEN both finish
    finished = wait_for(
        "both executions",
        lambda: (lambda d: d if all(x["status"] != "RUNNING" for x in d) else None)(
            [sfn.describe_execution(executionArn=a) for a in arns]
        ),
    )
    # THEN both succeed, the commit still has one build, and Resolve kept an idempotency record
    assert [e["status"] for e in finished] == ["SUCCEEDED", "SUCCEEDED"]
    assert [b["number"] for b in notes_app.builds()] == [1]
    items = cloud.client("dynamodb").scan(
        TableName=cloud.sprout["TableName"],
        FilterExpression="begins_with(pk, :p)",
        ExpressionAttributeValues={":p": {"S": "idempotency#"}},
    )["Items"]
    assert any("Resolve" in i["pk"]["S"] and i["status"]["S"] == "COMPLETED" for i in items)


def test_given_a_branch_nobody_follows_when_pushed_then_nothing_is_built(notes_app):
    commit = notes_app.commit_and_push("Work in progress", branch="feature")
    executions = wait_for(
        "the push's execution",
        lambda: [e for e in notes_app.executions_for(commit) if e["status"] != "RUNNING"],
    )
    assert [e["status"] for e in executions] == ["SUCCEEDED"]
    assert notes_app.builds() == []


def test_given_an_app_when_a_build_is_asked_for_through_the_api_then_it_builds_and_deploys(notes_app):
    commit = notes_app.commit_and_push("Work on a branch", branch="feature")
    started = notes_app.api.request("POST", f"/apps/{notes_app.name}/builds", {"commit": commit})
    assert started["commitId"] == commit and started["executionArn"]
    build = notes_app.wait_build(1, stage=None)
    assert (build["status"], build["commitId"], build["deployedTo"]) == ("SUCCEEDED", commit, {})


def test_given_two_quick_pushes_when_both_deploy_then_dev_ends_on_the_newer_and_deployments_never_interleave(
    notes_app,
):
    # WHEN two commits are pushed back to back, so their builds run at the same time
    notes_app.commit_and_push("The notes app")
    create = notes_app.work / "functions" / "create" / "create.py"
    create.write_text(create.read_text().replace(MARKER, MARKER + '        "stamp": "second",\n'))
    second = notes_app.commit_and_push("Second push")

    def executions() -> dict[str, str]:
        # a push event names the commit it replaced too (oldCommitId): dedupe by execution
        return {
            e["executionArn"]: e["status"]
            for b in notes_app.builds()
            for e in notes_app.executions_for(b["commitId"])
        }

    wait_for(
        "both executions",
        lambda: (lambda found: found if len(found) == 2 and "RUNNING" not in found.values() else None)(
            executions()
        ),
        timeout=120,
        show=executions,
    )
    # THEN dev runs the second push, whichever of the two builds got recorded first
    deployments = notes_app.api.request("GET", f"/apps/{notes_app.name}/stages/dev/deployments")[
        "deployments"
    ]
    assert deployments[0]["status"] == "SUCCEEDED"
    assert notes_app.build(deployments[0]["build"])["commitId"] == second
    # AND one deployment started only after the one before it had finished
    ordered = list(reversed(deployments))
    for before, after in zip(ordered, ordered[1:], strict=False):
        assert before["finishedAt"] <= after["startedAt"]
        assert after["replaces"] == before["id"]
    assert (
        SproutClient(notes_app.stage_url("dev")).request("POST", "/notes", {"content": "x"})["stamp"]
        == "second"
    )
