"""The Lambda runner: Invoke runs the function version's real code, as Lambda would."""

from __future__ import annotations

import base64
import io
import json
import re
import shutil
import threading
import time
import zipfile
from pathlib import Path

import pytest
from botocore.exceptions import ClientError

from tests.integration.localcloud.lambda_helpers import service_role

FUNCTIONS = Path(__file__).parent / "functions"


def zip_of(files: dict[str, str]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, text in files.items():
            zf.writestr(name, text)
    return buf.getvalue()


PY_APP = {"app.py": (FUNCTIONS / "python_app.py").read_text()}
NODE_APP = {"index.js": (FUNCTIONS / "node_app.js").read_text()}


@pytest.fixture(scope="module")
def role(cloud) -> str:
    """The test functions' role (and their state machines'): what the functions call is allowed."""
    return service_role(
        cloud,
        "lambda-runner-tests",
        ["lambda.amazonaws.com", "states.amazonaws.com"],
        [
            # ListBuckets takes no resource: IAM authorizes it on "*" only
            {"Effect": "Allow", "Action": "s3:ListAllMyBuckets", "Resource": "*"},
            {"Effect": "Allow", "Action": "lambda:InvokeFunction", "Resource": "arn:aws:lambda:us-east-1:123456789012:function:sfn-*"},
        ],
    )


@pytest.fixture
def lam(cloud):
    return cloud.client("lambda")


def create(lam, role, name, handler, files=PY_APP, runtime="python3.12", **kwargs):
    lam.create_function(
        FunctionName=name,
        Runtime=runtime,
        Role=role,
        Handler=handler,
        Code={"ZipFile": zip_of(files)},
        **kwargs,
    )
    return name


def invoke(lam, name, event=None, **kwargs):
    response = lam.invoke(FunctionName=name, Payload=json.dumps(event if event is not None else {}), **kwargs)
    response["Body"] = json.loads(response["Payload"].read())
    return response


def log_messages(cloud, name, until=None, timeout=8.0, group=None) -> list[str]:
    """All messages in ``group`` (default /aws/lambda/<name>), polling until ``until(messages)`` holds."""
    logs = cloud.client("logs")
    group = group or f"/aws/lambda/{name}"
    deadline = time.monotonic() + timeout
    messages: list[str] = []
    while True:
        try:
            streams = logs.describe_log_streams(logGroupName=group)["logStreams"]
            messages = [
                e["message"]
                for s in streams
                for e in logs.get_log_events(
                    logGroupName=group, logStreamName=s["logStreamName"]
                )["events"]
            ]
        except logs.exceptions.ResourceNotFoundException:
            messages = []
        if until is None or until(messages) or time.monotonic() > deadline:
            return messages
        time.sleep(0.2)


def test_given_a_python_function_when_invoked_then_its_code_returns_the_result(cloud, lam, role, uid):
    name = create(lam, role, f"echo-{uid}", "app.echo")

    response = invoke(lam, name, {"order": 42})

    assert response["StatusCode"] == 200
    assert "FunctionError" not in response
    assert response["Body"] == {"event": {"order": 42}}
    assert response["ExecutedVersion"] == "$LATEST"


def test_given_a_logging_config_log_group_then_lambda_answers_it_and_writes_every_line_there(cloud, lam, role, uid):
    """GIVEN a function created with LoggingConfig.LogGroup /aws/lambda/app-<uid>/Echo
    WHEN its configuration is read and it is invoked; then its LoggingConfig is changed (JSON, another
    group), and then cleared; and a LogGroup Lambda's pattern refuses is given
    THEN the configuration answers it with Lambda's defaults filled in, START/END/REPORT land in that
    group (created by the runner) in streams named YYYY/MM/DD/<function>[$LATEST]<id>, the default
    group is never made; the update moves the lines, clearing it returns to /aws/lambda/<name>;
    the bad name is InvalidParameterValueException"""
    group, other = f"/aws/lambda/app-{uid}/Echo", f"/aws/lambda/app-{uid}/Moved"
    name = create(lam, role, f"grouped-{uid}", "app.describe", LoggingConfig={"LogGroup": group})
    assert lam.get_function_configuration(FunctionName=name)["LoggingConfig"] == {"LogFormat": "Text", "LogGroup": group}
    assert lam.get_function(FunctionName=name)["Configuration"]["LoggingConfig"]["LogGroup"] == group

    body = invoke(lam, name, {})["Body"]
    assert body["context"]["log_group_name"] == group and body["env"]["AWS_LAMBDA_LOG_GROUP_NAME"] == group
    messages = log_messages(cloud, name, group=group, until=lambda m: any(x.startswith("REPORT") for x in m))
    assert [m.split(" ")[0] for m in messages if m.startswith(("START", "END", "REPORT"))] == ["START", "END", "REPORT"]
    logs = cloud.client("logs")
    streams = [s["logStreamName"] for s in logs.describe_log_streams(logGroupName=group)["logStreams"]]
    assert streams and all(re.fullmatch(rf"\d{{4}}/\d{{2}}/\d{{2}}/{name}\[\$LATEST\][0-9a-f]{{32}}", s) for s in streams), streams
    assert logs.describe_log_groups(logGroupNamePrefix=f"/aws/lambda/{name}")["logGroups"] == []

    lam.update_function_configuration(FunctionName=name, LoggingConfig={"LogFormat": "JSON", "LogGroup": other})
    assert lam.get_function_configuration(FunctionName=name)["LoggingConfig"] == {
        "LogFormat": "JSON", "ApplicationLogLevel": "INFO", "SystemLogLevel": "INFO", "LogGroup": other}
    assert invoke(lam, name, {})["Body"]["context"]["log_group_name"] == other
    assert any(m.startswith("REPORT") for m in log_messages(
        cloud, name, group=other, until=lambda m: any(x.startswith("REPORT") for x in m)))

    lam.update_function_configuration(FunctionName=name, LoggingConfig={})
    assert lam.get_function_configuration(FunctionName=name)["LoggingConfig"] == {
        "LogFormat": "Text", "LogGroup": f"/aws/lambda/{name}"}
    with pytest.raises(ClientError) as refused:
        lam.update_function_configuration(FunctionName=name, LoggingConfig={"LogGroup": "no spaces allowed"})
    assert refused.value.response["Error"]["Code"] == "InvalidParameterValueException"
    assert lam.get_function_configuration(FunctionName=name)["LoggingConfig"]["LogGroup"] == f"/aws/lambda/{name}"


def test_given_a_role_that_may_not_write_logs_then_lambda_loses_its_lines_silently(cloud, lam, role, uid):
    """GIVEN two functions logging to one group: one whose execution role has no policy at all, one
    whose role may write logs (AWSLambdaBasicExecutionRole)
    WHEN the first is invoked, then the second (the sentinel)
    THEN both answer; the sentinel's lines land in the group and the first's never do (Lambda writes
    a function's logs with its role: with IAM enforced, a role that may not loses them, as on AWS)"""
    group = f"/aws/lambda/mute-{uid}/Shared"
    trust = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]}
    bare = cloud.client("iam").create_role(RoleName=f"mute-{uid}", AssumeRolePolicyDocument=json.dumps(trust))
    mute = create(lam, bare["Role"]["Arn"], f"mute-{uid}", "app.echo", LoggingConfig={"LogGroup": group})
    loud = create(lam, role, f"loud-{uid}", "app.echo", LoggingConfig={"LogGroup": group})

    assert invoke(lam, mute, {"n": 1})["Body"] == {"event": {"n": 1}}
    assert invoke(lam, loud, {"n": 2})["Body"] == {"event": {"n": 2}}
    log_messages(cloud, loud, group=group, until=lambda m: any(x.startswith("REPORT") for x in m))
    streams = [s["logStreamName"] for s in cloud.client("logs").describe_log_streams(logGroupName=group)["logStreams"]]
    assert any(f"/{loud}[" in s for s in streams) and not any(f"/{mute}[" in s for s in streams), streams


