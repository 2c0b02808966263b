"""Starting and reading builds (sprout.services.builds), registering apps (sprout.services.apps)
and watching a stage (sprout.services.stages) against in-memory fakes: the branches the API's
integration tests only touch — an unknown branch or commit, an execution that cannot start, a
stage stack Sprout does not own, a rollback that replaced a build, a deployment id that is not one."""

from __future__ import annotations

import pytest

from sprout.domain.errors import InvalidInput, NotFound, StackNameTaken, StageNotFound
from sprout.domain.model import App, BuildStatus, DeploymentKind, StageSpec
from sprout.services.apps import Apps
from sprout.services.builds import Builds
from sprout.services.stages import Stages
from tests.unit.sprout.services.fakes import (
    MACHINE,
    NOTES,
    FakeExecutions,
    FakeLineage,
    FakeRepositories,
    FakeStacks,
    FakeTemplates,
)


@pytest.fixture
def world():
    lineage, executions = FakeLineage(NOTES), FakeExecutions()
    source = FakeRepositories({"main": "c-main"})
    return lineage, executions, Builds(lineage, source, executions, FakeTemplates(), build_machine=MACHINE.format("build"))


def test_a_build_of_a_branch_is_numbered_before_its_execution_starts(world):
    """GIVEN the app's repository has main at c-main
    WHEN a person starts a build of main
    THEN build 1 of c-main is recorded as the open work of the execution started for it."""
    lineage, executions, builds = world
    started = builds.start_requested("notes", "main", None, {"type": "user", "by": "alice"})
    [(machine, name, payload)] = executions.started
    assert (started["build"], started["commit"], started["branch"]) == (1, "c-main", "main")
    assert started["execution"].endswith(f":execution:sprout-build:{name}")
    assert payload == {"source": "sprout.api", "app": "notes", "branch": "main", "commitId": "c-main",
                       "trigger": {"type": "user", "by": "alice"}}
    assert lineage.builds[("notes", 1)].execution == started["execution"]


@pytest.mark.parametrize("branch, commit, field", [("nope", None, "branch"), (None, "c-unknown", "commit")])
def test_an_unknown_branch_or_commit_is_a_404_naming_the_field(world, branch, commit, field):
    """GIVEN a repository without that branch or commit
    WHEN a build of it is asked for
    THEN NotFound names the field, and nothing is recorded or started."""
    lineage, executions, builds = world
    with pytest.raises(NotFound) as e:
        builds.start_requested("notes", branch, commit, {"type": "user"})
    assert e.value.field == field and executions.started == [] and lineage.builds == {}


def test_a_build_whose_execution_cannot_start_is_closed_failed(world):
    """GIVEN Step Functions refuses the execution
    WHEN a build is started
    THEN the error comes out and the build is FAILED at StartBuild: nothing is left open."""
    lineage, executions, builds = world
    executions.fail = RuntimeError("throttled")
    with pytest.raises(RuntimeError):
        builds.start_requested("notes", "main", None, {"type": "user"})
    build = lineage.builds[("notes", 1)]
    assert build.status is BuildStatus.FAILED and build.failure["step"] == "StartBuild"


def test_a_build_a_rollback_replaced_says_where_it_was_rolled_back_from(world):
    """GIVEN prod ran build 1, then build 2, then was rolled back (by an alarm) to build 1
    WHEN build 2 and build 1 are read
    THEN build 2 was rolled back from prod and is live nowhere; build 1 is live on prod."""
    lineage, _, builds = world
    b1, b2 = lineage.add_build("notes", "c1"), lineage.add_build("notes", "c2")
    lineage.deploy("notes", "prod", b1)
    lineage.deploy("notes", "prod", b2)
    lineage.deploy("notes", "prod", b1, kind=DeploymentKind.AUTO_ROLLBACK)
    two, one = builds.detail("notes", 2), builds.detail("notes", 1)
    assert (two.rolled_back_from, two.live_on) == (["prod"], [])
    assert (one.rolled_back_from, one.live_on) == ([], ["prod"])
    assert [(b.number, live) for b, live in builds.listing("notes", 25, None)[0]] == [(2, []), (1, ["prod"])]


