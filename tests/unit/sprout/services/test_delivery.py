"""Promote and rollback by hand (sprout.services.delivery) against in-memory fakes of the
lineage, the templates and Step Functions: the branches — a stage held, a stale or unconfirmed
change set, a quarantined build, a build from the stage's own branch, an execution that cannot
start, nothing to roll back to — and the happy paths, with what one promote reads."""

from __future__ import annotations

import pytest

from sprout.domain.errors import (
    BuildNotDeployable,
    DeployError,
    InvalidInput,
    NothingToRollBackTo,
    StageBusy,
    StaleChangeSet,
)
from sprout.domain.model import DeploymentKind, DeploymentStatus
from sprout.services.delivery import Delivery
from tests.unit.sprout.services.fakes import (
    MACHINE,
    NOTES,
    FakeExecutions,
    FakeLineage,
    FakeRepositories,
    FakeTemplates,
)

TEMPLATE = "Resources: {}\n"


@pytest.fixture
def world():
    lineage = FakeLineage(NOTES)
    templates = FakeTemplates()
    executions = FakeExecutions()
    delivery = Delivery(lineage, templates, executions, FakeRepositories(),
                        promote_machine=MACHINE.format("promote"), rollback_machine=MACHINE.format("rollback"))
    return lineage, templates, executions, delivery


def built(lineage, templates, commit, **kwargs):
    build = lineage.add_build("notes", commit, **kwargs)
    if build.template_key:
        templates.templates[build.template_key] = TEMPLATE
    return build


def test_promote_of_what_dev_runs_starts_one_execution_holding_prod_and_reads_each_thing_once(world):
    """GIVEN dev runs build 1 and prod never ran anything
    WHEN build 1 is promoted to prod (no build named) with its change set confirmed
    THEN one promote execution starts for a deployment holding prod, naming the change set;
    AND the build, the app, the stage and the template were each read once."""
    lineage, templates, executions, delivery = world
    b1 = built(lineage, templates, "c1")
    lineage.deploy("notes", "dev", b1)
    lineage.reads.clear()

    started = delivery.promote("notes", "prod", None, "prod.none.build-1", False, "alice")

    assert lineage.reads == ["app notes", "stage notes/prod",  # the check
                             "stage notes/dev", "build notes#1",  # what dev runs: the build to promote
                             "stage notes/prod"]  # what prod runs (the change set's other side)
    assert templates.gets == [b1.template_key]
    [(machine, name, payload)] = executions.started
    assert machine == MACHINE.format("promote") and name.startswith("notes-prod-promote-")
    assert started.execution.endswith(f":execution:sprout-promote:{name}")
    assert payload["deploymentId"] == started.deployment.id and payload["build"] == 1
    assert payload["trigger"] == {"type": "user", "by": "alice", "changesetId": "prod.none.build-1"}
    assert lineage.get_stage("notes", "prod").lock.deployment == started.deployment.id


def test_a_major_change_set_not_confirmed_is_refused_with_the_fresh_change_set(world):
    """GIVEN prod never ran anything (every function is new: a major change)
    WHEN build 1 is promoted to prod without a changesetId
    THEN StaleChangeSet carries the change set to confirm, and nothing starts."""
    lineage, templates, executions, delivery = world
    built(lineage, templates, "c1")
    with pytest.raises(StaleChangeSet) as e:
        delivery.promote("notes", "prod", 1, None, False, "alice")
    assert "major changes" in str(e.value) and e.value.changeset["changesetId"] == "prod.none.build-1"
    assert e.value.changeset["confirmRequired"] is True
    assert executions.started == [] and lineage.get_stage("notes", "prod").lock is None


def test_a_stale_change_set_is_refused_with_the_fresh_one(world):
    """GIVEN prod runs build 1
    WHEN build 2 is promoted with the change set reviewed before prod ran anything
    THEN StaleChangeSet names the change set sent and carries the fresh one."""
    lineage, templates, executions, delivery = world
    lineage.deploy("notes", "prod", built(lineage, templates, "c1"))
    built(lineage, templates, "c2")
    with pytest.raises(StaleChangeSet) as e:
        delivery.promote("notes", "prod", 2, "prod.none.build-2", False, "alice")
    assert "prod.none.build-2" in str(e.value) and e.value.changeset["changesetId"] == "prod.000001.build-2"
    assert executions.started == []


