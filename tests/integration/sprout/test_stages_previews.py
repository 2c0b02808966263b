"""The pipeline after registration on the local cloud: a stage added and removed (its stack, Sprout's
alarms, subscription filters and log groups gone, its history still readable), 409 with the holder
on a held stage, an app deleted, and a preview stage made by a branch push and torn down when the
branch is deleted — with everything listed afterwards to show that nothing of it is left."""

from __future__ import annotations

import json

import pytest
from botocore.exceptions import ClientError

from sprout.cli.client import ApiError, SproutClient
from tests.integration.sprout.conftest import AppRepo, wait_for


def error_of(call) -> ApiError:
    with pytest.raises(ApiError) as e:
        call()
    return e.value


def stack_status(cloud, stack: str) -> str | None:
    try:
        return cloud.client("cloudformation").describe_stacks(StackName=stack)["Stacks"][0]["StackStatus"]
    except ClientError:
        return None


def leftovers(cloud, app: str, stage: str, functions: list[str]) -> dict:
    """Everything of ``app``'s ``stage`` that could outlive it: stack, alarms, log groups, subscription
    filters on those log groups, the stage's lock."""
    stack = f"{app}-{stage}"
    logs = cloud.client("logs")
    groups = [g["logGroupName"] for page in logs.get_paginator("describe_log_groups").paginate()
              for g in page["logGroups"]]  # every page: a long session's cloud holds many more than 50
    mine = [g for g in groups if any(g == f"/aws/lambda/{f}" for f in functions) or stack in g]
    alarms = [a["AlarmName"] for a in cloud.client("cloudwatch").describe_alarms(AlarmNamePrefix=f"sprout-ar-{stack}-")
              ["MetricAlarms"]]
    filters = [f["filterName"] for g in groups if g.startswith("API-Gateway-Access-Logs_")
               for f in logs.describe_subscription_filters(logGroupName=g)["subscriptionFilters"]
               if f["filterName"].startswith(f"sprout-ar#{app}#{stage}")]
    status = stack_status(cloud, stack)
    return {"stack": status if status not in (None, "DELETE_COMPLETE") else None, "alarms": alarms,
            "logGroups": mine, "subscriptionFilters": filters}


def stage_functions(cloud, stack: str) -> list[str]:
    resources = cloud.client("cloudformation").describe_stack_resources(StackName=stack)["StackResources"]
    return [r["PhysicalResourceId"] for r in resources if r["ResourceType"] == "AWS::Lambda::Function"]


def removed(api, app: str, stage: str) -> dict | None:
    view = api.request("GET", f"/apps/{app}/stages/{stage}")
    return view if view.get("removedAt") else None


def set_lock(cloud, app: str, stage: str, holder: str | None) -> None:
    """Play a deployment holding the stage (the test's root key writes the lineage directly)."""
    ddb = cloud.client("dynamodb")
    key = {"pk": {"S": f"APP#{app}"}, "sk": {"S": f"STAGE#{stage}"}}
    if holder:
        ddb.update_item(TableName=cloud.sprout["TableName"], Key=key,
                        UpdateExpression="SET #l = :d, lock_since = :s, lock_expires = :e",
                        ExpressionAttributeNames={"#l": "lock"},
                        ExpressionAttributeValues={":d": {"S": holder}, ":s": {"S": "2026-01-01T00:00:00.000Z"},
                                                   ":e": {"S": "2999-01-01T00:00:00.000Z"}})
    else:
        ddb.update_item(TableName=cloud.sprout["TableName"], Key=key,
                        UpdateExpression="REMOVE #l, lock_since, lock_expires", ExpressionAttributeNames={"#l": "lock"})


