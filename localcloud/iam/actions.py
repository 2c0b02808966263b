"""What one API request asks IAM for: the actions, each on the resource AWS authorizes it on.

``checks(call)`` turns a request (service, operation, parameters) into ``Check``s. Most requests
are one check; some are several, as on AWS: a transaction checks each item's own action on its
table, CopyObject reads its source too, passing a role to a service checks ``iam:PassRole``, a
CloudFormation template given by URL is read with the caller's permissions.

An operation AWS authorizes on no resource (List*, PutMetricData, ...) is checked on ``*``; so is
one this module does not know, which makes unknown operations pass only ``Resource: "*"`` grants:
stricter than AWS at worst, never looser.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote, urlparse


@dataclass(frozen=True)
class Check:
    action: str  # e.g. dynamodb:PutItem
    resource: str  # an ARN, or "*"
    context: tuple[tuple[str, str], ...] = ()  # condition keys this check adds (iam:PassedToService)


@dataclass
class Call:
    """One request: ``service`` is the signing name (``dynamodb``, ``states``, ``monitoring``...),
    ``operation`` the API operation, ``params`` its input (JSON body, query parameters with single
    values, or for REST APIs the query), ``path`` and ``method`` the HTTP request's."""

    service: str
    operation: str
    params: Mapping[str, Any] = field(default_factory=dict)
    region: str = "us-east-1"
    account: str = "123456789012"
    path: str = "/"
    method: str = "POST"
    headers: Mapping[str, str] = field(default_factory=dict)
    body: Mapping[str, Any] = field(default_factory=dict)  # a REST API's JSON body
    moto_resource: str = "*"  # the resource moto resolved (IAM: the role's ARN with its path)
    # a change set's ARN -> its stack's ARN (DescribeChangeSet by ARN names no stack)
    stack_of_change_set: Callable[[str], str | None] | None = None
    # a role's ARN -> the ARN of its permissions boundary (the condition key iam:PermissionsBoundary)
    boundary_of_role: Callable[[str], str | None] | None = None


# The IAM action prefix of each signing name where they differ.
PREFIX = {"monitoring": "cloudwatch", "email": "ses"}


def checks(call: Call) -> list[Check]:
    resolver = _RESOLVERS.get(call.service)
    found = resolver(call) if resolver else None
    if found:
        return found
    return [Check(f"{PREFIX.get(call.service, call.service)}:{call.operation}", "*")]


def param(call: Call, name: str) -> Any:
    value = call.params.get(name)
    if isinstance(value, list):
        return value[0] if value else None
    return value


def _arn(call: Call, service: str, rest: str, region: bool = True, account: bool = True) -> str:
    return f"arn:aws:{service}:{call.region if region else ''}:{call.account if account else ''}:{rest}"


def _pass_role(role: Any, to_service: str) -> list[Check]:
    """Handing a role to a service needs iam:PassRole on it (condition key iam:PassedToService)."""
    if not (isinstance(role, str) and role.startswith("arn:")):
        return []
    return [Check("iam:PassRole", role, (("iam:PassedToService", to_service),))]


# ---- DynamoDB --------------------------------------------------------------------------------
_DDB_TRANSACT_WRITE = {"Put": "PutItem", "Update": "UpdateItem", "Delete": "DeleteItem", "ConditionCheck": "ConditionCheckItem"}


def _table(call: Call, name: Any) -> str:
    name = str(name or "*")
    if name.startswith("arn:"):
        return name
    return _arn(call, "dynamodb", f"table/{name}")


