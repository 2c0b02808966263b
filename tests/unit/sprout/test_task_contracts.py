"""The task contracts (sprout.handlers.contracts) against what the state machines really hand the
tasks: every state's input is followed through the ASL (Parameters, ResultSelector, ResultPath,
OutputPath, a Catch's error, a Map's items, a Choice's IsPresent / StringEquals), from each
machine's declared input and each task's declared result. Then every key a task's contract requires
reaches it on every path, every key its contract declares reaches it on some path, and every path
the ASL reads is there. A contract and its machine cannot drift apart unseen."""

from __future__ import annotations

import ast
import json
from dataclasses import dataclass, field
from pathlib import Path
from types import UnionType
from typing import Any, Literal, Union, get_args, get_origin, get_type_hints, is_typeddict

import pytest

from sprout.domain.template import load_template
from sprout.handlers import contracts

ROOT = Path(__file__).resolve().parents[3]
MACHINES = {p.stem.removesuffix(".asl"): json.loads(p.read_text()) for p in (ROOT / "statemachines").glob("*.asl.json")}
TEMPLATE = load_template((ROOT / "template.yaml").read_text())
# What starts each machine: the deploy machine is started by the other three (their Input is
# checked against DeployRequest); promote and rollback by Sprout's API, a rollback also by an
# alarm's EventBridge event; the build machine by a push event or the API (Resolve reads it raw);
# the teardown machine by Sprout's API, the preview events and the sweep (stage_changes).
EVENT = {"source": (str, True), "detail": (object, True), "id": (str, True)}
STARTS = {
    "build": [EVENT],
    "deploy": [contracts.DeployRequest],
    "promote": [contracts.PromoteRequest],
    "rollback": [contracts.RollbackRequest, EVENT],
    "teardown": [contracts.TeardownRequest],
}
CHILD_INPUT = {"DeployStateMachineArn": contracts.DeployRequest}

Shape = dict[str, tuple[Any, bool]]  # key -> (its type or nested Shape, whether it is certainly there)


def shape_of(tp: Any) -> list[Shape] | None:
    """A TypedDict (or a union of them) as shapes; None for anything else."""
    if isinstance(tp, dict):
        return [tp]
    if get_origin(tp) in (Union, UnionType):
        members = [shape_of(t) for t in get_args(tp)]
        return [s for m in members if m for s in m] if all(members) else None
    if is_typeddict(tp):
        hints = get_type_hints(tp)
        return [{k: (hints[k], k in tp.__required_keys__) for k in hints}]
    return None


def literal(tp: Any) -> set[str] | None:
    return set(get_args(tp)) if get_origin(tp) is Literal else None


@dataclass
class Findings:
    problems: list[str] = field(default_factory=list)
    passed: dict[str, list[Shape]] = field(default_factory=dict)  # task -> every input it got


@dataclass(frozen=True)
class Step:
    """A Lambda task's step function as declared in its module (read from source, never imported)."""

    name: str
    contract: Any
    result: Any


def step_of(params: dict, machine: str) -> Step:
    """A Task state's Parameters: ``${XFunctionArn}`` → template.yaml's function → its Handler → the
    step ``task()`` wraps, or, for a function serving several steps (``steps({"name": step, ...})``),
    the step its input names with the literal ``"step"`` (a step chosen at run time is not allowed:
    KeyError)."""
    resource = TEMPLATE["Resources"][f"{machine.capitalize()}StateMachine"]["Properties"]
    target = resource["DefinitionSubstitutions"][params["FunctionName"].strip("${}")]["Fn::GetAtt"][0]
    module, _, handler = TEMPLATE["Resources"][target]["Properties"]["Handler"].rpartition(".")
    tree = ast.parse((ROOT / "src" / (module.replace(".", "/") + ".py")).read_text())
    wrapping = next(n.value.args[0] for n in tree.body if isinstance(n, ast.Assign)
                    and isinstance(n.targets[0], ast.Name) and n.targets[0].id == handler)
    if isinstance(wrapping, ast.Dict):
        chosen = params["Payload"]["input"]["step"]
        by_name = {k.value: v.id for k, v in zip(wrapping.keys, wrapping.values, strict=True)}
        wrapped, handler = by_name[chosen], f"{handler}[{chosen}]"
    else:
        wrapped = wrapping.id
    fn = next(n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == wrapped)

    def declared(node: ast.expr | None) -> Any:
        name = node.id if isinstance(node, ast.Name) else None
        return getattr(contracts, name, None) if name else None

    return Step(handler, declared(fn.args.args[0].annotation), declared(fn.returns))


def resolve(path: str, shape: Shape, item: Any, where: str, found: Findings) -> Any:
    """The type at a JSONPath (``$.a.b``, ``$$.Execution.Id``, ``$$.Map.Item.Value``); a path that
    may be missing is a finding (Step Functions fails the state on it)."""
    if path == "$$.Map.Item.Value":
        return item
    if path.startswith("$$."):
        return str
    value: Any = shape
    for key in [k for k in path.removeprefix("$").split(".") if k]:
        shapes = shape_of(value)
        if shapes is None:
            return object  # below an opaque value (a service's result, an event's detail)
        entries = [s.get(key) for s in shapes]
        if any(e is None or not e[1] for e in entries):
            found.problems.append(f"{where}: {path} may be missing")
            return object
        value = entries[0][0]
    return value


