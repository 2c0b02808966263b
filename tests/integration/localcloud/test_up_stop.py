"""``sprout local up`` exits within 5 s of SIGTERM even while Sprout's stack is still deploying."""

import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]


def test_given_sprouts_stack_still_deploying_when_sent_sigterm_then_it_exits_cleanly_within_5s(tmp_path):
    sprout = Path(sys.executable).with_name("sprout")
    process = subprocess.Popen(
        [str(sprout), "local", "up", "--port", "0", "--data-dir", str(tmp_path / "data")],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=ROOT,
    )
    printed = []
    try:
        assert process.stdout is not None
        for line in process.stdout:
            printed.append(line)
            if line.startswith("localcloud ready "):
                break
        process.send_signal(signal.SIGTERM)  # the stack deploy takes a few seconds more
        started = time.monotonic()
        rest, _ = process.communicate(timeout=10)
        elapsed = time.monotonic() - started
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 0, "".join(printed) + rest
    assert elapsed < 5, f"exited {elapsed:.1f} s after SIGTERM; its last lines:\n{rest[-2000:]}"
    assert "stack sprout ready" not in rest
    assert "localcloud stopped" in rest
