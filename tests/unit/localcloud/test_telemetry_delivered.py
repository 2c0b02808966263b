"""The telemetry writer's ``delivered()``: what was queued before the call is written when it
returns True (CodeBuild waits on it before a build reads ended)."""

from __future__ import annotations

import threading
from types import SimpleNamespace

from localcloud.telemetry import TelemetryWriter


class SlowLogs:
    """A Logs client whose writes take a while, and can be held."""

    class _Exists(Exception):
        pass

    exceptions = SimpleNamespace(ResourceAlreadyExistsException=_Exists)

    def __init__(self) -> None:
        self.written: list[str] = []
        self.hold = threading.Event()
        self.hold.set()

    def create_log_group(self, **_: object) -> None:
        pass

    def create_log_stream(self, **_: object) -> None:
        pass

    def put_log_events(self, logEvents: list[dict], **_: object) -> None:
        self.hold.wait(10)
        self.written += [e["message"] for e in logEvents]


def writer_with(logs: SlowLogs) -> TelemetryWriter:
    writer = TelemetryWriter(lambda service, **_: logs if service == "logs" else SimpleNamespace(), "test")
    writer.start()
    return writer


def test_given_lines_queued_when_delivered_returns_true_then_every_one_is_written():
    # GIVEN a running writer and lines queued
    logs = SlowLogs()
    writer = writer_with(logs)
    try:
        writer.log("/aws/codebuild/p", "s", [(1, "one"), (2, "two")])
        writer.log("/aws/codebuild/p", "s", [(3, "three")])
        # WHEN the caller waits for them
        assert writer.delivered(timeout=5) is True
        # THEN they are written, in order
        assert logs.written == ["one", "two", "three"]
    finally:
        writer.stop()


def test_given_a_write_that_does_not_end_then_delivered_gives_up_at_its_timeout():
    # GIVEN a writer whose Logs API hangs
    logs = SlowLogs()
    logs.hold.clear()
    writer = writer_with(logs)
    try:
        writer.log("/aws/codebuild/p", "s", [(1, "stuck")])
        # WHEN the caller waits a little THEN it is told the lines are not written yet
        assert writer.delivered(timeout=0.5) is False
        assert logs.written == []
    finally:
        logs.hold.set()
        writer.stop()


def test_given_a_stopped_writer_then_delivered_says_false_at_once():
    writer = TelemetryWriter(lambda service, **_: SlowLogs(), "test")
    assert writer.delivered(timeout=5) is False
