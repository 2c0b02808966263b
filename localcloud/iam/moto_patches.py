"""Where IAM enforcement meets moto.

1. moto's own enforcement point, ``ActionAuthenticatorMixin._authenticate_and_authorize_action``,
   which every moto service request passes through (``BaseResponse.call_action`` for the JSON,
   query and REST services; S3's handlers for each bucket and object request, with the S3 action
   and the bucket or object ARN). moto decides there by ``INITIAL_NO_AUTH_ACTION_COUNT``; localcloud
   decides by ``--enforce-iam``. What moto covers is kept: its lookup of an access key's user or
   role session and policies (``create_access_key``, ``collect_policies``), its SigV4 signature
   check (``IAMRequest.check_signature``), its role lookup for trust policies. What it lacks is
   filled by localcloud.iam: the local root key, the resource each action is authorized on (moto
   checks every non-IAM/STS/S3 action on ``*``), IAM's action names (``lambda:InvokeFunction``,
   ``s3:ListBucket``...), NotResource, conditions, per-item transaction actions, iam:PassRole,
   session expiry, and each protocol's AccessDenied error naming the action and the resource.

2. moto's Step Functions interpreter calls Lambda (and its other task services) with a boto3
   client built in ``boto_client_for`` with the access key "ak". With enforcement, that client
   carries the credentials of the state machine's role (or the task's ``Credentials.RoleArn``), so a
   task runs only what the state machine's role allows, as on AWS.
"""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs, urlparse
from xml.sax.saxutils import escape

import boto3
from botocore.config import Config
from werkzeug.exceptions import HTTPException

from localcloud.iam import actions
from localcloud.iam.enforce import Authorizer, Denied
from localcloud.iam.principals import access_key_of
from localcloud.iam.sessions import Sessions
from localcloud.moto_hooks import hook, require

# Signing names of the services moto serves with the REST-JSON protocol (the rest are JSON-RPC,
# recognised by X-Amz-Target, or query/XML).
REST_JSON = frozenset({"lambda", "apigateway", "xray", "execute-api", "pipes"})

JSON_CODES = {
    "AccessDenied": "AccessDeniedException",
    "InvalidClientTokenId": "UnrecognizedClientException",
    "ExpiredToken": "ExpiredTokenException",
    "MissingAuthenticationToken": "MissingAuthenticationTokenException",
    "SignatureDoesNotMatch": "InvalidSignatureException",
}
S3_CODES = {"InvalidClientTokenId": "InvalidAccessKeyId", "MissingAuthenticationToken": "AccessDenied"}

_PARSER = "moto.stepfunctions.parser.asl"
# The modules that import boto_client_for by name (each name is hooked).
BOTO_CLIENT_USERS = (
    f"{_PARSER}.utils.boto_client",
    f"{_PARSER}.component.state.exec.state_task.lambda_eval_utils",
    f"{_PARSER}.component.state.exec.state_map.result_writer.resource_eval.resource_eval_s3",
    f"{_PARSER}.component.state.exec.state_map.item_reader.eval.resource_eval_s3",
    f"{_PARSER}.component.state.exec.state_task.service.state_task_service_unsupported",
    f"{_PARSER}.component.state.exec.state_task.service.state_task_service_glue",
    f"{_PARSER}.component.state.exec.state_task.service.state_task_service_events",
    f"{_PARSER}.component.state.exec.state_task.service.state_task_service_ecs",
    f"{_PARSER}.component.state.exec.state_task.service.state_task_service_sqs",
    f"{_PARSER}.component.state.exec.state_task.service.state_task_service_sfn",
    f"{_PARSER}.component.state.exec.state_task.service.state_task_service_dynamodb",
    f"{_PARSER}.component.state.exec.state_task.service.state_task_service_batch",
    f"{_PARSER}.component.state.exec.state_task.service.state_task_service_sns",
    f"{_PARSER}.component.state.exec.state_task.service.state_task_service_aws_sdk",
)
STATES_SESSION = "StepFunctions"  # the session name of a state machine role's credentials
_request = threading.local()  # who signed the moto request this thread serves (None: the root key)


def current_principal() -> Any:
    """The principal of the request this thread is serving (None for the root key or none known)."""
    return getattr(_request, "principal", None)


