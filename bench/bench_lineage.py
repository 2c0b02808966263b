"""Lineage reads as the history grows: the newest page and the by-commit read of an app with 10 000
and of an app with 100 000 builds, in the local cloud's DynamoDB, and the ratio between them.

Starts ``sprout local up --no-sprout`` (a real moto server over HTTP; or uses ``--endpoint``),
creates a table from template.yaml's SproutTable, batch-writes each app's builds with their commit
markers straight into it (setup), then measures the reads of all the apps in turn, sample by sample
(so that the machine's load, which changes, weighs on each alike), and prints p50/p95 of each read
for each history (target: p50 <= 20 ms) and the p50 ratio between the longest and the shortest.

A page of builds is one GetItem (the app's build counter) plus one BatchGetItem of 25 known keys
(``table.numbered_page``), and a by-commit read is two GetItems (the commit marker, then the
build): neither should grow with the history, so both ratios should be close to 1. The
transactional writes (``record_build``, ``begin``/``finish_deployment``) are measured last, on the
longest history.

Where the time goes on the local cloud (profiled): moto's generic response serializer took ~80% of
a page (~1 ms per returned item) until localcloud.dynamodb.wire converted attribute values directly.
Transactions used to be slow because moto deep-copies the whole table before every
TransactWriteItems (localcloud.dynamodb checks the conditions first instead). The bench also prints
how long the cloud takes to exit after SIGTERM (the rule: within 5 s).

    .venv/bin/python bench/bench_lineage.py [--builds 10000,100000] [--samples 200] [--smoke]
"""

from __future__ import annotations

import argparse
import random
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import boto3

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.cloud import start_cloud, stop_cloud, use_cloud  # noqa: E402
from bench.smoke import parse  # noqa: E402

TARGET_P50_MS = 20.0
NOW = "2026-01-01T00:00:00.000Z"


def create_table(endpoint: str, name: str) -> None:
    from sprout.domain.template import load_template

    props = load_template((ROOT / "template.yaml").read_text())["Resources"]["SproutTable"]["Properties"]
    keys = ("AttributeDefinitions", "KeySchema", "GlobalSecondaryIndexes", "BillingMode")
    boto3.client("dynamodb", endpoint_url=endpoint).create_table(TableName=name, **{k: props[k] for k in keys})


def seed(app: str, builds: int) -> None:
    """Builds 1..``builds`` of ``app`` and their commit markers, batch-written straight into the table
    (the transactional path is measured separately), and the app's build counter set to ``builds``."""
    from sprout.adapters.lineage.items import AppItem, BuildItem, CommitItem, app_pk, build_sk, commit_sk

    pk = app_pk(app)
    with BuildItem.batch_write() as items, CommitItem.batch_write() as markers:
        for n in range(1, builds + 1):
            commit = f"{n:040x}"
            items.save(BuildItem(
                pk, build_sk(n), app=app, number=n, commit_id=commit, branch="main",
                status="SUCCEEDED", message=f"change {n}", author="bench", created_at=NOW, finished_at=NOW,
                functions=[{"logical_id": "Create", "sha256": "ab" * 32, "s3_key": f"artifacts/{'ab' * 32}.zip",
                            "config": {"Handler": "create.main", "Runtime": "python3.13", "MemorySize": 128}}],
                gsi2pk=f"COMMIT#{commit}", gsi2sk=pk,
            ))
            markers.save(CommitItem(pk, commit_sk(commit), app=app, commit_id=commit, build=n))
    AppItem(pk, "APP").update(actions=[AppItem.builds.set(builds)])


def timed(samples: int, calls: dict[int, Callable[[int], object]]) -> dict[int, list[float]]:
    """Milliseconds of ``samples`` calls of each of ``calls``, taken in turn (after one each to warm up)."""
    for call in calls.values():
        call(0)  # warm: connection and first-use costs are not what we measure
    times: dict[int, list[float]] = {key: [] for key in calls}
    for i in range(samples):
        for key, call in calls.items():
            start = time.perf_counter()
            call(i)
            times[key].append((time.perf_counter() - start) * 1000)
    return times


def report(name: str, times: list[float], target: float | None = None) -> float:
    """Print p50/p95 of ``times``; return the p50 in ms."""
    times = sorted(times)
    p50, p95 = statistics.median(times), times[max(0, int(len(times) * 0.95) - 1)]
    verdict = "" if target is None else f"  (target p50 <= {target:.0f} ms: {'met' if p50 <= target else 'MISSED'})"
    print(f"{name:<54} n={len(times):<5} p50={p50:7.2f} ms  p95={p95:7.2f} ms{verdict}", flush=True)
    return p50


def spaced(n: int) -> str:
    return f"{n:,}".replace(",", " ")


