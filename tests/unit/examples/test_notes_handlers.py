"""The notes app's handlers (examples/notes/functions) against moto's in-process DynamoDB.

The table is built from the properties in examples/notes/template.yaml, so these tests cannot
drift from the template. Handler modules are loaded by file path, as Lambda would load them from
the function's zip (functions/<name>/), with the NotesLib layer's modules (lib/python/:
``handler_lib``, ``dynamodb_lib``) importable as Lambda's /opt/python makes them.
"""

from __future__ import annotations

import copy
import importlib.util
import json
import shutil
import sys
import uuid
from pathlib import Path
from types import ModuleType

import boto3
import pytest
import yaml
from moto import mock_aws

NOTES = Path(__file__).resolve().parents[3] / "examples" / "notes"
TEMPLATE = NOTES / "template.yaml"
CREATE_EVENT = NOTES / "events" / "create-note.json"
LIBS = ("handler_lib", "dynamodb_lib")
HANDLERS = ("create", "get", "list", "update", "delete")


# ---- the template --------------------------------------------------------------------------------


class CfnLoader(yaml.SafeLoader):
    """A YAML loader that reads CloudFormation short tags (!Ref, !Sub, !GetAtt, ...) as plain data."""


def _cfn_tag(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> dict:
    if isinstance(node, yaml.ScalarNode):
        value = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)
    name = "Ref" if suffix == "Ref" else f"Fn::{suffix}"
    if suffix == "GetAtt" and isinstance(value, str):
        value = value.split(".", 1)
    return {name: value}


CfnLoader.add_multi_constructor("!", _cfn_tag)


def load_template() -> dict:
    return yaml.load(TEMPLATE.read_text(), Loader=CfnLoader)


def table_resource(template: dict) -> dict:
    tables = [r for r in template["Resources"].values() if r["Type"] == "AWS::DynamoDB::Table"]
    assert len(tables) == 1, "the notes app has exactly one table"
    return tables[0]["Properties"]


# ---- the app under test --------------------------------------------------------------------------


