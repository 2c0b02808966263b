"""The story on a deployed Sprout: register the notes app, push it, see it built and on dev."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
import uuid
from pathlib import Path

import boto3
import pytest

from sprout.cli.client import ApiError, SproutClient

pytestmark = pytest.mark.e2e
NOTES = Path(__file__).resolve().parents[2] / "examples" / "notes"
CODECOMMIT_GIT = ["-c", "credential.helper=!aws codecommit credential-helper $@", "-c", "credential.UseHttpPath=true"]


def test_given_a_deployed_sprout_when_the_notes_app_is_pushed_then_dev_serves_it(stack_outputs, tmp_path):
    api = SproutClient(stack_outputs["ApiUrl"])
    name = f"notes-e2e-{uuid.uuid4().hex[:6]}"
    codecommit = boto3.client("codecommit")
    clone_url = codecommit.create_repository(repositoryName=name)["repositoryMetadata"]["cloneUrlHttp"]
    try:
        api.request("POST", "/apps", {"name": name, "repository": name})
        work = shutil.copytree(NOTES, tmp_path / name, ignore=shutil.ignore_patterns("__pycache__"))
        env = {**os.environ, "GIT_AUTHOR_NAME": "e2e", "GIT_AUTHOR_EMAIL": "e2e@example.com",
               "GIT_COMMITTER_NAME": "e2e", "GIT_COMMITTER_EMAIL": "e2e@example.com"}
        for args in (["init", "-q", "-b", "main"], ["add", "-A"], ["commit", "-q", "-m", "notes"],
                     [*CODECOMMIT_GIT, "push", "-q", clone_url, "main"]):
            subprocess.run(["git", *args], cwd=work, env=env, check=True)
        deadline = time.monotonic() + 900
        build = None
        while time.monotonic() < deadline:
            try:
                build = api.request("GET", f"/apps/{name}/builds/1")
            except ApiError as e:
                if e.status != 404:
                    raise
            if build and (build["status"] == "FAILED" or build.get("deployedTo", {}).get("dev", {}).get("status") in ("SUCCEEDED", "FAILED")):
                break
            time.sleep(10)
        assert build and build["status"] == "SUCCEEDED", build
        assert build["deployedTo"]["dev"]["status"] == "SUCCEEDED", build
        outputs = boto3.client("cloudformation").describe_stacks(StackName=f"{name}-dev")["Stacks"][0]["Outputs"]
        notes = SproutClient({o["OutputKey"]: o["OutputValue"] for o in outputs}["ApiUrl"])
        assert notes.request("POST", "/notes", {"content": "e2e"})["content"] == "e2e"
    finally:
        boto3.client("cloudformation").delete_stack(StackName=f"{name}-dev")
        codecommit.delete_repository(repositoryName=name)
