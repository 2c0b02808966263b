"""Parameter Store: a stage's secrets as ``SecureString`` parameters, encrypted with the account's
AWS managed key for SSM (``alias/aws/ssm``: no ``KeyId`` given), Standard tier. Values go in and
never come out: this adapter has no read of a value (``GetParameter`` is the app function's)."""

from __future__ import annotations

from typing import Any

import boto3
from botocore.exceptions import ClientError

from sprout.domain.errors import InvalidInput
from sprout.observability import tracer


class ParameterStoreSecrets:
    def __init__(self, ssm: Any = None):
        self._ssm = ssm or boto3.client("ssm")

    @tracer.capture_method(capture_response=False)
    def put(self, path: str, value: str) -> int:
        try:
            answer = self._ssm.put_parameter(Name=path, Value=value, Type="SecureString", Overwrite=True, Tier="Standard")
        except ClientError as e:
            code = e.response["Error"]["Code"]
            if code in ("ValidationException", "ParameterMaxVersionLimitExceeded", "HierarchyLevelLimitExceededException",
                        "HierarchyTypeMismatchException", "InvalidAllowedPatternException"):
                # SSM's message may quote the request: name the field, never echo it
                raise InvalidInput("value" if "alue" in code else "name", f"Parameter Store refused it ({code})") from None
            raise RuntimeError(f"Parameter Store: {code}") from None
        return int(answer["Version"])

    def delete(self, path: str) -> bool:
        try:
            self._ssm.delete_parameter(Name=path)
        except ClientError as e:
            if e.response["Error"]["Code"] == "ParameterNotFound":
                return False
            raise
        return True

    def versions(self, prefix: str) -> dict[str, dict[str, Any]]:
        """DescribeParameters under the stage's path (one level): names, versions, when. No values."""
        found: dict[str, dict[str, Any]] = {}
        kwargs: dict[str, Any] = {"ParameterFilters": [{"Key": "Path", "Option": "OneLevel", "Values": [prefix]}],
                                  "MaxResults": 50}
        while True:
            page = self._ssm.describe_parameters(**kwargs)
            for p in page.get("Parameters", []):
                when = p.get("LastModifiedDate")
                found[p["Name"].rsplit("/", 1)[-1]] = {
                    "version": int(p.get("Version") or 0),
                    "at": when.isoformat(timespec="milliseconds").replace("+00:00", "Z") if hasattr(when, "isoformat") else when,
                }
            if not page.get("NextToken"):
                return found
            kwargs["NextToken"] = page["NextToken"]
