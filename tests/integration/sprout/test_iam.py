"""Sprout under IAM as AWS enforces it (the session's cloud runs ``--enforce-iam``): each function
does its work with its own role's least-privilege policy from template.yaml, and a call outside it
is refused, naming the action, the resource and the function.

The build's tasks are invoked here one by one, directly, with the payloads the build state machine
hands them (``{"execution", "input"}``), for an app whose dev stage follows a branch nobody pushes:
the pipeline never runs for it on its own, so every call below is the task's, under its role.
The API function's calls run under its role in test_api.py and test_builds.py.
"""

from __future__ import annotations

import json
import time
import uuid

import pytest
from botocore.exceptions import ClientError

from tests.integration.localcloud.lambda_helpers import python_zip
from tests.integration.sprout.conftest import NOTES, AppRepo, registered_app

ACCOUNT = "123456789012"
MACHINE_TASKS = {
    "BuildStateMachineArn": ("ResolveFunction", "RecordBuildFunction", "PlanDependenciesFunction",
                             "CacheDependenciesFunction", "PackageFunction", "RecordBuildOutcomeFunction"),
    "DeployStateMachineArn": ("BeginDeployFunction", "StartChangeSetFunction", "CheckDeployFunction", "SettleDeployFunction",
                              "WatchStageFunction", "AbandonDeployFunction", "CanaryStepFunction", "CanaryAbandonFunction"),
    "RollbackStateMachineArn": ("FlipAliasesFunction", "AbandonDeployFunction"),
}


@pytest.fixture(scope="module")
def sprout(cloud) -> dict[str, dict[str, str]]:
    """Sprout's functions by logical id: their physical name and execution role ARN."""
    resources = cloud.client("cloudformation").describe_stack_resources(StackName="sprout")["StackResources"]
    lam = cloud.client("lambda")
    found = {}
    for r in resources:
        if r["ResourceType"] == "AWS::Lambda::Function":
            config = lam.get_function_configuration(FunctionName=r["PhysicalResourceId"])
            found[r["LogicalResourceId"]] = {"name": r["PhysicalResourceId"], "role": config["Role"]}
    return found


def invoke(cloud, function: str, task_input: dict) -> dict:
    """Invoke a task as the build state machine does; its answer (a task failure fails the test)."""
    payload = {"execution": f"arn:aws:states:us-east-1:{ACCOUNT}:execution:test-iam:{uuid.uuid4()}", "input": task_input}
    answer = cloud.client("lambda").invoke(FunctionName=function, Payload=json.dumps(payload))
    body = json.loads(answer["Payload"].read())
    assert "FunctionError" not in answer, body
    return body


class Build:
    """The build of one commit, step by step: each step runs the steps before it once."""

    def __init__(self, cloud, sprout: dict, app: AppRepo, commit: str):
        self.cloud, self.sprout, self.app, self.commit = cloud, sprout, app, commit
        self.event_id = str(uuid.uuid4())
        self._done: dict[str, dict] = {}

    def _once(self, step: str, run) -> dict:
        if step not in self._done:
            self._done[step] = run()
        return self._done[step]

    def event(self) -> dict:
        return {
            "version": "0", "id": self.event_id, "source": "aws.codecommit",
            "detail-type": "CodeCommit Repository State Change",
            "resources": [f"arn:aws:codecommit:us-east-1:{ACCOUNT}:{self.app.name}"],
            "detail": {"event": "referenceUpdated", "repositoryName": self.app.name, "referenceType": "branch",
                       "referenceName": "release", "commitId": self.commit},
        }

    def task(self, logical_id: str, task_input: dict) -> dict:
        return invoke(self.cloud, self.sprout[logical_id]["name"], task_input)

    def resolved(self) -> dict:
        return self._once("resolve", lambda: self.task("ResolveFunction", self.event()))

    def recorded(self) -> dict:
        return self._once("record", lambda: self.task("RecordBuildFunction", self.resolved()["targets"][0]))

    def packaged(self) -> dict:
        target = self.resolved()["targets"][0]
        task_input = {"app": target["app"], "repository": target["repository"], "number": self.recorded()["number"], "commitId": self.commit}
        return self._once("package", lambda: self.task("PackageFunction", task_input))

    def finished(self) -> dict:
        task_input = {"app": self.app.name, "number": self.recorded()["number"], "status": "SUCCEEDED", "package": self.packaged()}
        return self._once("finish", lambda: self.task("RecordBuildOutcomeFunction", task_input))

    def begun(self) -> dict:
        self.finished()
        task_input = {"app": self.app.name, "stage": "dev", "build": self.recorded()["number"], "trigger": {"type": "user"}}
        return self._once("begin", lambda: self.task("BeginDeployFunction", task_input))

    def deploying(self) -> dict:
        return self._once("change set", lambda: self.task("StartChangeSetFunction", self.begun()))

    def deployed(self) -> dict:
        def follow() -> dict:
            state = self.deploying()
            deadline = time.monotonic() + 90
            while state["status"] == "IN_PROGRESS" and time.monotonic() < deadline:
                time.sleep(0.5)
                state = self.task("CheckDeployFunction", state)
            return state

        return self._once("check", follow)


