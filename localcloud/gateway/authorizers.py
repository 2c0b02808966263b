"""Lambda authorizers of REST APIs, as API Gateway runs them.

Import (``import_authorizers``): each security scheme of an OpenAPI body with an
``x-amazon-apigateway-authorizer`` becomes an authorizer of the API (moto's model, so
``get-authorizers`` shows it): type ``token``/``request``/``cognito_user_pools``, ``authorizerUri``,
``identitySource`` (for a TOKEN scheme without one, ``method.request.header.<name>`` of the scheme),
``identityValidationExpression``, ``authorizerResultTtlInSeconds`` (300 when absent, as API Gateway
imports it). Methods whose ``security`` names the scheme get ``CUSTOM`` (or
``COGNITO_USER_POOLS``) authorization and its id.

Per request (``LambdaAuthorizers.authorize``), as the API Gateway developer guide describes it:

- identity: TOKEN reads the token from its identity-source header; missing or empty, or not
  matching ``identityValidationExpression`` → 401 ``{"message":"Unauthorized"}`` without calling
  the function. REQUEST reads every identity source (``method.request.header.X``,
  ``method.request.querystring.X``, ``stageVariables.X``, ``context.X``); one missing or empty →
  401 without calling the function.
- cache: the authorizer's answer (principal, policy, context) is kept for
  ``authorizerResultTtlInSeconds`` (0: not cached), keyed by the identity-source values, per API
  stage and authorizer; a cached policy is evaluated again against each request's method ARN.
- call: the function is invoked through Lambda's Invoke API, with API Gateway's permission: the
  function's resource policy must let ``apigateway.amazonaws.com`` invoke it for
  ``arn:aws:execute-api:{region}:{account}:{api}/authorizers/{id}`` (with ``--enforce-iam``), or,
  when the authorizer names ``authorizerCredentials``, that role (assumed by API Gateway) must be
  allowed ``lambda:InvokeFunction``. TOKEN event ``{type, authorizationToken, methodArn}``; REQUEST
  event: the proxy request's fields plus ``type`` and ``methodArn``.
- answer: the function failing with the message ``Unauthorized`` → 401. Any other failure, an
  answer without ``principalId`` or a readable ``policyDocument``, or a ``context`` value that is
  not a string, number or boolean → 500 ``{"message": null}`` (AuthorizerConfigurationException).
  The policy is evaluated by IAM's rules on ``execute-api:Invoke`` of the method ARN: an explicit
  Deny → 403 "User is not authorized to access this resource with an explicit deny", no Allow →
  403 "User is not authorized to access this resource".
- allowed: ``requestContext.authorizer`` of the integration's event holds ``principalId``, the
  context's values (as strings, as REST APIs pass them) and ``integrationLatency``.

Cognito user pool authorizers (``COGNITO_USER_POOLS``) verify the token against the local
Cognito's user pools: see cognito.py. Any other authorizer type answers 500 rather than let a
request through.
"""

from __future__ import annotations

import json
import logging
import re
import secrets
import string
import threading
import time
from dataclasses import dataclass
from typing import Any

from localcloud import iam
from localcloud.cloud import ACCOUNT_ID, REGION
from localcloud.iam import actions as iam_actions
from localcloud.iam import policy as iam_policy
from localcloud.moto_hooks import require

from . import cognito, proxy

log = logging.getLogger("localcloud.gateway.authorizers")

_WHY = "Lambda authorizers of REST APIs: RestAPI.{authorizers,create_authorizer}, Method.authorizer_id, Authorizer.*"
require("moto.apigateway.models", "RestAPI.create_authorizer", _WHY)
require("moto.apigateway.models", "Authorizer", _WHY)

TYPES = {"token": "TOKEN", "request": "REQUEST", "cognito_user_pools": "COGNITO_USER_POOLS"}
DEFAULT_TTL_S = 300
MAX_TTL_S = 3600
INVOKE_TIMEOUT_S = 10.0
SERVICE = "apigateway.amazonaws.com"


