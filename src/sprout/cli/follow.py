"""Following things that change: a deployment until it ends (one updating progress line), and log
entries as they arrive (``--follow``: poll with ``since`` = the newest seen, print what is new)."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Hashable
from typing import TextIO

from sprout.cli.client import ApiError, SproutClient, SproutError, api_path
from sprout.cli.render import duration

FINAL = ("SUCCEEDED", "FAILED")


class Progress:
    """One status line on stderr: rewritten in place on a terminal, else printed when it changes."""

    def __init__(self, stream: TextIO | None = None):
        self.stream = stream or sys.stderr
        self.tty = self.stream.isatty()
        self.last = ""

    def show(self, text: str) -> None:
        if text == self.last:
            return
        self.last = text
        if self.tty:
            self.stream.write("\r\x1b[K" + text)
        else:
            self.stream.write(text + "\n")
        self.stream.flush()

    def done(self) -> None:
        if self.tty and self.last:
            self.stream.write("\n")
            self.stream.flush()


def follow_deployment(
    client: SproutClient,
    app: str,
    stage: str,
    deployment_id: str,
    timeout: float = 600.0,
    every: float = 0.5,
    progress: Progress | None = None,
) -> dict:
    """Poll ``GET …/deployments/{id}`` until its status is final; a 404 right after the start means
    it is not recorded yet. SproutError when it is still going after ``timeout`` seconds."""
    progress = progress or Progress()
    path = api_path("apps", app, "stages", stage, "deployments", deployment_id)
    started = time.monotonic()
    try:
        while True:
            elapsed = time.monotonic() - started
            try:
                deployment = client.request("GET", path)
            except ApiError as e:
                if e.status != 404:
                    raise
                deployment = None
            if deployment and deployment.get("status") in FINAL:
                return deployment
            if deployment:
                step = f" at {deployment['step']}" if deployment.get("step") else ""
                text = f"{deployment.get('kind')} of build {deployment.get('build')} to {stage}: "
                text += f"{deployment.get('status')}{step}"
            else:
                text = f"deployment {deployment_id} to {stage}: starting"
            progress.show(text + (f"  {duration(elapsed * 1000)}" if progress.tty else ""))
            if elapsed > timeout:
                raise SproutError(
                    f"deployment {deployment_id} of {app}/{stage} is still going after {timeout:g} s; "
                    f"see it with `sprout deployments show {app} {stage} {deployment_id}`"
                )
            time.sleep(every)
    finally:
        progress.done()


class EntryFollower:
    """New entries of a newest-first listing, each once: ``poll(since)`` pages through the answer
    (``nextToken``), drops what was seen (entries at the ``since`` boundary come again), and
    returns the rest oldest first; ``since`` moves to the newest timestamp seen."""

    def __init__(
        self,
        fetch: Callable[[str | None, str | None], dict],
        items: str,
        key: Callable[[dict], Hashable],
        stamp: Callable[[dict], str | None],
    ):
        self.fetch, self.items, self.key, self.stamp = fetch, items, key, stamp
        self.since: str | None = None  # what the next poll asks for
        self.newest: str | None = None  # the newest timestamp seen
        self.seen: dict[Hashable, str] = {}
        self.first = True

    def poll(self, since: str | None = None) -> list[dict]:
        since = since if since is not None else self.since
        new: list[dict] = []
        token = None
        while True:
            page = self.fetch(since, token)
            for entry in page.get(self.items, []):
                key = self.key(entry)
                if key not in self.seen:
                    self.seen[key] = self.stamp(entry) or ""
                    new.append(entry)
            token = page.get("nextToken")
            if not token or self.first:  # the first look shows one page, as without --follow
                break
        self.first = False
        new.sort(key=lambda e: self.stamp(e) or "")
        stamps = [s for s in map(self.stamp, new) if s]
        if stamps and (self.newest is None or max(stamps) > self.newest):
            self.newest = max(stamps)
        self.since = self.newest or since
        if self.newest:  # only entries at the boundary can come again: forget the older ones
            self.seen = {k: s for k, s in self.seen.items() if s >= self.newest}
        return new


def follow(
    follower: EntryFollower,
    show: Callable[[list[dict]], None],
    first_since: str | None,
    every: float = 2.0,
    polls: int | None = None,
) -> None:
    """Show the first page, then what is new every ``every`` seconds (``polls`` times, or until
    Ctrl-C)."""
    show(list(follower.poll(first_since)))
    count = 0
    while polls is None or count < polls:
        time.sleep(every)
        count += 1
        entries = follower.poll()
        if entries:
            show(entries)
