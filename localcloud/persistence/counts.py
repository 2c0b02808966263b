"""What a restart brought back, counted through the local endpoint's own APIs (as a client sees it)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

log = logging.getLogger("localcloud.persistence")


def _pages(client: Any, operation: str, key: str, **kwargs: Any) -> list[Any]:
    out: list[Any] = []
    for page in client.get_paginator(operation).paginate(**kwargs):
        out.extend(page.get(key, []))
    return out


def counts(cloud: Any) -> dict[str, int]:
    """{what: how many}, in the order ``up`` prints them; a count that fails is left out."""
    c = cloud.client
    out: dict[str, int] = {}

    def stacks() -> int:
        return len(_pages(c("cloudformation"), "list_stacks", "StackSummaries",
                          StackStatusFilter=[s for s in _LIVE]))

    def tables() -> int:
        return len(_pages(c("dynamodb"), "list_tables", "TableNames"))

    def items() -> int:
        ddb = c("dynamodb")
        return sum(ddb.describe_table(TableName=t)["Table"].get("ItemCount", 0)
                   for t in _pages(ddb, "list_tables", "TableNames"))

    def objects() -> int:
        s3 = c("s3")
        return sum(len(_pages(s3, "list_object_versions", "Versions", Bucket=b["Name"]))
                   for b in s3.list_buckets().get("Buckets", []))

    def executions() -> int:
        sfn = c("stepfunctions")
        return sum(len(_pages(sfn, "list_executions", "executions", stateMachineArn=m["stateMachineArn"]))
                   for m in _pages(sfn, "list_state_machines", "stateMachines"))

    table: list[tuple[str, Callable[[], int]]] = [
        ("stacks", stacks),
        ("functions", lambda: len(_pages(c("lambda"), "list_functions", "Functions"))),
        ("tables", tables),
        ("items", items),
        ("buckets", lambda: len(c("s3").list_buckets().get("Buckets", []))),
        ("object versions", objects),
        ("state machines", lambda: len(_pages(c("stepfunctions"), "list_state_machines", "stateMachines"))),
        ("executions", executions),
        ("rules", lambda: len(c("events").list_rules().get("Rules", []))),
        ("alarms", lambda: len(_pages(c("cloudwatch"), "describe_alarms", "MetricAlarms"))),
        ("log groups", lambda: len(_pages(c("logs"), "describe_log_groups", "logGroups"))),
        ("queues", lambda: len(c("sqs").list_queues().get("QueueUrls", []))),
        ("repositories", lambda: len(_pages(c("codecommit"), "list_repositories", "repositories"))),
        ("roles", lambda: len(_pages(c("iam"), "list_roles", "Roles"))),
        ("REST APIs", lambda: len(_pages(c("apigateway"), "get_rest_apis", "items"))),
    ]
    for what, count in table:
        try:
            out[what] = count()
        except Exception as e:  # a count is information, never a reason not to start
            log.debug("counting %s failed: %s", what, e)
    return out


_LIVE = [
    "CREATE_IN_PROGRESS", "CREATE_FAILED", "CREATE_COMPLETE", "ROLLBACK_IN_PROGRESS", "ROLLBACK_FAILED",
    "ROLLBACK_COMPLETE", "DELETE_IN_PROGRESS", "DELETE_FAILED", "UPDATE_IN_PROGRESS",
    "UPDATE_COMPLETE_CLEANUP_IN_PROGRESS", "UPDATE_COMPLETE", "UPDATE_FAILED", "UPDATE_ROLLBACK_IN_PROGRESS",
    "UPDATE_ROLLBACK_FAILED", "UPDATE_ROLLBACK_COMPLETE_CLEANUP_IN_PROGRESS", "UPDATE_ROLLBACK_COMPLETE",
]