def test_given_a_function_when_invoked_then_it_sees_its_context_environment_and_the_local_cloud(
    cloud, lam, role, uid
):
    cloud.client("s3").create_bucket(Bucket=f"seen-{uid}")
    name = create(
        lam,
        role,
        f"describe-{uid}",
        "app.describe",
        MemorySize=256,
        Timeout=30,
        Environment={"Variables": {"TABLE_NAME": f"orders-{uid}", "AWS_REGION": "eu-west-9"}},
    )

    response = invoke(lam, name, {"x": 1})
    body = response["Body"]
    context, env = body["context"], body["env"]

    assert response["ResponseMetadata"]["RequestId"] == context["aws_request_id"]
    assert context["function_name"] == name
    assert context["function_version"] == "$LATEST"
    assert context["invoked_function_arn"] == f"arn:aws:lambda:us-east-1:123456789012:function:{name}"
    assert context["memory_limit_in_mb"] == 256
    assert context["log_group_name"] == f"/aws/lambda/{name}"
    assert context["log_stream_name"].endswith("]" + context["log_stream_name"].split("]")[1])
    assert "/[$LATEST]" in context["log_stream_name"]
    assert 3000 < context["remaining_ms"] <= 30000  # counted down from its own timeout, not the default 3 s
    assert env["TABLE_NAME"] == f"orders-{uid}"
    assert env["AWS_REGION"] == "us-east-1"  # reserved: the function's own value is ignored, as on Lambda
    assert env["AWS_DEFAULT_REGION"] == "us-east-1"
    assert env["AWS_LAMBDA_FUNCTION_NAME"] == name
    assert env["AWS_LAMBDA_FUNCTION_VERSION"] == "$LATEST"
    assert env["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"] == "256"
    assert env["AWS_LAMBDA_LOG_GROUP_NAME"] == f"/aws/lambda/{name}"
    assert env["AWS_LAMBDA_LOG_STREAM_NAME"] == context["log_stream_name"]
    assert env["_HANDLER"] == "app.describe"
    assert env["AWS_ENDPOINT_URL"] == cloud.endpoint
    assert env["AWS_ACCESS_KEY_ID"] and env["AWS_SECRET_ACCESS_KEY"] and env["AWS_SESSION_TOKEN"]
    # an X-Ray trace header per invocation, as Lambda sets it (not sampled: nothing is sent)
    assert re.fullmatch(r"Root=1-[0-9a-f]{8}-[0-9a-f]{24};Parent=[0-9a-f]{16};Sampled=0", env["_X_AMZN_TRACE_ID"])
    assert body["cwd"] == env["LAMBDA_TASK_ROOT"] == body["sys_path"][0]
    assert f"seen-{uid}" in body["bucket_names"]  # boto3 in the function reaches the local cloud


