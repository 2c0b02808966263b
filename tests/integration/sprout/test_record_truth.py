"""What Sprout says runs is what runs, with faults injected on the local cloud (localcloud/faults.py):
a deploy task killed or throttled while its stack update runs, a first deploy that fails, an update
that fails and must be rolled back to the old properties, a rollback that fails. After each, the
deployment's record matches the stack and the ``live`` aliases, it names the failure's cause, nothing
is left open, and the next push deploys."""

from __future__ import annotations

import pytest

from tests.integration.faults import arm, armed, clear, state
from tests.integration.sprout.conftest import AppRepo, registered_app, wait_for

DEV_ONLY = ({"name": "dev", "branch": "main", "autoDeploy": True},)


def template(memory: int = 128, clash: str | None = None) -> str:
    """One function; with ``clash``, a log group of that name created after the function's alias
    (so that the function has been updated when the log group fails)."""
    text = ("Transform: AWS::Serverless-2016-10-31\nResources:\n  Fn:\n    Type: AWS::Serverless::Function\n"
            f"    Properties: {{CodeUri: fn/, Handler: app.handler, Runtime: python3.13, MemorySize: {memory}}}\n")
    if clash:
        text += f"  Clash:\n    Type: AWS::Logs::LogGroup\n    DependsOn: FnAliaslive\n    Properties: {{LogGroupName: {clash}}}\n"
    return text


def write(app: AppRepo, version: int, memory: int = 128, clash: str | None = None) -> None:
    (app.work / "fn").mkdir(exist_ok=True)
    (app.work / "fn" / "app.py").write_text(f"def handler(event, context):\n    return {{'version': {version}}}\n")
    (app.work / "template.yaml").write_text(template(memory, clash))


@pytest.fixture
def small_app(cloud, api, uid, tmp_path) -> AppRepo:
    """A one-function app with a dev stage that follows main, written at version 1."""
    source = tmp_path / "source"
    source.mkdir()
    app = registered_app(cloud, api, f"truth-{uid}", source, tmp_path, stages=DEV_ONLY)
    write(app, 1)
    return app


def function_of(cloud, logical_id: str) -> str:
    return cloud.client("cloudformation").describe_stack_resource(
        StackName="sprout", LogicalResourceId=logical_id)["StackResourceDetail"]["PhysicalResourceId"]


def deployment(api, app: AppRepo, deployment_id: str) -> dict:
    return api.request("GET", f"/apps/{app.name}/stages/dev/deployments/{deployment_id}")


def deployment_of(app: AppRepo, number: int) -> dict | None:
    return ((app.build(number) or {}).get("deployedTo") or {}).get("dev")


def live(cloud, app: AppRepo) -> dict[str, str]:
    """Function logical id -> the version its ``live`` alias points at, read from Lambda."""
    cf, lam = cloud.client("cloudformation"), cloud.client("lambda")
    resources = cf.describe_stack_resources(StackName=f"{app.name}-dev")["StackResources"]
    return {r["LogicalResourceId"]: lam.get_alias(FunctionName=r["PhysicalResourceId"], Name="live")["FunctionVersion"]
            for r in resources if r["ResourceType"] == "AWS::Lambda::Function"}


def stack_status(cloud, app: AppRepo) -> str:
    return cloud.client("cloudformation").describe_stacks(StackName=f"{app.name}-dev")["Stacks"][0]["StackStatus"]


def entered(cloud, execution: str, state_name: str) -> bool:
    history = cloud.client("stepfunctions").get_execution_history(executionArn=execution, maxResults=1000)["events"]
    return any((e.get("stateEnteredEventDetails") or {}).get("name") == state_name for e in history)


def history(cloud, execution: str) -> list[str]:
    """The execution's states and task failures so far, for a failing test's message."""
    events = cloud.client("stepfunctions").get_execution_history(executionArn=execution, maxResults=1000)["events"]
    return [(e.get("stateEnteredEventDetails") or {}).get("name") or e["type"] for e in events][-15:]


