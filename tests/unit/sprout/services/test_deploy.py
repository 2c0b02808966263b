"""The deploy path's use case (sprout.services.deploy.Deploys) against in-memory fakes: a push's deploy
to a stage with a canary or linear strategy takes it (recorded on the deployment before the machine
acts on it) when the stage already runs a build, and walks the same canary loop a promote does; a
first deploy, a stage without a strategy, a promote or a rollback go all at once; a deploy execution
that ends mid-canary has its weights removed, its deployment closed and the stage freed."""

from __future__ import annotations

from typing import Any

import pytest

from sprout.domain.canary import parse_strategy
from sprout.domain.errors import InvalidInput, StageNotFound
from sprout.domain.model import App, DeploymentKind, DeploymentStatus, StageSpec
from sprout.services.canary import Canary
from sprout.services.deploy import Deploys, stage_strategy
from sprout.services.stages import Stages
from tests.unit.sprout.services.fakes import FakeLineage
from tests.unit.sprout.services.test_canary import NAMES, Clock, FakeNames, FakeSignal, FakeTraffic

EXEC = "arn:aws:states:us-east-1:123456789012:execution:sprout-deploy:push-1"
CANARY = parse_strategy({"type": "canary", "percent": 10, "intervalSeconds": 10}).view()
APP = App("notes", "notes-repo", stages=(StageSpec("dev", "main", True, strategy=CANARY), StageSpec("prod", strategy=CANARY),
                                        StageSpec("qa", "main", True)))


class Unused:
    """A port the case never reaches."""

    def __getattr__(self, name: str) -> Any:
        raise AssertionError(f"{name} was not expected")


class History:
    def descends_from(self, repository: str, commit_id: str, ancestor_id: str) -> bool:
        return False


def deploys(lineage: FakeLineage) -> Deploys:
    return Deploys(lineage, Unused(), Unused(), History(), Unused(), lambda arn: False, lambda: "arn:role/deploy")


@pytest.fixture
def world():
    """dev runs build 1 (Create, List); build 2 changes Create's code."""
    lineage = FakeLineage(APP)
    b1 = lineage.add_build("notes", "c1", functions={"Create": "sha-1", "List": "sha-l"})
    b2 = lineage.add_build("notes", "c2", functions={"Create": "sha-2", "List": "sha-l"})
    lineage.deploy("notes", "dev", b1)
    return lineage, b2.number


def test_a_push_to_a_stage_with_a_strategy_that_runs_a_build_takes_the_strategy_on_the_record(world):
    """GIVEN dev (canary 10 % for 10 s) running build 1
    WHEN a push deploys build 2 to it
    THEN the deployment is open for the push's execution, its strategy recorded, and the machine
    is told to walk the canary loop (``strategy`` in the answer)."""
    lineage, number = world
    begun = deploys(lineage).begin("notes", "dev", number, DeploymentKind.DEPLOY, {"type": "push"}, False, EXEC)
    d = lineage.get_deployment("notes", "dev", begun.deployment_id)
    assert begun.status == "IN_PROGRESS" and begun.strategy == CANARY
    assert d.strategy == CANARY and d.execution == EXEC
    assert lineage.get_stage("notes", "dev").lock.execution == EXEC


def test_a_first_deploy_goes_all_at_once_even_with_a_strategy():
    """GIVEN dev with a canary strategy and nothing deployed yet WHEN a push deploys build 1
    THEN no strategy: there is no version to compare the new one with."""
    lineage = FakeLineage(APP)
    number = lineage.add_build("notes", "c1").number
    begun = deploys(lineage).begin("notes", "dev", number, DeploymentKind.DEPLOY, {"type": "push"}, False, EXEC)
    assert begun.strategy is None and lineage.get_deployment("notes", "dev", begun.deployment_id).strategy is None


@pytest.mark.parametrize(("stage", "kind"), [("qa", DeploymentKind.DEPLOY), ("prod", DeploymentKind.PROMOTE),
                                             ("prod", DeploymentKind.ROLLBACK), ("prod", DeploymentKind.CONFIG)])
def test_only_a_pushs_deploy_takes_the_stages_strategy(world, stage, kind):
    """GIVEN qa without a strategy, prod with one WHEN a deploy of another kind, or to qa, begins
    THEN it is all at once (a promote chooses its own strategy; a rollback and a redeploy never shift)."""
    lineage, number = world
    current = lineage.current_deployment("notes", "dev")
    assert stage_strategy(APP, stage, kind, current) is None
    assert stage_strategy(APP, "dev", DeploymentKind.DEPLOY, current) == CANARY


