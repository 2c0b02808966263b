"""Stopping the local cloud a bench started (``sprout local up``), and saying how long it took.

The rule is that the cloud exits within 5 s of SIGTERM (tests/integration/localcloud/test_up_stop.py
checks it). A bench reports how long it took, and when the cloud outlives 10 s it is killed and its
last output printed as a warning: the bench's figures stand, and a smoke run, which checks that a
bench works and never how fast, does not fail on a machine too loaded to exit in time.
"""

from __future__ import annotations

import subprocess
import time

from sprout.cli.local import LocalSprout

STOP_WITHIN_S = 5


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
