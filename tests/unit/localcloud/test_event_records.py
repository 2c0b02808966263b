"""The event shapes Lambda's event sources hand functions, and how a ReportBatchItemFailures
response is read (localcloud.event_sources.records), without a cloud."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from localcloud.event_sources.records import (
    InvalidBatchResponse,
    batch_item_failures,
    s3_event,
    sqs_record,
    stream_record,
)

QUEUE = "arn:aws:sqs:us-east-1:123456789012:work"


@pytest.mark.parametrize("payload", [b"", b"null", b"{}", b'{"batchItemFailures": []}', b'{"batchItemFailures": null}', b'"done"'])
def test_given_a_response_without_failures_then_the_whole_batch_succeeded(payload):
    assert batch_item_failures(payload, {"m1", "m2"}) == set()


def test_given_failed_items_then_only_those_identifiers_are_failed():
    payload = b'{"batchItemFailures": [{"itemIdentifier": "m2"}]}'
    assert batch_item_failures(payload, {"m1", "m2"}) == {"m2"}


@pytest.mark.parametrize(
    "payload",
    [
        b"not json",
        b'{"batchItemFailures": [{"itemIdentifier": ""}]}',
        b'{"batchItemFailures": [{"itemIdentifier": null}]}',
        b'{"batchItemFailures": [{"id": "m1"}]}',
        b'{"batchItemFailures": [{"itemIdentifier": "not-in-batch"}]}',
        b'{"batchItemFailures": "m1"}',
    ],
)
def test_given_an_invalid_failure_report_then_the_whole_batch_failed_as_lambda_reads_it(payload):
    with pytest.raises(InvalidBatchResponse):
        batch_item_failures(payload, {"m1", "m2"})


def test_given_a_received_message_then_its_record_has_the_sqs_event_shape():
    message = {
        "MessageId": "m1",
        "ReceiptHandle": "rh",
        "Body": "hi",
        "MD5OfBody": "md5",
        "Attributes": {"ApproximateReceiveCount": "1", "SentTimestamp": "1", "SenderId": "A", "Other": "x"},
        "MessageAttributes": {"bin": {"DataType": "Binary", "BinaryValue": b"\x00\x01"}},
        "MD5OfMessageAttributes": "md5a",
    }
    record = sqs_record(message, QUEUE, "us-east-1")
    assert record["messageId"] == "m1" and record["receiptHandle"] == "rh" and record["body"] == "hi"
    assert record["eventSource"] == "aws:sqs" and record["eventSourceARN"] == QUEUE and record["awsRegion"] == "us-east-1"
    assert record["attributes"] == {"ApproximateReceiveCount": "1", "SentTimestamp": "1", "SenderId": "A"}
    assert record["messageAttributes"]["bin"] == {
        "stringValue": None,
        "binaryValue": "AAE=",
        "stringListValues": [],
        "binaryListValues": [],
        "dataType": "Binary",
    }
    assert record["md5OfBody"] == "md5" and record["md5OfMessageAttributes"] == "md5a"


def test_given_a_stream_record_then_binary_values_are_base64_and_the_time_is_epoch_seconds():
    at = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    record = stream_record(
        {
            "eventID": "e",
            "eventName": "INSERT",
            "dynamodb": {"ApproximateCreationDateTime": at, "Keys": {"pk": {"B": b"\x01"}}, "SequenceNumber": "1"},
        },
        "arn:stream",
        "us-east-1",
    )
    assert record["eventSource"] == "aws:dynamodb" and record["eventVersion"] == "1.1"
    assert record["dynamodb"]["ApproximateCreationDateTime"] == int(at.timestamp())
    assert record["dynamodb"]["Keys"] == {"pk": {"B": "AQ=="}}
    assert record["eventSourceARN"] == "arn:stream"


def test_given_moto_s3_event_then_keys_keep_their_slashes_and_the_record_is_completed():
    moto = {"Records": [{"eventName": "ObjectCreated:Put", "s3": {"bucket": {"name": "b"}, "object": {"key": "in%2Fa+b.txt"}}}]}
    [record] = s3_event(moto, "123456789012", "REQ")["Records"]
    assert record["s3"]["object"]["key"] == "in/a+b.txt"
    assert record["s3"]["bucket"]["ownerIdentity"] == {"principalId": "AWS:123456789012"}
    assert record["responseElements"]["x-amz-request-id"] == "REQ"
    assert record["userIdentity"] == {"principalId": "AWS:123456789012"}
