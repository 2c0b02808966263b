"""Fixtures for Sprout on the local cloud: its API, and a notes app in its own git repository."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from sprout.cli.client import ApiError, SproutClient

ROOT = Path(__file__).resolve().parents[3]
NOTES = ROOT / "examples" / "notes"
GREETER = ROOT / "examples" / "greeter"
GIT_ENV = {
    "GIT_AUTHOR_NAME": "Test Developer",
    "GIT_AUTHOR_EMAIL": "test@example.com",
    "GIT_COMMITTER_NAME": "Test Developer",
    "GIT_COMMITTER_EMAIL": "test@example.com",
    "GIT_CONFIG_NOSYSTEM": "1",
}


@pytest.fixture(scope="session")
def api(cloud) -> SproutClient:
    """Sprout's API, called with SigV4-signed requests as the CLI makes them."""
    return SproutClient(cloud.sprout["ApiUrl"])


def wait_for(what: str, check, timeout: float = 90.0, every: float = 0.25, show=None):
    """Poll ``check`` until it returns something truthy; on time-out, say what ``show()`` sees."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(every)
    seen = f"; last seen: {show()}" if show else ""
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}{seen}")


@dataclass
class AppRepo:
    """A registered app, its CodeCommit repository and a working copy to commit and push from."""

    name: str
    clone_url: str
    work: Path
    api: SproutClient
    cloud: object

    def git(self, *args: str) -> str:
        return subprocess.run(
            ["git", *args],
            cwd=self.work,
            env={**os.environ, **GIT_ENV},
            check=True,
            capture_output=True,
            text=True,
        ).stdout.strip()

    def commit_and_push(self, message: str, branch: str = "main") -> str:
        self.git("add", "-A")
        self.git("commit", "-q", "-m", message)
        self.git("push", "-q", self.clone_url, f"HEAD:refs/heads/{branch}")
        return self.git("rev-parse", "HEAD")

    def build(self, number: int) -> dict | None:
        try:
            return self.api.request("GET", f"/apps/{self.name}/builds/{number}")
        except ApiError as e:
            if e.status == 404:
                return None
            raise

    def wait_build(self, number: int, stage: str | None = "dev", timeout: float = 90.0) -> dict:
        """Build ``number`` once it has failed, or succeeded and (with ``stage``) settled there."""
        return self.api.wait_for_build(self.name, number, stage, timeout)

    def builds(self) -> list[dict]:
        return self.api.request("GET", f"/apps/{self.name}/builds")["builds"]

    def stage_url(self, stage: str) -> str:
        stack = self.cloud.client("cloudformation").describe_stacks(StackName=f"{self.name}-{stage}")[
            "Stacks"
        ][0]
        return {o["OutputKey"]: o["OutputValue"] for o in stack["Outputs"]}["ApiUrl"]

    def executions_for(self, commit: str) -> list[dict]:
        """The build state machine's executions whose input names ``commit``."""
        sfn = self.cloud.client("stepfunctions")
        arn = self.cloud.sprout["BuildStateMachineArn"]
        found = []
        for e in sfn.list_executions(stateMachineArn=arn)["executions"]:
            described = sfn.describe_execution(executionArn=e["executionArn"])
            if commit in described.get("input", ""):
                found.append(described)
        return found


@pytest.fixture
def notes_app(cloud, api, uid, tmp_path) -> AppRepo:
    """The notes example, registered as app ``notes-<uid>`` (dev follows main with auto-deploy,
    prod is promote-only), with an empty repository and a working copy of examples/notes."""
    return registered_app(cloud, api, f"notes-{uid}", NOTES, tmp_path)


@pytest.fixture
def greeter_app(cloud, api, uid, tmp_path) -> AppRepo:
    """The greeter example (a Python function with requirements, a Node.js function with its
    lockfile, a layer built by BuildMethod), registered as app ``greeter-<uid>`` like notes."""
    return registered_app(cloud, api, f"greeter-{uid}", GREETER, tmp_path)


DEV_AND_PROD = ({"name": "dev", "branch": "main", "autoDeploy": True}, {"name": "prod"})


def registered_app(cloud, api, name: str, source: Path, tmp_path: Path, stages=DEV_AND_PROD) -> AppRepo:
    """App ``name`` registered on its own new CodeCommit repository (by default dev follows main with
    auto-deploy, prod is promote-only), with a working copy of ``source`` under ``tmp_path``."""
    clone_url = cloud.client("codecommit").create_repository(repositoryName=name)["repositoryMetadata"][
        "cloneUrlHttp"
    ]
    api.request("POST", "/apps", {"name": name, "repository": name, "stages": list(stages)})
    work = shutil.copytree(
        source, tmp_path / name, ignore=shutil.ignore_patterns("__pycache__", ".ruff_cache", "node_modules")
    )
    repo = AppRepo(name=name, clone_url=clone_url, work=work, api=api, cloud=cloud)
    repo.git("init", "-q", "-b", "main")
    return repo


def codecommit_event(repository: str, branch: str, commit: str, event_id: str) -> dict:
    """A ``CodeCommit Repository State Change`` entry for PutEvents, as AWS sends it."""
    return {
        "Source": "aws.codecommit",
        "DetailType": "CodeCommit Repository State Change",
        "Resources": [f"arn:aws:codecommit:us-east-1:123456789012:{repository}"],
        "Detail": json.dumps(
            {
                "event": "referenceUpdated",
                "repositoryName": repository,
                "repositoryId": event_id,
                "referenceType": "branch",
                "referenceName": branch,
                "referenceFullName": f"refs/heads/{branch}",
                "commitId": commit,
                "callerUserArn": "arn:aws:iam::123456789012:root",
            }
        ),
    }


def watched_alarm_record(cloud, name: str) -> dict | None:
    """The lineage's record of alarm ``name`` (``{"app", "stage", "signal", "arn", ...}``), read with
    the test's root credentials, or None when Sprout recorded no such alarm."""
    item = cloud.client("dynamodb").get_item(
        TableName=cloud.sprout["TableName"], Key={"pk": {"S": f"ALARM#{name}"}, "sk": {"S": "ALARM"}}, ConsistentRead=True
    ).get("Item")
    return {k: v["S"] for k, v in item.items() if "S" in v} if item else None


def alarm_event_record(cloud, event_id: str) -> dict | None:
    """What Sprout recorded about the alarm event ``event_id`` (``outcome``, ``reason``, ...)."""
    item = cloud.client("dynamodb").get_item(
        TableName=cloud.sprout["TableName"], Key={"pk": {"S": f"ALARMEVENT#{event_id}"}, "sk": {"S": "EVENT"}},
        ConsistentRead=True,
    ).get("Item")
    return {k: v["S"] for k, v in item.items() if "S" in v} if item else None
