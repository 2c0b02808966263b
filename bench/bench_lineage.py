"""Lineage reads as the history grows: the newest page and the by-commit read of one app at 10 000
and at 100 000 builds, in the local cloud's DynamoDB, and the ratio between them.

Starts ``sprout local up --no-sprout`` (a real moto server over HTTP; or uses ``--endpoint``),
creates a table from template.yaml's SproutTable, batch-writes builds with their commit markers
straight into it up to the first size, measures, writes more up to the next size, measures again,
then prints p50/p95 of each read at each size (target: p50 <= 20 ms) and the p50 ratio between the
largest and the smallest history. A page of builds is one GetItem (the app's build counter) plus one
BatchGetItem of 25 known keys (``table.numbered_page``) and a by-commit read is two GetItems (the
commit marker, then the build), so both ratios should be close to 1: the cost does not grow with
the history. The transactional writes (``record_build``, ``begin``/``finish_deployment``) are
measured last, on the largest history.

Where the time goes on the local cloud (profiled): moto's generic response serializer took ~80% of
a page (~1 ms per returned item) until localcloud.dynamodb.wire converted attribute values directly.
Transactions used to be slow because moto deep-copies the whole table before every
TransactWriteItems (localcloud.dynamodb checks the conditions first instead). The bench also prints
how long the cloud takes to exit after SIGTERM (the rule: within 5 s).

    .venv/bin/python bench/bench_lineage.py [--builds 10000,100000] [--samples 200] [--smoke]
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import boto3

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.smoke import parse  # noqa: E402
from sprout.cli.local import LocalSprout  # noqa: E402

TARGET_P50_MS = 20.0
NOW = "2026-01-01T00:00:00.000Z"


def stop_cloud(cloud: LocalSprout) -> None:
    start = time.perf_counter()
    try:
        cloud.stop(timeout=10)
    except subprocess.TimeoutExpired:
        print("warning: the local cloud did not exit within 10 s of SIGTERM (killed); its last output:")
        print("".join(cloud.printed[-20:]))
    else:
        print(f"local cloud stopped {time.perf_counter() - start:.1f} s after SIGTERM "
              f"({len(cloud.printed)} lines of output during the run)")


def create_table(endpoint: str, name: str) -> None:
    from sprout.domain.template import load_template

    props = load_template((ROOT / "template.yaml").read_text())["Resources"]["SproutTable"]["Properties"]
    keys = ("AttributeDefinitions", "KeySchema", "GlobalSecondaryIndexes", "BillingMode")
    boto3.client("dynamodb", endpoint_url=endpoint).create_table(TableName=name, **{k: props[k] for k in keys})


def seed(app: str, first: int, last: int) -> None:
    """Builds ``first``..``last`` of ``app`` and their commit markers, batch-written straight into the
    table (the transactional path is measured separately), and the app's counter set to ``last``."""
    from sprout.adapters.lineage.items import AppItem, BuildItem, CommitItem, app_pk, build_sk, commit_sk

    pk = app_pk(app)
    with BuildItem.batch_write() as builds, CommitItem.batch_write() as markers:
        for n in range(first, last + 1):
            commit = f"{n:040x}"
            builds.save(BuildItem(
                pk, build_sk(n), app=app, number=n, commit_id=commit, branch="main",
                status="SUCCEEDED", message=f"change {n}", author="bench", created_at=NOW, finished_at=NOW,
                functions=[{"logical_id": "Create", "sha256": "ab" * 32, "s3_key": f"artifacts/{'ab' * 32}.zip",
                            "config": {"Handler": "create.main", "Runtime": "python3.13", "MemorySize": 128}}],
                gsi2pk=f"COMMIT#{commit}", gsi2sk=pk,
            ))
            markers.save(CommitItem(pk, commit_sk(commit), app=app, commit_id=commit, build=n))
    AppItem(pk, "APP").update(actions=[AppItem.builds.set(last)])


def measure(name: str, samples: int, call: Callable[[int], object], target: float | None = None) -> float:
    """Print p50/p95 of ``samples`` calls (after one to warm up); return the p50 in ms."""
    call(0)  # warm: connection and first-use costs are not what we measure
    times = []
    for i in range(samples):
        start = time.perf_counter()
        call(i)
        times.append((time.perf_counter() - start) * 1000)
    times.sort()
    p50, p95 = statistics.median(times), times[max(0, int(len(times) * 0.95) - 1)]
    verdict = "" if target is None else f"  (target p50 <= {target:.0f} ms: {'met' if p50 <= target else 'MISSED'})"
    print(f"{name:<52} n={samples:<5} p50={p50:7.2f} ms  p95={p95:7.2f} ms{verdict}", flush=True)
    return p50


