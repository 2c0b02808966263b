"""Shared fixtures: one local cloud per test session, started the way a developer starts it."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest
from botocore.config import Config

from sprout.cli.local import LocalCloudDidNotStart, LocalSprout

ROOT = Path(__file__).resolve().parents[1]
EVENTS = ROOT / "events"


class RunningCloud(LocalSprout):
    """A ``sprout local up`` child process, with boto3 clients for it."""

    @property
    def output(self) -> list[str]:
        return self.printed

    @property
    def sprout(self) -> dict[str, str]:
        return self.outputs

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


def start_cloud(data_dir: Path, port: int = 0, extra_args: tuple[str, ...] = (), with_sprout: bool = False) -> RunningCloud:
    """Start ``sprout local up`` and wait until it is ready (with ``with_sprout``, until Sprout's own
    stack is; without, the bare cloud). Raises RuntimeError with what it printed if it did not start."""
    try:
        return RunningCloud.start(data_dir, port=port, with_sprout=with_sprout, extra_args=extra_args, cwd=ROOT)
    except LocalCloudDidNotStart as e:
        raise RuntimeError(str(e)) from None


def stop_cloud(cloud: RunningCloud) -> int:
    return cloud.stop()


@pytest.fixture(scope="session")
def cloud(tmp_path_factory) -> Iterator[RunningCloud]:
    """The session's local cloud, with Sprout deployed on it as stack ``sprout`` (as ``sprout local
    up`` does), enforcing IAM as AWS does (``--enforce-iam``): Sprout's functions, state machine
    and rule act with their own roles' policies; the tests' root key is allowed everything.
    Test data in it is uuid-suffixed, so tests share it safely. It keeps its state in memory
    (``--in-memory``): nothing restarts it, and snapshots of a state that grows all session long would
    only cost time; persistence has its own tests (test_persistence.py, test_restart.py) and the demo."""
    running = start_cloud(tmp_path_factory.mktemp("localcloud"), extra_args=("--enforce-iam", "--in-memory"),
                          with_sprout=True)
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
