"""``sprout local up``: starts, answers AWS calls, refuses a busy port, stops on a signal."""

import signal
import subprocess
import sys
import time

from tests.conftest import start_cloud, stop_cloud


def test_given_a_running_cloud_when_boto3_calls_it_then_it_answers(cloud, uid):
    s3 = cloud.client("s3")
    s3.create_bucket(Bucket=f"b-{uid}")
    assert f"b-{uid}" in [b["Name"] for b in s3.list_buckets()["Buckets"]]


def test_given_a_busy_port_when_a_second_up_starts_then_it_fails_at_once_saying_so(cloud, tmp_path):
    port = cloud.endpoint.rsplit(":", 1)[1]
    started = time.monotonic()
    try:
        start_cloud(tmp_path, port=int(port))
    except RuntimeError as e:
        message = str(e)
    else:
        raise AssertionError("a second local cloud started on a busy port")
    assert f"port {port}" in message and "already in use" in message
    assert time.monotonic() - started < 10


def test_given_a_running_cloud_when_sent_sigint_then_it_exits_cleanly_within_5s(tmp_path):
    running = start_cloud(tmp_path / "data")
    running.process.send_signal(signal.SIGINT)
    started = time.monotonic()
    assert running.process.wait(timeout=5) == 0
    assert time.monotonic() - started < 5


def test_given_a_running_cloud_when_sent_sigterm_then_it_exits_cleanly(tmp_path):
    running = start_cloud(tmp_path / "data")
    assert stop_cloud(running) == 0


def test_given_a_stack_template_missing_a_parameter_when_up_deploys_it_then_it_exits_naming_the_parameter(tmp_path):
    # GIVEN a template whose parameter has no default, and no --parameter for it
    template = tmp_path / "template.yaml"
    template.write_text("Parameters:\n  Env: {Type: String}\nResources:\n  Logs: {Type: AWS::Logs::LogGroup}\n")
    # WHEN localcloud up deploys it
    done = subprocess.run(
        [sys.executable, "-m", "localcloud", "up", "--port", "0", "--data-dir", str(tmp_path / "data"),
         "--stack", f"bad={template}"],
        capture_output=True, text=True, timeout=120,
    )
    # THEN it exits 1 with CloudFormation's ValidationError, not a traceback
    assert done.returncode == 1, done.stdout + done.stderr
    assert "stack bad" in done.stderr and "ValidationError: Parameters: ['Env'] must have values" in done.stderr
    assert "Traceback" not in done.stderr
