"""Fixture Lambda code for tests/integration/localcloud/test_lambda_runner.py (one handler per case)."""

import json
import os
import sys
import time

print("cold start of python_app")


def echo(event, context):
    print("echo got", json.dumps(event))
    return {"event": event}


def describe(event, context):
    import boto3

    buckets = boto3.client("s3").list_buckets()["Buckets"]
    return {
        "context": {
            "function_name": context.function_name,
            "function_version": context.function_version,
            "invoked_function_arn": context.invoked_function_arn,
            "memory_limit_in_mb": context.memory_limit_in_mb,
            "aws_request_id": context.aws_request_id,
            "log_group_name": context.log_group_name,
            "log_stream_name": context.log_stream_name,
            "remaining_ms": context.get_remaining_time_in_millis(),
        },
        "env": dict(os.environ),
        "sys_path": sys.path,
        "bucket_names": [b["Name"] for b in buckets],
        "cwd": os.getcwd(),
    }


def can_import(event, context):
    import importlib.util

    return {name: importlib.util.find_spec(name) is not None for name in event["modules"]}


class OrderRejected(Exception):
    pass


def fail(event, context):
    raise OrderRejected(f"order {event.get('order')} rejected")


def sleepy(event, context):
    time.sleep(event.get("seconds", 0))
    return {"slept": event.get("seconds", 0), "pid": os.getpid()}


def die(event, context):
    print("about to exit", flush=True)
    os._exit(3)


def emf(event, context):
    print(
        json.dumps(
            {
                "_aws": {
                    "Timestamp": int(time.time() * 1000),
                    "CloudWatchMetrics": [
                        {
                            "Namespace": event["namespace"],
                            "Dimensions": [["service"]],
                            "Metrics": [{"Name": "OrdersPlaced", "Unit": "Count"}],
                        }
                    ],
                },
                "service": "orders",
                "OrdersPlaced": 3,
            }
        )
    )
    return "ok"


def marker(event, context):
    print(f"marker {event['marker']}")
    return os.environ.get("CODE_MARK", "none")


def record_pid_and_sleep(event, context):
    with open(event["pid_file"], "w") as f:
        f.write(str(os.getpid()))
    time.sleep(event["seconds"])
    return "woke"


_ORIGINAL_STDOUT = sys.stdout  # as Powertools Logger keeps it


def many_writers(event, context):
    import subprocess

    _ORIGINAL_STDOUT.write("via saved stdout\n")
    sys.stderr.write("via stderr\n")
    os.write(1, b"via fd 1\n")
    subprocess.run(["echo", "via child process"], check=True)
    print("no newline at the end", end="")
    return "written"


def use_layer(event, context):
    import order_rules  # from the layer's python/ folder

    return order_rules.describe()
