"""The stage lock's holder check: an execution is judged ended only when Step Functions says it ended."""

from __future__ import annotations

import boto3
import pytest
from botocore.stub import Stubber

from sprout.adapters.executions import Executions

ARN = "arn:aws:states:us-east-1:123456789012:execution:sprout-promote:story-prod-promote-0123456789ab"


def holder(answer: dict | None = None, error: str | None = None) -> bool | None:
    client = boto3.client("stepfunctions", region_name="us-east-1", aws_access_key_id="k", aws_secret_access_key="s")
    with Stubber(client) as stub:
        if error:
            stub.add_client_error("describe_execution", service_error_code=error, expected_params={"executionArn": ARN})
        else:
            stub.add_response("describe_execution", {"executionArn": ARN, "stateMachineArn": ARN, "startDate": 0,
                                                     **(answer or {})}, {"executionArn": ARN})
        return Executions(client).is_running(ARN)


@pytest.mark.parametrize(("status", "running"), [("RUNNING", True), ("SUCCEEDED", False), ("FAILED", False),
                                                 ("ABORTED", False), ("TIMED_OUT", False)])
def test_given_an_execution_when_its_holder_is_checked_then_only_a_running_one_holds(status, running):
    assert holder({"status": status}) is running


def test_given_a_lock_taken_before_its_execution_started_when_checked_then_the_holder_is_unknown_not_ended():
    """GIVEN a promote that took the stage's lock and has not yet called StartExecution (the race two
    promotes at once ran into: the second took the first's lock over and both were accepted)
    WHEN the holder is checked THEN it is not judged ended: the lock holds (until its lease, if the starter died)"""
    assert holder(error="ExecutionDoesNotExist") is None


def test_given_a_throttled_check_then_the_holder_is_unknown():
    assert holder(error="ThrottlingException") is None
