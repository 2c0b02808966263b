"""CodeBuild on the local cloud, as on AWS: projects from a stack, builds that run their buildspec
for real (source zip from S3, env vars, artifacts zipped to S3), failures with CodeBuild's phases,
contexts and log lines, StopBuild, the Step Functions ``startBuild.sync`` integration, and IAM
(enforced in the session cloud) holding the service role and the state machine role to their
policies."""

from __future__ import annotations

import io
import json
import time
import zipfile
from pathlib import Path

import pytest
from botocore.exceptions import ClientError

from tests.integration.localcloud.lambda_helpers import service_role

TEMPLATE = Path(__file__).parent / "templates" / "codebuild" / "template.yaml"
FAST = {"Delay": 0.2, "MaxAttempts": 300}


@pytest.fixture(scope="module")
def stack(cloud) -> dict[str, str]:
    cf = cloud.client("cloudformation")
    name = f"codebuild-{str(time.monotonic_ns())[-8:]}"
    cf.create_stack(StackName=name, TemplateBody=TEMPLATE.read_text(), Capabilities=["CAPABILITY_IAM"])
    cf.get_waiter("stack_create_complete").wait(StackName=name, WaiterConfig=FAST)
    outputs = {o["OutputKey"]: o["OutputValue"] for o in cf.describe_stacks(StackName=name)["Stacks"][0]["Outputs"]}
    source = io.BytesIO()
    with zipfile.ZipFile(source, "w") as zf:
        zf.writestr("handler.py", "def handler(event, context):\n    return 'ok'\n")
    cloud.client("s3").put_object(Bucket=outputs["Sources"], Key="app.zip", Body=source.getvalue())
    outputs["StackName"] = name
    return outputs


def wait_build(cloud, build_id: str, timeout: float = 30) -> dict:
    codebuild = cloud.client("codebuild")
    deadline = time.monotonic() + timeout
    while not (build := codebuild.batch_get_builds(ids=[build_id])["builds"][0])["buildComplete"]:
        assert time.monotonic() < deadline, f"{build_id} still {build['buildStatus']} in {build['currentPhase']}"
        time.sleep(0.1)
    return build


def log_lines(cloud, build: dict, until: str | None = None, timeout: float = 5) -> list[str]:
    logs = cloud.client("logs")
    deadline = time.monotonic() + timeout
    while True:
        try:
            events = logs.get_log_events(logGroupName=build["logs"]["groupName"], logStreamName=build["logs"]["streamName"])
            lines = [e["message"] for e in events["events"]]
        except logs.exceptions.ResourceNotFoundException:
            lines = []
        if (until is None and lines) or (until and any(until in line for line in lines)) or time.monotonic() > deadline:
            return lines
        time.sleep(0.1)


def phases(build: dict) -> dict[str, dict]:
    return {p["phaseType"]: p for p in build["phases"]}


def wait_execution(cloud, arn: str, timeout: float = 60) -> dict:
    sfn = cloud.client("stepfunctions")
    deadline = time.monotonic() + timeout
    while (described := sfn.describe_execution(executionArn=arn))["status"] == "RUNNING":
        assert time.monotonic() < deadline, f"{arn} still RUNNING"
        time.sleep(0.1)
    return described


def test_given_a_project_from_a_stack_when_a_build_runs_then_its_zip_of_artifacts_is_in_s3(cloud, stack):
    codebuild = cloud.client("codebuild")
    # GIVEN the stack's project: a generated name, Ref the name, GetAtt Arn its ARN
    name = stack["PackagerName"]
    assert name.startswith("Packager-")
    assert stack["PackagerArn"] == f"arn:aws:codebuild:us-east-1:123456789012:project/{name}"

    # WHEN a build runs, overriding one variable
    started = codebuild.start_build(
        projectName=name, environmentVariablesOverride=[{"name": "TARGET", "value": "override", "type": "PLAINTEXT"}]
    )["build"]
    assert started["buildStatus"] == "IN_PROGRESS" and not started["buildComplete"]
    build = wait_build(cloud, started["id"])

    # THEN it succeeded through every phase, and its zip holds the source's file and what the commands wrote
    assert build["buildStatus"] == "SUCCEEDED", build["phases"]
    assert [p["phaseType"] for p in build["phases"]] == [
        "SUBMITTED", "QUEUED", "PROVISIONING", "DOWNLOAD_SOURCE", "INSTALL", "PRE_BUILD", "BUILD", "POST_BUILD",
        "UPLOAD_ARTIFACTS", "FINALIZING", "COMPLETED",
    ]
    uuid = build["id"].split(":", 1)[1]
    key = f"packages/{uuid}/package.zip"
    assert build["artifacts"]["location"] == f"arn:aws:s3:::{stack['Outputs']}/{key}"
    body = cloud.client("s3").get_object(Bucket=stack["Outputs"], Key=key)["Body"].read()
    with zipfile.ZipFile(io.BytesIO(body)) as zf:
        assert sorted(zf.namelist()) == ["greeting.txt", "handler.py", "lib/target.txt"]
        assert zf.read("handler.py").startswith(b"def handler")
        # the project's value beats the buildspec's; the StartBuild override beats the project's
        assert zf.read("greeting.txt").decode() == f"hello from spec in {build['id']}\n"
        assert zf.read("lib/target.txt") == b"override\n"
    assert build["logs"]["groupName"] == f"/aws/codebuild/{name}" and build["logs"]["streamName"] == uuid
    assert codebuild.list_builds_for_project(projectName=name)["ids"][0] == build["id"]


