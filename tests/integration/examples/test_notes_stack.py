"""The notes app (examples/notes) provisioned into the local cloud through CloudFormation and
called over HTTP, signed with SigV4 as the guide's test client does."""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

import pytest
import requests
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

TEMPLATE = Path(__file__).resolve().parents[3] / "examples" / "notes" / "template.yaml"
CREDENTIALS = Credentials("localcloud", "localcloud")
REGION = "us-east-1"


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


def deploy(cloud, template: Path, name: str, stage: str) -> str:
    """Create stack ``name`` from ``template`` (its CodeUri relative to the template's folder) and
    return its ApiUrl output."""
    cfn = cloud.client("cloudformation")
    cfn.create_stack(
        StackName=name,
        TemplateURL=template.as_uri(),
        Parameters=[{"ParameterKey": "Stage", "ParameterValue": stage}],
        Capabilities=["CAPABILITY_IAM", "CAPABILITY_AUTO_EXPAND"],
    )
    stack = wait_for_stack(cfn, name)
    assert stack["StackStatus"] == "CREATE_COMPLETE", stack.get("StackStatusReason")
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stack["Outputs"]}
    assert outputs["ApiUrl"].startswith(cloud.endpoint), outputs["ApiUrl"]
    assert outputs["ApiUrl"].endswith(f"/{stage}")
    return outputs["ApiUrl"]


@pytest.fixture
def notes_api(cloud, uid):
    """GIVEN the notes template deployed as stack notes-<uid>, stage dev<uid>: its ApiUrl output."""
    yield deploy(cloud, TEMPLATE, f"notes-{uid}", f"dev{uid}")
    cloud.client("cloudformation").delete_stack(StackName=f"notes-{uid}")


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


def test_given_the_guides_broken_create_when_a_note_is_posted_then_502(cloud, uid, tmp_path):
    # GIVEN the chapter's bad push: `gibberish.what` as the first line of create's main
    app = shutil.copytree(TEMPLATE.parent, tmp_path / "notes", ignore=shutil.ignore_patterns("__pycache__"))
    create_py = app / "functions" / "create" / "create.py"
    create_py.write_text(
        create_py.read_text().replace(
            "def main(event, context):\n", "def main(event, context):\n    gibberish.what\n"
        )
    )
    assert "gibberish.what" in create_py.read_text()
    api = deploy(cloud, app / "template.yaml", f"notes-broken-{uid}", f"dev{uid}")
    try:
        # WHEN
        answer = signed("POST", f"{api}/notes", {"content": "hello world", "attachment": "hello.jpg"})
        # THEN API Gateway answers as in the chapter, and the other routes still work
        assert (answer.status_code, answer.json()) == (502, {"message": "Internal server error"})
        assert signed("GET", f"{api}/notes").status_code == 200
    finally:
        cloud.client("cloudformation").delete_stack(StackName=f"notes-broken-{uid}")
