"""The notes app (examples/notes) provisioned into the local cloud through CloudFormation and
called over HTTP, signed with SigV4 as the guide's test client does."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
import requests
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

import localcloud.cloudformation
import localcloud.gateway
import localcloud.lambda_runner

TEMPLATE = Path(__file__).resolve().parents[3] / "examples" / "notes" / "template.yaml"
CREDENTIALS = Credentials("localcloud", "localcloud")
REGION = "us-east-1"

# The stack needs three components of the local cloud; each starts life as a stub whose docstring
# says "<name>: not yet built.". Skipped while any of them still is one.
_STUBS = [
    m.__name__
    for m in (localcloud.cloudformation, localcloud.gateway, localcloud.lambda_runner)
    if (m.__doc__ or "").strip().endswith("not yet built.")
]
pytestmark = pytest.mark.skipif(bool(_STUBS), reason=f"local cloud components not built yet: {_STUBS}")


def signed(method: str, url: str, body: dict | None = None) -> requests.Response:
    data = json.dumps(body) if body is not None else None
    headers = {"Content-Type": "application/json"} if data is not None else {}
    request = AWSRequest(method=method, url=url, data=data, headers=headers)
    SigV4Auth(CREDENTIALS, "execute-api", REGION).add_auth(request)
    return requests.request(method, url, data=data, headers=dict(request.headers), timeout=60)


def wait_for_stack(cfn, name: str, timeout: float = 120) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        stack = cfn.describe_stacks(StackName=name)["Stacks"][0]
        if not stack["StackStatus"].endswith("_IN_PROGRESS"):
            return stack
        assert time.monotonic() < deadline, f"stack {name} still {stack['StackStatus']} after {timeout}s"
        time.sleep(0.5)


@pytest.fixture
def notes_api(cloud, uid):
    """GIVEN the notes template deployed as stack notes-<uid>, stage dev<uid>: its ApiUrl output."""
    cfn = cloud.client("cloudformation")
    name = f"notes-{uid}"
    cfn.create_stack(
        StackName=name,
        TemplateURL=TEMPLATE.as_uri(),
        Parameters=[{"ParameterKey": "Stage", "ParameterValue": f"dev{uid}"}],
        Capabilities=["CAPABILITY_IAM", "CAPABILITY_AUTO_EXPAND"],
    )
    stack = wait_for_stack(cfn, name)
    assert stack["StackStatus"] == "CREATE_COMPLETE", stack.get("StackStatusReason")
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stack["Outputs"]}
    assert outputs["ApiUrl"].startswith(cloud.endpoint), outputs["ApiUrl"]
    assert outputs["ApiUrl"].endswith(f"/dev{uid}")
    yield outputs["ApiUrl"]
    cfn.delete_stack(StackName=name)


def test_given_the_notes_stack_when_a_note_is_posted_then_it_can_be_got_back(notes_api):
    # WHEN
    created = signed("POST", f"{notes_api}/notes", {"content": "hello world", "attachment": "hello.jpg"})
    # THEN
    assert created.status_code == 200, created.text
    note = created.json()
    assert (note["content"], note["attachment"]) == ("hello world", "hello.jpg")
    assert note["userId"] and note["noteId"] and isinstance(note["createdAt"], int)
    got = signed("GET", f"{notes_api}/notes/{note['noteId']}")
    assert got.status_code == 200, got.text
    assert got.json() == note
    assert got.headers["Access-Control-Allow-Origin"] == "*"


def test_given_the_notes_stack_when_called_unsigned_then_403(notes_api):
    answer = requests.post(f"{notes_api}/notes", json={"content": "x"}, timeout=60)
    assert answer.status_code == 403, answer.text
