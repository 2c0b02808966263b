"""The pipeline never poisons itself: one app's failure stays its own, nothing is left open when an
execution ends however it ends, stage stacks never collide, only what can be built is accepted."""

from __future__ import annotations

import json
import uuid

import pytest

from sprout.cli.client import ApiError, SproutClient
from tests.integration.faults import arm, clear, state
from tests.integration.sprout.conftest import AppRepo, wait_for


def error_of(api, method: str, path: str, body=None, query=None) -> ApiError:
    with pytest.raises(ApiError) as caught:
        api.request(method, path, body, query)
    return caught.value


def test_given_two_apps_on_one_repository_one_broken_when_pushed_then_the_good_one_deploys_and_the_broken_one_says_why(
    notes_app, api, uid
):
    # GIVEN a second app on the same repository whose template does not exist
    broken = f"bad-{uid}"
    api.request("POST", "/apps", {"name": broken, "repository": notes_app.name, "templatePath": "nope.yaml",
                                  "stages": [{"name": "dev", "branch": "main", "autoDeploy": True}]})
    # WHEN the notes app is pushed
    notes_app.commit_and_push("The notes app")
    # THEN the good app's build reaches dev and answers 200
    good = notes_app.wait_build(1)
    assert (good["status"], good["deployedTo"]["dev"]["status"]) == ("SUCCEEDED", "SUCCEEDED")
    assert SproutClient(notes_app.stage_url("dev")).request("POST", "/notes", {"content": "ok"})["content"] == "ok"
    # AND the broken app's build is FAILED where the template is first read (PlanDependencies), naming the
    # file, with nothing left BUILDING
    bad = api.wait_for_build(broken, 1)
    assert (bad["status"], bad["failure"]["step"]) == ("FAILED", "PlanDependencies")
    assert "nope.yaml" in bad["failure"]["cause"]
    assert api.request("GET", f"/apps/{broken}/stages/dev")["lock"] is None


def test_given_a_deploy_in_progress_when_its_execution_is_stopped_then_the_deployment_is_closed_and_the_stage_unlocked(
    notes_app, api, cloud
):
    # GIVEN build 1's deployment to dev in progress: its stack's creation held CREATE_IN_PROGRESS
    hold = arm(cloud, kind="hold-stack", stack=f"{notes_app.name}-dev", maxSeconds=120)
    try:
        notes_app.commit_and_push("The notes app")
        deployment = wait_for(
            "the deployment to start",
            lambda: (lambda b: (b or {}).get("deployedTo", {}).get("dev"))(notes_app.build(1)),
            every=0.05,
        )
        wait_for("the stack's creation to be held", lambda: (state(cloud, hold) or {}).get("done") == 1, timeout=90)
        assert deployment["status"] == "IN_PROGRESS"
        # WHEN its execution is aborted
        cloud.client("stepfunctions").stop_execution(executionArn=deployment["execution"], error="Test",
                                                     cause="stopped by a test")
        # THEN the finalizer closes the deployment FAILED with the execution's status, and the stage is free
        closed = wait_for(
            "the deployment to be closed",
            lambda: (lambda d: d if d["status"] != "IN_PROGRESS" else None)(
                api.request("GET", f"/apps/{notes_app.name}/stages/dev/deployments/{deployment['id']}")
            ),
            timeout=30,
        )
        assert (closed["status"], closed["step"]) == ("FAILED", "Execution")
    finally:
        clear(cloud, hold)  # the stack's creation goes on, after the record was closed
    assert "ABORTED" in closed["error"]
    assert api.request("GET", f"/apps/{notes_app.name}/stages/dev")["lock"] is None
    # AND the next deploy to dev goes through
    started = api.request("POST", f"/apps/{notes_app.name}/builds", {"branch": "main"})
    assert started["commitId"]
    redeployed = wait_for(
        "a second deployment to succeed",
        lambda: [d for d in api.request("GET", f"/apps/{notes_app.name}/stages/dev/deployments")["deployments"]
                 if d["status"] == "SUCCEEDED"],
        timeout=60,
    )
    assert redeployed[0]["build"] == 1


def test_given_a_handler_with_a_syntax_error_when_pushed_then_the_build_fails_at_package_naming_file_and_line(notes_app):
    create = notes_app.work / "functions" / "create" / "create.py"
    create.write_text(create.read_text() + "\ndef broken(:\n")
    notes_app.commit_and_push("A syntax error")
    failed = notes_app.wait_build(1, stage=None)
    assert (failed["status"], failed["failure"]["step"]) == ("FAILED", "Package")
    assert "CreateNoteFunction: create.py, line" in failed["failure"]["cause"]
    assert notes_app.api.request("GET", f"/apps/{notes_app.name}/stages/dev")["currentDeployment"] is None


