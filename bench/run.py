"""Run every ``bench/bench_*.py``: ``make bench`` (the figures, one after another) and ``make
bench-smoke`` (``--smoke``: that each one works, in CI; two side by side, ``--jobs 2``, each with its
own local cloud, its output printed whole when it ends).

Prints the machine the figures come from (cores, and load averages before and after: the figures
mean little without them), each bench's output and how long it took, and a summary. Every bench
runs even when one fails; the exit status is non-zero when any failed, or outran ``--timeout``
(then it is stopped with everything it started: it runs in a session of its own).

    .venv/bin/python bench/run.py [--smoke] [--jobs N] [--timeout SECONDS] [bench_lineage ...]
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path

BENCH = Path(__file__).resolve().parent


def machine() -> str:
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    return f"nproc {len(os.sched_getaffinity(0))}, load averages (1, 5, 15 min) {load}"


def benches(names: list[str]) -> list[Path]:
    every = sorted(BENCH.glob("bench_*.py"))
    if not names:
        return every
    chosen = [BENCH / f"{n.removesuffix('.py')}.py" for n in names]
    unknown = [p.name for p in chosen if p not in every]
    if unknown:
        raise SystemExit(f"no such bench: {', '.join(unknown)} (there are {', '.join(p.stem for p in every)})")
    return chosen


def end_group(process: subprocess.Popen, grace: float) -> None:
    """SIGTERM whatever is left of the bench's process group (the bench, a local cloud it started),
    and SIGKILL what is still there after ``grace`` seconds."""
    try:
        os.killpg(process.pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline:
        if process.poll() is None:
            time.sleep(0.1)
            continue
        try:
            os.killpg(process.pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.1)
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    process.wait()


def run(script: Path, smoke: bool, timeout: float, output=None) -> tuple[str, float, float]:
    """Run one bench, its output passed through (or written to ``output``); (outcome, seconds, CPU
    seconds). The CPU seconds (user + system, of the bench and of what it waited for: its local cloud,
    the cloud's functions, from wait4's resource usage of that one bench) say more than the seconds on
    a machine that other work shares."""
    started = time.monotonic()
    process = subprocess.Popen([sys.executable, str(script), *(["--smoke"] if smoke else [])],
                               cwd=BENCH.parent, start_new_session=True, stdout=output,
                               stderr=subprocess.STDOUT if output else None)
    code, cpu = None, 0.0
    deadline = started + timeout
    while time.monotonic() < deadline:
        pid, status, used = os.wait4(process.pid, os.WNOHANG)
        if pid:
            code, cpu = os.waitstatus_to_exitcode(status), used.ru_utime + used.ru_stime
            process.returncode = code
            break
        time.sleep(0.1)
    end_group(process, grace=15)  # what it started and left behind (a local cloud) goes with it
    if code is None:
        return f"FAILED (still running after {timeout:.0f} s: stopped)", time.monotonic() - started, cpu
    outcome = "ok" if code == 0 else f"FAILED (exit {code})"
    return outcome, time.monotonic() - started, cpu


def run_captured(script: Path, smoke: bool, timeout: float) -> tuple[str, float, float, str]:
    """``run`` with the bench's output kept, to print whole once it ends (benches running side by side)."""
    with tempfile.TemporaryFile("w+") as output:
        outcome, seconds, cpu = run(script, smoke, timeout, output)
        output.seek(0)
        return outcome, seconds, cpu, output.read()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="run each bench with --smoke")
    parser.add_argument("--timeout", type=float, default=3600, help="seconds one bench may take")
    parser.add_argument("--jobs", type=int, default=1,
                        help="benches run side by side, each with its own local cloud (a smoke run checks that they "
                             "work, so it may; figures want one at a time on a quiet machine)")
    parser.add_argument("names", nargs="*", help="benches to run (default: every bench/bench_*.py)")
    args = parser.parse_args()
    chosen = benches(args.names)
    print(f"{'smoke' if args.smoke else 'bench'} run of {len(chosen)} benches on {machine()}", flush=True)
    started, results = time.monotonic(), []
    if args.jobs <= 1:
        for script in chosen:
            print(f"\n=== {script.name}{' --smoke' if args.smoke else ''}", flush=True)
            outcome, seconds, cpu = run(script, args.smoke, args.timeout)
            results.append((script.name, outcome, seconds, cpu))
            print(f"=== {script.name}: {outcome} in {seconds:.1f} s ({cpu:.1f} s of CPU)", flush=True)
    else:
        with ThreadPoolExecutor(args.jobs) as pool:
            running = {pool.submit(run_captured, script, args.smoke, args.timeout): script for script in chosen}
            for done in as_completed(running):
                script = running[done]
                outcome, seconds, cpu, printed = done.result()
                results.append((script.name, outcome, seconds, cpu))
                print(f"\n=== {script.name}{' --smoke' if args.smoke else ''}\n{printed}"
                      f"=== {script.name}: {outcome} in {seconds:.1f} s ({cpu:.1f} s of CPU)", flush=True)
    print(f"\n{len(chosen)} benches in {time.monotonic() - started:.0f} s "
          f"({sum(r[3] for r in results):.0f} s of CPU); after: {machine()}")
    for name, outcome, seconds, cpu in results:
        print(f"  {name:<28} {seconds:6.1f} s  {cpu:6.1f} s CPU  {outcome}")
    failed = [name for name, outcome, _, _ in results if outcome != "ok"]
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
