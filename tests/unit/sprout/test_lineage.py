"""The lineage repository against moto's in-process DynamoDB, on the table template.yaml declares."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import uuid
from collections import Counter
from datetime import timedelta

import boto3
import pytest
from moto import mock_aws
from moto.dynamodb.responses import DynamoHandler
from pynamodb.exceptions import UpdateError

import sprout.adapters.lineage as lineage_mod
from sprout.adapters.lineage import items as items_mod
from sprout.domain.errors import (
    AppAlreadyExists,
    AppNotFound,
    BuildNotFound,
    Conflict,
    InvalidInput,
    StackNameTaken,
    StageBusy,
    StageMoved,
    StageNotFound,
)
from sprout.domain.model import (
    App,
    BuildStatus,
    DeploymentKind,
    DeploymentStatus,
    FunctionArtifact,
    StageSpec,
)
from tests.unit.sprout.lineage_table import table_properties

TABLE = "sprout-unit-lineage"


def serialize_dynamodb_requests(monkeypatch) -> None:
    """DynamoDB serializes conflicting transactions; moto's in-process backend does not (it deep-copies
    tables while other threads write). One DynamoDB request at a time restores AWS's guarantee."""
    one_at_a_time = threading.Lock()
    call_action = DynamoHandler.call_action

    def serialized(self):
        with one_at_a_time:
            return call_action(self)

    monkeypatch.setattr(DynamoHandler, "call_action", serialized)


