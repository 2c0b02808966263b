"""Lineage reads with a long history: 10 000 builds of one app in the local cloud's DynamoDB.

Starts ``sprout local up --port 0`` (a real moto server over HTTP), creates the table from
template.yaml's SproutTable, batch-writes 10 000 builds with their commit markers (setup), then
prints p50/p95 of the newest page of ``list_builds`` and of ``get_build_by_commit`` (target: p50
<= 20 ms), and of the transactional writes (``record_build``, ``begin``/``finish_deployment``).

Where the time goes on the local cloud (profiled): a page of builds is one GetItem (the counter)
plus one BatchGetItem of 25 known keys, independent of the history's length. moto's generic
response serializer took ~80% of it (~1 ms per returned item) until localcloud.dynamodb.wire
converted attribute values directly (page p50 34 -> ~12 ms). Transactions used to be slow because
moto deep-copies the whole table before every TransactWriteItems (localcloud.dynamodb checks the
conditions first instead). The bench also prints how long the cloud takes to exit after SIGTERM
(the rule: within 5 s).

    .venv/bin/python bench/bench_lineage.py [--builds 10000] [--samples 200]
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import statistics
import subprocess
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import boto3

from sprout.cli.local import LocalSprout

ROOT = Path(__file__).resolve().parents[1]
TARGET_P50_MS = 20.0


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


def seed(lineage_mod, app: str, builds: int) -> None:
    """Write the history directly (batch writes): the transactional path is measured separately."""
    m = lineage_mod
    now = "2026-01-01T00:00:00.000Z"
    with m.BuildItem.batch_write() as builds_batch, m.CommitItem.batch_write() as markers:
        for n in range(1, builds + 1):
            commit = f"{n:040x}"
            builds_batch.save(m.BuildItem(
                m.app_pk(app), m.build_sk(n), app=app, number=n, commit_id=commit, branch="main",
                status="SUCCEEDED", message=f"change {n}", author="bench", created_at=now, finished_at=now,
                functions=[{"logical_id": "Create", "sha256": "ab" * 32, "s3_key": f"artifacts/{'ab' * 32}.zip",
                            "config": {"Handler": "create.main", "Runtime": "python3.13", "MemorySize": 128}}],
                gsi2pk=f"COMMIT#{commit}", gsi2sk=m.app_pk(app),
            ))
            markers.save(m.CommitItem(m.app_pk(app), m.commit_sk(commit), app=app, commit_id=commit, build=n))
    m.AppItem(m.app_pk(app), "APP").update(actions=[m.AppItem.builds.set(builds)])


def measure(name: str, samples: int, call: Callable[[int], object], target: float | None = None) -> None:
    call(0)  # warm: connection and first-use costs are not what we measure
    times = []
    for i in range(samples):
        start = time.perf_counter()
        call(i)
        times.append((time.perf_counter() - start) * 1000)
    times.sort()
    p50, p95 = statistics.median(times), times[int(len(times) * 0.95) - 1]
    verdict = "" if target is None else f"  (target p50 <= {target:.0f} ms: {'met' if p50 <= target else 'MISSED'})"
    print(f"{name:<42} n={samples:<5} p50={p50:7.2f} ms  p95={p95:7.2f} ms{verdict}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--builds", type=int, default=10_000)
    parser.add_argument("--samples", type=int, default=200)
    args = parser.parse_args()

    data_dir = tempfile.mkdtemp(prefix="bench-lineage-")
    cloud = LocalSprout.start(Path(data_dir), with_sprout=False, cwd=ROOT)  # a table of its own: no Sprout stack
    endpoint = cloud.endpoint
    try:
        table = f"sprout-bench-{uuid.uuid4().hex[:8]}"
        os.environ.update(
            AWS_ENDPOINT_URL=endpoint, AWS_DEFAULT_REGION="us-east-1", AWS_ACCESS_KEY_ID="localcloud",
            AWS_SECRET_ACCESS_KEY="localcloud", TABLE_NAME=table,
        )
        from sprout.adapters import lineage as lineage_mod
        from sprout.domain.model import App, StageSpec

        create_table(endpoint, table)
        lineage = lineage_mod.Lineage()
        app = lineage.create_app(App("notes", "notes", stages=(StageSpec("dev", "main", True), StageSpec("prod"))))
        start = time.perf_counter()
        seed(lineage_mod, app.name, args.builds)
        print(f"local cloud {endpoint}; seeded {args.builds} builds (+ commit markers) in {time.perf_counter() - start:.1f} s")

        newest, token = lineage.list_builds(app.name)
        assert newest[0].number == args.builds and token, "the newest page must start at the newest build"
        measure("list_builds (newest page of 25)", args.samples, lambda i: lineage.list_builds(app.name), TARGET_P50_MS)
        measure("list_builds (second page of 25)", args.samples,
                lambda i: lineage.list_builds(app.name, next_token=token))
        commits = [f"{random.randint(1, args.builds):040x}" for _ in range(args.samples + 1)]
        measure("get_build_by_commit", args.samples, lambda i: lineage.get_build_by_commit(app.name, commits[i]),
                TARGET_P50_MS)
        measure("get_build", args.samples, lambda i: lineage.get_build(app.name, random.randint(1, args.builds)))

        writes = max(5, args.samples // 20)
        measure("record_build (transaction)", writes,
                lambda i: lineage.record_build(app.name, uuid.uuid4().hex, "main", "bench", "bench"))

        def deploy(i: int) -> None:
            d = lineage.begin_deployment(app.name, "dev", args.builds, "deploy", {"type": "bench"})
            lineage.finish_deployment(app.name, "dev", d.id, "SUCCEEDED", versions={"Create": "1"})

        measure("begin + finish_deployment (2 transactions)", writes, deploy)
    finally:
        stop_cloud(cloud)
        shutil.rmtree(data_dir, ignore_errors=True)


if __name__ == "__main__":
    main()
