"""A deployment's record follows the stack: SettleDeploy (after a deploy task failed mid-update),
StartChangeSet (a failed first deploy's stack deleted, saying so), the failure's cause, and the
reconcile check (the finalizer's and ``POST .../reconcile``'s) — called in-process against moto's
DynamoDB on the table template.yaml declares, with the stage's stack played by an in-memory fake."""

from __future__ import annotations

import importlib
from datetime import UTC, datetime, timedelta

import pytest

from sprout.adapters.stacks import Progress
from sprout.domain.model import BuildStatus, DeploymentStatus
from sprout.services.deploy import SETTLE_LIMIT
from tests.unit.sprout.lineage_table import notes_lineage_on_moto

TABLE, BUCKET = "sprout-unit-truth", "sprout-unit-truth-artifacts"
EXEC = "arn:aws:states:us-east-1:123456789012:execution:sprout-deploy:truth"
CS1, CS2 = "arn:cs/one", "arn:cs/two"


@pytest.fixture
def cloud(monkeypatch):
    yield from notes_lineage_on_moto(monkeypatch, TABLE, BUCKET)


@pytest.fixture
def deploy(cloud):
    return importlib.import_module("sprout.handlers.tasks.deploy")


class FakeStacks:
    """The stage's stack as StageStacks reads it: a status, the change set it last executed, aliases."""

    def __init__(self, status="UPDATE_COMPLETE", change_set=CS2, aliases=None, settled=None):
        self.status, self.change_set, self.aliases = status, change_set, aliases or {}
        self.settled = list(settled or [])

    def describe(self, stack):
        if self.status is None:
            return None
        return {"StackId": f"arn:stack/{stack}", "StackName": stack, "StackStatus": self.status,
                "ChangeSetId": self.change_set}

    def settle(self, stack, change_set_id):
        return self.settled.pop(0) if len(self.settled) > 1 else self.settled[0]

    def live_versions(self, stack):
        return dict(self.aliases)

    def cause(self, found):
        return {"stackStatus": found["StackStatus"], "advice": "continue the rollback"}


def built(lineage, commit: str) -> int:
    build, _ = lineage.record_build("notes", commit, "main", "m", "a")
    return lineage.finish_build("notes", build.number, BuildStatus.SUCCEEDED, template_key="templates/t").number


def deployed(lineage, commit: str, versions: dict, change_set: str) -> str:
    """Build ``commit`` and record it deployed to dev through ``change_set``: its deployment id."""
    number = built(lineage, commit)
    d = lineage.begin_deployment("notes", "dev", number, "deploy", {"type": "push"}, execution=EXEC)
    lineage.annotate_deployment("notes", "dev", d.id, change_set=change_set)
    lineage.finish_deployment("notes", "dev", d.id, DeploymentStatus.SUCCEEDED, versions=versions)
    return d.id


def settle_input(lineage, number: int) -> dict:
    d = lineage.begin_deployment("notes", "dev", number, "deploy", {"type": "push"}, execution=EXEC)
    lineage.annotate_deployment("notes", "dev", d.id, change_set=CS2)
    return {"app": "notes", "stage": "dev", "build": number, "deploymentId": d.id, "status": "IN_PROGRESS",
            "stackName": "notes-dev", "changeSetId": CS2, "failedAt": {"step": "CheckDeploy"},
            "error": {"Error": "Runtime.ExitError", "Cause": '{"errorMessage": "signal: killed"}'}}


# ---- SettleDeploy -----------------------------------------------------------------------------------


def test_given_check_deploy_was_killed_mid_update_when_settling_then_it_waits_and_records_what_the_stack_ran(
        cloud, deploy, monkeypatch):
    deployed(cloud, "c1", {"Fn": "1"}, CS1)
    stacks = FakeStacks(aliases={"Fn": "2"}, settled=[Progress("IN_PROGRESS"), Progress("SUCCEEDED")])
    monkeypatch.setattr(deploy.deploys, "stacks", stacks)
    state = settle_input(cloud, built(cloud, "c2"))

    first = deploy.settle_deploy_step(state)
    lease_held = cloud.get_stage("notes", "dev").lock
    second = deploy.settle_deploy_step(first)

    assert first["status"] == "IN_PROGRESS" and first["settlingSince"] and lease_held is not None
    assert "error" not in first and "signal: killed" in first["taskFailure"]
    assert second["status"] == "SUCCEEDED" and second["versions"] == {"Fn": "2"}
    recorded = cloud.get_deployment("notes", "dev", state["deploymentId"])
    assert (recorded.status, recorded.versions) == (DeploymentStatus.SUCCEEDED, {"Fn": "2"})
    assert cloud.current_deployment("notes", "dev").id == recorded.id
    assert cloud.get_stage("notes", "dev").lock is None and cloud.open_work(EXEC) == []