def test_given_a_failing_build_command_then_the_build_fails_in_build_and_post_build_still_runs(cloud, stack):
    codebuild = cloud.client("codebuild")
    build = wait_build(cloud, codebuild.start_build(projectName=stack["Failing"])["build"]["id"])

    assert build["buildStatus"] == "FAILED"
    by_type = phases(build)
    assert by_type["BUILD"]["phaseStatus"] == "FAILED"
    assert by_type["BUILD"]["contexts"] == [
        {"statusCode": "COMMAND_EXECUTION_ERROR", "message": "Error while executing command: exit 3. Reason: exit status 3"}
    ]
    assert by_type["POST_BUILD"]["phaseStatus"] == "SUCCEEDED"
    # THEN the log group of the project has CodeBuild's lines and the commands' output, as they came
    lines = log_lines(cloud, build, until="Phase complete: FINALIZING")
    assert build["logs"]["groupName"] == f"/aws/codebuild/{stack['Failing']}"
    assert any(line.startswith("[Container] ") and line.endswith("Running command exit 3") for line in lines)
    assert "about to fail" in lines and "never printed" not in lines
    assert any(line.endswith("Phase complete: BUILD State: FAILED") for line in lines)
    assert any(
        line.endswith("Phase context status code: COMMAND_EXECUTION_ERROR Message: Error while executing command: "
                      "exit 3. Reason: exit status 3")
        for line in lines
    )
    assert "post_build ran, succeeding=0" in lines


def test_given_a_running_build_when_it_is_stopped_then_it_is_stopped_at_once(cloud, stack):
    codebuild = cloud.client("codebuild")
    build_id = codebuild.start_build(projectName=stack["Sleeper"])["build"]["id"]
    deadline = time.monotonic() + 15
    while codebuild.batch_get_builds(ids=[build_id])["builds"][0]["currentPhase"] != "BUILD":
        assert time.monotonic() < deadline
        time.sleep(0.1)

    t0 = time.monotonic()
    stopped = codebuild.stop_build(id=build_id)["build"]

    assert time.monotonic() - t0 < 5
    assert stopped["buildStatus"] == "STOPPED" and stopped["buildComplete"]
    assert phases(stopped)["BUILD"]["phaseStatus"] == "STOPPED"


def test_given_a_service_role_without_put_object_then_upload_artifacts_fails_naming_the_denial(cloud, stack):
    build = wait_build(cloud, cloud.client("codebuild").start_build(projectName=stack["CannotUpload"])["build"]["id"])

    assert build["buildStatus"] == "FAILED"
    upload = phases(build)["UPLOAD_ARTIFACTS"]
    assert upload["phaseStatus"] == "FAILED"
    [context] = upload["contexts"]
    assert context["statusCode"] == "CLIENT_ERROR"
    assert "s3:PutObject" in context["message"] and f"{stack['Outputs']}/denied.zip" in context["message"]
    assert "assumed-role/" in context["message"]


def test_given_a_sync_task_when_the_build_succeeds_then_the_output_is_the_build(cloud, stack):
    sfn = cloud.client("stepfunctions")
    arn = sfn.start_execution(
        stateMachineArn=stack["Machine"], input=json.dumps({"project": stack["PackagerName"], "target": "from-sfn"})
    )["executionArn"]

    described = wait_execution(cloud, arn)

    assert described["status"] == "SUCCEEDED", described.get("cause")
    build = json.loads(described["output"])["Build"]
    assert build["BuildStatus"] == "SUCCEEDED" and build["ProjectName"] == stack["PackagerName"]
    assert build["Logs"]["GroupName"] == f"/aws/codebuild/{stack['PackagerName']}"
    assert build["Logs"]["StreamName"] == build["Id"].split(":", 1)[1]
    assert {"Name": "TARGET", "Value": "from-sfn", "Type": "PLAINTEXT"} in build["Environment"]["EnvironmentVariables"]


