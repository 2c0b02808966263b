"""A small stand-in for Sprout's API on 127.0.0.1, for the CLI's tests: real HTTP, canned answers
shaped as the API contract says, and a refusal (403, as API Gateway answers) of any request that is
not SigV4-signed. It records what it was asked."""

from __future__ import annotations

import json
import threading
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

Answer = tuple[int, Any]
PREFIX = "/api"  # the API stage's path, as in an API Gateway URL


@dataclass
class Asked:
    method: str
    path: str  # as sent, still percent-encoded
    query: dict[str, str]
    body: Any
    headers: dict[str, str]


@dataclass
class FakeSproutApi:
    routes: dict[tuple[str, str], list[Answer] | Callable[[Asked], Answer]] = field(default_factory=dict)
    asked: list[Asked] = field(default_factory=list)

    def on(self, method: str, path: str, *answers: Answer) -> FakeSproutApi:
        """Answer ``method path`` with ``answers`` in turn, the last one for good."""
        self.routes[(method, path)] = list(answers)
        return self

    def on_call(self, method: str, path: str, answer: Callable[[Asked], Answer]) -> FakeSproutApi:
        self.routes[(method, path)] = answer
        return self

    def paths(self, method: str | None = None) -> list[str]:
        return [a.path for a in self.asked if method is None or a.method == method]

    def answer(self, asked: Asked) -> Answer:
        authorization = asked.headers.get("Authorization", "")
        signed = (
            authorization.startswith("AWS4-HMAC-SHA256 Credential=")
            and "/execute-api/aws4_request" in authorization
            and "SignedHeaders=" in authorization
            and "Signature=" in authorization
            and "X-Amz-Date" in asked.headers
        )
        if not signed:
            return 403, {"message": "Missing Authentication Token"}
        self.asked.append(asked)
        route = self.routes.get((asked.method, asked.path))
        if route is None:
            return 500, {"message": f"the fake API has no answer for {asked.method} {asked.path}"}
        if callable(route):
            return route(asked)
        return route.pop(0) if len(route) > 1 else route[0]

    def __enter__(self) -> FakeSproutApi:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def _serve(self) -> None:
                split = urllib.parse.urlsplit(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                asked = Asked(
                    method=self.command,
                    path=split.path.removeprefix(PREFIX),
                    query=dict(urllib.parse.parse_qsl(split.query)),
                    body=json.loads(raw) if raw else None,
                    headers=dict(self.headers.items()),
                )
                status, body = fake.answer(asked)
                payload = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _serve

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.02,), daemon=True)
        self.thread.start()
        return self

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}{PREFIX}"

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
