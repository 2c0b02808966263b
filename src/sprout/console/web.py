"""What the console's pages and its server share, and nothing else: a request, a response, and
the routes a page module declares (``routes = Routes()``; ``@routes.route("GET", "/apps/{app}")``).
The server joins the page modules' routes when a ``Console`` is built: registering a page has no
import side effect, and no page module imports the server."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from sprout.cli.client import SproutClient


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, str]
    form: dict[str, str]
    session: str
    params: dict[str, str] = field(default_factory=dict)

    def arg(self, name: str, default: str = "") -> str:
        return self.query.get(name, default)


@dataclass
class Response:
    status: int
    body: bytes
    content_type: str = "text/html; charset=utf-8"
    headers: list[tuple[str, str]] = field(default_factory=list)


def redirect(location: str) -> Response:
    return Response(303, b"", headers=[("Location", location)])


class Page(Protocol):
    """What a page handler is given: the console's API client and its templates."""

    client: SproutClient

    def render(self, template: str, request: Request, status: int = 200, **context: Any) -> Response: ...

    def error_page(self, request: Request, status: int, message: str) -> Response: ...


Handler = Callable[[Page, Request], Response]
Route = tuple[str, "re.Pattern[str]", Handler]


class Routes:
    """One page module's routes, in the order it declares them."""

    def __init__(self) -> None:
        self.routes: list[Route] = []

    def route(self, method: str, pattern: str) -> Callable[[Handler], Handler]:
        """Declare a page: ``{name}`` in ``pattern`` matches one percent-decoded path segment."""
        regex = re.compile("^" + re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", pattern) + "$")

        def register(handler: Handler) -> Handler:
            self.routes.append((method, regex, handler))
            return handler

        return register
