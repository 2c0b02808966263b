"""The event sources real SAM apps use, deployed once from the event_app fixture (a SAM template
translated by SAM's translator into queues, topics, subscriptions and event source mappings) and
exercised through the public APIs: what reaches each function, in which shape, how many times."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest

from tests.integration.localcloud.test_cloudformation import create, failed_reason, outputs

TEMPLATE = Path(__file__).parent / "templates" / "event_app" / "template.yaml"


@pytest.fixture(scope="module")
def app(cloud) -> dict[str, str]:
    """The event_app stack's outputs (deployed once for this module)."""
    stack = create(cloud.client("cloudformation"), f"event-app-{os.getpid()}", TEMPLATE)
    return outputs(stack)


def seen(cloud, app, pk: str, timeout: float = 20.0) -> dict | None:
    """What a handler recorded under ``pk``, waiting for it up to ``timeout`` seconds (None if never)."""
    ddb = cloud.client("dynamodb")
    deadline = time.monotonic() + timeout
    while True:
        item = ddb.get_item(TableName=app["SeenTable"], Key={"pk": {"S": pk}}).get("Item")
        if item:
            return json.loads(item["event"]["S"])
        if time.monotonic() > deadline:
            return None
        time.sleep(0.2)


# ---- SQS ------------------------------------------------------------------------------------------
def test_given_an_sqs_event_source_when_a_message_is_sent_then_the_function_gets_it_in_sqs_shape_and_it_is_deleted(
    cloud, app, uid
):
    # GIVEN the SqsConsumer function mapped to the Work queue
    sqs = cloud.client("sqs")
    # WHEN a message is sent with an attribute
    sent = sqs.send_message(
        QueueUrl=app["WorkQueueUrl"],
        MessageBody=f"ok-{uid}",
        MessageAttributes={"kind": {"DataType": "String", "StringValue": "test"}},
    )
    # THEN the function got it once, in the SQS event shape
    got = seen(cloud, app, f"sqs:ok-{uid}#1")
    assert got is not None, "the message never reached the function"
    record = got["record"]
    assert record["messageId"] == sent["MessageId"]
    assert record["body"] == f"ok-{uid}"
    assert record["eventSource"] == "aws:sqs"
    assert record["eventSourceARN"] == app["WorkQueueArn"]
    assert record["awsRegion"] == "us-east-1"
    assert record["receiptHandle"]
    assert record["md5OfBody"] == sent["MD5OfMessageBody"]
    assert record["attributes"]["ApproximateReceiveCount"] == "1"
    assert {"SentTimestamp", "SenderId", "ApproximateFirstReceiveTimestamp"} <= set(record["attributes"])
    assert record["messageAttributes"]["kind"] == {
        "stringValue": "test",
        "binaryValue": None,
        "stringListValues": [],
        "binaryListValues": [],
        "dataType": "String",
    }
    # AND, the function having succeeded, the message is deleted: never delivered again
    assert seen(cloud, app, f"sqs:ok-{uid}#2", timeout=4.0) is None


def test_given_report_batch_item_failures_when_one_message_of_a_batch_fails_then_only_it_returns_and_is_redriven(
    cloud, app, uid
):
    # GIVEN the mapping reports batch item failures, the queue's visibility timeout is 3 s and its
    # redrive policy moves a message to DeadLetters after 2 receives
    sqs = cloud.client("sqs")
    # WHEN two messages arrive together and the function reports the second one as failed
    sqs.send_message_batch(
        QueueUrl=app["WorkQueueUrl"],
        Entries=[{"Id": "1", "MessageBody": f"good-{uid}"}, {"Id": "2", "MessageBody": f"fail-{uid}"}],
    )
    first = seen(cloud, app, f"sqs:good-{uid}#1")
    assert first is not None and first["batch"] == 2, "both messages should arrive in one batch"
    assert seen(cloud, app, f"sqs:fail-{uid}#1", timeout=1) is not None
    # THEN the failed one comes back after the visibility timeout (second receive) ...
    assert seen(cloud, app, f"sqs:fail-{uid}#2", timeout=10) is not None
    # ... and is then in the dead-letter queue, while the good one was deleted after its one delivery
    dead = []
    deadline = time.monotonic() + 10
    while not dead and time.monotonic() < deadline:
        dead = sqs.receive_message(QueueUrl=app["DeadLetterQueueUrl"], WaitTimeSeconds=1).get("Messages", [])
        dead = [m for m in dead if uid in m["Body"]]
    assert [m["Body"] for m in dead] == [f"fail-{uid}"]
    assert seen(cloud, app, f"sqs:good-{uid}#2", timeout=0.5) is None


