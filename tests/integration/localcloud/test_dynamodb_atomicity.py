"""DynamoDB on the local cloud keeps DynamoDB's atomicity under concurrent clients."""

from concurrent.futures import ThreadPoolExecutor

import pytest
from botocore.exceptions import ClientError


@pytest.fixture
def table(cloud, uid):
    ddb = cloud.client("dynamodb")
    name = f"atomic-{uid}"
    ddb.create_table(
        TableName=name,
        BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}, {"AttributeName": "sk", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
    )
    ddb.put_item(TableName=name, Item={"pk": {"S": "app"}, "sk": {"S": "APP"}, "counter": {"N": "0"}})
    # Some history, as a real table has: a backup copy of the table per transaction takes a while.
    for start in range(0, 1000, 25):
        ddb.batch_write_item(RequestItems={name: [
            {"PutRequest": {"Item": {"pk": {"S": f"other{i}"}, "sk": {"S": "X"}, "data": {"S": "x" * 200}}}}
            for i in range(start, start + 25)
        ]})
    return name


def claim_next_number(ddb, table: str, marker: str) -> int | None:
    """The counter-plus-marker transaction Sprout's lineage uses: read N, write N+1 if still N."""
    while True:
        current = int(ddb.get_item(TableName=table, Key={"pk": {"S": "app"}, "sk": {"S": "APP"}}, ConsistentRead=True)["Item"]["counter"]["N"])
        try:
            ddb.transact_write_items(
                TransactItems=[
                    {"Update": {
                        "TableName": table, "Key": {"pk": {"S": "app"}, "sk": {"S": "APP"}},
                        "UpdateExpression": "SET #c = :next", "ConditionExpression": "#c = :cur",
                        "ExpressionAttributeNames": {"#c": "counter"},
                        "ExpressionAttributeValues": {":next": {"N": str(current + 1)}, ":cur": {"N": str(current)}},
                    }},
                    {"Put": {
                        "TableName": table, "Item": {"pk": {"S": "app"}, "sk": {"S": f"MARK#{marker}"}, "n": {"N": str(current + 1)}},
                        "ConditionExpression": "attribute_not_exists(pk)",
                    }},
                    {"Put": {"TableName": table, "Item": {"pk": {"S": "app"}, "sk": {"S": f"BUILD#{current + 1:06d}"}}}},
                ]
            )
            return current + 1
        except ClientError as e:
            if e.response["Error"]["Code"] != "TransactionCanceledException":
                raise
            reasons = [r.get("Code") for r in e.response.get("CancellationReasons", [])]
            if len(reasons) > 1 and reasons[1] == "ConditionalCheckFailed":
                return None  # the marker exists: somebody recorded this one already


def builds(ddb, table: str) -> list[str]:
    items = ddb.query(
        TableName=table, KeyConditionExpression="pk = :p AND begins_with(sk, :b)",
        ExpressionAttributeValues={":p": {"S": "app"}, ":b": {"S": "BUILD#"}}, ConsistentRead=True,
    )["Items"]
    return [i["sk"]["S"] for i in items]


def test_given_16_concurrent_transactions_on_one_counter_when_they_finish_then_every_write_is_kept(cloud, table):
    ddb = cloud.client("dynamodb")
    with ThreadPoolExecutor(8) as pool:
        numbers = list(pool.map(lambda i: claim_next_number(cloud.client("dynamodb"), table, f"c{i}"), range(16)))
    assert sorted(numbers) == list(range(1, 17))
    assert builds(ddb, table) == [f"BUILD#{n:06d}" for n in range(1, 17)]


def test_given_8_concurrent_transactions_for_one_marker_when_they_finish_then_exactly_one_wins(cloud, table):
    with ThreadPoolExecutor(8) as pool:
        numbers = list(pool.map(lambda i: claim_next_number(cloud.client("dynamodb"), table, "same"), range(8)))
    assert [n for n in numbers if n is not None] == [1]
    assert builds(cloud.client("dynamodb"), table) == ["BUILD#000001"]


def test_given_a_transaction_whose_second_condition_fails_when_written_then_nothing_is_written(cloud, table):
    ddb = cloud.client("dynamodb")
    with pytest.raises(ClientError) as caught:
        ddb.transact_write_items(
            TransactItems=[
                {"Put": {"TableName": table, "Item": {"pk": {"S": "app"}, "sk": {"S": "X"}}}},
                {"ConditionCheck": {"TableName": table, "Key": {"pk": {"S": "app"}, "sk": {"S": "APP"}},
                                    "ConditionExpression": "attribute_not_exists(pk)"}},
            ]
        )
    assert [r["Code"] for r in caught.value.response["CancellationReasons"]] == ["None", "ConditionalCheckFailed"]
    assert "Item" not in ddb.get_item(TableName=table, Key={"pk": {"S": "app"}, "sk": {"S": "X"}})
