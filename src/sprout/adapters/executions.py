"""Step Functions executions: whether one is still running (the stage lock's holder check), and
starting one (StartExecution with the same name and input is idempotent on AWS)."""

from __future__ import annotations

import json
from typing import Any

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from sprout.domain.pipeline import execution_arn

__all__ = ["Executions", "execution_arn"]


class Executions:
    def __init__(self, client: Any = None) -> None:
        self._sfn = client or boto3.client("stepfunctions")

    def is_running(self, execution_arn: str) -> bool | None:
        """True while it runs, False once it has ended, None when unknown — and an execution that
        does not exist (yet) is unknown: a stage's lock is taken before its StartExecution is called,
        so a holder caught in between is starting, not ended (a starter that died in between leaves
        the lock to its lease)."""
        try:
            status = self._sfn.describe_execution(executionArn=execution_arn)["status"]
        except ClientError as e:
            if e.response.get("Error", {}).get("Code") == "InvalidArn":
                return False
            return None
        except BotoCoreError:
            return None
        return status in ("RUNNING", "PENDING_REDRIVE")

    def stop(self, execution_arn: str, error: str, cause: str) -> None:
        """Stop an execution (one already ended is left as it is)."""
        try:
            self._sfn.stop_execution(executionArn=execution_arn, error=error, cause=cause[:200])
        except ClientError as e:
            if e.response.get("Error", {}).get("Code") not in ("ExecutionDoesNotExist", "ExecutionAlreadyEnded"):
                raise

    def start(self, state_machine_arn: str, name: str, payload: dict) -> str:
        """Start ``name``; StartExecution with the same name and input is idempotent on AWS."""
        return self._sfn.start_execution(stateMachineArn=state_machine_arn, name=name, input=json.dumps(payload))[
            "executionArn"
        ]