def test_given_an_unknown_commit_or_branch_when_a_build_is_asked_for_then_404_names_it_and_nothing_starts(notes_app, api):
    # the HTTP answer only (nothing pushed: no build to wait out); the branches of starting a build
    # are tests/unit/sprout/services/test_builds_and_apps.py's
    commit = error_of(api, "POST", f"/apps/{notes_app.name}/builds", {"commit": "0" * 40})
    branch = error_of(api, "POST", f"/apps/{notes_app.name}/builds", {"branch": "no-such-branch"})
    assert (commit.status, commit.body["field"]) == (404, "commit")
    assert (branch.status, branch.body["field"]) == (404, "branch")
    assert api.request("GET", f"/apps/{notes_app.name}/builds")["builds"] == []


def test_given_a_repository_that_does_not_exist_when_an_app_is_registered_then_400_names_repository(api, uid):
    error = error_of(api, "POST", "/apps", {"name": f"ghost-{uid}", "repository": f"ghost-{uid}"})
    assert (error.status, error.body["field"]) == (400, "repository")
    assert error_of(api, "GET", f"/apps/ghost-{uid}").status == 404


def test_given_clashing_stage_stacks_when_registered_then_409_names_the_owner(api, cloud, uid):
    repo = f"cola-{uid}"
    cloud.client("codecommit").create_repository(repositoryName=repo)
    api.request("POST", "/apps", {"name": f"cola{uid}", "repository": repo, "stages": [{"name": "b-dev"}]})

    clash = error_of(api, "POST", "/apps", {"name": f"cola{uid}-b", "repository": repo, "stages": [{"name": "dev"}]})
    assert clash.status == 409 and f"app cola{uid}'s stage b-dev" in clash.body["message"]
    # a stack that exists and is not Sprout's
    cloud.client("cloudformation").create_stack(
        StackName=f"other{uid}-dev", TemplateBody=json.dumps({"Resources": {"Q": {"Type": "AWS::S3::Bucket"}}})
    )
    foreign = error_of(api, "POST", "/apps", {"name": f"other{uid}", "repository": repo, "stages": [{"name": "dev"}]})
    assert foreign.status == 409 and "does not own" in foreign.body["message"]


@pytest.mark.parametrize(
    ("method", "path", "body", "query", "field"),
    [
        ("GET", "/apps/{app}/builds", None, {"limit": "²"}, "limit"),
        ("GET", "/apps/{app}/builds", None, {"limit": "1" * 40}, "limit"),
        ("GET", "/apps/{app}/builds/%C2%B2", None, None, "number"),
        ("GET", "/apps/{app}/builds", None, {"nextToken": "garbage!"}, "nextToken"),
        ("POST", "/apps", {"name": "x" * 5000, "repository": "r"}, None, "name"),
        ("GET", "/apps/{app}/stages/dev/changeset", None, {"build": "x"}, "build"),
        ("POST", "/apps/{app}/stages/prod/promote", {"build": "1"}, None, "build"),
    ],
)
def test_given_bad_input_when_sent_then_400_names_the_field_as_the_api_spells_it(notes_app, api, method, path, body, query, field):
    error = error_of(api, method, path.format(app=notes_app.name), body, query)
    assert (error.status, error.body.get("field")) == (400, field), error.body
    assert len(error.body["message"]) < 400


@pytest.mark.parametrize("depth", [40, 100_000])
def test_given_a_body_nested_deeper_than_any_request_when_sent_then_400_names_the_body(cloud, depth):
    import requests
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    url, data = f"{cloud.sprout['ApiUrl']}/apps", ('{"name": ' + "[" * depth + "]" * depth + "}").encode()
    request = AWSRequest(method="POST", url=url, data=data, headers={"Content-Type": "application/json"})
    SigV4Auth(Credentials("localcloud", "localcloud"), "execute-api", "us-east-1").add_auth(request)
    answer = requests.post(url, data=data, headers=dict(request.headers.items()), timeout=30)
    assert (answer.status_code, answer.json()["field"]) == (400, "body")


def test_given_unknown_things_when_asked_for_then_404_names_them(notes_app, api):
    stage = error_of(api, "GET", f"/apps/{notes_app.name}/stages/staging")
    app = error_of(api, "GET", f"/apps/nope-{uuid.uuid4().hex[:6]}/stages/dev")
    build = error_of(api, "GET", f"/apps/{notes_app.name}/stages/prod/changeset", query={"build": "7"})
    assert (stage.status, stage.body["field"]) == (404, "stage")
    assert (app.status, app.body["field"]) == (404, "app")
    assert (build.status, build.body["field"]) == (404, "build")