def assert_record_matches_the_stack(cloud, api, app: AppRepo, build: int) -> None:
    """The stage runs ``build`` by its record, the record's versions are the aliases', the check
    finds nothing to repair, and the stage is free."""
    stage = api.request("GET", f"/apps/{app.name}/stages/dev")
    assert stage["currentDeployment"]["build"] == build, stage["currentDeployment"]
    assert stage["currentDeployment"]["versions"] == live(cloud, app)
    assert stage["lock"] is None
    checked = api.request("POST", f"/apps/{app.name}/stages/dev/reconcile", {})
    assert (checked["consistent"], checked["repaired"]) == (True, []), checked


def test_given_check_deploy_killed_mid_update_when_the_stack_completes_then_the_deployment_records_what_runs(
    small_app, api, cloud
):
    small_app.commit_and_push("version 1")
    assert small_app.wait_build(1)["deployedTo"]["dev"]["status"] == "SUCCEEDED"
    first = live(cloud, small_app)
    # GIVEN build 2's stack update held in progress, and CheckDeploy's worker killed while it follows it
    hold = arm(cloud, kind="hold-stack", stack=f"{small_app.name}-dev")
    try:
        with armed(cloud, kind="kill-worker", function=function_of(cloud, "CheckDeployFunction"),
                   afterSeconds=2.5) as kill:
            write(small_app, 2, memory=256)
            small_app.commit_and_push("version 2")
            started = wait_for("build 2's deployment", lambda: deployment_of(small_app, 2), timeout=90)
            # WHEN the task dies mid-update
            wait_for("CheckDeploy's worker to be killed", lambda: (state(cloud, kill) or {}).get("done") == 1, timeout=60)
            wait_for("the machine to wait on the stack", lambda: entered(cloud, started["execution"], "WaitToSettle"),
                     timeout=60)
            # THEN the deployment is not closed on the task's word: it waits while the stack runs
            assert deployment(api, small_app, started["id"])["status"] == "IN_PROGRESS"
            assert stack_status(cloud, small_app) == "UPDATE_IN_PROGRESS"
    finally:
        clear(cloud, hold)  # the stack update goes on, and completes
    # AND once the stack completes, the deployment is SUCCEEDED with the versions that run
    settled = small_app.wait_build(2)["deployedTo"]["dev"]
    assert settled["status"] == "SUCCEEDED", settled
    recorded = deployment(api, small_app, started["id"])
    assert recorded["versions"] == live(cloud, small_app) != first
    assert_record_matches_the_stack(cloud, api, small_app, 2)
    # AND the change set of build 2 against what runs changes nothing, and the next push deploys
    assert api.request("GET", f"/apps/{small_app.name}/stages/dev/changeset", query={"build": 2})["changes"] == []
    write(small_app, 3, memory=256)
    small_app.commit_and_push("version 3")
    assert small_app.wait_build(3)["deployedTo"]["dev"]["status"] == "SUCCEEDED"
    assert_record_matches_the_stack(cloud, api, small_app, 3)


def test_given_describe_change_set_throttled_mid_update_when_the_stack_completes_then_the_deployment_succeeds(
    small_app, api, cloud
):
    small_app.commit_and_push("version 1")
    small_app.wait_build(1)
    hold = arm(cloud, kind="hold-stack", stack=f"{small_app.name}-dev")
    # GIVEN DescribeChangeSet answering Throttling after the call that finds the change set ready
    # (asked by Sprout's functions: the local cloud's own IAM lookups, with the root key, are spared)
    throttle = arm(cloud, kind="throttle", service="cloudformation", action="DescribeChangeSet", skip=1, count=0,
                   **{"from": "roles"})
    try:
        write(small_app, 2, memory=256)
        small_app.commit_and_push("version 2")
        started = wait_for("build 2's deployment", lambda: deployment_of(small_app, 2), timeout=90)
        # WHEN CheckDeploy gives up on CloudFormation (after boto3's own retries)
        wait_for("the machine to wait on the stack", lambda: entered(cloud, started["execution"], "WaitToSettle"),
                 timeout=90, show=lambda: (state(cloud, throttle), history(cloud, started["execution"]),
                                           deployment(api, small_app, started["id"])))
        assert (state(cloud, throttle) or {}).get("done", 0) >= 1
        assert deployment(api, small_app, started["id"])["status"] == "IN_PROGRESS"
    finally:
        clear(cloud, throttle)
        clear(cloud, hold)
    # THEN the deployment follows the stack's outcome
    assert small_app.wait_build(2)["deployedTo"]["dev"]["status"] == "SUCCEEDED"
    assert_record_matches_the_stack(cloud, api, small_app, 2)
    # AND the next push deploys
    write(small_app, 3, memory=256)
    small_app.commit_and_push("version 3")
    assert small_app.wait_build(3)["deployedTo"]["dev"]["status"] == "SUCCEEDED"
    assert_record_matches_the_stack(cloud, api, small_app, 3)