def test_given_an_app_when_a_stage_is_added_deployed_watched_and_removed_then_nothing_of_it_is_left(
        notes_app: AppRepo, api, cloud):
    """GIVEN a registered app WHEN qa is added, deployed, watched, held, removed, re-added and the app deleted THEN each answers as the API says and nothing of qa or the app is left."""
    notes = notes_app
    notes.commit_and_push("First")
    assert notes.wait_build(1)["status"] == "SUCCEEDED"
    # WHEN qa is added after dev, following main with auto-deploy
    answer = api.request("POST", f"/apps/{notes.name}/stages",
                         {"name": "qa", "branch": "main", "autoDeploy": True, "after": "dev"})
    # THEN the pipeline is dev, qa, prod
    assert [s["name"] for s in answer["stages"]] == ["dev", "qa", "prod"]
    assert [s["name"] for s in api.request("GET", f"/apps/{notes.name}/stages")["stages"]] == ["dev", "qa", "prod"]
    # AND a second qa, a bad name, an unknown `after` and a stack Sprout does not own are refused
    assert error_of(lambda: api.request("POST", f"/apps/{notes.name}/stages", {"name": "qa"})).status == 409
    bad = error_of(lambda: api.request("POST", f"/apps/{notes.name}/stages", {"name": "QA;x"}))
    assert (bad.status, bad.body.get("field")) == (400, "name")
    after = error_of(lambda: api.request("POST", f"/apps/{notes.name}/stages", {"name": "qb", "after": "nope"}))
    assert (after.status, after.body.get("field")) == (400, "after")
    cloud.client("cloudformation").create_stack(
        StackName=f"{notes.name}-rogue",
        TemplateBody='{"Resources": {"T": {"Type": "AWS::SNS::Topic"}}}')
    assert error_of(lambda: api.request("POST", f"/apps/{notes.name}/stages", {"name": "rogue"})).status == 409

    # WHEN main is built again: qa gets it, and is watched (alarms, access logs, subscription filters)
    api.request("POST", f"/apps/{notes.name}/builds", {"branch": "main"})
    wait_for("qa deployed", lambda: (api.request("GET", f"/apps/{notes.name}/stages/qa").get("currentDeployment") or {})
             .get("status") == "SUCCEEDED", timeout=150)
    api.request("PUT", f"/apps/{notes.name}/stages/qa/auto-rollback", {"enabled": True})
    functions = stage_functions(cloud, f"{notes.name}-qa")
    SproutClient(notes.stage_url("qa")).request("GET", "/notes")  # Lambda makes its log group
    before = leftovers(cloud, notes.name, "qa", functions)
    assert before["stack"] and before["alarms"] and before["subscriptionFilters"], before

    # WHEN a deployment holds qa THEN removing it answers 409 with the holder
    set_lock(cloud, notes.name, "qa", "000099")
    busy = error_of(lambda: api.request("DELETE", f"/apps/{notes.name}/stages/qa"))
    assert busy.status == 409 and busy.body["holder"]["deployment"] == "000099"
    set_lock(cloud, notes.name, "qa", None)

    # WHEN qa is removed
    started = api.request("DELETE", f"/apps/{notes.name}/stages/qa")
    assert started["removal"]["execution"] and started["removal"]["by"]
    # THEN it is removed, and nothing of it is left
    view = wait_for("qa removed", lambda: removed(api, notes.name, "qa"), timeout=120)
    assert leftovers(cloud, notes.name, "qa", functions) == {"stack": None, "alarms": [], "logGroups": [],
                                                             "subscriptionFilters": []}
    # AND its history stays readable, the pipeline no longer has it, dev is untouched
    assert view["removedAt"] and api.request("GET", f"/apps/{notes.name}/stages/qa/deployments")["deployments"]
    assert [s["name"] for s in api.request("GET", f"/apps/{notes.name}/stages")["stages"]] == ["dev", "prod"]
    assert stack_status(cloud, f"{notes.name}-dev") in ("CREATE_COMPLETE", "UPDATE_COMPLETE")
    # AND removing it again is a 404 that says it was removed; the name can be added again
    assert error_of(lambda: api.request("DELETE", f"/apps/{notes.name}/stages/qa")).status == 404
    api.request("POST", f"/apps/{notes.name}/stages", {"name": "qa"})

    # WHEN the app is deleted
    gone = api.request("DELETE", f"/apps/{notes.name}")
    assert "repository" in gone["kept"]
    # THEN it is gone with every stage stack; its name is not taken again silently
    wait_for("the app gone", lambda: notes.name not in [a["name"] for a in api.request("GET", "/apps")["apps"]],
             timeout=150)
    assert error_of(lambda: api.request("GET", f"/apps/{notes.name}")).status == 404
    assert stack_status(cloud, f"{notes.name}-dev") in (None, "DELETE_COMPLETE")
    again = error_of(lambda: api.request("POST", "/apps", {"name": notes.name, "repository": notes.name}))
    assert again.status == 409 and "deleted" in again.body["message"]
    # AND the repository is kept; the stack Sprout does not own is untouched
    assert cloud.client("codecommit").get_repository(repositoryName=notes.name)["repositoryMetadata"]
    assert stack_status(cloud, f"{notes.name}-rogue") == "CREATE_COMPLETE"
    cloud.client("cloudformation").delete_stack(StackName=f"{notes.name}-rogue")


