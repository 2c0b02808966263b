"""Worker processes (Lambda execution environments) and the warm pool of one function version.

A worker is a child process running runtimes/python_bootstrap.py or runtimes/node_bootstrap.js.
Its fds 1 and 2 are one pipe (the log); requests go down a control pipe, replies come up a result
pipe. After init and after every invocation the worker writes a marker (a per-worker random token)
on its log pipe before replying, so the runner knows exactly which output lines belong to which
invocation, however the function writes them (print, logging, a Powertools Logger holding the
original sys.stdout, a child process).
"""

from __future__ import annotations

import json
import os
import select
import selectors
import signal
import subprocess
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field

from localcloud.guard import guarded

LogLine = tuple[int, str]  # (epoch ms, text)


@dataclass
class Reply:
    status: str  # "ok" | "error" (the function raised) | "timeout" | "crash"
    lines: list[LogLine] = field(default_factory=list)
    payload: str | None = None
    error: dict | None = None
    error_log: str | None = None  # the runtime's one-event report of an error
    rss_kb: int = 0
    exit_description: str = ""


def _now_ms() -> int:
    return int(time.time() * 1000)


class Worker:
    def __init__(
        self,
        head: list[str],
        tail: list[str],
        env: dict[str, str],
        cwd: str,
        log_stream: str,
        memory_kb: int | None = None,
    ):
        """Run ``head + [token, ctl_fd, res_fd] + tail`` (head: interpreter and bootstrap script)
        under the guard (localcloud/guard.py): it dies with the local cloud, however that dies,
        and with SIGKILL past ``memory_kb`` of resident memory."""
        self.log_stream = log_stream
        self.token = uuid.uuid4().hex
        self._marker = f"\x1f{self.token}\x1f\n".encode()
        ctl_r, ctl_w = os.pipe()
        res_r, res_w = os.pipe()
        try:
            self.proc = subprocess.Popen(
                guarded([*head, self.token, str(ctl_r), str(res_w), *tail], memory_kb),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                env=env,
                cwd=cwd,
                pass_fds=(ctl_r, res_w),
                start_new_session=True,  # its own process group: a timeout kills what it started too
            )
        except BaseException:
            for fd in (ctl_r, ctl_w, res_r, res_w):
                os.close(fd)
            raise
        os.close(ctl_r)
        os.close(res_w)
        self._ctl = ctl_w
        self._res = res_r
        self._log = self.proc.stdout.fileno()  # type: ignore[union-attr]
        os.set_blocking(self._res, False)
        os.set_blocking(self._log, False)
        self._selector = selectors.DefaultSelector()
        self._selector.register(self._log, selectors.EVENT_READ, "log")
        self._selector.register(self._res, selectors.EVENT_READ, "res")
        self._log_buf = b""
        self._res_buf = b""
        self.dead = False
        self._closed = False
        self.last_used = time.monotonic()
        self.init_reply: Reply | None = None  # set by whoever spawns it
        self.init_ms = 0.0

    # ---- the exchange ------------------------------------------------------------------------
    def init(self, timeout_s: float) -> Reply:
        return self._await_reply(time.monotonic() + timeout_s)

    def invoke(self, request: dict, timeout_s: float) -> Reply:
        deadline = time.monotonic() + timeout_s
        data = (json.dumps(request) + "\n").encode()
        try:
            while data:
                data = data[os.write(self._ctl, data) :]
        except OSError:  # the worker is gone (BrokenPipe)
            return self._died()
        reply = self._await_reply(deadline)
        self.last_used = time.monotonic()
        return reply

    def _await_reply(self, deadline: float) -> Reply:
        """Read the log and the result pipes until the result line and the log marker are in.

        The marker comes first on its pipe, so once the result is in, the marker is at most a
        moment behind; if it never comes (the function redirected fd 1), the reply stands anyway.
        """
        lines: list[LogLine] = []
        marked = False
        result: dict | None = None
        while not (marked and result is not None):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                if result is not None:
                    break
                self.kill()
                lines.extend(self._drain())
                return Reply("timeout", lines)
            for key, _ in self._selector.select(remaining):
                try:
                    chunk = os.read(key.fd, 65536)
                except BlockingIOError:
                    continue
                if key.data == "log":
                    if not chunk:  # fds 1 and 2 closed: no more output, but a result may still come
                        self._selector.unregister(key.fd)
                        self.dead = True  # no log pipe: unusable for the next invocation
                        marked = True
                        continue
                    new, marked_now = self._take_log(chunk)
                    lines.extend(new)
                    marked = marked or marked_now
                elif not chunk:  # the result pipe closed without a result: the worker is gone
                    reply = self._died()
                    reply.lines[:0] = lines
                    return reply
                else:
                    self._res_buf += chunk
                    if b"\n" in self._res_buf:
                        line, self._res_buf = self._res_buf.split(b"\n", 1)
                        result = json.loads(line)
                        deadline = min(deadline, time.monotonic() + 1.0)
        return self._to_reply(result, lines)

    def _take_log(self, chunk: bytes) -> tuple[list[LogLine], bool]:
        self._log_buf += chunk
        now = _now_ms()
        idx = self._log_buf.find(self._marker)
        if idx >= 0:
            text, self._log_buf = self._log_buf[:idx], self._log_buf[idx + len(self._marker) :]
            return [(now, line) for line in _split(text)], True
        cut = self._log_buf.rfind(b"\n")
        if cut < 0:
            return [], False
        text, self._log_buf = self._log_buf[: cut + 1], self._log_buf[cut + 1 :]
        return [(now, line) for line in _split(text)], False

    @staticmethod
    def _to_reply(result: dict, lines: list[LogLine]) -> Reply:
        rss = int(result.get("rssKb") or 0)
        if result.get("ok") or result.get("init") == "ok":
            return Reply("ok", lines, payload=result.get("payload"), rss_kb=rss)
        return Reply("error", lines, error=result.get("error"), error_log=result.get("log"), rss_kb=rss)

    def _died(self) -> Reply:
        self.dead = True
        lines = self._drain()
        try:
            code = self.proc.wait(timeout=2)
        except subprocess.TimeoutExpired:
            self.kill()
            code = self.proc.wait()
        self._close_fds()
        if code < 0:
            try:
                name = signal.Signals(-code).name
            except ValueError:
                name = f"signal {-code}"
            description = {
                "SIGSEGV": "signal: segmentation fault",
                "SIGKILL": "signal: killed",
                "SIGABRT": "signal: aborted",
            }.get(name, f"signal: {name.lower()}")
        else:
            description = f"exit status {code}"
        return Reply("crash", lines, exit_description=description)

    def _drain(self, budget_s: float = 0.5) -> list[LogLine]:
        """Whatever the worker wrote before dying (its log pipe reaches EOF when it is gone)."""
        end = time.monotonic() + budget_s
        out = b""
        try:
            while time.monotonic() < end:
                ready, _, _ = select.select([self._log], [], [], max(0.0, end - time.monotonic()))
                if not ready:
                    break
                try:
                    chunk = os.read(self._log, 65536)
                except BlockingIOError:
                    continue
                if not chunk:
                    break
                out += chunk
        except (OSError, ValueError):
            pass
        text = (self._log_buf + out).replace(self._marker, b"")
        self._log_buf = b""
        now = _now_ms()
        return [(now, line) for line in _split(text)]

    # ---- lifecycle ---------------------------------------------------------------------------
    def kill(self) -> None:
        self.dead = True
        if self.proc.returncode is not None:  # reaped: its pid may belong to someone else now
            return
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass

    def close(self) -> None:
        """Kill and reap (used when a worker is discarded or the cloud stops)."""
        self.kill()
        try:
            self.proc.wait(timeout=2)
        except subprocess.TimeoutExpired:
            pass
        self._close_fds()

    def _close_fds(self) -> None:
        if self._closed:  # closing an fd number twice could close someone else's file
            return
        self._closed = True
        try:
            self._selector.close()
        except (OSError, ValueError):
            pass
        for fd in (self._ctl, self._res):
            try:
                os.close(fd)
            except OSError:
                pass
        if self.proc.stdout is not None:
            self.proc.stdout.close()