def build(template: Any, shape: Shape, item: Any, where: str, found: Findings) -> Any:
    """Parameters / ResultSelector / ItemSelector / Input applied to a shape."""
    if isinstance(template, str) and template.startswith("$"):
        return resolve(template, shape, item, where, found)
    if not isinstance(template, dict):
        return type(template)
    out: Shape = {}
    for key, value in template.items():
        if key.endswith(".$"):
            out[key[:-2]] = (resolve(value, shape, item, where, found), True)
        else:
            out[key] = (build(value, shape, item, where, found), True)
    return out


def place(result: Any, path: str | None, shape: Shape) -> Shape:
    """ResultPath: null keeps the input, ``$`` is the result, ``$.a.b`` sets it inside the input."""
    if path is None:
        return shape
    if path == "$":
        return (shape_of(result) or [{}])[0]
    keys = path.removeprefix("$.").split(".")
    inner = dict((shape_of(shape[keys[0]][0]) or [{}])[0]) if len(keys) > 1 and keys[0] in shape else {}
    value = place(result, "$." + ".".join(keys[1:]), inner) if len(keys) > 1 else result
    return {**shape, keys[0]: (value, True)}


def check_against(contract: Any, given: Any, where: str, found: Findings) -> None:
    for wanted in shape_of(contract) or []:
        for passed in shape_of(given) or []:
            for key, (_, required) in wanted.items():
                if required and not passed.get(key, (None, False))[1]:
                    found.problems.append(f"{where}: {key} is required by {contract.__name__} but may not be passed")


def choose(state: dict, shape: Shape) -> list[tuple[str, Shape]]:
    """A Choice's next states, each with the input narrowed by what its rule said (IsPresent on a
    key, StringEquals on a key whose type is a Literal)."""
    nexts: list[tuple[str, Shape]] = []
    default: Shape | None = shape
    for rule in state["Choices"]:
        key = rule.get("Variable", "").removeprefix("$.")
        if "." in key or "[" in key:  # a rule on a nested path or an item: either way
            nexts.append((rule["Next"], shape))
            continue
        if rule.get("IsPresent") is True:
            if key not in shape:
                continue  # never there: the rule never matches
            nexts.append((rule["Next"], {**shape, key: (shape[key][0], True)}))
            if shape[key][1]:
                default = None  # always there: the default is never reached
            elif default is not None:
                default = {k: v for k, v in default.items() if k != key}
            continue
        allowed = literal(shape[key][0]) if key in shape and "StringEquals" in rule else None
        if allowed is not None and rule["StringEquals"] not in allowed:
            continue  # this member of the union never matches
        if allowed == {rule.get("StringEquals")}:
            default = None  # ... and this one always does
        nexts.append((rule["Next"], shape))
    if default is not None and "Default" in state:
        nexts.append((state["Default"], default))
    return nexts


def run(machine: str, states: dict, start: str, shapes: list[Shape], found: Findings, item: Any = None) -> None:
    """Follow every shape through the states from ``start`` until nothing new arrives anywhere."""
    seen: set[tuple[str, str]] = set()
    todo = [(start, s) for s in shapes]
    while todo:
        name, shape = todo.pop()
        if (name, repr(sorted(shape.items(), key=lambda kv: kv[0]))) in seen:
            continue
        seen.add((name, repr(sorted(shape.items(), key=lambda kv: kv[0]))))
        state, where = states[name], f"{machine}.{name}"
        nexts: list[tuple[str, Shape]] = []
        if state["Type"] == "Choice":
            todo += choose(state, shape)
            continue
        if state["Type"] in ("Succeed", "Fail"):
            continue
        if state["Type"] == "Wait":
            if "SecondsPath" in state:
                resolve(state["SecondsPath"], shape, item, where, found)
            todo.append((state["Next"], shape))
            continue
        params = state.get("Parameters")
        if state["Type"] == "Pass":
            result: Any = build(params, shape, item, where, found) if params else shape
        elif state["Type"] == "Map":
            items = resolve(state["ItemsPath"], shape, item, where, found)
            each = (get_args(items) or [object])[0]
            selector = state.get("ItemSelector")
            inputs = [build(selector, shape, each, where, found)] if selector else (shape_of(each) or [{}])
            inner = state.get("ItemProcessor") or state["Iterator"]
            run(machine, inner["States"], inner["StartAt"], [i if isinstance(i, dict) else {} for i in inputs],
                found, each)
            result = list
        elif "FunctionName" in (params or {}):
            step = step_of(params, machine)
            payload = params["Payload"]
            given = build(payload.get("input.$", payload.get("input")), shape, item, where, found)
            for given_shape in shape_of(given) or [{}]:
                found.passed.setdefault(step.name, []).append(given_shape)
            if step.contract is not None:
                check_against(step.contract, given, where, found)
            result = {"Payload": (step.result if step.result is not None else object, True)}
        else:  # a service integration: StartExecution of a child machine, CodeBuild, EventBridge
            for key, contract in CHILD_INPUT.items():
                if params and f"${{{key}}}" in json.dumps(params):
                    given = params["Input"] if "Input" in params else params["Input.$"]
                    check_against(contract, build(given, shape, item, where, found), where, found)
            result = object
        if state["Type"] != "Pass" and (selector := state.get("ResultSelector")):
            if shape_of(result) is None:  # a service's result: what the selector picks is opaque
                result = {k.removesuffix(".$"): (object, True) for k in selector}
            else:
                result = build(selector, (shape_of(result) or [{}])[0], item, where, found)
        out = place(result, state.get("ResultPath", "$"), shape)
        outs = shape_of(resolve(state["OutputPath"], out, item, where, found)) or [{}] if "OutputPath" in state else [out]
        if state.get("Next"):
            nexts += [(state["Next"], o) for o in outs]
        for catcher in state.get("Catch", []):
            nexts.append((catcher["Next"], place(contracts.CatchError, catcher.get("ResultPath", "$"), shape)))
        todo += nexts


