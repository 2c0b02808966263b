"""Notifications in the story (issue 24): a webhook receiver the demo starts on a loopback address,
registered with ``sprout notifications set`` before the broken build, for ``deployment.rolledBack``
and ``issue.new``. After step 7 it must have printed prod's ``issue.new`` (the NameError, new in
build #2) and the hand rollback's ``deployment.rolledBack`` exactly once each, signed with the
secret the CLI printed once; after step 8, the automatic rollback's. The report's timeline lists
every notification received."""

from __future__ import annotations

import json
import re
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from demo.console import check, poll
from demo.story import APP, Demo
from sprout.domain.notifications import verify

EVENTS = ("deployment.rolledBack", "issue.new")


class Receiver:
    def __init__(self) -> None:
        self.got: list[dict] = []
        self.secret = ""
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                text = self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode()
                signature = self.headers.get("X-Sprout-Signature") or ""
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()
                body = json.loads(text)
                receiver.got.append({"at": time.time(), "body": body, "signed": verify(receiver.secret, text, signature)})

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/sprout"
        threading.Thread(target=self.server.serve_forever, name="demo-webhook", daemon=True).start()

    def of(self, event: str, **where: object) -> list[dict]:
        return [g for g in self.got if g["body"].get("event") == event
                and all(_at(g["body"], k) == v for k, v in where.items())]


def _at(body: dict, dotted: str) -> object:
    node: object = body
    for part in dotted.split("."):
        node = node.get(part) if isinstance(node, dict) else None
    return node


_receiver: Receiver | None = None


def start(d: Demo) -> None:
    """After step 1: the receiver, and the app's webhook target through the CLI."""
    global _receiver
    _receiver = Receiver()
    out = d.sprout("notifications", "set", APP, "--webhook", ",".join((_receiver.url, *EVENTS)))
    found = re.search(r"\(shown once\): (\S+)", out)
    check(found is not None, f"`sprout notifications set` printed no secret:\n{out}")
    assert found is not None
    _receiver.secret = found.group(1)
    d.tl.record(f"webhook receiver on {_receiver.url}, registered for {', '.join(EVENTS)} (its secret shown once)")


def _once(d: Demo, what: str, event: str, **where: object) -> dict:
    assert _receiver is not None
    [got] = poll(f"the {what} notification", lambda: _receiver.of(event, **where), timeout=30)
    check(got["signed"], f"the {what} notification's signature does not verify")
    body = got["body"]
    print(f"   webhook got {event}: {body['what']}", flush=True)
    d.tl.record(f"webhook: {event} ({body['what']}), signed")
    return got


def after_step(d: Demo, number: str) -> None:
    """The notifications a step must have brought, each exactly once."""
    if _receiver is None or number not in ("7", "8"):
        return
    current = d.stage("prod").get("currentDeployment") or {}
    if number == "7":
        issue = next(i for i in d.get("/stages/prod/issues")["issues"] if i["type"] == "NameError")
        _once(d, "prod NameError", "issue.new", stage="prod", **{"issue.id": issue["id"]})
    _once(d, f"{current.get('kind')} {current.get('id')}", "deployment.rolledBack", stage="prod",
          **{"deployment.id": current.get("id")})
    # once each: the ones checked above came once, and no notification came twice
    seen = [(g["body"]["event"], g["body"].get("stage"), json.dumps(g["body"].get("deployment") or g["body"].get("issue"),
                                                                    sort_keys=True)) for g in _receiver.got]
    check(len(seen) == len(set(seen)), f"a notification came twice: {seen}")


def summary(d: Demo) -> None:
    if _receiver is not None:
        counts: dict[str, int] = {}
        for g in _receiver.got:
            counts[g["body"]["event"]] = counts.get(g["body"]["event"], 0) + 1
        d.tl.figure("notifications received (webhook)", ", ".join(f"{k} × {v}" for k, v in sorted(counts.items()))
                    or "none")
