"""DynamoDB items come back from the local cloud exactly as they were written, every attribute type
and nesting (localcloud.dynamodb.wire converts them without moto's generic serializer walk)."""

import pytest

ITEM = {
    "pk": {"S": "APP#notes"},
    "sk": {"S": "BUILD#0000001"},
    "number": {"N": "42"},
    "ratio": {"N": "2.5"},
    "blob": {"B": b"\x00\x01\xffbinary"},
    "tags": {"SS": ["a", "b"]},
    "sizes": {"NS": ["1", "2.5"]},
    "blobs": {"BS": [b"x", b"\xff"]},
    "config": {"M": {
        "Handler": {"S": "create.main"},
        "MemorySize": {"N": "128"},
        "empty": {"S": ""},
        "deep": {"M": {"list": {"L": [{"N": "1"}, {"S": "two"}, {"NULL": True}, {"BOOL": False}, {"M": {}}, {"L": []}]}}},
    }},
    "functions": {"L": [{"M": {"sha256": {"S": "ab" * 32}, "bin": {"B": b"q"}}}, {"SS": ["x"]}]},
    "nothing": {"NULL": True},
    "yes": {"BOOL": True},
    "no": {"BOOL": False},
}


@pytest.fixture
def table(cloud, uid):
    ddb = cloud.client("dynamodb")
    name = f"wire-{uid}"
    ddb.create_table(
        TableName=name,
        BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}, {"AttributeName": "sk", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
    )
    ddb.put_item(TableName=name, Item=ITEM)
    return name


def test_given_an_item_of_every_attribute_type_when_read_every_way_then_it_comes_back_as_written(cloud, table):
    ddb = cloud.client("dynamodb")
    key = {"pk": ITEM["pk"], "sk": ITEM["sk"]}

    got = ddb.get_item(TableName=table, Key=key)["Item"]
    batch = ddb.batch_get_item(RequestItems={table: {"Keys": [key]}})["Responses"][table]
    query = ddb.query(
        TableName=table, KeyConditionExpression="pk = :pk", ExpressionAttributeValues={":pk": ITEM["pk"]}
    )
    scan = ddb.scan(TableName=table)["Items"]
    old = ddb.put_item(TableName=table, Item=ITEM, ReturnValues="ALL_OLD")["Attributes"]

    assert got == ITEM
    assert batch == [ITEM]
    assert query["Items"] == [ITEM]
    assert scan == [ITEM]
    assert old == ITEM


def test_given_a_page_limit_when_querying_then_the_last_evaluated_key_is_the_key_of_the_last_item(cloud, table):
    ddb = cloud.client("dynamodb")
    ddb.put_item(TableName=table, Item={**ITEM, "sk": {"S": "BUILD#0000002"}})

    page = ddb.query(
        TableName=table, KeyConditionExpression="pk = :pk", ExpressionAttributeValues={":pk": ITEM["pk"]}, Limit=1
    )

    assert page["LastEvaluatedKey"] == {"pk": ITEM["pk"], "sk": ITEM["sk"]}