def load_module(name: str, folder: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, folder / f"{name}.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def load_app(app: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, ModuleType]:
    """The five handler modules of the app folder ``app``, freshly imported. The layer's modules
    are put in ``sys.modules`` (undone after the test), which is what /opt/python on the path
    amounts to."""
    for lib in LIBS:
        monkeypatch.setitem(sys.modules, lib, load_module(lib, app / "lib" / "python"))
    return {name: load_module(name, app / "functions" / name) for name in HANDLERS}


@pytest.fixture
def table_name(monkeypatch: pytest.MonkeyPatch):
    for var in ("AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_DYNAMODB", "AWS_PROFILE"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    name = f"notes-{uuid.uuid4().hex[:8]}"
    monkeypatch.setenv("TABLE_NAME", name)
    with mock_aws():
        props = table_resource(load_template())
        boto3.client("dynamodb").create_table(
            TableName=name,
            AttributeDefinitions=props["AttributeDefinitions"],
            KeySchema=props["KeySchema"],
            BillingMode=props["BillingMode"],
        )
        yield name


@pytest.fixture
def app(table_name, monkeypatch) -> dict[str, ModuleType]:
    return load_app(NOTES, monkeypatch)


def api_event(
    method: str, path: str, *, body=None, note_id: str | None = None, identity: dict | None = None
) -> dict:
    """An API Gateway (REST, Lambda proxy) event, from the recorded create-note event."""
    event = json.loads(CREATE_EVENT.read_text())
    event["httpMethod"] = event["requestContext"]["httpMethod"] = method
    event["resource"] = event["requestContext"]["resourcePath"] = "/notes/{id}" if note_id else "/notes"
    event["path"] = path
    event["pathParameters"] = {"id": note_id} if note_id else None
    event["body"] = body if body is None or isinstance(body, str) else json.dumps(body)
    if identity is not None:
        event["requestContext"]["identity"] = identity
    return event


def call(app, handler: str, event: dict) -> tuple[int, object]:
    result = app[handler].main(copy.deepcopy(event), None)
    assert result["headers"]["Access-Control-Allow-Origin"] == "*"
    return result["statusCode"], json.loads(result["body"])


def create(app, content="hello world", attachment="hello.jpg", identity=None) -> dict:
    status, note = call(
        app,
        "create",
        api_event("POST", "/notes", body={"content": content, "attachment": attachment}, identity=identity),
    )
    assert status == 200, note
    return note


COGNITO_USER = json.loads(CREATE_EVENT.read_text())["requestContext"]["identity"]["cognitoIdentityId"]


def iam_identity(user: str) -> dict:
    return {
        "cognitoIdentityId": None,
        "user": user,
        "caller": user,
        "accountId": "123456789012",
        "sourceIp": "127.0.0.1",
    }


# ---- the template itself -------------------------------------------------------------------------


def test_given_the_template_when_read_then_each_route_has_its_own_function_in_its_own_folder():
    resources = load_template()["Resources"]
    routes = {}
    for logical_id, r in resources.items():
        if r["Type"] != "AWS::Serverless::Function":
            continue
        module = r["Properties"]["Handler"].split(".")[0]
        assert r["Properties"]["CodeUri"] == f"functions/{module}/", logical_id
        assert (NOTES / "functions" / module / f"{module}.py").is_file(), logical_id
        for e in r["Properties"]["Events"].values():
            routes[(e["Properties"]["Method"], e["Properties"]["Path"])] = module
    assert routes == {
        ("post", "/notes"): "create",
        ("get", "/notes/{id}"): "get",
        ("get", "/notes"): "list",
        ("put", "/notes/{id}"): "update",
        ("delete", "/notes/{id}"): "delete",
    }


# ---- create --------------------------------------------------------------------------------------


def test_given_a_note_body_when_created_then_the_stored_note_is_returned(app, table_name):
    # GIVEN / WHEN
    status, note = call(
        app, "create", api_event("POST", "/notes", body={"content": "hello world", "attachment": "hello.jpg"})
    )
    # THEN
    assert status == 200
    assert note["userId"] == COGNITO_USER
    assert str(uuid.UUID(note["noteId"])) == note["noteId"]
    assert (note["content"], note["attachment"]) == ("hello world", "hello.jpg")
    assert isinstance(note["createdAt"], int) and note["createdAt"] > 1_600_000_000_000  # epoch ms
    stored = (
        boto3.resource("dynamodb")
        .Table(table_name)
        .get_item(Key={"userId": COGNITO_USER, "noteId": note["noteId"]})["Item"]
    )
    assert stored["content"] == "hello world" and int(stored["createdAt"]) == note["createdAt"]


def test_given_no_attachment_when_created_then_attachment_is_null(app):
    status, note = call(app, "create", api_event("POST", "/notes", body={"content": "just text"}))
    assert status == 200 and note["attachment"] is None


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ("{not json", "body"),
        (None, "body"),
        ("[1, 2]", "body"),
        ({"attachment": "a.jpg"}, "content"),
        ({"content": 42}, "content"),
        ({"content": "x", "attachment": {"nested": True}}, "attachment"),
    ],
)
def test_given_a_bad_body_when_created_then_400_names_the_field(app, table_name, body, field):
    status, answer = call(app, "create", api_event("POST", "/notes", body=body))
    assert status == 400
    assert answer["error"].startswith(field)
    assert boto3.client("dynamodb").scan(TableName=table_name)["Count"] == 0


# ---- get -----------------------------------------------------------------------------------------


def test_given_a_note_when_got_by_id_then_it_is_returned(app):
    note = create(app)
    status, got = call(app, "get", api_event("GET", f"/notes/{note['noteId']}", note_id=note["noteId"]))
    assert status == 200 and got == note


def test_given_no_such_note_when_got_then_404(app):
    missing = str(uuid.uuid4())
    status, answer = call(app, "get", api_event("GET", f"/notes/{missing}", note_id=missing))
    assert (status, answer) == (404, {"error": "Item not found."})


def test_given_another_users_note_when_got_then_404(app):
    note = create(app, identity=iam_identity("AIDAOTHERUSER"))
    status, answer = call(app, "get", api_event("GET", f"/notes/{note['noteId']}", note_id=note["noteId"]))
    assert (status, answer) == (404, {"error": "Item not found."})


# ---- list ----------------------------------------------------------------------------------------