@pytest.fixture(scope="module")
def build(cloud, api, sprout, tmp_path_factory) -> Build:
    """The notes app registered with dev following (and auto-deploying) branch ``release``, its code
    pushed to ``main``: a commit to build, by hand."""
    app = registered_app(cloud, api, f"iam-{uuid.uuid4().hex[:8]}", NOTES, tmp_path_factory.mktemp("iam"),
                         stages=[{"name": "dev", "branch": "release", "autoDeploy": True}])
    return Build(cloud, sprout, app, app.commit_and_push("The notes app"))


# ---- each task under its own role --------------------------------------------------------------------
def test_given_a_push_event_when_resolve_runs_under_its_role_then_it_reads_the_lineage_and_keeps_its_idempotency_record(build):
    resolved = build.resolved()
    [target] = resolved["targets"]
    assert (target["app"], target["commitId"], target["branch"], target["deployStages"]) == (build.app.name, build.commit, "release", ["dev"])
    assert build.task("ResolveFunction", build.event()) == resolved  # the same event again: from its record


def test_given_a_target_when_record_build_runs_under_its_role_then_it_reads_the_commit_and_numbers_the_build(build):
    assert build.recorded() == {"number": 1, "created": True, "commitId": build.commit, "status": "BUILDING"}


def test_given_a_build_when_plan_dependencies_runs_under_its_role_then_it_reads_the_source_and_finds_nothing_to_install(build):
    target = build.resolved()["targets"][0]
    task_input = {"app": target["app"], "repository": target["repository"], "number": build.recorded()["number"],
                  "commitId": build.commit}
    # the notes app's functions have no requirements.txt; its layer has no BuildMethod
    assert build.task("PlanDependenciesFunction", task_input) == {"builds": [], "cached": 0}


def test_given_a_build_when_package_runs_under_its_role_then_it_reads_the_source_and_stores_the_artifacts(build, cloud):
    packaged = build.packaged()
    bucket = cloud.sprout["ArtifactBucketName"]
    # the function manifest stays in S3: a state's payload carries its key only
    manifest = json.loads(cloud.client("s3").get_object(Bucket=bucket, Key=packaged["manifestKey"])["Body"].read())
    assert {f["logicalId"] for f in manifest} >= {"CreateNoteFunction", "GetNoteFunction"}
    assert packaged["functionCount"] == len(manifest)
    for key in [packaged["templateKey"], *(f["s3Key"] for f in manifest)]:
        cloud.client("s3").head_object(Bucket=bucket, Key=key)


def test_given_a_package_when_record_build_outcome_runs_under_its_role_then_the_build_is_recorded_succeeded(build):
    assert build.finished() == {"app": build.app.name, "number": 1, "status": "SUCCEEDED"}
    assert build.app.build(1)["status"] == "SUCCEEDED"


