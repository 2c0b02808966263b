"""Who signed a request: the local root, an IAM user or a role session, found the way moto's own
IAM enforcement finds them (moto.iam.access_control.create_access_key), with their policies."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import unquote

from localcloud.moto_hooks import require

ACCESS_KEY = re.compile(r"Credential=([^/,\s]+)/")


class UnknownKey(Exception):
    """The access key is nobody's (InvalidClientTokenId), or its session token is wrong or expired."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason  # "InvalidId" | "InvalidToken" | "Expired"


@dataclass(frozen=True)
class Principal:
    arn: str  # the caller as AWS names it in errors (arn:aws:sts::A:assumed-role/role/session, ...:user/u)
    account: str
    key: Any  # moto's access key object: collect_policies(), create_credentials()
    role_arn: str | None = None
    session_name: str | None = None

    def policies(self) -> list[Any]:
        """Every policy document of the principal (inline and attached, its groups' for a user)."""
        return [document_of(p) for p in self.key.collect_policies()]

    def context(self) -> dict[str, Any]:
        """The global condition keys AWS sets for this principal."""
        ctx: dict[str, Any] = {"aws:PrincipalAccount": self.account, "aws:PrincipalArn": self.role_arn or self.arn}
        if self.role_arn:
            ctx["aws:PrincipalType"] = "AssumedRole"
            ctx["aws:userid"] = f"{self.role_arn.rsplit('/', 1)[-1]}:{self.session_name}"
        else:
            ctx["aws:PrincipalType"] = "User"
            ctx["aws:username"] = self.arn.rsplit("/", 1)[-1]
        return ctx


def access_key_of(headers: Any, query: str = "") -> str | None:
    """The access key id a request is signed with (Authorization header or presigned query)."""
    header = headers.get("Authorization") if headers is not None else None
    if header:
        m = ACCESS_KEY.search(header)
        if m:
            return m.group(1)
        if header.startswith("AWS "):  # SigV2: AWS key:signature
            return header[4:].split(":", 1)[0]
    for pair in (query or "").split("&"):
        name, _, value = pair.partition("=")
        if name in ("X-Amz-Credential", "AWSAccessKeyId"):
            return unquote(value).split("/", 1)[0]
    return None


class Directory:
    """Access keys → principals, through moto's IAM and STS backends."""

    def __init__(self, account: str, partition: str = "aws"):
        self.account = account
        self.partition = partition
        self._create_access_key = require(
            "moto.iam.access_control",
            "create_access_key",
            "moto's IAM enforcement finds an access key's user or role session and its policies "
            "(.arn, .collect_policies(), .create_credentials())",
        )
        self._failure = require(
            "moto.iam.access_control", "CreateAccessKeyFailure", "an unknown key or a wrong session token (.reason)"
        )
        self._sts = require("moto.sts.models", "sts_backends", "role sessions and their expiration")
        require("moto.sts.models", "STSBackend.get_assumed_role_from_access_key", "a session by its access key")
        require("moto.sts.models", "AssumedRole", "a session's .role_arn and .expiration (naive UTC)")
        require("moto.iam.models", "Policy", "managed policies keep .versions[].{document,is_default}")

    def identify(self, access_key: str, headers: Any) -> Principal:
        try:
            key = self._create_access_key(
                account_id=self.account, partition=self.partition, access_key_id=access_key, headers=headers
            )
        except self._failure as e:
            raise UnknownKey(e.reason) from None
        arn = key.arn
        m = re.fullmatch(r"arn:[^:]+:sts::(\d{12}):assumed-role/([^/]+)/(.+)", arn)
        if not m:
            return Principal(arn=arn, account=self.account, key=key)
        session = self._sts[self.account][self.partition].get_assumed_role_from_access_key(access_key)
        if session is not None and _expired(session.expiration):
            raise UnknownKey("Expired")
        role_arn = session.role_arn if session is not None else f"arn:aws:iam::{m.group(1)}:role/{m.group(2)}"
        return Principal(arn=arn, account=m.group(1), key=key, role_arn=role_arn, session_name=m.group(3))


def _expired(expiration: datetime) -> bool:
    now = datetime.now(expiration.tzinfo) if expiration.tzinfo else datetime.utcnow()
    return expiration <= now


def document_of(policy: Any) -> Any:
    """moto gives inline policies as JSON text and attached ones as Policy models."""
    if isinstance(policy, (str, bytes)):
        return policy
    if isinstance(policy, dict):
        return policy.get("policy_document", policy)
    versions = getattr(policy, "versions", None)
    if versions:
        document = next((v.document for v in versions if v.is_default), versions[-1].document)
        return json.loads(document) if isinstance(document, str) else document
    document = getattr(policy, "document", None)
    return document if document is not None else {"Statement": []}
