"""Nothing outlives the local cloud: a SIGKILL of ``sprout local up`` (no chance to clean up) takes
with it a CodeBuild build's command tree (a dependency build: bash → an installer → its children)
and a Lambda worker with what its function started. Processes are found by scanning /proc for a
marker only they carry on their command line."""

from __future__ import annotations

import json
import os
import signal
import time
import uuid
from pathlib import Path

import pytest

from tests.conftest import start_cloud
from tests.integration.localcloud.lambda_helpers import create_python_function, service_role


def processes_with(marker: str) -> list[tuple[int, str]]:
    """(pid, command line) of every live process whose command line contains ``marker``."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        try:
            cmdline = Path(f"/proc/{entry}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            state = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if marker in cmdline and state != "Z":  # a zombie is dead, waiting for its (test) parent
            found.append((int(entry), cmdline))
    return found


def wait_until(what: str, check, timeout: float = 30.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


@pytest.fixture
def doomed(tmp_path):
    """A bare ``sprout local up`` of its own, for the test to SIGKILL."""
    running = start_cloud(tmp_path / "data")
    yield running
    if running.process.poll() is None:
        running.process.kill()
        running.process.wait(timeout=10)


def sigkill(running) -> None:
    running.process.send_signal(signal.SIGKILL)
    running.process.wait(timeout=10)


def codebuild_project(cloud, name: str, commands: list[str]) -> None:
    role = service_role(cloud, f"orphans-{name}", "codebuild.amazonaws.com", [{"Effect": "Allow", "Action": "logs:*", "Resource": "*"}])
    cloud.client("codebuild").create_project(
        name=name,
        source={"type": "NO_SOURCE", "buildspec": json.dumps({"version": 0.2, "phases": {"build": {"commands": commands}}})},
        artifacts={"type": "NO_ARTIFACTS"},
        environment={"type": "LINUX_CONTAINER", "image": "aws/codebuild/standard:7.0", "computeType": "BUILD_GENERAL1_SMALL"},
        serviceRole=role,
    )


def sleeper(marker: str) -> str:
    """A shell command line running python3 asleep for 10 minutes, ``marker`` on its command line."""
    return f"python3 -c 'import time; time.sleep(600)' {marker}"


def test_given_a_dependency_build_running_when_local_up_is_sigkilled_then_no_process_of_the_build_remains(doomed):
    marker = f"orphan-{uuid.uuid4().hex[:10]}"
    # GIVEN a build that left a process running in the background (an earlier command), and whose
    # current command is an installer with children of its own (as pip's are)
    child = f"['python3', '-c', 'import time; time.sleep(600)', '{marker}']"
    installer = f'python3 -c "import subprocess, time; subprocess.Popen({child}); time.sleep(600)" {marker}'
    codebuild_project(doomed, marker, [f"nohup {sleeper(marker + '-bg')} > /dev/null 2>&1 &", installer])
    doomed.client("codebuild").start_build(projectName=marker)
    grandchild = f"-c import time; time.sleep(600) {marker}"  # after python3 (or the path it resolved to)
    wait_until("the installer's child", lambda: any(c.strip().endswith(grandchild) for _, c in processes_with(marker)))
    assert any(c.strip().endswith(f"{marker}-bg") for _, c in processes_with(marker))
    # WHEN the local cloud is SIGKILLed
    sigkill(doomed)
    # THEN the whole tree goes: bash, the installer and its child, and the background process
    wait_until("no process of the build", lambda: not processes_with(marker), timeout=15)


def test_given_a_build_that_starts_a_background_process_then_its_next_command_sees_it_and_the_end_of_the_build_ends_it(doomed):
    marker = f"linger-{uuid.uuid4().hex[:10]}"
    # GIVEN a command that starts a server in the background, and a next one that needs it
    codebuild_project(doomed, marker, [f"nohup {sleeper(marker)} > /dev/null 2>&1 & echo $! > server.pid",
                                       "kill -0 $(cat server.pid)"])
    codebuild = doomed.client("codebuild")
    build_id = codebuild.start_build(projectName=marker)["build"]["id"]
    build = wait_until("the build's end", lambda: (b := codebuild.batch_get_builds(ids=[build_id])["builds"][0])["buildComplete"] and b)
    # THEN the next command found it running (as in CodeBuild, where commands share the container)
    assert build["buildStatus"] == "SUCCEEDED", build["phases"]
    # AND it ended with the build
    wait_until("no process left by the build", lambda: not processes_with(marker), timeout=15)


def test_given_a_lambda_invocation_running_when_local_up_is_sigkilled_then_no_worker_or_child_remains(doomed, tmp_path):
    marker = f"orphan-{uuid.uuid4().hex[:10]}"
    # GIVEN a function that starts a child process and is still running
    code = (
        "import subprocess, time\n"
        "def handler(event, context):\n"
        f"    subprocess.Popen(['python3', '-c', 'import time; time.sleep(600)', '{marker}'])\n"
        "    time.sleep(600)\n"
    )
    create_python_function(doomed, marker, code, f"role-{marker}", timeout=900)
    doomed.client("lambda").invoke(FunctionName=marker, InvocationType="Event", Payload=b"{}")
    # the worker's command line names its code folder (the function's name), the child the marker
    grandchild = f"-c import time; time.sleep(600) {marker}"  # after python3 (or the path it resolved to)
    wait_until("the function's child", lambda: any(c.strip().endswith(grandchild) for _, c in processes_with(marker)))
    assert len(processes_with(marker)) >= 3  # the guard, the worker, the child
    # WHEN the local cloud is SIGKILLed
    sigkill(doomed)
    # THEN neither the worker (nor its guard) nor the function's child is left
    wait_until("no process of the worker", lambda: not processes_with(marker), timeout=15)
