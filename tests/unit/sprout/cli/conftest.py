"""The CLI's command tests: a fake Sprout API with AWS credentials set for the run (``api``), and
``sprout(*argv)`` running the command in-process, returning its exit status, stdout and stderr."""

from __future__ import annotations

import pytest

from sprout.cli.main import main
from tests.unit.sprout.cli.fake_sprout_api import FakeSproutApi


@pytest.fixture
def api(monkeypatch):
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL", "SPROUT_STACK_NAME"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "secret")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
    with FakeSproutApi() as fake:
        monkeypatch.setenv("SPROUT_API_URL", fake.url)
        yield fake


@pytest.fixture
def sprout(capsys):
    def run(*argv: str) -> tuple[int, str, str]:
        with pytest.raises(SystemExit) as exited:
            main(list(argv))
        out, err = capsys.readouterr()
        assert "Traceback" not in out + err
        return exited.value.code, out, err

    return run
