"""The installed ``sprout`` command against Sprout deployed on the local cloud (IAM enforced): what a
person types, what they read, and one line when something is wrong."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

SPROUT = str(Path(sys.executable).with_name("sprout"))


@pytest.fixture(scope="module")
def sprout(cloud):
    env = {**os.environ, "SPROUT_API_URL": cloud.sprout["ApiUrl"]}

    def run(*argv: str, code: int = 0) -> str:
        done = subprocess.run([SPROUT, *argv], env=env, capture_output=True, text=True, timeout=120)
        assert "Traceback" not in done.stdout + done.stderr
        assert done.returncode == code, done.stdout + done.stderr
        return done.stdout if code == 0 else done.stderr

    return run


@pytest.fixture(scope="module")
def app(cloud, sprout):
    name = f"cli-{os.urandom(3).hex()}"
    cloud.client("codecommit").create_repository(repositoryName=name)
    sprout("apps", "create", name, "--repository", name, "--stage", "dev:main:auto", "--stage", "prod")
    return name


def test_given_a_registered_app_when_listed_and_shown_then_tables_for_people_and_json_for_scripts(
    app, sprout
):
    listed = sprout("apps", "list")
    assert any(line.split()[:3] == [app, app, "dev"] for line in listed.splitlines()[1:])
    assert sprout("apps", "show", app).splitlines()[1:] == [
        "  stage dev          follows main, auto-deploy",
        "  stage prod         promote-only",
    ]
    assert [s["name"] for s in json.loads(sprout("--json", "apps", "show", app))["stages"]] == ["dev", "prod"]
    assert sprout("builds", "list", app).strip() == "no builds yet"


def test_given_an_unknown_app_or_stage_when_asked_then_one_line_404_exit_1(app, sprout):
    err = sprout("builds", "list", "no-such-app", code=1)
    assert err.count("\n") == 1 and err.startswith("sprout: ") and "no-such-app" in err
    err = sprout("deployments", "list", app, "qa", code=1)
    assert err.count("\n") == 1 and "qa" in err


def test_given_a_name_with_a_slash_when_asked_then_the_signed_encoded_path_is_accepted_and_not_found(sprout):
    # THEN the gateway takes the signature of the encoded path (no 403), and the answer is a 404 in
    # one line, not another route's answer (the API's router says a generic "Not found" for it)
    err = sprout("apps", "show", "a/b", code=1)
    assert err.startswith("sprout: ") and err.count("\n") == 1 and "refused" not in err
    assert "`sprout apps list` lists the apps" in err


def test_given_an_unknown_stage_when_waiting_for_a_build_then_it_fails_at_once(app, sprout):
    started = time.monotonic()
    err = sprout("builds", "wait", app, "1", "--stage", "qa", "--timeout", "300", code=1)
    assert time.monotonic() - started < 30
    assert (
        err
        == f"sprout: app {app} has no stage qa (its stages: dev, prod); `sprout apps show APP` lists them\n"
    )


def test_given_no_api_url_when_run_then_it_is_found_from_the_stack_or_one_line_says_there_is_no_such_stack(
    app,
):
    env = {k: v for k, v in os.environ.items() if k != "SPROUT_API_URL"}
    # WHEN nothing names the API: the ApiUrl output of stack sprout
    found = subprocess.run(
        [SPROUT, "apps", "show", app], env=env, capture_output=True, text=True, timeout=120
    )
    assert (found.returncode, found.stdout.split()[:2]) == (0, ["app", app]), found.stderr
    # WHEN SPROUT_STACK_NAME names a stack that does not exist
    missing = subprocess.run(
        [SPROUT, "apps", "list"],
        env={**env, "SPROUT_STACK_NAME": "nope"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert missing.returncode == 1 and "Traceback" not in missing.stderr
    assert missing.stderr == (
        "sprout: cannot find Sprout's API: there is no stack nope; pass --api-url or set SPROUT_API_URL "
        "(or SPROUT_STACK_NAME to the stack that runs Sprout)\n"
    )