def test_given_a_python_function_when_it_imports_then_it_has_boto3_but_not_the_project_environment(
    cloud, lam, role, uid
):
    name = create(lam, role, f"imports-{uid}", "app.can_import")

    body = invoke(
        lam, name, {"modules": ["boto3", "botocore", "moto", "pytest", "aws_lambda_powertools", "localcloud"]}
    )["Body"]

    assert body == {
        "boto3": True,
        "botocore": True,
        "moto": False,
        "pytest": False,
        "aws_lambda_powertools": False,
        "localcloud": False,
    }


def test_given_a_function_that_raises_when_invoked_then_the_error_is_unhandled_with_its_type(
    cloud, lam, role, uid
):
    name = create(lam, role, f"fail-{uid}", "app.fail")

    response = invoke(lam, name, {"order": 7})

    assert response["StatusCode"] == 200
    assert response["FunctionError"] == "Unhandled"
    body = response["Body"]
    assert body["errorType"] == "OrderRejected"
    assert body["errorMessage"] == "order 7 rejected"
    assert body["requestId"] == response["ResponseMetadata"]["RequestId"]
    assert any("in fail" in frame for frame in body["stackTrace"])
    messages = log_messages(
        cloud, name, until=lambda m: any(x.startswith("[ERROR] OrderRejected") for x in m)
    )
    assert any(m.startswith("[ERROR] OrderRejected: order 7 rejected") for m in messages)


def test_given_a_function_slower_than_its_timeout_when_invoked_then_it_times_out_and_the_next_invoke_works(
    cloud, lam, role, uid
):
    name = create(lam, role, f"slow-{uid}", "app.sleepy", Timeout=1)

    started = time.monotonic()
    response = invoke(lam, name, {"seconds": 10})
    elapsed = time.monotonic() - started

    assert 0.9 < elapsed < 4
    assert response["FunctionError"] == "Unhandled"
    assert response["Body"]["errorMessage"].endswith("Task timed out after 1.00 seconds")
    assert response["ResponseMetadata"]["RequestId"] in response["Body"]["errorMessage"]
    again = invoke(lam, name, {"seconds": 0})
    assert "FunctionError" not in again and again["Body"]["slept"] == 0


