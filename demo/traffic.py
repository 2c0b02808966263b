"""Steady traffic on prod: a background thread sending SigV4-signed ``POST /notes`` at a set rate, as
the guide's test client does, recording each request's (time, status, latency) for the timeline and
the report's chart."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

from sprout.cli.client import ApiError, SproutClient, SproutError


@dataclass(frozen=True)
class Sample:
    sent: float  # epoch seconds
    done: float  # epoch seconds: when the answer came (what a client sees)
    status: int  # 0: no answer at all
    latency_ms: float


class Traffic:
    def __init__(self, url: str, rate: float = 5.0):
        self.client = SproutClient(url, timeout=10.0)
        self.rate = rate
        self.samples: list[Sample] = []
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> Traffic:
        self._thread = threading.Thread(target=self._loop, name="demo-traffic", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=15)

    def _loop(self) -> None:
        n, next_at = 0, time.time()
        while not self._stop.is_set():
            sent = time.time()
            try:
                self.client.request("POST", "/notes", {"content": f"steady traffic {n}", "attachment": None})
                status = 200
            except ApiError as e:
                status = e.status
            except SproutError:
                status = 0
            done = time.time()
            self.samples.append(Sample(sent, done, status, (done - sent) * 1000))
            n += 1
            # a steady rate: the next request at its slot, never a burst to catch up after a slow one
            next_at = max(next_at + 1 / self.rate, time.time())
            self._stop.wait(max(0.0, next_at - time.time()))

    def since(self, at: float) -> list[Sample]:
        return [s for s in list(self.samples) if s.sent >= at]

    def first(self, at: float, ok: bool) -> Sample | None:
        """The first answer sent at or after ``at`` that is a 200 (``ok``) or a 5xx (not ``ok``)."""
        for s in self.since(at):
            if (s.status == 200) if ok else (s.status >= 500):
                return s
        return None

    def wait_for(self, at: float, ok: bool, timeout: float) -> Sample | None:
        deadline = time.time() + timeout
        while time.time() < deadline:
            found = self.first(at, ok)
            if found:
                return found
            time.sleep(0.05)
        return None