def _dynamodb(call: Call) -> list[Check] | None:
    op, params = call.operation, call.params
    if op == "TransactWriteItems":
        out = []
        for item in params.get("TransactItems") or []:
            for kind, body in (item or {}).items():
                if kind in _DDB_TRANSACT_WRITE and isinstance(body, dict):
                    out.append(Check(f"dynamodb:{_DDB_TRANSACT_WRITE[kind]}", _table(call, body.get("TableName"))))
        return out or None
    if op == "TransactGetItems":
        out = [
            Check("dynamodb:GetItem", _table(call, (item.get("Get") or {}).get("TableName")))
            for item in params.get("TransactItems") or []
            if isinstance(item, dict)
        ]
        return out or None
    if op in ("BatchGetItem", "BatchWriteItem"):
        return [Check(f"dynamodb:{op}", _table(call, name)) for name in (params.get("RequestItems") or {})] or None
    if op in ("ListTagsOfResource", "TagResource", "UntagResource"):
        return [Check(f"dynamodb:{op}", str(params.get("ResourceArn") or "*"))]
    if params.get("TableName"):
        table = _table(call, params["TableName"])
        if op in ("Query", "Scan") and params.get("IndexName"):
            table += f"/index/{params['IndexName']}"
        return [Check(f"dynamodb:{op}", table)]
    return None


# ---- S3 (moto names the object or bucket; the operation is moto's action name) ---------------
_S3_ACTIONS = {
    "HeadBucket": "ListBucket",
    "ListObjects": "ListBucket",
    "ListObjectsV2": "ListBucket",
    "ListObjectVersions": "ListBucketVersions",
    "ListMultipartUploads": "ListBucketMultipartUploads",
    "ListBuckets": "ListAllMyBuckets",
    "HeadObject": "GetObject",
    "CreateMultipartUpload": "PutObject",
    "CompleteMultipartUpload": "PutObject",
    "UploadPart": "PutObject",
    "UploadPartCopy": "PutObject",
    "CopyObject": "PutObject",
    "ListParts": "ListMultipartUploadParts",
    "DeleteObjects": "DeleteObject",
    "GetBucketEncryption": "GetEncryptionConfiguration",
    "PutBucketEncryption": "PutEncryptionConfiguration",
    "GetBucketLifecycleConfiguration": "GetLifecycleConfiguration",
    "GetBucketCors": "GetBucketCORS",
    "GetBucketNotificationConfiguration": "GetBucketNotification",
    "GetBucketAccelerateConfiguration": "GetAccelerateConfiguration",
    "GetPublicAccessBlock": "GetBucketPublicAccessBlock",
    "PutPublicAccessBlock": "PutBucketPublicAccessBlock",
    "DeletePublicAccessBlock": "PutBucketPublicAccessBlock",
    "GetObjectAttributes": "GetObject",
    "SelectObjectContent": "GetObject",
}


def s3_checks(action: str, resource: str, headers: Mapping[str, str]) -> list[Check]:
    """moto's S3 authorization point gives its action name and the bucket or object ARN."""
    out = [Check(f"s3:{_S3_ACTIONS.get(action, action)}", resource)]
    source = _header(headers, "x-amz-copy-source")
    if source:
        path = unquote(source.split("?", 1)[0].lstrip("/"))
        out.append(Check("s3:GetObject", f"arn:aws:s3:::{path}"))
    return out


def _header(headers: Mapping[str, str], name: str) -> str | None:
    for key, value in headers.items():
        if key.lower() == name:
            return value
    return None


def s3_object_of_url(url: str) -> str | None:
    """The object ARN of an S3 URL (virtual-hosted, path-style or s3://), None for other URLs."""
    parsed = urlparse(url)
    path = unquote(parsed.path.lstrip("/"))
    if parsed.scheme == "s3":
        return f"arn:aws:s3:::{parsed.netloc}/{path}"
    host = parsed.hostname or ""
    m = re.match(r"^(?P<bucket>.+)\.s3[.-](?:[a-z0-9-]+\.)?amazonaws\.com$", host)
    if m and not host.startswith("s3."):
        return f"arn:aws:s3:::{m.group('bucket')}/{path}"
    if re.match(r"^s3[.-]", host) and "/" in path:
        return f"arn:aws:s3:::{path}"
    return None