def test_given_a_handler_that_cannot_be_loaded_when_invoked_then_the_error_names_it(cloud, lam, role, uid):
    missing_module = create(lam, role, f"nomod-{uid}", "orders.handler")
    missing_function = create(lam, role, f"nofn-{uid}", "app.nope")

    module_error = invoke(lam, missing_module)
    function_error = invoke(lam, missing_function)

    assert module_error["FunctionError"] == "Unhandled"
    assert module_error["Body"]["errorType"] == "Runtime.ImportModuleError"
    assert "Unable to import module 'orders'" in module_error["Body"]["errorMessage"]
    assert function_error["Body"]["errorType"] == "Runtime.HandlerNotFound"
    assert "nope" in function_error["Body"]["errorMessage"]


def test_given_a_worker_that_exits_when_invoked_then_the_error_is_exit_error_and_a_new_worker_serves_next(
    cloud, lam, role, uid
):
    name = create(lam, role, f"die-{uid}", "app.die")
    echo = create(lam, role, f"die-then-echo-{uid}", "app.echo")

    died = invoke(lam, name)
    died_again = invoke(lam, name)

    assert died["FunctionError"] == "Unhandled"
    assert died["Body"]["errorType"] == "Runtime.ExitError"
    assert "exit status 3" in died["Body"]["errorMessage"]
    assert died_again["Body"]["errorType"] == "Runtime.ExitError"  # a fresh worker ran (and died) again
    assert invoke(lam, echo, {"ok": True})["Body"] == {"event": {"ok": True}}
    messages = log_messages(cloud, name, until=lambda m: sum(x.startswith("REPORT") for x in m) >= 2)
    assert "about to exit" in messages
    assert sum(m.startswith("START RequestId") for m in messages) == 2
    assert (
        sum(
            m.endswith("Error: Runtime exited with error: exit status 3\nRuntime.ExitError") for m in messages
        )
        == 2
    )


@pytest.mark.skipif(
    shutil.which("node") is None, reason="Node.js functions need `node` on PATH, and it is not installed"
)
def test_given_nodejs_functions_when_invoked_then_async_and_callback_handlers_and_errors_work(
    cloud, lam, role, uid
):
    async_fn = create(
        lam,
        role,
        f"node-async-{uid}",
        "index.asyncHandler",
        NODE_APP,
        "nodejs20.x",
        Environment={"Variables": {"GREETING": "hi"}},
    )
    callback_fn = create(lam, role, f"node-cb-{uid}", "index.callbackHandler", NODE_APP, "nodejs22.x")
    failing_fn = create(lam, role, f"node-fail-{uid}", "index.fail", NODE_APP, "nodejs18.x")

    async_response = invoke(lam, async_fn, {"a": 1})
    callback_response = invoke(lam, callback_fn, {"n": 21})
    failing_response = invoke(lam, failing_fn)

    assert async_response["Body"] == {
        "event": {"a": 1},
        "functionName": async_fn,
        "requestId": async_response["ResponseMetadata"]["RequestId"],
        "env": "hi",
    }
    assert callback_response["Body"] == {"doubled": 42}
    assert failing_response["FunctionError"] == "Unhandled"
    assert failing_response["Body"]["errorType"] == "NodeRejected"
    assert failing_response["Body"]["errorMessage"] == "node says no"
    messages = log_messages(cloud, async_fn, until=lambda m: any(x.startswith("REPORT") for x in m))
    assert any(m.endswith('\tINFO\tasync got {"a":1}') for m in messages)


