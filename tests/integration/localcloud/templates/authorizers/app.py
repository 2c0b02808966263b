"""The guarded function: answers with what the authorizer told API Gateway about the caller."""

import json


def who_am_i(event, context):
    return {"statusCode": 200, "body": json.dumps({"authorizer": event["requestContext"].get("authorizer")})}