# ---- Lambda ---------------------------------------------------------------------------------
_LAMBDA_ACTIONS = {"Invoke": "InvokeFunction", "InvokeWithResponseStream": "InvokeFunction"}
_FUNCTION_PATH = re.compile(r"^/[^/]+/functions/(?P<name>[^/]+)(?P<rest>/.*)?$")
_LAYER_PATH = re.compile(r"^/[^/]+/layers/(?P<name>[^/]+)/versions(?:/(?P<version>\d+))?")
_TAGS_PATH = re.compile(r"^/[^/]+/tags/(?P<arn>.+)$")
# Operations on one function where the Qualifier names the version or alias acted on.
_QUALIFIED = {"Invoke", "InvokeWithResponseStream", "InvokeAsync", "GetFunction", "GetFunctionConfiguration", "GetPolicy",
              "AddPermission", "RemovePermission", "PutFunctionEventInvokeConfig", "GetFunctionEventInvokeConfig",
              "UpdateFunctionEventInvokeConfig", "DeleteFunctionEventInvokeConfig", "PutProvisionedConcurrencyConfig",
              "GetProvisionedConcurrencyConfig", "DeleteProvisionedConcurrencyConfig", "DeleteFunction",
              "CreateFunctionUrlConfig", "GetFunctionUrlConfig", "UpdateFunctionUrlConfig", "DeleteFunctionUrlConfig"}


def function_arn(call: Call, name: str, qualifier: str | None = None) -> str:
    """The ARN a function is acted on as: ``name``, ``name:qualifier``, a partial or a full ARN."""
    name = unquote(name)
    m = re.fullmatch(r"(?:arn:[^:]+:lambda:[^:]*:)?(?:(\d{12}):)?(?:function:)?([^:]+)(?::([^:]+))?", name)
    if not m:
        return name
    account, function, named_qualifier = m.groups()
    qualifier = named_qualifier or qualifier
    arn = f"arn:aws:lambda:{call.region}:{account or call.account}:function:{function}"
    return f"{arn}:{qualifier}" if qualifier else arn


def _lambda(call: Call) -> list[Check] | None:
    op = call.operation
    action = f"lambda:{_LAMBDA_ACTIONS.get(op, op)}"
    path = urlparse(call.path).path
    m = _FUNCTION_PATH.match(path)
    if m:
        qualifier = param(call, "Qualifier") if op in _QUALIFIED else None
        out = [Check(action, function_arn(call, m.group("name"), qualifier))]
        if op == "UpdateFunctionConfiguration":
            out += _pass_role(call.body.get("Role"), "lambda.amazonaws.com")
        return out
    if op == "CreateFunction":
        body = call.body
        return [Check(action, function_arn(call, str(body.get("FunctionName") or "*"))), *_pass_role(body.get("Role"), "lambda.amazonaws.com")]
    m = _LAYER_PATH.match(path)
    if m:
        layer = f"layer:{unquote(m.group('name'))}"
        if m.group("version"):
            layer += f":{m.group('version')}"
        return [Check(action, _arn(call, "lambda", layer))]
    m = _TAGS_PATH.match(path)
    if m:
        return [Check(action, unquote(m.group("arn")))]
    return None


# ---- Step Functions ---------------------------------------------------------------------------
def _states(call: Call) -> list[Check] | None:
    params, op = call.params, call.operation
    action = f"states:{op}"
    for key in ("stateMachineArn", "executionArn", "mapRunArn", "activityArn", "resourceArn"):
        if params.get(key):
            out = [Check(action, str(params[key]))]
            if op == "UpdateStateMachine":
                out += _pass_role(params.get("roleArn"), "states.amazonaws.com")
            return out
    if op == "CreateStateMachine":
        machine = _arn(call, "states", f"stateMachine:{params.get('name') or '*'}")
        return [Check(action, machine), *_pass_role(params.get("roleArn"), "states.amazonaws.com")]
    if op == "CreateActivity":
        return [Check(action, _arn(call, "states", f"activity:{params.get('name') or '*'}"))]
    return None


# ---- CloudWatch Logs --------------------------------------------------------------------------
_LOG_STREAM_OPERATIONS = {"CreateLogStream", "DeleteLogStream", "PutLogEvents", "GetLogEvents"}


