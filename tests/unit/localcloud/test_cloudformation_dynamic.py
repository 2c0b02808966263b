"""Dynamic references ({{resolve:ssm|ssm-secure|secretsmanager:...}}), resolved as CloudFormation does."""

from __future__ import annotations

import json

import pytest

from localcloud.cloudformation import dynamic
from localcloud.cloudformation.template import TemplateError

PARAMETERS = {
    "/app/host": [("String", "db-v1.internal"), ("String", "db-v2.internal")],
    "/app/zones": [("StringList", "a,b,c")],
    "/app/password": [("SecureString", "s3cret")],
}
SECRETS = {
    "db": {"AWSCURRENT": ("v2", json.dumps({"user": "admin", "port": 5432})), "AWSPREVIOUS": ("v1", "old-text")},
}
ARN = "arn:aws:secretsmanager:us-east-1:123456789012:secret:db-AbCdEf"


class Store:
    """In-memory Parameter Store and Secrets Manager with the lookups' contract."""

    def __init__(self):
        self.calls: list[str] = []

    def ssm(self, wanted: str, decrypt: bool) -> tuple[str, str]:
        self.calls.append(wanted)
        name, _, version = wanted.rpartition(":") if wanted.rsplit(":", 1)[-1].isdigit() else (wanted, "", "")
        versions = PARAMETERS.get(name)
        if versions is None or (version and int(version) > len(versions)):
            raise dynamic.LookupFailed("ParameterNotFound")
        kind, value = versions[int(version) - 1] if version else versions[-1]
        return kind, value if decrypt or kind != "SecureString" else "ENCRYPTED"

    def secret(self, secret_id: str, stage: str | None, version_id: str | None) -> str:
        name = "db" if secret_id in ("db", ARN) else secret_id
        if name not in SECRETS:
            raise dynamic.LookupFailed("Secrets Manager can't find the specified secret.")
        for found_stage, (vid, text) in SECRETS[name].items():
            if (version_id and vid == version_id) or (not version_id and found_stage == (stage or "AWSCURRENT")):
                return text
        raise dynamic.LookupFailed("Secrets Manager can't find the specified secret value.")


@pytest.fixture
def store() -> Store:
    return Store()


def resolve(props, store, type_name="AWS::Lambda::Function"):
    return dynamic.resolve(props, type_name, dynamic.Lookup(ssm=store.ssm, secret=store.secret))


@pytest.mark.parametrize(
    "written, value",
    [
        ("{{resolve:ssm:/app/host}}", "db-v2.internal"),
        ("{{resolve:ssm:/app/host:1}}", "db-v1.internal"),
        ("jdbc://{{resolve:ssm:/app/host}}:5432/{{resolve:ssm:/app/host:1}}", "jdbc://db-v2.internal:5432/db-v1.internal"),
        ("{{resolve:ssm:/app/zones}}", "a,b,c"),
        ("{{resolve:secretsmanager:db}}", json.dumps({"user": "admin", "port": 5432})),
        ("{{resolve:secretsmanager:db:SecretString:user}}", "admin"),
        ("{{resolve:secretsmanager:db:SecretString:port}}", "5432"),
        (f"{{{{resolve:secretsmanager:{ARN}:SecretString:user}}}}", "admin"),
        ("{{resolve:secretsmanager:db:SecretString::AWSPREVIOUS}}", "old-text"),
        ("{{resolve:secretsmanager:db:SecretString:::v1}}", "old-text"),
        ("no reference", "no reference"),
    ],
)
def test_given_a_reference_in_a_property_then_it_is_replaced_by_its_value(store, written, value):
    # GIVEN a property holding a dynamic reference, alone, twice or inside text
    props = {"Environment": {"Variables": {"X": written}}, "Tags": [{"Key": "k", "Value": written}], "Memory": 128}
    # WHEN resolved for the resource's API call
    out = resolve(props, store)
    # THEN every occurrence is the value, the rest untouched
    assert out == {"Environment": {"Variables": {"X": value}}, "Tags": [{"Key": "k", "Value": value}], "Memory": 128}


def test_given_the_same_reference_twice_then_it_is_read_once(store):
    resolve({"A": "{{resolve:ssm:/app/host}}", "B": ["{{resolve:ssm:/app/host}}"]}, store)
    assert store.calls == ["/app/host"]


@pytest.mark.parametrize(
    "written, message",
    [
        ("{{resolve:ssm:/app/nothing}}", "Parameters: [ssm:/app/nothing] cannot be found."),
        ("{{resolve:ssm:/app/host:7}}", "Parameters: [ssm:/app/host:7] cannot be found."),
        ("{{resolve:ssm:/app/password}}", "is a SecureString; use {{resolve:ssm-secure:/app/password}}"),
        ("{{resolve:secretsmanager:nothing}}", "Secrets Manager can't find the specified secret. (dynamic reference"),
        ("{{resolve:secretsmanager:db:SecretString:missing}}", "the secret's JSON has no key 'missing'"),
        ("{{resolve:secretsmanager:db:SecretString::AWSCURRENT:v1}}", "give version-stage or version-id, not both"),
        ("{{resolve:secretsmanager:db:SecretBinary}}", "only SecretString is supported"),
        ("{{resolve:vault:x}}", "service 'vault' is not one of"),
    ],
)
def test_given_a_reference_without_a_value_then_the_error_names_it(store, written, message):
    with pytest.raises(TemplateError) as error:
        resolve({"Environment": {"Variables": {"X": written}}}, store)
    assert message in str(error.value)


def test_given_ssm_secure_outside_the_properties_aws_lists_then_it_is_refused_naming_the_property(store):
    with pytest.raises(TemplateError) as error:
        resolve({"Environment": {"Variables": {"PW": "{{resolve:ssm-secure:/app/password}}"}}}, store)
    assert str(error.value) == (
        "SSM Secure reference is not supported in: [AWS::Lambda::Function/Properties/Environment/Variables/PW]"
    )


def test_given_ssm_secure_where_aws_accepts_it_then_the_decrypted_value_is_used(store):
    out = resolve(
        {"UserName": "u", "LoginProfile": {"Password": "{{resolve:ssm-secure:/app/password:1}}"}}, store, "AWS::IAM::User"
    )
    assert out["LoginProfile"]["Password"] == "s3cret"


def test_given_properties_then_literal_parameter_store_references_are_listed_with_their_path():
    props = {"A": "{{resolve:ssm:/a:2}}", "B": [{"C": "x{{resolve:ssm-secure:/b}}"}], "D": "{{resolve:ssm:${Name}}}"}
    assert [(p, r.label) for p, r in dynamic.references(props)] == [("A", "ssm:/a:2"), ("B/0/C", "ssm-secure:/b")]
    assert [dynamic.parameter(r) for r in dynamic.literal_ssm_names(props)] == [("/a", "/a:2"), ("/b", "/b")]
