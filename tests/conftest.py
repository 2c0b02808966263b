"""Shared fixtures: one local cloud per test session, started the way a developer starts it."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import boto3
import pytest
from botocore.config import Config

ROOT = Path(__file__).resolve().parents[1]
EVENTS = ROOT / "events"


@dataclass
class RunningCloud:
    endpoint: str
    data_dir: Path
    process: subprocess.Popen
    output: list[str] = field(default_factory=list)

    def client(self, service: str, **kwargs):
        return boto3.client(
            service,
            endpoint_url=self.endpoint,
            region_name="us-east-1",
            aws_access_key_id=kwargs.pop("aws_access_key_id", "localcloud"),
            aws_secret_access_key=kwargs.pop("aws_secret_access_key", "localcloud"),
            config=kwargs.pop("config", Config(retries={"max_attempts": 1}, read_timeout=120)),
            **kwargs,
        )


def start_cloud(data_dir: Path, port: int = 0, extra_args: tuple[str, ...] = ()) -> RunningCloud:
    """Start ``sprout local up`` as a child process and wait for its ready line."""
    sprout = shutil.which("sprout", path=str(Path(sys.executable).parent)) or "sprout"
    proc = subprocess.Popen(
        [sprout, "local", "up", "--port", str(port), "--data-dir", str(data_dir), *extra_args],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        cwd=ROOT,
    )
    output: list[str] = []
    assert proc.stdout is not None
    for line in proc.stdout:
        output.append(line)
        if line.startswith("localcloud ready "):
            endpoint = line.split()[2]
            break
    else:
        proc.wait(timeout=10)
        raise RuntimeError("local cloud did not start:\n" + "".join(output))
    cloud = RunningCloud(endpoint=endpoint, data_dir=data_dir, process=proc, output=output)
    threading.Thread(target=lambda: output.extend(proc.stdout), daemon=True).start()
    return cloud


def stop_cloud(cloud: RunningCloud) -> int:
    cloud.process.terminate()
    return cloud.process.wait(timeout=10)


@pytest.fixture(scope="session")
def cloud(tmp_path_factory) -> Iterator[RunningCloud]:
    """The session's local cloud. Test data in it is uuid-suffixed, so tests share it safely."""
    running = start_cloud(tmp_path_factory.mktemp("localcloud"))
    saved = {k: os.environ.get(k) for k in ("AWS_ENDPOINT_URL", "AWS_DEFAULT_REGION", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY")}
    os.environ.update(
        AWS_ENDPOINT_URL=running.endpoint,
        AWS_DEFAULT_REGION="us-east-1",
        AWS_ACCESS_KEY_ID="localcloud",
        AWS_SECRET_ACCESS_KEY="localcloud",
    )
    yield running
    for k, v in saved.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v
    stop_cloud(running)


@pytest.fixture
def uid() -> str:
    """A short unique suffix for names of things a test creates."""
    return uuid.uuid4().hex[:8]