def test_given_branch_previews_when_a_branch_is_pushed_and_deleted_then_its_stage_comes_and_goes_leaving_nothing(
        notes_app: AppRepo, api, cloud):
    """GIVEN branch previews on feature/* WHEN feature/Login is pushed and then deleted THEN its preview stage deploys, serves, and goes leaving nothing."""
    notes = notes_app
    notes.commit_and_push("First")
    assert notes.wait_build(1)["status"] == "SUCCEEDED"
    bad = error_of(lambda: api.request("PUT", f"/apps/{notes.name}/previews", {"inheritFrom": "nope"}))
    assert (bad.status, bad.body.get("field")) == (400, "inheritFrom")
    settings = api.request("PUT", f"/apps/{notes.name}/previews",
                           {"branches": {"enabled": True, "pattern": "feature/*"}, "limit": 3})
    assert settings["branches"] == {"enabled": True, "pattern": "feature/*"}
    assert api.request("GET", f"/apps/{notes.name}/previews")["limit"] == 3

    # WHEN a branch matching the pattern is pushed
    notes.git("checkout", "-q", "-b", "feature/Login")
    (notes.work / "PREVIEW.md").write_text("a preview\n")
    notes.commit_and_push("Preview me", branch="feature/Login")

    def preview():
        rows = api.request("GET", f"/apps/{notes.name}/stages")["stages"]
        return next((r for r in rows if (r.get("preview") or {}).get("branch") == "feature/Login"), None)

    row = wait_for("the preview stage", preview, timeout=60)
    # THEN a stage named by a slug of the branch, after the pipeline, deployed
    name = row["name"]
    assert name.startswith("feature-login-") and len(name) <= 24
    assert [r["name"] for r in api.request("GET", f"/apps/{notes.name}/stages")["stages"]] == ["dev", "prod", name]
    wait_for("the preview deployed", lambda: (api.request("GET", f"/apps/{notes.name}/stages/{name}")
                                              .get("currentDeployment") or {}).get("status") == "SUCCEEDED", timeout=150)
    view = api.request("GET", f"/apps/{notes.name}/stages/{name}")
    assert view["preview"]["kind"] == "branch" and view["preview"]["createdAt"]
    assert SproutClient(notes.stage_url(name)).request("GET", "/notes") is not None
    functions = stage_functions(cloud, f"{notes.name}-{name}")
    # AND no auto-rollback watches it
    assert api.request("GET", f"/apps/{notes.name}/stages/{name}/auto-rollback")["enabled"] is False

    # WHEN the branch is deleted
    notes.git("push", "-q", notes.clone_url, "--delete", "feature/Login")
    # THEN the preview is removed and nothing of it is left
    wait_for("the preview removed", lambda: removed(api, notes.name, name), timeout=120)
    assert leftovers(cloud, notes.name, name, functions) == {"stack": None, "alarms": [], "logGroups": [],
                                                             "subscriptionFilters": []}
    assert [r["name"] for r in api.request("GET", f"/apps/{notes.name}/stages")["stages"]] == ["dev", "prod"]
    # AND dev still serves
    assert SproutClient(notes.stage_url("dev")).request("GET", "/notes") is not None


def test_given_a_stack_whose_bucket_is_not_empty_when_its_stage_is_removed_then_the_blocker_is_recorded_and_retried(
        notes_app: AppRepo, api, cloud):
    """GIVEN dev's stack holds a non-empty bucket WHEN dev is removed THEN DELETE_FAILED names the bucket in the removal, and once emptied a retry removes the stage."""
    notes = notes_app
    template = notes.work / "template.yaml"
    template.write_text(template.read_text().replace("Resources:\n", "Resources:\n  Uploads:\n    Type: AWS::S3::Bucket\n", 1))
    notes.commit_and_push("With a bucket")
    assert notes.wait_build(1)["status"] == "SUCCEEDED"
    resources = cloud.client("cloudformation").describe_stack_resources(StackName=f"{notes.name}-dev")["StackResources"]
    bucket = next(r["PhysicalResourceId"] for r in resources if r["LogicalResourceId"] == "Uploads")
    s3 = cloud.client("s3")
    s3.put_object(Bucket=bucket, Key="kept.txt", Body=b"data")
    # WHEN dev is removed while its bucket holds an object
    api.request("DELETE", f"/apps/{notes.name}/stages/dev")

    def blocked():
        removing = api.request("GET", f"/apps/{notes.name}/stages/dev").get("removing") or {}
        return removing.get("blockers")

    # THEN the stack fails DELETE_FAILED and the removal records the bucket as what blocked it
    blockers = wait_for("the removal's blockers", blocked, timeout=90)
    assert [b["logicalId"] for b in blockers] == ["Uploads"] and blockers[0]["type"] == "AWS::S3::Bucket"
    # WHEN the bucket is emptied THEN the next retry deletes the stack, and the stage is removed
    s3.delete_object(Bucket=bucket, Key="kept.txt")
    wait_for("dev removed", lambda: removed(api, notes.name, "dev"), timeout=90)
    assert stack_status(cloud, f"{notes.name}-dev") in (None, "DELETE_COMPLETE")


