"""Calling Sprout's API from a page: several calls at once, each failure kept in the API's words."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from sprout.cli.client import ApiError, SproutClient, SproutError, api_path

_POOL = ThreadPoolExecutor(max_workers=8, thread_name_prefix="console-api")


@dataclass
class Got:
    """One API call's answer: ``value``, or ``error`` (the API's message) with its HTTP ``status``."""

    value: Any = None
    error: str | None = None
    status: int | None = None
    body: Any = None

    @property
    def ok(self) -> bool:
        return self.error is None


def call(client: SproutClient, method: str, segments: tuple, query: dict | None = None, body: Any = None) -> Got:
    try:
        return Got(value=client.request(method, api_path(*segments), body=body, query=query))
    except ApiError as e:
        return Got(error=e.message, status=e.status, body=e.body)
    except (SproutError, TimeoutError) as e:
        return Got(error=str(e), status=502)


def get_all(client: SproutClient, calls: dict[str, tuple[tuple, dict | None]]) -> dict[str, Got]:
    """``{name: (path segments, query)}`` fetched concurrently, as ``{name: Got}``."""
    futures = {name: _POOL.submit(call, client, "GET", segments, query) for name, (segments, query) in calls.items()}
    return {name: future.result() for name, future in futures.items()}