@pytest.fixture(scope="module")
def findings() -> Findings:
    found = Findings()
    for name, machine in sorted(MACHINES.items()):
        starts = [s for start in STARTS[name] for s in (shape_of(start) or [])]
        run(name, machine["States"], machine["StartAt"], starts, found)
    return found


def test_given_every_machine_then_every_path_the_asl_reads_and_every_required_key_is_there(findings):
    """GIVEN the five machines followed from their inputs WHEN every state's input is built THEN
    no path the ASL reads may be missing, and every key a task's contract requires is passed."""
    assert findings.problems == []


def test_given_every_task_contract_then_each_key_it_declares_reaches_it_on_some_path(findings):
    """GIVEN every Lambda task's contract WHEN what reaches it on all paths is gathered THEN it
    declares no key that never comes (a read of a key the machine never passes is a stale read)."""
    never = {}
    for step in {step_of(s["Parameters"], m) for m, machine in MACHINES.items()
                 for _, s in _lambda_states(machine["States"])}:
        if step.contract is None:
            continue
        declared = {k for shape in shape_of(step.contract) or [] for k in shape}
        came = {k for shape in findings.passed.get(step.name, []) for k in shape}
        if declared - came:
            never[step.name] = sorted(declared - came)
    assert never == {}


def test_given_every_lambda_task_then_it_declares_its_input_and_result(findings):
    """GIVEN every Lambda task of the machines THEN its step declares its input and result as
    contracts (Resolve and ResolveAlarm read a raw event; their results are declared)."""
    raw = {"resolve", "resolve_alarm"}
    undeclared = sorted({f"{s.name}: {'input' if s.contract is None else 'result'}"
                         for m, machine in MACHINES.items() for _, st in _lambda_states(machine["States"])
                         for s in [step_of(st["Parameters"], m)]
                         if (s.contract is None and s.name not in raw) or s.result is None})
    assert undeclared == []
    reached = {step_of(st["Parameters"], m).name for m, machine in MACHINES.items()
               for _, st in _lambda_states(machine["States"])}
    assert reached == set(findings.passed)  # the walk reached every one of them


def _lambda_states(states: dict):
    for name, state in states.items():
        if "FunctionName" in state.get("Parameters", {}):
            yield name, state
        for inner in [state.get("ItemProcessor") or state.get("Iterator")]:
            if inner:
                yield from _lambda_states(inner["States"])


def test_given_a_contract_that_drifted_then_the_walk_names_it():
    """GIVEN the deploy machine started with a request that lacks ``stage`` WHEN followed THEN the
    finding names the state and the key (the check above can fail)."""
    found = Findings()
    request = shape_of(contracts.DeployRequest)[0]
    run("deploy", MACHINES["deploy"]["States"], "HoldsStage", [{k: v for k, v in request.items() if k != "stage"}], found)
    assert "deploy.BeginDeploy: stage is required by BeginRequest but may not be passed" in found.problems


def test_given_a_step_chosen_by_its_literal_that_drifted_then_the_walk_names_it():
    """GIVEN the teardown machine (one function, the step named in each state's input) whose
    CheckStack is no longer handed ``attempt`` WHEN followed THEN the finding names the state, the key
    and the contract of that step (not of another step of the same function)."""
    states = json.loads(json.dumps(MACHINES["teardown"]["States"]))
    del states["EachStage"]["ItemProcessor"]["States"]["CheckStack"]["Parameters"]["Payload"]["input"]["attempt.$"]
    found = Findings()
    run("teardown", states, "EachStage", shape_of(contracts.TeardownRequest), found)
    assert set(found.problems) == {"teardown.CheckStack: attempt is required by TeardownAttempt but may not be passed"}
    assert {"lambda_handler[prepare]", "lambda_handler[finishApp]"} <= set(found.passed)
