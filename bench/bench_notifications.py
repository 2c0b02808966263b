"""Bench: a notification, from Sprout's event to the webhook (issue 24). Target: event -> webhook
received p50 <= 2 s.

Starts the local cloud with Sprout (IAM enforced), registers an app, sets a webhook target on a
loopback HTTP server in this process, then per round puts a `Sprout Deployment State Change` of a
rollback (as the lineage puts it when a rollback's record closes) and times until the webhook has
the signed `deployment.rolledBack` notification: the notifier function, the target's queue, its
EventBridge pipe and API destination, over HTTP. Each body's X-Sprout-Signature header is checked.

    .venv/bin/python bench/bench_notifications.py [--rounds 20]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import boto3

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT))

from bench.cloud import bench_cloud  # noqa: E402
from bench.smoke import parse  # noqa: E402
from sprout.cli.client import SproutClient  # noqa: E402
from sprout.domain.notifications import verify  # noqa: E402

APP = "notes"


class Receiver:
    def __init__(self) -> None:
        self.seen: dict[str, tuple[float, str, str]] = {}  # deployment id -> (when, body, signature)
        self.cv = threading.Condition()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode()
                got = time.time()
                signature = self.headers.get("X-Sprout-Signature") or ""
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()
                deployment = (json.loads(body).get("deployment") or {}).get("id")
                with receiver.cv:
                    receiver.seen[str(deployment)] = (got, body, signature)
                    receiver.cv.notify_all()

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def wait(self, deployment: str, timeout: float = 60) -> tuple[float, str, str]:
        with self.cv:
            if not self.cv.wait_for(lambda: deployment in self.seen, timeout):
                raise SystemExit(f"bench_notifications: no notification for deployment {deployment} within {timeout:g} s")
            return self.seen[deployment]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=20)
    args = parse(parser, rounds=2)
    receiver = Receiver()
    try:
        with bench_cloud("sprout-bench-notify-", enforce_iam=True) as (cloud, _):
            sprout = SproutClient(cloud.api_url)
            boto3.client("codecommit").create_repository(repositoryName=APP)
            sprout.request("POST", "/apps", {"name": APP, "repository": APP,
                                             "stages": [{"name": "dev", "branch": "main", "autoDeploy": True},
                                                        {"name": "prod"}]})
            answer = sprout.request("PUT", f"/apps/{APP}/notifications", {"targets": [
                {"type": "webhook", "url": receiver.url, "events": ["deployment.rolledBack"]}]})
            secret = answer["targets"][0]["secret"]
            events = boto3.client("events")
            lags = []
            for n in range(args.rounds + 1):  # the first warms the notifier (a cold start), not counted
                deployment = f"{n:06d}"
                put = time.time()
                events.put_events(Entries=[{"Source": "sprout", "DetailType": "Sprout Deployment State Change",
                                            "Detail": json.dumps({"app": APP, "stage": "prod", "deploymentId": deployment,
                                                                  "build": 1, "kind": "rollback", "auto": False,
                                                                  "status": "SUCCEEDED", "failure": None})}])
                got, body, signature = receiver.wait(deployment)
                if not verify(secret, body, signature):
                    raise SystemExit(f"bench_notifications: the signature of {deployment}'s notification does not verify")
                if n:
                    lags.append(got - put)
            p50 = statistics.median(lags)
            print(f"event -> webhook received, {len(lags)} rounds (after one cold): "
                  + ", ".join(f"{v:.2f}" for v in lags)
                  + f" s; p50 {p50:.2f} s, max {max(lags):.2f} s (target p50 <= 2 s: {'met' if p50 <= 2 else 'MISSED'})",
                  flush=True)
    finally:
        receiver.server.shutdown()


if __name__ == "__main__":
    main()