# ---- SNS ------------------------------------------------------------------------------------------
def test_given_a_lambda_subscription_when_a_message_is_published_then_the_function_gets_the_sns_event(cloud, app, uid):
    # GIVEN SnsConsumer subscribed to the Notices topic (SAM's SNS event)
    sns = cloud.client("sns")
    # WHEN a message is published with a subject and an attribute
    published = sns.publish(
        TopicArn=app["TopicArn"],
        Message=f"hello-{uid}",
        Subject="greeting",
        MessageAttributes={"lang": {"DataType": "String", "StringValue": "en"}},
    )
    # THEN the function is invoked with SNS's event naming the topic, its subscription and the message
    record = seen(cloud, app, f"sns:hello-{uid}")
    assert record is not None, "the notification never reached the function"
    subscriptions = sns.list_subscriptions_by_topic(TopicArn=app["TopicArn"])["Subscriptions"]
    [subscription] = [s for s in subscriptions if s["Protocol"] == "lambda"]
    assert record["EventSource"] == "aws:sns"
    assert record["EventSubscriptionArn"] == subscription["SubscriptionArn"]
    message = record["Sns"]
    assert message["Type"] == "Notification"
    assert message["MessageId"] == published["MessageId"]
    assert message["TopicArn"] == app["TopicArn"]
    assert message["Subject"] == "greeting"
    assert message["Message"] == f"hello-{uid}"
    assert message["MessageAttributes"] == {"lang": {"Type": "String", "Value": "en"}}
    assert message["Timestamp"].endswith("Z") and message["SignatureVersion"] == "1"


def test_given_queue_subscriptions_when_a_message_is_published_then_only_the_queue_whose_policy_allows_it_gets_it(
    cloud, app, uid
):
    # GIVEN the Notices topic with two sqs subscriptions: Fanout (its QueuePolicy lets the topic send)
    # and Unpermitted (no policy; IAM enforced)
    sqs = cloud.client("sqs")
    # WHEN a message is published
    published = cloud.client("sns").publish(TopicArn=app["TopicArn"], Message=f"fanout-{uid}")
    # THEN Fanout gets SNS's envelope of it
    envelopes = []
    deadline = time.monotonic() + 10
    while not envelopes and time.monotonic() < deadline:
        messages = sqs.receive_message(QueueUrl=app["FanoutQueueUrl"], MaxNumberOfMessages=10, WaitTimeSeconds=1).get("Messages", [])
        envelopes = [json.loads(m["Body"]) for m in messages if uid in m["Body"]]
    assert [(e["Type"], e["MessageId"], e["TopicArn"], e["Message"]) for e in envelopes] == [
        ("Notification", published["MessageId"], app["TopicArn"], f"fanout-{uid}")
    ]
    # AND Unpermitted gets nothing, as SNS cannot deliver to a queue that does not let it in
    dropped = sqs.receive_message(QueueUrl=app["UnpermittedQueueUrl"], MaxNumberOfMessages=10, WaitTimeSeconds=1)
    assert [m for m in dropped.get("Messages", []) if uid in m["Body"]] == []


