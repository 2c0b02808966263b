"""events/: every sample payload is one that its entry point really receives.

- EventBridge events are matched by a rule in template.yaml (EventBridge's pattern semantics);
- each task input is the ``{"execution", "input"}`` envelope the ASL builds, and the input has the
  keys its TypedDict in sprout.handlers.contracts requires (nested TypedDicts too);
- each API request names a route that template.yaml gives API Gateway and that a resolver in
  sprout.handlers declares, its path agrees with its parameters, and its body passes the route's
  JSON Schema;
- every task function in template.yaml has a sample, and events/README.md lists every file.
"""

from __future__ import annotations

import ast
import base64
import gzip
import json
import re
import types
import typing
from pathlib import Path
from typing import Any, get_args, get_origin, get_type_hints, is_typeddict

import pytest

from sprout.domain.auto_rollback import parse_request
from sprout.domain.monitoring import ACCESS_LOG_FIELDS, LOG_GROUP_PREFIX
from sprout.domain.template import load_template
from sprout.handlers import contracts
from sprout.schemas import validate

ROOT = Path(__file__).resolve().parents[3]
EVENTS = ROOT / "events"
KINDS = ("eventbridge", "logs", "tasks", "api")
TEMPLATE = load_template((ROOT / "template.yaml").read_text(), "template.yaml")
RESOURCES = TEMPLATE["Resources"]
STACK, REGION, ACCOUNT = "sprout", "us-east-1", "123456789012"

# tasks/<task>.<scenario>.json: the function that receives it and the TypedDict of its input
# (None: the task gets the EventBridge event that started its state machine, checked against that rule)
TASKS: dict[str, tuple[str, Any]] = {
    "resolve": ("ResolveFunction", None),
    "resolve-alarm": ("ResolveAlarmFunction", None),
    "record-build": ("RecordBuildFunction", contracts.BuildTarget),
    "plan-dependencies": ("PlanDependenciesFunction", contracts.PackageInput),
    "cache-dependencies": ("CacheDependenciesFunction", contracts.CacheInput),
    "package": ("PackageFunction", contracts.PackageInput),
    "record-build-outcome": ("RecordBuildOutcomeFunction", contracts.BuildOutcome),
    "begin-deploy": ("BeginDeployFunction", contracts.BeginRequest),
    "start-change-set": ("StartChangeSetFunction", contracts.HeldDeploy),
    "check-deploy": ("CheckDeployFunction", contracts.ChangeSetState),
    "settle-deploy": ("SettleDeployFunction", contracts.SettleInput),
    "watch-stage": ("WatchStageFunction", contracts.ChangeSetState),
    "abandon-deploy": ("AbandonDeployFunction", contracts.AbandonInput),
    "flip-aliases": ("FlipAliasesFunction", contracts.FlipRequest),
    "teardown-prepare": ("TeardownFunction", contracts.TeardownStage),
    "teardown-check-stack": ("TeardownFunction", contracts.TeardownAttempt),
    "teardown-failed": ("TeardownFunction", contracts.RemovalFailure),
    "canary-step": ("CanaryStepFunction", contracts.CanaryInput),
    "canary-abandon": ("CanaryAbandonFunction", contracts.CanaryAbandonInput),
}
# A function serving several steps (sprout.handlers.tasks.common.steps): the step its sample names
STEPS = {"teardown-prepare": "prepare", "teardown-check-stack": "checkStack", "teardown-failed": "failed"}
# EventBridge samples that more than one rule routes, and exactly which
ROUTED_TWICE = {"deploy-execution-failed.json": ["FinalizeFunction.ExecutionEnded", "PreviewEventsFunction.DeployEnded"]}
# The rules whose events reach a task as they came (its state machine's input is the event)
STARTED_BY = {"resolve": "BuildStateMachine.Push", "resolve-alarm": "RollbackStateMachine.AlarmFired"}
# The alarm → rollback rule as CONTRACT.md (issue 11) words it: template.yaml's must match the sample too
ALARM_RULE = {
    "source": ["aws.cloudwatch"],
    "detail-type": ["CloudWatch Alarm State Change"],
    "detail": {"alarmName": [{"prefix": "sprout-ar-"}], "state": {"value": ["ALARM"]}},
}
SCHEMAS = {
    ("POST", "/apps"): "app",
    ("POST", "/apps/{}/builds"): "build_request",
    ("POST", "/apps/{}/stages/{}/promote"): "promote_request",
    ("POST", "/apps/{}/stages/{}/rollback"): "rollback_request",
}


