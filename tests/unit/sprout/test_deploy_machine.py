"""The deploy state machine's branches, walked through its ASL (statemachines/deploy.asl.json) with
the tasks played by in-memory stand-ins: which task runs after which outcome, how Retry and Catch
route a failed task, and that a task failing while the stack may be changing never ends the
deployment on its own word (it goes to SettleDeploy, which records what the stack did)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
MACHINE = json.loads((ROOT / "statemachines" / "deploy.asl.json").read_text())
TASK_OF = {state["Parameters"]["FunctionName"].strip("${}").removesuffix("FunctionArn"): name
           for name, state in MACHINE["States"].items() if state["Type"] == "Task"}


class TaskFailed(Exception):
    """A task's failure as Step Functions names it (``Error``), with its ``Cause``."""

    def __init__(self, error: str, cause: str = ""):
        super().__init__(error)
        self.error, self.cause = error, cause


def _get(data: dict, path: str):
    for part in path.removeprefix("$").strip(".").split("."):
        if not part:
            continue
        if not isinstance(data, dict) or part not in data:
            return None
        data = data[part]
    return data


def _set(data: dict, path: str, value) -> dict:
    if path == "$":
        return value
    out = dict(data)
    out[path.removeprefix("$.")] = value
    return out


def _matches(errors: list[str], error: str) -> bool:
    return "States.ALL" in errors or error in errors


def run(tasks: dict[str, Callable[[dict], dict]], start: dict, limit: int = 200) -> tuple[list[str], str]:
    """Walk the machine from its start with ``start`` as input: (the states entered, the end state)."""
    path, name, data = [], MACHINE["StartAt"], dict(start)
    for _ in range(limit):
        state = MACHINE["States"][name]
        path.append(name)
        kind = state["Type"]
        if kind in ("Succeed", "Fail"):
            return path, name
        if kind == "Choice":
            name = next((c["Next"] for c in state["Choices"] if
                         ("StringEquals" in c and _get(data, c["Variable"]) == c["StringEquals"])
                         or ("IsPresent" in c and (_get(data, c["Variable"]) is not None) == c["IsPresent"])),
                        state["Default"])
            continue
        if kind == "Pass":
            data = _set(data, state.get("ResultPath", "$"), state.get("Result", state.get("Parameters", data)))
            name = state["Next"]
            continue
        if kind == "Wait":
            name = state["Next"]
            continue
        task = state["Parameters"]["FunctionName"].strip("${}").removesuffix("FunctionArn")
        attempts: dict[int, int] = {}
        while True:
            try:
                data = tasks[task](data)
                name = state["Next"]
                break
            except TaskFailed as failed:
                retry = next((i for i, r in enumerate(state.get("Retry", [])) if _matches(r["ErrorEquals"], failed.error)), None)
                if retry is not None and attempts.get(retry, 0) < state["Retry"][retry].get("MaxAttempts", 3):
                    attempts[retry] = attempts.get(retry, 0) + 1
                    continue
                catch = next((c for c in state.get("Catch", []) if _matches(c["ErrorEquals"], failed.error)), None)
                if catch is None:
                    path.append("(execution failed)")
                    return path, name
                data = _set(data, catch.get("ResultPath", "$"), {"Error": failed.error, "Cause": failed.cause})
                name = catch["Next"]
                break
    raise AssertionError(f"no end after {limit} states: {path[-10:]}")


REQUEST = {"app": "notes", "stage": "dev", "build": 2, "kind": "deploy", "trigger": {"type": "push"}}


def stand_ins(**overrides: Callable[[dict], dict]) -> tuple[dict, list[str]]:
    """Tasks that succeed at once (a deploy that goes through), each call noted; ``overrides`` play others."""
    calls: list[str] = []

    def noted(name: str, fn: Callable[[dict], dict]) -> Callable[[dict], dict]:
        def call(data: dict) -> dict:
            calls.append(name)
            return fn(data)
        return call

    default = {
        "BeginDeploy": lambda d: {**d, "deploymentId": "000002", "status": "IN_PROGRESS"},
        "StartChangeSet": lambda d: {**d, "stackName": "notes-dev", "changeSetId": "cs", "status": "IN_PROGRESS"},
        "CheckDeploy": lambda d: {**d, "status": "SUCCEEDED"},
        "SettleDeploy": lambda d: {**d, "status": "SUCCEEDED"},
        "WatchStage": lambda d: d,
        "AbandonDeploy": lambda d: {**d, "status": "FAILED"},
        "CanaryStep": canary_walk("SHIFT", "BAKING", "PROMOTE"),
        "CanaryAbandon": lambda d: d,
    }
    default.update(overrides)
    return {name: noted(name, fn) for name, fn in default.items()}, calls


