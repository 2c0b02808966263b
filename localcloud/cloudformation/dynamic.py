"""Dynamic references, as CloudFormation resolves them: ``{{resolve:service:key}}`` anywhere in a
string of a resource's properties (alone or inside a longer string, written as such or made by
``Fn::Sub``/``Fn::Join``).

- ``{{resolve:ssm:name}}``, ``{{resolve:ssm:name:version}}``: a ``String`` or ``StringList``
  parameter of Parameter Store (its latest version, or that one); a ``SecureString`` needs
  ``ssm-secure``.
- ``{{resolve:ssm-secure:name[:version]}}``: a ``SecureString``, decrypted; CloudFormation accepts
  it only in the properties it documents for it (``SSM_SECURE_PROPERTIES``); anywhere else it
  fails with "SSM Secure reference is not supported in: [Type/Properties/Path]".
- ``{{resolve:secretsmanager:secret-id:SecretString:json-key:version-stage:version-id}}``: every
  segment after ``secret-id`` (a name or a full ARN) is optional; ``json-key`` picks a key of the
  secret's JSON text; ``version-stage`` and ``version-id`` are mutually exclusive (default: the
  ``AWSCURRENT`` version).

CloudFormation keeps the literal reference, not the value: stack events and the resource's
recorded properties show the reference, change sets compare the reference text (a new value in
Parameter Store alone is no change), and only the call that creates or updates a resource gets
the value (``resolve``). A reference that cannot be resolved fails the operation naming it:
"Parameters: [ssm:/name] cannot be found." for Parameter Store; Secrets Manager's own error for a
secret.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from .resources.base import error_text
from .template import TemplateError

PATTERN = re.compile(r"\{\{resolve:(?P<service>[a-z-]+):(?P<key>[^{}]*)\}\}")
SERVICES = ("ssm", "ssm-secure", "secretsmanager")

# resource type -> property paths (list items as "*") where ssm-secure is accepted (AWS's table)
SSM_SECURE_PROPERTIES: dict[str, tuple[str, ...]] = {
    "AWS::DirectoryService::MicrosoftAD": ("Password",),
    "AWS::DirectoryService::SimpleAD": ("Password",),
    "AWS::ElastiCache::ReplicationGroup": ("AuthToken",),
    "AWS::IAM::User": ("LoginProfile/Password",),
    "AWS::KinesisFirehose::DeliveryStream": ("RedshiftDestinationConfiguration/Password",),
    "AWS::OpsWorks::App": ("AppSource/Password",),
    "AWS::OpsWorks::Stack": ("CustomCookbooksSource/Password", "RdsDbInstances/*/DbPassword"),
    "AWS::RDS::DBCluster": ("MasterUserPassword",),
    "AWS::RDS::DBInstance": ("MasterUserPassword",),
    "AWS::Redshift::Cluster": ("MasterUserPassword",),
}


@dataclass(frozen=True)
class Reference:
    service: str
    key: str

    @property
    def text(self) -> str:
        return "{{resolve:" + f"{self.service}:{self.key}" + "}}"

    @property
    def label(self) -> str:
        return f"{self.service}:{self.key}"


@dataclass
class Lookup:
    """Where values come from: ``ssm(name_with_optional_version, decrypt) -> (type, value)``,
    ``secret(secret_id, version_stage, version_id) -> SecretString``. Each raises LookupFailed."""

    ssm: Callable[[str, bool], tuple[str, str]]
    secret: Callable[[str, str | None, str | None], str]


class LookupFailed(Exception):
    """The service answered an error; the message is what CloudFormation reports."""


def references(value: Any, path: str = "") -> Iterator[tuple[str, Reference]]:
    """(property path, reference) for every dynamic reference in the strings of ``value``."""
    if isinstance(value, dict):
        for k, v in value.items():
            yield from references(v, f"{path}/{k}" if path else str(k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from references(v, f"{path}/{i}")
    elif isinstance(value, str) and "{{resolve:" in value:
        for m in PATTERN.finditer(value):
            yield path, Reference(m.group("service"), m.group("key"))


def literal_ssm_names(properties: Any) -> Iterator[Reference]:
    """The Parameter Store references written literally (no intrinsic inside them)."""
    for _, ref in references(properties):
        if ref.service in ("ssm", "ssm-secure"):
            yield ref


def resolve(properties: Any, type_name: str, lookup: Lookup) -> Any:
    """A copy of ``properties`` with every dynamic reference replaced by its value."""
    return _resolve(properties, "", type_name, lookup, {})


def _resolve(value: Any, path: str, type_name: str, lookup: Lookup, seen: dict[str, str]) -> Any:
    if isinstance(value, dict):
        return {k: _resolve(v, f"{path}/{k}" if path else str(k), type_name, lookup, seen) for k, v in value.items()}
    if isinstance(value, list):
        return [_resolve(v, f"{path}/{i}", type_name, lookup, seen) for i, v in enumerate(value)]
    if not isinstance(value, str) or "{{resolve:" not in value:
        return value

    def replace(m: re.Match[str]) -> str:
        ref = Reference(m.group("service"), m.group("key"))
        if ref.service == "ssm-secure" and not _secure_allowed(type_name, path):
            raise TemplateError(f"SSM Secure reference is not supported in: [{type_name}/Properties/{path}]")
        if ref.text not in seen:
            seen[ref.text] = value_of(ref, lookup)
        return seen[ref.text]

    return PATTERN.sub(replace, value)


def _secure_allowed(type_name: str, path: str) -> bool:
    wanted = re.sub(r"/\d+(?=/|$)", "/*", path)
    return wanted in SSM_SECURE_PROPERTIES.get(type_name, ())


def value_of(ref: Reference, lookup: Lookup) -> str:
    """The value a reference stands for; TemplateError naming it when it has none."""
    if ref.service not in SERVICES:
        raise TemplateError(
            f"Dynamic reference {ref.text}: service {ref.service!r} is not one of {list(SERVICES)}"
        )
    if ref.service in ("ssm", "ssm-secure"):
        return _ssm(ref, lookup)
    return _secret(ref, lookup)


def parameter(ref: Reference) -> tuple[str, str]:
    """(parameter name, what GetParameter is asked for: ``name`` or ``name:version``)."""
    name, _, version = ref.key.rpartition(":")
    if not name or not version.isdigit():
        name, version = ref.key, ""
    if not name:
        raise TemplateError(f"Dynamic reference {ref.text}: no parameter name")
    return name, f"{name}:{version}" if version else name


def _ssm(ref: Reference, lookup: Lookup) -> str:
    name, wanted = parameter(ref)
    try:
        kind, value = lookup.ssm(wanted, ref.service == "ssm-secure")
    except LookupFailed:
        raise TemplateError(f"Parameters: [{ref.label}] cannot be found.") from None
    if ref.service == "ssm" and kind == "SecureString":
        raise TemplateError(
            f"Dynamic reference {ref.text}: parameter {name} is a SecureString; use {{{{resolve:ssm-secure:{ref.key}}}}}"
        )
    if ref.service == "ssm-secure" and kind != "SecureString":
        raise TemplateError(f"Dynamic reference {ref.text}: parameter {name} is a {kind}, not a SecureString")
    return value


def _secret(ref: Reference, lookup: Lookup) -> str:
    parts = ref.key.split(":")
    if parts[0] == "arn":
        secret_id, rest = ":".join(parts[:7]), parts[7:]
    else:
        secret_id, rest = parts[0], parts[1:]
    rest += [""] * (4 - len(rest))
    if len(rest) > 4 or not secret_id:
        raise TemplateError(f"Dynamic reference {ref.text} is not secret-id:SecretString:json-key:version-stage:version-id")
    kind, json_key, stage, version_id = rest
    if kind and kind != "SecretString":
        raise TemplateError(f"Dynamic reference {ref.text}: only SecretString is supported, not {kind}")
    if stage and version_id:
        raise TemplateError(f"Dynamic reference {ref.text}: give version-stage or version-id, not both")
    try:
        text = lookup.secret(secret_id, stage or None, version_id or None)
    except LookupFailed as e:
        raise TemplateError(f"{e} (dynamic reference {ref.text})") from None
    if not json_key:
        return text
    try:
        document = json.loads(text)
    except ValueError:
        raise TemplateError(f"Dynamic reference {ref.text}: the secret's SecretString is not JSON") from None
    if not isinstance(document, dict) or json_key not in document:
        raise TemplateError(f"Dynamic reference {ref.text}: the secret's JSON has no key {json_key!r}")
    found = document[json_key]
    return found if isinstance(found, str) else json.dumps(found)


def client_lookup(client: Callable[[str], Any]) -> Lookup:
    """A ``Lookup`` reading the local Parameter Store and Secrets Manager through ``client(service)``."""

    def ssm_value(name: str, decrypt: bool) -> tuple[str, str]:
        try:
            found = client("ssm").get_parameter(Name=name, WithDecryption=decrypt)["Parameter"]
        except ClientError as e:
            raise LookupFailed(error_text(e)) from None
        return found["Type"], found["Value"]

    def secret_value(secret_id: str, stage: str | None, version_id: str | None) -> str:
        args = {"SecretId": secret_id, **({"VersionStage": stage} if stage else {})}
        if version_id:
            args["VersionId"] = version_id
        try:
            found = client("secretsmanager").get_secret_value(**args)
        except ClientError as e:
            error, meta = e.response.get("Error", {}), e.response.get("ResponseMetadata", {})
            raise LookupFailed(
                f"{error.get('Message')} (Service: AWSSecretsManager; Status Code: {meta.get('HTTPStatusCode')}; "
                f"Error Code: {error.get('Code')}; Request ID: {meta.get('RequestId')})"
            ) from None
        if "SecretString" not in found:
            raise LookupFailed(f"Secret {secret_id} has no SecretString (only SecretBinary)")
        return found["SecretString"]

    return Lookup(ssm=ssm_value, secret=secret_value)
