"""What reading a stage's logs and metrics needs from the local cloud, with AWS's semantics:
FilterLogEvents (filter patterns, interleaving, windows, tokens), GetMetricData (percentiles,
periods) and API Gateway's logging settings (account role, stage access logs, the gateway writing
the configured format into the log group)."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta

import pytest
from botocore.exceptions import ClientError

from tests.integration.sprout.conftest import wait_for


@pytest.fixture
def logs(cloud):
    return cloud.client("logs")


def test_given_two_streams_when_filtered_with_a_json_pattern_then_matches_come_interleaved_oldest_first_page_by_page(logs, uid):
    # GIVEN a log group with two streams whose events alternate in time
    group = f"/test/filter-{uid}"
    logs.create_log_group(logGroupName=group)
    now = int(time.time() * 1000) - 60_000
    for n, stream in enumerate(("a", "b")):
        logs.create_log_stream(logGroupName=group, logStreamName=stream)
        logs.put_log_events(
            logGroupName=group,
            logStreamName=stream,
            logEvents=[
                {"timestamp": now + 10 * i + n, "message": json.dumps({"i": 2 * i + n, "status": "502" if i % 2 else "200"})}
                for i in range(10)
            ],
        )
    # WHEN the 5xx are read three at a time, following nextToken
    seen, token, pages = [], None, 0
    while True:
        kwargs = {"nextToken": token} if token else {}
        page = logs.filter_log_events(logGroupName=group, filterPattern="{ $.status = 5* }", limit=3, **kwargs)
        seen += [(e["logStreamName"], json.loads(e["message"])["i"]) for e in page["events"]]
        pages += 1
        token = page.get("nextToken")
        if not token:
            break
    # THEN every 5xx event of both streams came once, interleaved in time order, over several pages
    assert [i for _, i in seen] == [2 * i + n for i in range(1, 10, 2) for n in (0, 1)]
    assert {s for s, _ in seen} == {"a", "b"} and pages == 4
    # AND a time window narrows it, both ends inclusive
    window = logs.filter_log_events(logGroupName=group, startTime=now + 10, endTime=now + 20)["events"]
    assert [json.loads(e["message"])["i"] for e in window] == [2, 3, 4]


def test_given_text_events_when_filtered_with_terms_then_or_and_exclusion_hold(logs, uid):
    # GIVEN Lambda-like text lines
    group = f"/test/terms-{uid}"
    logs.create_log_group(logGroupName=group)
    logs.create_log_stream(logGroupName=group, logStreamName="s")
    lines = ["START RequestId: 1", "[ERROR] NameError: name 'gibberish' is not defined", "Task timed out after 3.00 seconds", "END RequestId: 1"]
    now = int(time.time() * 1000)
    logs.put_log_events(logGroupName=group, logStreamName="s", logEvents=[{"timestamp": now + i, "message": m} for i, m in enumerate(lines)])
    # WHEN filtered for errors or time-outs, and for RequestId without START
    errors = logs.filter_log_events(logGroupName=group, filterPattern='?ERROR ?"Task timed out"')["events"]
    ends = logs.filter_log_events(logGroupName=group, filterPattern="RequestId -START")["events"]
    # THEN exactly those lines come back
    assert [e["message"] for e in errors] == lines[1:3]
    assert [e["message"] for e in ends] == [lines[3]]


def test_given_bad_filter_arguments_when_called_then_aws_errors_come_back(logs, uid):
    # GIVEN a log group
    group = f"/test/bad-{uid}"
    logs.create_log_group(logGroupName=group)
    # WHEN the token is garbage, the pattern malformed, or the group unknown THEN AWS's errors come back
    for kwargs, code in (
        ({"nextToken": "garbage"}, "InvalidParameterException"),
        ({"filterPattern": "{ $.status = }"}, "InvalidParameterException"),
        ({"logGroupName": f"/test/none-{uid}"}, "ResourceNotFoundException"),
    ):
        with pytest.raises(ClientError) as e:
            logs.filter_log_events(**{"logGroupName": group, **kwargs})
        assert e.value.response["Error"]["Code"] == code


def test_given_values_with_counts_when_percentiles_are_read_then_they_come_per_aligned_period_newest_first(cloud, uid):
    # GIVEN latencies 1..100 ms put as Values/Counts in one minute, and 500 ms in the next
    cw = cloud.client("cloudwatch")
    minute = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(minutes=5)
    dims = [{"Name": "ApiName", "Value": f"api-{uid}"}]
    cw.put_metric_data(
        Namespace="Test/Monitoring",
        MetricData=[
            {"MetricName": "Latency", "Dimensions": dims, "Timestamp": minute + timedelta(seconds=7), "Values": [float(v) for v in range(1, 101)], "Counts": [1.0] * 100, "Unit": "Milliseconds"},
            {"MetricName": "Latency", "Dimensions": dims, "Timestamp": minute + timedelta(seconds=65), "Value": 500.0, "Unit": "Milliseconds"},
        ],
    )

    def query(stat: str, period: int = 60) -> dict:
        return {"Id": stat.replace(".", "_").lower(), "MetricStat": {"Metric": {"Namespace": "Test/Monitoring", "MetricName": "Latency", "Dimensions": dims}, "Period": period, "Stat": stat}}

    # WHEN p90, p99, the average and the count are read at 60 s, from a start inside the minute
    answer = cw.get_metric_data(
        MetricDataQueries=[query("p90"), query("p99"), query("Average"), query("SampleCount")],
        StartTime=minute, EndTime=minute + timedelta(minutes=3),
    )["MetricDataResults"]
    results = {r["Id"]: r for r in answer}
    # THEN each statistic has one value per minute, newest first, aligned on the minute
    assert results["p90"]["Values"] == [500.0, 90.0]
    assert results["p99"]["Values"] == [500.0, 99.0]
    assert results["average"]["Values"] == [500.0, 50.5]
    assert results["samplecount"]["Values"] == [1.0, 100.0]
    assert [t.timestamp() for t in results["p90"]["Timestamps"]] == [(minute + timedelta(minutes=1)).timestamp(), minute.timestamp()]
    # AND a period CloudWatch does not allow is refused
    with pytest.raises(ClientError) as e:
        cw.get_metric_data(MetricDataQueries=[query("p90", period=45)], StartTime=minute, EndTime=minute + timedelta(minutes=3))
    assert e.value.response["Error"]["Code"] == "ValidationError"


def test_given_a_rest_api_when_access_logs_are_set_through_update_stage_then_the_gateway_writes_the_format(cloud, uid):
    # GIVEN a REST API with a MOCK method on a stage, and a role API Gateway can assume
    apigw, iam, logs = cloud.client("apigateway"), cloud.client("iam"), cloud.client("logs")
    api = apigw.create_rest_api(name=f"logged-{uid}")["id"]
    root = apigw.get_resources(restApiId=api)["items"][0]["id"]
    apigw.put_method(restApiId=api, resourceId=root, httpMethod="GET", authorizationType="NONE")
    apigw.put_integration(restApiId=api, resourceId=root, httpMethod="GET", type="MOCK", requestTemplates={"application/json": '{"statusCode": 200}'})
    apigw.put_integration_response(restApiId=api, resourceId=root, httpMethod="GET", statusCode="200", responseTemplates={"application/json": "{}"})
    apigw.create_deployment(restApiId=api, stageName="live")
    group = f"API-Gateway-Access-Logs_{api}/live"
    logs.create_log_group(logGroupName=group)
    destination = f"arn:aws:logs:us-east-1:123456789012:log-group:{group}"
    fmt = '{"requestId":"$context.requestId","status":"$context.status","path":"$context.path"}'
    enable = [
        {"op": "replace", "path": "/accessLogSettings/destinationArn", "value": destination},
        {"op": "replace", "path": "/accessLogSettings/format", "value": fmt},
    ]
    trust = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": "apigateway.amazonaws.com"}, "Action": "sts:AssumeRole"}]}
    other = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]}
    role = iam.create_role(RoleName=f"apigw-logs-{uid}", AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]
    wrong = iam.create_role(RoleName=f"not-apigw-{uid}", AssumeRolePolicyDocument=json.dumps(other))["Role"]["Arn"]
    previous = apigw.get_account().get("cloudwatchRoleArn")
    try:
        # WHEN the account has no CloudWatch role THEN turning logging on is refused as on AWS
        apigw.update_account(patchOperations=[{"op": "replace", "path": "/cloudwatchRoleArn", "value": ""}])
        with pytest.raises(ClientError) as e:
            apigw.update_stage(restApiId=api, stageName="live", patchOperations=enable)
        assert "role ARN must be set" in e.value.response["Error"]["Message"]
        # AND a role API Gateway may not assume is refused for the account
        with pytest.raises(ClientError):
            apigw.update_account(patchOperations=[{"op": "replace", "path": "/cloudwatchRoleArn", "value": wrong}])
        # WHEN the role is set and the stage's access logs turned on, then a request made
        apigw.update_account(patchOperations=[{"op": "replace", "path": "/cloudwatchRoleArn", "value": role}])
        stage = apigw.update_stage(restApiId=api, stageName="live", patchOperations=enable)
        assert stage["accessLogSettings"] == {"destinationArn": destination, "format": fmt}
        import urllib.request

        with urllib.request.urlopen(f"{cloud.endpoint}/_aws/execute-api/{api}/live/") as answer:
            request_id = answer.headers["x-amzn-RequestId"]
        # THEN the line, in the stage's format, lands in the log group
        lines = wait_for(
            "the access log line",
            lambda: [json.loads(e["message"]) for e in logs.filter_log_events(logGroupName=group)["events"]],
            timeout=10,
        )
        assert lines == [{"requestId": request_id, "status": "200", "path": "/live/"}]
        # AND removing /accessLogSettings turns it off
        off = apigw.update_stage(restApiId=api, stageName="live", patchOperations=[{"op": "remove", "path": "/accessLogSettings"}])
        assert not off.get("accessLogSettings")
    finally:
        apigw.update_account(patchOperations=[{"op": "replace", "path": "/cloudwatchRoleArn", "value": previous or ""}])


def test_given_a_role_session_allowed_put_metric_data_when_it_puts_into_an_aws_namespace_then_cloudwatch_refuses_it(cloud, uid):
    """GIVEN a role session (a function's, say) whose policy allows cloudwatch:PutMetricData everywhere
    WHEN it puts 100 Errors of another function into AWS/Lambda
    THEN CloudWatch's InvalidParameterValue names the namespace and stores nothing, while the same
    datum in its own namespace is taken; AND the root key, which plays the AWS services (the local
    cloud's own AWS/Lambda and AWS/ApiGateway metrics), still puts there."""
    from tests.integration.localcloud.lambda_helpers import service_role

    role = service_role(
        cloud, f"metrics-{uid}", "lambda.amazonaws.com",
        [{"Effect": "Allow", "Action": "cloudwatch:PutMetricData", "Resource": "*"}],
    )
    creds = cloud.client("sts").assume_role(RoleArn=role, RoleSessionName=f"forger-{uid}")["Credentials"]
    forger = cloud.client(
        "cloudwatch", aws_access_key_id=creds["AccessKeyId"], aws_secret_access_key=creds["SecretAccessKey"],
        aws_session_token=creds["SessionToken"],
    )
    victim = [{"Name": "FunctionName", "Value": f"victim-{uid}"}]
    errors = [{"MetricName": "Errors", "Value": 100.0, "Unit": "Count", "Dimensions": victim}]
    root = cloud.client("cloudwatch")

    def listed(namespace: str, dimensions: list[dict]) -> list[dict]:
        return root.list_metrics(Namespace=namespace, Dimensions=dimensions)["Metrics"]

    # WHEN the session forges AWS/Lambda Errors
    with pytest.raises(ClientError) as refused:
        forger.put_metric_data(Namespace="AWS/Lambda", MetricData=errors)
    # THEN CloudWatch's error, naming the namespace
    error = refused.value.response["Error"]
    assert (error["Code"], error["Message"]) == ("InvalidParameterValue", "The value AWS/Lambda for parameter Namespace is invalid.")
    assert refused.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    # the sentinel: the same call into the app's own namespace is taken, and is listed
    forger.put_metric_data(Namespace=f"App/{uid}", MetricData=errors)
    wait_for("the app's own metric", lambda: listed(f"App/{uid}", victim))
    # and the forged one never was
    assert listed("AWS/Lambda", victim) == []
    # AND the root key (the services' publisher on the local cloud) puts into AWS/Lambda
    served = [{"Name": "FunctionName", "Value": f"served-{uid}"}]
    root.put_metric_data(Namespace="AWS/Lambda", MetricData=[{**errors[0], "Dimensions": served}])
    assert [m["MetricName"] for m in listed("AWS/Lambda", served)] == ["Errors"]