def first_page(lineage, app: str, builds: int) -> str | None:
    """The token of the second page, after checking that the newest page is the newest builds."""
    newest, token = lineage.list_builds(app)
    if [b.number for b in newest] != list(range(builds, max(builds - 25, 0), -1)) or (builds > 25) != bool(token):
        raise SystemExit(f"the newest page of {builds} builds is builds {[b.number for b in newest]}")
    return token


def reads(lineage, apps: dict[int, str], samples: int) -> dict[str, dict[int, float]]:
    """Each read of each app (by its number of builds), in turn: p50 (ms) by read and history."""
    tokens = {size: first_page(lineage, app, size) for size, app in apps.items()}
    picks = {size: [random.randint(1, size) for _ in range(samples + 1)] for size in apps}

    def by_commit(size: int) -> Callable[[int], object]:
        def call(i: int) -> None:
            n = picks[size][i]
            if lineage.get_build_by_commit(apps[size], f"{n:040x}").number != n:
                raise SystemExit(f"get_build_by_commit of build {n}'s commit answered another build")
        return call

    cases = {
        "list_builds, newest page of 25": ({s: (lambda i, a=a: lineage.list_builds(a)) for s, a in apps.items()},
                                           TARGET_P50_MS),
        "list_builds, second page of 25": (
            {s: (lambda i, a=a, s=s: lineage.list_builds(a, next_token=tokens[s])) for s, a in apps.items()}, None),
        "get_build_by_commit": ({s: by_commit(s) for s in apps}, TARGET_P50_MS),
        "get_build": ({s: (lambda i, a=a, s=s: lineage.get_build(a, picks[s][i])) for s, a in apps.items()}, None),
    }
    found: dict[str, dict[int, float]] = {}
    for name, (calls, target) in cases.items():
        times = timed(samples, calls)
        found[name] = {size: report(f"{name} ({spaced(size)} builds)", times[size], target) for size in apps}
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--builds", default="10000,100000", help="history lengths, ascending: an app with each many builds")
    parser.add_argument("--samples", type=int, default=200)
    parser.add_argument("--endpoint", help="an already running local cloud (default: start one)")
    args = parse(parser, builds="30,300", samples=5)
    sizes = [int(s) for s in args.builds.split(",") if s.strip().isdigit()]
    if len(sizes) != len(args.builds.split(",")) or sizes != sorted(set(sizes)) or sizes[0] < 1:
        parser.error("--builds: whole numbers of builds, ascending, separated by commas, each at least 1")

    data_dir = tempfile.mkdtemp(prefix="bench-lineage-")
    cloud = None
    if args.endpoint is None:  # a table of its own: no Sprout stack
        cloud = start_cloud(Path(data_dir), with_sprout=False)
    endpoint = args.endpoint or cloud.endpoint
    try:
        table = f"sprout-bench-{uuid.uuid4().hex[:8]}"
        use_cloud(endpoint, TABLE_NAME=table)
        from sprout.adapters.lineage import Lineage
        from sprout.domain.model import App, StageSpec

        create_table(endpoint, table)
        lineage = Lineage()
        print(f"local cloud {endpoint}; table {table}", flush=True)
        apps = {}
        for size in sizes:  # an app of its own for each history
            app = lineage.create_app(App(f"notes{size}", f"notes{size}",
                                         stages=(StageSpec("dev", "main", True), StageSpec("prod"))))
            start = time.perf_counter()
            seed(app.name, size)
            print(f"seeded app {app.name}: {spaced(size)} builds (+ commit markers) in "
                  f"{time.perf_counter() - start:.1f} s", flush=True)
            apps[size] = app.name
        found = reads(lineage, apps, args.samples)
        if len(sizes) > 1:
            small, large = sizes[0], sizes[-1]
            print(f"p50 with {spaced(large)} builds / p50 with {spaced(small)} builds (close to 1: the read does "
                  "not grow with the history):")
            for name in ("list_builds, newest page of 25", "get_build_by_commit"):
                print(f"  {name:<32} {found[name][large] / found[name][small]:.2f}")

        app, seeded = apps[sizes[-1]], sizes[-1]
        writes = max(5, args.samples // 20)
        record = timed(writes, {0: lambda i: lineage.record_build(app, uuid.uuid4().hex, "main", "bench", "bench")})
        report(f"record_build (transaction, {spaced(seeded)} builds)", record[0])

        def deploy(i: int) -> None:
            d = lineage.begin_deployment(app, "dev", seeded, "deploy", {"type": "bench"})
            lineage.finish_deployment(app, "dev", d.id, "SUCCEEDED", versions={"Create": "1"})

        report("begin + finish_deployment (2 transactions)", timed(writes, {0: deploy})[0])
    finally:
        if cloud is not None:
            stop_cloud(cloud)
        shutil.rmtree(data_dir, ignore_errors=True)


if __name__ == "__main__":
    main()
