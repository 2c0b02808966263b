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