# ---- DynamoDB streams -----------------------------------------------------------------------------
def test_given_a_stream_event_source_when_an_item_is_written_then_the_function_gets_the_stream_record(cloud, app, uid):
    # GIVEN StreamConsumer mapped to the Source table's stream from TRIM_HORIZON
    ddb = cloud.client("dynamodb")
    # WHEN an item is written, then changed
    ddb.put_item(TableName=app["SourceTable"], Item={"pk": {"S": uid}, "n": {"N": "1"}})
    ddb.put_item(TableName=app["SourceTable"], Item={"pk": {"S": uid}, "n": {"N": "2"}})
    # THEN the function gets both changes, in DynamoDB's stream event shape
    insert = seen(cloud, app, f"stream:{uid}:INSERT")
    modify = seen(cloud, app, f"stream:{uid}:MODIFY")
    assert insert is not None and modify is not None, "the stream records never reached the function"
    assert insert["eventSource"] == "aws:dynamodb"
    assert insert["eventSourceARN"].startswith(f"arn:aws:dynamodb:us-east-1:123456789012:table/{app['SourceTable']}/stream/")
    assert insert["dynamodb"]["Keys"] == {"pk": {"S": uid}}
    assert insert["dynamodb"]["NewImage"] == {"pk": {"S": uid}, "n": {"N": "1"}}
    assert modify["dynamodb"]["OldImage"]["n"] == {"N": "1"} and modify["dynamodb"]["NewImage"]["n"] == {"N": "2"}
    assert modify["dynamodb"]["StreamViewType"] == "NEW_AND_OLD_IMAGES"
    assert int(insert["dynamodb"]["SequenceNumber"]) < int(modify["dynamodb"]["SequenceNumber"])
    assert isinstance(insert["dynamodb"]["ApproximateCreationDateTime"], (int, float))
    # AND, the mapping's FilterCriteria taking INSERT and MODIFY only, a removal never reaches it
    ddb.delete_item(TableName=app["SourceTable"], Key={"pk": {"S": uid}})
    assert seen(cloud, app, f"stream:{uid}:REMOVE", timeout=1.5) is None


def test_given_a_latest_stream_mapping_then_only_records_written_after_it_was_made_are_delivered(cloud, app, uid):
    # GIVEN a table with a stream holding one record already
    ddb, lam = cloud.client("dynamodb"), cloud.client("lambda")
    table = ddb.create_table(
        TableName=f"latest-{uid}",
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        BillingMode="PAY_PER_REQUEST",
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "KEYS_ONLY"},
    )["TableDescription"]
    ddb.put_item(TableName=f"latest-{uid}", Item={"pk": {"S": f"before-{uid}"}})
    # WHEN StreamConsumer is mapped to it from LATEST and an item is written right after
    mapping = lam.create_event_source_mapping(
        EventSourceArn=table["LatestStreamArn"], FunctionName=f"{app['StreamConsumerFunction']}:live", StartingPosition="LATEST"
    )
    try:
        ddb.put_item(TableName=f"latest-{uid}", Item={"pk": {"S": f"after-{uid}"}})
        # THEN that one is delivered, and the earlier one never is
        assert seen(cloud, app, f"stream:after-{uid}:INSERT") is not None
        assert seen(cloud, app, f"stream:before-{uid}:INSERT", timeout=1.0) is None
    finally:
        lam.delete_event_source_mapping(UUID=mapping["UUID"])


# ---- custom event buses ---------------------------------------------------------------------------
def test_given_a_rule_on_a_custom_bus_when_an_event_is_put_on_it_then_the_function_gets_it_and_not_from_default(
    cloud, app, uid
):
    # GIVEN BusConsumer's rule (source event-app.test) on the stack's custom bus
    events = cloud.client("events")
    assert events.describe_event_bus(Name=app["BusName"])["Arn"] == app["BusArn"]
    # WHEN a matching event is put on the custom bus, and another on the default bus
    entry = {"Source": "event-app.test", "DetailType": "test", "Detail": json.dumps({"marker": f"custom-{uid}"})}
    put = events.put_events(Entries=[{**entry, "EventBusName": app["BusName"]}])
    events.put_events(Entries=[{**entry, "Detail": json.dumps({"marker": f"default-{uid}"})}])
    # THEN the function gets the custom bus's event, as EventBridge delivers it
    event = seen(cloud, app, f"bus:custom-{uid}")
    assert event is not None, "the event on the custom bus never reached the function"
    assert event["id"] == put["Entries"][0]["EventId"]
    assert event["source"] == "event-app.test" and event["detail"] == {"marker": f"custom-{uid}"}
    # AND not the default bus's (the rule is on the custom bus only)
    assert seen(cloud, app, f"bus:default-{uid}", timeout=1.5) is None