def test_given_a_succeeded_build_when_begin_deploy_runs_under_its_role_then_it_holds_the_stage_and_records_the_deployment(build):
    begun = build.begun()
    assert (begun["status"], begun["deploymentId"]) == ("IN_PROGRESS", "000001"), begun
    stage = build.app.api.request("GET", f"/apps/{build.app.name}/stages/dev")
    assert stage["lock"]["deployment"] == "000001" and stage["lock"]["expiresAt"] > stage["lock"]["since"]


def test_given_a_deployment_when_start_change_set_runs_under_its_role_then_it_passes_the_deploy_role_to_a_change_set(build):
    deploying = build.deploying()
    assert deploying["status"] == "IN_PROGRESS", deploying
    assert deploying["stackName"] == f"{build.app.name}-dev" and ":changeSet/" in deploying["changeSetId"]


def test_given_a_change_set_when_check_deploy_runs_under_its_role_then_it_executes_it_and_records_the_live_versions(build):
    deployed = build.deployed()
    assert deployed["status"] == "SUCCEEDED", deployed
    assert set(deployed["versions"]) >= {"CreateNoteFunction", "GetNoteFunction"}
    assert build.app.build(1)["deployedTo"]["dev"]["status"] == "SUCCEEDED"


def test_given_a_deploy_task_that_failed_when_settle_deploy_runs_under_its_role_then_it_reads_the_stack_and_records(build):
    deployed = build.deployed()
    failed_task = {"Error": "Runtime.ExitError", "Cause": '{"errorMessage": "signal: killed"}'}
    settled = build.task("SettleDeployFunction", {**build.deploying(), "error": failed_task, "failedAt": {"step": "CheckDeploy"}})
    assert (settled["status"], settled["versions"]) == ("SUCCEEDED", deployed["versions"]), settled


def test_given_a_stage_when_the_finalizer_checks_it_under_its_role_then_it_reads_the_stack_and_the_aliases(build, cloud, sprout):
    build.deployed()
    dead = f"arn:aws:states:us-east-1:{ACCOUNT}:execution:sprout-deploy:gone-{uuid.uuid4().hex[:8]}"
    begin = {"execution": dead, "input": {"app": build.app.name, "stage": "dev", "build": build.recorded()["number"],
                                          "trigger": {"type": "user"}}}
    open_one = json.loads(cloud.client("lambda").invoke(FunctionName=sprout["BeginDeployFunction"]["name"],
                                                        Payload=json.dumps(begin))["Payload"].read())
    payload = {"detail": {"executionArn": dead, "status": "ABORTED"}}
    answer = cloud.client("lambda").invoke(FunctionName=sprout["FinalizeFunction"]["name"], Payload=json.dumps(payload))
    finalized = json.loads(answer["Payload"].read())
    assert "FunctionError" not in answer, finalized
    [checked] = finalized["reconciled"]
    assert "error" not in checked and checked["consistent"] is True, checked
    assert open_one["deploymentId"] and finalized["closed"]


# ---- outside the policies ---------------------------------------------------------------------------------
def test_given_resolves_role_when_it_writes_to_the_artifact_bucket_then_access_denied_names_action_resource_and_function(cloud, sprout):
    resolve = sprout["ResolveFunction"]
    # the credentials the runner gives Resolve's workers: its role, session named after the function
    c = cloud.client("sts").assume_role(RoleArn=resolve["role"], RoleSessionName=resolve["name"])["Credentials"]
    s3 = cloud.client("s3", aws_access_key_id=c["AccessKeyId"], aws_secret_access_key=c["SecretAccessKey"], aws_session_token=c["SessionToken"])
    bucket = cloud.sprout["ArtifactBucketName"]

    with pytest.raises(ClientError) as e:
        s3.put_object(Bucket=bucket, Key="artifacts/forged.zip", Body=b"x")

    role_name = resolve["role"].rsplit("/", 1)[-1]
    assert e.value.response["Error"]["Code"] == "AccessDenied"
    assert e.value.response["Error"]["Message"] == (
        f"User: arn:aws:sts::{ACCOUNT}:assumed-role/{role_name}/{resolve['name']} is not authorized to perform: "
        f's3:PutObject on resource: "arn:aws:s3:::{bucket}/artifacts/forged.zip" because no identity-based policy allows the s3:PutObject action'
    )