@pytest.fixture
def lineage(monkeypatch):
    for var in ("AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_DYNAMODB"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("TABLE_NAME", TABLE)
    serialize_dynamodb_requests(monkeypatch)
    lineage_mod.reset_connections()
    with mock_aws():
        boto3.client("dynamodb", region_name="us-east-1").create_table(TableName=TABLE, **table_properties())
        yield lineage_mod.Lineage()
    lineage_mod.reset_connections()


def new_app(lineage, repository="notes", stages=None) -> App:
    name = f"notes-{uuid.uuid4().hex[:8]}"
    stages = stages or (StageSpec("dev", branch="main", auto_deploy=True), StageSpec("prod"))
    return lineage.create_app(App(name=name, repository=repository, stages=tuple(stages)))


def succeeded_build(lineage, app: App, commit: str | None = None):
    build, _ = lineage.record_build(app.name, commit or uuid.uuid4().hex, "main", "a change", "dev")
    return lineage.finish_build(app.name, build.number, BuildStatus.SUCCEEDED)


def run_threads(n: int, target) -> list:
    results: list = [None] * n
    barrier = threading.Barrier(n)

    def run(i):
        barrier.wait()
        try:
            results[i] = target(i)
        except Exception as e:  # collected and asserted on by the test
            results[i] = e

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    return results


# ---- apps --------------------------------------------------------------------------------------


def test_given_a_new_app_when_created_then_it_reads_back_and_is_listed(lineage):
    app = new_app(lineage)
    assert lineage.get_app(app.name) == app
    assert app.created_at.endswith("Z")
    assert app.name in [a.name for a in lineage.list_apps()]


def test_given_an_existing_app_when_created_again_then_app_already_exists(lineage):
    app = new_app(lineage)
    with pytest.raises(AppAlreadyExists, match=app.name):
        lineage.create_app(App(name=app.name, repository="other"))


def test_given_no_such_app_when_read_then_app_not_found_names_it(lineage):
    with pytest.raises(AppNotFound, match="ghost"):
        lineage.get_app("ghost")
    with pytest.raises(InvalidInput, match="name"):
        lineage.create_app(App(name="bad#name", repository="notes"))


def test_given_apps_on_a_repository_when_asked_for_a_branch_then_only_stages_following_it_in_pipeline_order(lineage):
    repo = f"repo-{uuid.uuid4().hex[:6]}"
    one = new_app(lineage, repo, (StageSpec("dev", "main", True), StageSpec("qa", "main", False), StageSpec("prod")))
    two = new_app(lineage, repo, (StageSpec("feature", "feat", True),))
    new_app(lineage, "elsewhere")

    following = lineage.stages_following(repo, "main")

    assert [(a.name, s.name) for a, s in following] == [(one.name, "dev"), (one.name, "qa")]
    assert following[0][1] == StageSpec("dev", "main", True)
    assert [(a.name, s.name) for a, s in lineage.stages_following(repo, "feat")] == [(two.name, "feature")]
    assert lineage.stages_following(repo, "nobody") == []


# ---- builds ------------------------------------------------------------------------------------


def test_given_commits_when_recorded_then_numbers_count_up_from_one(lineage):
    app = new_app(lineage)
    builds = [lineage.record_build(app.name, f"c{i}", "main", f"change {i}", "ana") for i in range(3)]
    assert [(b.number, created) for b, created in builds] == [(1, True), (2, True), (3, True)]
    first = builds[0][0]
    assert (first.commit_id, first.branch, first.message, first.author, first.status) == (
        "c0", "main", "change 0", "ana", BuildStatus.BUILDING
    )


def test_given_a_recorded_commit_when_recorded_again_then_the_same_build_comes_back_not_created(lineage):
    app = new_app(lineage)
    first, created = lineage.record_build(app.name, "abc", "main", "m", "a")
    again, created_again = lineage.record_build(app.name, "abc", "main", "m", "a")
    assert created and not created_again
    assert again == first
    assert lineage.get_build_by_commit(app.name, "abc") == first


def test_given_eight_threads_recording_one_commit_then_exactly_one_build_exists(lineage):
    app = new_app(lineage)
    results = run_threads(8, lambda i: lineage.record_build(app.name, "same-commit", "main", "m", f"t{i}"))

    assert not [r for r in results if isinstance(r, Exception)], results
    assert sorted(created for _, created in results) == [False] * 7 + [True]
    assert {build.number for build, _ in results} == {1}
    builds, _ = lineage.list_builds(app.name)
    assert [b.number for b in builds] == [1]


def test_given_eight_threads_recording_different_commits_then_numbers_have_no_gaps(lineage):
    app = new_app(lineage)
    results = run_threads(8, lambda i: lineage.record_build(app.name, f"commit-{i}", "main", "m", "a"))

    assert not [r for r in results if isinstance(r, Exception)], results
    assert sorted(build.number for build, _ in results) == list(range(1, 9))
    assert Counter(build.commit_id for build, _ in results) == Counter(f"commit-{i}" for i in range(8))


def test_given_a_build_when_finished_then_its_outcome_is_kept_and_finishing_twice_the_same_way_is_a_no_op(lineage):
    app = new_app(lineage)
    build, _ = lineage.record_build(app.name, "c1", "main", "m", "a")
    fn = FunctionArtifact("Create", "ab" * 32, f"artifacts/{'ab' * 32}.zip", {"Handler": "create.main", "MemorySize": 128})

    done = lineage.finish_build(app.name, build.number, "SUCCEEDED", functions=[fn], template_key="templates/x")

    assert done.status is BuildStatus.SUCCEEDED and done.finished_at
    assert done.functions == (fn,) and done.template_key == "templates/x"
    assert lineage.get_build(app.name, build.number) == done
    assert lineage.finish_build(app.name, build.number, BuildStatus.SUCCEEDED, functions=[fn]) == done
    with pytest.raises(Conflict, match="already finished as SUCCEEDED"):
        lineage.finish_build(app.name, build.number, BuildStatus.FAILED, failure={"step": "package"})


def test_given_a_failed_build_then_its_failure_reads_back(lineage):
    app = new_app(lineage)
    build, _ = lineage.record_build(app.name, "c1", "main", "m", "a")
    failure = {"step": "package", "error": "PackagingError", "cause": "template.yaml not found"}
    assert lineage.finish_build(app.name, build.number, BuildStatus.FAILED, failure=failure).failure == failure


def test_given_missing_builds_when_read_then_build_not_found(lineage):
    app = new_app(lineage)
    with pytest.raises(BuildNotFound, match="build 9"):
        lineage.get_build(app.name, 9)
    with pytest.raises(BuildNotFound, match="nope"):
        lineage.get_build_by_commit(app.name, "nope")
    with pytest.raises(BuildNotFound):
        lineage.finish_build(app.name, 9, BuildStatus.SUCCEEDED)


def test_given_thirty_builds_when_listed_in_pages_then_newest_first_without_overlap(lineage):
    app = new_app(lineage)
    for i in range(30):
        lineage.record_build(app.name, f"c{i}", "main", "m", "a")

    first, token = lineage.list_builds(app.name, limit=12)
    second, token2 = lineage.list_builds(app.name, limit=12, next_token=token)
    third, token3 = lineage.list_builds(app.name, limit=12, next_token=token2)

    assert [b.number for b in first] == list(range(30, 18, -1))
    assert [b.number for b in second] == list(range(18, 6, -1))
    assert [b.number for b in third] == list(range(6, 0, -1))
    assert token and token2 and token3 is None
    exact, none_left = lineage.list_builds(app.name, limit=30)
    assert len(exact) == 30 and none_left is None


def test_given_a_bad_token_or_limit_when_listing_then_invalid_input_names_the_field(lineage):
    app = new_app(lineage)
    with pytest.raises(InvalidInput, match="nextToken"):
        lineage.list_builds(app.name, next_token="not-a-token")
    with pytest.raises(InvalidInput, match="limit"):
        lineage.list_builds(app.name, limit=0)


def test_given_a_token_of_one_listing_when_given_to_another_then_400_next_token_and_its_own_still_works(lineage):
    # GIVEN two apps with builds, and a token of the first app's builds
    one, two = new_app(lineage), new_app(lineage)
    for app in (one, two):
        for i in range(3):
            lineage.record_build(app.name, f"c{i}", "main", "m", "a")
    d = lineage.begin_deployment(one.name, "dev", succeeded_build(lineage, one), "deploy", {"type": "push"})
    lineage.finish_deployment(one.name, "dev", d.id, "SUCCEEDED")
    _, token = lineage.list_builds(one.name, limit=1)
    # WHEN the other app's builds, or the first app's deployments, are asked with it THEN 400 nextToken
    for call in (lambda: lineage.list_builds(two.name, limit=1, next_token=token),
                 lambda: lineage.list_deployments(one.name, "dev", limit=1, next_token=token)):
        with pytest.raises(InvalidInput) as refused:
            call()
        assert refused.value.field == "nextToken" and "another listing" in str(refused.value)
    # AND it still works for its own listing
    second, _ = lineage.list_builds(one.name, limit=1, next_token=token)
    assert [b.number for b in second] == [3]


def test_given_builds_of_one_commit_in_two_apps_then_the_commit_index_finds_both(lineage):
    one, two = new_app(lineage), new_app(lineage)
    lineage.record_build(one.name, "shared", "main", "m", "a")
    lineage.record_build(two.name, "shared", "main", "m", "a")
    assert sorted(b.app for b in lineage.builds_of_commit("shared")) == sorted([one.name, two.name])


# ---- stages and deployments --------------------------------------------------------------------


def test_given_a_free_stage_when_a_deployment_begins_then_it_is_in_progress_and_holds_the_lock(lineage):
    app = new_app(lineage)
    build = succeeded_build(lineage, app)

    deployment = lineage.begin_deployment(app.name, "dev", build, DeploymentKind.DEPLOY, {"type": "push"})

    assert (deployment.id, deployment.status, deployment.replaces, deployment.build) == (
        "000001", DeploymentStatus.IN_PROGRESS, None, build.number
    )
    stage = lineage.get_stage(app.name, "dev")
    assert stage.lock.deployment == "000001" and stage.current_deployment is None
    with pytest.raises(StageBusy, match="000001"):
        lineage.begin_deployment(app.name, "dev", build, "deploy", {"type": "user"})


def test_given_a_finished_deployment_then_the_stage_is_free_and_points_at_it(lineage):
    app = new_app(lineage)
    build = succeeded_build(lineage, app)
    started = lineage.begin_deployment(app.name, "dev", build, "deploy", {"type": "push"})

    done = lineage.finish_deployment(app.name, "dev", started.id, "SUCCEEDED", versions={"Create": "3"})

    assert done.status is DeploymentStatus.SUCCEEDED and done.versions == {"Create": "3"} and done.finished_at
    stage = lineage.get_stage(app.name, "dev")
    assert (stage.lock, stage.current_deployment) == (None, started.id)
    assert lineage.current_deployment(app.name, "dev") == done
    assert lineage.finish_deployment(app.name, "dev", started.id, "SUCCEEDED") == done  # a retried call
    nxt = lineage.begin_deployment(app.name, "dev", build, "rollback", {"type": "user"})
    assert (nxt.id, nxt.replaces) == ("000002", started.id)


def test_given_a_failed_deployment_then_the_lock_is_released_and_the_current_one_stays(lineage):
    app = new_app(lineage)
    build = succeeded_build(lineage, app)
    good = lineage.begin_deployment(app.name, "dev", build, "deploy", {"type": "push"})
    lineage.finish_deployment(app.name, "dev", good.id, DeploymentStatus.SUCCEEDED)
    bad = lineage.begin_deployment(app.name, "dev", build, "deploy", {"type": "push"})

    failed = lineage.finish_deployment(app.name, "dev", bad.id, DeploymentStatus.FAILED, error="UpdateFunctionCode failed")

    assert failed.error == "UpdateFunctionCode failed"
    stage = lineage.get_stage(app.name, "dev")
    assert (stage.lock, stage.current_deployment) == (None, good.id)


def test_given_a_promote_judged_against_a_deployment_when_the_stage_moved_on_then_it_is_refused_and_nothing_written(lineage):
    # GIVEN prod ran deployment 1 when a change set was reviewed, and a second deployment finished since
    app = new_app(lineage)
    build = succeeded_build(lineage, app)
    first = lineage.begin_deployment(app.name, "prod", build, "promote", {"type": "user"})
    lineage.finish_deployment(app.name, "prod", first.id, DeploymentStatus.SUCCEEDED)
    second = lineage.begin_deployment(app.name, "prod", build, "promote", {"type": "user"}, expect_current=first.id)
    lineage.finish_deployment(app.name, "prod", second.id, DeploymentStatus.SUCCEEDED)

    # WHEN a promote judged against deployment 1 takes the lock THEN it is refused: the stage moved on
    with pytest.raises(StageMoved, match=f"now runs deployment {second.id}, not {first.id}"):
        lineage.begin_deployment(app.name, "prod", build, "promote", {"type": "user"}, expect_current=first.id)
    # AND nothing was written: the stage is free, still on deployment 2, and no third deployment exists
    stage = lineage.get_stage(app.name, "prod")
    assert (stage.lock, stage.current_deployment) == (None, second.id)
    assert [d.id for d in lineage.list_deployments(app.name, "prod", limit=10)[0]] == [second.id, first.id]
    # AND a stage that never ran anything is expected as None
    assert lineage.begin_deployment(app.name, "dev", build, "deploy", {"type": "push"}, expect_current=None).id == "000001"


def test_given_many_deployments_when_listed_then_newest_first_in_pages(lineage):
    app = new_app(lineage)
    build = succeeded_build(lineage, app)
    for _ in range(7):
        d = lineage.begin_deployment(app.name, "dev", build, "deploy", {"type": "push"})
        lineage.finish_deployment(app.name, "dev", d.id, "SUCCEEDED")

    page, token = lineage.list_deployments(app.name, "dev", limit=5)
    rest, end = lineage.list_deployments(app.name, "dev", limit=5, next_token=token)

    assert [d.id for d in page] == ["000007", "000006", "000005", "000004", "000003"]
    assert [d.id for d in rest] == ["000002", "000001"] and end is None
    assert [d.replaces for d in page[:2]] == ["000006", "000005"]


def test_given_eight_threads_deploying_one_stage_then_one_holds_it_and_the_others_are_busy(lineage):
    app = new_app(lineage)
    build = succeeded_build(lineage, app)

    results = run_threads(8, lambda i: lineage.begin_deployment(app.name, "prod", build, "promote", {"type": "user", "n": i}))

    started = [r for r in results if not isinstance(r, Exception)]
    assert len(started) == 1, results
    assert all(isinstance(r, StageBusy) for r in results if isinstance(r, Exception)), results
    stage = lineage.get_stage(app.name, "prod")
    assert stage.lock.deployment == started[0].id == "000001"
    assert [d.id for d in lineage.list_deployments(app.name, "prod")[0]] == ["000001"]


def test_given_a_stale_stage_when_written_then_the_version_attribute_refuses_it(lineage):
    app = new_app(lineage)
    key = (items_mod.app_pk(app.name), items_mod.stage_sk("dev"))
    mine = items_mod.StageItem.get(*key, consistent_read=True)
    theirs = items_mod.StageItem.get(*key, consistent_read=True)
    theirs.update(actions=[items_mod.StageItem.lock.set("000042")])

    with pytest.raises(UpdateError) as refused:
        mine.update(actions=[items_mod.StageItem.lock.set("000043")])

    assert refused.value.cause_response_code == "ConditionalCheckFailedException"
    assert lineage.get_stage(app.name, "dev").lock.deployment == "000042"
    assert lineage.get_stage(app.name, "dev").version == mine.version + 1


def test_given_deployments_of_a_build_then_each_stage_names_its_newest_one(lineage):
    app = new_app(lineage)
    b1, b2 = succeeded_build(lineage, app), succeeded_build(lineage, app)
    for stage, build in (("dev", b1), ("dev", b2), ("prod", b1), ("dev", b1)):
        d = lineage.begin_deployment(app.name, stage, build, "deploy", {"type": "user"})
        lineage.finish_deployment(app.name, stage, d.id, "SUCCEEDED")

    where = lineage.deployments_of_build(app.name, b1.number)

    assert {stage: d.id for stage, d in where.items()} == {"dev": "000003", "prod": "000001"}
    assert {stage: d.id for stage, d in lineage.deployments_of_build(app.name, b2.number).items()} == {"dev": "000002"}
    assert lineage.deployments_of_build(app.name, 99) == {}


def test_given_missing_things_when_deploying_then_the_error_names_them(lineage):
    app = new_app(lineage)
    with pytest.raises(StageNotFound, match="staging"):
        lineage.begin_deployment(app.name, "staging", 1, "deploy", {})
    with pytest.raises(BuildNotFound, match="build 5"):
        lineage.begin_deployment(app.name, "dev", 5, "deploy", {})
    assert lineage.get_stage(app.name, "dev").lock is None
    with pytest.raises(AppNotFound):
        lineage.get_stage("ghost", "dev")
    assert lineage.current_deployment(app.name, "dev") is None


def test_given_aws_endpoint_url_then_pynamodb_talks_to_that_endpoint(monkeypatch):
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:4566")
    monkeypatch.setenv("TABLE_NAME", TABLE)
    monkeypatch.delenv("AWS_ENDPOINT_URL_DYNAMODB", raising=False)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    lineage_mod.reset_connections()
    try:
        client = items_mod.BuildItem._get_connection().connection.client
        assert client.meta.endpoint_url == "http://127.0.0.1:4566"
        assert items_mod.BuildItem.Meta.host is None  # botocore's default resolution, not a setting of ours
    finally:
        lineage_mod.reset_connections()


def test_given_no_table_name_when_the_lineage_is_used_then_it_fails_naming_the_setting():
    env = {k: v for k, v in os.environ.items() if k != "TABLE_NAME"}
    code = "import sprout.adapters.lineage as l; l.Lineage().get_app('x')"
    result = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert result.returncode != 0
    assert "TABLE_NAME is not set" in result.stderr


# ---- stage lock: holder, lease, take-over -------------------------------------------------------


def test_given_a_lock_whose_holder_runs_and_whose_lease_holds_then_the_stage_is_busy_naming_the_holder(lineage):
    app = new_app(lineage)
    build = succeeded_build(lineage, app)
    held = lineage.begin_deployment(app.name, "dev", build.number, "deploy", {"type": "push"}, execution="arn:exec:one")

    with pytest.raises(StageBusy) as busy:
        lineage.begin_deployment(app.name, "dev", build.number, "promote", {"type": "user"}, execution="arn:exec:two",
                                 holder_running=lambda arn: True)

    assert busy.value.holder["deployment"] == held.id and busy.value.holder["execution"] == "arn:exec:one"
    lock = lineage.get_stage(app.name, "dev").lock
    assert (lock.deployment, lock.execution) == (held.id, "arn:exec:one") and lock.expires_at > lock.since


def test_given_a_lock_whose_execution_has_ended_when_another_deploys_then_it_takes_over_and_both_say_so(lineage):
    app = new_app(lineage)
    build = succeeded_build(lineage, app)
    stale = lineage.begin_deployment(app.name, "dev", build.number, "deploy", {"type": "push"}, execution="arn:exec:dead")
    asked = []

    def running(arn):
        asked.append(arn)
        return False

    # WHEN a new deployment finds the holder's execution ended
    fresh = lineage.begin_deployment(app.name, "dev", build.number, "deploy", {"type": "push"}, execution="arn:exec:new",
                                     holder_running=running)

    # THEN it holds the stage, records what it took over, and the stale deployment is closed FAILED
    assert asked == ["arn:exec:dead"]
    assert fresh.took_over["deployment"] == stale.id and "has ended" in fresh.took_over["reason"]
    old = lineage.get_deployment(app.name, "dev", stale.id)
    assert old.status is DeploymentStatus.FAILED and f"taken over by deployment {fresh.id}" in old.error
    assert lineage.get_stage(app.name, "dev").lock.deployment == fresh.id
    assert lineage.open_work("arn:exec:dead") == []


def test_given_a_lock_whose_lease_ran_out_then_it_is_taken_over_even_when_the_holder_is_unknown(lineage):
    app = new_app(lineage)
    build = succeeded_build(lineage, app)
    stale = lineage.begin_deployment(app.name, "dev", build.number, "deploy", {}, execution="arn:exec:slow",
                                     lease=timedelta(seconds=-1))

    fresh = lineage.begin_deployment(app.name, "dev", build.number, "deploy", {}, holder_running=lambda arn: None)

    assert "lease" in fresh.took_over["reason"] and fresh.took_over["deployment"] == stale.id


def test_given_a_held_lock_when_its_lease_is_renewed_then_it_moves_on_and_a_former_holder_cannot_renew(lineage):
    app = new_app(lineage)
    build = succeeded_build(lineage, app)
    held = lineage.begin_deployment(app.name, "dev", build.number, "deploy", {}, lease=timedelta(seconds=5))
    before = lineage.get_stage(app.name, "dev").lock.expires_at

    assert lineage.renew_lease(app.name, "dev", held.id, timedelta(minutes=10)) is True
    assert lineage.get_stage(app.name, "dev").lock.expires_at > before
    lineage.finish_deployment(app.name, "dev", held.id, "SUCCEEDED")
    assert lineage.renew_lease(app.name, "dev", held.id) is False


# ---- open work: what an execution left open -----------------------------------------------------


def test_given_an_execution_that_opened_a_build_and_a_deployment_then_its_open_work_lists_both_until_closed(lineage):
    app = new_app(lineage)
    build, _ = lineage.record_build(app.name, "c-open", "main", execution="arn:exec:b")
    done = lineage.finish_build(app.name, build.number, BuildStatus.SUCCEEDED)
    other, _ = lineage.record_build(app.name, "c-open-2", "main", execution="arn:exec:b")
    deployment = lineage.begin_deployment(app.name, "dev", done.number, "deploy", {}, execution="arn:exec:b")

    open_work = lineage.open_work("arn:exec:b")

    assert sorted((w.kind, w.build, w.deployment) for w in open_work) == [
        ("build", other.number, None), ("deployment", done.number, deployment.id)]
    lineage.finish_build(app.name, other.number, BuildStatus.FAILED, failure={"step": "Execution"})
    lineage.finish_deployment(app.name, "dev", deployment.id, DeploymentStatus.FAILED, error="aborted", step="Execution")
    assert lineage.open_work("arn:exec:b") == []
    assert lineage.get_stage(app.name, "dev").lock is None


def test_given_a_deployment_that_could_not_start_then_it_is_recorded_failed_and_the_lock_untouched(lineage):
    app = new_app(lineage)
    build = succeeded_build(lineage, app)
    holder = lineage.begin_deployment(app.name, "dev", build.number, "deploy", {})

    failed = lineage.record_failed_start(app.name, "dev", build.number, "deploy", {"type": "push"},
                                         error="StageBusy: deployment 000001 holds it", step="BeginDeploy")

    assert (failed.status, failed.step, failed.id) == (DeploymentStatus.FAILED, "BeginDeploy", "000002")
    assert lineage.get_stage(app.name, "dev").lock.deployment == holder.id


# ---- stack names ---------------------------------------------------------------------------------


def test_given_two_apps_whose_stage_stacks_clash_when_registered_then_the_second_is_refused_naming_the_first(lineage):
    suffix = uuid.uuid4().hex[:6]
    lineage.create_app(App(f"cola{suffix}", "repo", stages=(StageSpec("b-dev"),)))

    with pytest.raises(StackNameTaken) as taken:
        lineage.create_app(App(f"cola{suffix}-b", "repo", stages=(StageSpec("dev"),)))

    assert f"cola{suffix}-b-dev" in str(taken.value) and f"app cola{suffix}'s stage b-dev" in str(taken.value)
    with pytest.raises(AppNotFound):
        lineage.get_app(f"cola{suffix}-b")  # nothing of the refused app was written


def test_given_eight_threads_registering_clashing_names_then_exactly_one_wins(lineage):
    suffix = uuid.uuid4().hex[:6]
    specs = [App(f"x{suffix}" + "-a" * i, "repo", stages=(StageSpec("a-" * (7 - i) + "dev"),)) for i in range(8)]

    results = run_threads(8, lambda i: lineage.create_app(specs[i]))

    won = [r for r in results if not isinstance(r, Exception)]
    assert len(won) == 1, results
    assert all(isinstance(r, (StackNameTaken, Conflict)) for r in results if isinstance(r, Exception)), results


def test_given_a_cached_dependency_set_when_recorded_then_its_object_and_digest_are_read_back_and_a_new_build_replaces_them(lineage):
    key = "d" * 64
    assert lineage.dependencies_digest(key) is None  # not cached: PlanDependencies builds it
    first = lineage.record_dependencies(key, f"dependencies/{key}/{'1' * 64}.zip", "1" * 64, "greeter", 1, "p:1")
    assert lineage.dependencies_digest(key) == first
    # built again (its object was deleted): the newest record names the newest object
    second = lineage.record_dependencies(key, f"dependencies/{key}/{'2' * 64}.zip", "2" * 64, "other", 4)
    assert lineage.dependencies_digest(key) == second != first
