"""Delivery rules (sprout.domain.pipeline), the change set (sprout.domain.changeset) and the syntax
check (sprout.domain.syntax): pure, no AWS."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from sprout.domain import changeset
from sprout.domain.errors import BuildNotDeployable, InvalidInput, NothingToRollBackTo, PackagingError
from sprout.domain.model import (
    App,
    Build,
    BuildStatus,
    Deployment,
    DeploymentKind,
    DeploymentStatus,
    FunctionArtifact,
    StageLock,
    StageSpec,
)
from sprout.domain.pipeline import (
    DEFAULT_STAGES,
    check_deployable,
    check_stages,
    iso,
    promote_source_stage,
    rollback_target,
    stage_stacks,
    superseded,
    takeover_reason,
)
from sprout.domain.syntax import check_function
from tests.archives import zip_of

NOW = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)


def build(number=1, status=BuildStatus.SUCCEEDED, functions=(), quarantined=None, template_key="t") -> Build:
    return Build("notes", number, f"c{number}", "main", status, functions=tuple(functions),
                 template_key=template_key, quarantined=quarantined)


def deployment(id_: str, number: int, status=DeploymentStatus.SUCCEEDED, versions=None) -> Deployment:
    return Deployment("notes", "prod", id_, number, DeploymentKind.PROMOTE, status, {},
                      versions={"F": "1"} if versions is None else versions)


# ---- stages and names ------------------------------------------------------------------------------


def test_given_no_stages_then_dev_follows_main_and_prod_is_promote_only():
    assert check_stages(()) == DEFAULT_STAGES


@pytest.mark.parametrize("stages", [(StageSpec("a"), StageSpec("a")), (StageSpec("dev", auto_deploy=True),)])
def test_given_duplicate_or_branchless_auto_deploy_stages_then_stages_is_named(stages):
    with pytest.raises(InvalidInput) as e:
        check_stages(stages)
    assert e.value.field == "stages"


def test_given_an_app_then_each_stage_gets_its_stack_and_a_name_cloudformation_refuses_is_named():
    assert stage_stacks(App("notes", "r", stages=DEFAULT_STAGES)) == {"dev": "notes-dev", "prod": "notes-prod"}
    with pytest.raises(InvalidInput):
        stage_stacks(App("notes_x", "r", stages=(StageSpec("dev"),)))


# ---- what may deploy --------------------------------------------------------------------------------


def test_given_a_failed_or_quarantined_build_then_it_does_not_deploy_unless_forced():
    with pytest.raises(BuildNotDeployable) as failed:
        check_deployable(build(status=BuildStatus.FAILED), "prod")
    assert failed.value.field == "build"
    quarantined = build(quarantined={"stage": "prod", "reason": "5xx alarm"})
    with pytest.raises(BuildNotDeployable) as held:
        check_deployable(quarantined, "prod")
    assert held.value.field == "force" and "5xx alarm" in str(held.value)
    check_deployable(quarantined, "prod", force=True)


def test_given_a_push_whose_history_the_stage_runs_past_then_it_is_superseded_and_a_promote_never_is():
    assert superseded(DeploymentKind.DEPLOY, {"type": "push"}, True) is True
    assert superseded(DeploymentKind.DEPLOY, {"type": "push"}, False) is False
    assert superseded(DeploymentKind.PROMOTE, {"type": "push"}, True) is False
    assert superseded(DeploymentKind.DEPLOY, {"type": "user"}, True) is False


def test_given_a_pipeline_then_a_promote_takes_its_build_from_the_stage_before():
    app = App("notes", "r", stages=(StageSpec("dev", "main", True), StageSpec("qa"), StageSpec("prod")))
    assert promote_source_stage(app, "prod").name == "qa"
    assert promote_source_stage(app, "qa").name == "dev"
    with pytest.raises(InvalidInput) as first:
        promote_source_stage(app, "dev")
    assert first.value.field == "build"


# ---- rollback target -----------------------------------------------------------------------------------


def test_given_a_history_then_the_rollback_target_is_the_newest_good_deployment_of_another_build():
    history = [deployment("000005", 3), deployment("000004", 3, DeploymentStatus.FAILED), deployment("000003", 3),
               deployment("000002", 2), deployment("000001", 1)]
    assert rollback_target(history, history[0]).id == "000002"


def test_given_a_quarantined_build_in_the_history_then_the_default_rollback_target_skips_it():
    # GIVEN prod on build 4; before it build 3 (quarantined by an alarm), build 2, build 1
    history = [deployment("000004", 4), deployment("000003", 3), deployment("000002", 2), deployment("000001", 1)]
    # WHEN the default target is chosen THEN build 3 is passed over for build 2
    assert rollback_target(history, history[0], quarantined=lambda n: n == 3).id == "000002"
    # AND when every earlier build is quarantined there is nothing to go back to by default
    with pytest.raises(NothingToRollBackTo, match="not quarantined"):
        rollback_target(history, history[0], quarantined=lambda n: n < 4)


def test_given_a_quarantined_build_when_rolled_back_to_by_name_then_force_is_needed():
    # GIVEN build 3, quarantined after an alarm on prod
    quarantined = build(3, quarantined={"stage": "prod", "reason": "5xx alarm"})
    # WHEN a rollback (or promote) names it without force THEN 400 naming force
    with pytest.raises(InvalidInput) as refused:
        check_deployable(quarantined, "prod")
    assert refused.value.field == "force" and "quarantined" in str(refused.value)
    # AND with force it may go
    check_deployable(quarantined, "prod", force=True)


def test_given_nothing_earlier_then_rolling_back_is_refused_with_the_reason():
    only = deployment("000001", 1)
    with pytest.raises(NothingToRollBackTo):
        rollback_target([only], only)
    with pytest.raises(NothingToRollBackTo, match="never been deployed"):
        rollback_target([], None)


# ---- the stage lock's lease --------------------------------------------------------------------------------


def lock(expires: datetime) -> StageLock:
    return StageLock("000003", "arn:exec", iso(NOW - timedelta(minutes=1)), iso(expires))


def test_given_a_lock_then_it_holds_while_its_holder_runs_within_the_lease():
    assert takeover_reason(lock(NOW + timedelta(minutes=5)), NOW, True) is None
    assert takeover_reason(lock(NOW + timedelta(minutes=5)), NOW, None) is None


def test_given_a_lock_whose_holder_ended_or_whose_lease_ran_out_then_it_may_be_taken_over_saying_why():
    assert "has ended" in takeover_reason(lock(NOW + timedelta(minutes=5)), NOW, False)
    assert "lease" in takeover_reason(lock(NOW - timedelta(seconds=1)), NOW, True)


# ---- change sets ------------------------------------------------------------------------------------------

CONFIG = {"Handler": "a.main", "Runtime": "python3.13", "MemorySize": 128, "Environment": {"Variables": {"K": "v"}}}


def fn(lid: str, sha: str, **config) -> FunctionArtifact:
    return FunctionArtifact(lid, sha, f"artifacts/{sha}.zip", {**CONFIG, **config})


def template(**resources) -> dict:
    return {"Resources": {"Table": {"Type": "AWS::DynamoDB::Table", "Properties": {"BillingMode": "PAY_PER_REQUEST"}},
                          **resources}}


def test_given_an_empty_stage_then_everything_is_added_and_needs_a_confirm():
    cs = changeset.compute("prod", None, None, None, build(1, functions=[fn("A", "1" * 64)]), template())
    assert [(c.kind, c.logical_id) for c in cs.changes] == [("function-added", "A"), ("resource-added", "Table")]
    assert cs.confirm_required and cs.id == "prod.none.build-1"


def test_given_only_code_changed_then_the_change_is_minor_and_names_both_hashes():
    before, after = build(1, functions=[fn("A", "1" * 64)]), build(2, functions=[fn("A", "2" * 64)])
    cs = changeset.compute("prod", "000004", before, template(), after, template())
    [change] = cs.changes
    assert (change.cls, change.kind, change.before, change.after) == ("minor", "code-changed", "1" * 64, "2" * 64)
    assert not cs.confirm_required and cs.id == "prod.000004.build-2"


def test_given_environment_and_runtime_changes_then_they_are_major_and_values_are_masked():
    before = build(1, functions=[fn("A", "1" * 64)])
    after = build(2, functions=[fn("A", "1" * 64, Runtime="python3.12", Environment={"Variables": {"K": "secret"}})])
    cs = changeset.compute("prod", "000001", before, template(), after, template())
    details = {c.detail.split()[0]: c for c in cs.changes}
    assert details["Runtime"].cls == "major" and details["environment"].cls == "major"
    assert "secret" not in details["environment"].detail and "K changed (value masked)" in details["environment"].detail
    assert cs.confirm_required


def test_given_resources_modified_or_iam_changed_then_they_are_classed():
    before_t = template(Role={"Type": "AWS::IAM::Role", "Properties": {"Policies": []}})
    after_t = template(Role={"Type": "AWS::IAM::Role", "Properties": {"Policies": [{"PolicyName": "x"}]}})
    after_t["Resources"]["Table"]["Properties"]["BillingMode"] = "PROVISIONED"
    cs = changeset.compute("prod", "000001", build(1), before_t, build(2), after_t)
    classes = {c.logical_id: (c.kind, c.cls) for c in cs.changes}
    assert classes == {"Role": ("resource-modified", "major"), "Table": ("resource-modified", "minor")}


# ---- syntax -------------------------------------------------------------------------------------------------


def test_given_a_python_handler_with_a_syntax_error_then_packaging_names_function_file_and_line():
    with pytest.raises(PackagingError, match=r"CreateFn: functions/create/app.py, line 2: "):
        check_function("CreateFn", "python3.13", zip_of({"app.py": "x = 1\ndef f(:\n"}), "functions/create", None)
    assert check_function("CreateFn", "python3.13", zip_of({"app.py": "x = 1\n"}), "", None) == 1


def test_given_a_node_handler_then_the_checker_is_asked_and_its_answer_named():
    seen = []

    def checker(name, source):
        seen.append(name)
        return (3, "SyntaxError: Unexpected token")

    with pytest.raises(PackagingError, match=r"Fn: index.mjs, line 3: SyntaxError: Unexpected token"):
        check_function("Fn", "nodejs20.x", zip_of({"index.mjs": "x", "node_modules/y/z.js": "("}), "", checker)
    assert seen == ["index.mjs"]


# ---- hands-off rollback ----------------------------------------------------------------------------------

from sprout.domain.pipeline import alarm_decision  # noqa: E402


def watched(kind=DeploymentKind.PROMOTE, started=NOW - timedelta(minutes=2)) -> Deployment:
    return Deployment("notes", "prod", "000004", 2, kind, DeploymentStatus.SUCCEEDED, {}, started_at=iso(started))


def test_given_a_promote_that_ran_before_the_breach_then_the_alarm_rolls_back():
    assert alarm_decision(watched(), NOW - timedelta(seconds=30), None, NOW) is None


@pytest.mark.parametrize(
    ("current", "last_rollback", "why"),
    [
        (None, None, "runs nothing"),
        (watched(kind=DeploymentKind.AUTO_ROLLBACK), None, "never rolls back a rollback"),
        (watched(kind=DeploymentKind.ROLLBACK), None, "never rolls back a rollback"),
        (watched(started=NOW - timedelta(seconds=5)), None, "after the alarm's breaching data"),
        (watched(), NOW - timedelta(minutes=1), "cooling down"),
    ],
)
def test_given_a_reason_not_to_act_then_the_alarm_is_recorded_with_it(current, last_rollback, why):
    assert why in alarm_decision(current, NOW - timedelta(seconds=30), last_rollback, NOW)


def test_given_the_cool_down_has_passed_then_the_alarm_acts_again():
    assert alarm_decision(watched(), NOW - timedelta(seconds=30), NOW - timedelta(minutes=6), NOW) is None
