"""One build's record: its plan (what StartBuild asked for), its phases and status, and its state
in the shape BatchGetBuilds gives it (``snapshot``). localcloud/codebuild/runner.py runs it."""


from __future__ import annotations

import logging
import os
import signal
import subprocess
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

log = logging.getLogger("localcloud.codebuild")

TERMINAL = ("SUCCEEDED", "FAILED", "FAULT", "TIMED_OUT", "STOPPED")
class PhaseFailed(Exception):
    def __init__(self, code: str, message: str):
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


class Ended(Exception):
    """The build was stopped or timed out while a phase ran."""


@dataclass
class Plan:
    """What StartBuild asked for, with the project's settings and the overrides applied."""

    project_name: str
    project_arn: str
    service_role: str
    source_type: str
    source_location: str
    buildspec: str
    environment: dict[str, Any]
    env_vars: list[dict[str, str]]
    artifacts: dict[str, Any]
    timeout_minutes: int
    queued_timeout_minutes: int
    logs_group: str | None  # None: CloudWatch Logs disabled
    logs_stream_prefix: str | None
    initiator: str
    source_version: str | None = None
    encryption_key: str | None = None


@dataclass
class Build:
    id: str
    arn: str
    number: int
    plan: Plan
    start: datetime = field(default_factory=lambda: datetime.now(UTC))
    end: datetime | None = None
    status: str = "IN_PROGRESS"
    current_phase: str = "SUBMITTED"
    phases: list[dict[str, Any]] = field(default_factory=list)
    artifact_location: str = ""
    lock: threading.RLock = field(default_factory=threading.RLock)
    ending: str | None = None  # STOPPED / TIMED_OUT once asked
    process: subprocess.Popen | None = None
    done: threading.Event = field(default_factory=threading.Event)

    @property
    def uuid(self) -> str:
        return self.id.split(":", 1)[1]

    @property
    def log_stream(self) -> str:
        if self.plan.logs_stream_prefix:
            return f"{self.plan.logs_stream_prefix}/{self.uuid}"
        return self.uuid

    # ---- phases -----------------------------------------------------------------------------
    def enter(self, phase: str) -> dict[str, Any]:
        with self.lock:
            record: dict[str, Any] = {"phaseType": phase, "startTime": datetime.now(UTC)}
            self.phases.append(record)
            self.current_phase = phase
            return record

    def close(self, record: dict[str, Any], status: str, code: str = "", message: str = "") -> None:
        with self.lock:
            now = datetime.now(UTC)
            record["phaseStatus"] = status
            record["endTime"] = now
            record["durationInSeconds"] = int((now - record["startTime"]).total_seconds())
            if record["phaseType"] not in ("SUBMITTED", "QUEUED"):
                record["contexts"] = [{"statusCode": code, "message": message}]

    def cancel(self, how: str) -> bool:
        """Stop (STOPPED) or time out (TIMED_OUT) the build: kills the command tree that runs.
        False when the build had already ended."""
        with self.lock:
            if self.status in TERMINAL or self.ending:
                return False
            self.ending = how
            process = self.process
        if process is not None:
            kill_tree(process)
        return True

    def interrupted(self) -> bool:
        """The local cloud stopped while this build ran: it ends STOPPED now (False if it had ended)."""
        with self.lock:
            if self.status in TERMINAL:
                return False
            now = datetime.now(UTC)
            if self.phases and "endTime" not in self.phases[-1]:
                self.close(self.phases[-1], "STOPPED", "BUILD_STOPPED", "the local cloud stopped during this phase")
            self.phases.append({"phaseType": "COMPLETED", "startTime": now})
            self.current_phase = "COMPLETED"
            self.ending = "STOPPED"
            self.status = "STOPPED"
            self.end = now
            self.process = None
        self.done.set()
        return True

    # ---- the API shape ------------------------------------------------------------------------
    def snapshot(self, region: str, account: str) -> dict[str, Any]:
        plan = self.plan
        with self.lock:
            phases = [dict(p, contexts=[dict(c) for c in p.get("contexts", [])]) if "contexts" in p else dict(p)
                      for p in self.phases]
            out: dict[str, Any] = {
                "id": self.id,
                "arn": self.arn,
                "buildNumber": self.number,
                "startTime": self.start,
                "currentPhase": self.current_phase,
                "buildStatus": self.status,
                "projectName": plan.project_name,
                "phases": phases,
                "source": {"type": plan.source_type, "buildspec": plan.buildspec, "insecureSsl": False,
                           **({"location": plan.source_location} if plan.source_location else {})},
                "secondarySources": [],
                "secondarySourceVersions": [],
                "artifacts": {"location": self.artifact_location},
                "secondaryArtifacts": [],
                "cache": {"type": "NO_CACHE"},
                "environment": plan.environment,
                "serviceRole": plan.service_role,
                "logs": _logs(self, region, account),
                "timeoutInMinutes": plan.timeout_minutes,
                "queuedTimeoutInMinutes": plan.queued_timeout_minutes,
                "buildComplete": self.status in TERMINAL,
                "initiator": plan.initiator,
                "encryptionKey": plan.encryption_key or f"arn:aws:kms:{region}:{account}:alias/aws/s3",
            }
            if plan.source_version:
                out["sourceVersion"] = plan.source_version
            if self.end is not None:
                out["endTime"] = self.end
            return out


def _logs(build: Build, region: str, account: str) -> dict[str, Any]:
    group = build.plan.logs_group
    if group is None:
        return {"cloudWatchLogs": {"status": "DISABLED"}, "s3Logs": {"status": "DISABLED", "encryptionDisabled": False}}
    stream = build.log_stream
    return {
        "groupName": group,
        "streamName": stream,
        "deepLink": f"https://console.aws.amazon.com/cloudwatch/home?region={region}#logEvent:group={group};stream={stream}",
        "cloudWatchLogsArn": f"arn:aws:logs:{region}:{account}:log-group:{group}:log-stream:{stream}",
        "cloudWatchLogs": {"status": "ENABLED", "groupName": group,
                           **({"streamName": build.plan.logs_stream_prefix} if build.plan.logs_stream_prefix else {})},
        "s3Logs": {"status": "DISABLED", "encryptionDisabled": False},
    }


def kill_tree(process: subprocess.Popen) -> None:
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
