"""IAM policy evaluation for one account, as AWS documents it (identity-based, resource-based and
trust policies; no SCPs, permission boundaries or session policies).

- A statement applies when its ``Action``/``NotAction``, ``Resource``/``NotResource``,
  ``Principal``/``NotPrincipal`` (resource and trust policies) and every ``Condition`` match.
- An applicable ``Deny`` wins over any ``Allow``; without an applicable ``Allow`` the request is
  implicitly denied.
- Wildcards: ``*`` any run of characters, ``?`` one character; actions match case-insensitively,
  resources case-sensitively. An API that takes no resource is evaluated on ``*``, which only a
  statement with ``Resource: "*"`` (or a pattern made of wildcards only) covers.
- Conditions: the string, ARN, numeric, date, Bool and Null operators, ``...IfExists`` and the
  ``ForAnyValue:``/``ForAllValues:`` set qualifiers. A key missing from the request makes a
  condition false, except for the negated operators (true), ``...IfExists`` (true) and ``Null``.
  Policy variables (``${aws:username}``, any key of the request context) are substituted in
  resources and condition values.

moto's own evaluator (moto.iam.access_control.IAMPolicyStatement) does not cover NotResource (a
NotResource statement allows everything there), conditions outside trust policies, ``?``, regex
characters in ARNs, or case-insensitive actions; that is why this module exists.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import Enum
from functools import lru_cache
from typing import Any


class Decision(Enum):
    ALLOW = "allow"
    DENY = "deny"  # an explicit Deny
    IMPLICIT_DENY = "implicit"


@dataclass(frozen=True)
class Caller:
    """Who is asking, for Principal matching: an IAM ARN (user, role session, root) or a service."""

    arn: str | None = None  # arn:aws:sts::123456789012:assumed-role/name/session, ...:user/x, ...:root
    service: str | None = None  # events.amazonaws.com
    account: str | None = None


@dataclass(frozen=True)
class Request:
    action: str  # service:Action
    resource: str  # an ARN, or "*"
    context: Mapping[str, Any] = field(default_factory=dict)  # condition keys, any case
    caller: Caller | None = None  # for policies with a Principal element


class PolicyError(ValueError):
    """A policy document that cannot be read."""


def load(document: Any) -> dict:
    if isinstance(document, (bytes, str)):
        try:
            document = json.loads(document)
        except ValueError as e:
            raise PolicyError(f"policy is not JSON: {e}") from None
    if not isinstance(document, dict) or "Statement" not in document:
        raise PolicyError("policy has no Statement")
    return document


def evaluate(documents: Iterable[Any], request: Request) -> Decision:
    """The decision of all ``documents`` together on ``request``."""
    allowed = False
    for document in documents:
        for statement in _statements(load(document)):
            if not _applies(statement, request):
                continue
            if statement.get("Effect") == "Deny":
                return Decision.DENY
            if statement.get("Effect") == "Allow":
                allowed = True
    return Decision.ALLOW if allowed else Decision.IMPLICIT_DENY


def _statements(document: dict) -> list[dict]:
    statements = document["Statement"]
    return [statements] if isinstance(statements, dict) else list(statements)


def _as_list(value: Any) -> list:
    if value is None:
        return []
    return list(value) if isinstance(value, (list, tuple)) else [value]


def _applies(statement: dict, request: Request) -> bool:
    if "Action" in statement:
        if not any(_glob(p, ignore_case=True).fullmatch(request.action) for p in _as_list(statement["Action"])):
            return False
    elif "NotAction" in statement:
        if any(_glob(p, ignore_case=True).fullmatch(request.action) for p in _as_list(statement["NotAction"])):
            return False
    else:
        return False
    if "Resource" in statement:
        if not any(_resource_matches(p, request) for p in _as_list(statement["Resource"])):
            return False
    elif "NotResource" in statement:
        if any(_resource_matches(p, request) for p in _as_list(statement["NotResource"])):
            return False
    if "Principal" in statement:
        if request.caller is None or not _principal_matches(statement["Principal"], request.caller):
            return False
    elif "NotPrincipal" in statement:
        if request.caller is not None and _principal_matches(statement["NotPrincipal"], request.caller):
            return False
    return all(
        _condition_holds(operator, block, request.context)
        for operator, block in (statement.get("Condition") or {}).items()
    )


def _resource_matches(pattern: str, request: Request) -> bool:
    pattern = substitute(pattern, request.context)
    if request.resource == "*":
        return set(pattern) <= {"*"}
    return bool(_glob(pattern).fullmatch(request.resource))


@lru_cache(maxsize=4096)
def _glob(pattern: str, ignore_case: bool = False) -> re.Pattern[str]:
    parts = (".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.compile("".join(parts), re.IGNORECASE | re.DOTALL if ignore_case else re.DOTALL)


_VARIABLE = re.compile(r"\$\{([^}]+)\}")


def substitute(text: str, context: Mapping[str, Any]) -> str:
    """Policy variables: ``${aws:username}`` → the context value; ``${*}``, ``${?}``, ``${$}`` →
    the literal character; an unknown variable matches nothing (AWS leaves the statement inapplicable)."""
    if "${" not in text:
        return text
    lowered = {k.lower(): v for k, v in context.items()}

    def value(m: re.Match) -> str:
        name = m.group(1)
        if name in ("*", "?", "$"):
            return name
        key, _, default = name.partition(",")
        found = lowered.get(key.strip().lower())
        if found is None and default:
            return default.strip().strip("'")
        if found is None:
            return "\x00no-such-variable\x00"
        return str(found[0] if isinstance(found, list) and found else found)

    return _VARIABLE.sub(value, text)


# ---- principals ---------------------------------------------------------------------------
def _principal_matches(spec: Any, caller: Caller) -> bool:
    if spec == "*":
        return True
    if not isinstance(spec, dict):
        return False
    for kind, values in spec.items():
        for value in _as_list(values):
            if kind == "Service" and caller.service and _service_matches(str(value), caller.service):
                return True
            if kind == "AWS" and caller.arn and _aws_principal_matches(str(value), caller):
                return True
    return False


LOCAL_REGION = "us-east-1"  # the local cloud's one region (localcloud.cloud.REGION)


def _service_matches(value: str, service: str) -> bool:
    """A service principal, global (``states.amazonaws.com``) or regional in the local cloud's
    region (``states.us-east-1.amazonaws.com``): AWS accepts both in a trust policy."""
    if value == service:
        return True
    name, _, suffix = service.partition(".")
    return value == f"{name}.{LOCAL_REGION}.{suffix}"


def _aws_principal_matches(value: str, caller: Caller) -> bool:
    if value == "*":
        return True
    arn = caller.arn or ""
    account = caller.account or (arn.split(":")[4] if arn.count(":") >= 5 else "")
    if re.fullmatch(r"\d{12}", value):
        return value == account
    if value == f"arn:aws:iam::{account}:root":
        return True  # the account: every principal in it
    if value == arn:
        return True
    # a role as principal covers its sessions: arn:aws:iam::A:role/path/name ↔ arn:aws:sts::A:assumed-role/name/s
    role = re.fullmatch(r"arn:aws:iam::(\d{12}):role/(?:.*/)?([^/]+)", value)
    session = re.fullmatch(r"arn:aws:sts::(\d{12}):assumed-role/([^/]+)/.+", arn)
    return bool(role and session and role.groups() == session.groups())


# ---- conditions ----------------------------------------------------------------------------
def _condition_holds(operator: str, block: Any, context: Mapping[str, Any]) -> bool:
    if not isinstance(block, dict):
        return False
    qualifier, _, op = operator.rpartition(":")
    if_exists = op.endswith("IfExists")
    if if_exists:
        op = op[: -len("IfExists")]
    lowered = {k.lower(): v for k, v in context.items()}
    for key, wanted in block.items():
        present = key.lower() in lowered and lowered[key.lower()] is not None
        wanted_values = [substitute(str(w), context) if isinstance(w, str) else w for w in _as_list(wanted)]
        if op == "Null":
            expect_absent = str(wanted_values[0]).lower() == "true" if wanted_values else True
            if expect_absent == present:
                return False
            continue
        if not present:
            if if_exists or (op.startswith(("StringNot", "ArnNot", "NumericNotEquals", "DateNotEquals")) and qualifier != "ForAnyValue"):
                continue
            if qualifier == "ForAllValues":
                continue  # an empty set satisfies "for all values"
            return False
        actual = lowered[key.lower()]
        actual_values = [str(a) for a in _as_list(actual)]
        if not _compare(op, qualifier, actual_values, wanted_values):
            return False
    return True


def _compare(op: str, qualifier: str, actual: Sequence[str], wanted: Sequence[Any]) -> bool:
    negated = op.startswith(("StringNot", "ArnNot")) or op in ("NumericNotEquals", "DateNotEquals")
    positive = _POSITIVE.get(op.replace("Not", "", 1) if negated else op)
    if positive is None:
        return False  # an operator this evaluator does not know never matches (deny-safe for Allow)

    def one(value: str) -> bool:
        hit = any(positive(value, w) for w in wanted)
        return not hit if negated else hit

    if qualifier == "ForAllValues":
        return all(one(v) for v in actual)
    return any(one(v) for v in actual)


def _number(v: Any) -> float:
    return float(v)


def _date(v: Any) -> float:
    text = str(v)
    if re.fullmatch(r"\d+(\.\d+)?", text):
        return float(text)
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def _safe(fn):
    def wrapped(a: Any, b: Any) -> bool:
        try:
            return fn(a, b)
        except (TypeError, ValueError):
            return False

    return wrapped


_POSITIVE = {
    "StringEquals": _safe(lambda a, b: a == str(b)),
    "StringEqualsIgnoreCase": _safe(lambda a, b: a.lower() == str(b).lower()),
    "StringLike": _safe(lambda a, b: bool(_glob(str(b)).fullmatch(a))),
    "ArnEquals": _safe(lambda a, b: bool(_glob(str(b)).fullmatch(a))),
    "ArnLike": _safe(lambda a, b: bool(_glob(str(b)).fullmatch(a))),
    "Bool": _safe(lambda a, b: a.lower() == str(b).lower()),
    "BinaryEquals": _safe(lambda a, b: a == str(b)),
    "NumericEquals": _safe(lambda a, b: _number(a) == _number(b)),
    "NumericLessThan": _safe(lambda a, b: _number(a) < _number(b)),
    "NumericLessThanEquals": _safe(lambda a, b: _number(a) <= _number(b)),
    "NumericGreaterThan": _safe(lambda a, b: _number(a) > _number(b)),
    "NumericGreaterThanEquals": _safe(lambda a, b: _number(a) >= _number(b)),
    "DateEquals": _safe(lambda a, b: _date(a) == _date(b)),
    "DateLessThan": _safe(lambda a, b: _date(a) < _date(b)),
    "DateLessThanEquals": _safe(lambda a, b: _date(a) <= _date(b)),
    "DateGreaterThan": _safe(lambda a, b: _date(a) > _date(b)),
    "DateGreaterThanEquals": _safe(lambda a, b: _date(a) >= _date(b)),
}
