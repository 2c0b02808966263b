"""Where the provisioner works: the account and region, the local endpoint, the data directory,
and one boto3 client per service shared by all threads (boto3 clients are thread-safe)."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .model import Stack
from .prepare import pseudo_parameters


class Account:
    def __init__(
        self,
        client_factory: Callable[[str], Any],
        region: str,
        account_id: str,
        endpoint: Callable[[], str],
        data_dir: Path | None = None,
    ):
        self.client_factory = client_factory
        self.region = region
        self.account_id = account_id
        self._endpoint = endpoint
        self.data_dir = data_dir
        self._lock = threading.Lock()
        self._clients: dict[str, Any] = {}

    def client(self, service: str) -> Any:
        """One boto3 client per service, made on first use."""
        with self._lock:
            if service not in self._clients:
                self._clients[service] = self.client_factory(service)
            return self._clients[service]

    def endpoint(self) -> str:
        return self._endpoint()

    def pseudo(self, stack: Stack) -> dict[str, Any]:
        return pseudo_parameters(stack.name, stack.stack_id, self.region, self.account_id)

    def new_stack_id(self, name: str) -> str:
        return f"arn:aws:cloudformation:{self.region}:{self.account_id}:stack/{name}/{uuid.uuid4()}"

    def new_change_set_id(self, name: str) -> str:
        return f"arn:aws:cloudformation:{self.region}:{self.account_id}:changeSet/{name}/{uuid.uuid4()}"
