"""PutMetricData refuses the namespaces of AWS's own services, as CloudWatch does.

A namespace beginning with ``AWS/`` (``AWS/Lambda``, ``AWS/ApiGateway``, ...) is reserved for AWS's
services: CloudWatch answers a customer's PutMetricData into one with ``InvalidParameterValue``,
"The value AWS/Lambda for parameter Namespace is invalid.", and stores none of its data. That is
what keeps an app from forging another function's ``Errors`` or an API's ``5XXError`` that an alarm
(and a rollback) would act on.

On the local cloud the services that publish there (the Lambda runner, the API gateway) put their
metrics with the root key, which plays the AWS services: under ``--enforce-iam`` every other caller
(an IAM user, a role session: a Lambda function, a state machine) is refused. Without enforcement
every caller is the root, and nothing is refused - as with PutEvents' ``aws.*`` sources
(localcloud/events_router/sources.py). A function's Embedded Metric Format lines are its own
publication, so they never reach an ``AWS/`` namespace either (localcloud/lambda_runner/telemetry.py).
"""

from __future__ import annotations

from typing import Any

from localcloud.moto_hooks import hook, require
from localcloud.telemetry import service_namespace


def install() -> None:
    from localcloud import iam

    invalid_parameter_value = require(
        "moto.cloudwatch.exceptions", "InvalidParameterValue", "CloudWatch's InvalidParameterValue error"
    )

    # the API action, not CloudWatchBackend.put_metric_data: moto's own services (Kinesis) publish
    # their AWS/ metrics through the backend while serving their caller's request
    @hook(
        "moto.cloudwatch.responses",
        "CloudWatchResponse.put_metric_data",
        "with --enforce-iam, PutMetricData into an AWS/ namespace from a caller other than the root is refused",
    )
    def put_metric_data(original: Any, response: Any) -> Any:
        namespace = str(response._get_param("Namespace") or "")
        if service_namespace(namespace) and not iam.caller_is_root():
            raise invalid_parameter_value(f"The value {namespace} for parameter Namespace is invalid.")
        return original(response)