def failing(error: str, times: int | None = None, then: Callable[[dict], dict] | None = None) -> Callable[[dict], dict]:
    left = [times]

    def call(data: dict) -> dict:
        if left[0] is None or left[0] > 0:
            if left[0] is not None:
                left[0] -= 1
            raise TaskFailed(error, json.dumps({"errorMessage": f"{error} happened"}))
        return then(data) if then else data
    return call


def canary_walk(*statuses: str) -> Callable[[dict], dict]:
    """CanaryStep answering ``statuses`` in turn (the last one again and again)."""
    left = list(statuses)
    return lambda d: {**d, "canary": {"status": left.pop(0) if len(left) > 1 else left[0], "index": 0}}


def sequence(*outputs: str) -> Callable[[dict], dict]:
    left = list(outputs)
    return lambda d: {**d, "status": left.pop(0) if len(left) > 1 else left[0]}


def test_given_the_deploy_machine_then_every_task_state_is_one_of_the_known_tasks():
    assert set(TASK_OF) == {"BeginDeploy", "StartChangeSet", "CheckDeploy", "SettleDeploy", "WatchStage", "AbandonDeploy",
                            "CanaryStep", "CanaryAbandon"}


def test_given_a_deploy_that_goes_through_then_it_ends_deployed_without_settling_or_abandoning():
    tasks, calls = stand_ins(CheckDeploy=sequence("IN_PROGRESS", "IN_PROGRESS", "SUCCEEDED"))
    path, end = run(tasks, REQUEST)
    assert end == "Deployed"
    assert calls == ["BeginDeploy", "StartChangeSet", "CheckDeploy", "CheckDeploy", "CheckDeploy", "WatchStage"]


@pytest.mark.parametrize("error", ["Runtime.ExitError", "States.Timeout", "DeployError", "Lambda.Unknown"])
def test_given_check_deploy_fails_mid_update_then_the_machine_settles_on_the_stack_and_never_abandons(error):
    tasks, calls = stand_ins(CheckDeploy=failing(error), SettleDeploy=sequence("IN_PROGRESS", "IN_PROGRESS", "SUCCEEDED"))
    path, end = run(tasks, REQUEST)
    assert end == "Deployed"
    assert "AbandonDeploy" not in calls
    assert calls[-4:] == ["SettleDeploy", "SettleDeploy", "SettleDeploy", "WatchStage"]
    assert path[path.index("CheckFailed") + 1] == "SettleDeploy"


def test_given_the_settled_stack_failed_then_the_deployment_fails_as_settle_recorded_it():
    tasks, calls = stand_ins(CheckDeploy=failing("Runtime.ExitError"), SettleDeploy=sequence("FAILED"))
    _, end = run(tasks, REQUEST)
    assert end == "DeployFailed" and "AbandonDeploy" not in calls and "WatchStage" not in calls


def test_given_the_stack_cannot_be_read_again_and_again_then_settle_is_retried_before_abandoning():
    tasks, calls = stand_ins(CheckDeploy=failing("Runtime.ExitError"), SettleDeploy=failing("DeployError"))
    path, end = run(tasks, REQUEST)
    assert end == "DeployFailed"
    assert calls.count("SettleDeploy") > 3 and calls[-1] == "AbandonDeploy"
    assert "SettleFailed" in path


def test_given_the_stack_busy_then_start_change_set_waits_for_it():
    tasks, calls = stand_ins(StartChangeSet=failing("StackNotReady", times=3, then=stand_ins()[0]["StartChangeSet"]))
    _, end = run(tasks, REQUEST)
    assert end == "Deployed" and calls.count("StartChangeSet") == 4


def test_given_a_change_set_refused_then_the_deployment_is_abandoned_with_the_step():
    tasks, calls = stand_ins(StartChangeSet=failing("DeployError"))
    path, end = run(tasks, REQUEST)
    assert end == "DeployFailed" and calls[-1] == "AbandonDeploy" and "ChangeSetFailed" in path


