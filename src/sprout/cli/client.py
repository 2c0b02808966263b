"""A SigV4-signing client of Sprout's HTTP API (the CLI reaches Sprout only through its API).

Every failure a person can cause or fix (no credentials, an API that does not answer, a URL that is
not one, a stack that is not there) is a ``SproutError`` whose message is one sentence saying what
is wrong and what to do; the API's own refusals are ``ApiError`` with the HTTP status and body.
"""

from __future__ import annotations

import json
import os
import socket
import ssl
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from typing import Any

import boto3
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError

STACK_NAME = "sprout"


def one_line(text: object, limit: int = 300) -> str:
    """``text`` on one line (whitespace runs collapsed), cut to ``limit`` characters."""
    flat = " ".join(str(text).split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


class SproutError(RuntimeError):
    """A failure the person running the CLI can act on; ``str()`` is the one line to show them."""


class NoCredentials(SproutError):
    pass


class BadApiUrl(SproutError):
    pass


class ApiUrlNotFound(SproutError):
    pass


class ApiUnreachable(SproutError):
    pass


class NoSuchBuild(SproutError):
    pass


class UnknownStage(SproutError):
    pass


class ApiError(Exception):
    """A non-2xx answer of Sprout's API: ``status`` and the decoded ``body``."""

    def __init__(self, status: int, body: Any, method: str | None = None, path: str | None = None):
        message = body.get("message") if isinstance(body, dict) else body
        super().__init__(f"HTTP {status}: {one_line(message)}")
        self.status = status
        self.body = body
        self.method = method
        self.path = path

    @property
    def message(self) -> str:
        message = self.body.get("message") if isinstance(self.body, dict) else self.body
        return one_line(message or f"HTTP {self.status}")


def api_path(*segments: object) -> str:
    """``/seg1/seg2/…`` with every segment percent-encoded (``/`` included), so that a name can
    never reach another route: ``api_path("apps", "a/b")`` is ``/apps/a%2Fb``; ``.`` and ``..`` are
    encoded too (``%2E``), since URL and SigV4 path normalization would remove them as dot segments."""
    return "".join("/" + _segment(s) for s in segments)


def _segment(value: object) -> str:
    text = str(value)
    return text.replace(".", "%2E") if text in (".", "..") else urllib.parse.quote(text, safe="")


def check_api_url(url: str, where: str = "--api-url") -> str:
    """``url`` without its trailing ``/`` when it is an absolute http(s) URL with no query or
    fragment; BadApiUrl saying what is wrong otherwise."""
    text = url.strip()
    shown = repr(one_line(url, 80))
    example = "give Sprout's API URL, e.g. https://abc123.execute-api.us-east-1.amazonaws.com/api"
    try:
        parsed = urllib.parse.urlsplit(text)
        parsed.port  # noqa: B018 - raises ValueError on a port that is not a number or out of range
    except ValueError as e:
        raise BadApiUrl(f"{where} {shown} is not a valid URL ({one_line(e, 60)}): {example}") from None
    if parsed.scheme not in ("http", "https") or not parsed.hostname or any(c.isspace() for c in text):
        raise BadApiUrl(f"{where} {shown} is not an http(s) URL: {example}")
    if parsed.query or parsed.fragment or text.endswith(("?", "#")):
        raise BadApiUrl(f"{where} {shown} has a query or fragment: {example}")
    return text.rstrip("/")


def discover_api_url(stack: str | None = None) -> str:
    """SPROUT_API_URL, else the ApiUrl output of Sprout's stack (SPROUT_STACK_NAME, default `sprout`)."""
    if os.environ.get("SPROUT_API_URL"):
        return check_api_url(os.environ["SPROUT_API_URL"], where="SPROUT_API_URL")
    stack = stack or os.environ.get("SPROUT_STACK_NAME") or STACK_NAME
    hint = "pass --api-url or set SPROUT_API_URL (or SPROUT_STACK_NAME to the stack that runs Sprout)"
    try:
        session = boto3.session.Session()
        if session.get_credentials() is None:
            raise NoCredentialsError()
        if session.region_name is None:
            raise ApiUrlNotFound(
                f"no AWS region set to look up stack {stack}'s ApiUrl: set AWS_DEFAULT_REGION, or {hint}"
            )
        found = session.client("cloudformation").describe_stacks(StackName=stack)["Stacks"]
    except NoCredentialsError:
        raise NoCredentials(f"no AWS credentials found: {CREDENTIALS_HINT}") from None
    except ClientError as e:
        error = e.response.get("Error", {})
        if "does not exist" in str(error.get("Message", "")):
            raise ApiUrlNotFound(f"cannot find Sprout's API: there is no stack {stack}; {hint}") from None
        raise ApiUrlNotFound(
            f"cannot find Sprout's API: describing stack {stack} failed "
            f"({error.get('Code')}: {one_line(error.get('Message'), 120).rstrip('.')}); {hint}"
        ) from None
    except BotoCoreError as e:
        raise ApiUrlNotFound(
            f"cannot look up stack {stack}'s ApiUrl ({one_line(e, 160).rstrip('.')}); {hint}"
        ) from None
    outputs = found[0].get("Outputs", []) if found else []
    for output in outputs:
        if output["OutputKey"] == "ApiUrl":
            return check_api_url(output["OutputValue"], where=f"stack {stack}'s ApiUrl output")
    raise ApiUrlNotFound(f"cannot find Sprout's API: stack {stack} has no ApiUrl output; {hint}")


CREDENTIALS_HINT = (
    "Sprout's API takes SigV4-signed requests; set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY "
    "(or AWS_PROFILE)"
)


@dataclass
class SproutClient:
    base_url: str
    timeout: float = 60.0

    def __post_init__(self) -> None:
        self.base_url = check_api_url(self.base_url)
        try:
            session = boto3.session.Session()
            self._credentials = session.get_credentials()
        except BotoCoreError as e:
            raise NoCredentials(
                f"cannot load AWS credentials ({one_line(e, 120)}): {CREDENTIALS_HINT}"
            ) from None
        self._region = session.region_name or "us-east-1"
        if self._credentials is None:
            raise NoCredentials(f"no AWS credentials found: {CREDENTIALS_HINT}")

    def request(self, method: str, path: str, body: Any = None, query: dict | None = None) -> Any:
        url = self.base_url + path
        if query:
            present = {k: v for k, v in query.items() if v is not None}
            if present:
                url += "?" + urllib.parse.urlencode(present)
        data = json.dumps(body).encode() if body is not None else None
        headers = {"Content-Type": "application/json"} if data is not None else {}
        aws_request = AWSRequest(method=method, url=url, data=data, headers=headers)
        SigV4Auth(self._credentials.get_frozen_credentials(), "execute-api", self._region).add_auth(
            aws_request
        )
        http_request = urllib.request.Request(
            url, data=data, method=method, headers=dict(aws_request.headers.items())
        )
        try:
            with urllib.request.urlopen(http_request, timeout=self.timeout) as response:
                payload = response.read()
        except urllib.error.HTTPError as e:
            payload = e.read()
            try:
                parsed = json.loads(payload)
            except ValueError:
                parsed = payload.decode(errors="replace")
            raise ApiError(e.code, parsed, method, path) from None
        except (urllib.error.URLError, OSError) as e:
            raise self._unreachable(e) from None
        try:
            return json.loads(payload) if payload else None
        except ValueError:
            raise ApiUnreachable(
                f"{self.base_url} answered {method} {path} with something that is not JSON: "
                "is --api-url (or SPROUT_API_URL) Sprout's API?"
            ) from None

    def _unreachable(self, error: Exception) -> ApiUnreachable:
        reason = error.reason if isinstance(error, urllib.error.URLError) else error
        host = urllib.parse.urlsplit(self.base_url).netloc
        fix = "check --api-url / SPROUT_API_URL, or start the local cloud with `sprout local up`"
        if isinstance(reason, socket.gaierror):
            what = f"cannot resolve host {host}"
        elif isinstance(reason, (TimeoutError, socket.timeout)):
            what = f"Sprout's API at {self.base_url} did not answer within {self.timeout:g} s"
        elif isinstance(reason, ConnectionRefusedError):
            what = f"cannot reach Sprout's API at {self.base_url}: connection refused"
        elif isinstance(reason, ssl.SSLError):
            what = f"TLS with {host} failed ({one_line(reason, 100)})"
        else:
            what = f"cannot reach Sprout's API at {self.base_url} ({one_line(reason, 100)})"
        return ApiUnreachable(f"{what}; {fix}")

    def stage_names(self, app: str) -> list[str]:
        """The names of ``app``'s stages in pipeline order (ApiError 404 for an unknown app)."""
        return [s["name"] for s in self.request("GET", api_path("apps", app)).get("stages", [])]

    def build_if_settled(self, app: str, number: int, stage: str | None = None) -> dict | None:
        """Build ``number`` of ``app`` once it has failed, or succeeded and (with ``stage``) its
        deployment there has finished; None while it is not recorded yet or still going."""
        return self._settled(app, number, stage)[0]

    def _settled(self, app: str, number: int, stage: str | None) -> tuple[dict | None, bool]:
        """(the build once settled, else None; whether it is recorded at all)."""
        try:
            build = self.request("GET", api_path("apps", app, "builds", number))
        except ApiError as e:
            if e.status == 404:
                return None, False
            raise
        if build["status"] == "BUILDING":
            return None, True
        if build["status"] == "FAILED" or stage is None:
            return build, True
        deployment = (build.get("deployedTo") or {}).get(stage)
        return (build if deployment and deployment["status"] != "IN_PROGRESS" else None), True

    # A build numbered just after the newest may be a push on its way (EventBridge → the build's
    # RecordBuild): it is, while the head of a branch the app follows has no build yet (and for at
    # most PUSH_GRACE_S). Any other number that is not there is not coming.
    PUSH_GRACE_S = 120.0

    def _push_on_its_way(self, app: str) -> bool:
        self._heads: list[dict] = self.request("GET", api_path("apps", app, "heads")).get("heads") or []
        return any(h.get("commit") and h.get("build") is None for h in self._heads)

    def _heads_said(self) -> str:
        said = [f"{h.get('branch')} at {(h.get('commit') or 'no commit')[:12]} is "
                + (f"build {h['build']}" if h.get("build") else "not built") for h in getattr(self, "_heads", [])]
        return f"; {', '.join(said)}" if said else ""

    def _newest_build(self, app: str) -> int:
        builds = self.request("GET", api_path("apps", app, "builds"), query={"limit": 1}).get("builds") or []
        return int(builds[0]["number"]) if builds else 0

    def wait_for_build(
        self, app: str, number: int, stage: str | None = None, timeout: float = 120.0, every: float = 0.25
    ) -> dict:
        """``build_if_settled``, polled until it answers; TimeoutError after ``timeout`` seconds.
        An unknown app (ApiError 404) or a stage the app does not have (UnknownStage) fails at once;
        a build that does not exist (NoSuchBuild) at once too, unless it is the next one and a push
        is on its way (a followed branch's head not built yet; for at most PUSH_GRACE_S)."""
        stages = self.stage_names(app)
        if stage is not None and stage not in stages:
            raise UnknownStage(
                f"app {app} has no stage {stage} (its stages: {', '.join(stages) or 'none'}); "
                "`sprout apps show APP` lists them"
            )
        start = time.monotonic()
        self._heads = []
        deadline = start + timeout
        while True:
            build, recorded = self._settled(app, number, stage)
            if build is not None:
                return build
            if not recorded and (newest := self._newest_build(app)) < number and (
                number > newest + 1 or time.monotonic() - start >= self.PUSH_GRACE_S
                or not self._push_on_its_way(app)
            ) and not self._settled(app, number, stage)[1]:  # (not recorded while we looked)
                raise NoSuchBuild(
                    f"no build {number} of app {app} (its newest is {newest or 'none yet'}{self._heads_said()}); "
                    f"`sprout builds list {app}` lists them, `sprout builds start {app} --branch BRANCH` builds one"
                )
            if time.monotonic() > deadline:
                where = f" on {stage}" if stage else ""
                raise TimeoutError(f"build {number} of {app} did not settle{where} within {timeout:g} s")
            time.sleep(every)