def test_a_stage_that_moved_between_the_change_set_and_the_lock_is_a_stale_change_set(world):
    """GIVEN prod runs build 1, and a deploy finishes on prod right after the change set was judged
    WHEN build 2 is promoted with the change set it was judged against
    THEN StaleChangeSet carries the change set against what prod runs now; nothing starts."""
    lineage, templates, executions, delivery = world
    b1 = built(lineage, templates, "c1")
    lineage.deploy("notes", "prod", b1)
    built(lineage, templates, "c2")
    begin = lineage.begin_deployment

    def moved_first(*args, **kwargs):
        lineage.begin_deployment = begin
        lineage.deploy("notes", "prod", b1)  # deployment 000002 lands in between
        return begin(*args, **kwargs)

    lineage.begin_deployment = moved_first
    with pytest.raises(StaleChangeSet) as e:
        delivery.promote("notes", "prod", 2, "prod.000001.build-2", False, "alice")
    assert "review the fresh change set" in str(e.value) and e.value.changeset["changesetId"] == "prod.000002.build-2"
    assert executions.started == []


def test_a_held_stage_refuses_the_promote_naming_the_holder(world):
    """GIVEN prod is held by a deploy whose execution still runs
    WHEN a build is promoted to prod
    THEN StageBusy names the holder, and no execution starts."""
    lineage, templates, executions, delivery = world
    b1 = built(lineage, templates, "c1")
    executions.running.add("arn:holder")
    holder = lineage.deploy("notes", "prod", b1, status=DeploymentStatus.IN_PROGRESS, execution="arn:holder")
    with pytest.raises(StageBusy) as e:
        delivery.promote("notes", "prod", 1, "prod.none.build-1", False, "alice")
    assert e.value.holder == {"deployment": holder.id, "execution": "arn:holder"}
    assert executions.started == []


def test_a_quarantined_build_promotes_only_with_force(world):
    """GIVEN build 1 was quarantined by an alarm on prod
    WHEN it is promoted without force, then with force
    THEN the first is refused naming ``force``, the second starts."""
    lineage, templates, executions, delivery = world
    built(lineage, templates, "c1", quarantined={"stage": "prod", "reason": "5xx"})
    with pytest.raises(BuildNotDeployable) as e:
        delivery.promote("notes", "prod", 1, "prod.none.build-1", False, "alice")
    assert e.value.field == "force" and executions.started == []
    delivery.promote("notes", "prod", 1, "prod.none.build-1", True, "alice")
    assert len(executions.started) == 1


def test_a_build_of_the_stages_own_branch_is_not_promoted_to_it(world):
    """GIVEN dev auto-deploys main and build 1 follows main
    WHEN build 1 is promoted to dev
    THEN the request is refused naming ``stage``."""
    lineage, templates, _, delivery = world
    built(lineage, templates, "c1")
    with pytest.raises(InvalidInput) as e:
        delivery.promote("notes", "dev", 1, None, False, "alice")
    assert e.value.field == "stage" and "comes from stage" in str(e.value)


def test_an_execution_that_cannot_start_leaves_its_deployment_failed_and_the_stage_free(world):
    """GIVEN Step Functions refuses to start the execution
    WHEN build 1 is promoted to prod
    THEN DeployError says so, the deployment is FAILED at StartExecution and prod is free."""
    lineage, templates, executions, delivery = world
    built(lineage, templates, "c1")
    executions.fail = RuntimeError("throttled")
    with pytest.raises(DeployError):
        delivery.promote("notes", "prod", 1, "prod.none.build-1", False, "alice")
    [d] = lineage.deployments[("notes", "prod")]
    assert (d.status, d.step) == (DeploymentStatus.FAILED, "StartExecution")
    assert lineage.get_stage("notes", "prod").lock is None


def test_a_rollback_by_hand_goes_back_to_the_previous_good_build_through_the_rollback_machine(world):
    """GIVEN prod ran build 1, then build 2
    WHEN a person rolls prod back
    THEN a rollback execution starts for build 1 with the versions recorded then; its trigger names the target."""
    lineage, templates, executions, delivery = world
    first = lineage.deploy("notes", "prod", built(lineage, templates, "c1"))
    lineage.deploy("notes", "prod", built(lineage, templates, "c2"))

    started = delivery.rollback("notes", "prod", None, "bob")

    [(machine, name, payload)] = executions.started
    assert machine == MACHINE.format("rollback") and name.startswith("notes-prod-rollback-")
    assert (payload["build"], payload["kind"], payload["versions"]) == (1, "rollback", first.versions)
    assert payload["trigger"] == {"type": "user", "by": "bob", "target": first.id}
    assert started.deployment.kind is DeploymentKind.ROLLBACK


