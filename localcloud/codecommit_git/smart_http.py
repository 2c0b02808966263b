"""git's smart HTTP protocol under ``/v1/repos/<name>``: ``git http-backend`` (CGI) driven from WSGI.

Request and response bodies stream through (a push may be large). A push's accepted ref updates
are recorded by the post-receive hook into a file named for that one request; once http-backend
has finished, each one becomes a ``CodeCommit Repository State Change`` event.
"""

from __future__ import annotations

import logging
import os
import subprocess
import tempfile
import threading
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

from werkzeug.wsgi import get_input_stream

from localcloud.urls import GIT_PREFIX

from .events import PushedRef, RepositoryInfo
from .gitrepo import REPOSITORY_NAME, GitStore

log = logging.getLogger("localcloud.codecommit_git")

CHUNK = 64 * 1024
# Request headers never handed to the CGI (credentials; httpoxy).
_DROPPED_HEADERS = {"HTTP_AUTHORIZATION", "HTTP_PROXY", "HTTP_COOKIE"}


class GitHttpApp:
    def __init__(
        self,
        store: GitStore,
        lookup: Callable[[str], RepositoryInfo | None],
        on_push: Callable[[RepositoryInfo, list[PushedRef]], None],
    ):
        self.store = store
        self.lookup = lookup
        self.on_push = on_push

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        rest = environ.get("PATH_INFO", "")[len(GIT_PREFIX) :]
        name, _, sub = rest.partition("/")
        if name.endswith(".git"):
            name = name[: -len(".git")]
        if not REPOSITORY_NAME.fullmatch(name):
            return _plain(
                start_response, "404 Not Found", f"not a repository path: {environ.get('PATH_INFO')}\n"
            )
        info = self.lookup(name)
        if info is None:
            return _plain(start_response, "404 Not Found", f"repository {name} does not exist\n")
        self.store.ensure(name)
        is_push = sub == "git-receive-pack" and environ.get("REQUEST_METHOD") == "POST"
        push_log = None
        if is_push:
            fd, push_log = tempfile.mkstemp(prefix="push-", dir=self.store.tmp)
            os.close(fd)
        try:
            env = self._cgi_env(environ, f"{name}.git", sub, push_log)
            proc = subprocess.Popen(
                ["git", "http-backend"],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                env=env,
            )
        except BaseException:
            if push_log:
                Path(push_log).unlink(missing_ok=True)
            raise
        return self._respond(proc, environ, start_response, info, push_log)

    def _cgi_env(self, environ: dict, repo_dir: str, sub: str, push_log: str | None) -> dict[str, str]:
        env = dict(self.store.env)
        env.update(
            GIT_PROJECT_ROOT=str(self.store.repos),
            GIT_HTTP_EXPORT_ALL="1",
            GATEWAY_INTERFACE="CGI/1.1",
            SERVER_PROTOCOL=environ.get("SERVER_PROTOCOL", "HTTP/1.1"),
            REQUEST_METHOD=environ.get("REQUEST_METHOD", "GET"),
            PATH_INFO=f"/{repo_dir}/{sub}",
            QUERY_STRING=environ.get("QUERY_STRING", ""),
            REMOTE_ADDR=environ.get("REMOTE_ADDR", "127.0.0.1"),
            REMOTE_USER="localcloud",
            CONTENT_TYPE=environ.get("CONTENT_TYPE", ""),
        )
        if environ.get("CONTENT_LENGTH") and not environ.get("wsgi.input_terminated"):
            env["CONTENT_LENGTH"] = environ["CONTENT_LENGTH"]  # else http-backend reads to EOF
        for key, value in environ.items():
            # HTTP_CONTENT_ENCODING (gzip bodies) and HTTP_GIT_PROTOCOL (protocol v2) go through.
            if key.startswith("HTTP_") and key not in _DROPPED_HEADERS and isinstance(value, str):
                env[key] = value
        if push_log:
            env["LOCALCLOUD_PUSH_LOG"] = push_log
        return env

    def _respond(self, proc, environ, start_response, info, push_log) -> Iterable[bytes]:
        stream = get_input_stream(environ, safe_fallback=True)
        errors: list[bytes] = []
        feeder = threading.Thread(target=_feed, args=(stream, proc.stdin), daemon=True, name="git-http-feed")
        drainer = threading.Thread(
            target=_drain, args=(proc.stderr, errors), daemon=True, name="git-http-stderr"
        )
        feeder.start()
        drainer.start()
        try:
            status, headers = _read_cgi_headers(proc.stdout)
        except Exception:
            proc.kill()
            proc.wait()
            _cleanup(push_log)
            log.warning("git http-backend gave no response: %s", b"".join(errors).decode(errors="replace"))
            return _plain(start_response, "502 Bad Gateway", "git http-backend failed\n")
        start_response(status, headers)
        return self._body(proc, feeder, drainer, errors, info, push_log)

    def _body(self, proc, feeder, drainer, errors, info, push_log) -> Iterator[bytes]:
        finished = False
        try:
            while True:
                chunk = proc.stdout.read1(CHUNK)
                if not chunk:
                    break
                yield chunk
            proc.wait()
            feeder.join(timeout=5)
            drainer.join(timeout=5)
            finished = True
            if proc.returncode != 0:
                log.warning(
                    "git http-backend exited %s: %s",
                    proc.returncode,
                    b"".join(errors).decode(errors="replace"),
                )
            if push_log:
                refs = _read_push_log(push_log)
                if refs:
                    try:
                        self.on_push(info, refs)
                    except Exception:  # the push itself succeeded; never break its response
                        log.exception("reporting the push to %s failed", info.name)
        finally:
            if not finished and proc.poll() is None:  # client went away mid-response
                proc.kill()
                proc.wait()
            proc.stdout.close()
            _cleanup(push_log)


def _feed(stream, sink) -> None:
    try:
        while True:
            chunk = stream.read(CHUNK)
            if not chunk:
                break
            sink.write(chunk)
    except (BrokenPipeError, OSError, ValueError):
        pass  # http-backend stopped reading (refused request); its answer says why
    finally:
        try:
            sink.close()
        except OSError:
            pass


def _drain(source, errors: list[bytes]) -> None:
    kept = 0
    for line in iter(lambda: source.read1(CHUNK), b""):
        if kept < 64 * 1024:
            errors.append(line)
            kept += len(line)
    source.close()


def _read_cgi_headers(stdout) -> tuple[str, list[tuple[str, str]]]:
    status = "200 OK"
    headers: list[tuple[str, str]] = []
    while True:
        line = stdout.readline(64 * 1024)
        if not line:
            raise RuntimeError("http-backend closed its output before the headers ended")
        line = line.rstrip(b"\r\n")
        if not line:
            return status, headers
        key, _, value = line.decode("latin-1").partition(":")
        value = value.strip()
        if key.lower() == "status":
            status = value
        else:
            headers.append((key.strip(), value))


def _read_push_log(path: str) -> list[PushedRef]:
    refs = []
    for line in Path(path).read_text(errors="replace").splitlines():
        parts = line.split(" ", 2)
        if len(parts) == 3:
            refs.append(PushedRef(old=parts[0], new=parts[1], ref=parts[2]))
    return refs


def _cleanup(push_log: str | None) -> None:
    if push_log:
        Path(push_log).unlink(missing_ok=True)


def _plain(start_response: Callable, status: str, text: str) -> list[bytes]:
    body = text.encode()
    start_response(
        status, [("Content-Type", "text/plain; charset=utf-8"), ("Content-Length", str(len(body)))]
    )
    return [body]
