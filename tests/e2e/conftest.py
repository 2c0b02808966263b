"""The e2e suite runs the story against a Sprout stack deployed on AWS.

It needs ``SPROUT_STACK_NAME`` (the deployed stack, e.g. ``sprout``) and AWS credentials in the
environment; without them every test here is skipped, saying so. It never runs on the local cloud.
"""

from __future__ import annotations

import os

import pytest

STACK = os.environ.get("SPROUT_STACK_NAME")


def pytest_collection_modifyitems(config, items):
    if STACK:
        return
    skip = pytest.mark.skip(reason="e2e: set SPROUT_STACK_NAME (and AWS credentials) to run against a deployed Sprout stack")
    for item in items:
        if "tests/e2e" in str(item.fspath):
            item.add_marker(skip)


@pytest.fixture(scope="session")
def stack_outputs() -> dict[str, str]:
    import boto3

    if os.environ.get("AWS_ENDPOINT_URL"):
        pytest.fail("e2e runs against AWS: unset AWS_ENDPOINT_URL")
    stack = boto3.client("cloudformation").describe_stacks(StackName=STACK)["Stacks"][0]
    return {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}
