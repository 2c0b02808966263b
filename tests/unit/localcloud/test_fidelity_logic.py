"""Pure pieces of the local cloud's limits and results: a zip's unzipped size, Lambda's messages,
the SDK metadata of Step Functions' DynamoDB results, the guard's command line."""

from __future__ import annotations

import io
import os
import zipfile

from localcloud.guard import guarded, parse
from localcloud.lambda_runner.limits import MAX_UNZIPPED, UNZIPPED_MESSAGE, too_large_request, unzipped_size
from localcloud.stepfunctions.dynamodb_results import header_name, sdk_metadata


def test_given_a_zip_then_its_unzipped_size_is_what_its_directory_declares_and_not_a_zip_counts_nothing():
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("a.txt", b"x" * 1000)
        zf.writestr("b/c.txt", b"y" * 234)
    assert unzipped_size(buf.getvalue()) == 1234
    assert unzipped_size(b"not a zip") == 0 and unzipped_size(b"") == 0


def test_given_lambdas_limits_then_the_messages_are_lambdas():
    assert MAX_UNZIPPED == 262144000
    assert UNZIPPED_MESSAGE == "Unzipped size must be smaller than 262144000 bytes"
    assert too_large_request("CreateFunction") == "Request must be smaller than 69905067 bytes for the CreateFunction operation"
    assert too_large_request("InvokeFunction", 6291456) == "Request must be smaller than 6291456 bytes for the InvokeFunction operation"


def test_given_boto3s_response_metadata_then_the_sdk_metadata_is_step_functions_shape():
    metadata = sdk_metadata({
        "RequestId": "R1", "HTTPStatusCode": 200,
        "HTTPHeaders": {"content-type": "application/x-amz-json-1.0", "x-amzn-requestid": "R1", "x-amz-crc32": "9"},
    })
    assert metadata["SdkResponseMetadata"] == {"RequestId": "R1"}
    assert metadata["SdkHttpMetadata"]["HttpStatusCode"] == 200
    assert metadata["SdkHttpMetadata"]["HttpHeaders"] == {
        "Content-Type": "application/x-amz-json-1.0", "x-amzn-RequestId": "R1", "x-amz-crc32": "9",
    }
    assert metadata["SdkHttpMetadata"]["AllHttpHeaders"]["Content-Type"] == ["application/x-amz-json-1.0"]
    assert header_name("content-length") == "Content-Length"


def test_given_a_guarded_command_then_the_guard_watches_this_process_and_hands_the_command_over_untouched():
    command = guarded(["bash", "-c", "echo --parent"], memory_kb=1024, linger_while="/tmp/x")
    assert command[command.index("--") + 1 :] == ["bash", "-c", "echo --parent"]
    parent, memory_kb, linger, rest = parse(command[command.index("--parent") :])
    assert (parent, memory_kb, linger, rest) == (os.getpid(), 1024, "/tmp/x", ["bash", "-c", "echo --parent"])