def walk(canary: Canary, deployment_id: str, statuses: list[str]) -> list[str]:
    status, index, seen = "BEGIN", 0, []
    for _ in statuses:
        out = canary.step("notes", "dev", deployment_id, status, index)
        status, index = out["status"], out["index"]
        seen.append(status)
    return seen


def test_a_pushs_canary_walks_the_same_loop_and_a_stopped_execution_leaves_nothing_open(world):
    """GIVEN a push's deploy to dev that took the stage's canary strategy, its first step shifted
    (Create's alias 10 % on the new version)
    WHEN its execution ends mid-step (the finalizer withdraws what the record says)
    THEN the weight is removed, the deployment is FAILED at step canary, and dev is free."""
    lineage, number = world
    begun = deploys(lineage).begin("notes", "dev", number, DeploymentKind.DEPLOY, {"type": "push"}, False, EXEC)
    traffic = FakeTraffic(lineage, [])
    traffic.aliases = {name.replace("prod", "dev"): ("1", None, 0) for name in NAMES.values()}
    names = FakeNames()
    names.function_names = lambda stack: {lid: name.replace("prod", "dev") for lid, name in NAMES.items()}  # type: ignore[method-assign]
    canary = Canary(lineage, traffic, FakeSignal(), names, now=Clock())
    assert walk(canary, begun.deployment_id, ["BEGIN", "SHIFT"]) == ["SHIFT", "BAKING"]
    assert traffic.aliases["notes-dev-Create"] == ("1", "2", 10)

    d = lineage.get_deployment("notes", "dev", begun.deployment_id)
    assert canary.withdraw(d, "execution ABORTED")

    closed = lineage.get_deployment("notes", "dev", begun.deployment_id)
    assert (closed.status, closed.step, closed.canary["state"]) == (DeploymentStatus.FAILED, "canary", "ABORTED")
    assert traffic.aliases["notes-dev-Create"] == ("1", None, 0)
    assert lineage.get_stage("notes", "dev").lock is None
    assert lineage.current_deployment("notes", "dev").build == 1


@pytest.mark.parametrize(("body", "field"), [
    ({"strategy": {"type": "canary", "percent": 150, "intervalSeconds": 10}}, "strategy.percent"),
    ({"strategy": {"type": "canary", "percent": 10}}, "strategy.intervalSeconds"),
    ({"strategy": "canary99-1y" * 100}, "strategy"),
    ({"strategy": ["canary10-1m"]}, "strategy"),
    ({"strategy": "canary10-1m", "branch": "evil"}, "branch"),
    ({}, "strategy"),
])
def test_a_stages_strategy_set_badly_is_refused_naming_the_field_and_nothing_changes(body, field):
    """GIVEN qa without a strategy WHEN PATCH asks a bad one, another setting, or nothing
    THEN InvalidInput (400) names the field as the API spells it, and qa keeps no strategy."""
    lineage = FakeLineage(APP)
    with pytest.raises(InvalidInput) as refused:
        Stages(lineage, Unused()).set_strategy("notes", "qa", body)
    assert refused.value.field == field and len(str(refused.value)) < 400
    assert lineage.get_app("notes").stage("qa").strategy is None


def test_a_stages_strategy_is_set_cleared_and_an_unknown_stage_is_404():
    """GIVEN qa WHEN a preset is set, then allAtOnce, then null, and a stage the app lacks is asked
    THEN the preset is recorded as its view, allAtOnce and null both clear it, and the unknown stage
    is StageNotFound (404 naming stage)."""
    lineage = FakeLineage(APP)
    stages = Stages(lineage, Unused())
    assert stages.set_strategy("notes", "qa", {"strategy": "linear25-30s"}).stage("qa").strategy["steps"] == [25, 50, 75]
    assert stages.set_strategy("notes", "qa", {"strategy": "allAtOnce"}).stage("qa").strategy is None
    stages.set_strategy("notes", "qa", {"strategy": "canary10-1m"})
    assert stages.set_strategy("notes", "qa", {"strategy": None}).stage("qa").strategy is None
    with pytest.raises(StageNotFound):
        stages.set_strategy("notes", "nope", {"strategy": "canary10-1m"})