def test_given_published_versions_and_an_alias_when_invoked_through_them_then_each_runs_its_own_code(
    cloud, lam, role, uid
):
    name = create(lam, role, f"versions-{uid}", "app.marker", Environment={"Variables": {"CODE_MARK": "one"}})
    v1 = lam.publish_version(FunctionName=name)["Version"]
    lam.update_function_configuration(FunctionName=name, Environment={"Variables": {"CODE_MARK": "two"}})
    lam.update_function_code(FunctionName=name, ZipFile=zip_of({**PY_APP, "extra.txt": "changed"}))
    lam.create_alias(FunctionName=name, Name="live", FunctionVersion=v1)

    via_alias = invoke(lam, name, {"marker": "a"}, Qualifier="live")
    via_alias_arn = invoke(
        lam, f"arn:aws:lambda:us-east-1:123456789012:function:{name}:live", {"marker": "b"}
    )
    latest = invoke(lam, name, {"marker": "c"})

    assert (via_alias["Body"], via_alias["ExecutedVersion"]) == ("one", v1)
    assert (via_alias_arn["Body"], via_alias_arn["ExecutedVersion"]) == ("one", v1)
    assert (latest["Body"], latest["ExecutedVersion"]) == ("two", "$LATEST")


def test_given_an_event_invocation_when_invoked_then_it_returns_202_at_once_and_runs_in_the_background(
    cloud, lam, role, uid
):
    name = create(lam, role, f"async-{uid}", "app.marker")

    started = time.monotonic()
    response = lam.invoke(
        FunctionName=name, InvocationType="Event", Payload=json.dumps({"marker": f"bg-{uid}"})
    )
    elapsed = time.monotonic() - started

    assert response["StatusCode"] == 202
    assert elapsed < 1.0
    messages = log_messages(cloud, name, until=lambda m: f"marker bg-{uid}" in m)
    assert f"marker bg-{uid}" in messages


def test_given_an_invocation_when_it_ran_then_its_log_group_has_start_end_and_report_lines(
    cloud, lam, role, uid
):
    name = create(lam, role, f"logs-{uid}", "app.echo", MemorySize=192)

    first = invoke(lam, name, {"n": 1})
    second = invoke(lam, name, {"n": 2}, LogType="Tail")
    request_ids = [r["ResponseMetadata"]["RequestId"] for r in (first, second)]

    messages = log_messages(cloud, name, until=lambda m: sum(x.startswith("REPORT") for x in m) >= 2)
    for request_id in request_ids:
        assert f"START RequestId: {request_id} Version: $LATEST" in messages
        assert f"END RequestId: {request_id}" in messages
        report = next(m for m in messages if m.startswith(f"REPORT RequestId: {request_id}"))
        assert "\tDuration: " in report and " ms\tBilled Duration: " in report
        assert "\tMemory Size: 192 MB\tMax Memory Used: " in report
    first_report = next(m for m in messages if m.startswith(f"REPORT RequestId: {request_ids[0]}"))
    second_report = next(m for m in messages if m.startswith(f"REPORT RequestId: {request_ids[1]}"))
    assert "Init Duration: " in first_report and "Init Duration" not in second_report
    assert "cold start of python_app" in messages and 'echo got {"n": 1}' in messages
    tail = base64.b64decode(second["LogResult"]).decode()
    assert f"END RequestId: {request_ids[1]}" in tail and 'echo got {"n": 2}' in tail
    streams = cloud.client("logs").describe_log_streams(logGroupName=f"/aws/lambda/{name}")["logStreams"]
    assert [s["logStreamName"].split("/")[3].startswith("[$LATEST]") for s in streams] == [True]


def _metric_dimension_sets(cloudwatch, metric: str, name: str) -> list[dict[str, str]]:
    metrics = cloudwatch.list_metrics(
        Namespace="AWS/Lambda", MetricName=metric, Dimensions=[{"Name": "FunctionName", "Value": name}]
    )
    return [{d["Name"]: d["Value"] for d in m["Dimensions"]} for m in metrics["Metrics"]]


