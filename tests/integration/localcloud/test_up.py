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


def test_given_a_data_dir_of_an_earlier_run_when_up_again_then_it_warns_starts_empty_and_keeps_the_git_data(tmp_path):
    from tests.integration.localcloud.test_codecommit_git import Git, write

    data = tmp_path / "data"
    git = Git(tmp_path / "home")
    # GIVEN a first run with a repository holding one commit, and a bucket
    first = start_cloud(data)
    try:
        assert not any("earlier run" in line for line in first.output)  # a new data dir: no warning
        url = first.client("codecommit").create_repository(repositoryName="kept")["repositoryMetadata"]["cloneUrlHttp"]
        git.run(tmp_path, "clone", "-q", url, "work")
        write(tmp_path / "work", {"README.md": "hello\n"})
        commit = git.commit_all(tmp_path / "work", "first")
        git.run(tmp_path / "work", "push", "-q", "origin", "HEAD:main")
        first.client("s3").create_bucket(Bucket="first-run-bucket")
    finally:
        assert stop_cloud(first) == 0
    git_dir = data / "codecommit" / "repos" / "kept.git"

    # WHEN the cloud is started again on the same data dir
    second = start_cloud(data)
    try:
        # THEN it says, in one line, that the earlier state is not loaded, naming the repository kept on disk
        [warning] = [line for line in second.output if "earlier run" in line]
        assert warning.startswith(f"localcloud: warning: {data.resolve()} holds state from an earlier run")
        assert "not loaded" in warning and "kept on disk" in warning and ": kept (in " in warning
        # AND it starts empty: no repository, no bucket
        assert second.client("codecommit").list_repositories()["repositories"] == []
        assert "first-run-bucket" not in [b["Name"] for b in second.client("s3").list_buckets()["Buckets"]]
        # AND the git data is still on disk, untouched
        assert git.out(git_dir, "rev-parse", "main") == commit

        # WHEN a repository of the same name is created
        cc = second.client("codecommit")
        cc.create_repository(repositoryName="kept")
        # THEN it is new and empty, as on AWS, and the old git data was moved aside, not deleted
        assert cc.list_branches(repositoryName="kept")["branches"] == []
        [aside] = [p for p in git_dir.parent.iterdir() if p.name.startswith("kept.git.stale-")]
        assert git.out(aside, "rev-parse", "main") == commit
        assert any("moved aside" in line and str(aside) in line for line in second.output)
    finally:
        assert stop_cloud(second) == 0


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
