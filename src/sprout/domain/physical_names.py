"""Physical names a template fixes for every stage: the resources that deploy on the first stage
and collide on the second.

Each stage of an app is its own stack (``<app>-<stage>``) in the same account and region. A
resource whose name must be unique there (a table, a function, a bucket, a log group, a queue, a
role, ...) and whose name property is the same string for every stage deploys once: the second
stage's stack fails on it (``... already exists``), and CloudFormation's change set does not say so
beforehand. A name is fixed when it is a literal, or an intrinsic that mentions neither
``AWS::StackName`` nor the ``Stage`` parameter (which Sprout sets to the stage's name when the
template declares it): ``!Sub orders-${AWS::Region}`` is fixed, ``!Sub ${AWS::StackName}-orders``
and ``!Sub orders-${Stage}`` are not.

Names that need not be unique (an API's ``Name``, a layer's ``LayerName``: a second one is a new
version) are not listed.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from typing import Any

# resource type -> the property that names it, where the name must be unique in the account and region
NAME_PROPERTIES: dict[str, str] = {
    "AWS::DynamoDB::Table": "TableName",
    "AWS::DynamoDB::GlobalTable": "TableName",
    "AWS::Serverless::SimpleTable": "TableName",
    "AWS::Lambda::Function": "FunctionName",
    "AWS::Serverless::Function": "FunctionName",
    "AWS::S3::Bucket": "BucketName",
    "AWS::Logs::LogGroup": "LogGroupName",
    "AWS::SQS::Queue": "QueueName",
    "AWS::SNS::Topic": "TopicName",
    "AWS::IAM::Role": "RoleName",
    "AWS::IAM::ManagedPolicy": "ManagedPolicyName",
    "AWS::IAM::User": "UserName",
    "AWS::IAM::Group": "GroupName",
    "AWS::IAM::InstanceProfile": "InstanceProfileName",
    "AWS::StepFunctions::StateMachine": "StateMachineName",
    "AWS::Serverless::StateMachine": "Name",
    "AWS::StepFunctions::Activity": "Name",
    "AWS::Events::Rule": "Name",
    "AWS::Events::EventBus": "Name",
    "AWS::Events::Archive": "ArchiveName",
    "AWS::Events::Connection": "Name",
    "AWS::Scheduler::Schedule": "Name",
    "AWS::Kinesis::Stream": "Name",
    "AWS::KinesisFirehose::DeliveryStream": "DeliveryStreamName",
    "AWS::SSM::Parameter": "Name",
    "AWS::SecretsManager::Secret": "Name",
    "AWS::CloudWatch::Alarm": "AlarmName",
    "AWS::CloudWatch::Dashboard": "DashboardName",
    "AWS::ECR::Repository": "RepositoryName",
    "AWS::CodeBuild::Project": "Name",
    "AWS::Cognito::UserPoolDomain": "Domain",
}
STAGE_PARAMETER = "Stage"
_SUB_VARIABLE = re.compile(r"\$\{([^}!][^}]*)\}")


def fixed_names(template: Mapping[str, Any]) -> list[dict[str, Any]]:
    """``[{"logicalId", "type", "property", "name"}]`` for every resource of ``template`` whose
    unique name is the same for every stage; ``name`` is the literal, or the intrinsic as JSON."""
    resources = template.get("Resources") if isinstance(template, Mapping) else None
    stage_declared = STAGE_PARAMETER in ((template.get("Parameters") or {}) if isinstance(template, Mapping) else {})
    found = []
    for logical_id, resource in sorted((resources or {}).items()):
        if not isinstance(resource, Mapping):
            continue
        kind = resource.get("Type")
        prop = NAME_PROPERTIES.get(kind) if isinstance(kind, str) else None
        props = resource.get("Properties")
        if not prop or not isinstance(props, Mapping) or props.get(prop) is None:
            continue
        value = props[prop]
        if _varies_by_stage(value, stage_declared):
            continue
        name = value if isinstance(value, str) else json.dumps(value, sort_keys=True)
        found.append({"logicalId": logical_id, "type": kind, "property": prop, "name": name})
    return found


def collisions(target: Iterable[dict[str, Any]], own: Iterable[dict[str, Any]], others: Mapping[str, Iterable[dict[str, Any]]]) -> list[dict[str, Any]]:
    """The fixed names of the build to deploy (``target``) that another stage's current build
    also fixes (``others``: stage -> its fixed names), unless the stage deployed to already holds
    them (``own``: its current build's). Each: the fixed name and the ``stage`` that has it."""
    held = {_identity(n) for n in own}
    found = []
    for name in target:
        if _identity(name) in held:
            continue
        stage = next((s for s, names in sorted(others.items()) if _identity(name) in {_identity(n) for n in names}), None)
        if stage is not None:
            found.append({**name, "stage": stage})
    return found


def _identity(name: Mapping[str, Any]) -> tuple[Any, Any, Any]:
    return (name.get("type"), name.get("property"), name.get("name"))


def _varies_by_stage(value: Any, stage_declared: bool) -> bool:
    """Whether the value mentions the stack's name or the stage parameter anywhere."""
    if isinstance(value, str):
        return False
    if isinstance(value, list):
        return any(_varies_by_stage(v, stage_declared) for v in value)
    if not isinstance(value, Mapping):
        return False
    for key, inner in value.items():
        if key == "Ref" and (inner == "AWS::StackName" or (stage_declared and inner == STAGE_PARAMETER)):
            return True
        if key == "Fn::Sub":
            text = inner[0] if isinstance(inner, list) and inner else inner
            if isinstance(text, str) and any(
                v.strip() == "AWS::StackName" or (stage_declared and v.strip() == STAGE_PARAMETER)
                for v in _SUB_VARIABLE.findall(text)
            ):
                return True
            if isinstance(inner, list) and len(inner) > 1 and _varies_by_stage(inner[1], stage_declared):
                return True
            continue
        if _varies_by_stage(inner, stage_declared):
            return True
    return False
