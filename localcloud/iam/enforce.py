"""The decision on one request: who signed it, what it asks for, and what their policies say.

The local root key (``localcloud``) is the account's root user: allowed everything. Any other key
must be an IAM user's or a role session's (moto's IAM and STS hold them); every ``Check`` of the
request (localcloud.iam.actions) must be allowed by the principal's policies, or the request is
refused with an ``AccessDenied`` that names the principal, the action and the resource.
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from localcloud.iam import actions, policy
from localcloud.iam.boundaries import Boundaries
from localcloud.iam.principals import Directory, Principal, UnknownKey


class Denied(Exception):
    """A request IAM refuses. ``code`` is AWS's error code family: AccessDenied, InvalidClientTokenId,
    ExpiredToken, MissingAuthenticationToken (rendered per protocol by the caller)."""

    def __init__(self, code: str, message: str, principal: str | None = None, check: actions.Check | None = None):
        super().__init__(message)
        self.code = code
        self.message = message
        self.principal = principal
        self.check = check


class Audit:
    """With ``LOCALCLOUD_IAM_AUDIT=<file>``, one JSON line per decision on a non-root caller
    (principal, action, resource, decision): what a least-privilege policy must cover, from a run."""

    def __init__(self, path: str | None):
        self.path = path
        self._lock = threading.Lock()

    def record(self, principal: str, check: actions.Check, decision: policy.Decision) -> None:
        if not self.path:
            return
        line = json.dumps({"principal": principal, "action": check.action, "resource": check.resource, "decision": decision.value})
        with self._lock, open(self.path, "a", encoding="utf-8") as f:
            f.write(line + "\n")


class Authorizer:
    def __init__(
        self,
        directory: Directory,
        root_keys: Iterable[str],
        region: str,
        trust_policy: Callable[[str], Any],
        stack_of_change_set: Callable[[str], str | None] | None = None,
        boundaries: Boundaries | None = None,
    ):
        self.directory = directory
        self.boundaries = boundaries
        self.root_keys = frozenset(root_keys)
        self.region = region
        self._trust_policy = trust_policy  # role ARN -> its trust policy document (None: no such role)
        self.stack_of_change_set = stack_of_change_set
        self.audit = Audit(os.environ.get("LOCALCLOUD_IAM_AUDIT"))

    def identify(self, access_key: str | None, headers: Mapping[str, str]) -> Principal | None:
        """The principal of a request's key (None for the root key); raises Denied for a key that is
        missing, unknown or expired."""
        if access_key in self.root_keys:
            if headers is not None and headers.get("X-Amz-Security-Token"):
                # a long-term key never comes with a session token: AWS refuses the pair
                raise Denied("InvalidClientTokenId", "The security token included in the request is invalid.")
            return None
        if not access_key:
            raise Denied("MissingAuthenticationToken", "Request is missing Authentication Token")
        try:
            return self.directory.identify(access_key, headers)
        except UnknownKey as e:
            if e.reason == "Expired":
                raise Denied("ExpiredToken", "The security token included in the request is expired") from None
            raise Denied("InvalidClientTokenId", "The security token included in the request is invalid.") from None

    def check(self, principal: Principal, call: actions.Call, checks: list[actions.Check] | None = None) -> None:
        """Raises Denied unless ``principal``'s policies allow every check of ``call``."""
        if call.service == "sts" and call.operation == "GetCallerIdentity":
            return  # always allowed, whatever the policies say
        try:
            documents = principal.policies()
        except Exception:  # the role or user is gone: no policy grants anything
            documents = []
        boundary = self.boundaries.document(principal) if self.boundaries is not None else None
        context = {**principal.context(), **self._request_context()}
        if self.boundaries is not None:  # the role's tags (aws:PrincipalTag/...), for ABAC policies
            context.update(self.boundaries.principal_tags(principal))
        for check in checks if checks is not None else actions.checks(call):
            request = policy.Request(check.action, check.resource, {**context, **dict(check.context)})
            decision = policy.evaluate(documents, request)
            limit = "identity-based policy"
            if decision is policy.Decision.ALLOW and boundary is not None:
                # a permissions boundary: allowed only where the boundary allows it too
                decision, limit = policy.evaluate([boundary], request), "permissions boundary"
            self.audit.record(principal.arn, check, decision)
            if decision is not policy.Decision.ALLOW:
                message = _message(principal.arn, check, decision, call.service, limit)
                raise Denied("AccessDenied", message, principal.arn, check)
        if call.service == "sts" and call.operation == "AssumeRole":
            self._check_trust(principal, call)

    def authorize(
        self,
        call: actions.Call,
        access_key: str | None,
        headers: Mapping[str, str],
        checks: list[actions.Check] | None = None,
    ) -> Principal | None:
        """identify + check, for requests whose signature is not verified here."""
        principal = self.identify(access_key, headers)
        if principal is not None:
            self.check(principal, call, checks)
        return principal

    def _check_trust(self, principal: Principal, call: actions.Call) -> None:
        role_arn = str(actions.param(call, "RoleArn") or "")
        document = self._trust_policy(role_arn)
        check = actions.Check("sts:AssumeRole", role_arn)
        caller = policy.Caller(arn=principal.arn, account=principal.account)
        if document is None or policy.evaluate(
            [document], policy.Request("sts:AssumeRole", role_arn, self._request_context(), caller)
        ) is not policy.Decision.ALLOW:
            message = f"User: {principal.arn} is not authorized to perform: sts:AssumeRole on resource: {role_arn}"
            raise Denied("AccessDenied", message, principal.arn, check)

    def _request_context(self) -> dict[str, Any]:
        now = time.time()
        return {
            "aws:RequestedRegion": self.region,
            "aws:CurrentTime": datetime.fromtimestamp(now, UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "aws:EpochTime": str(int(now)),
            "aws:SecureTransport": "false",
            "aws:ViaAWSService": "false",
        }


def _message(
    principal: str, check: actions.Check, decision: policy.Decision, service: str, limit: str = "identity-based policy"
) -> str:
    resource = f'"{check.resource}"' if service == "s3" else check.resource
    article = "a" if limit.startswith("p") else "an"
    why = (
        f"with an explicit deny in {article} {limit}"
        if decision is policy.Decision.DENY
        else f"because no {limit} allows the {check.action} action"
    )
    return f"User: {principal} is not authorized to perform: {check.action} on resource: {resource} {why}"
