"""``sprout secrets set`` reads a value from a prompt or stdin, never from an argument; ``sprout
settings set`` sends NAME=value pairs and removals as one merge."""

from __future__ import annotations

import io

import pytest

from sprout.cli.client import SproutError
from sprout.cli.commands import stage_settings
from sprout.cli.main import build_parser


class Pipe(io.StringIO):
    def isatty(self) -> bool:
        return False


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_a_secret_comes_from_stdin_or_a_prompt_never_an_argument(monkeypatch):
    """GIVEN stdin piped, then a terminal WHEN the value is read THEN stdin's first line (newline
    dropped), then getpass's answer; an empty value is refused; and the parser has no value argument"""
    assert stage_settings.read_secret("v: ", Pipe("s3cret\nignored\n")) == "s3cret"
    monkeypatch.setattr(stage_settings.getpass, "getpass", lambda prompt: "typed")
    assert stage_settings.read_secret("v: ", Terminal("")) == "typed"
    with pytest.raises(SproutError, match="no value"):
        stage_settings.read_secret("v: ", Pipe("\n"))
    with pytest.raises(SystemExit):
        build_parser().parse_args(["secrets", "set", "greeter", "prod", "ApiKey", "s3cret"])


def test_settings_set_sends_one_merge(monkeypatch):
    """GIVEN NAME=value pairs and --remove WHEN settings set runs THEN one PUT with the values and nulls"""
    sent = []

    class Client:
        def request(self, method, path, body=None, query=None):
            sent.append((method, path, body))
            return {"app": "greeter", "stage": "prod", "values": {"Language": "ko"}}

    args = build_parser().parse_args(["settings", "set", "greeter", "prod", "Language=ko", "Url=a=b", "--remove", "Old"])
    ctx = stage_settings.Context(args)
    monkeypatch.setattr(type(ctx), "client", property(lambda self: Client()))
    assert stage_settings.settings_set(ctx) == 0
    assert sent == [("PUT", "/apps/greeter/stages/prod/settings", {"values": {"Language": "ko", "Url": "a=b", "Old": None}})]


def test_redeploy_shows_the_configuration_change_and_follows_the_config_deployment(api, sprout):
    """GIVEN prod runs build 5 and its Language setting changed WHEN `sprout redeploy notes prod
    --yes` THEN it shows en → ko, posts the redeploy and follows the config deployment to success"""
    from tests.unit.sprout.cli.samples import PROD, PROD_PATH, changeset, deployment

    config = {"changes": [{"key": "Language", "source": "setting", "before": "en", "after": "ko"}],
              "unused": ["Colour"], "missing": [], "error": None}
    api.on("GET", PROD_PATH, (200, PROD))
    api.on("GET", f"{PROD_PATH}/changeset", (200, {**changeset(confirm=False), "build": 5, "configuration": config}))
    api.on("POST", f"{PROD_PATH}/redeploy", (202, {"execution": "arn:x", "deployment": "000009", "build": 5}))
    api.on("GET", f"{PROD_PATH}/deployments/000009",
           (200, deployment("SUCCEEDED", build=5, kind="config", durationMs=1200, step=None)))
    code, out, err = sprout("redeploy", "notes", "prod", "--yes")
    assert code == 0, err
    assert "parameter Language (setting): en → ko" in out
    assert "unused): Colour" in out
    assert [a.body for a in api.asked if a.method == "POST"] == [{}]
    assert next(a for a in api.asked if a.path.endswith("/changeset")).query == {"build": "5"}
