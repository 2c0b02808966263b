"""CloudWatch Logs subscription filters delivering to Lambda as AWS does: refused without the
function's permission for logs.amazonaws.com, matching events delivered asynchronously as
``{"awslogs": {"data": base64(gzip(json))}}``, PutLogEvents never waiting for the function."""

from __future__ import annotations

import json
import time

import pytest
from botocore.exceptions import ClientError

from tests.integration.localcloud.lambda_helpers import create_python_function
from tests.integration.localcloud.test_events_router import log_lines

# The probe decodes what CloudWatch Logs sent and prints it on one line, after a pause that would
# show if PutLogEvents waited for it.
PROBE = """
import base64, gzip, json, time

def handler(event, context):
    doc = json.loads(gzip.decompress(base64.b64decode(event["awslogs"]["data"])))
    time.sleep(2)
    print("SUBSCRIPTION " + json.dumps(doc, sort_keys=True))
"""


@pytest.fixture
def probe(cloud, uid):
    name = f"subscriber-{uid}"
    arn = create_python_function(cloud, name, PROBE, role_name=f"subscriber-{uid}")
    return name, arn


def allow_logs(cloud, function: str, source_arn: str) -> None:
    cloud.client("lambda").add_permission(
        FunctionName=function, StatementId="logs", Action="lambda:InvokeFunction", Principal="logs.amazonaws.com",
        SourceArn=source_arn, SourceAccount="123456789012",
    )


def test_given_a_filter_with_a_pattern_when_events_are_put_then_the_matching_ones_reach_the_function_asynchronously(
    cloud, uid, probe
):
    # GIVEN a log group whose filter keeps 5xx lines, delivering to a probe allowed for that group
    name, arn = probe
    logs = cloud.client("logs")
    group = f"/test/subscribed-{uid}"
    logs.create_log_group(logGroupName=group)
    logs.create_log_stream(logGroupName=group, logStreamName="s1")
    allow_logs(cloud, name, f"arn:aws:logs:us-east-1:123456789012:log-group:/test/subscribed-{uid}:*")
    logs.put_subscription_filter(logGroupName=group, filterName="errors", filterPattern="{ $.status = 5* }",
                                 destinationArn=arn)
    now = int(time.time() * 1000)
    lines = [json.dumps({"status": s, "n": i}) for i, s in enumerate(("200", "502", "404", "503"))]

    # WHEN lines are put
    started = time.monotonic()
    logs.put_log_events(logGroupName=group, logStreamName="s1",
                        logEvents=[{"timestamp": now + i, "message": m} for i, m in enumerate(lines)])
    put_took = time.monotonic() - started

    # THEN the put did not wait for the 2-second function
    assert put_took < 1.5
    # AND the function got AWS's payload with only the matching events
    [line] = log_lines(cloud, name, "SUBSCRIPTION")
    doc = json.loads(line.split("SUBSCRIPTION ", 1)[1])
    assert {k: doc[k] for k in ("messageType", "owner", "logGroup", "logStream", "subscriptionFilters")} == {
        "messageType": "DATA_MESSAGE", "owner": "123456789012", "logGroup": group, "logStream": "s1",
        "subscriptionFilters": ["errors"],
    }
    assert [(e["timestamp"], e["message"]) for e in doc["logEvents"]] == [(now + 1, lines[1]), (now + 3, lines[3])]
    assert all(isinstance(e["id"], str) and e["id"] for e in doc["logEvents"])


def test_given_no_permission_for_the_group_when_a_filter_is_put_then_cloudwatch_logs_refuses_it(cloud, uid, probe):
    # GIVEN a function that lets logs.amazonaws.com invoke it for another group only
    name, arn = probe
    logs = cloud.client("logs")
    group = f"/test/unsubscribed-{uid}"
    logs.create_log_group(logGroupName=group)
    allow_logs(cloud, name, "arn:aws:logs:us-east-1:123456789012:log-group:/elsewhere/*")
    # WHEN a filter to it is put on this group THEN InvalidParameterException, as AWS answers
    with pytest.raises(ClientError) as e:
        logs.put_subscription_filter(logGroupName=group, filterName="all", filterPattern="", destinationArn=arn)
    assert e.value.response["Error"]["Code"] == "InvalidParameterException"
    assert "permission" in e.value.response["Error"]["Message"]
    assert logs.describe_subscription_filters(logGroupName=group)["subscriptionFilters"] == []


def test_given_a_malformed_pattern_when_a_filter_is_put_then_it_is_refused(cloud, uid, probe):
    name, arn = probe
    logs = cloud.client("logs")
    group = f"/test/badpattern-{uid}"
    logs.create_log_group(logGroupName=group)
    allow_logs(cloud, name, f"arn:aws:logs:us-east-1:123456789012:log-group:{group}:*")
    with pytest.raises(ClientError) as e:
        logs.put_subscription_filter(logGroupName=group, filterName="bad", filterPattern="{ $.status = }",
                                     destinationArn=arn)
    assert e.value.response["Error"]["Code"] == "InvalidParameterException"
