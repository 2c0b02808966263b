"""Stacks deployed when the local cloud starts (``localcloud up --stack NAME=TEMPLATE``), through
the same CloudFormation API any client uses.

A restart finds the stack it made before (the data dir kept it). Checking it against the template
with an update costs seconds (packaging the code, SAM's translation, the diff), so each deploy that
settles records, in ``<data dir>/cloudformation/up-stacks/NAME.json``, the digest of what the stack
was made from (``sam.fingerprint``: template, parameters, local code) with the stack's id, status
and last change time. The next ``up`` skips the update only when all of these still match: the same
inputs, and no one changed or failed the stack since (any update changes its time).
"""

from __future__ import annotations

import json
import os
import threading
import time
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError

from localcloud.cloud import LocalCloud
from localcloud.cloudformation import sam

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
    record = cloud.path("cloudformation", "up-stacks") / f"{name}.json"
    digest = _fingerprint(template, parameters)
    try:
        existing = _existing(cfn, name, stop)
        if existing is not None and digest is not None and _recorded(record) == _mark(existing, digest):
            return _outputs(existing)  # made from the same inputs, untouched since: nothing to update
        if existing is not None:
            cfn.update_stack(**request)
        else:
            cfn.create_stack(**request)
    except ClientError as e:  # refused in the call (ValidationError: the template or its parameters)
        error = e.response.get("Error", {})
        if "No updates are to be performed" not in str(error.get("Message")):
            raise StackFailed(f"stack {name} ({template}): {error.get('Code')}: {error.get('Message')}") from None
        stack = cfn.describe_stacks(StackName=name)["Stacks"][0]  # kept as it was: its outputs
        _record(record, stack, digest)
        return _outputs(stack)
    deadline = time.monotonic() + timeout
    while True:
        stack = cfn.describe_stacks(StackName=name)["Stacks"][0]
        status = stack["StackStatus"]
        if status in SETTLED:
            _record(record, stack, digest)
            return _outputs(stack)
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


def _existing(cfn, name: str, stop: threading.Event | None) -> dict[str, Any] | None:
    """The stack ``name`` a restart brought back, if any (waiting while a restart settles it)."""
    while True:
        try:
            stack: dict[str, Any] = cfn.describe_stacks(StackName=name)["Stacks"][0]
        except ClientError:
            return None
        status = stack["StackStatus"]
        if not status.endswith("_IN_PROGRESS"):
            return None if status == "DELETE_COMPLETE" else stack
        if stop is not None and stop.wait(0.2):
            raise Interrupted(f"stopped while stack {name} was {status}")
        if stop is None:
            time.sleep(0.2)


def _outputs(stack: dict[str, Any]) -> dict[str, str]:
    return {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}


def _fingerprint(template: Path, parameters: dict[str, str]) -> str | None:
    """``sam.fingerprint`` of the template file, or None when it cannot be taken (then the stack is
    updated, and the update says what is wrong)."""
    try:
        return sam.fingerprint(template.read_text(encoding="utf-8"), template.resolve().parent, parameters)
    except Exception:
        return None


def _mark(stack: dict[str, Any], digest: str | None) -> dict[str, Any] | None:
    """What is recorded of a settled stack: its inputs' digest, its id, status and last change."""
    if digest is None or stack["StackStatus"] not in SETTLED:
        return None
    changed = stack.get("LastUpdatedTime") or stack.get("CreationTime")
    return {"digest": digest, "stackId": stack["StackId"], "status": stack["StackStatus"], "changed": str(changed)}


def _recorded(record: Path) -> dict[str, Any] | None:
    try:
        found = json.loads(record.read_text())
    except (OSError, ValueError):
        return None
    return found if isinstance(found, dict) else None


def _record(record: Path, stack: dict[str, Any], digest: str | None) -> None:
    mark = _mark(stack, digest)
    try:
        if mark is None:
            record.unlink(missing_ok=True)
            return
        tmp = record.with_suffix(".tmp")
        tmp.write_text(json.dumps(mark))
        os.replace(tmp, record)
    except OSError:  # not recorded: the next up updates the stack (slower, never wrong)
        pass
