"""The moto internals localcloud builds on are where they were: fails loudly when a moto upgrade moves one.

localcloud patches private moto names only through ``localcloud.moto_hooks.hook`` and reads them only
through ``require``; this test starts a LocalCloud in this process (all components installed) and
checks every recorded name against the installed moto, plus the moto behaviours we rely on.
"""

from __future__ import annotations

import ast
import json
import re
import time
import tomllib
from importlib.metadata import version
from pathlib import Path

import pytest

from localcloud import moto_hooks
from localcloud.cloud import LocalCloud

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="module")
def local(tmp_path_factory):
    """One in-process LocalCloud for this module (moto's backends are process-global)."""
    cloud = LocalCloud(port=0, data_dir=tmp_path_factory.mktemp("contract")).start()
    yield cloud
    cloud.stop()


def test_given_the_installed_moto_then_it_is_the_version_the_hooks_were_written_for():
    assert version("moto") == moto_hooks.PINNED_MOTO, (
        f"moto {version('moto')} is installed but localcloud's hooks are pinned to {moto_hooks.PINNED_MOTO}: "
        "re-check every hook in localcloud (see moto_hooks.HOOKS) before moving the pin"
    )


def test_given_the_project_pins_then_they_name_the_same_moto_as_the_hooks():
    dev = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]["dev"]
    [pin] = [d for d in dev if re.match(r"moto\b", d)]
    assert pin.split("==", 1)[1] == moto_hooks.PINNED_MOTO, pin
    lock = ROOT / "requirements.lock"
    if lock.exists():
        locked = re.search(r"^moto(?:\[[^\]]*\])?==([^\s;\\]+)", lock.read_text(), re.MULTILINE)
        assert locked and locked.group(1) == moto_hooks.PINNED_MOTO, "requirements.lock pins another moto"


def test_given_a_started_cloud_then_every_recorded_hook_is_in_place(local):
    assert moto_hooks.HOOKS, "no component hooked moto: the runner and router would be inert"
    not_hooked = [
        f"{m}:{q} ({h.why})" for (m, q), h in moto_hooks.HOOKS.items() if not moto_hooks.is_hooked(m, q)
    ]
    assert not_hooked == []


def test_given_a_started_cloud_then_the_event_routers_hooks_are_among_them(local):
    assert ("moto.events.models", "Rule.send_to_targets") in moto_hooks.HOOKS
    assert ("moto.events.models", "EventsBackend.put_rule") in moto_hooks.HOOKS
    assert ("moto.events.models", "events_backends") in moto_hooks.REQUIRED


def test_given_a_started_cloud_then_the_step_functions_hooks_are_among_them(local):
    execution = "moto.stepfunctions.parser.backend.execution"
    sfn_task = "moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service_sfn"
    for key in (
        (execution, "Execution.start"),
        (execution, "BaseExecutionWorkerCommunication.terminated"),
        (sfn_task, "StateTaskServiceSfn._eval_integration_pattern"),
        (sfn_task, "StateTaskServiceSfn._normalise_parameters"),
        (sfn_task, "StateTaskServiceSfn._normalise_response"),
        ("moto.stepfunctions.parser.asl.component.eval_component", "EvalComponent._log_failure_event_exception"),
        ("moto.stepfunctions.parser.models", "StepFunctionsParserBackend.start_execution"),  # stepfunctions/moto_patches.py
        ("moto.stepfunctions.parser.asl.utils.json_path", "extract_json"),
    ):
        assert key in moto_hooks.HOOKS, key


def test_given_a_started_cloud_then_every_required_moto_name_resolves(local):
    broken = []
    for (module, qualname), why in moto_hooks.REQUIRED.items():
        try:
            moto_hooks.resolve(module, qualname)
        except moto_hooks.MotoContractBroken as e:
            broken.append(f"{e} (needed to {why})")
    assert broken == []


def test_given_moto_then_the_config_switches_localcloud_sets_exist_and_are_on(local):
    from moto.core.config import default_user_config

    assert default_user_config["stepfunctions"]["execute_state_machine"] is True
    assert default_user_config["lambda"]["use_docker"] is True


def test_given_moto_then_its_step_functions_tasks_call_back_to_this_cloud(local):
    # moto's interpreter builds its Lambda client for http://localhost:{moto_server_port()}
    from moto.settings import moto_server_port

    assert str(moto_server_port()) == str(local.port)


def test_given_a_pass_state_machine_when_executed_then_moto_runs_it_to_succeeded(local):
    sfn = local.client("stepfunctions")
    machine = sfn.create_state_machine(
        name="contract-pass",
        roleArn="arn:aws:iam::123456789012:role/contract",
        definition=json.dumps(
            {
                "StartAt": "P",
                "States": {"P": {"Type": "Pass", "Result": {"ok": True}, "ResultPath": "$.r", "End": True}},
            }
        ),
    )["stateMachineArn"]
    execution = sfn.start_execution(stateMachineArn=machine, input='{"n": 1}')["executionArn"]
    deadline = time.monotonic() + 10
    while (described := sfn.describe_execution(executionArn=execution))["status"] == "RUNNING":
        assert time.monotonic() < deadline, "moto's interpreter never finished a Pass state"
        time.sleep(0.05)
    assert described["status"] == "SUCCEEDED"
    assert json.loads(described["output"]) == {"n": 1, "r": {"ok": True}}


