"""The local cloud keeps its state in its data dir: killed (SIGKILL) and started again, it brings
back what it held, says what, ends what was running as AWS shows it, and refuses a data dir it
cannot use in one line."""

from __future__ import annotations

import json
import subprocess
import sys

import requests

from tests.conftest import start_cloud, stop_cloud
from tests.integration.faults import arm
from tests.integration.sprout.conftest import wait_for

ROLE = "arn:aws:iam::123456789012:role/any"
SLEEPS = "version: 0.2\nphases:\n  build:\n    commands:\n      - sleep 600\n"


def written(cloud) -> bool:
    return not requests.get(f"{cloud.endpoint}/_localcloud/persistence", timeout=10).json()["pending"]


def kill(cloud) -> None:
    wait_for("the snapshot", lambda: written(cloud), timeout=30)
    cloud.process.kill()
    cloud.process.wait(timeout=30)


def up(data, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "localcloud", "up", "--port", "0", "--data-dir", str(data), *args],
        capture_output=True, text=True, timeout=120,
    )


def test_given_a_cloud_killed_when_started_again_then_its_state_is_back_and_what_ran_is_ended(tmp_path):
    from tests.integration.localcloud.test_codecommit_git import Git, write

    data = tmp_path / "data"
    git = Git(tmp_path / "home")
    cloud = start_cloud(data)
    try:
        # GIVEN a repository with a commit, a table with items, an object, a queue with a message in
        # flight, an execution running (whose status changes a rule sends to a queue), a build running
        url = cloud.client("codecommit").create_repository(repositoryName="kept")["repositoryMetadata"]["cloneUrlHttp"]
        git.run(tmp_path, "clone", "-q", url, "work")
        write(tmp_path / "work", {"README.md": "hello\n"})
        commit = git.commit_all(tmp_path / "work", "first")
        git.run(tmp_path / "work", "push", "-q", "origin", "HEAD:main")
        ddb = cloud.client("dynamodb")
        ddb.create_table(TableName="kept", KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
                         AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
                         BillingMode="PAY_PER_REQUEST")
        for i in range(20):
            ddb.put_item(TableName="kept", Item={"pk": {"S": f"item-{i}"}})
        cloud.client("s3").create_bucket(Bucket="kept-bucket")
        cloud.client("s3").put_object(Bucket="kept-bucket", Key="k", Body=b"kept")
        sqs = cloud.client("sqs")
        work_queue = sqs.create_queue(QueueName="work")["QueueUrl"]
        sqs.send_message(QueueUrl=work_queue, MessageBody="in flight")
        assert sqs.receive_message(QueueUrl=work_queue, VisibilityTimeout=3600)["Messages"]
        events_queue = sqs.create_queue(QueueName="status-changes")["QueueUrl"]
        events_arn = sqs.get_queue_attributes(QueueUrl=events_queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        cloud.client("events").put_rule(Name="ended", EventPattern=json.dumps(
            {"source": ["aws.states"], "detail": {"status": ["ABORTED"]}}))
        cloud.client("events").put_targets(Rule="ended", Targets=[{"Id": "q", "Arn": events_arn}])
        sfn = cloud.client("stepfunctions")
        machine = sfn.create_state_machine(name="waits", roleArn=ROLE, definition=json.dumps(
            {"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 3600, "End": True}}}))["stateMachineArn"]
        execution = sfn.start_execution(stateMachineArn=machine)["executionArn"]
        codebuild = cloud.client("codebuild")
        codebuild.create_project(
            name="sleeps", source={"type": "NO_SOURCE", "buildspec": SLEEPS}, artifacts={"type": "NO_ARTIFACTS"},
            environment={"type": "LINUX_CONTAINER", "image": "aws/codebuild/standard:7.0",
                         "computeType": "BUILD_GENERAL1_SMALL"},
            serviceRole=ROLE,
        )
        build = codebuild.start_build(projectName="sleeps")["build"]["id"]
        wait_for("the build to run", lambda: codebuild.batch_get_builds(ids=[build])["builds"][0]["currentPhase"]
                 == "BUILD", timeout=60)
        arm(cloud, kind="hold-stack", stack="held")  # and a stack held in the middle of its create
        cloud.client("cloudformation").create_stack(StackName="held", TemplateBody=json.dumps(
            {"Resources": {"Logs": {"Type": "AWS::Logs::LogGroup", "Properties": {"LogGroupName": "held-logs"}}}}))
        # WHEN the cloud is killed and started again on the same data dir
        kill(cloud)
    except BaseException:
        stop_cloud(cloud)
        raise
    cloud = start_cloud(data)
    try:
        said = "".join(cloud.output)
        # THEN it says what it restored and what it ended, one line each
        assert "localcloud: restored the state written" in said and "20 items" in said, said
        assert "localcloud: 1 Step Functions executions ended ABORTED" in said, said
        assert "localcloud: 1 SQS messages in flight made visible again" in said, said
        assert "localcloud: 1 CodeBuild builds ended STOPPED" in said, said
        assert "localcloud: 1 CloudFormation stack operations taken on" in said, said
        # AND the state is back: items, object, repository served again with its commit
        assert cloud.client("dynamodb").scan(TableName="kept")["Count"] == 20
        assert cloud.client("s3").get_object(Bucket="kept-bucket", Key="k")["Body"].read() == b"kept"
        assert cloud.client("codecommit").get_branch(repositoryName="kept", branchName="main")["branch"]["commitId"] == commit
        git.run(tmp_path, "clone", "-q", url, "again")
        assert (tmp_path / "again" / "README.md").read_text() == "hello\n"
        # AND the execution ended ABORTED, with its history and its status change event
        sfn = cloud.client("stepfunctions")
        described = sfn.describe_execution(executionArn=execution)
        assert described["status"] == "ABORTED" and described["error"] == "Localcloud.Restarted"
        history = [e["type"] for e in sfn.get_execution_history(executionArn=execution)["events"]]
        assert history[0] == "ExecutionStarted" and history[-1] == "ExecutionAborted"
        sqs = cloud.client("sqs")
        events_queue = sqs.get_queue_url(QueueName="status-changes")["QueueUrl"]
        got = wait_for("the ABORTED event", lambda: sqs.receive_message(QueueUrl=events_queue, WaitTimeSeconds=1)
                       .get("Messages"), timeout=30)
        assert json.loads(got[0]["Body"])["detail"]["executionArn"] == execution
        # AND the stack caught mid-create is rolled back
        cf = cloud.client("cloudformation")
        wait_for("the held stack to settle", lambda: not cf.describe_stacks(StackName="held")["Stacks"][0]
                 ["StackStatus"].endswith("_IN_PROGRESS"), timeout=60)
        assert cf.describe_stacks(StackName="held")["Stacks"][0]["StackStatus"] == "ROLLBACK_COMPLETE"
        # AND the build ended STOPPED
        ended = cloud.client("codebuild").batch_get_builds(ids=[build])["builds"][0]
        assert (ended["buildStatus"], ended["buildComplete"]) == ("STOPPED", True)
        # AND the message that was in flight is visible again
        work_queue = sqs.get_queue_url(QueueName="work")["QueueUrl"]
        assert [m["Body"] for m in sqs.receive_message(QueueUrl=work_queue)["Messages"]] == ["in flight"]
        # AND a second up on the same data dir is refused in one line while this one runs
        second = up(data)
        assert second.returncode == 1, second.stdout + second.stderr
        assert "is in use by another local cloud" in second.stderr and "Traceback" not in second.stderr
    finally:
        assert stop_cloud(cloud) == 0


def test_given_a_corrupted_or_foreign_snapshot_when_up_then_it_exits_1_in_one_line_loading_nothing(tmp_path):
    # GIVEN a data dir whose snapshot was cut short
    data = tmp_path / "data"
    cloud = start_cloud(data)
    cloud.client("s3").create_bucket(Bucket="some-bucket")
    assert stop_cloud(cloud) == 0
    snapshot = data / "state" / "snapshot.bin"
    whole = snapshot.read_bytes()
    snapshot.write_bytes(whole[: len(whole) // 2])
    # WHEN up starts on it THEN it exits 1, one line, no traceback, nothing served
    done = up(data)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "truncated or corrupted" in done.stderr and "Traceback" not in done.stderr
    assert "localcloud ready" not in done.stdout
    # GIVEN one another version wrote
    header, _, body = whole.partition(b"\n")
    meta = json.loads(header)
    meta["moto"] = "4.0.0"
    snapshot.write_bytes(json.dumps(meta).encode() + b"\n" + body)
    # WHEN up starts on it THEN it names the version that wrote it
    done = up(data)
    assert done.returncode == 1 and "with moto 4.0.0" in done.stderr and "Traceback" not in done.stderr


def test_given_in_memory_when_up_then_the_snapshot_is_neither_read_nor_written(tmp_path):
    data = tmp_path / "data"
    (data / "state").mkdir(parents=True)
    (data / "state" / "snapshot.bin").write_bytes(b"not a snapshot")  # would be refused if read
    cloud = start_cloud(data, extra_args=("--in-memory",))
    try:
        cloud.client("s3").create_bucket(Bucket="not-kept")
        assert not any("restored" in line for line in cloud.output)
    finally:
        assert stop_cloud(cloud) == 0
    assert (data / "state" / "snapshot.bin").read_bytes() == b"not a snapshot"
