"""Starting and stopping the local cloud a bench runs on (``sprout local up``), the one way.

``start_cloud`` starts it (Sprout deployed, or the bare cloud), says how long that took, and points
this process's AWS clients at it (boto3's defaults: ``AWS_ENDPOINT_URL``, the root key, us-east-1),
as a developer's shell would; ``use_cloud`` does the last part for a cloud already running.

``bench_cloud`` is how a bench gets one: a fresh temporary folder, the cloud's data in its ``cloud``
folder, stopped and the folder removed however the bench ends.

``stop_cloud``: the rule is that the cloud exits within 5 s of SIGTERM
(tests/integration/localcloud/test_up_stop.py checks it). A bench reports how long it took, and
when the cloud outlives 10 s it is killed and its last output printed as a warning: the bench's
figures stand, and a smoke run, which checks that a bench works and never how fast, does not fail
on a machine too loaded to exit in time.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sprout.cli.local import LocalSprout

ROOT = Path(__file__).resolve().parents[1]
STOP_WITHIN_S = 5
ROOT_KEY = {"AWS_ACCESS_KEY_ID": "localcloud", "AWS_SECRET_ACCESS_KEY": "localcloud", "AWS_DEFAULT_REGION": "us-east-1"}


def use_cloud(endpoint: str, **environment: str) -> None:
    """AWS clients made from now on in this process call the local cloud at ``endpoint`` as its root
    (plus ``environment``: settings such as ``TABLE_NAME``)."""
    os.environ.update(AWS_ENDPOINT_URL=endpoint, **ROOT_KEY, **environment)


def start_cloud(data_dir: Path, *, with_sprout: bool = True, enforce_iam: bool = False) -> LocalSprout:
    """``sprout local up`` in ``data_dir`` (Sprout deployed, unless ``with_sprout=False``; IAM
    enforced with ``enforce_iam``), from the repository's root; AWS clients pointed at it."""
    started = time.monotonic()
    cloud = LocalSprout.start(
        data_dir, with_sprout=with_sprout, extra_args=("--enforce-iam",) if enforce_iam else (), cwd=ROOT
    )
    print(f"sprout local up ready in {time.monotonic() - started:.1f} s ({cloud.endpoint})", flush=True)
    use_cloud(cloud.endpoint)
    return cloud


def stop_cloud(cloud: LocalSprout) -> None:
    start = time.monotonic()
    try:
        cloud.stop(timeout=10)
    except subprocess.TimeoutExpired:
        print("warning: the local cloud did not exit within 10 s of SIGTERM (killed); its last output:\n"
              + "".join(cloud.printed[-20:]), flush=True)
        return
    took = time.monotonic() - start
    slow = f" (warning: the rule is within {STOP_WITHIN_S} s)" if took > STOP_WITHIN_S else ""
    print(f"local cloud stopped {took:.1f} s after SIGTERM{slow}", flush=True)


@contextmanager
def bench_cloud(prefix: str, *, with_sprout: bool = True, enforce_iam: bool = False) -> Iterator[tuple[LocalSprout, Path]]:
    """A local cloud started in a new temporary folder (named ``prefix…``; its data in ``cloud/``), and
    the folder, for the bench's own files beside it. Stopped and removed however the block ends."""
    base = Path(tempfile.mkdtemp(prefix=prefix))
    try:
        cloud = start_cloud(base / "cloud", with_sprout=with_sprout, enforce_iam=enforce_iam)
        try:
            yield cloud, base
        finally:
            stop_cloud(cloud)
    finally:
        shutil.rmtree(base, ignore_errors=True)