@dataclass(frozen=True)
class Binding:
    """What a method that names a security scheme gets: its authorization type and authorizer."""

    authorizer_id: str
    authorization_type: str  # CUSTOM or COGNITO_USER_POOLS


def _new_id() -> str:
    return "".join(secrets.choice(string.ascii_lowercase + string.digits) for _ in range(6))


def import_authorizers(api: Any, schemes: Any) -> dict[str, Binding]:
    """Create or update the API's authorizers from an OpenAPI body's security schemes (by name)."""
    out: dict[str, Binding] = {}
    if not isinstance(schemes, dict):
        return out
    existing = {a.name: a for a in list(api.authorizers.values())}
    for name, scheme in schemes.items():
        ext = scheme.get("x-amazon-apigateway-authorizer") if isinstance(scheme, dict) else None
        if not isinstance(ext, dict):
            continue
        kind = TYPES.get(str(ext.get("type", "")).lower(), str(ext.get("type", "")).upper())
        identity = ext.get("identitySource")
        if identity is None and scheme.get("in") == "header" and scheme.get("name") and kind != "REQUEST":
            identity = f"method.request.header.{scheme['name']}"
        ttl = ext.get("authorizerResultTtlInSeconds")
        fields = {
            "type": kind,
            "auth_type": scheme.get("x-amazon-apigateway-authtype"),
            "provider_arns": ext.get("providerARNs"),
            "authorizer_uri": ext.get("authorizerUri"),
            "authorizer_credentials": ext.get("authorizerCredentials"),
            "identity_source": identity,
            "identity_validation_expression": ext.get("identityValidationExpression"),
            "authorizer_result_ttl": DEFAULT_TTL_S if ttl is None else int(ttl),
        }
        found = existing.get(name)
        if found is None:
            found = api.create_authorizer(
                authorizer_id=_new_id(),
                name=name,
                authorizer_type=kind,
                provider_arns=None,
                auth_type=None,
                authorizer_uri=None,
                authorizer_credentials=None,
                identity_source=None,
                identiy_validation_expression=None,  # (sic) moto's keyword
                authorizer_result_ttl=None,
            )
        for attr, value in fields.items():
            setattr(found, attr, value)
        bound = "COGNITO_USER_POOLS" if kind == "COGNITO_USER_POOLS" else "CUSTOM"
        out[name] = Binding(found.id, bound)
    return out


# ---- per request ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Refusal:
    status: int
    message: str | None
    error_type: str
    response_type: str


UNAUTHORIZED = Refusal(401, "Unauthorized", "UnauthorizedException", "UNAUTHORIZED")
FAILURE = Refusal(500, None, "AuthorizerConfigurationException", "AUTHORIZER_FAILURE")
CONFIGURATION_ERROR = Refusal(500, None, "AuthorizerConfigurationException", "AUTHORIZER_CONFIGURATION_ERROR")
EXPLICIT_DENY = Refusal(
    403,
    "User is not authorized to access this resource with an explicit deny",
    "AccessDeniedException",
    "ACCESS_DENIED",
)
NOT_ALLOWED = Refusal(403, "User is not authorized to access this resource", "AccessDeniedException", "ACCESS_DENIED")


@dataclass(frozen=True)
class Grant:
    """What the authorizer function answered (kept in the cache)."""

    principal_id: str
    policy: dict[str, Any]
    context: dict[str, str]
    latency_ms: int


@dataclass
class Outcome:
    refusal: Refusal | None = None
    authorizer: dict[str, Any] | None = None  # requestContext.authorizer when allowed
    principal_id: str | None = None
    error: str | None = None  # for $context.authorizer.error
    latency_ms: int | None = None
    cached: bool = False


class _Failed(Exception):
    def __init__(self, refusal: Refusal, why: str):
        super().__init__(why)
        self.refusal = refusal
        self.why = why


