"""Temporary credentials of a role, as an AWS service gets them for the resource it runs for.

A service assumes a resource's role (a function's execution role, a state machine's role, a rule
target's role) with STS ``AssumeRole`` on the local endpoint, after checking, as AWS does, that
the role exists and that its trust policy lets that service assume it. Credentials are cached per
(role, session name) and renewed once less than ``REFRESH_S`` of their life is left.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from localcloud.iam import policy

DURATION_S = 3600  # AssumeRole's default session length
REFRESH_S = 600  # a session with less left than this is renewed before it is handed out


class RoleNotAssumable(Exception):
    """The role does not exist, or its trust policy does not let the service assume it."""


@dataclass(frozen=True)
class Credentials:
    access_key: str
    secret_key: str
    token: str
    expires: float  # epoch seconds
    arn: str  # the session's ARN: arn:aws:sts::A:assumed-role/<role>/<session>

    def remaining(self) -> float:
        return self.expires - time.time()

    def env(self) -> dict[str, str]:
        return {
            "AWS_ACCESS_KEY_ID": self.access_key,
            "AWS_SECRET_ACCESS_KEY": self.secret_key,
            "AWS_SESSION_TOKEN": self.token,
        }


class Sessions:
    def __init__(self, sts: Any, iam: Any, duration_s: int = DURATION_S, refresh_s: float = REFRESH_S):
        self._sts = sts  # clients of the local endpoint, as the root of the account (the service)
        self._iam = iam
        self.duration_s = duration_s
        self.refresh_s = refresh_s
        self._lock = threading.Lock()
        self._cache: dict[tuple[str, str, str], Credentials] = {}

    def credentials(self, role_arn: str | None, session_name: str, service: str) -> Credentials:
        """Credentials of ``role_arn`` for ``service`` (e.g. ``lambda.amazonaws.com``), session ``session_name``."""
        if not role_arn:
            raise RoleNotAssumable(f"{service} has no role to assume")
        session_name = _session_name(session_name)
        key = (role_arn, session_name, service)
        with self._lock:
            cached = self._cache.get(key)
        if cached is not None and cached.remaining() > self.refresh_s:
            return cached
        self._check_trust(role_arn, service)
        try:
            answer = self._sts.assume_role(RoleArn=role_arn, RoleSessionName=session_name, DurationSeconds=self.duration_s)
        except ClientError as e:
            raise RoleNotAssumable(f"{service} cannot assume role {role_arn}: {e}") from None
        c = answer["Credentials"]
        fresh = Credentials(
            c["AccessKeyId"], c["SecretAccessKey"], c["SessionToken"], c["Expiration"].timestamp(),
            answer["AssumedRoleUser"]["Arn"],
        )
        with self._lock:
            self._cache[key] = fresh
        return fresh

    def _check_trust(self, role_arn: str, service: str) -> None:
        name = role_arn.rsplit("/", 1)[-1]
        try:
            role = self._iam.get_role(RoleName=name)["Role"]
        except ClientError as e:
            raise RoleNotAssumable(f"{service} cannot assume role {role_arn}: {e.response['Error']['Message']}") from None
        if role["Arn"] != role_arn:
            raise RoleNotAssumable(f"{service} cannot assume role {role_arn}: the role {name} is {role['Arn']}")
        decision = policy.evaluate(
            [role.get("AssumeRolePolicyDocument") or {"Statement": []}],
            policy.Request("sts:AssumeRole", role_arn, {}, policy.Caller(service=service)),
        )
        if decision is not policy.Decision.ALLOW:
            raise RoleNotAssumable(
                f"{service} cannot assume role {role_arn}: its trust policy does not allow {service} sts:AssumeRole"
            )


def _session_name(name: str) -> str:
    """A valid RoleSessionName (2-64 of [\\w+=,.@-])."""
    cleaned = "".join(c if c.isalnum() or c in "_+=,.@-" else "-" for c in name)[:64]
    return cleaned if len(cleaned) >= 2 else f"{cleaned}--"[:2]