def test_a_rollback_skips_a_quarantined_build_unless_named_with_force(world):
    """GIVEN prod ran build 1, build 2 (since quarantined), then build 3
    WHEN prod is rolled back without naming a build, then to build 2 without and with force
    THEN the first goes back to build 1, build 2 is refused without force and accepted with it."""
    lineage, templates, executions, delivery = world
    lineage.deploy("notes", "prod", built(lineage, templates, "c1"))
    b2 = lineage.deploy("notes", "prod", built(lineage, templates, "c2"))
    lineage.deploy("notes", "prod", built(lineage, templates, "c3"))
    lineage.quarantine("notes", 2, {"stage": "prod", "reason": "5xx"})

    assert delivery.rollback("notes", "prod", None, "bob").deployment.build == 1
    lineage.finish_deployment("notes", "prod", "000004", DeploymentStatus.FAILED)  # release the stage
    with pytest.raises(BuildNotDeployable):
        delivery.rollback("notes", "prod", 2, "bob")
    assert delivery.rollback("notes", "prod", 2, "bob", force=True).deployment.trigger["target"] == b2.id


def test_a_rollback_with_nothing_to_go_back_to_is_refused(world):
    """GIVEN prod ran only build 1, and build 2 never ran there
    WHEN prod is rolled back, then rolled back to build 2
    THEN both are refused (NothingToRollBackTo), and nothing starts."""
    lineage, templates, executions, delivery = world
    lineage.deploy("notes", "prod", built(lineage, templates, "c1"))
    built(lineage, templates, "c2")
    with pytest.raises(NothingToRollBackTo):
        delivery.rollback("notes", "prod", None, "bob")
    with pytest.raises(NothingToRollBackTo) as e:
        delivery.rollback("notes", "prod", 2, "bob")
    assert "never ran on stage" in str(e.value) and executions.started == []


def test_the_change_set_reads_the_template_every_stage_runs_once(world):
    """GIVEN dev and prod both run build 1
    WHEN the change set of build 2 to prod is asked for
    THEN build 1's template is read once (prod's current and dev's, the same), and build 2's once."""
    lineage, templates, _, delivery = world
    b1 = built(lineage, templates, "c1")
    lineage.deploy("notes", "dev", b1)
    lineage.deploy("notes", "prod", b1)
    b2 = built(lineage, templates, "c2")
    view = delivery.changeset("notes", "prod", 2)
    assert view["changesetId"] == "prod.000001.build-2" and view["commits"] == [{"commitId": "c2"}]
    assert sorted(templates.gets) == sorted([b1.template_key, b2.template_key])


def test_redeploy_starts_a_config_deployment_of_the_build_the_stage_runs_and_the_change_set_shows_configuration(world):
    """GIVEN dev runs build 1 and a configuration hook (settings) WHEN dev's change set of build 1
    is asked, and dev is redeployed THEN the change set carries the hook's configuration; one
    promote execution starts for a deployment of kind config of build 1; a stage that runs nothing
    is refused naming the stage."""
    lineage, templates, executions, _ = world
    seen = []

    def configuration(app, stage, template):
        seen.append((app, stage, template))
        return {"changes": [{"key": "Language", "source": "setting", "before": "en", "after": "fr"}]}

    delivery = Delivery(lineage, templates, executions, FakeRepositories(), promote_machine=MACHINE.format("promote"),
                        rollback_machine=MACHINE.format("rollback"), configuration=configuration)
    b1 = built(lineage, templates, "c1")
    lineage.deploy("notes", "dev", b1)
    shown = delivery.changeset("notes", "dev", 1)
    assert shown["configuration"]["changes"][0]["after"] == "fr" and seen == [("notes", "dev", {"Resources": {}})]

    started = delivery.redeploy("notes", "dev", "alice")
    assert (started.deployment.kind, started.deployment.build) == (DeploymentKind.CONFIG, 1)
    machine, _, payload = executions.started[-1]
    assert machine == MACHINE.format("promote") and payload["kind"] == "config"
    with pytest.raises(InvalidInput) as e:
        delivery.redeploy("notes", "prod", "alice")
    assert e.value.field == "stage"