def files(kind: str) -> list[Path]:
    return sorted((EVENTS / kind).glob("*.json"))


def load(path: Path) -> Any:
    return json.loads(path.read_text())


def ids(paths: list[Path]) -> list[str]:
    return [p.name for p in paths]


# ---- EventBridge pattern matching, as EventBridge documents it -------------------------------------


def resolve(value: Any) -> Any:
    """A state machine's ``!Ref`` (its ARN) in a pattern, for Sprout's stack as deployed."""
    if isinstance(value, dict) and set(value) == {"Ref"}:
        name = RESOURCES[value["Ref"]]["Properties"]["Name"]["Fn::Sub"].replace("${AWS::StackName}", STACK)
        return f"arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:{name}"
    return value


def matches(pattern: dict, event: dict) -> bool:
    """Every pattern key is in the event; a list matches when one of its values (an exact value or
    ``{"prefix": ...}``) matches the event's value (or one of its values, for an array)."""
    for key, want in pattern.items():
        if key not in event:
            return False
        got = event[key]
        if isinstance(want, dict):
            if not isinstance(got, dict) or not matches(want, got):
                return False
            continue
        values = got if isinstance(got, list) else [got]
        if not any(one(resolve(w), v) for w in want for v in values):
            return False
    return True


def one(want: Any, got: Any) -> bool:
    if isinstance(want, dict) and "prefix" in want:
        return isinstance(got, str) and got.startswith(want["prefix"])
    return want == got


def rules() -> dict[str, dict]:
    """Every EventBridge pattern in template.yaml: ``Resource.Event`` -> pattern."""
    found = {}
    for name, resource in RESOURCES.items():
        props = resource.get("Properties", {})
        for event_name, event in (props.get("Events") or {}).items():
            if event.get("Type") in ("EventBridgeRule", "CloudWatchEvent"):
                found[f"{name}.{event_name}"] = event["Properties"]["Pattern"]
        if resource["Type"] == "AWS::Events::Rule" and "EventPattern" in props:
            found[name] = props["EventPattern"]
    return found


# ---- TypedDicts ----------------------------------------------------------------------------------------


def required_keys(declared: Any) -> set[str]:
    """A TypedDict's required keys. Not ``__required_keys__``: on Python 3.11, with postponed
    annotations (contracts.py has them) it counts ``NotRequired[...]`` keys as required."""
    keys = set()
    for key, hint in get_type_hints(declared, include_extras=True).items():
        origin = get_origin(hint)
        if origin is typing.Required or (origin is not typing.NotRequired and declared.__total__):
            keys.add(key)
    return keys


def missing(value: Any, declared: Any, where: str = "input") -> list[str]:
    """The required keys of ``declared`` (a TypedDict, or a list/union of them) absent from ``value``."""
    origin = get_origin(declared)
    if is_typeddict(declared):
        if not isinstance(value, dict):
            return [f"{where} (not an object)"]
        gaps = [f"{where}.{k}" for k in sorted(required_keys(declared)) if k not in value]
        for key, hint in get_type_hints(declared).items():
            if key in value:
                gaps += missing(value[key], hint, f"{where}.{key}")
        return gaps
    if origin is list and isinstance(value, list):
        return [gap for i, item in enumerate(value) for gap in missing(item, get_args(declared)[0], f"{where}[{i}]")]
    if origin in (typing.Union, types.UnionType) and isinstance(value, dict):
        options = [missing(value, arg, where) for arg in get_args(declared) if is_typeddict(arg)]
        return min(options, key=len) if options else []
    return []


# ---- API routes ------------------------------------------------------------------------------------------


def normalized(path: str) -> str:
    """A route with its parameters blanked: ``/apps/{app}`` and ``/apps/<name>`` are ``/apps/{}``."""
    return re.sub(r"\{[^}]+\}|<[^>]+>", "{}", path)