def _logs(call: Call) -> list[Check] | None:
    params, op = call.params, call.operation
    group = params.get("logGroupName")
    if not group and params.get("logGroupIdentifier"):
        identifier = str(params["logGroupIdentifier"])
        if identifier.startswith("arn:"):
            return [Check(f"logs:{op}", identifier)]
        group = identifier
    if not group:
        if params.get("resourceArn"):
            return [Check(f"logs:{op}", str(params["resourceArn"]))]
        return None
    resource = f"log-group:{group}"
    if op in _LOG_STREAM_OPERATIONS:
        resource += f":log-stream:{params.get('logStreamName') or '*'}"
    return [Check(f"logs:{op}", _arn(call, "logs", resource))]


# ---- CloudWatch ---------------------------------------------------------------------------------
def _cloudwatch(call: Call) -> list[Check] | None:
    params, op = call.params, call.operation
    action = f"cloudwatch:{op}"
    if op == "PutMetricData" and params.get("Namespace"):
        # no resource; the condition key cloudwatch:namespace names the namespace written to
        return [Check(action, "*", (("cloudwatch:namespace", str(_first(params["Namespace"]))),))]
    names = params.get("AlarmNames")
    if isinstance(names, list) and names:
        return [Check(action, _arn(call, "cloudwatch", f"alarm:{n}")) for n in names]
    member_names = [v for k, v in params.items() if re.fullmatch(r"AlarmNames\.member\.\d+", k)]
    if member_names:
        return [Check(action, _arn(call, "cloudwatch", f"alarm:{_first(n)}")) for n in member_names]
    if params.get("AlarmName"):
        return [Check(action, _arn(call, "cloudwatch", f"alarm:{_first(params['AlarmName'])}"))]
    if params.get("ResourceARN"):
        return [Check(action, str(_first(params["ResourceARN"])))]
    return None


def _first(value: Any) -> Any:
    return value[0] if isinstance(value, list) and value else value


# ---- EventBridge ----------------------------------------------------------------------------
def _rule(call: Call, name: str, bus: Any) -> str:
    if name.startswith("arn:"):
        return name
    bus = str(bus or "default")
    if bus.startswith("arn:"):
        bus = bus.rsplit("/", 1)[-1]
    return _arn(call, "events", f"rule/{name}" if bus == "default" else f"rule/{bus}/{name}")


def _bus(call: Call, name: Any) -> str:
    name = str(name or "default")
    return name if name.startswith("arn:") else _arn(call, "events", f"event-bus/{name}")


def _events(call: Call) -> list[Check] | None:
    params, op = call.params, call.operation
    action = f"events:{op}"
    if op == "PutEvents":
        # each entry is authorized on its bus, with the condition keys events:source and
        # events:detail-type (EventBridge's fine-grained PutEvents permissions)
        seen = {(_bus(call, e.get("EventBusName")), str(e.get("Source") or ""), str(e.get("DetailType") or ""))
                for e in params.get("Entries") or [] if isinstance(e, dict)}
        return [Check(action, bus, (("events:source", source), ("events:detail-type", detail)))
                for bus, source, detail in sorted(seen)] or None
    rule = params.get("Rule") or (params.get("Name") if op in ("PutRule", "DescribeRule", "DeleteRule", "EnableRule", "DisableRule") else None)
    if rule:
        out = [Check(action, _rule(call, str(rule), params.get("EventBusName")))]
        if op == "PutTargets":
            for target in params.get("Targets") or []:
                if isinstance(target, dict):
                    out += _pass_role(target.get("RoleArn"), "events.amazonaws.com")
        elif op == "PutRule":
            out += _pass_role(params.get("RoleArn"), "events.amazonaws.com")
        return out
    if op.endswith("Connection") and op != "ListConnections" and params.get("Name"):
        return [Check(action, _arn(call, "events", f"connection/{params['Name']}"))]
    if op.endswith("ApiDestination") and params.get("Name"):
        return [Check(action, _arn(call, "events", f"api-destination/{params['Name']}"))]
    if op in ("CreateEventBus", "DeleteEventBus", "DescribeEventBus") and params.get("Name"):
        return [Check(action, _bus(call, params["Name"]))]
    if params.get("ResourceARN"):
        return [Check(action, str(params["ResourceARN"]))]
    return None


# ---- CloudFormation ------------------------------------------------------------------------------
_CFN_TEMPLATE_READERS = {"CreateStack", "UpdateStack", "CreateChangeSet", "ValidateTemplate", "GetTemplateSummary",
                         "EstimateTemplateCost", "CreateStackSet", "UpdateStackSet"}


