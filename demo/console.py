"""What the demo prints and records: the timeline (time since start, step, result), the commands it
runs as a user would (their output shown and kept for the report), and the checks that make it fail."""

from __future__ import annotations

import os
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

BOLD, GREEN, RED, DIM, RESET = "\033[1m", "\033[32m", "\033[31m", "\033[2m", "\033[0m"
GIT_ENV = {
    "GIT_AUTHOR_NAME": "Demo Developer",
    "GIT_AUTHOR_EMAIL": "dev@example.com",
    "GIT_COMMITTER_NAME": "Demo Developer",
    "GIT_COMMITTER_EMAIL": "dev@example.com",
    "GIT_CONFIG_NOSYSTEM": "1",
    "GIT_CONFIG_GLOBAL": os.devnull,  # the developer's own settings (signing, hooks) stay out of it
}


class DemoFailed(RuntimeError):
    """A step did not behave as the story says: the message says what was expected and what came."""


def check(condition: object, failure: str) -> None:
    if not condition:
        raise DemoFailed(failure)


@dataclass
class Entry:
    at: float  # seconds since the demo started
    step: str
    result: str
    ok: bool = True


@dataclass
class Command:
    step: str
    argv: list[str]
    output: str
    seconds: float
    returncode: int


@dataclass
class Mark:
    """A moment the chart marks with a vertical line: a promote or a rollback going live."""

    at: float  # wall-clock epoch seconds: the deployment started
    until: float  # it finished
    label: str
    kind: str  # promote | rollback | auto-rollback


@dataclass
class Timeline:
    started: float = field(default_factory=time.time)
    step: str = "1"
    entries: list[Entry] = field(default_factory=list)
    commands: list[Command] = field(default_factory=list)
    marks: list[Mark] = field(default_factory=list)
    begins: list[tuple[float, str]] = field(default_factory=list)  # (seconds since start, step)
    figures: dict[str, str] = field(default_factory=dict)

    def since(self, at: float | None = None) -> float:
        return (time.time() if at is None else at) - self.started

    def begin(self, step: str, title: str) -> None:
        self.step = step
        self.begins.append((self.since(), step))
        print(f"\n{BOLD}== {step}. {title}{RESET}", flush=True)

    def record(self, result: str, ok: bool = True) -> None:
        """One line of the timeline: printed now, and kept for the report's table."""
        entry = Entry(self.since(), self.step, result, ok)
        self.entries.append(entry)
        colour = GREEN if ok else RED
        print(f"{colour}[{entry.at:6.1f} s] step {entry.step}: {result}{RESET}", flush=True)

    def figure(self, name: str, value: str) -> None:
        self.figures[name] = value

    def mark(self, at: float, until: float, label: str, kind: str) -> None:
        self.marks.append(Mark(at, until, label, kind))

    def run(
        self,
        argv: list[str],
        env: dict[str, str],
        cwd: Path | None = None,
        echo: bool = True,
        expect: int = 0,
    ) -> str:
        """Run a command as the user would; its output is printed (indented) and kept for the report.
        A return code other than ``expect`` fails the demo with everything it printed."""
        shown = " ".join(argv)
        if echo:
            print(f"   {DIM}${RESET} {shown}", flush=True)
        began = time.time()
        result = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True)
        output = result.stdout + (result.stderr if result.returncode != expect else "")
        self.commands.append(Command(self.step, argv, output, time.time() - began, result.returncode))
        if result.returncode != expect:
            raise DemoFailed(f"`{shown}` exited {result.returncode} (expected {expect}):\n{output}")
        if echo and result.stdout.strip():
            for line in result.stdout.rstrip().splitlines():
                print(f"     {line}", flush=True)
        return result.stdout

    def git(self, work: Path, *args: str) -> str:
        return self.run(["git", *args], env={**os.environ, **GIT_ENV}, cwd=work)


def poll(what: str, probe, timeout: float = 30.0, every: float = 0.5):
    """``probe()`` until it answers something truthy; DemoFailed naming ``what`` after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while True:
        answer = probe()
        if answer:
            return answer
        if time.monotonic() > deadline:
            raise DemoFailed(f"{what}: not seen within {timeout:g} s")
        time.sleep(every)