class LambdaAuthorizers:
    def __init__(self, invoker: proxy.LambdaInvoker, user_pools: cognito.UserPoolTokens | None = None):
        self.invoker = invoker
        self.user_pools = user_pools
        self._cache: dict[tuple[Any, ...], tuple[float, Grant]] = {}
        self._lock = threading.Lock()

    def authorize(
        self,
        authorizer: Any,
        api_id: str,
        stage: str,
        method_arn: str,
        event: dict[str, Any],
        scopes: list[str] | None = None,
    ) -> Outcome:
        """Run ``authorizer`` for the request whose proxy ``event`` is given (see module doc)."""
        kind = (authorizer.type or "").upper()
        if kind == "COGNITO_USER_POOLS" and self.user_pools is not None:
            return self._user_pool(authorizer, api_id, stage, event, list(scopes or []))
        if kind not in ("TOKEN", "REQUEST"):
            log.warning(
                "API %s: authorizer %s of type %s is not run by localcloud; refusing the request", api_id, authorizer.name, kind
            )
            return Outcome(refusal=CONFIGURATION_ERROR, error=f"{kind} authorizers are not supported by localcloud")
        try:
            values = self._identity(authorizer, kind, event)
        except _Failed as e:
            return Outcome(refusal=e.refusal, error=e.why)
        ttl = max(0, min(int(authorizer.authorizer_result_ttl or 0), MAX_TTL_S))
        if not values:  # no identity source, no cache key: never one caller's answer for another
            ttl = 0
        # the authorizer's configuration is part of the key: a redeployed authorizer starts afresh
        config = (authorizer.authorizer_uri, authorizer.identity_source, authorizer.identity_validation_expression, ttl)
        key = (api_id, stage, authorizer.id, kind, config, tuple(values))
        grant = self._cached(key) if ttl else None
        cached = grant is not None
        if grant is None:
            if kind == "TOKEN":
                payload = {"type": "TOKEN", "authorizationToken": values[0], "methodArn": method_arn}
            else:
                payload = {"type": "REQUEST", "methodArn": method_arn, **_request_fields(event)}
            try:
                grant = self._call(authorizer, api_id, event.get("stageVariables") or {}, payload)
            except _Failed as e:
                log.warning("API %s: authorizer %s: %s", api_id, authorizer.name, e.why)
                return Outcome(refusal=e.refusal, error=e.why)
            if ttl:
                with self._lock:
                    self._cache[key] = (time.monotonic() + ttl, grant)
        decision = iam_policy.evaluate([grant.policy], iam_policy.Request("execute-api:Invoke", method_arn))
        outcome = Outcome(principal_id=grant.principal_id, latency_ms=0 if cached else grant.latency_ms, cached=cached)
        if decision is iam_policy.Decision.DENY:
            outcome.refusal = EXPLICIT_DENY
        elif decision is not iam_policy.Decision.ALLOW:
            outcome.refusal = NOT_ALLOWED
        else:
            outcome.authorizer = {
                **grant.context,
                "principalId": grant.principal_id,
                "integrationLatency": outcome.latency_ms,
            }
        return outcome

    def _user_pool(
        self, authorizer: Any, api_id: str, stage: str, event: dict[str, Any], scopes: list[str]
    ) -> Outcome:
        """A Cognito user pool authorizer (cognito.py): the token's claims, cached per TTL."""
        assert self.user_pools is not None
        source = str(authorizer.identity_source or "method.request.header.Authorization").strip()
        token = _header(event, source.removeprefix("method.request.header."))
        if not token:
            return Outcome(refusal=UNAUTHORIZED, error="the identity source header is missing or empty")
        ttl = max(0, min(int(authorizer.authorizer_result_ttl or 0), MAX_TTL_S))
        config = (tuple(authorizer.provider_arns or ()), source, ttl, tuple(scopes))
        key = (api_id, stage, authorizer.id, "COGNITO_USER_POOLS", config, (token,))
        hit = self._cached(key) if ttl else None
        if hit is None:
            try:
                claims = self.user_pools.claims(token, list(authorizer.provider_arns or []), scopes)
            except cognito.InvalidToken as e:
                return Outcome(refusal=UNAUTHORIZED, error=str(e))
            hit = Grant(str(claims.get("sub", "")), {}, cognito.claim_texts(claims), 0)
            if ttl:
                with self._lock:
                    self._cache[key] = (time.monotonic() + ttl, hit)
        return Outcome(authorizer={"claims": dict(hit.context)}, principal_id=hit.principal_id)

    def _cached(self, key: tuple[Any, ...]) -> Grant | None:
        with self._lock:
            hit = self._cache.get(key)
            if hit is None:
                return None
            if hit[0] <= time.monotonic():
                del self._cache[key]
                return None
            return hit[1]

    @staticmethod
    def _identity(authorizer: Any, kind: str, event: dict[str, Any]) -> list[str]:
        sources = [s.strip() for s in str(authorizer.identity_source or "").split(",") if s.strip()]
        if kind == "TOKEN":
            if len(sources) != 1 or not sources[0].startswith("method.request.header."):
                raise _Failed(CONFIGURATION_ERROR, f"TOKEN identity source {authorizer.identity_source!r} is not a header")
            token = _header(event, sources[0][len("method.request.header.") :])
            if not token:
                raise _Failed(UNAUTHORIZED, "the identity source header is missing or empty")
            expression = authorizer.identity_validation_expression
            try:
                matches = not expression or re.fullmatch(expression, token) is not None
            except re.error as e:
                raise _Failed(CONFIGURATION_ERROR, f"identityValidationExpression {expression!r}: {e}") from None
            if not matches:
                raise _Failed(UNAUTHORIZED, "the token does not match the identity validation expression")
            return [token]
        values = []
        for source in sources:
            value = _source_value(source, event)
            if value is None or value == "":
                raise _Failed(UNAUTHORIZED, f"identity source {source} is missing or empty")
            values.append(value)
        return values

    def _call(self, authorizer: Any, api_id: str, stage_variables: dict[str, str], payload: dict[str, Any]) -> Grant:
        try:
            function, qualifier = proxy.function_target(authorizer.authorizer_uri or "", stage_variables)
        except proxy.InvokeFailed as e:
            raise _Failed(CONFIGURATION_ERROR, str(e)) from None
        function_arn = function if function.startswith("arn:") else _function_arn(function)
        invoked_arn = f"{function_arn}:{qualifier}" if qualifier else function_arn
        self._check_permission(authorizer, api_id, invoked_arn)
        started = time.perf_counter()
        try:
            status, headers, body = self.invoker.invoke(function, qualifier, json.dumps(payload).encode(), INVOKE_TIMEOUT_S)
        except proxy.IntegrationTimeout:
            raise _Failed(FAILURE, "the authorizer function timed out") from None
        except proxy.InvokeFailed as e:
            raise _Failed(CONFIGURATION_ERROR, str(e)) from None
        latency_ms = int(round((time.perf_counter() - started) * 1000))
        if status != 200:
            raise _Failed(CONFIGURATION_ERROR, f"Lambda Invoke answered {status}: {body[:300]!r}")
        try:
            answer = json.loads(body)
        except ValueError:
            raise _Failed(FAILURE, "the authorizer's answer is not JSON") from None
        if headers.get("x-amz-function-error"):
            message = answer.get("errorMessage") if isinstance(answer, dict) else None
            if message == "Unauthorized":
                raise _Failed(UNAUTHORIZED, "the authorizer function answered Unauthorized")
            raise _Failed(FAILURE, f"the authorizer function failed: {message!r}")
        return _grant(answer, latency_ms)

    @staticmethod
    def _check_permission(authorizer: Any, api_id: str, function_arn: str) -> None:
        credentials = authorizer.authorizer_credentials
        if credentials and iam.enforcing():
            try:
                session = iam.credentials(credentials, "apigateway-authorizer", SERVICE)
                headers = {
                    "Authorization": f"AWS4-HMAC-SHA256 Credential={session.access_key}/20000101/x/lambda/aws4_request",
                    "X-Amz-Security-Token": session.token,
                }
                iam.authorize_request(
                    headers,
                    "",
                    iam_actions.Call("lambda", "Invoke"),
                    checks=[iam_actions.Check("lambda:InvokeFunction", function_arn)],
                )
            except (iam.RoleNotAssumable, iam.Denied) as e:
                raise _Failed(CONFIGURATION_ERROR, f"authorizerCredentials {credentials}: {e}") from None
            return
        source_arn = f"arn:aws:execute-api:{REGION}:{ACCOUNT_ID}:{api_id}/authorizers/{authorizer.id}"
        if not iam.service_may_invoke(function_arn, SERVICE, source_arn):
            raise _Failed(CONFIGURATION_ERROR, f"Invalid permissions on Lambda function {function_arn} (for {source_arn})")