class _AwsError(HTTPException):
    """An error response moto's call_action renders as is (its description is the body)."""

    def __init__(self, status: int, body: str):
        super().__init__(description=body)
        self.code = status


def install(cloud: Any, enforcing: Callable[[], bool], authorizer: Authorizer, sessions: Sessions) -> None:
    s3_request_cls = require("moto.iam.access_control", "S3IAMRequest", "S3 requests are authorized with this class")
    s3_client_error = require(
        "moto.s3.exceptions", "S3ClientError", "S3 handlers render S3ClientError(code, message) as S3's XML error"
    )
    get_action = require("moto.core.responses", "BaseResponse._get_action", "the API operation of a request")
    require(
        "moto.core.responses",
        "BaseResponse.setup_class",
        "sets what a request is read from: headers, method, uri, raw_path, raw_body, data, querystring, "
        "region, current_account",
    )
    require("moto.iam.access_control", "IAMRequestBase.check_signature", "moto's SigV4 check of a request")
    require(
        "moto.stepfunctions.parser.asl.component.state.exec.state_task.credentials",
        "StateCredentials",
        "boto_client_for gets the state machine's (or the task's) role as state_credentials.role_arn",
    )
    timeouts = require(
        "moto.stepfunctions.parser.asl.component.common.timeouts.timeout",
        "TimeoutSeconds.DEFAULT_TIMEOUT_SECONDS",
        "the interpreter's service clients wait as long as a task may run",
    )

    iam_backends = require("moto.iam.models", "iam_backends", "the IAM backends whose access keys name an account")
    default_account = require("moto.core", "DEFAULT_ACCOUNT_ID", "the account of a key no IAM backend holds")

    @hook(
        "moto.iam.models",
        "get_account_id_from",
        "the account of an access key, looked up in the IAM backends that exist: moto's asks every partition"
        " (aws-cn, aws-us-gov...), making each one's backend on the first request (loading AWS's managed"
        " policies, seconds) although a partition never used holds no key",
    )
    def account_of(original: Any, access_key: str) -> str:
        for account_id, account in list(iam_backends.items()):
            for partition in list(dict.keys(account)):
                if access_key in dict.__getitem__(account, partition).access_keys:
                    return str(account_id)
        return str(default_account)

    class S3Denied(s3_client_error):  # type: ignore[misc, valid-type]
        def __init__(self, code: str, message: str):
            super().__init__(code, message)

    @hook(
        "moto.core.authorization",
        "ActionAuthenticatorMixin._authenticate_and_authorize_action",
        "with --enforce-iam, authorize every request as IAM does (localcloud.iam)",
    )
    def authenticate(original: Any, response: Any, iam_request_cls: type, resource: str = "*") -> None:
        if not enforcing():
            return original(response, iam_request_cls, resource)
        is_s3 = iam_request_cls is s3_request_cls
        call = _call(response, is_s3, resource, get_action, authorizer)
        headers = response.headers
        _request.principal = None
        try:
            principal = authorizer.identify(access_key_of(headers, urlparse(response.uri).query), headers)
            _request.principal = principal
            if principal is None:
                return
            if "Authorization" in headers:
                _check_signature(response, iam_request_cls, get_action, is_s3, s3_client_error)
            checks = actions.s3_checks(call.operation, resource, headers) if is_s3 else None
            authorizer.check(principal, call, checks)
        except Denied as denied:
            if is_s3:
                raise S3Denied(S3_CODES.get(denied.code, denied.code), denied.message) from None
            raise _render(denied, call, headers) from None

    config = Config(
        parameter_validation=False,
        retries={"max_attempts": 0, "total_max_attempts": 1},
        connect_timeout=timeouts,
        read_timeout=timeouts,
    )
    clients_lock = threading.Lock()  # boto3 client creation is not thread-safe

    def boto_client_for(original: Any, region: str, service: str, state_credentials: Any = None) -> Any:
        if not enforcing():
            return original(region, service, state_credentials)
        role_arn = getattr(state_credentials, "role_arn", None)
        creds = sessions.credentials(role_arn, STATES_SESSION, "states.amazonaws.com")
        with clients_lock:
            return boto3.session.Session().client(
                service,
                region_name=region,
                endpoint_url=cloud.endpoint,
                aws_access_key_id=creds.access_key,
                aws_secret_access_key=creds.secret_key,
                aws_session_token=creds.token,
                config=config,
            )

    for module in BOTO_CLIENT_USERS:
        hook(
            module,
            "boto_client_for",
            "with --enforce-iam, Step Functions tasks call services with the state machine role's credentials",
        )(boto_client_for)


