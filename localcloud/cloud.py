"""LocalCloud: one moto server in this process, plus the components that make it run code.

A component is a module with ``install(cloud)``; it may hook moto (see localcloud/moto_hooks.py;
its fixes to moto's own behaviour live in its ``moto_patches.py``),
mount a WSGI app under a path prefix, and register background services with ``start``/``stop``.
Only one LocalCloud may run per process, because moto's backends are process-global.
"""

from __future__ import annotations

import importlib
import logging
import os
import socket
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, Protocol

import boto3
from botocore.config import Config

from localcloud import persistence
from localcloud.persistence import inflight

REGION = "us-east-1"
ACCOUNT_ID = "123456789012"
# moto accepts any key; these are the "root" credentials of the local account.
ROOT_ACCESS_KEY = "localcloud"
ROOT_SECRET_KEY = "localcloud"

log = logging.getLogger("localcloud")

# Components, in start order. Each is a module with install(cloud).
COMPONENTS = (
    "localcloud.faults",  # test hooks: inert unless a test arms a fault
    "localcloud.iam",
    "localcloud.dynamodb",
    "localcloud.parameter_store",
    "localcloud.lambda_runner",
    "localcloud.events_router",
    "localcloud.stepfunctions",
    "localcloud.codebuild",
    "localcloud.event_sources",
    "localcloud.pipes",
    "localcloud.cloudformation",
    "localcloud.alarms",
    "localcloud.codecommit_git",
    "localcloud.gateway",
    "localcloud.monitoring",
    "localcloud.function_urls",
)

WSGIApp = Callable[[dict, Callable], Iterable[bytes]]


class Service(Protocol):
    def start(self) -> None: ...
    def stop(self) -> None: ...


class PortInUse(RuntimeError):
    pass


_running: LocalCloud | None = None
_running_lock = threading.Lock()


def current() -> LocalCloud:
    """The LocalCloud running in this process (components use it from inside moto hooks)."""
    if _running is None:
        raise RuntimeError("no LocalCloud is running in this process")
    return _running