def reads(lineage, app: str, builds: int, samples: int) -> dict[str, float]:
    """The reads at a history of ``builds`` builds: p50 (ms) by name."""
    newest, token = lineage.list_builds(app)
    if newest[0].number != builds or len(newest) != min(25, builds) or (builds > 25) != bool(token):
        raise SystemExit(f"the newest page of {builds} builds starts at build {newest[0].number}, "
                         f"{len(newest)} builds: not the newest 25")
    label = f"{builds:,} builds".replace(",", " ")
    commits = [random.randint(1, builds) for _ in range(samples + 1)]

    def by_commit(i: int) -> None:
        if lineage.get_build_by_commit(app, f"{commits[i]:040x}").number != commits[i]:
            raise SystemExit(f"get_build_by_commit of build {commits[i]}'s commit answered another build")

    return {
        "newest page": measure(f"list_builds, newest page of 25 ({label})", samples,
                               lambda i: lineage.list_builds(app), TARGET_P50_MS),
        "second page": measure(f"list_builds, second page of 25 ({label})", samples,
                               lambda i: lineage.list_builds(app, next_token=token)),
        "by commit": measure(f"get_build_by_commit ({label})", samples, by_commit, TARGET_P50_MS),
        "get_build": measure(f"get_build ({label})", samples,
                             lambda i: lineage.get_build(app, random.randint(1, builds))),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--builds", default="10000,100000", help="history sizes to measure at, ascending")
    parser.add_argument("--samples", type=int, default=200)
    parser.add_argument("--endpoint", help="an already running local cloud (default: start one)")
    args = parse(parser, builds="30,300", samples=5)
    sizes = [int(s) for s in args.builds.split(",")]
    if sizes != sorted(set(sizes)) or sizes[0] < 1:
        parser.error("--builds: history sizes, ascending, each at least 1")

    data_dir = tempfile.mkdtemp(prefix="bench-lineage-")
    cloud = None
    if args.endpoint is None:  # a table of its own: no Sprout stack
        cloud = LocalSprout.start(Path(data_dir), with_sprout=False, cwd=ROOT)
    endpoint = args.endpoint or cloud.endpoint
    try:
        table = f"sprout-bench-{uuid.uuid4().hex[:8]}"
        os.environ.update(
            AWS_ENDPOINT_URL=endpoint, AWS_DEFAULT_REGION="us-east-1", AWS_ACCESS_KEY_ID="localcloud",
            AWS_SECRET_ACCESS_KEY="localcloud", TABLE_NAME=table,
        )
        from sprout.adapters.lineage import Lineage
        from sprout.domain.model import App, StageSpec

        create_table(endpoint, table)
        lineage = Lineage()
        app = lineage.create_app(App("notes", "notes", stages=(StageSpec("dev", "main", True), StageSpec("prod"))))
        print(f"local cloud {endpoint}; table {table}", flush=True)
        found: dict[int, dict[str, float]] = {}
        seeded = 0
        for size in sizes:
            start = time.perf_counter()
            seed(app.name, seeded + 1, size)
            print(f"seeded builds {seeded + 1}..{size} (+ commit markers) in {time.perf_counter() - start:.1f} s",
                  flush=True)
            seeded = size
            found[size] = reads(lineage, app.name, size, args.samples)

        if len(sizes) > 1:
            small, large = sizes[0], sizes[-1]
            print(f"p50 at {large} builds / p50 at {small} builds (close to 1: the read does not grow with the history):")
            for name in ("newest page", "by commit"):
                print(f"  {name:<12} {found[large][name] / found[small][name]:.2f}")

        writes = max(5, args.samples // 20)
        measure(f"record_build (transaction, {seeded} builds)", writes,
                lambda i: lineage.record_build(app.name, uuid.uuid4().hex, "main", "bench", "bench"))

        def deploy(i: int) -> None:
            d = lineage.begin_deployment(app.name, "dev", seeded, "deploy", {"type": "bench"})
            lineage.finish_deployment(app.name, "dev", d.id, "SUCCEEDED", versions={"Create": "1"})

        measure("begin + finish_deployment (2 transactions)", writes, deploy)
    finally:
        if cloud is not None:
            stop_cloud(cloud)
        shutil.rmtree(data_dir, ignore_errors=True)


if __name__ == "__main__":
    main()
