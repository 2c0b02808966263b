"""The guard: what every process tree the local cloud starts (a Lambda worker, a CodeBuild
command) runs under, so that nothing outlives the local cloud and a function stays in its memory.

    python -I -S guard.py --parent PID [--memory-kb N] [--linger-while PATH] -- command [args...]

The leader of its own process group (``start_new_session``), the guard starts the command in that
group, hands it every inherited fd and keeps none itself (so the caller's pipes reach EOF exactly
when the command's side closes them), then polls every 50 ms:

- **the parent**: when its parent is no longer PID (the local cloud died, however: SIGKILL, a
  crash, an OOM kill), it kills its whole process group with SIGKILL — the command and everything
  the command started (installers, their children) — and itself. ``prctl(PR_SET_PDEATHSIG)`` would
  not do: it fires when the *thread* that forked the child exits, and the local cloud starts
  workers from short-lived request threads;
- **the memory**: with ``--memory-kb``, when the command's resident set (VmRSS) exceeds N KB, it
  kills the command with SIGKILL, as Lambda does with a function past its MemorySize;
- **the command's end**: it ends the same way as the command (the same exit status, or the same
  signal), so the caller sees the command's own outcome. What the command left running in the
  group is killed then (a Lambda worker's children: the execution environment is gone) — or, with
  ``--linger-while PATH``, left running (a CodeBuild command's background process serves the
  build's next commands) under a watcher that stays in the group and kills it when PATH is gone
  (the build ended) or the parent died.

Standard library only: it runs with ``-I -S`` and imports nothing of localcloud's.
"""

from __future__ import annotations

import os
import signal
import sys
import time

POLL_S = 0.05
LINGER_POLL_S = 0.5
GUARD = os.path.abspath(__file__)


def guarded(command: list[str], memory_kb: int | None = None, linger_while: str | None = None) -> list[str]:
    """``command`` run under the guard, watched for this process's death (and ``memory_kb``).
    Start it with ``start_new_session=True``: the guard kills its own process group."""
    python = getattr(sys, "_base_executable", None) or sys.executable
    head = [python, "-I", "-S", GUARD, "--parent", str(os.getpid())]
    if memory_kb is not None:
        head += ["--memory-kb", str(int(memory_kb))]
    if linger_while is not None:
        head += ["--linger-while", str(linger_while)]
    return [*head, "--", *command]


def rss_kb(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/statm", "rb") as f:
            return int(f.read().split()[1]) * (os.sysconf("SC_PAGE_SIZE") // 1024)
    except (OSError, ValueError, IndexError):
        return 0


def start_time(pid: int) -> str | None:
    """The process's start time (clock ticks since boot): with the pid, who it is."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            return f.read().rsplit(b")", 1)[1].split()[19].decode()
    except (OSError, IndexError):
        return None


def parse(argv: list[str]) -> tuple[int, int | None, str | None, list[str]]:
    parent, memory_kb, linger = 0, None, None
    i = 0
    while i < len(argv) and argv[i] != "--":
        if argv[i] == "--parent":
            parent = int(argv[i + 1])
        elif argv[i] == "--memory-kb":
            memory_kb = int(argv[i + 1])
        elif argv[i] == "--linger-while":
            linger = argv[i + 1]
        else:
            raise SystemExit(f"guard: unknown option {argv[i]}")
        i += 2
    command = argv[i + 1 :]
    if not parent or not command:
        raise SystemExit("usage: guard.py --parent PID [--memory-kb N] [--linger-while PATH] -- command [args...]")
    return parent, memory_kb, linger, command


def others() -> list[int]:
    """The group's other live members (not the guard)."""
    me, group, found = os.getpid(), os.getpgrp(), []
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == me:
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as f:
                fields = f.read().rsplit(b")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == group and fields[0] != b"Z":
            found.append(int(entry))
    return found


def kill_group() -> None:
    try:
        os.killpg(0, signal.SIGKILL)
    finally:
        os._exit(137)


def linger(parent: int, parent_started: str | None, path: str) -> None:
    """In a forked watcher: keep the group's leftovers until ``path`` is gone or the parent died."""
    while others():
        if not os.path.exists(path) or start_time(parent) != parent_started:
            kill_group()
        time.sleep(LINGER_POLL_S)
    os._exit(0)


def main(argv: list[str]) -> None:
    parent, memory_kb, linger_path, command = parse(argv)
    if os.getpgrp() != os.getpid():  # never kill a group that is not the guard's own
        os.setpgid(0, 0)
    parent_started = start_time(parent)
    if os.getppid() != parent:  # the parent died before the guard started
        kill_group()
    try:
        child = os.posix_spawnp(command[0], command, dict(os.environ))
    except OSError as e:
        print(f"guard: cannot run {command[0]}: {e.strerror}", file=sys.stderr, flush=True)
        os._exit(127)
    devnull = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(devnull, fd)
    os.closerange(3, os.sysconf("SC_OPEN_MAX") if os.sysconf("SC_OPEN_MAX") > 0 else 4096)
    while True:
        pid, status = os.waitpid(child, os.WNOHANG)
        if pid == child:
            break
        if os.getppid() != parent:
            kill_group()
        if memory_kb is not None and rss_kb(child) > memory_kb:
            try:
                os.kill(child, signal.SIGKILL)
            except ProcessLookupError:
                pass
        time.sleep(POLL_S)
    left = others()
    if left and linger_path is not None:
        if os.fork() == 0:
            linger(parent, parent_started, linger_path)
    else:
        for pid in left:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
    if os.WIFSIGNALED(status):
        sig = os.WTERMSIG(status)
        try:
            signal.signal(sig, signal.SIG_DFL)
        except (OSError, ValueError):  # SIGKILL, SIGSTOP: already their default
            pass
        os.kill(os.getpid(), sig)
    os._exit(os.waitstatus_to_exitcode(status))


if __name__ == "__main__":
    main(sys.argv[1:])