def template_routes() -> dict[tuple[str, str], str]:
    return {
        (e["Properties"]["Method"].upper(), e["Properties"]["Path"]): name
        for name, r in RESOURCES.items()
        for e in (r.get("Properties", {}).get("Events") or {}).values()
        if e.get("Type") == "Api"
    }


def resolver_routes() -> set[tuple[str, str]]:
    """``@router.get("/apps/<name>")`` and the like, read from the handlers' source."""
    found = set()
    for module in (ROOT / "src" / "sprout" / "handlers").rglob("*.py"):
        for node in ast.walk(ast.parse(module.read_text())):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.args:
                verb, target = node.func.attr, node.func.value
                if verb in ("get", "post", "put", "delete", "patch") and isinstance(target, ast.Name) \
                        and target.id in ("router", "app") and isinstance(node.args[0], ast.Constant):
                    found.add((verb.upper(), normalized(str(node.args[0].value))))
    return found


# ---- the tests ---------------------------------------------------------------------------------------------


def test_given_the_events_folder_when_listed_then_every_file_is_json_in_a_known_kind_and_in_the_readme():
    readme = (EVENTS / "README.md").read_text()
    # GIVEN every file under events/ but the README
    found = [p for p in EVENTS.rglob("*") if p.is_file() and p.name != "README.md"]
    assert len(found) >= 20
    for path in found:
        # THEN each is a JSON object in one of the kinds the tests below check, and documented
        assert path.suffix == ".json" and path.parent.parent == EVENTS and path.parent.name in KINDS, path
        assert isinstance(load(path), dict), path
        assert f"{path.parent.name}/{path.name}" in readme, f"events/README.md does not list {path.name}"


@pytest.mark.parametrize("path", files("eventbridge"), ids=ids(files("eventbridge")))
def test_given_an_eventbridge_sample_when_matched_then_a_rule_of_sprout_routes_it(path):
    event = load(path)
    # WHEN every rule pattern of template.yaml is tried
    routed = [name for name, pattern in rules().items() if matches(pattern, event)]
    # THEN exactly one routes it (or exactly the rules named for it: a deploy's end is also read by
    # the previews, whose pull request's comment says how it ended)
    assert sorted(routed) == ROUTED_TWICE.get(path.name, routed) and len(routed) == len(
        ROUTED_TWICE.get(path.name, [None])), f"{path.name} is routed by {routed}"
    if event["source"] == "aws.cloudwatch":
        assert matches(ALARM_RULE, event), "the alarm sample is not one the contract's rule matches"
    assert {"version", "id", "detail-type", "source", "account", "time", "region", "resources", "detail"} <= set(event)


def test_given_a_push_to_a_tag_when_matched_then_no_rule_builds_it():
    # GIVEN the push sample with a tag instead of a branch (a control for the matcher itself)
    event = load(EVENTS / "eventbridge" / "codecommit-push-to-main.json")
    event["detail"]["referenceType"] = "tag"
    # THEN the build rule does not match it
    assert not matches(RESOURCES["BuildStateMachine"]["Properties"]["Events"]["Push"]["Properties"]["Pattern"], event)


@pytest.mark.parametrize("path", files("logs"), ids=ids(files("logs")))
def test_given_a_logs_subscription_sample_when_decoded_then_it_is_access_log_lines_of_a_stage(path):
    # WHEN the delivery is decoded as CloudWatch Logs sends it (base64 of gzipped JSON)
    batch = json.loads(gzip.decompress(base64.b64decode(load(path)["awslogs"]["data"])))
    # THEN it is a data message from a stage's access log group, through a subscription filter, for
    # the fast-signal function template.yaml declares
    assert RESOURCES["FastSignalFunction"]["Properties"]["Handler"].startswith("sprout.handlers.")
    assert batch["messageType"] == "DATA_MESSAGE" and re.fullmatch(r"\d{12}", batch["owner"])
    assert batch["logGroup"].startswith(LOG_GROUP_PREFIX) and batch["subscriptionFilters"]
    # AND every line is in the access-log format Sprout sets on a stage (every value a string)
    for event in batch["logEvents"]:
        assert {"id", "timestamp", "message"} <= set(event)
        line = json.loads(event["message"])
        assert set(line) == set(ACCESS_LOG_FIELDS) and all(isinstance(v, str) for v in line.values())


