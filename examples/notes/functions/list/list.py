from boto3.dynamodb.conditions import Key

import handler_lib
from dynamodb_lib import table


def list_notes(event):
    query = {"KeyConditionExpression": Key("userId").eq(handler_lib.user_id(event))}
    notes = []
    while True:
        page = table.query(**query)
        notes.extend(page["Items"])
        if "LastEvaluatedKey" not in page:
            return notes
        query["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def main(event, context):
    return handler_lib.run(event, list_notes)
