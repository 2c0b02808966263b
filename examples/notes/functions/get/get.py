import handler_lib
from dynamodb_lib import table


def get_note(event):
    key = {"userId": handler_lib.user_id(event), "noteId": handler_lib.path_id(event)}
    item = table.get_item(Key=key).get("Item")
    if item is None:
        raise handler_lib.NotFound()
    return item


def main(event, context):
    return handler_lib.run(event, get_note)