def test_given_invocations_through_an_alias_when_they_ran_then_aws_lambda_metrics_have_aws_dimensions(
    cloud, lam, role, uid
):
    name = create(lam, role, f"metrics-{uid}", "app.fail")
    version = lam.publish_version(FunctionName=name)["Version"]
    lam.create_alias(FunctionName=name, Name="live", FunctionVersion=version)
    cloudwatch = cloud.client("cloudwatch")

    invoke(lam, name, {"order": 1}, Qualifier="live")

    deadline = time.monotonic() + 8
    while time.monotonic() < deadline and len(_metric_dimension_sets(cloudwatch, "Invocations", name)) < 3:
        time.sleep(0.2)
    for metric in ("Invocations", "Errors", "Duration", "ConcurrentExecutions"):
        sets = _metric_dimension_sets(cloudwatch, metric, name)
        assert {"FunctionName": name} in sets, metric
        assert {"FunctionName": name, "Resource": f"{name}:live"} in sets, metric
        assert {"FunctionName": name, "ExecutedVersion": version} in sets, metric
    # moto matches datapoints whose dimensions include the asked ones, so ask for the widest set
    widest = [
        {"Name": "FunctionName", "Value": name},
        {"Name": "Resource", "Value": f"{name}:live"},
        {"Name": "ExecutedVersion", "Value": version},
    ]
    errors = cloudwatch.get_metric_statistics(
        Namespace="AWS/Lambda",
        MetricName="Errors",
        Dimensions=widest,
        StartTime=time.time() - 600,
        EndTime=time.time() + 600,
        Period=60,
        Statistics=["Sum"],
    )
    assert sum(p["Sum"] for p in errors["Datapoints"]) == 1


def test_given_a_function_printing_an_emf_line_when_invoked_then_the_metric_is_in_its_namespace(
    cloud, lam, role, uid
):
    name = create(lam, role, f"emf-{uid}", "app.emf")
    namespace = f"Orders-{uid}"
    cloudwatch = cloud.client("cloudwatch")

    invoke(lam, name, {"namespace": namespace})

    deadline = time.monotonic() + 8
    while time.monotonic() < deadline and not cloudwatch.list_metrics(Namespace=namespace)["Metrics"]:
        time.sleep(0.2)
    stats = cloudwatch.get_metric_statistics(
        Namespace=namespace,
        MetricName="OrdersPlaced",
        Dimensions=[{"Name": "service", "Value": "orders"}],
        StartTime=time.time() - 600,
        EndTime=time.time() + 600,
        Period=60,
        Statistics=["Sum"],
    )
    assert sum(p["Sum"] for p in stats["Datapoints"]) == 3


def test_given_overlapping_invocations_when_they_run_then_more_workers_serve_them_in_parallel(
    cloud, lam, role, uid
):
    name = create(lam, role, f"parallel-{uid}", "app.sleepy")
    results: list[dict] = []

    def call():
        results.append(invoke(lam, name, {"seconds": 1.0})["Body"])

    threads = [threading.Thread(target=call) for _ in range(4)]
    started = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.monotonic() - started

    assert len(results) == 4 and all(r["slept"] == 1.0 for r in results)
    assert len({r["pid"] for r in results}) > 1
    assert elapsed < 3.5  # serially it would take 4 s plus cold starts


def test_given_a_state_machine_with_a_lambda_task_when_the_function_raises_then_catch_matches_its_error_type(
    cloud, lam, role, uid
):
    name = create(lam, role, f"sfn-{uid}", "app.fail")
    arn = f"arn:aws:lambda:us-east-1:123456789012:function:{name}"
    definition = {
        "StartAt": "Place",
        "States": {
            "Place": {
                "Type": "Task",
                "Resource": "arn:aws:states:::lambda:invoke",
                "Parameters": {"FunctionName": arn, "Payload": {"order": 9}},
                "Catch": [{"ErrorEquals": ["OrderRejected"], "ResultPath": "$.error", "Next": "Rejected"}],
                "End": True,
            },
            "Rejected": {"Type": "Pass", "End": True},
        },
    }
    sfn = cloud.client("stepfunctions")
    machine = sfn.create_state_machine(name=f"sm-{uid}", definition=json.dumps(definition), roleArn=role)[
        "stateMachineArn"
    ]

    execution = sfn.start_execution(stateMachineArn=machine, input="{}")["executionArn"]
    deadline = time.monotonic() + 20
    while (described := sfn.describe_execution(executionArn=execution))[
        "status"
    ] == "RUNNING" and time.monotonic() < deadline:
        time.sleep(0.2)

    assert described["status"] == "SUCCEEDED", described
    error = json.loads(described["output"])["error"]
    assert error["Error"] == "OrderRejected"
    assert "order 9 rejected" in error["Cause"]


