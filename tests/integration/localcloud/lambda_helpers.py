"""Python Lambda functions for tests: a zip built from source text, created through the Lambda API."""

from __future__ import annotations

import json

from tests.archives import zip_of

LAMBDA_TRUST = {
    "Version": "2012-10-17",
    "Statement": [
        {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}
    ],
}


# what SAM attaches to a function's role: Lambda writes the function's log lines with it
BASIC_EXECUTION = "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"


def python_zip(code: str, filename: str = "app.py") -> bytes:
    return zip_of({filename: code})


def lambda_role(cloud, name: str) -> str:
    """An execution role Lambda can assume (moto checks the role exists), that may write its logs."""
    iam = cloud.client("iam")
    try:
        return iam.get_role(RoleName=name)["Role"]["Arn"]
    except iam.exceptions.NoSuchEntityException:
        arn = iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(LAMBDA_TRUST))["Role"]["Arn"]
        iam.attach_role_policy(RoleName=name, PolicyArn=BASIC_EXECUTION)
        return arn


def service_role(cloud, name: str, service: str | list[str], statements: list[dict]) -> str:
    """A role ``service`` (e.g. ``states.amazonaws.com``, or a list of them) may assume, with
    ``statements`` as its inline policy (what AWS needs for a function's, a state machine's or a
    rule target's role); returns its ARN."""
    iam = cloud.client("iam")
    trust = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole"}],
    }
    try:
        arn = iam.get_role(RoleName=name)["Role"]["Arn"]
    except iam.exceptions.NoSuchEntityException:
        arn = iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]
        if "lambda.amazonaws.com" in ([service] if isinstance(service, str) else service):
            iam.attach_role_policy(RoleName=name, PolicyArn=BASIC_EXECUTION)  # a function's role writes its logs
    if not statements:
        return arn
    iam.put_role_policy(
        RoleName=name, PolicyName="inline", PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": statements})
    )
    return arn


def create_python_function(cloud, name: str, code: str, role_name: str, timeout: int = 30) -> str:
    """Create ``name`` running ``code`` (handler ``app.handler``, Python 3.11); returns its ARN."""
    return cloud.client("lambda").create_function(
        FunctionName=name,
        Runtime="python3.11",
        Role=lambda_role(cloud, role_name),
        Handler="app.handler",
        Code={"ZipFile": python_zip(code)},
        Timeout=timeout,
    )["FunctionArn"]
