"""AWS clients made at their first call, not when an adapter is built.

The composition root builds every adapter a handler module may use at cold start; a function
calls a few of them. Building a boto3 client reads its service's model and endpoint rules (tens of
milliseconds each), so a client nobody calls should not be built. Building clients is not
thread-safe in boto3's default session: one lock serializes it."""

from __future__ import annotations

import threading
from typing import Any

import boto3

_building = threading.Lock()


class LazyClient:
    """Stands for ``boto3.client(service)``: the client is made at the first attribute read."""

    def __init__(self, service: str) -> None:
        self._service = service
        self._client: Any = None

    def __getattr__(self, name: str) -> Any:
        client = self._client
        if client is None:
            with _building:
                if self._client is None:
                    self._client = boto3.client(self._service)
                client = self._client
        return getattr(client, name)

    def __repr__(self) -> str:
        return f"LazyClient({self._service!r}, built={self._client is not None})"


def lazy_client(service: str) -> Any:
    """A client of ``service`` with boto3's defaults, made when first used."""
    return LazyClient(service)