def test_given_a_rule_with_a_queue_target_when_an_event_is_put_then_moto_still_delivers_it(local):
    # The router leaves queue targets to moto's Rule.send_to_targets: check moto still does it.
    sqs, events = local.client("sqs"), local.client("events")
    url = sqs.create_queue(QueueName="contract-q")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    events.put_rule(Name="contract-rule", EventPattern=json.dumps({"source": ["contract.test"]}))
    events.put_targets(Rule="contract-rule", Targets=[{"Id": "q", "Arn": arn}])

    events.put_events(Entries=[{"Source": "contract.test", "DetailType": "t", "Detail": '{"k": 1}'}])

    [message] = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]
    assert json.loads(message["Body"])["detail"] == {"k": 1}


def test_given_a_started_cloud_then_the_actions_moto_lacks_are_provided_by_localcloud(local):
    key = ("moto.cloudformation.responses", "CloudFormationResponse.continue_update_rollback")
    assert key in moto_hooks.PROVIDED
    from moto.cloudformation.responses import CloudFormationResponse
    from moto.core.utils import method_names_from_class

    assert "continue_update_rollback" in method_names_from_class(CloudFormationResponse)


# What localcloud may import from moto directly: the configuration moto documents (the switches its
# decorator and server take), the WSGI app its own server runs, and the package's version. Everything else
# is private.
PUBLIC_MOTO = {"moto", "moto.core.config", "moto.moto_server.werkzeug_app"}


def test_given_localcloud_then_it_imports_no_private_moto_name_but_through_moto_hooks():
    """GIVEN localcloud's source WHEN its imports are read THEN none names a private moto module
    (those are reached through moto_hooks, so that this contract checks them)."""
    offenders = []
    for path in sorted((ROOT / "localcloud").rglob("*.py")):
        if path.name == "moto_hooks.py":
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            offenders += [
                f"{path.relative_to(ROOT)}:{node.lineno} imports {name}"
                for name in names
                if (name == "moto" or name.startswith("moto.")) and name not in PUBLIC_MOTO
            ]
    assert offenders == [], "read private moto names with moto_hooks.require, patch them with moto_hooks.hook"


def test_given_localcloud_then_its_moto_patches_are_named_one_way():
    """GIVEN localcloud's modules WHEN one patches moto THEN it is its component's moto_patches.py."""
    odd = [
        str(path.relative_to(ROOT))
        for path in (ROOT / "localcloud").rglob("*.py")
        if ("moto" in path.stem or path.stem.endswith("_fixes")) and path.name not in ("moto_hooks.py", "moto_patches.py")
    ]
    assert odd == [], "a component's patches of moto live in its moto_patches.py"


def test_given_a_started_cloud_then_the_names_persistence_reads_are_among_the_required(local):
    for key in (
        ("moto.core.base_backend", "BackendDict._instances"),
        ("moto.iam.models", "AWSManagedPolicy"),
        ("moto.stepfunctions.parser.backend.execution_worker", "ExecutionWorker"),
        ("moto.stepfunctions.parser.models", "stepfunctions_parser_backends"),
        ("moto.sqs.models", "sqs_backends"),
    ):
        assert key in moto_hooks.REQUIRED, key


def test_given_moto_state_when_snapshotted_and_put_back_then_moto_answers_from_it(local):
    """What persistence relies on: moto's backends pickle (with localcloud.persistence's rules),
    go back into the same BackendDicts, and the attributes in-flight work is ended through exist."""
    from localcloud.persistence import backends, inflight, snapshot

    s3, sqs = local.client("s3"), local.client("sqs")
    s3.create_bucket(Bucket="contract-kept")
    s3.put_object(Bucket="contract-kept", Key="k", Body=b"v")
    queue = sqs.create_queue(QueueName="contract-kept")["QueueUrl"]
    sqs.send_message(QueueUrl=queue, MessageBody="m")
    assert sqs.receive_message(QueueUrl=queue, VisibilityTimeout=3600)["Messages"]
    body = snapshot.dumps({"moto": backends.collect()}, backends.References().reducers())
    s3.delete_object(Bucket="contract-kept", Key="k")
    s3.delete_bucket(Bucket="contract-kept")
    backends.restore(snapshot.loads(body)["moto"])
    assert s3.get_object(Bucket="contract-kept", Key="k")["Body"].read() == b"v"
    assert inflight._sqs_in_flight(local) >= 1
    assert [m["Body"] for m in sqs.receive_message(QueueUrl=queue)["Messages"]] == ["m"]
    # an AWS managed policy is a reference to the new IAM backend's, with its attachments
    local.client("iam").list_policies(Scope="AWS", MaxItems=1)
    assert local.client("iam").get_policy(PolicyArn="arn:aws:iam::aws:policy/AWSLambdaExecute")["Policy"]["Arn"]
