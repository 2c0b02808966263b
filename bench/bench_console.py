"""Time to first paint of the console's pipeline page and stage monitoring page, in headless
Chromium (Debian's, driven by Playwright), over a day's worth of monitoring data.

Starts ``sprout local up``, registers and pushes the notes app (build 1 on dev), turns its access
logs on, seeds the local cloud as bench/bench_monitoring.py does (100 000 access-log lines over
24 hours, a day of one-minute API metrics, 100 000 function log lines), serves the console on a
free port and opens each page ``--runs`` times, reading the browser's own performance timing:
``first-contentful-paint`` (and the server's part, ``responseEnd - requestStart``). Targets: the
median first paint ≤ 1000 ms for each page.

    .venv/bin/python bench/bench_console.py [--runs 5] [--lines 100000]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import threading
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT))

from bench.bench_monitoring import measure, seeded_stage  # noqa: E402
from bench.cloud import bench_cloud  # noqa: E402
from bench.smoke import parse  # noqa: E402
from sprout.cli.client import SproutClient  # noqa: E402
from sprout.console.server import serve  # noqa: E402

TARGET_MS = 1000
CHROMIUM = os.environ.get("SPROUT_CHROMIUM", "/usr/bin/chromium")
TIMING = """() => new Promise((resolve) => {
  const nav = performance.getEntriesByType('navigation')[0];
  new PerformanceObserver((list) => {
    const paint = list.getEntriesByName('first-contentful-paint')[0];
    if (paint) { resolve({paint: paint.startTime, server: nav.responseEnd - nav.requestStart}); }
  }).observe({type: 'paint', buffered: true});
})"""


def start_console(sprout: SproutClient) -> str:
    urls: list[str] = []
    ready = threading.Event()
    threading.Thread(target=serve, args=(sprout, 0, lambda url: (urls.append(url), ready.set())), daemon=True).start()
    if not ready.wait(10):
        raise RuntimeError("the console did not start")
    return urls[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--lines", type=int, default=100_000)
    args = parse(parser, runs=1, lines=200)
    from playwright.sync_api import sync_playwright

    with bench_cloud("bench-console-") as (cloud, data_dir):
        sprout, _ = seeded_stage(cloud, data_dir, args.lines,
                              [{"name": "dev", "branch": "main", "autoDeploy": True}, {"name": "prod"}])
        print(f"{'the stage page API calls, alone (ms)':40s}")
        for path, query in [("/apps/notes/stages/dev", None), ("/apps/notes/stages/dev/deployments", {"limit": "50"}),
                            ("/apps/notes/stages/dev/functions", None),
                            ("/apps/notes/stages/dev/metrics", {"since": "1d"}),
                            ("/apps/notes/stages/dev/access-logs", {"since": "1d", "limit": "50"}),
                            ("/apps/notes/stages/dev/access-logs", {"since": "1d", "limit": "50", "status": "5xx"})]:
            took, _ = measure(sprout, path, query, 3)
            print(f"  {path.rsplit('/', 1)[1]:20s} {query or ''!s:50s} {statistics.median(took):7.0f}")
        print()
        url = start_console(sprout).rstrip("/")
        pages = {
            "pipeline": f"{url}/apps/notes",
            "stage monitoring, 1 day": f"{url}/apps/notes/stages/dev?since=1d",
            "stage monitoring, 1 day, 5xx": f"{url}/apps/notes/stages/dev?since=1d&status=5xx",
        }
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
            page = browser.new_page(viewport={"width": 1366, "height": 900})
            page.goto(pages["pipeline"])  # warm: the session cookie, the static files in cache
            print(f"{'first contentful paint (ms)':32s} {'p50':>7s} {'max':>7s} {'server':>7s} {'target':>7s}  result")
            for label, address in pages.items():
                paints, servers = [], []
                for _ in range(args.runs):
                    page.goto(address, wait_until="load")
                    timing = page.evaluate(TIMING)
                    paints.append(timing["paint"])
                    servers.append(timing["server"])
                p50 = statistics.median(paints)
                verdict = "met" if p50 <= TARGET_MS else "MISSED"
                print(f"{label:32s} {p50:7.0f} {max(paints):7.0f} {statistics.median(servers):7.0f} "
                      f"{TARGET_MS:7d}  {verdict}", flush=True)
            browser.close()


if __name__ == "__main__":
    main()
