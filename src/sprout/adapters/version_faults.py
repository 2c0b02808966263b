"""The 5xx a canary's new versions answered, through CloudWatch Logs (sprout.domain.canary): the
stage's access-log groups read for 5xx lines (one FilterLogEvents each), their
``integrationRequestId``s looked for in each new version's log streams (one
FilterLogEvents per function and UTC day, ``logStreamNamePrefix`` ``YYYY/MM/DD/<name>[<version>]``) —
and nothing more when there was no 5xx."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

import boto3
from botocore.exceptions import ClientError

from sprout.adapters.apigateway import api_stages
from sprout.domain.canary import ids_pattern, mentioned_ids, request_id_of, version_stream_prefixes
from sprout.domain.monitoring import access_log_group, parse_access_entry, status_filter

MAX_PAGES = 20  # FilterLogEvents pages read per group and look (up to 10,000 events each)


class LogVersionFaults:
    def __init__(self, logs: Any = None, cloudformation: Any = None) -> None:
        self._logs = logs or boto3.client("logs")
        self._cfn = cloudformation or boto3.client("cloudformation")

    def access_logs(self, stack: str) -> list[str]:
        """The access-log groups of the stack's REST API stages (none: no stack, or no API)."""
        try:
            resources = self._cfn.describe_stack_resources(StackName=stack)["StackResources"]
        except ClientError as e:
            if "does not exist" in e.response["Error"]["Message"]:
                return []
            raise
        return sorted({access_log_group(s.api_id, s.stage) for s in api_stages(resources)})

    def answered_5xx(self, access_logs: list[str], streams: dict[str, tuple[str, str]], since: datetime,
                     until: datetime) -> dict[str, int]:
        """For each function (name -> (its log group, the version)), how many of the 5xx in those
        access logs between ``since`` and ``until`` that version answered."""
        ids: set[str] = set()
        for group in access_logs:
            for message in self._messages(group, since, until, filterPattern=status_filter("5xx")):
                entry = parse_access_entry(message) or {}
                request_id = request_id_of(entry.get("integrationRequestId"))
                if request_id:
                    ids.add(request_id)
        if not ids:
            return {}
        pattern = ids_pattern(ids)
        out = {}
        for name, (group, version) in sorted(streams.items()):
            found: set[str] = set()
            for prefix in version_stream_prefixes(name, group, version, since, until):
                found |= mentioned_ids(self._messages(group, since, until, filterPattern=pattern, logStreamNamePrefix=prefix), ids)
            out[name] = len(found)
        return out

    def _messages(self, group: str, since: datetime, until: datetime, **kwargs: Any) -> Iterator[str]:
        request = {"logGroupName": group, "startTime": int(since.timestamp() * 1000),
                   "endTime": int(until.timestamp() * 1000), **kwargs}
        for _ in range(MAX_PAGES):
            try:
                page = self._logs.filter_log_events(**request)
            except ClientError as e:
                if e.response["Error"]["Code"] == "ResourceNotFoundException":
                    return  # no such group yet: nothing logged there
                raise
            for event in page.get("events", []):
                yield str(event.get("message", ""))
            token = page.get("nextToken")
            if not token:
                return
            request["nextToken"] = token
