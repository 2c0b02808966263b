"""GET /hello: a greeting with numbers made readable by humanize and a table by tabulate."""

import json

import humanize
from tabulate import tabulate


def handler(event, context):
    visitors = 1234567
    body = {
        "greeting": f"Hello, visitor number {humanize.intcomma(visitors)}",
        "table": tabulate([["visitors", visitors]], tablefmt="plain"),
        "humanize": humanize.__version__ if hasattr(humanize, "__version__") else "installed",
    }
    return {"statusCode": 200, "headers": {"content-type": "application/json"}, "body": json.dumps(body)}
