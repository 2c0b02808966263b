"""DynamoDB's atomicity on moto's server.

moto serves requests on many threads but its DynamoDB backend is not thread-safe, and its
``TransactWriteItems`` backs up every table it touches by deep copy and restores that copy when a
condition fails. Under concurrent requests that loses other clients' writes (seen: 8 concurrent
transactions recording builds stored 5 to 7 of them) and costs O(table size) per transaction.

Two hooks give DynamoDB's guarantees back:
- every DynamoDB request runs under one lock (item writes, conditions and transactions are atomic
  with respect to each other, as on DynamoDB);
- a transaction first checks all its conditions against the current items, and writes only when
  every one holds, so nothing has to be rolled back in the common case; if a write still fails
  half way, only the items it touched are restored.
"""

from __future__ import annotations

import threading
from typing import Any

from localcloud.moto_hooks import hook, require

from . import wire

_LOCK = threading.RLock()


def install(cloud) -> None:
    wire.install()
    exceptions = "moto.dynamodb.exceptions"
    too_many = require(exceptions, "TooManyTransactionsException", "transaction size limit error")
    single_op = require(exceptions, "TransactWriteSingleOpException", "one operation per item error")
    multiple = require(exceptions, "MultipleTransactionsException", "same item twice in a transaction")
    condition_failed = require(exceptions, "ConditionalCheckFailed", "a failed condition")
    canceled = require(exceptions, "TransactionCanceledException", "transaction cancelled, with reasons")
    get_filter_expression = require(
        "moto.dynamodb.comparisons", "get_filter_expression", "evaluate a ConditionExpression"
    )

    @hook("moto.dynamodb.responses", "DynamoHandler.call_action", "serialize DynamoDB requests")
    def call_action(original, self):
        with _LOCK:
            return original(self)

    @hook(
        "moto.dynamodb.models",
        "DynamoDBBackend.transact_write_items",
        "check every condition first, write only when all hold; no whole-table backup copies",
    )
    def transact_write_items(original, self, transact_items: list[dict[str, Any]]) -> None:
        if len(transact_items) > 100:
            raise too_many()
        seen: set[tuple[str, str]] = set()
        planned: list[tuple[str, dict, str, dict, Any]] = []
        reasons: list[tuple] = []
        for entry in transact_items:
            if len(entry) > 1:
                raise single_op()
            op_type, op = next(iter(entry.items()))
            if op_type not in {"ConditionCheck", "Put", "Delete", "Update"}:
                raise ValueError(f"Unsupported transaction operation {op_type}")
            table_name = op["TableName"]
            if op_type == "Put":
                table = self.get_table(table_name)
                attrs = op["Item"]
                key = {table.hash_key_attr: attrs[table.hash_key_attr]}
                if table.range_key_attr is not None:
                    key[table.range_key_attr] = attrs[table.range_key_attr]
            else:
                key = op["Key"]
            identity = (table_name, str(dict(sorted(key.items()))))
            if identity in seen:
                raise multiple()
            seen.add(identity)
            current = self.get_item(table_name, key)
            reason: tuple = (None, None, None)
            if op.get("ConditionExpression") is not None:
                condition = get_filter_expression(
                    op["ConditionExpression"], op.get("ExpressionAttributeNames"), op.get("ExpressionAttributeValues")
                )
                if not condition.expr(current):
                    old = (
                        current.to_json()["Attributes"]
                        if current is not None and op.get("ReturnValuesOnConditionCheckFailure") == "ALL_OLD"
                        else None
                    )
                    reason = ("ConditionalCheckFailed", condition_failed().message, old)
            reasons.append(reason)
            planned.append((op_type, op, table_name, key, current))
        if any(code is not None for code, _, _ in reasons):
            raise canceled(reasons)

        applied: list[tuple[str, dict, Any]] = []
        try:
            for op_type, op, table_name, key, current in planned:
                names = op.get("ExpressionAttributeNames")
                values = op.get("ExpressionAttributeValues")
                if op_type == "Put":
                    self.put_item(table_name, op["Item"])
                elif op_type == "Delete":
                    self.delete_item(table_name, key)
                elif op_type == "Update":
                    self.update_item(
                        table_name,
                        key,
                        update_expression=op["UpdateExpression"],
                        expression_attribute_names=names,
                        expression_attribute_values=values,
                    )
                else:
                    continue
                applied.append((table_name, key, current))
        except Exception:
            for table_name, key, previous in reversed(applied):
                if previous is None:
                    self.delete_item(table_name, key)
                else:
                    self.put_item(table_name, previous.to_json()["Attributes"])
            raise