def comments(cloud, repository: str, pr_id: str) -> list[str]:
    data = cloud.client("codecommit").get_comments_for_pull_request(pullRequestId=pr_id, repositoryName=repository)
    return [c["content"] for d in data["commentsForPullRequestData"] for c in d["comments"]]


def test_given_pull_request_previews_when_one_is_opened_updated_and_closed_then_its_stage_answers_and_goes(
        notes_app: AppRepo, api, cloud):
    """GIVEN pull request previews inheriting dev's settings WHEN a pull request is opened, updated and
    closed THEN stage pr-<id> deploys, inherits dev's settings, refuses a promote, the pull request's
    one comment says where it answers (edited at each step, never repeated), and it goes leaving
    nothing."""
    notes = notes_app
    notes.commit_and_push("First")
    assert notes.wait_build(1)["status"] == "SUCCEEDED"
    api.request("PUT", f"/apps/{notes.name}/previews", {"pullRequests": {"enabled": True}, "inheritFrom": "dev"})
    api.request("PUT", f"/apps/{notes.name}/stages/dev/settings", {"values": {"Flavour": "vanilla"}})
    notes.git("checkout", "-q", "-b", "fix")
    (notes.work / "FIX.md").write_text("a fix\n")
    notes.commit_and_push("A fix", branch="fix")
    codecommit = cloud.client("codecommit")
    # WHEN a pull request from fix into main is opened (its title written by an attacker)
    pr = codecommit.create_pull_request(
        title="prod; $(curl evil) `rm -rf /` <script>", description="hostile",
        targets=[{"repositoryName": notes.name, "sourceReference": "fix", "destinationReference": "main"}],
    )["pullRequest"]
    stage = f"pr-{pr['pullRequestId']}"
    # THEN stage pr-<id> is made for it, after the pipeline, and deploys the source commit
    wait_for("the pull request's stage deployed", lambda: (api.request("GET", f"/apps/{notes.name}/stages/{stage}")
             .get("currentDeployment") or {}).get("status") == "SUCCEEDED" if stage in
             [s["name"] for s in api.request("GET", f"/apps/{notes.name}/stages")["stages"]] else None, timeout=180)
    view = api.request("GET", f"/apps/{notes.name}/stages/{stage}")
    assert view["preview"] == {"kind": "pullRequest", "branch": "fix", "pullRequestId": pr["pullRequestId"],
                               "createdAt": view["preview"]["createdAt"]}
    assert [s["name"] for s in api.request("GET", f"/apps/{notes.name}/stages")["stages"]] == ["dev", "prod", stage]
    # AND its one comment says where it answers once the deploy ended
    url = notes.stage_url(stage)
    said = wait_for("the comment with the URL", lambda: [c for c in comments(cloud, notes.name, pr["pullRequestId"])
                                                         if url in c], timeout=60,
                    show=lambda: comments(cloud, notes.name, pr["pullRequestId"]))
    assert len(comments(cloud, notes.name, pr["pullRequestId"])) == 1 and stage in said[0] and "build 2" in said[0]
    # AND it inherits dev's settings, and is never promoted to
    assert api.request("GET", f"/apps/{notes.name}/stages/{stage}/settings")["inherited"]["values"] == {"Flavour": "vanilla"}
    assert error_of(lambda: api.request("POST", f"/apps/{notes.name}/stages/{stage}/promote", {"build": 1})).status == 409
    functions = stage_functions(cloud, f"{notes.name}-{stage}")
    # WHEN a new commit reaches the source branch THEN the same comment says the new build answers
    (notes.work / "FIX.md").write_text("a better fix\n")
    notes.commit_and_push("A better fix", branch="fix")
    wait_for("the comment edited for build 3", lambda: any(url in c and "build 3" in c for c in comments(
        cloud, notes.name, pr["pullRequestId"])), timeout=90, show=lambda: comments(cloud, notes.name, pr["pullRequestId"]))
    assert len(comments(cloud, notes.name, pr["pullRequestId"])) == 1
    assert SproutClient(url).request("GET", "/notes") is not None
    # WHEN the pull request is closed THEN its stage is removed and nothing of it is left
    codecommit.update_pull_request_status(pullRequestId=pr["pullRequestId"], pullRequestStatus="CLOSED")
    wait_for("the pull request's stage removed", lambda: removed(api, notes.name, stage), timeout=120)
    assert leftovers(cloud, notes.name, stage, functions) == {"stack": None, "alarms": [], "logGroups": [],
                                                              "subscriptionFilters": []}
    said = comments(cloud, notes.name, pr["pullRequestId"])
    assert len(said) == 1 and "removed" in said[0]
    # AND dev was never touched by it
    assert [d["build"] for d in api.request("GET", f"/apps/{notes.name}/stages/dev/deployments")["deployments"]] == [1]