def _function_arn(name: str) -> str:
    return f"arn:aws:lambda:{REGION}:{ACCOUNT_ID}:function:{name}"


def _grant(answer: Any, latency_ms: int) -> Grant:
    if not isinstance(answer, dict):
        raise _Failed(FAILURE, "the authorizer's answer is not a JSON object")
    principal = answer.get("principalId")
    if principal is None or isinstance(principal, (dict, list)):
        raise _Failed(FAILURE, "the authorizer's answer has no principalId")
    document = answer.get("policyDocument")
    if isinstance(document, str):
        try:
            document = json.loads(document)
        except ValueError:
            document = None
    try:
        iam_policy.load(document)
    except iam_policy.PolicyError as e:
        raise _Failed(FAILURE, f"the authorizer's policyDocument is invalid: {e}") from None
    context = answer.get("context") or {}
    if not isinstance(context, dict):
        raise _Failed(FAILURE, "the authorizer's context is not an object")
    texts: dict[str, str] = {}
    for key, value in context.items():
        if isinstance(value, (dict, list)):
            raise _Failed(FAILURE, f"the authorizer's context.{key} is not a string, number or boolean")
        texts[str(key)] = "true" if value is True else "false" if value is False else "" if value is None else str(value)
    return Grant(str(principal), document, texts, latency_ms)


