"""The state machines' task handlers, called in-process (the handler functions themselves, as the
ASL's Catch branches call them) against moto's DynamoDB on the table template.yaml declares: the
failure branches — AbandonDeploy, the finalizer, an unreadable commit — not only the happy path."""

from __future__ import annotations

import importlib

import pytest

from sprout.domain.errors import BuildNotDeployable, InvalidInput, SourceError
from sprout.domain.model import BuildStatus, DeploymentStatus
from tests.unit.sprout.lineage_table import notes_lineage_on_moto

TABLE, BUCKET = "sprout-unit-tasks", "sprout-unit-artifacts"
EXEC = "arn:aws:states:us-east-1:123456789012:execution:sprout-deploy:abc"


@pytest.fixture
def cloud(monkeypatch):
    yield from notes_lineage_on_moto(monkeypatch, TABLE, BUCKET)


@pytest.fixture
def tasks(cloud):
    """The task modules, imported with the settings a task function gets from template.yaml."""
    return {name: importlib.import_module(f"sprout.handlers.{name}") for name in
            ("tasks.build", "tasks.deploy", "finalize")}


def built(lineage, commit: str = "c1", execution: str | None = None) -> int:
    build, _ = lineage.record_build("notes", commit, "main", "m", "a", execution=execution)
    return lineage.finish_build("notes", build.number, BuildStatus.SUCCEEDED, template_key="templates/t").number


def test_given_a_deployment_when_abandoned_then_it_is_failed_with_the_step_and_the_catch_error_and_the_stage_is_free(cloud, tasks):
    number = built(cloud)
    deployment = cloud.begin_deployment("notes", "dev", number, "deploy", {"type": "push"}, execution=EXEC)

    state = tasks["tasks.deploy"].abandon_deploy_step({
        "app": "notes", "stage": "dev", "build": number, "deploymentId": deployment.id,
        "failedAt": {"step": "StartChangeSet"},
        "error": {"Error": "DeployError", "Cause": '{"errorMessage": "stack notes-dev: no"}'},
    })

    recorded = cloud.get_deployment("notes", "dev", deployment.id)
    assert (state["status"], recorded.status, recorded.step) == ("FAILED", DeploymentStatus.FAILED, "StartChangeSet")
    assert recorded.error == "DeployError: stack notes-dev: no"
    assert cloud.get_stage("notes", "dev").lock is None and cloud.open_work(EXEC) == []


def test_given_a_deploy_that_never_began_when_abandoned_then_a_failed_deployment_says_why(cloud, tasks):
    number = built(cloud)
    state = tasks["tasks.deploy"].abandon_deploy_step({
        "app": "notes", "stage": "dev", "build": number, "kind": "deploy", "trigger": {"type": "push"},
        "failedAt": {"step": "BeginDeploy"}, "error": {"Error": "StageBusy", "Cause": "deployment 000001 holds it"},
    })
    [failed] = cloud.list_deployments("notes", "dev")[0]
    assert (failed.id, failed.status, failed.step) == (state["deploymentId"], DeploymentStatus.FAILED, "BeginDeploy")
    assert "StageBusy" in failed.error


def test_given_an_execution_that_ended_badly_when_finalized_then_what_it_left_open_is_closed_once(cloud, tasks):
    open_build, _ = cloud.record_build("notes", "c-open", "main", execution=EXEC)
    number = built(cloud, "c-done")
    deployment = cloud.begin_deployment("notes", "dev", number, "deploy", {}, execution=EXEC)
    detail = {"executionArn": EXEC, "status": "ABORTED", "error": "States.Aborted", "cause": "x" * 2000}

    first = tasks["finalize"].finalize(detail)
    again = tasks["finalize"].finalize(detail)

    assert sorted(first["closed"]) == [f"build notes#{open_build.number}", f"deployment notes/dev/{deployment.id}"]
    assert again["closed"] == []
    build = cloud.get_build("notes", open_build.number)
    assert (build.status, build.failure["step"], build.failure["error"]) == (BuildStatus.FAILED, "Execution", "ABORTED")
    closed = cloud.get_deployment("notes", "dev", deployment.id)
    assert closed.status is DeploymentStatus.FAILED and len(closed.error) < 700
    assert cloud.get_stage("notes", "dev").lock is None