def test_given_a_pull_request_whose_source_commit_is_already_built_when_opened_then_its_preview_deploys_that_build(
        notes_app: AppRepo, api, cloud):
    """GIVEN build 1 of main's head WHEN a pull request is opened from a branch at that same commit THEN its
    preview deploys build 1 (the same commit of the same app: no second build), and no new build is recorded."""
    notes = notes_app
    notes.commit_and_push("First")
    assert notes.wait_build(1)["status"] == "SUCCEEDED"
    api.request("PUT", f"/apps/{notes.name}/previews", {"pullRequests": {"enabled": True}})
    notes.git("push", "-q", notes.clone_url, "HEAD:refs/heads/same")
    pr = cloud.client("codecommit").create_pull_request(
        title="same", targets=[{"repositoryName": notes.name, "sourceReference": "same", "destinationReference": "main"}],
    )["pullRequest"]
    stage = f"pr-{pr['pullRequestId']}"
    current = wait_for("the preview deployed", lambda: (api.request("GET", f"/apps/{notes.name}/stages/{stage}")
                       .get("currentDeployment") or {}) if stage in [s["name"] for s in api.request(
                           "GET", f"/apps/{notes.name}/stages")["stages"]] else None, timeout=180)
    wait_for("its deploy ended", lambda: (api.request("GET", f"/apps/{notes.name}/stages/{stage}")
                                          .get("currentDeployment") or {}).get("status") == "SUCCEEDED", timeout=120)
    assert current["build"] == 1
    assert [b["number"] for b in api.request("GET", f"/apps/{notes.name}/builds")["builds"]] == [1]
    assert SproutClient(notes.stage_url(stage)).request("GET", "/notes") is not None


def test_given_a_removal_recorded_whose_teardown_never_ran_when_the_sweep_runs_then_it_finishes_the_removal(
        notes_app: AppRepo, api, cloud):
    """GIVEN dev's removal recorded but its teardown execution never started (a crash between the two)
    WHEN the scheduled sweep runs THEN it starts the teardown again and dev is removed, its stack gone."""
    notes = notes_app
    notes.commit_and_push("First")
    assert notes.wait_build(1)["status"] == "SUCCEEDED"
    machine = cloud.sprout["TeardownStateMachineArn"]
    lost = machine.replace(":stateMachine:", ":execution:") + ":never-started"
    cloud.client("dynamodb").update_item(
        TableName=cloud.sprout["TableName"], Key={"pk": {"S": f"APP#{notes.name}"}, "sk": {"S": "STAGE#dev"}},
        UpdateExpression="SET removing = :r, gsi1pk = :p, gsi1sk = :s",
        ExpressionAttributeValues={":r": {"S": json.dumps({"execution": lost, "by": "test"})},
                                   ":p": {"S": "REMOVING"}, ":s": {"S": f"APP#{notes.name}#STAGE#dev"}})
    resources = cloud.client("cloudformation").describe_stack_resources(StackName="sprout")["StackResources"]
    sweep = next(r["PhysicalResourceId"] for r in resources if r["LogicalResourceId"] == "TeardownSweepFunction")
    answer = cloud.client("lambda").invoke(FunctionName=sweep, Payload=b"{}")
    assert "FunctionError" not in answer, answer["Payload"].read()
    wait_for("dev removed by the sweep", lambda: removed(api, notes.name, "dev"), timeout=120)
    assert stack_status(cloud, f"{notes.name}-dev") in (None, "DELETE_COMPLETE")
    assert api.request("GET", f"/apps/{notes.name}/stages/dev")["removing"] is None


