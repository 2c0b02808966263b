from botocore.exceptions import ClientError

import handler_lib
from dynamodb_lib import table


def update_note(event):
    key = {"userId": handler_lib.user_id(event), "noteId": handler_lib.path_id(event)}
    body = handler_lib.note_body(event)
    try:
        table.update_item(
            Key=key,
            UpdateExpression="SET content = :content, attachment = :attachment",
            ExpressionAttributeValues={":content": body["content"], ":attachment": body["attachment"]},
            ConditionExpression="attribute_exists(noteId)",
        )
    except ClientError as e:
        if e.response["Error"]["Code"] == "ConditionalCheckFailedException":
            raise handler_lib.NotFound() from None
        raise
    return {"status": True}


def main(event, context):
    return handler_lib.run(event, update_note)