@pytest.mark.parametrize(
    "function, key",
    [
        ("CacheDependenciesFunction", "artifacts/forged.zip"),  # moves dependency builds' outputs into the cache only
        ("PackageFunction", "dependencies/forged/forged.zip"),  # reads the cache, never writes it
        ("PlanDependenciesFunction", "dependencies/forged/forged.zip"),
    ],
)
def test_given_a_build_tasks_role_when_it_writes_outside_its_prefixes_then_access_is_denied(cloud, sprout, function, key):
    task = sprout[function]
    c = cloud.client("sts").assume_role(RoleArn=task["role"], RoleSessionName=task["name"])["Credentials"]
    s3 = cloud.client("s3", aws_access_key_id=c["AccessKeyId"], aws_secret_access_key=c["SecretAccessKey"], aws_session_token=c["SessionToken"])
    with pytest.raises(ClientError) as e:
        s3.put_object(Bucket=cloud.sprout["ArtifactBucketName"], Key=key, Body=b"x")
    assert e.value.response["Error"]["Code"] == "AccessDenied"
    assert f"s3:PutObject on resource: \"arn:aws:s3:::{cloud.sprout['ArtifactBucketName']}/{key}\"" in e.value.response["Error"]["Message"]


PROBE = """
import os, boto3
from botocore.exceptions import ClientError

def handler(event, context):
    try:
        boto3.client("cloudformation").describe_stacks(StackName="sprout")
        return "allowed"
    except ClientError as e:
        return e.response["Error"]["Message"]
"""


def test_given_a_function_with_check_deploys_role_when_it_reads_sprouts_own_stack_then_the_explicit_deny_names_it(cloud, sprout):
    check = sprout["CheckDeployFunction"]
    name = f"probe-{uuid.uuid4().hex[:8]}"
    cloud.client("lambda").create_function(
        FunctionName=name, Runtime="python3.11", Role=check["role"], Handler="app.handler", Code={"ZipFile": python_zip(PROBE)},
    )
    answer = json.loads(cloud.client("lambda").invoke(FunctionName=name)["Payload"].read())
    role_name = check["role"].rsplit("/", 1)[-1]
    assert answer == (
        f"User: arn:aws:sts::{ACCOUNT}:assumed-role/{role_name}/{name} is not authorized to perform: cloudformation:DescribeStacks "
        f"on resource: arn:aws:cloudformation:us-east-1:{ACCOUNT}:stack/sprout/* with an explicit deny in an identity-based policy"
    )


DELETE_PROBE = """
import boto3
from botocore.exceptions import ClientError

def handler(event, context):
    try:
        boto3.client("cloudformation").delete_stack(StackName="sprout")
        return "allowed"
    except ClientError as e:
        return e.response["Error"]["Message"]
"""


def test_given_start_change_sets_role_when_it_deletes_sprouts_own_stack_then_the_explicit_deny_names_it(cloud, sprout):
    start = sprout["StartChangeSetFunction"]
    name = f"probe-{uuid.uuid4().hex[:8]}"
    cloud.client("lambda").create_function(
        FunctionName=name, Runtime="python3.11", Role=start["role"], Handler="app.handler", Code={"ZipFile": python_zip(DELETE_PROBE)},
    )
    answer = json.loads(cloud.client("lambda").invoke(FunctionName=name)["Payload"].read())
    role_name = start["role"].rsplit("/", 1)[-1]
    assert answer == (
        f"User: arn:aws:sts::{ACCOUNT}:assumed-role/{role_name}/{name} is not authorized to perform: cloudformation:DeleteStack "
        f"on resource: arn:aws:cloudformation:us-east-1:{ACCOUNT}:stack/sprout/* with an explicit deny in an identity-based policy"
    )
    assert cloud.client("cloudformation").describe_stacks(StackName="sprout")["Stacks"][0]["StackStatus"].endswith("COMPLETE")