def test_given_a_function_running_when_the_cloud_gets_sigterm_then_it_exits_within_5s_and_its_workers_are_gone(
    tmp_path,
):
    import os

    from tests.conftest import start_cloud, stop_cloud

    running = start_cloud(tmp_path / "data")
    try:
        lam, iam = running.client("lambda"), running.client("iam")
        role_arn = iam.create_role(RoleName="r", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
        create(lam, role_arn, "busy", "app.record_pid_and_sleep", Timeout=60)
        pid_file = tmp_path / "pid"
        lam.invoke(
            FunctionName="busy",
            InvocationType="Event",
            Payload=json.dumps({"pid_file": str(pid_file), "seconds": 50}),
        )
        deadline = time.monotonic() + 10
        while not pid_file.exists() or not pid_file.read_text():
            assert time.monotonic() < deadline, "the function never started"
            time.sleep(0.1)
        worker_pid = int(pid_file.read_text())
    finally:
        started = time.monotonic()
        code = stop_cloud(running)
        elapsed = time.monotonic() - started

    assert code == 0 and elapsed < 5
    deadline = time.monotonic() + 2
    while time.monotonic() < deadline:
        try:
            os.kill(worker_pid, 0)
        except ProcessLookupError:
            break
        time.sleep(0.05)
    else:
        raise AssertionError(f"worker process {worker_pid} outlived the cloud")


def test_given_a_payload_that_is_not_json_when_invoked_then_the_request_is_refused_saying_so(
    cloud, lam, role, uid
):
    name = create(lam, role, f"badjson-{uid}", "app.echo")

    with pytest.raises(lam.exceptions.InvalidRequestContentException) as refused:
        lam.invoke(FunctionName=name, Payload=b"{not json")

    assert "Could not parse request body into json" in str(refused.value)
    assert invoke(lam, name, {"still": "works"})["Body"] == {"event": {"still": "works"}}


def test_given_reserved_concurrency_zero_when_invoked_then_it_is_throttled_and_counted(cloud, lam, role, uid):
    name = create(lam, role, f"throttled-{uid}", "app.echo")
    lam.put_function_concurrency(FunctionName=name, ReservedConcurrentExecutions=0)
    cloudwatch = cloud.client("cloudwatch")

    with pytest.raises(lam.exceptions.TooManyRequestsException) as throttled:
        lam.invoke(FunctionName=name, Payload=b"{}")

    assert throttled.value.response["ResponseMetadata"]["HTTPStatusCode"] == 429
    assert throttled.value.response.get("Reason") == "ReservedFunctionConcurrentInvocationLimitExceeded"
    deadline = time.monotonic() + 8
    while time.monotonic() < deadline and not _metric_dimension_sets(cloudwatch, "Throttles", name):
        time.sleep(0.2)
    assert _metric_dimension_sets(cloudwatch, "Throttles", name) == [{"FunctionName": name}]


def test_given_output_written_every_way_when_invoked_then_all_of_it_is_in_that_invocations_log(
    cloud, lam, role, uid
):
    name = create(lam, role, f"writers-{uid}", "app.many_writers")

    response = invoke(lam, name)
    request_id = response["ResponseMetadata"]["RequestId"]

    messages = log_messages(cloud, name, until=lambda m: any(x.startswith("REPORT") for x in m))
    start = messages.index(f"START RequestId: {request_id} Version: $LATEST")
    end = messages.index(f"END RequestId: {request_id}")
    between = messages[start + 1 : end]
    for text in ("via saved stdout", "via stderr", "via fd 1", "via child process", "no newline at the end"):
        assert text in between, (text, between)


def test_given_a_function_with_a_layer_when_invoked_then_it_imports_from_the_layers_python_folder(
    cloud, lam, role, uid
):
    layer = lam.publish_layer_version(
        LayerName=f"rules-{uid}",
        Content={
            "ZipFile": zip_of({"python/order_rules.py": "def describe():\n    return 'rules from layer'\n"})
        },
        CompatibleRuntimes=["python3.12"],
    )
    name = create(lam, role, f"layered-{uid}", "app.use_layer", Layers=[layer["LayerVersionArn"]])

    assert invoke(lam, name)["Body"] == "rules from layer"


def test_given_an_alias_weighting_a_second_version_at_10_percent_when_invoked_1000_times_then_the_split_is_binomial(
    cloud, lam, role, uid
):
    """GIVEN an alias on version 1 whose RoutingConfig sends 10 % to version 2
    WHEN it is invoked 1000 times (by Qualifier)
    THEN version 2 ran a count of them within 5 standard deviations of 100, each invocation ran the
    code of the version its ExecutedVersion names, the log streams carry [2], and the AWS/Lambda
    Invocations with ExecutedVersion 2 on the alias count exactly those."""
    from concurrent.futures import ThreadPoolExecutor

    name = create(lam, role, f"weights-{uid}", "app.marker", Environment={"Variables": {"CODE_MARK": "one"}})
    v1 = lam.publish_version(FunctionName=name)["Version"]
    lam.update_function_configuration(FunctionName=name, Environment={"Variables": {"CODE_MARK": "two"}})
    v2 = lam.publish_version(FunctionName=name)["Version"]
    lam.create_alias(FunctionName=name, Name="live", FunctionVersion=v1,
                     RoutingConfig={"AdditionalVersionWeights": {v2: 0.1}})
    n = 1000

    def one(i: int) -> tuple[str, str]:
        r = invoke(lam, name, {"marker": str(i)}, Qualifier="live")
        return r["ExecutedVersion"], r["Body"]

    with ThreadPoolExecutor(max_workers=8) as pool:
        ran = list(pool.map(one, range(n)))

    on_v2 = sum(1 for version, _ in ran if version == v2)
    sd = (n * 0.1 * 0.9) ** 0.5
    assert abs(on_v2 - n * 0.1) <= 5 * sd, on_v2
    assert {(version, body) for version, body in ran} == {(v1, "one"), (v2, "two")}
    streams = cloud.client("logs").describe_log_streams(logGroupName=f"/aws/lambda/{name}")["logStreams"]
    assert any(f"/[{v2}]" in s["logStreamName"] for s in streams)
    assert any(f"/[{v1}]" in s["logStreamName"] for s in streams)
    cloudwatch = cloud.client("cloudwatch")
    widest = [{"Name": "FunctionName", "Value": name}, {"Name": "Resource", "Value": f"{name}:live"},
              {"Name": "ExecutedVersion", "Value": v2}]

    def counted() -> float:
        data = cloudwatch.get_metric_statistics(
            Namespace="AWS/Lambda", MetricName="Invocations", Dimensions=widest,
            StartTime=time.time() - 600, EndTime=time.time() + 600, Period=60, Statistics=["Sum"])
        return sum(p["Sum"] for p in data["Datapoints"])

    deadline = time.monotonic() + 15
    while counted() < on_v2 and time.monotonic() < deadline:
        time.sleep(0.3)
    assert counted() == on_v2


def test_given_a_weighted_alias_that_lambda_refuses_when_created_then_it_is_refused_naming_why(cloud, lam, role, uid):
    """GIVEN one function with two published versions
    WHEN an alias is created with a weight above 1, two additional versions, $LATEST as primary, or
    an additional version equal to the primary
    THEN each is refused with InvalidParameterValueException, and clearing the weights is accepted."""
    name = create(lam, role, f"badweights-{uid}", "app.marker")
    v1 = lam.publish_version(FunctionName=name)["Version"]
    lam.update_function_configuration(FunctionName=name, Environment={"Variables": {"CODE_MARK": "x"}})
    v2 = lam.publish_version(FunctionName=name)["Version"]
    refused = [
        (v1, {v2: 1.5}, "between 0.0 and 1.0"),
        (v1, {v2: 0.1, "99": 0.1}, "at most two versions"),
        ("$LATEST", {v2: 0.1}, "$LATEST"),
        (v1, {v1: 0.1}, "same version"),
        (v1, {"99": 0.1}, "does not exist"),
    ]
    for primary, weights, why in refused:
        with pytest.raises(lam.exceptions.InvalidParameterValueException, match=re.escape(why)):
            lam.create_alias(FunctionName=name, Name="live", FunctionVersion=primary,
                             RoutingConfig={"AdditionalVersionWeights": weights})
    lam.create_alias(FunctionName=name, Name="live", FunctionVersion=v1, RoutingConfig={"AdditionalVersionWeights": {v2: 0.5}})
    lam.update_alias(FunctionName=name, Name="live", RoutingConfig={"AdditionalVersionWeights": {}})
    assert invoke(lam, name, {"marker": "m"}, Qualifier="live")["ExecutedVersion"] == v1
