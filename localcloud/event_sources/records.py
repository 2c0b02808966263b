"""The events Lambda's event sources hand a function, in AWS's documented shapes:
SQS batches, DynamoDB stream batches, SNS notifications and S3 notifications. Pure functions."""

from __future__ import annotations

import base64
import json
import uuid
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote_plus, unquote_plus


def iso_ms(at: datetime | None = None) -> str:
    """``2019-01-02T12:45:07.000Z``: the timestamps SNS and S3 put in their events."""
    at = at or datetime.now(UTC)
    return at.strftime("%Y-%m-%dT%H:%M:%S.") + f"{at.microsecond // 1000:03d}Z"


def _b64(value: Any) -> str:
    return base64.b64encode(value).decode() if isinstance(value, (bytes, bytearray)) else str(value)


# ---- SQS ----------------------------------------------------------------------------------------
def sqs_record(message: dict[str, Any], queue_arn: str, region: str) -> dict[str, Any]:
    """One record of an SQS event from a ReceiveMessage message (AttributeNames/MessageAttributeNames All)."""
    attributes = {
        k: v
        for k, v in (message.get("Attributes") or {}).items()
        if k
        in (
            "ApproximateReceiveCount",
            "SentTimestamp",
            "SenderId",
            "ApproximateFirstReceiveTimestamp",
            "MessageGroupId",
            "MessageDeduplicationId",
            "SequenceNumber",
            "AWSTraceHeader",
            "DeadLetterQueueSourceArn",
        )
    }
    message_attributes = {
        name: {
            "stringValue": value.get("StringValue"),
            "binaryValue": _b64(value["BinaryValue"]) if "BinaryValue" in value else None,
            "stringListValues": list(value.get("StringListValues") or []),
            "binaryListValues": [_b64(v) for v in value.get("BinaryListValues") or []],
            "dataType": value.get("DataType"),
        }
        for name, value in (message.get("MessageAttributes") or {}).items()
    }
    record = {
        "messageId": message["MessageId"],
        "receiptHandle": message["ReceiptHandle"],
        "body": message.get("Body", ""),
        "attributes": attributes,
        "messageAttributes": message_attributes,
        "md5OfBody": message.get("MD5OfBody"),
        "eventSource": "aws:sqs",
        "eventSourceARN": queue_arn,
        "awsRegion": region,
    }
    if message.get("MD5OfMessageAttributes"):
        record["md5OfMessageAttributes"] = message["MD5OfMessageAttributes"]
    return record


class InvalidBatchResponse(ValueError):
    """A ReportBatchItemFailures response Lambda reads as a failure of the whole batch."""


def batch_item_failures(payload: bytes, identifiers: set[str]) -> set[str]:
    """The item identifiers a function reported as failed (``{"batchItemFailures": [{"itemIdentifier": id}]}``).

    As Lambda documents it: an empty or null response, or an empty or null ``batchItemFailures``,
    is complete success; a response that is not JSON, an empty or null ``itemIdentifier``, an item
    without that key, or an identifier not in the batch fails the whole batch (InvalidBatchResponse)."""
    text = payload.decode("utf-8", "replace").strip() if payload else ""
    if not text or text == "null":
        return set()
    try:
        response = json.loads(text)
    except ValueError as e:
        raise InvalidBatchResponse(f"the response is not JSON: {text[:200]}") from e
    if not isinstance(response, dict):
        return set()
    failures = response.get("batchItemFailures")
    if not failures:
        return set()
    if not isinstance(failures, list):
        raise InvalidBatchResponse(f"batchItemFailures is not a list: {failures!r}")
    failed = set()
    for item in failures:
        ident = item.get("itemIdentifier") if isinstance(item, dict) else None
        if not isinstance(ident, str) or not ident:
            raise InvalidBatchResponse(f"batchItemFailures item without an itemIdentifier: {item!r}")
        if ident not in identifiers:
            raise InvalidBatchResponse(f"itemIdentifier {ident} is not in the batch")
        failed.add(ident)
    return failed


# ---- DynamoDB streams ---------------------------------------------------------------------------
def _plain(value: Any) -> Any:
    """A GetRecords value as the wire has it: bytes (B, BS) back to base64, datetimes to epoch seconds."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, (bytes, bytearray)):
        return base64.b64encode(value).decode()
    if isinstance(value, datetime):
        return int(value.timestamp())
    return value


def stream_record(record: dict[str, Any], stream_arn: str, region: str) -> dict[str, Any]:
    """One record of a DynamoDB stream event from a GetRecords record."""
    return {
        "eventID": record["eventID"],
        "eventName": record["eventName"],
        "eventVersion": "1.1",
        "eventSource": "aws:dynamodb",
        "awsRegion": record.get("awsRegion", region),
        "dynamodb": _plain(record.get("dynamodb") or {}),
        "eventSourceARN": stream_arn,
    }


# ---- SNS ----------------------------------------------------------------------------------------
def sns_event(
    subscription_arn: str,
    topic_arn: str,
    message_id: str,
    message: str,
    subject: str | None,
    attributes: dict[str, Any] | None,
) -> dict[str, Any]:
    """The event SNS invokes a subscribed function with."""
    region = topic_arn.split(":")[3]
    return {
        "Records": [
            {
                "EventSource": "aws:sns",
                "EventVersion": "1.0",
                "EventSubscriptionArn": subscription_arn,
                "Sns": {
                    "Type": "Notification",
                    "MessageId": message_id,
                    "TopicArn": topic_arn,
                    "Subject": subject or None,
                    "Message": message,
                    "Timestamp": iso_ms(),
                    "SignatureVersion": "1",
                    "Signature": base64.b64encode(uuid.uuid4().bytes * 4).decode(),
                    "SigningCertUrl": f"https://sns.{region}.amazonaws.com/SimpleNotificationService-"
                    f"{uuid.uuid4().hex}.pem",
                    "UnsubscribeUrl": f"https://sns.{region}.amazonaws.com/?Action=Unsubscribe"
                    f"&SubscriptionArn={subscription_arn}",
                    "MessageAttributes": {
                        name: {"Type": value.get("Type"), "Value": value.get("Value")}
                        for name, value in (attributes or {}).items()
                    },
                },
            }
        ]
    }


# ---- S3 -----------------------------------------------------------------------------------------
def s3_event(moto_event: dict[str, Any], account_id: str, request_id: str) -> dict[str, Any]:
    """moto's S3 notification (bucket, key, size, eTag) completed to the shape S3 sends: who made
    the request, its request ids, the bucket owner and the object's sequencer."""
    principal = f"AWS:{account_id}"
    records = []
    for record in moto_event.get("Records") or []:
        s3 = dict(record.get("s3") or {})
        s3["bucket"] = {**(s3.get("bucket") or {}), "ownerIdentity": {"principalId": principal}}
        obj = dict(s3.get("object") or {})
        if "key" in obj:  # URL-encoded as S3 encodes it: spaces as '+', '/' kept (moto encodes '/' too)
            obj["key"] = quote_plus(unquote_plus(obj["key"]), safe="/")
        s3["object"] = {**obj, "sequencer": f"{uuid.uuid4().int % 16**16:016X}"}
        records.append(
            {
                **record,
                "userIdentity": {"principalId": principal},
                "requestParameters": {"sourceIPAddress": "127.0.0.1"},
                "responseElements": {
                    "x-amz-request-id": request_id,
                    "x-amz-id-2": base64.b64encode(uuid.uuid4().bytes * 3).decode(),
                },
                "s3": s3,
            }
        )
    return {"Records": records}