# ---- AWS::IAM::ManagedPolicy (a SAM connector's) under --enforce-iam --------------------------------
def test_given_a_connector_when_its_function_writes_then_its_managed_policy_allows_the_table_and_nothing_else(
    cloud, app, uid
):
    # GIVEN Writer, whose only table permission is the ManagedPolicy of connector WriterToAllowed
    lam, iam = cloud.client("lambda"), cloud.client("iam")
    role = lam.get_function_configuration(FunctionName=app["WriterFunction"])["Role"].rsplit("/", 1)[1]
    attached = iam.list_attached_role_policies(RoleName=role)["AttachedPolicies"]
    [policy] = [p for p in attached if "WriterToAllowed" in p["PolicyName"]]
    document = iam.get_policy_version(
        PolicyArn=policy["PolicyArn"], VersionId=iam.get_policy(PolicyArn=policy["PolicyArn"])["Policy"]["DefaultVersionId"]
    )["PolicyVersion"]["Document"]
    assert any("dynamodb:PutItem" in s["Action"] for s in document["Statement"])
    # WHEN the function (running with its role, IAM enforced) writes to the allowed table and another
    out = lam.invoke(FunctionName=f"{app['WriterFunction']}:live", Payload=json.dumps({"id": uid}).encode())
    # THEN the allowed write succeeds and the other is denied
    assert json.loads(out["Payload"].read()) == {"allowed": "ok", "other": "AccessDeniedException"}
    item = cloud.client("dynamodb").get_item(TableName=app["AllowedTable"], Key={"pk": {"S": f"writer:{uid}"}})
    assert "Item" in item


# ---- S3 notifications -----------------------------------------------------------------------------
def test_given_a_bucket_notification_when_a_matching_object_is_put_then_the_function_gets_the_s3_event(
    cloud, app, uid
):
    # GIVEN S3Consumer notified of s3:ObjectCreated:* under prefix incoming/ with suffix .txt
    s3 = cloud.client("s3")
    [config] = s3.get_bucket_notification_configuration(Bucket=app["UploadsBucket"])["LambdaFunctionConfigurations"]
    assert config["Events"] == ["s3:ObjectCreated:*"]
    # WHEN a matching object, one with another suffix and one under another prefix are put
    s3.put_object(Bucket=app["UploadsBucket"], Key=f"incoming/{uid} 1.txt", Body=b"hello")
    s3.put_object(Bucket=app["UploadsBucket"], Key=f"incoming/{uid}.bin", Body=b"hello")
    s3.put_object(Bucket=app["UploadsBucket"], Key=f"elsewhere/{uid}.txt", Body=b"hello")
    # THEN the function gets the matching one, in S3's event shape (key URL-encoded as S3 does)
    record = seen(cloud, app, f"s3:incoming/{uid}+1.txt")
    assert record is not None, "the notification never reached the function"
    assert record["eventSource"] == "aws:s3" and record["eventName"] == "ObjectCreated:Put"
    assert record["s3"]["bucket"]["name"] == app["UploadsBucket"]
    assert record["s3"]["bucket"]["arn"] == f"arn:aws:s3:::{app['UploadsBucket']}"
    assert record["s3"]["object"]["size"] == 5 and record["s3"]["object"]["sequencer"]
    assert record["s3"]["configurationId"] == config["Id"]
    assert {"userIdentity", "requestParameters", "responseElements"} <= set(record)
    # AND not the others (filters)
    assert seen(cloud, app, f"s3:incoming/{uid}.bin", timeout=1.5) is None
    assert seen(cloud, app, f"s3:elsewhere/{uid}.txt", timeout=0.1) is None


