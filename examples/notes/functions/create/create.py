import time
import uuid

import handler_lib
from dynamodb_lib import table


def create_note(event):
    body = handler_lib.note_body(event)
    note = {
        "userId": handler_lib.user_id(event),
        "noteId": str(uuid.uuid4()),
        "content": body["content"],
        "attachment": body["attachment"],
        "createdAt": int(time.time() * 1000),
    }
    table.put_item(Item=note)
    return note


def main(event, context):
    return handler_lib.run(event, create_note)
