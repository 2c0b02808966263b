"""iam: the local cloud enforces IAM as AWS does, when started with ``--enforce-iam``.

- The root key (``localcloud``/``localcloud``, what ``LocalCloud.client``, the tests, the demo and
  the CLI use) is the account's root user: allowed everything.
- Any other key is an IAM user's or a role session's; each request is authorized against its
  policies, on the resources AWS authorizes that action on (``actions``), by IAM's evaluation
  rules (``policy``). A refusal is the service's own AccessDenied error, naming the principal, the
  action and the resource: ``User: arn:aws:sts::123456789012:assumed-role/<role>/<function> is not
  authorized to perform: dynamodb:PutItem on resource: arn:aws:dynamodb:...``.
- Services act with the roles AWS gives them: a Lambda function's workers get temporary
  credentials of its execution role (session name: the function's name); a state machine's tasks
  call with its role's; an EventBridge rule starts executions with its target's role (see
  ``credentials``). Their trust policies must admit the service.

moto's own enforcement point and principal lookup are used (``moto_patches``); without the flag the
hooks pass straight through to moto, whose enforcement stays off, and nothing changes.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping
from typing import Any

from localcloud.iam import actions, moto_patches, policy
from localcloud.iam.boundaries import Boundaries
from localcloud.iam.enforce import Authorizer, Denied
from localcloud.iam.principals import Directory, access_key_of
from localcloud.iam.sessions import Credentials, RoleNotAssumable, Sessions
from localcloud.moto_hooks import require

__all__ = [
    "Credentials",
    "Denied",
    "RoleNotAssumable",
    "authorize_request",
    "caller_arn",
    "caller_is_root",
    "credentials",
    "enforcing",
    "first_denied",
    "install",
    "service_may_invoke",
]


class _State:
    POLICY_TTL_S = 1.0  # a function's resource policy is read again after this long

    def __init__(self, cloud: Any, enforce: bool, sessions: Sessions, authorizer: Authorizer, lam: Any):
        self.cloud = cloud
        self.enforce = enforce
        self.sessions = sessions
        self.authorizer = authorizer
        self.lam = lam
        self._policies: dict[str, tuple[float, Any]] = {}
        self._lock = threading.Lock()

    def function_policy(self, function_arn: str) -> Any:
        """The resource-based policy of a function (or of its version or alias, when qualified)."""
        now = time.monotonic()
        with self._lock:
            hit = self._policies.get(function_arn)
        if hit is not None and now - hit[0] < self.POLICY_TTL_S:
            return hit[1]
        name, _, qualifier = function_arn.split(":function:", 1)[-1].partition(":")
        try:
            document = self.lam.get_policy(FunctionName=name, **({"Qualifier": qualifier} if qualifier else {}))["Policy"]
        except Exception:  # ResourceNotFound: no policy
            document = None
        with self._lock:
            self._policies[function_arn] = (now, document)
        return document


_state: _State | None = None


def install(cloud: Any) -> None:
    global _state
    from localcloud.cloud import ROOT_ACCESS_KEY

    iam_backends = require("moto.iam.models", "iam_backends", "a role's trust policy (get_role_by_arn)")
    not_found = require("moto.iam.exceptions", "NotFoundException", "get_role_by_arn of a role that is not there")

    def trust_policy(role_arn: str) -> Any:
        try:
            role = iam_backends[cloud.account_id]["aws"].get_role_by_arn(role_arn)
        except not_found:
            return None
        return role.assume_role_policy_document

    cfn = cloud.client("cloudformation")
    change_set_stacks: dict[str, str | None] = {}
    lock = threading.Lock()

    def stack_of_change_set(arn: str) -> str | None:
        with lock:
            if arn in change_set_stacks:
                return change_set_stacks[arn]
        try:
            stack = cfn.describe_change_set(ChangeSetName=arn)["StackId"]
        except Exception:  # no such change set: moto answers the request itself
            return None
        with lock:
            change_set_stacks[arn] = stack
        return stack

    sessions = Sessions(cloud.client("sts"), cloud.client("iam"))
    authorizer = Authorizer(
        Directory(cloud.account_id), {ROOT_ACCESS_KEY}, cloud.region, trust_policy, stack_of_change_set,
        Boundaries(cloud.account_id),
    )
    _state = _State(cloud, bool(getattr(cloud, "enforce_iam", False)), sessions, authorizer, cloud.client("lambda"))
    moto_patches.install(cloud, enforcing, authorizer, sessions)


def enforcing() -> bool:
    """Whether the running cloud enforces IAM (``localcloud up --enforce-iam``)."""
    return _state is not None and _state.enforce


def credentials(role_arn: str | None, session_name: str, service: str) -> Credentials:
    """Temporary credentials of ``role_arn`` as ``service`` (``lambda.amazonaws.com``...) gets them:
    the role must exist and trust the service; renewed before they expire. Raises RoleNotAssumable."""
    if _state is None:
        raise RuntimeError("localcloud.iam is not installed")
    return _state.sessions.credentials(role_arn, session_name, service)


def authorize_request(
    headers: Mapping[str, str], query: str, call: actions.Call, checks: list[actions.Check] | None = None
) -> None:
    """For APIs localcloud serves itself (moto never sees them): raises Denied unless the caller
    may make ``call`` (or pass ``checks``: e.g. ``[Check("execute-api:Invoke", method_arn)]`` for
    an IAM-authorized API method). The signature is not verified; the key and session token are."""
    if not enforcing():
        return
    assert _state is not None
    _state.authorizer.authorize(call, access_key_of(headers, query), headers, checks)


def caller_arn(headers: Mapping[str, str], query: str = "") -> str | None:
    """The ARN of who signed a request (a user, a role session), None for the root key, an
    unknown key, or without enforcement."""
    if not enforcing():
        return None
    assert _state is not None
    try:
        principal = _state.authorizer.identify(access_key_of(headers, query), headers)
    except Exception:  # an unknown or expired key: the request itself is refused elsewhere
        return None
    return None if principal is None else principal.arn


def caller_is_root() -> bool:
    """Whether the moto request being served on this thread was signed with the root key (which
    also plays the AWS services of the local cloud), or runs without enforcement. Services that
    decide per item (PutEvents' ``aws.*`` sources) ask this while serving the request."""
    return not enforcing() or moto_patches.current_principal() is None


def service_may_invoke(function_arn: str, service: str, source_arn: str, source_account: str | None = None) -> bool:
    """Whether the function's resource-based policy (AddPermission, AWS::Lambda::Permission) lets
    ``service`` invoke ``function_arn`` (as invoked: qualified or not) for ``source_arn``.
    Always true without enforcement."""
    if not enforcing():
        return True
    assert _state is not None
    document = _state.function_policy(function_arn)
    if document is None:  # no policy at all: nothing lets the service in
        return False
    account = source_account or _state.cloud.account_id
    request = policy.Request(
        "lambda:InvokeFunction",
        function_arn,
        {"aws:SourceArn": source_arn, "aws:SourceAccount": account},
        policy.Caller(service=service),
    )
    return policy.evaluate([document], request) is policy.Decision.ALLOW


def first_denied(role_arn: str, service: str, checks: list[actions.Check]) -> actions.Check | None:
    """The first of ``checks`` that ``role_arn``'s policies do not allow when ``service`` (e.g.
    ``states.amazonaws.com``) acts with that role; None when all are allowed, or without enforcement.
    Raises RoleNotAssumable when the service cannot assume the role."""
    if not enforcing():
        return None
    assert _state is not None
    creds = _state.sessions.credentials(role_arn, "validation", service)
    principal = _state.authorizer.directory.identify(creds.access_key, {"X-Amz-Security-Token": creds.token})
    for check in checks:
        service_name = check.action.split(":", 1)[0]
        try:
            _state.authorizer.check(principal, actions.Call(service_name, check.action.split(":", 1)[1]), [check])
        except Denied:
            return check
    return None
