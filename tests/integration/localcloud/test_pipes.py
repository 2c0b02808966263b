"""EventBridge Pipes on the local cloud: a pipe from an SQS queue to an API destination sends each
message with its target's parameters (a header taken from the message body by JSON path, the
body shaped by InputTemplate), deletes what was delivered, and leaves what was not in the queue,
whose redrive policy moves it to the dead-letter queue (IAM enforced: the pipe's role reads)."""

from __future__ import annotations

import json
import time

from tests.integration.localcloud.lambda_helpers import service_role
from tests.integration.localcloud.test_api_destinations import Receiver, dead_letters, destination, queue
from tests.integration.sprout.conftest import wait_for

ACCOUNT_ARN = "arn:aws:{service}:us-east-1:123456789012:{rest}"


def pipe_role(cloud, name: str, sqs_actions: list[str]) -> str:
    return service_role(cloud, name, "pipes.amazonaws.com", [
        {"Effect": "Allow", "Action": sqs_actions, "Resource": ACCOUNT_ARN.format(service="sqs", rest=f"{name}-*")},
        {"Effect": "Allow", "Action": "events:InvokeApiDestination",
         "Resource": ACCOUNT_ARN.format(service="events", rest="api-destination/*")},
    ])


def source_queue(cloud, name: str, dlq_arn: str, receives: int) -> tuple[str, str]:
    url, arn = queue(cloud, name)
    cloud.client("sqs").set_queue_attributes(QueueUrl=url, Attributes={
        "VisibilityTimeout": "1",
        "RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": str(receives)}),
    })
    return url, arn


def make_pipe(cloud, name: str, source: str, target: str, role: str) -> None:
    cloud.client("pipes").create_pipe(
        Name=name, RoleArn=role, Source=source, Target=target, DesiredState="RUNNING",
        SourceParameters={"SqsQueueParameters": {"BatchSize": 1}},
        TargetParameters={"InputTemplate": '{"notification":<$.body.notification>}',
                          "HttpParameters": {"HeaderParameters": {"X-Signature": "$.body.signature",
                                                                  "X-Static": "yes"}}},
    )