def test_given_a_stack_that_failed_when_settling_then_the_deployment_fails_with_the_cause_and_the_task_failure(
        cloud, deploy, monkeypatch):
    deployed(cloud, "c1", {"Fn": "1"}, CS1)
    cause = {"stackStatus": "UPDATE_ROLLBACK_COMPLETE", "logicalId": "Fn", "type": "AWS::Lambda::Function",
             "reason": "code too large"}
    monkeypatch.setattr(deploy.deploys, "stacks", FakeStacks(settled=[Progress("FAILED", "stack rolled back", cause=cause)]))
    state = settle_input(cloud, built(cloud, "c2"))

    out = deploy.settle_deploy_step(state)

    recorded = cloud.get_deployment("notes", "dev", state["deploymentId"])
    assert out["status"] == "FAILED" and recorded.status is DeploymentStatus.FAILED
    assert (recorded.step, recorded.cause) == ("SettleDeploy", cause)
    assert "stack rolled back" in recorded.error and "CheckDeploy failed meanwhile" in recorded.error
    assert cloud.current_deployment("notes", "dev").build == 1  # what the stack runs, still


def test_given_a_stack_still_in_progress_past_the_limit_when_settling_then_it_gives_up_saying_to_reconcile(
        cloud, deploy, monkeypatch):
    monkeypatch.setattr(deploy.deploys, "stacks", FakeStacks(settled=[Progress("IN_PROGRESS")]))
    state = settle_input(cloud, built(cloud, "c1"))
    state["settlingSince"] = (datetime.now(UTC) - SETTLE_LIMIT - timedelta(seconds=1)).isoformat()

    out = deploy.settle_deploy_step(state)

    assert out["status"] == "FAILED" and "reconcile" in out["error"]
    assert cloud.get_stage("notes", "dev").lock is None


# ---- StartChangeSet ---------------------------------------------------------------------------------


def test_given_a_failed_first_deploy_when_the_next_change_set_starts_then_the_deployment_notes_the_deletion(
        cloud, deploy, monkeypatch):
    monkeypatch.setattr(deploy.deploys, "deploy_role", lambda: "arn:aws:iam::123456789012:role/deploy")
    monkeypatch.setattr(deploy.deploys.templates, "get_template", lambda key: "Resources: {}")
    monkeypatch.setattr(deploy.deploys.templates, "template_url", lambda key: "s3://b/t")

    class Stacks:
        def clear_failed_first_deploy(self, stack, on_delete):
            on_delete(f"deleted stack {stack} left in ROLLBACK_COMPLETE by a failed first deploy (Table failed)")

        def start(self, stack, url, parameters, role, tags=None):
            return CS2

    monkeypatch.setattr(deploy.deploys, "stacks", Stacks())
    number = built(cloud, "c1")
    d = cloud.begin_deployment("notes", "dev", number, "deploy", {"type": "push"}, execution=EXEC)

    out = deploy.start_change_set_step({"app": "notes", "stage": "dev", "build": number, "deploymentId": d.id,
                                        "status": "IN_PROGRESS"})

    recorded = cloud.get_deployment("notes", "dev", d.id)
    assert out["changeSetId"] == CS2 and recorded.change_set == CS2
    assert recorded.notes == ("deleted stack notes-dev left in ROLLBACK_COMPLETE by a failed first deploy (Table failed)",)


# ---- reconcile --------------------------------------------------------------------------------------


