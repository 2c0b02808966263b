def handler(event, context):
    return {"from": "b", "version": 1, "event": event}
