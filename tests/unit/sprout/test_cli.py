"""The CLI's argument parsing (its HTTP calls are exercised by the integration tests)."""

import argparse

import pytest

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
    args = _parser().parse_args(["apps", "create", "notes", "--repository", "notes", "--stage", "dev:main:auto", "--stage", "prod"])
    assert [s["name"] for s in args.stages] == ["dev", "prod"]


def test_given_builds_start_with_both_branch_and_commit_when_parsed_then_argparse_refuses(capsys):
    with pytest.raises(SystemExit):
        _parser().parse_args(["builds", "start", "notes", "--branch", "main", "--commit", "a" * 40])


def test_given_builds_wait_when_parsed_then_stage_and_timeout_are_optional():
    args = _parser().parse_args(["builds", "wait", "notes", "3"])
    assert (args.app, args.number, args.stage, args.timeout) == ("notes", 3, None, 600.0)
    args = _parser().parse_args(["builds", "wait", "notes", "3", "--stage", "dev", "--timeout", "30"])
    assert (args.stage, args.timeout) == ("dev", 30.0)