def ended_execution(cloud) -> str:
    """An execution of Sprout's deploy machine that has ended (stopped at once, for an app that does not exist),
    once Sprout's finalizer has handled its end. One that never existed is not taken for ended: its start may be
    on its way (a lock is taken before StartExecution)."""
    sfn, tag = cloud.client("stepfunctions"), uuid.uuid4().hex[:8]
    [machine] = [m["stateMachineArn"] for m in sfn.list_state_machines()["stateMachines"] if m["name"] == "sprout-deploy"]
    arn = sfn.start_execution(stateMachineArn=machine, name=f"killed-{tag}", input=json.dumps(
        {"app": f"gone-{tag}", "stage": "dev", "build": 1, "trigger": {"type": "user"}}))["executionArn"]
    sfn.stop_execution(executionArn=arn, error="Test", cause="ended by a test")
    [finalizer] = [r["PhysicalResourceId"] for r in cloud.client("cloudformation").describe_stack_resources(
        StackName="sprout")["StackResources"] if r["LogicalResourceId"] == "FinalizeFunction"]
    logs = cloud.client("logs")

    def finalized() -> bool:
        try:
            pages = logs.get_paginator("filter_log_events").paginate(logGroupName=f"/aws/lambda/{finalizer}")
            return any(arn in e["message"] for page in pages for e in page["events"])
        except logs.exceptions.ResourceNotFoundException:
            return False

    wait_for("the finalizer to handle the execution's end", finalized, timeout=60)
    return arn


def test_given_a_lock_left_by_a_task_whose_execution_is_gone_when_the_next_deploy_comes_then_it_takes_over(
    notes_app, api, cloud
):
    # GIVEN build 1 on dev, and a deploy task that took dev's lock for an execution that no longer runs
    notes_app.commit_and_push("The notes app")
    notes_app.wait_build(1)
    lam = cloud.client("lambda")
    [begin] = [r["PhysicalResourceId"] for r in cloud.client("cloudformation").describe_stack_resources(
        StackName="sprout")["StackResources"] if r["LogicalResourceId"] == "BeginDeployFunction"]
    dead = ended_execution(cloud)
    answer = lam.invoke(FunctionName=begin, Payload=json.dumps(
        {"execution": dead, "input": {"app": notes_app.name, "stage": "dev", "build": 1, "trigger": {"type": "user"}}}))
    stale = json.loads(answer["Payload"].read())["deploymentId"]
    assert api.request("GET", f"/apps/{notes_app.name}/stages/dev")["lock"]["execution"] == dead
    # WHEN the next deploy to dev comes
    api.request("POST", f"/apps/{notes_app.name}/builds", {"branch": "main"})
    # THEN it takes the lock over, says so, and the stale deployment is closed naming the new one
    fresh = wait_for("the take-over deployment to succeed", lambda: [
        d for d in api.request("GET", f"/apps/{notes_app.name}/stages/dev/deployments")["deployments"]
        if d.get("tookOver") and d["status"] == "SUCCEEDED"], timeout=60)[0]
    assert fresh["tookOver"]["deployment"] == stale and "has ended" in fresh["tookOver"]["reason"]
    old = api.request("GET", f"/apps/{notes_app.name}/stages/dev/deployments/{stale}")
    assert old["status"] == "FAILED" and f"taken over by deployment {fresh['id']}" in old["error"]


def test_given_an_app_whose_template_declares_no_stage_parameter_when_pushed_then_it_deploys(cloud, api, tmp_path, uid):
    # GIVEN a SAM app with one function and no Parameters at all (real apps need not declare Stage)
    name = f"plain-{uid}"
    url = cloud.client("codecommit").create_repository(repositoryName=name)["repositoryMetadata"]["cloneUrlHttp"]
    api.request("POST", "/apps", {"name": name, "repository": name})
    work = tmp_path / name
    (work / "fn").mkdir(parents=True)
    (work / "fn" / "app.py").write_text("def handler(event, context):\n    return {'ok': True}\n")
    (work / "template.yaml").write_text(
        "Transform: AWS::Serverless-2016-10-31\nResources:\n  Fn:\n    Type: AWS::Serverless::Function\n"
        "    Properties: {CodeUri: fn/, Handler: app.handler, Runtime: python3.11}\n")
    app = AppRepo(name=name, clone_url=url, work=work, api=api, cloud=cloud)
    app.git("init", "-q", "-b", "main")
    # WHEN it is pushed, THEN it deploys to dev
    app.commit_and_push("A plain app")
    deployed = app.wait_build(1)
    assert deployed["deployedTo"]["dev"]["status"] == "SUCCEEDED", deployed["deployedTo"]["dev"]
    assert deployed["deployedTo"]["dev"]["versions"] == {"Fn": "1"}
