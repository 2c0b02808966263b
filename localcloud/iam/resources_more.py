"""Resource-level checks for more of the services the local cloud serves (actions.py resolves the
core ones): without these, an action was checked on ``*`` and a policy that grants it on the
resource's ARN, as AWS's service authorization reference documents, was refused.

- Glue: jobs (StartJobRun, GetJob, GetJobRun(s), BatchStopJobRun, UpdateJob, DeleteJob...) on
  ``arn:aws:glue:<region>:<account>:job/<name>``; crawlers, triggers and workflows likewise;
- Systems Manager Parameter Store: ``arn:aws:ssm:<region>:<account>:parameter/<name>`` (a name's
  leading ``/`` is not doubled), one check per name of GetParameters and DeleteParameters,
  GetParametersByPath on the path; a SecureString under a customer managed key also needs
  ``kms:Decrypt`` on that key for a decrypting read by name, ``kms:Encrypt`` for PutParameter
  (the AWS managed key ``alias/aws/ssm`` needs neither: its key policy defers to SSM's);
- Secrets Manager: the secret's ARN; a secret named without its ARN is checked as
  ``secret:<name>-??????`` (the six characters AWS appends), so ``secret:<name>-*`` grants match,
  and a grant of one exact full ARN is refused (stricter, never looser);
- KMS: a key's ARN (a key id becomes ``key/<id>``; an alias, ``alias/<name>``);
- Kinesis: ``stream/<name>``;
- EventBridge Pipes: ``pipe/<name>`` from the request's path (``/v1/pipes/<name>[/start|/stop]``),
  a tag request on its ARN; CreatePipe and UpdatePipe pass the pipe's ``RoleArn`` to
  ``pipes.amazonaws.com`` (``iam:PassRole``).
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import unquote, urlparse

from localcloud.iam.actions import Call, Check, _arn, _pass_role

_GLUE_KINDS = (("JobName", "job"), ("CrawlerName", "crawler"), ("WorkflowName", "workflow"), ("TriggerName", "trigger"))


def _glue(call: Call) -> list[Check] | None:
    params, action = call.params, f"glue:{call.operation}"
    for key, kind in _GLUE_KINDS:
        if params.get(key):
            return [Check(action, _arn(call, "glue", f"{kind}/{params[key]}"))]
    if call.operation in ("GetJob", "DeleteJob", "UpdateJob", "GetCrawler", "DeleteCrawler", "StartCrawler",
                          "StopCrawler", "GetTrigger", "DeleteTrigger", "StartTrigger", "StopTrigger", "GetWorkflow",
                          "DeleteWorkflow", "StartWorkflowRun", "CreateJob", "CreateCrawler", "CreateTrigger",
                          "CreateWorkflow") and params.get("Name"):
        kind = next(k for op, k in (("Job", "job"), ("Crawler", "crawler"), ("Trigger", "trigger"),
                                    ("Workflow", "workflow")) if op in call.operation)
        return [Check(action, _arn(call, "glue", f"{kind}/{params['Name']}"))]
    if call.operation == "BatchGetJobs" and isinstance(params.get("JobNames"), list):
        return [Check(action, _arn(call, "glue", f"job/{n}")) for n in params["JobNames"]] or None
    return None


def _parameter(call: Call, name: Any) -> str:
    name = str(name)
    if name.startswith("arn:"):
        return name
    return _arn(call, "ssm", f"parameter/{name.lstrip('/')}")


AWS_MANAGED_SSM_KEY = "alias/aws/ssm"


def _key_arn(call: Call, key_id: str) -> str:
    """A KMS key id, ARN or alias as the ARN of the key IAM evaluates (an alias resolved to its key)."""
    try:
        from localcloud.moto_hooks import require

        kms = require("moto.kms.models", "kms_backends", "a SecureString's customer managed key: alias -> key")
        key = kms[call.account][call.region].any_id_to_key_id(key_id)
    except Exception:  # no such key or alias: checked as given, KMS itself refuses it
        key = key_id
    if key.startswith("arn:"):
        return key
    return _arn(call, "kms", key if key.startswith("alias/") else f"key/{key}")


def _secure_string_keys(call: Call, names: list[Any]) -> list[Check]:
    """SSM uses a SecureString's KMS key with the caller's credentials: a customer managed key needs
    ``kms:Decrypt`` (a decrypting read) or ``kms:Encrypt`` (a write) on it as well; the AWS managed
    key ``alias/aws/ssm`` does not (its key policy allows any caller that SSM allows)."""
    params = call.params
    if call.operation == "PutParameter":
        key = params.get("KeyId")
        if params.get("Type") == "SecureString" and key and key != AWS_MANAGED_SSM_KEY:
            return [Check("kms:Encrypt", _key_arn(call, str(key)))]
        return []
    if params.get("WithDecryption") not in (True, "true", "True"):
        return []
    try:
        from localcloud.moto_hooks import require

        backend = require("moto.ssm.models", "ssm_backends", "a SecureString's KMS key (.keyid)")[call.account][call.region]
        found = [backend.get_parameter(str(n)) for n in names]
    except Exception:
        return []
    keys = {p.keyid for p in found if p is not None and p.parameter_type == "SecureString"}
    return [Check("kms:Decrypt", _key_arn(call, k)) for k in sorted(k for k in keys if k and k != AWS_MANAGED_SSM_KEY)]


def _ssm(call: Call) -> list[Check] | None:
    params, action = call.params, f"ssm:{call.operation}"
    if isinstance(params.get("Names"), list) and params["Names"]:
        return [Check(action, _parameter(call, n)) for n in params["Names"]] + _secure_string_keys(call, params["Names"])
    if params.get("Name") and "Parameter" in call.operation:
        return [Check(action, _parameter(call, params["Name"]))] + _secure_string_keys(call, [params["Name"]])
    if call.operation == "GetParametersByPath" and params.get("Path"):
        return [Check(action, _parameter(call, params["Path"]))]
    if call.operation in ("AddTagsToResource", "RemoveTagsFromResource", "ListTagsForResource") \
            and params.get("ResourceType") == "Parameter" and params.get("ResourceId"):
        return [Check(action, _parameter(call, params["ResourceId"]))]
    return None


def _secretsmanager(call: Call) -> list[Check] | None:
    params, action = call.params, f"secretsmanager:{call.operation}"
    secret = params.get("SecretId") or (params.get("Name") if call.operation == "CreateSecret" else None)
    if not secret:
        return None
    secret = str(secret)
    return [Check(action, secret if secret.startswith("arn:") else _arn(call, "secretsmanager", f"secret:{secret}-??????"))]


def _kms(call: Call) -> list[Check] | None:
    key = call.params.get("KeyId")
    if not key:
        return None
    key = str(key)
    if key.startswith("arn:"):
        resource = key
    elif key.startswith("alias/"):
        resource = _arn(call, "kms", key)
    else:
        resource = _arn(call, "kms", f"key/{key}")
    return [Check(f"kms:{call.operation}", resource)]


def _kinesis(call: Call) -> list[Check] | None:
    params = call.params
    if params.get("StreamARN"):
        return [Check(f"kinesis:{call.operation}", str(params["StreamARN"]))]
    if params.get("StreamName"):
        return [Check(f"kinesis:{call.operation}", _arn(call, "kinesis", f"stream/{params['StreamName']}"))]
    return None


_PIPE_PATH = re.compile(r"^/v1/pipes/(?P<name>[^/]+)(?:/(?:start|stop))?$")
_TAGS_PATH = re.compile(r"^/tags/(?P<arn>.+)$")


def _pipes(call: Call) -> list[Check] | None:
    path = urlparse(call.path).path
    action = f"pipes:{call.operation}"
    m = _PIPE_PATH.match(path)
    if m:
        out = [Check(action, _arn(call, "pipes", f"pipe/{unquote(m.group('name'))}"))]
        if call.operation in ("CreatePipe", "UpdatePipe"):
            out += _pass_role(call.body.get("RoleArn"), "pipes.amazonaws.com")
        return out
    m = _TAGS_PATH.match(path)
    if m:
        return [Check(action, unquote(m.group("arn")))]
    return None


RESOLVERS = {"pipes": _pipes, "glue": _glue, "ssm": _ssm, "secretsmanager": _secretsmanager, "kms": _kms, "kinesis": _kinesis}
