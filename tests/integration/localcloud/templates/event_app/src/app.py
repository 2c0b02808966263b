"""Handlers of the event_app fixture: each records what reached it in the Seen table, so tests can
read which events arrived, with what shape, how many times."""

import json
import os

import boto3

SEEN = boto3.resource("dynamodb").Table(os.environ["SEEN_TABLE"])


def _record(pk: str, event: object) -> None:
    SEEN.put_item(Item={"pk": pk, "event": json.dumps(event)})


def sqs(event, context):
    """Bodies starting with 'fail' are reported as failed items; the others are recorded."""
    failures = []
    for record in event["Records"]:
        attempt = record["attributes"]["ApproximateReceiveCount"]
        _record(f"sqs:{record['body']}#{attempt}", {"record": record, "batch": len(event["Records"])})
        if record["body"].startswith("fail"):
            failures.append({"itemIdentifier": record["messageId"]})
    return {"batchItemFailures": failures}


def sns(event, context):
    for record in event["Records"]:
        _record(f"sns:{record['Sns']['Message']}", record)


def stream(event, context):
    for record in event["Records"]:
        key = record["dynamodb"]["Keys"]["pk"]["S"]
        _record(f"stream:{key}:{record['eventName']}", record)


def http(event, context):
    """Echoes the HttpApi event; a path ending in /plain answers a bare object (no statusCode)."""
    path = event.get("rawPath") or event.get("path") or ""
    if path.endswith("/plain"):
        return {"plain": True}
    if path.endswith("/boom"):
        raise RuntimeError("boom")
    response = {
        "statusCode": 201 if event.get("requestContext", {}).get("http", {}).get("method") == "POST" else 200,
        "headers": {"content-type": "application/json", "x-handler": "http"},
        "body": json.dumps(event),
    }
    if event.get("version") == "2.0":  # payload 1.0's response has no cookies
        response["cookies"] = ["flavour=oat"]
    return response


def bus(event, context):
    _record(f"bus:{event['detail']['marker']}", event)


def writer(event, context):
    """Writes one item to the table its connector allows and one to the Seen table (no policy allows
    that): what each write answered."""
    client = boto3.client("dynamodb")
    answers = {}
    for name, table in (("allowed", os.environ["ALLOWED_TABLE"]), ("other", os.environ["SEEN_TABLE"])):
        try:
            client.put_item(TableName=table, Item={"pk": {"S": f"writer:{event['id']}"}})
            answers[name] = "ok"
        except client.exceptions.ClientError as e:
            answers[name] = e.response["Error"]["Code"]
    return answers


def s3(event, context):
    for record in event["Records"]:
        _record(f"s3:{record['s3']['object']['key']}", record)