# ---- mappings made through the API; Enabled --------------------------------------------------------
def test_given_a_disabled_mapping_when_messages_arrive_then_none_is_delivered_until_it_is_enabled(cloud, app, uid):
    # GIVEN a queue mapped to SqsConsumer through Lambda's API, disabled, and the function's role
    # allowed to read it (Lambda polls with the execution role; IAM is enforced)
    sqs, lam = cloud.client("sqs"), cloud.client("lambda")
    url = sqs.create_queue(QueueName=f"esm-{uid}", Attributes={"VisibilityTimeout": "5"})["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    role = lam.get_function_configuration(FunctionName=app["SqsConsumerFunction"])["Role"].rsplit("/", 1)[1]
    cloud.client("iam").put_role_policy(
        RoleName=role,
        PolicyName=f"esm-{uid}",
        PolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [{"Effect": "Allow", "Action": ["sqs:ReceiveMessage", "sqs:DeleteMessage"], "Resource": arn}],
            }
        ),
    )
    mapping = lam.create_event_source_mapping(
        EventSourceArn=arn, FunctionName=f"{app['SqsConsumerFunction']}:live", BatchSize=1, Enabled=False
    )
    assert mapping["FunctionArn"].endswith(f":function:{app['SqsConsumerFunction']}:live")  # the alias, as given
    try:
        # WHEN a message arrives THEN it stays in the queue, undelivered
        sqs.send_message(QueueUrl=url, MessageBody=f"paused-{uid}")
        assert seen(cloud, app, f"sqs:paused-{uid}#1", timeout=2.0) is None
        # WHEN the mapping is enabled THEN the message is delivered
        lam.update_event_source_mapping(UUID=mapping["UUID"], Enabled=True)
        assert seen(cloud, app, f"sqs:paused-{uid}#1") is not None
    finally:
        lam.delete_event_source_mapping(UUID=mapping["UUID"])


def test_given_filter_criteria_then_only_matching_messages_reach_the_function_and_the_others_are_deleted(cloud, app, uid):
    # GIVEN a queue mapped to SqsConsumer with a filter on the JSON body's "kind"
    sqs, lam = cloud.client("sqs"), cloud.client("lambda")
    url = sqs.create_queue(QueueName=f"filtered-{uid}")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    mapping = lam.create_event_source_mapping(
        EventSourceArn=arn,
        FunctionName=f"{app['SqsConsumerFunction']}:live",
        FilterCriteria={"Filters": [{"Pattern": json.dumps({"body": {"kind": ["wanted"]}})}]},
    )
    try:
        # WHEN a matching and a non-matching message arrive
        wanted, other = json.dumps({"kind": "wanted", "id": uid}), json.dumps({"kind": "other", "id": uid})
        sqs.send_message(QueueUrl=url, MessageBody=other)
        sqs.send_message(QueueUrl=url, MessageBody=wanted)
        # THEN only the matching one reaches the function
        assert seen(cloud, app, f"sqs:{wanted}#1") is not None
        assert seen(cloud, app, f"sqs:{other}#1", timeout=1.0) is None
        # AND the other was deleted, as Lambda deletes what matches no filter
        attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
        assert (attributes["ApproximateNumberOfMessages"], attributes["ApproximateNumberOfMessagesNotVisible"]) == ("0", "0")
    finally:
        lam.delete_event_source_mapping(UUID=mapping["UUID"])
    # AND a pattern that is not one is refused when the mapping is made
    with pytest.raises(lam.exceptions.InvalidParameterValueException) as refused:
        lam.create_event_source_mapping(
            EventSourceArn=arn, FunctionName=app["SqsConsumerFunction"], FilterCriteria={"Filters": [{"Pattern": "{nope"}]}
        )
    assert "Invalid filter pattern definition" in refused.value.response["Error"]["Message"]