def test_given_a_promote_that_holds_the_stage_then_it_starts_at_the_change_set():
    tasks, calls = stand_ins()
    _, end = run(tasks, {**REQUEST, "deploymentId": "000007"})
    assert end == "Deployed" and calls[0] == "StartChangeSet"


@pytest.mark.parametrize("task", ["BeginDeploy", "StartChangeSet", "SettleDeploy"])
def test_given_a_deploy_task_fails_for_good_then_the_execution_ends_failed_with_the_recording_task_last(task):
    overrides = {task: failing("Boom")}
    if task == "SettleDeploy":
        overrides["CheckDeploy"] = failing("Runtime.ExitError")
    tasks, calls = stand_ins(**overrides)
    path, end = run(tasks, REQUEST)
    assert end == "DeployFailed" and path[-1] != "(execution failed)"
    assert calls[-1] == "AbandonDeploy"


STRATEGY = {"type": "canary", "percent": 10, "intervalSeconds": 10, "steps": [10]}


def test_given_a_push_to_a_stage_with_a_strategy_then_the_canary_loop_shifts_before_the_change_set():
    """GIVEN BeginDeploy answering with the stage's strategy (the stage runs a build)
    WHEN the deploy machine runs THEN the canary loop begins, shifts, bakes and makes the final flip
    before the change set, and the deploy ends as any other."""
    tasks, calls = stand_ins(BeginDeploy=lambda d: {**d, "deploymentId": "000002", "status": "IN_PROGRESS",
                                                     "strategy": STRATEGY})
    path, end = run(tasks, REQUEST)
    assert end == "Deployed"
    assert calls == ["BeginDeploy", "CanaryStep", "CanaryStep", "CanaryStep", "StartChangeSet", "CheckDeploy", "WatchStage"]
    assert path[path.index("Gradual") + 1] == "CanaryBegins" and "Bake" in path


def test_given_a_push_without_a_strategy_then_no_canary_step_runs():
    tasks, calls = stand_ins()
    _, end = run(tasks, REQUEST)
    assert end == "Deployed" and "CanaryStep" not in calls


def test_given_a_promote_with_a_strategy_that_holds_the_stage_then_it_walks_the_same_canary_loop():
    tasks, calls = stand_ins()
    _, end = run(tasks, {**REQUEST, "deploymentId": "000007", "strategy": STRATEGY})
    assert end == "Deployed" and calls[0] == "CanaryStep" and calls.index("StartChangeSet") > calls.index("CanaryStep")


def test_given_a_bad_canary_then_the_deploy_ends_canary_aborted_without_a_change_set():
    tasks, calls = stand_ins(CanaryStep=canary_walk("SHIFT", "BAKING", "ABORTED"))
    path, end = run(tasks, {**REQUEST, "deploymentId": "000007", "strategy": STRATEGY})
    assert end == "CanaryAborted" and "StartChangeSet" not in calls and "AbandonDeploy" not in calls


def test_given_a_canary_step_that_fails_for_good_then_it_is_abandoned_and_the_deploy_fails():
    tasks, calls = stand_ins(CanaryStep=failing("Boom"))
    _, end = run(tasks, {**REQUEST, "deploymentId": "000007", "strategy": STRATEGY})
    assert end == "DeployFailed" and calls[-1] == "CanaryAbandon" and "StartChangeSet" not in calls


def test_given_the_longest_strategy_then_the_machines_that_walk_or_wait_for_it_outlast_it():
    """GIVEN the longest strategy a stage may take (MAX_TOTAL_SECONDS) and an INCONCLUSIVE pause
    THEN the deploy machine (which walks the canary loop) outlasts both, and the build and promote
    machines (which wait for it, .sync) outlast the deploy machine."""
    from sprout.domain.canary import MAX_TOTAL_SECONDS, PAUSE_LIMIT_SECONDS

    timeouts = {name: json.loads((ROOT / "statemachines" / f"{name}.asl.json").read_text())["TimeoutSeconds"]
                for name in ("build", "promote")}
    assert MACHINE["TimeoutSeconds"] >= MAX_TOTAL_SECONDS + PAUSE_LIMIT_SECONDS
    assert timeouts["build"] >= MACHINE["TimeoutSeconds"] and timeouts["promote"] >= MACHINE["TimeoutSeconds"]
