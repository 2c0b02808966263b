"""A stack's service role (``RoleARN``): CloudFormation acts with it, as on AWS.

``CreateStack``, ``UpdateStack`` and ``CreateChangeSet`` may name a role that CloudFormation
assumes for every call it makes on the stack's resources; the stack keeps it, and later operations
without ``RoleARN`` use it again (as CloudFormation does). The caller needs ``iam:PassRole`` on it
(localcloud.iam.actions). Under ``--enforce-iam``:

- the role must exist and trust ``cloudformation.amazonaws.com``, or the call is refused with
  CloudFormation's ``ValidationError`` (``Role ... is invalid or cannot be assumed``);
- every resource is created, updated and deleted with the role's temporary credentials (session
  ``AWSCloudFormation``), so a resource the role may not make fails the stack as on AWS: the
  resource's event and the stack's reason carry the service's refusal,
  ``Resource handler returned message: "User: arn:aws:sts::…:assumed-role/<role>/AWSCloudFormation
  is not authorized to perform: iam:CreateRole on resource: … (Service: Iam, Status Code: 403,
  Request ID: …)" (HandlerErrorCode: AccessDenied)``.

A stack without a role (Sprout's own stack, deployed by its operator) is provisioned with the
caller's rights; locally that is the root key, which may do anything.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from botocore.exceptions import ClientError

from .. import iam
from .model import validation
from .resources.base import ResourceFailed

SESSION_NAME = "AWSCloudFormation"  # the session CloudFormation's calls are made in (AWS's own name)
SERVICE = "cloudformation.amazonaws.com"

# The service name CloudFormation's resource handlers print after a refusal, by IAM action prefix.
_SERVICE_NAMES = {"iam": "Iam", "cloudwatch": "CloudWatch", "events": "EventBridge", "s3": "S3",
                  "lambda": "Lambda", "dynamodb": "DynamoDb", "logs": "CloudWatchLogs", "states": "Sfn",
                  "apigateway": "ApiGateway", "sqs": "Sqs", "sns": "Sns"}


def checked(role_arn: str | None) -> str | None:
    """``role_arn`` as given (None or empty: no role), once CloudFormation could assume it."""
    if not role_arn:
        return None
    if not iam.enforcing():
        return role_arn
    try:
        iam.credentials(role_arn, SESSION_NAME, SERVICE)
    except iam.RoleNotAssumable:
        raise validation(f"Role {role_arn} is invalid or cannot be assumed") from None
    return role_arn


def client_factory(
    shared: Callable[[str], Any], make: Callable[..., Any], role_arn: str | None
) -> Callable[[str], Any]:
    """Clients for the stack's resources: made by ``make`` with the role's credentials when the
    stack has a role and IAM is enforced, else ``shared`` (the caller's: locally, the root)."""
    if not role_arn or not iam.enforcing():
        return shared

    def factory(service: str) -> Any:
        try:
            creds = iam.credentials(role_arn, SESSION_NAME, SERVICE)
        except iam.RoleNotAssumable:
            raise ResourceFailed(f"Role {role_arn} is invalid or cannot be assumed") from None
        return make(
            service,
            aws_access_key_id=creds.access_key,
            aws_secret_access_key=creds.secret_key,
            aws_session_token=creds.token,
        )

    return factory


def denied_reason(e: ClientError) -> str | None:
    """A resource handler's words for a refused call (None when ``e`` is not an access denial)."""
    error = e.response.get("Error", {})
    code = str(error.get("Code", ""))
    if not code.startswith("AccessDenied"):
        return None
    meta = e.response.get("ResponseMetadata", {})
    service = _service_of(e)
    return (
        f'Resource handler returned message: "{error.get("Message", "")} (Service: {service}, '
        f'Status Code: {meta.get("HTTPStatusCode", 403)}, Request ID: {meta.get("RequestId", "")})" '
        f"(HandlerErrorCode: AccessDenied)"
    )


def _service_of(e: ClientError) -> str:
    message = str(e.response.get("Error", {}).get("Message", ""))
    # "... not authorized to perform: iam:CreateRole on resource ..." names the service
    action = message.partition("to perform: ")[2].split(":", 1)[0].strip()
    return _SERVICE_NAMES.get(action, action.capitalize() or "Unknown")