@pytest.mark.parametrize("path", files("tasks"), ids=ids(files("tasks")))
def test_given_a_task_sample_when_checked_then_it_is_the_envelope_and_has_the_declared_keys(path):
    task = path.name.split(".")[0]
    assert task in TASKS, f"{path.name}: name it <task>.<scenario>.json with a task of {sorted(TASKS)}"
    function, declared = TASKS[task]
    event = load(path)
    # THEN it is what every Task state passes: {"execution": $$.Execution.Id, "input": $}
    assert set(event) == {"execution", "input"} and isinstance(event["input"], dict)
    assert re.fullmatch(r"arn:aws:states:[a-z0-9-]+:\d{12}:execution:[\w-]+:[\w-]+", event["execution"])
    assert RESOURCES[function]["Properties"]["Handler"].startswith("sprout.handlers.tasks.")
    if declared is None:
        # the event that started the task's state machine, as its rule delivered it
        assert matches(rules()[STARTED_BY[task]], event["input"])
    else:
        assert missing(event["input"], declared) == []
    if task in STEPS:  # THEN it names the step its function dispatches to
        assert event["input"]["step"] == STEPS[task]


def test_given_the_typed_dict_check_when_a_required_key_is_dropped_then_it_is_named():
    # GIVEN a valid RecordBuildOutcome input, WHEN a nested required key is removed
    event = load(EVENTS / "tasks" / "record-build-outcome.succeeded.json")["input"]
    del event["package"]["manifestKey"]
    del event["number"]
    # THEN both are named, with where they are
    assert missing(event, contracts.BuildOutcome) == ["input.number", "input.package.manifestKey"]
    # AND keys declared NotRequired are not asked for
    assert missing({"app": "notes", "stage": "dev", "build": 1}, contracts.DeployRequest) == []
    assert missing({"app": "notes"}, contracts.DeployRequest) == ["input.build", "input.stage"]


def test_given_template_yaml_when_its_task_functions_are_listed_then_each_has_a_sample():
    tasks = {n for n, r in RESOURCES.items() if r["Type"] == "AWS::Serverless::Function"
             and r["Properties"]["Handler"].startswith("sprout.handlers.tasks.")}
    sampled = {TASKS[p.name.split(".")[0]][0] for p in files("tasks")}
    assert tasks and tasks == sampled


@pytest.mark.parametrize("path", files("api"), ids=ids(files("api")))
def test_given_an_api_sample_when_routed_then_api_gateway_and_a_resolver_have_its_route(path):
    event = load(path)
    method, resource = event["httpMethod"], event["resource"]
    # THEN template.yaml gives API Gateway this route, on a function of Sprout's
    function = template_routes().get((method, resource))
    assert function, f"{method} {resource} is not an Api event of template.yaml"
    assert RESOURCES[function]["Properties"]["Handler"].startswith("sprout.handlers.")
    # AND a resolver declares it
    assert (method, normalized(resource)) in resolver_routes()
    # AND the path is the resource with its parameters, as API Gateway fills them in
    params = event["pathParameters"] or {}
    assert set(params) == set(re.findall(r"\{([^}]+)\}", resource))
    assert event["path"] == re.sub(r"\{([^}]+)\}", lambda m: params[m.group(1)], resource)
    assert event["requestContext"]["resourcePath"] == resource and event["requestContext"]["httpMethod"] == method
    assert event["requestContext"]["identity"]["userArn"].startswith("arn:aws:iam::")  # IAM auth: a signed caller
    # AND its body, when the route has a schema, passes it
    schema = SCHEMAS.get((method, normalized(resource)))
    if schema:
        validate(schema, json.loads(event["body"]))
    if (method, normalized(resource)) == ("PUT", "/apps/{}/stages/{}/auto-rollback"):
        assert parse_request(json.loads(event["body"]), None).enabled is True