def test_given_a_first_deploy_that_failed_when_pushed_again_then_sprout_deletes_its_stack_saying_so_and_deploys(
    small_app, api, cloud, uid
):
    # GIVEN a first deploy that fails: its log group's name is taken already
    taken = f"/sprout-tests/{uid}/taken"
    cloud.client("logs").create_log_group(logGroupName=taken)
    write(small_app, 1, clash=taken)
    small_app.commit_and_push("version 1, clashing")
    failed = small_app.wait_build(1)["deployedTo"]["dev"]
    assert failed["status"] == "FAILED"
    # THEN the failure names the resource, its type and CloudFormation's reason
    cause = deployment(api, small_app, failed["id"])["cause"]
    assert (cause["stackStatus"], cause["logicalId"], cause["type"]) == ("ROLLBACK_COMPLETE", "Clash", "AWS::Logs::LogGroup")
    assert "already exists" in cause["reason"]
    assert stack_status(cloud, small_app) == "ROLLBACK_COMPLETE"
    assert api.request("GET", f"/apps/{small_app.name}/stages/dev")["lock"] is None
    # WHEN the fix is pushed
    write(small_app, 2)
    small_app.commit_and_push("version 2")
    fixed = small_app.wait_build(2)["deployedTo"]["dev"]
    # THEN Sprout deleted the failed stack first, says so on the deployment, and deployed
    assert fixed["status"] == "SUCCEEDED", fixed
    notes = deployment(api, small_app, fixed["id"])["notes"]
    assert len(notes) == 1 and "ROLLBACK_COMPLETE" in notes[0] and "Clash" in notes[0]
    assert stack_status(cloud, small_app) == "CREATE_COMPLETE"
    assert_record_matches_the_stack(cloud, api, small_app, 2)


def test_given_an_update_that_fails_when_rolled_back_then_the_old_properties_run_and_the_record_says_so(
    small_app, api, cloud, uid
):
    small_app.commit_and_push("version 1")
    small_app.wait_build(1)
    before = live(cloud, small_app)
    fn = cloud.client("cloudformation").describe_stack_resource(
        StackName=f"{small_app.name}-dev", LogicalResourceId="Fn")["StackResourceDetail"]["PhysicalResourceId"]
    # GIVEN build 2: more memory for the function, and a log group whose name is taken (created after it)
    taken = f"/sprout-tests/{uid}/taken"
    cloud.client("logs").create_log_group(logGroupName=taken)
    write(small_app, 2, memory=512, clash=taken)
    # WHEN it is pushed
    small_app.commit_and_push("version 2, clashing")
    failed = small_app.wait_build(2)["deployedTo"]["dev"]
    # THEN the update failed naming the log group, and the stack rolled back to the old properties
    assert failed["status"] == "FAILED"
    recorded = deployment(api, small_app, failed["id"])
    assert (recorded["cause"]["logicalId"], recorded["cause"]["stackStatus"]) == ("Clash", "UPDATE_ROLLBACK_COMPLETE")
    assert "Clash (AWS::Logs::LogGroup) failed" in recorded["error"]
    assert stack_status(cloud, small_app) == "UPDATE_ROLLBACK_COMPLETE"
    assert cloud.client("lambda").get_function_configuration(FunctionName=fn)["MemorySize"] == 128
    assert live(cloud, small_app) == before
    assert_record_matches_the_stack(cloud, api, small_app, 1)
    # AND the next push deploys
    write(small_app, 3, memory=512)
    small_app.commit_and_push("version 3")
    assert small_app.wait_build(3)["deployedTo"]["dev"]["status"] == "SUCCEEDED"
    assert cloud.client("lambda").get_function_configuration(FunctionName=fn)["MemorySize"] == 512
    assert_record_matches_the_stack(cloud, api, small_app, 3)