def _split(text: bytes) -> list[str]:
    if not text:
        return []
    decoded = text.decode("utf-8", errors="replace")
    if decoded.endswith("\n"):
        decoded = decoded[:-1]
    return decoded.split("\n")


class Pool:
    """The warm workers of one function version (one configuration of it). Up to ``cap`` workers;
    a caller beyond that waits for one to come free."""

    def __init__(self, spawn: Callable[[], Worker], cap: int):
        self._spawn = spawn
        self.cap = cap
        self._cond = threading.Condition()
        self._idle: list[Worker] = []
        self._all: set[Worker] = set()
        self._starting = 0
        self.retired = False

    def acquire(self, wait_s: float | None) -> tuple[Worker, bool] | None:
        """(worker, cold) or None if none came free within ``wait_s`` (None: wait indefinitely)."""
        end = None if wait_s is None else time.monotonic() + wait_s
        with self._cond:
            while True:
                if self.retired:
                    raise PoolClosed()
                if self._idle:
                    return self._idle.pop(), False  # the most recently used: the warmest
                if len(self._all) + self._starting < self.cap:
                    self._starting += 1
                    break
                remaining = None if end is None else end - time.monotonic()
                if remaining is not None and remaining <= 0:
                    return None
                self._cond.wait(remaining if remaining is None else min(remaining, 1.0))
        try:
            worker = self._spawn()
        except BaseException:
            with self._cond:
                self._starting -= 1
                self._cond.notify()
            raise
        with self._cond:
            self._starting -= 1
            self._all.add(worker)
            if self.retired:
                self._all.discard(worker)
                worker.close()
                raise PoolClosed()
        return worker, True

    def release(self, worker: Worker) -> None:
        with self._cond:
            if worker.dead or self.retired:
                self._all.discard(worker)
                discard = True
            else:
                self._idle.append(worker)
                discard = False
            self._cond.notify()
        if discard:
            worker.close()

    def reap(self, idle_ttl_s: float) -> None:
        now = time.monotonic()
        with self._cond:
            stale = [w for w in self._idle if now - w.last_used > idle_ttl_s]
            for w in stale:
                self._idle.remove(w)
                self._all.discard(w)
        for w in stale:
            w.close()

    def retire(self) -> None:
        """No new invocations; idle workers go now, busy ones when they finish."""
        with self._cond:
            self.retired = True
            idle, self._idle = self._idle, []
            for w in idle:
                self._all.discard(w)
            self._cond.notify_all()
        for w in idle:
            w.close()

    def close(self) -> None:
        """Kill every worker, busy or not (the cloud is stopping)."""
        with self._cond:
            self.retired = True
            workers = list(self._all)
            self._idle = []
            self._cond.notify_all()
        for w in workers:
            w.kill()


class PoolClosed(Exception):
    """The pool was retired (config changed, or the cloud is stopping) while waiting."""
