"""The CLI's argument parsing and its help (what it prints: test_cli_render.py; its HTTP calls:
test_cli_commands.py and test_cli_promote.py against a fake API; its failures as subprocesses:
test_cli_errors.py)."""

import argparse

import pytest

from sprout.cli.commands.monitoring import default_access_logs_verb
from sprout.cli.main import _parser, _stage


@pytest.mark.parametrize(
    ("text", "stage"),
    [
        ("prod", {"name": "prod"}),
        ("dev:main", {"name": "dev", "branch": "main"}),
        ("dev:main:auto", {"name": "dev", "branch": "main", "autoDeploy": True}),
        ("qa:release:manual", {"name": "qa", "branch": "release", "autoDeploy": False}),
    ],
)
def test_given_a_stage_flag_when_parsed_then_it_becomes_the_api_shape(text, stage):
    assert _stage(text) == stage


@pytest.mark.parametrize("text", ["", ":main", "dev:main:sometimes", "a:b:auto:x"])
def test_given_a_malformed_stage_flag_when_parsed_then_it_is_refused(text):
    with pytest.raises(argparse.ArgumentTypeError):
        _stage(text)


def test_given_apps_create_with_stages_when_parsed_then_stages_keep_pipeline_order():
    args = _parser().parse_args(
        ["apps", "create", "notes", "--repository", "notes", "--stage", "dev:main:auto", "--stage", "prod"]
    )
    assert [s["name"] for s in args.stages] == ["dev", "prod"]


def test_given_builds_start_with_both_branch_and_commit_when_parsed_then_argparse_refuses(capsys):
    with pytest.raises(SystemExit) as exited:
        _parser().parse_args(["builds", "start", "notes", "--branch", "main", "--commit", "a" * 40])
    assert exited.value.code == 2
    assert "not allowed with argument" in capsys.readouterr().err


def test_given_builds_wait_when_parsed_then_stage_and_timeout_are_optional():
    args = _parser().parse_args(["builds", "wait", "notes", "3"])
    assert (args.app, args.number, args.stage, args.timeout) == ("notes", 3, None, 600.0)
    args = _parser().parse_args(["builds", "wait", "notes", "3", "--stage", "dev", "--timeout", "30"])
    assert (args.stage, args.timeout) == ("dev", 30.0)


@pytest.mark.parametrize("number", ["²", "-1", "0", "1.5", "٣"])
def test_given_a_build_number_that_is_not_ascii_digits_when_parsed_then_it_is_a_usage_error(number, capsys):
    with pytest.raises(SystemExit) as exited:
        _parser().parse_args(["builds", "show", "notes", number])
    assert exited.value.code == 2
    assert "is not a whole number" in capsys.readouterr().err


@pytest.mark.parametrize(
    "argv",
    [
        ["--json", "--api-url", "http://h/api", "deployments", "list", "notes", "dev"],
        ["deployments", "list", "notes", "dev", "--json", "--api-url", "http://h/api"],
        ["--api-url", "http://h/api", "deployments", "list", "--json", "notes", "dev"],
    ],
)
def test_given_common_options_before_or_after_the_command_when_parsed_then_both_are_kept(argv):
    args = _parser().parse_args(argv)
    assert (args.json, args.api_url, args.app, args.stage) == (True, "http://h/api", "notes", "dev")


def test_given_no_common_options_when_parsed_then_they_default_to_discovery_and_tables():
    args = _parser().parse_args(["stages", "show", "notes", "prod"])
    assert (args.json, args.api_url) == (False, None)


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["access-logs", "notes", "prod"], ["access-logs", "show", "notes", "prod"]),
        (
            ["--json", "access-logs", "notes", "prod", "-f"],
            ["--json", "access-logs", "show", "notes", "prod", "-f"],
        ),
        (["--api-url", "u", "access-logs", "n", "p"], ["--api-url", "u", "access-logs", "show", "n", "p"]),
        (["access-logs", "enable", "notes", "prod"], ["access-logs", "enable", "notes", "prod"]),
        (["access-logs", "--help"], ["access-logs", "--help"]),
        (["logs", "notes", "prod", "create"], ["logs", "notes", "prod", "create"]),
    ],
)
def test_given_access_logs_without_a_verb_when_parsed_then_it_means_show(argv, expected):
    assert default_access_logs_verb(argv) == expected


def test_given_promote_when_parsed_then_the_stage_comes_from_to_and_nothing_is_confirmed_by_default():
    args = _parser().parse_args(["promote", "notes", "--to", "prod"])
    assert (args.app, args.stage, args.build, args.yes, args.force, args.no_wait) == (
        "notes",
        "prod",
        None,
        False,
        False,
        False,
    )


def leaves(parser: argparse.ArgumentParser, path: tuple[str, ...] = ()):
    """Every command path of the parser with its parser, found by walking it (nothing listed by hand)."""
    subparsers = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    yield path, parser
    for action in subparsers:
        for name, child in action.choices.items():
            yield from leaves(child, (*path, name))


COMMANDS = [(path, p) for path, p in leaves(_parser()) if path and path[:1] != ("local",)]  # local verbs: localcloud's options


def test_given_the_parser_then_every_command_of_the_contract_exists():
    paths = {" ".join(path) for path, _ in leaves(_parser())}
    assert {
        "changeset",
        "promote",
        "rollback",
        "reconcile",
        "stages show",
        "deployments list",
        "access-logs enable",
        "access-logs disable",
        "access-logs settings",
        "access-logs show",
        "metrics",
        "logs",
        "auto-rollback enable",
        "auto-rollback disable",
        "auto-rollback show",
        "builds wait",
        "local up",
    } <= paths


@pytest.mark.parametrize(("path", "parser"), COMMANDS, ids=[" ".join(p) for p, _ in COMMANDS])
def test_given_any_command_when_asked_for_help_then_it_exits_0_listing_every_option(path, parser, capsys):
    with pytest.raises(SystemExit) as exited:
        _parser().parse_args([*path, "--help"])
    assert exited.value.code == 0
    printed = capsys.readouterr().out
    assert printed.startswith(f"usage: sprout {' '.join(path)}")
    options = [s for a in parser._actions for s in a.option_strings]
    assert options and all(option in printed for option in options)