def _cloudformation(call: Call) -> list[Check] | None:
    op = call.operation
    action = f"cloudformation:{op}"
    stack = param(call, "StackName")
    change_set = param(call, "ChangeSetName")
    out: list[Check] = []
    if isinstance(change_set, str) and change_set.startswith("arn:") and not stack and call.stack_of_change_set:
        # arn:aws:cloudformation:r:a:changeSet/name/id: change sets are authorized on their stack
        stack = call.stack_of_change_set(change_set)
    if stack:
        stack = str(stack)
        out.append(Check(action, stack if stack.startswith("arn:") else _arn(call, "cloudformation", f"stack/{stack}/*")))
    elif op == "DescribeStacks":  # every stack of the account: AWS asks for ListStacks as well
        return [Check(action, "*"), Check("cloudformation:ListStacks", "*")]
    elif op not in _CFN_TEMPLATE_READERS:
        return None
    else:
        out.append(Check(action, "*"))
    out += _pass_role(param(call, "RoleARN"), "cloudformation.amazonaws.com")
    url = param(call, "TemplateURL")
    if op in _CFN_TEMPLATE_READERS and isinstance(url, str):
        arn = s3_object_of_url(url)
        if arn:
            out.append(Check("s3:GetObject", arn))
    return out


# ---- IAM and STS -----------------------------------------------------------------------------------
# The role actions that carry the condition key iam:PermissionsBoundary: the boundary the request
# sets, or the one the role has (localcloud.iam.boundaries).
_BOUNDARY_IN_REQUEST = {"CreateRole", "PutRolePermissionsBoundary"}
_BOUNDARY_OF_ROLE = {"AttachRolePolicy", "DetachRolePolicy", "PutRolePolicy", "DeleteRolePolicy",
                     "DeleteRolePermissionsBoundary"}


def _iam(call: Call) -> list[Check] | None:
    op = call.operation
    action = f"iam:{op}"
    if param(call, "RoleName"):  # authorized on the role (its ARN has its path: moto resolved it)
        if call.moto_resource.startswith("arn:"):
            role = call.moto_resource
        else:
            path = str(param(call, "Path") or "/") if op == "CreateRole" else "/"
            role = _arn(call, "iam", f"role{path}{param(call, 'RoleName')}", region=False)
        boundary = None
        if op in _BOUNDARY_IN_REQUEST:
            boundary = param(call, "PermissionsBoundary")
        elif op in _BOUNDARY_OF_ROLE and call.boundary_of_role is not None:
            boundary = call.boundary_of_role(role)
        context = (("iam:PermissionsBoundary", str(boundary)),) if boundary else ()
        return [Check(action, role, context)]
    if param(call, "UserName"):
        return [Check(action, _arn(call, "iam", f"user/{param(call, 'UserName')}", region=False))]
    if param(call, "GroupName"):
        return [Check(action, _arn(call, "iam", f"group/{param(call, 'GroupName')}", region=False))]
    if param(call, "PolicyArn"):
        return [Check(action, str(param(call, "PolicyArn")))]
    if op == "CreatePolicy" and param(call, "PolicyName"):
        path = str(param(call, "Path") or "/")
        return [Check(action, _arn(call, "iam", f"policy{path}{param(call, 'PolicyName')}", region=False))]
    if param(call, "InstanceProfileName"):
        return [Check(action, _arn(call, "iam", f"instance-profile/{param(call, 'InstanceProfileName')}", region=False))]
    return None


def _sts(call: Call) -> list[Check] | None:
    if call.operation in ("AssumeRole", "AssumeRoleWithWebIdentity", "AssumeRoleWithSAML") and param(call, "RoleArn"):
        return [Check(f"sts:{call.operation}", str(param(call, "RoleArn")))]
    return None


