"""`sprout console`: a small WSGI app on 127.0.0.1, a client of Sprout's HTTP API.

The browser never sees AWS credentials: every call to Sprout is made here, SigV4-signed by
``SproutClient`` exactly as the CLI signs it. What protects the person running it:

- it binds loopback only;
- a request whose ``Host`` is not the console's own ``127.0.0.1:<port>`` / ``localhost:<port>``
  is refused (DNS rebinding), and so is one whose ``Origin`` (when sent) is not the console's own
  or whose ``Sec-Fetch-Site`` says ``cross-site`` (cross-site requests);
- a state-changing action is a POST carrying a per-session token: the session is a random
  HttpOnly, SameSite=Strict cookie, the token an HMAC of it under a per-process secret, compared in
  constant time;
- pages are sent with a Content-Security-Policy allowing only the console's own scripts and styles.
"""

from __future__ import annotations

import hashlib
import hmac
import mimetypes
import re
import secrets
import socketserver
import traceback
import urllib.parse
from collections.abc import Callable, Iterable
from http.cookies import SimpleCookie
from pathlib import Path
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from jinja2 import Environment, FileSystemLoader, select_autoescape

from sprout.cli.client import SproutClient
from sprout.console import actions, monitoring, pages, previews
from sprout.console.web import Request, Response, Route, redirect

__all__ = ["Console", "Request", "Response", "redirect", "serve"]

HERE = Path(__file__).resolve().parent
STATIC = HERE / "static"
COOKIE = "sprout_console"
MAX_FORM = 64 * 1024
SECURITY_HEADERS = [
    (
        "Content-Security-Policy",
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    ),
    ("X-Frame-Options", "DENY"),
    ("X-Content-Type-Options", "nosniff"),
    # not "no-referrer": with it a browser sends `Origin: null` on the console's own form posts
    ("Referrer-Policy", "same-origin"),
    ("Cache-Control", "no-store"),
]


def _routes() -> list[Route]:
    """Every page's route, joined from the page modules (no import registers anything)."""
    return [*actions.routes.routes, *monitoring.routes.routes, *pages.routes.routes, *previews.routes.routes]


