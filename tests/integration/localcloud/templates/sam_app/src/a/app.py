import os

from greeting import greet


def handler(event, context):
    name = (event.get("pathParameters") or {}).get("name", "world")
    return {"statusCode": 200, "body": greet(os.environ["GREETING"], name) + " " + os.environ["STAGE"]}
