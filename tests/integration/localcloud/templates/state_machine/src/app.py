def handler(event, context):
    return {"seen": event, "by": "step"}