class Console:
    """The WSGI application: security checks, routing, templates."""

    def __init__(self, client: SproutClient, port: int, secret: bytes | None = None,
                 routes: list[Route] | None = None):
        self.client = client
        self.routes = _routes() if routes is None else routes
        self.port = port
        self.secret = secret or secrets.token_bytes(32)
        self.templates = Environment(
            loader=FileSystemLoader(str(HERE / "templates")), autoescape=select_autoescape(["html"])
        )
        from sprout.console import filters

        filters.install(self.templates)

    # -- security ---------------------------------------------------------------------------------
    @property
    def hosts(self) -> set[str]:
        return {f"127.0.0.1:{self.port}", f"localhost:{self.port}"}

    @property
    def origins(self) -> set[str]:
        return {f"http://{h}" for h in self.hosts}

    def refusal(self, environ: dict[str, Any]) -> str | None:
        """Why this request is refused (Host, Origin, Sec-Fetch-Site), or None."""
        host = environ.get("HTTP_HOST", "")
        if host not in self.hosts:
            return f"Host {host[:80]!r} is not this console's ({sorted(self.hosts)[0]}): refused"
        origin = environ.get("HTTP_ORIGIN")
        if origin is not None and origin not in self.origins:
            return f"Origin {origin[:80]!r} is not this console's: refused"
        if environ.get("HTTP_SEC_FETCH_SITE") == "cross-site":
            return "a cross-site request: refused"
        return None

    @property
    def cookie(self) -> str:
        """The session cookie's name: per port, since cookies are shared by every port of a host."""
        return f"{COOKIE}_{self.port}"

    def csrf_token(self, session: str) -> str:
        return hmac.new(self.secret, session.encode(), hashlib.sha256).hexdigest()

    def csrf_ok(self, request: Request) -> bool:
        given = request.form.get("csrf", "")
        return bool(request.session) and hmac.compare_digest(given.encode(), self.csrf_token(request.session).encode())

    # -- rendering --------------------------------------------------------------------------------
    def render(self, template: str, request: Request, status: int = 200, **context: Any) -> Response:
        page = self.templates.get_template(template).render(
            request=request, csrf=self.csrf_token(request.session), **context
        )
        return Response(status, page.encode())

    def error_page(self, request: Request, status: int, message: str) -> Response:
        return self.render("error.html", request, status=status, status_code=status, message=message)

    # -- WSGI -------------------------------------------------------------------------------------
    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        try:
            response = self.handle(environ)
        except Exception as e:  # a bug in the console: said on the page and on stderr, never a hang
            traceback.print_exc()
            response = Response(500, f"sprout console: unexpected {type(e).__name__}: {e}\n".encode(),
                                "text/plain; charset=utf-8")
        headers = [("Content-Type", response.content_type), *SECURITY_HEADERS, *response.headers]
        start_response(f"{response.status} {_reason(response.status)}", headers)
        return [response.body]

    def handle(self, environ: dict[str, Any]) -> Response:
        refused = self.refusal(environ)
        if refused:
            return Response(403, (refused + "\n").encode(), "text/plain; charset=utf-8")
        method = environ.get("REQUEST_METHOD", "GET")
        raw_path = environ.get("PATH_INFO", "/")
        if raw_path.startswith("/static/") and method in ("GET", "HEAD"):
            return self.static(raw_path[len("/static/"):])
        session, new_session = self.session(environ)
        request = Request(method, raw_path, _query(environ), {}, session)
        response = self.dispatch(environ, request)
        if new_session:
            response.headers.append(
                ("Set-Cookie", f"{self.cookie}={session}; Path=/; HttpOnly; SameSite=Strict")
            )
        return response

    def session(self, environ: dict[str, Any]) -> tuple[str, bool]:
        cookie = SimpleCookie()
        try:
            cookie.load(environ.get("HTTP_COOKIE", ""))
        except Exception:  # a malformed Cookie header: a new session
            pass
        morsel = cookie.get(self.cookie)
        if morsel and re.fullmatch(r"[A-Za-z0-9_-]{20,100}", morsel.value):
            return morsel.value, False
        return secrets.token_urlsafe(32), True

    def dispatch(self, environ: dict[str, Any], request: Request) -> Response:
        allowed = []
        for method, regex, handler in self.routes:
            match = regex.match(request.path)
            if not match:
                continue
            allowed.append(method)
            if method != request.method:
                continue
            request.params = {k: urllib.parse.unquote(v) for k, v in match.groupdict().items()}
            if method == "POST":
                form = _form(environ)
                if form is None:
                    return self.error_page(request, 400, "the form is not url-encoded or is larger than 64 KiB")
                request.form = form
                if not self.csrf_ok(request):
                    return self.error_page(
                        request, 403, "the form's session token is missing or stale: reload the page and retry"
                    )
            return handler(self, request)
        if allowed:
            return Response(405, b"method not allowed\n", "text/plain", [("Allow", ", ".join(allowed))])
        return self.error_page(request, 404, f"no page {request.path[:120]}")

    def static(self, name: str) -> Response:
        target = (STATIC / name).resolve()
        if not target.is_relative_to(STATIC) or not target.is_file():
            return Response(404, b"not found\n", "text/plain")
        kind = mimetypes.guess_type(target.name)[0] or "application/octet-stream"
        if kind.startswith("text/") or kind.endswith("javascript"):
            kind += "; charset=utf-8"
        return Response(200, target.read_bytes(), kind, [("Cache-Control", "max-age=3600")])


def _query(environ: dict[str, Any]) -> dict[str, str]:
    return dict(urllib.parse.parse_qsl(environ.get("QUERY_STRING", ""), keep_blank_values=True))


def _form(environ: dict[str, Any]) -> dict[str, str] | None:
    kind = environ.get("CONTENT_TYPE", "").split(";")[0].strip()
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return None
    if kind != "application/x-www-form-urlencoded" or length > MAX_FORM:
        return None
    body = environ["wsgi.input"].read(length) if length else b""
    return dict(urllib.parse.parse_qsl(body.decode(errors="replace"), keep_blank_values=True))


def _reason(status: int) -> str:
    from http import HTTPStatus

    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Status"


class _ThreadingServer(socketserver.ThreadingMixIn, WSGIServer):
    daemon_threads = True
    allow_reuse_address = True


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base class's name
        pass


def serve(client: SproutClient, port: int = 8080, ready: Callable[[str], None] | None = None) -> None:
    """Serve the console on 127.0.0.1:``port`` (0: any free port) until interrupted."""
    console = Console(client, port)
    server = make_server("127.0.0.1", port, console, _ThreadingServer, _QuietHandler)
    actual = server.server_address[1]
    console.port = int(actual)
    if ready:
        ready(f"http://127.0.0.1:{actual}/")
    try:
        server.serve_forever()
    finally:
        server.server_close()