# ---- API Gateway (control plane: the action is the HTTP method, the resource the path) -------------
def _apigateway(call: Call) -> list[Check] | None:
    path = urlparse(call.path).path
    checks = [Check(f"apigateway:{call.method.upper()}", f"arn:aws:apigateway:{call.region}::{unquote(path)}")]
    if path == "/account" and call.method.upper() == "PATCH":  # setting the CloudWatch role passes it
        for op in call.body.get("patchOperations") or []:
            if isinstance(op, dict) and op.get("path") == "/cloudwatchRoleArn":
                checks += _pass_role(op.get("value"), "apigateway.amazonaws.com")
    return checks


# ---- CodeCommit ---------------------------------------------------------------------------------------
def _codecommit(call: Call) -> list[Check] | None:
    name = call.params.get("repositoryName")
    if name:
        return [Check(f"codecommit:{call.operation}", _arn(call, "codecommit", str(name)))]
    names = call.params.get("repositoryNames")
    if isinstance(names, list) and names:
        return [Check(f"codecommit:{call.operation}", _arn(call, "codecommit", str(n))) for n in names]
    return None


# ---- CodeBuild --------------------------------------------------------------------------------------
def codebuild_project_arn(call: Call, name_or_arn: Any) -> str:
    """A project's ARN from its name or ARN, or from a build's id (``<project>:<uuid>``) or ARN."""
    text = str(name_or_arn or "*")
    if text.startswith("arn:"):
        region, account, rest = (text.split(":", 5) + ["", "", ""])[3:6]
        if rest.startswith("build/"):
            return f"arn:aws:codebuild:{region}:{account}:project/{rest[len('build/'):].split(':', 1)[0]}"
        return text
    return _arn(call, "codebuild", f"project/{text.split(':', 1)[0]}")


def _codebuild(call: Call) -> list[Check] | None:
    params, op = call.params, call.operation
    action = f"codebuild:{op}"
    if op in ("CreateProject", "UpdateProject"):
        return [Check(action, codebuild_project_arn(call, params.get("name"))),
                *_pass_role(params.get("serviceRole"), "codebuild.amazonaws.com")]
    for key in ("projectName", "name", "id"):
        if params.get(key):
            return [Check(action, codebuild_project_arn(call, params[key]))]
    for key in ("ids", "names"):
        values = params.get(key)
        if isinstance(values, list) and values:
            arns = sorted({codebuild_project_arn(call, v) for v in values})
            return [Check(action, arn) for arn in arns]
    return None


def _sqs(call: Call) -> list[Check] | None:
    url = param(call, "QueueUrl")
    name = param(call, "QueueName")
    if isinstance(url, str) and url:
        name = url.rstrip("/").rsplit("/", 1)[-1]
    if name:
        return [Check(f"sqs:{call.operation}", _arn(call, "sqs", str(name)))]
    return None


def _sns(call: Call) -> list[Check] | None:
    for key in ("TopicArn", "TargetArn", "ResourceArn"):
        if param(call, key):
            return [Check(f"sns:{call.operation}", str(param(call, key)))]
    if call.operation == "CreateTopic" and param(call, "Name"):
        return [Check("sns:CreateTopic", _arn(call, "sns", str(param(call, "Name"))))]
    return None


_RESOLVERS: dict[str, Callable[[Call], list[Check] | None]] = {
    "dynamodb": _dynamodb,
    "lambda": _lambda,
    "states": _states,
    "logs": _logs,
    "monitoring": _cloudwatch,
    "events": _events,
    "cloudformation": _cloudformation,
    "iam": _iam,
    "sts": _sts,
    "apigateway": _apigateway,
    "codecommit": _codecommit,
    "codebuild": _codebuild,
    "sqs": _sqs,
    "sns": _sns,
}
# Glue, Parameter Store, Secrets Manager, KMS, Kinesis (resources_more.py imports this module's Call)
from localcloud.iam.resources_more import RESOLVERS as _MORE  # noqa: E402

_RESOLVERS.update(_MORE)


def json_params(body: Any) -> dict[str, Any]:
    """A JSON request body as parameters ({} when it is not a JSON object)."""
    if isinstance(body, bytes):
        body = body.decode("utf-8", errors="replace")
    if not body:
        return {}
    try:
        parsed = json.loads(body)
    except ValueError:
        return {}
    return parsed if isinstance(parsed, dict) else {}
