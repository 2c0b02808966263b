"""The installed ``sprout`` command as a person runs it: every failure is one line on stderr saying
what is wrong and what to do, exit 1 (2 for usage errors), never a traceback; every command's
``--help`` works, ``sprout local --help`` and ``sprout local up --help`` included."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from tests.unit.sprout.cli.fake_sprout_api import FakeSproutApi

SPROUT = str(Path(sys.executable).with_name("sprout"))
CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "AKIDEXAMPLE",
    "AWS_SECRET_ACCESS_KEY": "secret",
    "AWS_DEFAULT_REGION": "us-east-1",
}


def clean_env(**more: str) -> dict[str, str]:
    """An environment with no AWS or Sprout settings at all (no config files either)."""
    return {
        "PATH": os.environ.get("PATH", ""),
        "HOME": "/nonexistent",
        "AWS_CONFIG_FILE": "/nonexistent",
        "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent",
        "AWS_EC2_METADATA_DISABLED": "true",
        **more,
    }


def run(*argv: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    done = subprocess.run([SPROUT, *argv], env=env, capture_output=True, text=True, timeout=60)
    assert "Traceback" not in done.stdout + done.stderr
    return done


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]  # closed when the with ends: nothing listens there


def one_line_failure(done: subprocess.CompletedProcess) -> str:
    assert done.returncode == 1, done.stderr
    assert done.stdout == ""
    assert done.stderr.count("\n") == 1 and done.stderr.startswith("sprout: ")
    return done.stderr


def test_given_nothing_listening_when_calling_the_api_then_one_line_says_so_and_how_to_fix_it():
    url = f"http://127.0.0.1:{closed_port()}/api"
    err = one_line_failure(run("apps", "list", "--api-url", url, env=clean_env(**CREDENTIALS)))
    assert err.startswith(f"sprout: cannot reach Sprout's API at {url}: connection refused;")
    assert "--api-url" in err and "sprout local up" in err


def test_given_a_host_that_does_not_resolve_when_calling_the_api_then_one_line_names_it():
    err = one_line_failure(
        run("apps", "list", "--api-url", "http://sprout.invalid/api", env=clean_env(**CREDENTIALS))
    )
    assert err.startswith("sprout: cannot resolve host sprout.invalid;")


def test_given_no_credentials_when_calling_the_api_then_one_line_says_which_variables_to_set():
    env = clean_env(SPROUT_API_URL=f"http://127.0.0.1:{closed_port()}/api")
    err = one_line_failure(run("apps", "list", env=env))
    assert err.startswith("sprout: no AWS credentials found:") and "AWS_ACCESS_KEY_ID" in err


def test_given_no_credentials_and_no_url_when_discovering_the_api_then_credentials_are_named_first():
    err = one_line_failure(run("builds", "list", "notes", env=clean_env()))
    assert err.startswith("sprout: no AWS credentials found:")


def test_given_no_stack_reachable_when_discovering_the_api_url_then_one_line_says_to_pass_api_url():
    env = clean_env(**CREDENTIALS, AWS_ENDPOINT_URL=f"http://127.0.0.1:{closed_port()}", AWS_MAX_ATTEMPTS="1")
    err = one_line_failure(run("apps", "list", env=env))
    assert err.startswith(
        "sprout: cannot look up stack sprout's ApiUrl (Could not connect to the endpoint URL"
    )
    assert "pass --api-url or set SPROUT_API_URL" in err


@pytest.mark.parametrize(
    ("argv", "env_url", "said"),
    [
        (["--api-url", "localhost:4566"], None, "--api-url 'localhost:4566' is not an http(s) URL"),
        (["--api-url", "ftp://host/api"], None, "--api-url 'ftp://host/api' is not an http(s) URL"),
        (
            ["--api-url", "http://host:port/api"],
            None,
            "--api-url 'http://host:port/api' is not a valid URL (Port",
        ),
        (
            ["--api-url", "http://[::1/api"],
            None,
            "--api-url 'http://[::1/api' is not a valid URL (Invalid IPv6 URL)",
        ),
        (["--api-url", "http://host/api?stage=x"], None, "--api-url 'http://host/api?stage=x' has a query"),
        ([], "not a url", "SPROUT_API_URL 'not a url' is not an http(s) URL"),
    ],
)
def test_given_an_api_url_that_is_not_one_when_running_then_one_line_says_so(argv, env_url, said):
    env = clean_env(**CREDENTIALS, **({"SPROUT_API_URL": env_url} if env_url else {}))
    err = one_line_failure(run(*argv, "apps", "list", env=env))
    assert err.startswith(f"sprout: {said}")


def test_given_an_unknown_app_when_the_api_answers_404_then_one_line_says_what_to_do():
    with FakeSproutApi() as api:
        api.on("GET", "/apps/nope/stages/prod", (404, {"message": "app nope not found"}))
        err = one_line_failure(
            run("stages", "show", "nope", "prod", env=clean_env(**CREDENTIALS, SPROUT_API_URL=api.url))
        )
    assert (
        err
        == "sprout: app nope not found; `sprout apps list` lists the apps, `sprout apps show APP` an app's stages\n"
    )


@pytest.mark.parametrize(
    "argv",
    [
        [],
        ["promote", "notes"],
        ["builds", "show", "notes", "²"],
        ["apps", "list", "--bogus"],
        ["nope"],
        ["access-logs", "notes"],
        ["local"],
    ],
)
def test_given_a_usage_error_when_running_then_it_exits_2_with_usage(argv):
    done = run(*argv, env=clean_env())
    assert done.returncode == 2
    assert done.stderr.startswith("usage: sprout") and "error:" in done.stderr


HELP = [
    ["--help"],
    ["local", "--help"],
    ["apps", "--help"],
    ["builds", "wait", "--help"],
    ["promote", "--help"],
    ["rollback", "-h"],
    ["changeset", "--help"],
    ["stages", "show", "--help"],
    ["deployments", "list", "--help"],
    ["access-logs", "--help"],
    ["access-logs", "show", "--help"],
    ["metrics", "--help"],
    ["logs", "--help"],
    ["auto-rollback", "enable", "--help"],
]


def test_given_help_on_commands_when_run_as_the_installed_command_then_each_exits_0_with_its_usage():
    env = clean_env()
    running = [
        (
            argv,
            subprocess.Popen(
                [SPROUT, *argv], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
            ),
        )
        for argv in HELP
    ]
    for argv, process in running:
        out, err = process.communicate(timeout=60)
        assert (process.returncode, err) == (0, ""), argv
        words = [a for a in argv if not a.startswith("-")]
        assert out.startswith(f"usage: sprout {' '.join(words)}".rstrip()), argv
        assert "--api-url" in out or words in (["local"], ["apps"], ["access-logs"]), argv


def test_given_local_up_help_then_it_shows_sprouts_option_and_the_local_clouds_own():
    done = run("local", "up", "--help", env=clean_env())
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("usage: sprout local up [--no-sprout]")
    for option in ("--no-sprout", "--port", "--data-dir", "--enforce-iam"):
        assert option in done.stdout