def test_a_lockfile_the_build_did_not_resolve_is_a_404_naming_the_manifest(world):
    """GIVEN build 1 resolved no lockfile
    WHEN its lockfile is asked for
    THEN NotFound names ``manifest`` and says what it resolved (none)."""
    lineage, _, builds = world
    lineage.add_build("notes", "c1")
    with pytest.raises(NotFound) as e:
        builds.lockfile("notes", 1, "fn/package.json")
    assert e.value.field == "manifest" and "(it resolved: none)" in str(e.value)


def apps(lineage, existing=(), repositories=("notes-repo",)):
    source = FakeRepositories({"main": "c-main"}, repositories)
    builds = Builds(lineage, source, FakeExecutions(), FakeTemplates(), build_machine=MACHINE.format("build"))
    return Apps(lineage, source, FakeStacks(existing), builds, own_stack="sprout")


def test_registering_an_app_builds_the_branches_its_stages_follow_that_exist(world):
    """GIVEN a repository with main (not release)
    WHEN an app whose dev follows main and whose qa follows release is registered
    THEN it is recorded, and one build of main is started, by the person who registered it."""
    lineage = FakeLineage()
    app = App("orders", "notes-repo", stages=(StageSpec("dev", "main", True), StageSpec("qa", "release", True)))
    created, started = apps(lineage).register(app, "alice")
    assert created == app and lineage.apps["orders"] == app
    assert [(s["branch"], s["build"]) for s in started] == [("main", 1)]


@pytest.mark.parametrize("stage, existing, message", [
    ("out", ("orders-out",), "is a stack Sprout does not own"),
    ("x", (), "is Sprout's own stack"),
    ("x-dev", (), "begins with orders-x-, the names of Sprout's own resources"),
])
def test_a_stage_stack_sprout_does_not_own_is_refused(stage, existing, message):
    """GIVEN a stack ``orders-out`` no app claimed, or Sprout's own stack named ``orders-x``
    WHEN an app whose stage stack has that name (or begins with ``orders-x-``) is registered
    THEN StackNameTaken names the stack, and nothing is recorded."""
    lineage = FakeLineage()
    service = apps(lineage, existing)
    service.own_stack = "orders-x"
    with pytest.raises(StackNameTaken) as e:
        service.register(App("orders", "notes-repo", stages=(StageSpec(stage),)), "alice")
    assert f"orders-{stage}" in str(e.value) and message in str(e.value) and lineage.apps == {}


def test_an_unknown_repository_is_refused_naming_repository():
    """GIVEN no such repository
    WHEN an app naming it is registered
    THEN InvalidInput names ``repository``."""
    with pytest.raises(InvalidInput) as e:
        apps(FakeLineage(), repositories=()).register(App("orders", "nope"), "alice")
    assert e.value.field == "repository"


def test_the_heads_say_which_branch_has_a_build():
    """GIVEN dev follows main (built) and the app has no other branch
    WHEN the heads are read
    THEN main's head names its build."""
    lineage = FakeLineage(NOTES)
    lineage.add_build("notes", "c-main")
    assert apps(lineage).heads("notes") == [{"branch": "main", "commit": "c-main", "build": 1}]


def test_a_stage_reads_its_record_next_to_its_stack():
    """GIVEN prod runs build 1 on an existing stack
    WHEN the stage is read, then a deployment by an id that is not one, then on an unknown stage
    THEN the state names the build, the functions and the stack; the id is refused naming ``id``
    only once the stage is known."""
    lineage = FakeLineage(NOTES)
    lineage.deploy("notes", "prod", lineage.add_build("notes", "c1"))
    stages = Stages(lineage, FakeStacks(("notes-prod",)))
    state = stages.state("notes", "prod")
    assert (state.build.number, state.function_names, state.stack) == (
        1, {"Fn": "notes-prod-Fn"}, {"status": "UPDATE_COMPLETE", "reason": None})
    assert stages.deployment("notes", "prod", "1").id == "000001"
    with pytest.raises(InvalidInput) as e:
        stages.deployment("notes", "prod", "²")
    assert e.value.field == "id"
    with pytest.raises(StageNotFound):
        stages.deployment("notes", "qa", "²")