def test_given_each_state_machines_role_then_it_may_invoke_its_tasks_and_not_the_api_function(cloud, sprout):
    sfn = cloud.client("stepfunctions")
    for machine, tasks in MACHINE_TASKS.items():
        role = sfn.describe_state_machine(stateMachineArn=cloud.sprout[machine])["roleArn"]
        c = cloud.client("sts").assume_role(RoleArn=role, RoleSessionName="StepFunctions")["Credentials"]
        lam = cloud.client("lambda", aws_access_key_id=c["AccessKeyId"], aws_secret_access_key=c["SecretAccessKey"],
                           aws_session_token=c["SessionToken"])
        for task in tasks:
            assert lam.invoke(FunctionName=sprout[task]["name"], InvocationType="DryRun")["StatusCode"] == 204
        with pytest.raises(ClientError) as e:
            lam.invoke(FunctionName=sprout["ApiFunction"]["name"], InvocationType="DryRun")
        assert e.value.response["Error"]["Code"] == "AccessDeniedException"
        assert f"lambda:InvokeFunction on resource: arn:aws:lambda:us-east-1:{ACCOUNT}:function:{sprout['ApiFunction']['name']}" in str(e.value)


def test_given_the_push_rules_role_then_it_may_start_no_state_machine_but_the_build(cloud):
    events, sfn = cloud.client("events"), cloud.client("stepfunctions")
    machine = cloud.sprout["BuildStateMachineArn"]
    [rule] = events.list_rule_names_by_target(TargetArn=machine)["RuleNames"]
    [target] = events.list_targets_by_rule(Rule=rule)["Targets"]
    other = sfn.create_state_machine(
        name=f"not-sprouts-{uuid.uuid4().hex[:8]}", roleArn=target["RoleArn"],
        definition=json.dumps({"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}}),
    )["stateMachineArn"]
    c = cloud.client("sts").assume_role(RoleArn=target["RoleArn"], RoleSessionName=rule)["Credentials"]
    as_rule = cloud.client(
        "stepfunctions", aws_access_key_id=c["AccessKeyId"], aws_secret_access_key=c["SecretAccessKey"], aws_session_token=c["SessionToken"]
    )

    with pytest.raises(ClientError) as e:
        as_rule.start_execution(stateMachineArn=other, input="{}")
    assert f"states:StartExecution on resource: {other}" in str(e.value)  # (push -> build: test_builds.py)


LOGS_PROBE = """
import boto3
from botocore.exceptions import ClientError

def handler(event, context):
    out = {}
    for group in event["groups"]:
        try:
            boto3.client("logs").filter_log_events(logGroupName=group, limit=1)
            out[group] = "allowed"
        except ClientError as e:
            out[group] = e.response["Error"]["Code"]
    return out
"""


def test_given_the_canary_steps_role_when_it_reads_logs_then_apps_logs_are_readable_and_sprouts_own_are_not(cloud, sprout):
    """GIVEN a function running with CanaryStep's role (the judge reads the new versions' 5xx)
    WHEN it reads an app's function log group, a stage's access log, and Sprout's own function's log
    THEN the first two are allowed (found or not), Sprout's own is denied."""
    step = sprout["CanaryStepFunction"]
    name = f"probe-{uuid.uuid4().hex[:8]}"
    lam = cloud.client("lambda")
    lam.create_function(FunctionName=name, Runtime="python3.11", Role=step["role"], Handler="app.handler",
                        Code={"ZipFile": python_zip(LOGS_PROBE)})
    own = f"/aws/lambda/{sprout['ApiFunction']['name']}"
    groups = ["/aws/lambda/notes-prod/CreateNoteFunction", "API-Gateway-Access-Logs_abc123/prod", own]
    answer = json.loads(lam.invoke(FunctionName=name, Payload=json.dumps({"groups": groups}))["Payload"].read())
    assert answer[groups[0]] in ("allowed", "ResourceNotFoundException"), answer
    assert answer[groups[1]] in ("allowed", "ResourceNotFoundException"), answer
    assert answer[own] == "AccessDeniedException", answer
    lam.delete_function(FunctionName=name)