def test_given_notes_of_two_users_when_listed_then_only_the_callers_are_returned(app):
    mine = [create(app, content=f"note {i}") for i in range(3)]
    create(app, identity=iam_identity("AIDAOTHERUSER"))
    status, notes = call(app, "list", api_event("GET", "/notes"))
    assert status == 200
    assert sorted(n["noteId"] for n in notes) == sorted(n["noteId"] for n in mine)


def test_given_no_notes_when_listed_then_an_empty_list(app):
    assert call(app, "list", api_event("GET", "/notes")) == (200, [])


# ---- update --------------------------------------------------------------------------------------


def test_given_a_note_when_updated_then_status_true_and_the_new_content_is_stored(app):
    note = create(app)
    event = api_event(
        "PUT", f"/notes/{note['noteId']}", note_id=note["noteId"], body={"content": "new", "attachment": None}
    )
    assert call(app, "update", event) == (200, {"status": True})
    _, got = call(app, "get", api_event("GET", "/notes/x", note_id=note["noteId"]))
    assert (got["content"], got["attachment"], got["createdAt"]) == ("new", None, note["createdAt"])


def test_given_no_such_note_when_updated_then_404_and_nothing_is_created(app, table_name):
    missing = str(uuid.uuid4())
    event = api_event(
        "PUT", f"/notes/{missing}", note_id=missing, body={"content": "new", "attachment": None}
    )
    assert call(app, "update", event) == (404, {"error": "Item not found."})
    assert boto3.client("dynamodb").scan(TableName=table_name)["Count"] == 0


def test_given_a_bad_body_when_updated_then_400_names_the_field(app):
    note = create(app)
    status, answer = call(
        app, "update", api_event("PUT", "/notes/x", note_id=note["noteId"], body={"content": ["a"]})
    )
    assert status == 400 and answer["error"].startswith("content")


# ---- delete --------------------------------------------------------------------------------------


def test_given_a_note_when_deleted_then_status_true_and_it_is_gone(app):
    note = create(app)
    event = api_event("DELETE", f"/notes/{note['noteId']}", note_id=note["noteId"])
    assert call(app, "delete", event) == (200, {"status": True})
    assert call(app, "get", api_event("GET", "/notes/x", note_id=note["noteId"]))[0] == 404


def test_given_no_such_note_when_deleted_then_404(app):
    missing = str(uuid.uuid4())
    assert call(app, "delete", api_event("DELETE", "/notes/x", note_id=missing)) == (
        404,
        {"error": "Item not found."},
    )


# ---- who the caller is ---------------------------------------------------------------------------


def test_given_an_iam_caller_without_cognito_identity_when_created_then_the_iam_user_owns_the_note(app):
    note = create(app, identity=iam_identity("AIDALOCALCLOUD"))
    assert note["userId"] == "AIDALOCALCLOUD"


def test_given_only_a_caller_when_created_then_the_caller_owns_the_note(app):
    note = create(app, identity={"caller": "AROAROLE:session"})
    assert note["userId"] == "AROAROLE:session"


# ---- failures ------------------------------------------------------------------------------------


def test_given_the_table_is_gone_when_created_then_500_with_an_error(app, table_name):
    boto3.client("dynamodb").delete_table(TableName=table_name)
    status, answer = call(app, "create", api_event("POST", "/notes", body={"content": "x"}))
    assert status == 500
    assert "ResourceNotFoundException" in answer["error"]


def test_given_the_guides_bad_line_at_the_top_of_create_when_invoked_then_the_function_itself_fails(
    table_name, tmp_path, monkeypatch
):
    # GIVEN the chapter's broken push: `gibberish.what` as the first line of create's main
    app = shutil.copytree(NOTES, tmp_path / "notes", ignore=shutil.ignore_patterns("__pycache__"))
    create_py = app / "functions" / "create" / "create.py"
    code = create_py.read_text()
    assert "def main(event, context):\n" in code
    create_py.write_text(
        code.replace(
            "def main(event, context):\n", "def main(event, context):\n    gibberish.what  # noqa: F821\n"
        )
    )
    broken = load_app(app, monkeypatch)
    # WHEN / THEN the error escapes the handler (a Lambda function error: API Gateway answers 502),
    # rather than being turned into a 500 response by handler_lib
    with pytest.raises(NameError, match="gibberish"):
        broken["create"].main(api_event("POST", "/notes", body={"content": "x"}), None)