def run_sweep(cloud) -> dict:
    resources = cloud.client("cloudformation").describe_stack_resources(StackName="sprout")["StackResources"]
    sweep = next(r["PhysicalResourceId"] for r in resources if r["LogicalResourceId"] == "TeardownSweepFunction")
    answer = cloud.client("lambda").invoke(FunctionName=sweep, Payload=b"{}")
    payload = answer["Payload"].read()
    if "FunctionError" in answer:  # the whole stack trace, line by line (an assertion's repr would cut it)
        error = json.loads(payload)
        raise AssertionError("the sweep failed: " + "".join([f"{error.get('errorType')}: {error.get('errorMessage')}\n",
                                                             *error.get("stackTrace", [])]))
    return json.loads(payload)


def test_given_a_stack_whose_stage_record_was_deleted_when_the_sweep_runs_then_it_is_removed_and_a_strangers_stays(
        notes_app: AppRepo, api, cloud):
    """GIVEN dev deployed, then its stage record deleted under it (item and pipeline entry), beside a stranger's
    untagged stack named like a stage stack and one tagged as Sprout's but not deployed by it WHEN the sweep
    runs THEN dev's stack is removed by the teardown machine, recorded (why, removedAt), nothing of it left;
    the two other stacks are untouched."""
    notes = notes_app
    notes.commit_and_push("First")
    assert notes.wait_build(1)["status"] == "SUCCEEDED"
    stack = f"{notes.name}-dev"
    functions = stage_functions(cloud, stack)
    SproutClient(notes.stage_url("dev")).request("GET", "/notes")  # Lambda makes its log group
    cfn = cloud.client("cloudformation")
    topic = '{"Resources": {"T": {"Type": "AWS::SNS::Topic"}}}'
    cfn.create_stack(StackName=f"{notes.name}-stray", TemplateBody=topic)
    cfn.create_stack(StackName=f"{notes.name}-fake", TemplateBody=topic, Tags=[
        {"Key": "sprout:app", "Value": notes.name}, {"Key": "sprout:stage", "Value": "fake"},
        {"Key": "sprout:stack", "Value": f"{notes.name}-fake"}])
    ddb, table = cloud.client("dynamodb"), cloud.sprout["TableName"]
    ddb.delete_item(TableName=table, Key={"pk": {"S": f"APP#{notes.name}"}, "sk": {"S": "STAGE#dev"}})
    app_key = {"pk": {"S": f"APP#{notes.name}"}, "sk": {"S": "APP"}}
    stages = json.loads(ddb.get_item(TableName=table, Key=app_key)["Item"]["stages"]["S"])
    ddb.update_item(TableName=table, Key=app_key, UpdateExpression="SET stages = :s",
                    ExpressionAttributeValues={":s": {"S": json.dumps([s for s in stages if s["name"] != "dev"])}})

    swept = run_sweep(cloud)

    assert [(o["app"], o["stage"]) for o in swept["orphansRemoved"] if o["app"] == notes.name] == [(notes.name, "dev")]
    assert wait_for("dev's orphan stack removed", lambda: removed(api, notes.name, "dev"), timeout=120)["removedAt"]
    recorded = json.loads(ddb.get_item(TableName=table, Key={"pk": {"S": f"APP#{notes.name}"}, "sk": {"S": "STAGE#dev"}})
                          ["Item"]["removing"]["S"])
    assert recorded["reason"] == "orphan stack: its stage has no record" and recorded["by"] == "sprout:sweep"
    assert recorded["finishedAt"] and recorded["plan"]["logGroups"]
    assert leftovers(cloud, notes.name, "dev", functions) == {"stack": None, "alarms": [], "logGroups": [],
                                                              "subscriptionFilters": []}
    assert stack_status(cloud, f"{notes.name}-stray") == "CREATE_COMPLETE"
    assert stack_status(cloud, f"{notes.name}-fake") == "CREATE_COMPLETE"
    # AND the next sweep finds nothing more of this app
    assert [o for o in run_sweep(cloud)["orphansRemoved"] if o["app"] == notes.name] == []
    cfn.delete_stack(StackName=f"{notes.name}-stray")
    cfn.delete_stack(StackName=f"{notes.name}-fake")