def test_given_a_sync_task_when_the_build_fails_then_the_task_fails_with_the_build_as_cause(cloud, stack):
    sfn = cloud.client("stepfunctions")
    arn = sfn.start_execution(
        stateMachineArn=stack["Machine"], input=json.dumps({"project": stack["Failing"], "target": "x"})
    )["executionArn"]

    described = wait_execution(cloud, arn)

    assert described["status"] == "FAILED"
    assert described["error"] == "States.TaskFailed"
    cause = json.loads(described["cause"])["Build"]
    assert cause["BuildStatus"] == "FAILED" and cause["ProjectName"] == stack["Failing"]
    assert cause["Logs"]["GroupName"] == f"/aws/codebuild/{stack['Failing']}"
    assert log_lines(cloud, {"logs": {"groupName": cause["Logs"]["GroupName"], "streamName": cause["Logs"]["StreamName"]}})


def test_given_a_role_without_the_managed_rule_permissions_when_a_sync_machine_is_created_then_access_denied(
    cloud, stack, uid
):
    role = service_role(
        cloud, f"codebuild-no-events-{uid}", "states.amazonaws.com",
        [{"Effect": "Allow", "Action": ["codebuild:StartBuild", "codebuild:BatchGetBuilds"], "Resource": "*"}],
    )
    definition = {
        "StartAt": "Build",
        "States": {
            "Build": {
                "Type": "Task",
                "Resource": "arn:aws:states:::codebuild:startBuild.sync",
                "Parameters": {"ProjectName": stack["PackagerName"]},
                "End": True,
            }
        },
    }
    sfn = cloud.client("stepfunctions")

    with pytest.raises(ClientError) as refused:
        sfn.create_state_machine(name=f"cb-no-events-{uid}", roleArn=role, definition=json.dumps(definition))
    assert refused.value.response["Error"]["Code"] == "AccessDeniedException"
    assert refused.value.response["Error"]["Message"] == f"'{role}' is not authorized to create managed-rule."

    # AND starting a build without waiting for it needs no managed rule
    definition["States"]["Build"]["Resource"] = "arn:aws:states:::codebuild:startBuild"
    assert sfn.create_state_machine(name=f"cb-fire-{uid}", roleArn=role, definition=json.dumps(definition))


def test_given_a_role_codebuild_may_not_assume_when_a_project_is_created_then_it_is_refused(cloud, uid):
    role = service_role(cloud, f"codebuild-wrong-trust-{uid}", "lambda.amazonaws.com", [])
    with pytest.raises(ClientError) as refused:
        cloud.client("codebuild").create_project(
            name=f"wrong-trust-{uid}", source={"type": "NO_SOURCE", "buildspec": "version: 0.2"},
            artifacts={"type": "NO_ARTIFACTS"},
            environment={"type": "LINUX_CONTAINER", "image": "aws/codebuild/standard:7.0", "computeType": "BUILD_GENERAL1_SMALL"},
            serviceRole=role,
        )
    assert refused.value.response["Error"]["Code"] == "InvalidInputException"
    assert f"sts:AssumeRole on {role}" in refused.value.response["Error"]["Message"]


def test_given_an_unsupported_sub_property_then_the_stack_fails_naming_it(cloud, stack, uid):
    cf = cloud.client("cloudformation")
    template = {
        "Resources": {
            "Odd": {
                "Type": "AWS::CodeBuild::Project",
                "Properties": {
                    "ServiceRole": f"arn:aws:iam::123456789012:role/whatever-{uid}",
                    "Source": {"Type": "NO_SOURCE", "BuildSpec": "version: 0.2", "GitCloneDepth": 1},
                    "Artifacts": {"Type": "NO_ARTIFACTS"},
                    "Environment": {"Type": "LINUX_CONTAINER", "ComputeType": "BUILD_GENERAL1_SMALL", "Image": "x"},
                },
            }
        }
    }
    name = f"codebuild-odd-{uid}"
    cf.create_stack(StackName=name, TemplateBody=json.dumps(template))
    deadline = time.monotonic() + 20
    while (status := cf.describe_stacks(StackName=name)["Stacks"][0]["StackStatus"]).endswith("IN_PROGRESS"):
        assert time.monotonic() < deadline
        time.sleep(0.1)
    reasons = [e.get("ResourceStatusReason", "") for e in cf.describe_stack_events(StackName=name)["StackEvents"]]
    assert status in ("CREATE_FAILED", "ROLLBACK_COMPLETE", "ROLLBACK_FAILED")
    assert any("Odd" in r and "AWS::CodeBuild::Project" in r and "Source.GitCloneDepth" in r for r in reasons), reasons


def test_given_the_stack_when_the_project_is_updated_then_the_next_build_uses_the_new_settings(cloud, stack):
    codebuild = cloud.client("codebuild")
    # GIVEN an update through the API CloudFormation uses
    [project] = codebuild.batch_get_projects(names=[stack["Failing"]])["projects"]
    codebuild.update_project(name=stack["Failing"], description="updated", timeoutInMinutes=7)

    [updated] = codebuild.batch_get_projects(names=[stack["Failing"]])["projects"]
    assert updated["description"] == "updated" and updated["timeoutInMinutes"] == 7
    assert updated["source"] == project["source"]
