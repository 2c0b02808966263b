"""What every resource type provides, and the registry of supported types.

A resource type declares ``properties``: every property it supports, each ``MUTABLE`` (updated
in place) or ``REPLACE`` (a change creates a new physical resource and deletes the old one).
A property not in that table fails the stack with a reason naming it: nothing is skipped silently.
Handlers work only through the AWS APIs of the local endpoint (boto3 clients from ``Context``).
"""

from __future__ import annotations

import json
import random
import string
from dataclasses import dataclass, field
from typing import Any, ClassVar

from botocore.exceptions import ClientError

from ..template import TemplateError

MUTABLE = "mutable"
REPLACE = "replace"


@dataclass
class Provisioned:
    physical_id: str  # what Ref returns
    attrs: dict[str, Any] = field(default_factory=dict)  # what Fn::GetAtt returns


class ResourceFailed(Exception):
    """Provisioning one resource failed; the message becomes its ResourceStatusReason."""


class Context:
    """What a handler may use: clients of the local cloud, the stack's identity, names."""

    def __init__(
        self,
        client_factory,
        stack_name: str,
        stack_id: str,
        region: str,
        account_id: str,
        endpoint: str,
        data_dir: str | None = None,
        stack_tags: dict[str, str] | None = None,
    ):
        self._client_factory = client_factory
        # the stack's own tags: CloudFormation puts them on the resources it creates that take tags
        # (IAM roles, say), next to their own
        self.stack_tags = dict(stack_tags or {})
        self.data_dir = data_dir
        self._clients: dict[str, Any] = {}
        self.stack_name = stack_name
        self.stack_id = stack_id
        self.region = region
        self.account_id = account_id
        self.endpoint = endpoint

    def client(self, service: str) -> Any:
        if service not in self._clients:
            self._clients[service] = self._client_factory(service)
        return self._clients[service]

    def physical_name(self, logical_id: str, max_length: int = 64, lowercase: bool = False) -> str:
        """A name like CloudFormation makes: ``{stack}-{logicalId}-{RANDOMSUFFIX}``, truncated."""
        alphabet = (
            string.ascii_lowercase + string.digits if lowercase else string.ascii_uppercase + string.digits
        )
        suffix = "".join(random.choices(alphabet, k=12))
        stem = f"{self.stack_name}-{logical_id}"
        stem = stem[: max_length - len(suffix) - 1]
        name = f"{stem}-{suffix}"
        return name.lower() if lowercase else name

    def read_s3(self, bucket: str, key: str, version: str | None = None) -> bytes:
        kwargs = {"Bucket": bucket, "Key": key}
        if version:
            kwargs["VersionId"] = version
        try:
            return self.client("s3").get_object(**kwargs)["Body"].read()
        except ClientError as e:
            raise ResourceFailed(f"cannot read s3://{bucket}/{key}: {error_text(e)}") from None


class ResourceType:
    type_name: ClassVar[str]
    properties: ClassVar[dict[str, str]]
    required: ClassVar[tuple[str, ...]] = ()
    attributes: ClassVar[tuple[str, ...]] = ()

    def create(self, ctx: Context, logical_id: str, props: dict[str, Any]) -> Provisioned:
        raise NotImplementedError

    def update(
        self, ctx: Context, logical_id: str, current: Provisioned, old: dict[str, Any], new: dict[str, Any]
    ) -> Provisioned:
        raise NotImplementedError

    def delete(self, ctx: Context, current: Provisioned, props: dict[str, Any]) -> None:
        raise NotImplementedError

    # ---- table checks -------------------------------------------------------------------
    def check_properties(self, logical_id: str, props: Any) -> None:
        if not isinstance(props, dict):
            raise TemplateError(f"Resource {logical_id} ({self.type_name}): Properties must be a mapping")
        unsupported = sorted(p for p in props if p not in self.properties)
        if unsupported:
            raise TemplateError(
                f"Resource {logical_id} ({self.type_name}): property {', '.join(unsupported)} is not supported by "
                f"localcloud (supported: {', '.join(sorted(self.properties))})"
            )

    def check_required(self, logical_id: str, props: dict[str, Any]) -> None:
        missing = [p for p in self.required if p not in props]
        if missing:
            raise TemplateError(
                f"Resource {logical_id} ({self.type_name}): required property {', '.join(missing)} is missing"
            )

    def requires_replacement(self, old: dict[str, Any], new: dict[str, Any]) -> bool:
        return any(self.properties.get(p) == REPLACE for p in changed_properties(old, new))


REGISTRY: dict[str, ResourceType] = {}


def register(cls: type[ResourceType]) -> type[ResourceType]:
    REGISTRY[cls.type_name] = cls()
    return cls


def changed_properties(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    return sorted(k for k in set(old) | set(new) if old.get(k) != new.get(k))


def error_text(e: ClientError) -> str:
    err = e.response.get("Error", {})
    return f"{err.get('Code', 'Error')}: {err.get('Message', str(e))}"


def is_not_found(e: ClientError) -> bool:
    code = e.response.get("Error", {}).get("Code", "")
    return (
        "NotFound" in code
        or code in ("NoSuchEntity", "NoSuchBucket", "StateMachineDoesNotExist")
        or (e.response.get("ResponseMetadata", {}).get("HTTPStatusCode") == 404)
    )


def unless_gone(call: Any, *args: Any, **kwargs: Any) -> Any:
    """``call(*args, **kwargs)``, where a "not found" answer means the thing is gone already
    (what deleting a resource wants); other errors propagate. Returns None when it was gone."""
    try:
        return call(*args, **kwargs)
    except ClientError as e:
        if not is_not_found(e):
            raise
        return None


def tags_dict(tags: Any) -> dict[str, str]:
    """CloudFormation's ``[{Key, Value}]`` as a dict (a dict is accepted as is, for SAM-style tags)."""
    if not tags:
        return {}
    if isinstance(tags, dict):
        return {str(k): str(v) for k, v in tags.items()}
    if not isinstance(tags, list) or not all(
        isinstance(t, dict) and "Key" in t and "Value" in t for t in tags
    ):
        raise ResourceFailed(f"Tags must be a list of {{Key, Value}}, got {tags!r}")
    return {str(t["Key"]): str(t["Value"]) for t in tags}


def as_json_text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)


def name_from_arn(name_or_arn: str, marker: str) -> str:
    """``arn:...:{marker}:{name}[...]`` -> name; a plain name stays as it is."""
    if name_or_arn.startswith("arn:") and f":{marker}:" in name_or_arn:
        return name_or_arn.split(f":{marker}:", 1)[1]
    return name_or_arn