class LocalCloud:
    def __init__(
        self,
        port: int = 4566,
        data_dir: str | os.PathLike = ".localcloud",
        host: str = "127.0.0.1",
        enforce_iam: bool = False,
        persist: bool = True,
    ):
        self.host = host
        # IAM as AWS enforces it (localcloud.iam): every caller but the root key is held to its policies.
        self.enforce_iam = enforce_iam
        self.requested_port = port
        self.port = port
        self.data_dir = Path(data_dir).resolve()
        self.region = REGION
        self.account_id = ACCOUNT_ID
        self._mounts: list[tuple[str, WSGIApp]] = []
        self._request_filters: list[Callable[[dict], WSGIApp | None]] = []
        self._services: list[Service] = []
        self._server = None
        self._moto_app: WSGIApp | None = None
        self._thread: threading.Thread | None = None
        # what is kept across restarts (localcloud.persistence); without ``persist`` a start ignores
        # the data dir's snapshot and writes none
        self.persist = persist
        self.persistence = persistence.Persistence(self.data_dir)
        self.restored = persistence.Restored()
        self._lock = persistence.DataDirLock(self.data_dir)

    # ---- what components use -------------------------------------------------------------
    @property
    def endpoint(self) -> str:
        return f"http://{self.host}:{self.port}"

    def mount(self, prefix: str, app: WSGIApp) -> None:
        """Serve ``app`` for every path under ``prefix`` (e.g. ``/v1/repos/``) instead of moto."""
        self._mounts.append((prefix, app))

    def intercept(self, chooser: Callable[[dict], WSGIApp | None]) -> None:
        """Let ``chooser(environ)`` claim a request for its own app before moto sees it."""
        self._request_filters.append(chooser)

    def add_service(self, service: Service) -> None:
        self._services.append(service)

    def client(self, service: str, **kwargs: Any):
        """A boto3 client for this cloud, as the root of the local account."""
        return boto3.client(
            service,
            endpoint_url=self.endpoint,
            region_name=self.region,
            aws_access_key_id=kwargs.pop("aws_access_key_id", ROOT_ACCESS_KEY),
            aws_secret_access_key=kwargs.pop("aws_secret_access_key", ROOT_SECRET_KEY),
            config=kwargs.pop("config", Config(retries={"max_attempts": 2, "mode": "standard"})),
            **kwargs,
        )

    def path(self, *parts: str) -> Path:
        """A folder under the data dir, created on first use."""
        p = self.data_dir.joinpath(*parts)
        p.mkdir(parents=True, exist_ok=True)
        return p

    # ---- lifecycle -----------------------------------------------------------------------
    def start(self) -> LocalCloud:
        global _running
        with _running_lock:
            if _running is not None:
                raise RuntimeError("a LocalCloud is already running in this process")
            self._lock.acquire()  # one cloud per data dir (DataDirBusy)
            try:
                sock = self._bind()
            except BaseException:
                self._lock.release()
                raise
            _running = self
        try:
            if self.persist:
                self.persistence.remember_port(self.port)
            self._configure_moto()
            for name in COMPONENTS:
                importlib.import_module(name).install(self)
            if self.persist:
                self.mount(persistence.STATUS_PATH, self.persistence.status_app)
                self.restored = self.persistence.restore()  # before the first request is served
                self._services.insert(0, self.persistence)  # started first, stopped last: the last snapshot
            self._serve(sock)
            for service in self._services:
                service.start()
            if self.persist:
                self.restored.ended = inflight.end_all(self)
                self.persistence.settle_start(self.restored)  # the data dir takes snapshots, or the start fails (a full disk)
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        global _running
        for service in reversed(self._services):
            began = time.monotonic()
            try:
                service.stop()
            except Exception:  # a component failing to stop must not keep the others running
                log.exception("stopping %r failed", service)
            if (took := time.monotonic() - began) > 1:  # SIGTERM allows 5 s for all of them: say who is slow
                log.warning("stopping %s took %.1f s", type(service).__name__, took)
        self._services.clear()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
        self._lock.release()
        with _running_lock:
            if _running is self:
                _running = None

    def __enter__(self) -> LocalCloud:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ---- internals -----------------------------------------------------------------------
    def _bind(self) -> socket.socket:
        # A restart takes the port its data dir's earlier run had (its stack outputs and URLs name
        # it) when asked for any port (0), if it is free.
        previous = self.persistence.previous_port() if self.persist else None
        if previous and self.requested_port == 0:
            try:
                return self._listen(previous)
            except PortInUse:
                log.warning("port %s of the earlier run is in use: URLs it recorded name it", previous)
        return self._listen(self.requested_port)

    def _listen(self, port: int) -> socket.socket:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        # SO_REUSEADDR: a port whose earlier run was killed (its connections linger in FIN_WAIT or
        # TIME_WAIT) is taken again at once. Linux still refuses a port another socket listens on, so
        # a second `up` on a port in use fails at once.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((self.host, port))
        except OSError as e:
            sock.close()
            raise PortInUse(f"port {port} on {self.host} is already in use ({e.strerror})") from e
        sock.listen(128)
        self.port = sock.getsockname()[1]
        return sock

    def _configure_moto(self) -> None:
        # moto's Step Functions interpreter calls back into "localhost:$MOTO_PORT" for its tasks.
        os.environ["MOTO_PORT"] = str(self.port)
        os.environ.setdefault("AWS_DEFAULT_REGION", self.region)
        from moto.core.config import default_user_config

        default_user_config["stepfunctions"]["execute_state_machine"] = True
        default_user_config["lambda"]["use_docker"] = True  # the real backend; the runner replaces docker

    def wsgi_app(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        """The local endpoint as a WSGI app: what the server serves, and what a component may call
        in-process for a request to the endpoint (the same routing, hooks and checks, no socket)."""
        changes = self.persist and self.persistence.note_request(environ)
        answer = self._route(environ, start_response)
        if changes:  # again once it is handled: a snapshot taken while it ran may not hold what it did
            self.persistence.changed()
        return answer

    def _route(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        for prefix, mounted in self._mounts:
            if path.startswith(prefix):
                return mounted(environ, start_response)
        for chooser in self._request_filters:
            claimed = chooser(environ)
            if claimed is not None:
                return claimed(environ, start_response)
        return self._moto_app(environ, start_response)

    def _serve(self, sock: socket.socket) -> None:
        from moto.moto_server.werkzeug_app import (
            DomainDispatcherApplication,
            MotoRequestHandler,
            create_backend_app,
        )
        from werkzeug.serving import ThreadedWSGIServer

        class QuietHandler(MotoRequestHandler):
            def log_request(self, *args: Any, **kwargs: Any) -> None:  # one line per request is noise
                pass

        self._moto_app = DomainDispatcherApplication(create_backend_app)
        server = ThreadedWSGIServer(self.host, self.port, self.wsgi_app, handler=QuietHandler, fd=sock.fileno())
        sock.close()  # the server holds its own duplicate of the listening socket
        server.daemon_threads = True
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever, name="localcloud-http", daemon=True)
        self._thread.start()