# ---- what stays unsupported fails loudly ----------------------------------------------------------
def test_given_an_event_source_feature_localcloud_lacks_then_the_stack_fails_naming_type_logical_id_and_property(
    cloud, uid
):
    # GIVEN a mapping with an on-failure DestinationConfig (not honoured by localcloud's pollers)
    template = {
        "Resources": {
            "Filtered": {
                "Type": "AWS::Lambda::EventSourceMapping",
                "Properties": {
                    "FunctionName": "some-function",
                    "EventSourceArn": "arn:aws:sqs:us-east-1:123456789012:some-queue",
                    "DestinationConfig": {"OnFailure": {"Destination": "arn:aws:sqs:us-east-1:123456789012:dlq"}},
                },
            }
        }
    }
    cf = cloud.client("cloudformation")
    # WHEN the stack is created THEN it is refused (at once or by failing), naming the resource and property
    try:
        cf.create_stack(StackName=f"unsupported-{uid}", TemplateBody=json.dumps(template))
    except cf.exceptions.ClientError as e:
        reason = e.response["Error"]["Message"]
    else:
        reason = failed_reason(cf, f"unsupported-{uid}", "ROLLBACK_COMPLETE")
    assert "Filtered (AWS::Lambda::EventSourceMapping)" in reason
    assert "DestinationConfig is not supported by localcloud" in reason


def test_given_an_execution_role_that_may_not_read_the_queue_then_lambda_delivers_nothing_until_it_may(cloud, app, uid):
    # GIVEN a queue mapped to HttpHandler, whose role has no SQS permission at all (IAM enforced)
    sqs, lam = cloud.client("sqs"), cloud.client("lambda")
    url = sqs.create_queue(QueueName=f"denied-{uid}")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    function = app["HttpHandlerFunction"]
    mapping = lam.create_event_source_mapping(EventSourceArn=arn, FunctionName=f"{function}:live")

    def counts() -> tuple[int, int]:
        attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
        return int(attributes["ApproximateNumberOfMessages"]), int(attributes["ApproximateNumberOfMessagesNotVisible"])

    try:
        # WHEN a message arrives THEN the poller, acting as the role, cannot receive it: it stays visible
        sqs.send_message(QueueUrl=url, MessageBody=f"denied-{uid}")
        # the sentinel: the poller tried, as the role, and logged its refusal (then nothing was received)
        refused = f"event source mapping {mapping['UUID']} ({arn})"
        deadline = time.monotonic() + 15
        while not any(refused in line and "not authorized" in line for line in cloud.output):
            assert time.monotonic() < deadline, "the poller never tried to receive as the role"
            time.sleep(0.2)
        assert counts() == (1, 0)
        # WHEN the role may receive and delete THEN the message is delivered (the function succeeds) and deleted
        role = lam.get_function_configuration(FunctionName=function)["Role"].rsplit("/", 1)[1]
        statement = {"Effect": "Allow", "Action": ["sqs:ReceiveMessage", "sqs:DeleteMessage"], "Resource": arn}
        cloud.client("iam").put_role_policy(
            RoleName=role,
            PolicyName=f"denied-{uid}",
            PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [statement]}),
        )
        deadline = time.monotonic() + 15
        while counts() != (0, 0) and time.monotonic() < deadline:
            time.sleep(0.3)
        assert counts() == (0, 0)
    finally:
        lam.delete_event_source_mapping(UUID=mapping["UUID"])


def test_given_a_queue_that_hides_messages_shorter_than_the_function_runs_then_lambda_refuses_the_mapping(
    cloud, app, uid
):
    # GIVEN a queue with a 1 s visibility timeout and SqsConsumer (3 s timeout)
    sqs, lam = cloud.client("sqs"), cloud.client("lambda")
    url = sqs.create_queue(QueueName=f"short-{uid}", Attributes={"VisibilityTimeout": "1"})["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    # WHEN a mapping is asked for THEN Lambda refuses it, as on AWS
    with pytest.raises(lam.exceptions.InvalidParameterValueException) as refused:
        lam.create_event_source_mapping(EventSourceArn=arn, FunctionName=f"{app['SqsConsumerFunction']}:live")
    assert refused.value.response["Error"]["Message"] == (
        "Queue visibility timeout: 1 seconds is less than Function timeout: 3 seconds"
    )
    # AND a batch over 10 messages needs a batching window
    sqs.set_queue_attributes(QueueUrl=url, Attributes={"VisibilityTimeout": "30"})
    with pytest.raises(lam.exceptions.InvalidParameterValueException) as refused:
        lam.create_event_source_mapping(EventSourceArn=arn, FunctionName=app["SqsConsumerFunction"], BatchSize=50)
    assert "Maximum batch window in seconds must be greater than 0" in refused.value.response["Error"]["Message"]