def _header(event: dict[str, Any], name: str) -> str | None:
    wanted = name.lower()
    for key, value in (event.get("headers") or {}).items():
        if key.lower() == wanted:
            return value
    return None


def _source_value(source: str, event: dict[str, Any]) -> str | None:
    if source.startswith("method.request.header."):
        return _header(event, source[len("method.request.header.") :])
    if source.startswith("method.request.querystring."):
        return (event.get("queryStringParameters") or {}).get(source[len("method.request.querystring.") :])
    if source.startswith("stageVariables."):
        return (event.get("stageVariables") or {}).get(source[len("stageVariables.") :])
    if source.startswith("context."):
        node: Any = event.get("requestContext") or {}
        for part in source[len("context.") :].split("."):
            node = node.get(part) if isinstance(node, dict) else None
        return None if node is None or isinstance(node, (dict, list)) else str(node)
    return None


REQUEST_FIELDS = (
    "resource",
    "path",
    "httpMethod",
    "headers",
    "multiValueHeaders",
    "queryStringParameters",
    "multiValueQueryStringParameters",
    "pathParameters",
    "stageVariables",
    "requestContext",
)


def _request_fields(event: dict[str, Any]) -> dict[str, Any]:
    """A REQUEST authorizer's event: the proxy request's fields, without its body."""
    return {k: event.get(k) for k in REQUEST_FIELDS}
