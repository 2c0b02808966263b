"""Every bench can run at a smoke size (``--smoke``), which CI runs (``make bench-smoke``)."""

from __future__ import annotations

import argparse
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from bench import run
from bench.executions import state_visits
from bench.smoke import parse

ROOT = Path(__file__).resolve().parents[2]
BENCHES = sorted((ROOT / "bench").glob("bench_*.py"))


def a_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--extra-alarms", type=int, default=100)
    return parser


def test_given_smoke_sizes_when_smoke_is_asked_then_they_replace_the_defaults_and_what_was_given():
    # GIVEN a bench's options and its smoke sizes
    # WHEN it is run with --smoke, with or without sizes of its own
    smoke = parse(a_parser(), ["--smoke"], runs=1, extra_alarms=2)
    given = parse(a_parser(), ["--runs", "50", "--smoke"], runs=1, extra_alarms=2)
    # THEN the smoke sizes win
    assert (smoke.runs, smoke.extra_alarms, given.runs) == (1, 2, 1)


def test_given_smoke_sizes_when_smoke_is_not_asked_then_the_bench_runs_as_told():
    # GIVEN smoke sizes WHEN the bench runs without --smoke
    args = parse(a_parser(), ["--runs", "50"], runs=1, extra_alarms=2)
    # THEN its own defaults and what was given hold
    assert (args.smoke, args.runs, args.extra_alarms) == (False, 50, 100)


def test_given_a_smoke_size_for_no_option_when_parsed_then_it_is_a_mistake_said_out_loud():
    # GIVEN a smoke size for an option the bench does not have
    # WHEN --smoke is asked THEN it fails, naming the option
    with pytest.raises(AttributeError, match="pushes"):
        parse(a_parser(), ["--smoke"], pushes=1)


def test_given_every_bench_when_asked_for_help_then_each_offers_smoke():
    # GIVEN every bench/bench_*.py (run as make bench runs it)
    assert len(BENCHES) >= 10

    def help_of(script: Path) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, str(script), "--help"], cwd=ROOT, capture_output=True, text=True,
                              timeout=120)

    # WHEN each is asked for --help
    with ThreadPoolExecutor(max_workers=4) as pool:
        answers = dict(zip(BENCHES, pool.map(help_of, BENCHES), strict=True))
    # THEN each answers, and offers --smoke with the sizes it runs at
    failed = {s.name: a.stderr[-500:] for s, a in answers.items() if a.returncode != 0}
    assert not failed
    said = {s.name: " ".join(a.stdout.split()) for s, a in answers.items()}
    without = [name for name, text in said.items() if "--smoke" not in text or "(as --" not in text]
    assert not without


def test_given_the_bench_runner_when_no_bench_is_named_then_it_runs_every_one_and_rejects_unknown_names():
    # GIVEN the runner make bench and make bench-smoke use
    # WHEN no bench is named THEN every bench/bench_*.py runs
    assert run.benches([]) == BENCHES
    # AND a bench can be named without its .py
    assert run.benches(["bench_lineage"]) == [ROOT / "bench" / "bench_lineage.py"]
    # AND an unknown name is refused, naming it
    with pytest.raises(SystemExit, match="bench_nothing"):
        run.benches(["bench_nothing"])


def test_given_an_execution_history_then_each_visit_of_each_state_is_timed_in_the_order_states_first_finish():
    """GIVEN a history where A runs twice around B, and C is entered but never exits
    WHEN its state visits are read
    THEN A has two visits, B one, in the order they first finished; C is left out"""
    at = datetime(2026, 12, 8)

    def event(kind: str, seconds: float, name: str) -> dict:
        detail = "stateEnteredEventDetails" if kind.endswith("Entered") else "stateExitedEventDetails"
        return {"type": kind, "timestamp": at + timedelta(seconds=seconds), detail: {"name": name}}

    history = [event("TaskStateEntered", 0, "A"), event("TaskStateExited", 1, "A"),
               event("WaitStateEntered", 1, "B"), event("WaitStateExited", 3, "B"),
               event("TaskStateEntered", 3, "A"), event("TaskStateExited", 3.5, "A"),
               event("TaskStateEntered", 3.5, "C"), {"type": "ExecutionFailed", "timestamp": at}]
    assert list(state_visits(history).items()) == [("A", [1.0, 0.5]), ("B", [2.0])]
