"""EventBridge Pipes, in process: an SQS record's JSON body parsed (implicit body data parsing), a
target's InputTemplate filled, and its HttpParameters' JSON paths (headers too) resolved."""

from __future__ import annotations

import json

import pytest

from localcloud.pipes import event_of, http_parameters, is_sqs_to_api_destination, target_input

PIPE = {"Name": "p", "Arn": "arn:aws:pipes:us-east-1:123456789012:pipe/p",
        "Source": "arn:aws:sqs:us-east-1:123456789012:q",
        "Target": "arn:aws:events:us-east-1:123456789012:api-destination/d/abc"}


def record(body: str) -> dict:
    return {"messageId": "m1", "receiptHandle": "r", "body": body, "attributes": {"ApproximateReceiveCount": "1"},
            "messageAttributes": {}, "md5OfBody": "x", "eventSource": "aws:sqs",
            "eventSourceARN": PIPE["Source"], "awsRegion": "us-east-1"}


def test_given_a_json_body_then_paths_reach_into_it_and_a_text_body_stays_text():
    """GIVEN one record whose body is JSON and one whose body is plain text
    WHEN seen as a pipe's event
    THEN the JSON body is an object ($.body.x reaches into it) and the text stays a string."""
    assert event_of(record('{"a": {"b": 1}}'))["body"] == {"a": {"b": 1}}
    assert event_of(record("hello"))["body"] == "hello"


def test_given_header_query_and_path_parameters_then_json_paths_are_resolved():
    """GIVEN HttpParameters with a header, a query value and a path value by JSON path, and a
    static header
    WHEN resolved for a record
    THEN each path is its value (an object as minified JSON, a missing one empty); static stays."""
    event = event_of(record('{"signature": "sha256=ab", "n": {"k": [1, 2]}, "id": "x/y"}'))
    params = http_parameters({"HeaderParameters": {"X-Sig": "$.body.signature", "X-Static": "v",
                                                   "X-Obj": "$.body.n", "X-None": "$.body.nothing"},
                              "QueryStringParameters": {"count": "$.attributes.ApproximateReceiveCount"},
                              "PathParameterValues": ["$.body.id"]}, event)
    assert params == {"HeaderParameters": {"X-Sig": "sha256=ab", "X-Static": "v", "X-Obj": '{"k":[1,2]}', "X-None": ""},
                      "QueryStringParameters": {"count": "1"}, "PathParameterValues": ["x/y"]}


@pytest.mark.parametrize(("template", "expected"), [
    ('{"notification":<$.body.notification>}', '{"notification":{"event":"issue.new","what":"a \\"q\\" é"}}'),
    ('{"text":<$.body.text>,"blocks":<$.body.blocks>}', '{"text":"line\\none","blocks":[{"type":"section"}]}'),
    ('{"pipe":<aws.pipes.pipe-name>,"id":<$.messageId>}', '{"pipe":"p","id":"m1"}'),
])
def test_given_an_input_template_then_objects_are_json_and_strings_are_quoted(template, expected):
    """GIVEN InputTemplates placing an object, a string with a newline, an array, a reserved variable
    WHEN filled for a record
    THEN objects and arrays are minified JSON, strings are JSON strings, the template text is kept."""
    body = {"notification": {"event": "issue.new", "what": 'a "q" é'}, "text": "line\none",
            "blocks": [{"type": "section"}]}
    pipe = {**PIPE, "TargetParameters": {"InputTemplate": template}}
    assert target_input(pipe, record(json.dumps(body))) == expected


def test_given_no_template_then_the_record_is_sent_with_its_body_as_text():
    """GIVEN a pipe without InputTemplate
    WHEN a record is sent
    THEN the body is the whole record as JSON, its body the string it was."""
    sent = json.loads(target_input(PIPE, record('{"a": 1}')))
    assert sent["body"] == '{"a": 1}' and sent["messageId"] == "m1"


def test_given_sources_and_targets_then_only_sqs_to_api_destinations_run():
    """GIVEN pipes from SQS to an API destination, from SQS to Lambda, and from Kinesis
    WHEN asked which run locally
    THEN only the first."""
    assert is_sqs_to_api_destination(PIPE)
    assert not is_sqs_to_api_destination({**PIPE, "Target": "arn:aws:lambda:us-east-1:123456789012:function:f"})
    assert not is_sqs_to_api_destination({**PIPE, "Source": "arn:aws:kinesis:us-east-1:123456789012:stream/s"})
