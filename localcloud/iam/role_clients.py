"""Clients that act with a role's credentials on the local cloud's own endpoint (Step Functions
tasks with the state machine's role, EventBridge targets with the target's role): one per region,
service and role session, built once from one session and kept, never one per call. Building a
boto3 client reads the service's model and endpoint rules; low-level clients are thread-safe,
building one is not."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from botocore.config import Config

MAX_CLIENTS = 256  # clients kept at most (rotated credentials leave clients nobody asks for)


class RoleClients:
    """``make()`` gives what builds a client (boto3's ``Session.client``), asked on first use;
    ``config`` is every client's; ``endpoint()`` the cloud's URL."""

    def __init__(self, make: Callable[[], Callable[..., Any]], config: Config, endpoint: Callable[[], str]):
        self._make = make
        self._build: Callable[..., Any] | None = None
        self._config = config
        self._endpoint = endpoint
        self._clients: dict[tuple[str | None, str, str, str], Any] = {}
        self._lock = threading.Lock()

    def get(self, region: str | None, service: str, creds: Any) -> Any:
        """The client of ``service`` in ``region`` acting with ``creds`` (an access key, a secret key
        and a session token): the same one for as long as those credentials are used."""
        key = (region, service, creds.access_key, creds.token)
        with self._lock:
            client = self._clients.get(key)
            if client is None:
                if len(self._clients) >= MAX_CLIENTS:
                    self._clients.pop(next(iter(self._clients)))
                if self._build is None:
                    self._build = self._make()
                client = self._build(
                    service,
                    region_name=region,
                    endpoint_url=self._endpoint(),
                    aws_access_key_id=creds.access_key,
                    aws_secret_access_key=creds.secret_key,
                    aws_session_token=creds.token,
                    config=self._config,
                )
                self._clients[key] = client
            return client
