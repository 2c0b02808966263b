"""Stacks deployed when the local cloud starts (``localcloud up --stack NAME=TEMPLATE``), through
the same CloudFormation API any client uses."""

from __future__ import annotations

import threading
import time
from pathlib import Path

from botocore.exceptions import ClientError

from localcloud.cloud import LocalCloud

SETTLED = ("CREATE_COMPLETE", "UPDATE_COMPLETE")
CAPABILITIES = ["CAPABILITY_IAM", "CAPABILITY_NAMED_IAM", "CAPABILITY_AUTO_EXPAND"]


class StackFailed(RuntimeError):
    pass


class Interrupted(RuntimeError):
    """``stop`` was set while waiting for the stack (SIGTERM during ``up``)."""


def deploy(
    cloud: LocalCloud,
    name: str,
    template: Path,
    parameters: dict[str, str],
    timeout: float = 300,
    stop: threading.Event | None = None,
) -> dict[str, str]:
    """Create stack ``name`` from a local template file -- or update it when a restart brought it
    back -- and wait until it settles (or ``stop`` is set: Interrupted); its outputs."""
    cfn = cloud.client("cloudformation")
    request = {
        "StackName": name,
        "TemplateURL": template.resolve().as_uri(),
        "Parameters": [{"ParameterKey": k, "ParameterValue": v} for k, v in parameters.items()],
        "Capabilities": CAPABILITIES,
    }
    try:
        if _exists(cfn, name, stop):
            cfn.update_stack(**request)
        else:
            cfn.create_stack(**request)
    except ClientError as e:  # refused in the call (ValidationError: the template or its parameters)
        error = e.response.get("Error", {})
        if "No updates are to be performed" not in str(error.get("Message")):
            raise StackFailed(f"stack {name} ({template}): {error.get('Code')}: {error.get('Message')}") from None
        stack = cfn.describe_stacks(StackName=name)["Stacks"][0]  # kept as it was: its outputs
        return {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}
    deadline = time.monotonic() + timeout
    while True:
        stack = cfn.describe_stacks(StackName=name)["Stacks"][0]
        status = stack["StackStatus"]
        if status in SETTLED:
            return {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}
        if not status.endswith("_IN_PROGRESS"):
            events = cfn.describe_stack_events(StackName=name)["StackEvents"]
            reasons = [
                f"{e['LogicalResourceId']}: {e['ResourceStatusReason']}"
                for e in reversed(events)
                if e["ResourceStatus"].endswith("FAILED") and e.get("ResourceStatusReason")
            ]
            raise StackFailed(f"stack {name} {status}: " + ("; ".join(reasons) or stack.get("StackStatusReason", "")))
        if time.monotonic() > deadline:
            raise StackFailed(f"stack {name} still {status} after {timeout:.0f} s")
        if stop is not None and stop.wait(0.2):
            raise Interrupted(f"stopped while stack {name} was {status}")
        if stop is None:
            time.sleep(0.2)


def _exists(cfn, name: str, stop: threading.Event | None) -> bool:
    """Whether a restart brought stack ``name`` back (waiting while a restart settles it)."""
    while True:
        try:
            status = cfn.describe_stacks(StackName=name)["Stacks"][0]["StackStatus"]
        except ClientError:
            return False
        if not status.endswith("_IN_PROGRESS"):
            return status != "DELETE_COMPLETE"
        if stop is not None and stop.wait(0.2):
            raise Interrupted(f"stopped while stack {name} was {status}")
        if stop is None:
            time.sleep(0.2)