def test_given_a_deployment_recorded_failed_whose_change_set_the_stack_ran_when_reconciled_then_it_is_repaired(cloud):
    from sprout.services.reconcile import reconcile

    deployed(cloud, "c1", {"Fn": "1"}, CS1)
    state = settle_input(cloud, built(cloud, "c2"))  # its change set, CS2, is what the stack ran
    cloud.finish_deployment("notes", "dev", state["deploymentId"], DeploymentStatus.FAILED, error="CheckDeploy died")

    answer = reconcile("notes", "dev", cloud, FakeStacks(change_set=CS2, aliases={"Fn": "2"}))
    again = reconcile("notes", "dev", cloud, FakeStacks(change_set=CS2, aliases={"Fn": "2"}))

    assert answer["record"]["build"] == 1 and answer["aliases"] == {"Fn": "2"} and answer["consistent"] is False
    assert answer["repaired"] == [{"deployment": state["deploymentId"], "build": 2, "was": "FAILED",
                                   "now": "SUCCEEDED", "versions": {"Fn": "2"}, "current": True}]
    current = cloud.current_deployment("notes", "dev")
    assert (current.id, current.versions, current.reconciled["was"]["status"]) == (state["deploymentId"], {"Fn": "2"}, "FAILED")
    assert again["consistent"] is True and again["repaired"] == []


def test_given_aliases_moved_back_to_an_earlier_deployment_when_reconciled_then_that_one_is_current(cloud):
    from sprout.services.reconcile import reconcile

    first = deployed(cloud, "c1", {"Fn": "1"}, CS1)
    deployed(cloud, "c2", {"Fn": "2"}, CS2)

    answer = reconcile("notes", "dev", cloud, FakeStacks(change_set=CS2, aliases={"Fn": "1"}))

    assert [r["deployment"] for r in answer["repaired"]] == [first]
    assert cloud.current_deployment("notes", "dev").id == first


def test_given_a_deployment_holding_the_stage_when_reconciled_then_it_only_reports(cloud):
    from sprout.services.reconcile import reconcile

    deployed(cloud, "c1", {"Fn": "1"}, CS1)
    state = settle_input(cloud, built(cloud, "c2"))  # holds the stage
    cloud.finish_deployment("notes", "dev", state["deploymentId"], DeploymentStatus.FAILED, error="x")
    holder = cloud.begin_deployment("notes", "dev", 2, "deploy", {"type": "push"}, execution=EXEC + "2")

    answer = reconcile("notes", "dev", cloud, FakeStacks(change_set=CS2, aliases={"Fn": "2"}))

    assert answer["repaired"] == [] and f"deployment {holder.id} holds the stage" in answer["message"]
    assert cloud.current_deployment("notes", "dev").build == 1


def test_given_aliases_no_deployment_recorded_when_reconciled_then_it_says_so_and_changes_nothing(cloud):
    from sprout.services.reconcile import reconcile

    deployed(cloud, "c1", {"Fn": "1"}, CS1)
    answer = reconcile("notes", "dev", cloud, FakeStacks(change_set=CS1, aliases={"Fn": "9"}))
    assert answer["consistent"] is False and answer["repaired"] == [] and "no deployment" in answer["message"]


def test_given_a_stack_whose_rollback_failed_when_reconciled_then_the_answer_says_what_to_do(cloud):
    from sprout.services.reconcile import reconcile

    deployed(cloud, "c1", {"Fn": "1"}, CS1)
    answer = reconcile("notes", "dev", cloud, FakeStacks(status="UPDATE_ROLLBACK_FAILED", change_set=CS2, aliases={"Fn": "1"}))
    assert answer["consistent"] is True and answer["stack"]["cause"]["advice"] == "continue the rollback"


def test_given_an_execution_that_ended_mid_deploy_when_finalized_then_the_stage_is_checked_against_its_stack(
        cloud, monkeypatch):
    finalize = importlib.import_module("sprout.handlers.finalize")
    deployed(cloud, "c1", {"Fn": "1"}, CS1)
    state = settle_input(cloud, built(cloud, "c2"))
    monkeypatch.setattr(finalize.wiring, "stacks", lambda: FakeStacks(change_set=CS2, aliases={"Fn": "2"}))

    out = finalize.finalize({"executionArn": EXEC, "status": "TIMED_OUT", "error": "States.Timeout"})

    assert out["closed"] == [f"deployment notes/dev/{state['deploymentId']}"]
    assert out["reconciled"][0]["repaired"][0]["deployment"] == state["deploymentId"]
    assert cloud.current_deployment("notes", "dev").id == state["deploymentId"]
    assert cloud.get_stage("notes", "dev").lock is None
