"""Node.js functions import the AWS SDK for JavaScript v3 as on Lambda's nodejs18.x+ runtimes:
provided by the runtime (after the function's own node_modules), from CommonJS and ES modules,
reaching the local cloud through the AWS_ENDPOINT_URL the runner passes."""

from __future__ import annotations

import json

import pytest

from tests.archives import zip_of
from tests.integration.localcloud.lambda_helpers import service_role

CJS = """
const { DynamoDBClient, PutItemCommand } = require('@aws-sdk/client-dynamodb');
const { DynamoDBDocumentClient, GetCommand } = require('@aws-sdk/lib-dynamodb');
const client = new DynamoDBClient({});
exports.handler = async (event) => {
  await client.send(new PutItemCommand({ TableName: event.table, Item: { pk: { S: event.key }, by: { S: 'cjs' } } }));
  const doc = DynamoDBDocumentClient.from(client);
  const { Item } = await doc.send(new GetCommand({ TableName: event.table, Key: { pk: event.key } }));
  return { item: Item };
};
"""

ESM = """
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, PutCommand, GetCommand } from '@aws-sdk/lib-dynamodb';
const doc = DynamoDBDocumentClient.from(new DynamoDBClient({}));
export const handler = async (event) => {
  await doc.send(new PutCommand({ TableName: event.table, Item: { pk: event.key, by: 'esm' } }));
  const { Item } = await doc.send(new GetCommand({ TableName: event.table, Key: { pk: event.key } }));
  return { item: Item };
};
"""

OWN_COPY = """
exports.handler = async () => ({ marker: require('@aws-sdk/client-dynamodb').marker });
"""


@pytest.fixture(scope="module")
def table(cloud) -> str:
    name = "node-sdk-items"
    ddb = cloud.client("dynamodb")
    try:
        ddb.create_table(
            TableName=name,
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
            BillingMode="PAY_PER_REQUEST",
        )
    except ddb.exceptions.ResourceInUseException:
        pass
    return name


@pytest.fixture(scope="module")
def role(cloud, table) -> str:
    return service_role(
        cloud,
        "node-sdk-tests",
        "lambda.amazonaws.com",
        [{"Effect": "Allow", "Action": ["dynamodb:PutItem", "dynamodb:GetItem"], "Resource": f"arn:aws:dynamodb:us-east-1:123456789012:table/{table}"}],
    )


def run(cloud, role, name: str, files: dict[str, str], handler: str, event: dict) -> dict:
    lam = cloud.client("lambda")
    lam.create_function(FunctionName=name, Runtime="nodejs20.x", Role=role, Handler=handler, Code={"ZipFile": zip_of(files)})
    answer = lam.invoke(FunctionName=name, Payload=json.dumps(event))
    body = json.loads(answer["Payload"].read())
    assert "FunctionError" not in answer, body
    return body


@pytest.mark.parametrize(
    "files, handler, by",
    [({"index.js": CJS}, "index.handler", "cjs"), ({"index.mjs": ESM}, "index.handler", "esm")],
    ids=["commonjs", "es-module"],
)
def test_given_a_node_function_using_sdk_v3_then_it_writes_and_reads_the_local_table(cloud, role, table, uid, files, handler, by):
    # GIVEN a function shipping no node_modules, using DynamoDB through SDK v3
    # WHEN invoked
    body = run(cloud, role, f"node-sdk-{by}-{uid}", files, handler, {"table": table, "key": f"k-{uid}"})
    # THEN the SDK the runtime provides reached the local cloud's table
    assert body["item"] == {"pk": f"k-{uid}", "by": by}
    stored = cloud.client("dynamodb").get_item(TableName=table, Key={"pk": {"S": f"k-{uid}"}})["Item"]
    assert stored["by"] == {"S": by}


def test_given_a_function_with_its_own_copy_of_a_package_then_its_copy_wins_over_the_runtimes(cloud, role, uid):
    files = {
        "index.js": OWN_COPY,
        "node_modules/@aws-sdk/client-dynamodb/package.json": '{"name": "@aws-sdk/client-dynamodb", "main": "index.js"}',
        "node_modules/@aws-sdk/client-dynamodb/index.js": "exports.marker = 'the function own copy';",
    }
    assert run(cloud, role, f"node-sdk-own-{uid}", files, "index.handler", {}) == {"marker": "the function own copy"}