def test_given_a_succeeded_execution_when_finalized_then_nothing_is_touched(cloud, tasks):
    assert tasks["finalize"].finalize({"executionArn": EXEC, "status": "SUCCEEDED"})["closed"] == []


def test_given_a_commit_that_cannot_be_read_when_recorded_then_the_build_is_failed_naming_why(cloud, tasks, monkeypatch):
    build_tasks = tasks["tasks.build"]

    def unreadable(repository, commit):
        raise SourceError(f"cannot read commit {commit} of repository {repository}: CommitDoesNotExistException")

    monkeypatch.setattr(build_tasks.build_steps.commits, "commit_info", unreadable)
    recorded = build_tasks.record_build_step({"app": "notes", "repository": "notes", "commitId": "f" * 40, "branch": "main"}, EXEC)

    build = cloud.get_build("notes", recorded["number"])
    assert (recorded["status"], build.failure["step"]) == ("FAILED", "RecordBuild")
    assert "CommitDoesNotExistException" in build.failure["cause"] and cloud.open_work(EXEC) == []


def test_given_a_quarantined_build_when_a_deploy_begins_without_force_then_it_is_refused_naming_force(cloud, tasks):
    number = built(cloud)
    cloud.quarantine("notes", number, {"stage": "prod", "reason": "5xx alarm"})
    with pytest.raises(BuildNotDeployable) as refused:
        tasks["tasks.deploy"].begin_deploy_step({"app": "notes", "stage": "prod", "build": number, "kind": "promote"}, EXEC)
    assert refused.value.field == "force"
    assert cloud.get_stage("notes", "prod").lock is None


def test_given_a_task_input_without_a_key_its_contract_requires_then_the_task_names_it(tasks):
    """GIVEN AbandonDeploy's input without ``failedAt`` (AbandonInput requires it) WHEN checked as the
    task's envelope checks it THEN InvalidInput names the key, before the step reads anything; a key
    the contract lets be null (BuildTarget's ``branch``) passes the check."""
    from sprout.handlers.contracts import AbandonInput, BuildTarget
    from sprout.handlers.tasks.common import check_input, contract_of

    assert contract_of(tasks["tasks.deploy"].abandon_deploy_step) is AbandonInput  # what task() checks with
    event = {"app": "notes", "stage": "dev", "build": 1, "error": {"Error": "X", "Cause": ""}}
    with pytest.raises(InvalidInput) as refused:
        check_input(event, AbandonInput)
    assert refused.value.field == "failedAt"
    check_input({"app": "notes", "repository": "notes", "commitId": "c", "branch": None, "deployStages": [],
                 "trigger": {"type": "user"}}, BuildTarget)


def test_given_the_teardown_function_when_a_step_is_unknown_or_lacks_its_key_then_it_is_named(cloud):
    """GIVEN the teardown machine's one function (each state names its step) WHEN handed a step it
    does not serve, or CheckStack's input without ``attempt`` (TeardownAttempt requires it) THEN
    InvalidInput names ``step`` or ``attempt``, before any step runs."""
    teardown = importlib.import_module("sprout.handlers.tasks.teardown")
    dispatch = teardown.lambda_handler.logic
    with pytest.raises(InvalidInput) as unknown:
        dispatch({"step": "deleteEverything", "app": "notes", "stage": "dev"})
    assert unknown.value.field == "step"
    with pytest.raises(InvalidInput) as lacking:
        dispatch({"step": "checkStack", "app": "notes", "stage": "dev"})
    assert lacking.value.field == "attempt"
    assert set(dispatch.steps) == {"prepare", "deleteStack", "checkStack", "cleanUp", "finish", "failed", "finishApp"}


def test_given_cache_dependencies_handed_a_build_that_is_not_one_then_it_names_builds(tasks):
    """GIVEN CacheDependencies' input whose builds list holds a string (not a dependency build)
    WHEN the step runs
    THEN InvalidInput names ``builds`` before anything is kept (not an AttributeError)."""
    with pytest.raises(InvalidInput) as refused:
        tasks["tasks.build"].cache_dependencies_step({"app": "notes", "number": 1, "builds": ["dependency-builds/x"]})
    assert refused.value.field == "builds"