def _call(response: Any, is_s3: bool, resource: str, get_action: Callable, authorizer: Authorizer) -> actions.Call:
    headers = response.headers
    scope = _credential_scope(headers.get("Authorization") or "")
    service = "s3" if is_s3 else (scope or getattr(response, "service_name", "") or "")
    call = actions.Call(
        service=service,
        operation=_operation(response, is_s3, get_action),
        region=getattr(response, "region", None) or authorizer.region,
        account=getattr(response, "current_account", None) or authorizer.directory.account,
        path=getattr(response, "raw_path", None) or response.path,
        method=response.method,
        headers=headers,
        moto_resource=resource,
        stack_of_change_set=authorizer.stack_of_change_set,
        boundary_of_role=authorizer.boundaries.of_role if authorizer.boundaries is not None else None,
    )
    if is_s3:
        return call
    query = urlparse(response.uri).query
    if headers.get("X-Amz-Target"):
        call.params = actions.json_params(response.raw_body)
    elif service in REST_JSON:
        call.params = {k: v[0] if len(v) == 1 else v for k, v in parse_qs(query).items()}
        call.body = actions.json_params(response.raw_body)
    else:
        call.params = {k: v[0] if isinstance(v, list) and len(v) == 1 else v for k, v in response.querystring.items()}
    return call


def _operation(response: Any, is_s3: bool, get_action: Callable) -> str:
    if is_s3:
        action = response.data.get("Action")
        return str(action[0] if isinstance(action, list) else action or "")
    try:
        return str(get_action(response) or "")
    except Exception:  # an unroutable request: moto answers it; IAM checks it as <service>:
        return ""


def _credential_scope(header: str) -> str | None:
    """The service of a SigV4 credential scope: key/date/region/SERVICE/aws4_request."""
    credential = header.partition("Credential=")[2].partition(",")[0]
    parts = credential.split("/")
    return parts[3] if len(parts) >= 5 else None


def _check_signature(response: Any, iam_request_cls: type, get_action: Callable, is_s3: bool, s3_error: type) -> None:
    """moto's SigV4 check (it recomputes the signature with the key's secret)."""
    path = response.raw_path
    query = urlparse(response.uri).query
    if query:
        path += "?" + query
    try:
        request = iam_request_cls(
            account_id=response.current_account,
            method=response.method,
            path=path,
            # a query request's form body is parsed away: its parameters are what was signed; other
            # protocols sign the raw body (moto's data would be the headers for them)
            data=response.data if _is_query(response) else {},
            body=response.raw_body,
            headers=response.headers,
            action=_operation(response, is_s3, get_action),
        )
        request.check_signature()
    except (HTTPException, s3_error):
        raise Denied(
            "SignatureDoesNotMatch",
            "The request signature we calculated does not match the signature you provided. "
            "Check your AWS Secret Access Key and signing method.",
        ) from None


def _is_query(response: Any) -> bool:
    service = _credential_scope(response.headers.get("Authorization") or "")
    return not response.headers.get("X-Amz-Target") and service not in REST_JSON and service != "s3"


def _render(denied: Denied, call: actions.Call, headers: Any) -> _AwsError:
    if headers.get("X-Amz-Target") or call.service in REST_JSON:
        code = JSON_CODES.get(denied.code, denied.code)
        status = 403 if call.service in REST_JSON or denied.code != "AccessDenied" else 400
        return _AwsError(status, json.dumps({"__type": code, "message": denied.message, "Message": denied.message}))
    body = (
        "<ErrorResponse><Error><Type>Sender</Type>"
        f"<Code>{escape(denied.code)}</Code><Message>{escape(denied.message)}</Message>"
        f"</Error><RequestId>{uuid.uuid4()}</RequestId></ErrorResponse>"
    )
    return _AwsError(403, body)