def test_given_a_rollback_that_fails_then_the_stack_is_reported_with_what_to_do_and_never_recorded_a_success(
    small_app, api, cloud, uid
):
    small_app.commit_and_push("version 1")
    small_app.wait_build(1)
    stack = f"{small_app.name}-dev"
    taken = f"/sprout-tests/{uid}/taken"
    cloud.client("logs").create_log_group(logGroupName=taken)
    # GIVEN an update that fails, and the function it changed that cannot be put back
    with armed(cloud, kind="fail-resource", stack=stack, logicalId="Fn", phase="rollback",
               message="the function cannot be updated"):
        write(small_app, 2, memory=512, clash=taken)
        small_app.commit_and_push("version 2, clashing")
        failed = small_app.wait_build(2)["deployedTo"]["dev"]
    # THEN the deployment failed saying the stack is UPDATE_ROLLBACK_FAILED and how to continue its rollback
    cause = deployment(api, small_app, failed["id"])["cause"]
    assert (failed["status"], cause["stackStatus"], cause["logicalId"]) == ("FAILED", "UPDATE_ROLLBACK_FAILED", "Clash")
    assert cause["resourcesToSkip"] == ["Fn"] and "continue-update-rollback" in cause["advice"]
    assert api.request("GET", f"/apps/{small_app.name}/stages/dev")["stack"]["status"] == "UPDATE_ROLLBACK_FAILED"
    # WHEN the fix is pushed while the stack cannot take an update
    write(small_app, 3, memory=512)
    small_app.commit_and_push("version 3")
    refused = small_app.wait_build(3)["deployedTo"]["dev"]
    # THEN it is refused naming the state and what to do, never recorded a success
    assert refused["status"] == "FAILED" and "UPDATE_ROLLBACK_FAILED" in refused["error"]
    assert "continue-update-rollback" in refused["error"]
    assert api.request("GET", f"/apps/{small_app.name}/stages/dev")["currentDeployment"]["build"] == 1
    # AND once the rollback is continued as it says, the next push deploys
    cf = cloud.client("cloudformation")
    cf.continue_update_rollback(StackName=stack)
    wait_for("the rollback to complete", lambda: stack_status(cloud, small_app) == "UPDATE_ROLLBACK_COMPLETE", timeout=60)
    api.request("POST", f"/apps/{small_app.name}/builds", {"branch": "main"})
    redeployed = wait_for("build 3 deployed", lambda: [
        d for d in api.request("GET", f"/apps/{small_app.name}/stages/dev/deployments")["deployments"]
        if d["build"] == 3 and d["status"] != "IN_PROGRESS" and d["id"] != refused["id"]], timeout=120)[0]
    assert redeployed["status"] == "SUCCEEDED", redeployed
    assert_record_matches_the_stack(cloud, api, small_app, 3)


def test_given_reconcile_on_an_unknown_stage_or_a_stage_never_deployed_then_404_or_nothing_to_repair(small_app, api):
    from sprout.cli.client import ApiError

    with pytest.raises(ApiError) as unknown:
        api.request("POST", f"/apps/{small_app.name}/stages/qa/reconcile", {})
    assert unknown.value.status == 404
    fresh = api.request("POST", f"/apps/{small_app.name}/stages/dev/reconcile", {})
    assert (fresh["record"], fresh["stack"]["status"], fresh["consistent"], fresh["repaired"]) == (None, None, True, [])
