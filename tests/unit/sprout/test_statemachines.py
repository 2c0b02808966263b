"""The state machines as data: every substitution is wired in template.yaml, every status a Choice
compares against is the domain's vocabulary, and every task that opens or changes work has a way
to record its failure (a Catch), so an app's or a stage's failure stays its own."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from sprout.domain.canary import CanaryProgress
from sprout.domain.model import BuildStatus, DeploymentStatus, DeployProgress
from sprout.domain.stages import DELETION_STATUSES
from sprout.domain.template import load_template

ROOT = Path(__file__).resolve().parents[3]
MACHINES = {p.stem.removesuffix(".asl"): json.loads(p.read_text()) for p in (ROOT / "statemachines").glob("*.asl.json")}
TEMPLATE = load_template((ROOT / "template.yaml").read_text())
# "user" and "pullRequest": the trigger types of a build a person (the API) or a pull request
# (sprout.services.previews) starts, which deploy a commit already built
VOCABULARY = ({s.value for s in (*BuildStatus, *DeploymentStatus, *DeployProgress, *CanaryProgress)}
              | {"ACT", "user", "pullRequest"} | set(DELETION_STATUSES))
# Tasks whose failure ends the execution on purpose: nothing is open yet, or the finalizer closes it
# (FinishApp: the removals stay recorded, and the teardown sweep finishes them).
MAY_FAIL = {"Resolve", "ResolveAlarm", "RecordFailure", "AbandonDeploy", "AbandonRollback", "CanaryAbandon", "FinishApp"}


def states(machine: dict):
    for name, state, _ in enclosed_states(machine):
        yield name, state


def enclosed_states(machine: dict, caught: bool = False):
    """(name, state, whether an enclosing Map or Parallel catches its failure), nested states too."""
    for name, state in machine["States"].items():
        yield name, state, caught
        for branch in [state.get("ItemProcessor") or state.get("Iterator")] + state.get("Branches", []):
            if branch:
                yield from enclosed_states(branch, caught or "Catch" in state)


def choices(rule: dict):
    yield rule
    for key in ("And", "Or"):
        for inner in rule.get(key, []):
            yield from choices(inner)
    if "Not" in rule:
        yield from choices(rule["Not"])


def test_given_the_five_machines_then_each_is_a_resource_of_template_yaml_with_every_substitution():
    assert set(MACHINES) == {"build", "deploy", "promote", "rollback", "teardown"}
    resources = TEMPLATE["Resources"]
    for name, machine in MACHINES.items():
        resource = resources[f"{name.capitalize()}StateMachine"]["Properties"]
        wanted = set(re.findall(r"\$\{(\w+)\}", json.dumps(machine)))
        assert wanted == set(resource["DefinitionSubstitutions"]), name


@pytest.mark.parametrize("name", sorted(MACHINES))
def test_given_a_machine_then_its_choices_compare_only_against_the_domains_statuses(name):
    compared = {rule["StringEquals"] for _, state in states(MACHINES[name]) if state["Type"] == "Choice"
                for top in state["Choices"] for rule in choices(top) if "StringEquals" in rule}
    assert compared <= VOCABULARY, compared - VOCABULARY


@pytest.mark.parametrize("name", sorted(MACHINES))
def test_given_a_machine_then_every_task_but_the_deliberate_ones_catches_its_failure(name):
    uncaught = [state_name for state_name, state, enclosed in enclosed_states(MACHINES[name])
                if state["Type"] == "Task" and "Catch" not in state and not enclosed and state_name not in MAY_FAIL]
    assert uncaught == []


def test_given_the_build_then_an_apps_item_never_ends_in_a_fail_state():
    [build_each_app] = [s for n, s in MACHINES["build"]["States"].items() if s["Type"] == "Map"]
    assert [n for n, s in states(build_each_app["ItemProcessor"]) if s["Type"] == "Fail"] == []