def test_pipe_sends_a_dynamic_header_and_the_templated_body(cloud, uid):
    """GIVEN a pipe from a queue to an API destination whose header X-Signature is `$.body.signature`
    and whose InputTemplate is `{"notification":<$.body.notification>}`, its role allowed to read
    the queue and invoke the destination
    WHEN a JSON message is sent to the queue
    THEN the endpoint gets the header valued from the message, the static header, the key header of
    the connection, and exactly the notification as minified JSON; the message leaves the queue."""
    receiver = Receiver()
    try:
        name = f"pipe-ok-{uid}"
        dlq_url, dlq_arn = queue(cloud, f"{name}-dlq")
        url, arn = source_queue(cloud, f"{name}-src", dlq_arn, 3)
        target = destination(cloud, name, f"{receiver.url}/hook", "API_KEY",
                             {"ApiKeyAuthParameters": {"ApiKeyName": "X-Key", "ApiKeyValue": "k1"}})
        make_pipe(cloud, name, arn, target, pipe_role(cloud, name,
                                                      ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes"]))
        notification = {"event": "issue.new", "what": 'a "quoted" é thing', "n": 2}
        cloud.client("sqs").send_message(QueueUrl=url, MessageBody=json.dumps(
            {"notification": notification, "signature": "sha256=abc"}))

        got = receiver.wait("/hook", 1)
        assert len(got) == 1
        assert got[0]["headers"]["X-Signature"] == "sha256=abc"
        assert got[0]["headers"]["X-Static"] == "yes"
        assert got[0]["headers"]["X-Key"] == "k1"
        assert got[0]["body"] == '{"notification":' + json.dumps(notification, separators=(",", ":"),
                                                                   ensure_ascii=False) + "}"
        # The pipe deletes the message after the endpoint answered: a moment later than the endpoint
        # got it. A message not deleted never leaves the counts (visible or in flight) until it is
        # redriven, after the endpoint got it again (its visibility timeout is 1 s).
        def counts() -> dict:
            return cloud.client("sqs").get_queue_attributes(QueueUrl=url, AttributeNames=[
                "ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"])["Attributes"]

        wait_for("the delivered message to leave the queue",
                 lambda: counts() == {"ApproximateNumberOfMessages": "0", "ApproximateNumberOfMessagesNotVisible": "0"},
                 timeout=15, every=0.1, show=counts)
        assert len(receiver.on("/hook")) == 1
    finally:
        receiver.server.shutdown()


def test_failed_deliveries_go_to_the_dead_letter_queue_after_max_receives(cloud, uid):
    """GIVEN a pipe whose endpoint answers 500, its queue's redrive policy maxReceiveCount 2, and a
    second pipe whose role may not receive from its queue (IAM enforced)
    WHEN a message is sent to each queue
    THEN the failing endpoint is called exactly twice and the message is in the dead-letter queue,
    body unchanged; the unpermitted pipe never calls its endpoint (a sentinel sent after it, through
    a permitted pipe to the same endpoint, arrives)."""
    receiver = Receiver()
    receiver.script["/fail"] = [500]
    try:
        name = f"pipe-dlq-{uid}"
        dlq_url, dlq_arn = queue(cloud, f"{name}-dlq")
        url, arn = source_queue(cloud, f"{name}-src", dlq_arn, 2)
        target = destination(cloud, name, f"{receiver.url}/fail", "API_KEY",
                             {"ApiKeyAuthParameters": {"ApiKeyName": "X-Key", "ApiKeyValue": "k2"}})
        allowed = ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes"]
        make_pipe(cloud, name, arn, target, pipe_role(cloud, name, allowed))
        body = json.dumps({"notification": {"event": "deployment.failed"}, "signature": "sha256=def"})
        cloud.client("sqs").send_message(QueueUrl=url, MessageBody=body)

        dead = dead_letters(cloud, dlq_url, 1, timeout=40)
        assert [d["event"] for d in dead] == [json.loads(body)]
        assert len(receiver.on("/fail")) == 2

        denied = f"pipe-denied-{uid}"
        _, denied_dlq = queue(cloud, f"{denied}-dlq")
        denied_url, denied_arn = source_queue(cloud, f"{denied}-src", denied_dlq, 2)
        denied_target = destination(cloud, denied, f"{receiver.url}/sentinel", "API_KEY",
                                    {"ApiKeyAuthParameters": {"ApiKeyName": "X-Key", "ApiKeyValue": "k3"}})
        make_pipe(cloud, denied, denied_arn, denied_target, pipe_role(cloud, denied, ["sqs:GetQueueAttributes"]))
        cloud.client("sqs").send_message(QueueUrl=denied_url, MessageBody=json.dumps({"notification": {"from": "denied"}}))
        sentinel = f"pipe-sentinel-{uid}"
        _, sentinel_dlq = queue(cloud, f"{sentinel}-dlq")
        sentinel_url, sentinel_arn = source_queue(cloud, f"{sentinel}-src", sentinel_dlq, 2)
        make_pipe(cloud, sentinel, sentinel_arn, denied_target, pipe_role(cloud, sentinel, allowed))
        cloud.client("sqs").send_message(QueueUrl=sentinel_url, MessageBody=json.dumps({"notification": {"from": "ok"}}))

        got = receiver.wait("/sentinel", 1)
        assert [json.loads(r["body"]) for r in got] == [{"notification": {"from": "ok"}}]
    finally:
        receiver.server.shutdown()


def test_a_refused_connection_is_retried_by_the_pipe_without_counting_receives(cloud, uid):
    """GIVEN a pipe to an endpoint nobody listens on yet, its queue's maxReceiveCount 1
    WHEN a message is sent, and a receiver starts listening on that port a few seconds later
    THEN the receiver gets the message (a connection failure is a pipe internal error: retried by
    the pipe, not counted against maxReceiveCount) and the dead-letter queue stays empty."""
    first = Receiver()
    port = first.server.server_address[1]
    first.server.shutdown()
    first.server.server_close()  # nobody listens on the port now
    name = f"pipe-down-{uid}"
    dlq_url, dlq_arn = queue(cloud, f"{name}-dlq")
    url, arn = source_queue(cloud, f"{name}-src", dlq_arn, 1)
    target = destination(cloud, name, f"http://127.0.0.1:{port}/late", "API_KEY",
                         {"ApiKeyAuthParameters": {"ApiKeyName": "X-Key", "ApiKeyValue": "k4"}})
    make_pipe(cloud, name, arn, target, pipe_role(cloud, name,
                                                  ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes"]))
    sqs = cloud.client("sqs")
    sqs.send_message(QueueUrl=url, MessageBody=json.dumps({"notification": {"late": True}, "signature": "s"}))

    def in_flight() -> bool:
        attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessagesNotVisible"])
        return attributes["Attributes"]["ApproximateNumberOfMessagesNotVisible"] == "1"

    wait_for("the message in flight", in_flight, timeout=30, every=0.2)
    time.sleep(3)  # a few refused attempts (the pipe backs off from 0.5 s)
    late = Receiver(port)
    try:
        got = late.wait("/late", 1, timeout=60)
        assert [json.loads(r["body"]) for r in got] == [{"notification": {"late": True}}]
        assert sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["ApproximateNumberOfMessages"])[
            "Attributes"]["ApproximateNumberOfMessages"] == "0"
    finally:
        late.server.shutdown()
