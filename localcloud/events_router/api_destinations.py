"""Rule targets that are API destinations: EventBridge calls an HTTP endpoint with the event.

AWS semantics ("API destinations as targets", "Connections", ``RetryPolicy``, ``DeadLetterConfig``):

- The target's ARN is an ``ApiDestination``; the request goes to its ``InvocationEndpoint`` with its
  ``HttpMethod``, the body being what the rule's input settings make of the event (``Input``,
  ``InputPath``, ``InputTransformer``: see ``transform``), ``Content-Type: application/json``.
- The destination's ``Connection`` authorizes it: ``API_KEY`` sends the header ``ApiKeyName:
  ApiKeyValue``; ``BASIC`` sends ``Authorization: Basic`` of ``Username:Password``;
  ``OAUTH_CLIENT_CREDENTIALS`` first asks the ``AuthorizationEndpoint`` (its ``HttpMethod``, the
  client's id and secret as Basic auth, its ``OAuthHttpParameters``) for a token, keeps it until
  ``expires_in``, and sends ``Authorization: Bearer <access_token>``. The connection's
  ``InvocationHttpParameters`` (header, query string, body parameters) are merged with the
  target's ``HttpParameters``, the connection's values taking precedence.
- The target's ``HttpParameters``: ``HeaderParameters`` are static values (AWS documents that
  dynamic JSON paths work in every HttpParameters field *except* HeaderParameters);
  ``QueryStringParameters`` and ``PathParameterValues`` (replacing the endpoint's ``*``) take a
  static value or a JSON path into the event (``$.detail.x``: the whole value is the path).
- A request times out after 5 seconds. 2xx is delivered. 401, 407, 409, 429, 5xx and time-outs or
  connection failures are retried with exponential back-off and jitter while the target's
  ``RetryPolicy`` allows (``MaximumRetryAttempts``, default 185; ``MaximumEventAgeInSeconds``,
  default 86400); any other status is not retried. An event not delivered goes to the target's
  ``DeadLetterConfig`` queue (if any) with the message attributes ``RULE_ARN``, ``TARGET_ARN``,
  ``ERROR_CODE``, ``ERROR_MESSAGE``, ``EXHAUSTED_RETRY_CONDITION`` and ``RETRY_ATTEMPTS``, the
  body being the event; without one it is dropped (logged).
- With IAM enforced, the target's ``RoleArn`` must trust events.amazonaws.com and allow
  ``events:InvokeApiDestination`` on the destination, or nothing is sent (the event goes to the DLQ).

EventBridge Pipes send through the same code (``send_once``: one request, the pipe's role checked
as ``pipes.amazonaws.com``, its header values already resolved: localcloud.pipes).

Not modelled: ``InvocationRateLimitPerSecond`` (no throttling locally), private (VPC) connections.
"""

from __future__ import annotations

import base64
import heapq
import json
import logging
import random
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from typing import Any

from localcloud import iam
from localcloud.events_router.transform import value_of

log = logging.getLogger("localcloud.events_router")

TIMEOUT = 5.0  # seconds: EventBridge's limit on an API destination's answer
RETRIED = {401, 407, 409, 429}
DEFAULT_RETRIES = 185
DEFAULT_MAX_AGE = 86400
BACKOFF_BASE = 0.5  # seconds before the first retry; doubled each time, with jitter
BACKOFF_CAP = 60.0
USER_AGENT = "Amazon/EventBridge/ApiDestinations"


def is_api_destination(arn: str) -> bool:
    return arn.startswith("arn:") and ":events:" in arn and ":api-destination/" in arn


@dataclass(order=True)
class Attempt:
    due: float
    seq: int
    rule_arn: str = field(compare=False)
    target: dict[str, Any] = field(compare=False)
    event: dict[str, Any] = field(compare=False)  # as AWS delivers it (for dynamic parameters and the DLQ)
    payload: str = field(compare=False)
    first: float = field(compare=False)  # when the event was put (its age counts from there)
    retries: int = field(default=0, compare=False)
    principal: str = field(default="events.amazonaws.com", compare=False)  # the service invoking with RoleArn
    resolved: bool = field(default=False, compare=False)  # HttpParameters already hold values, not paths


@dataclass
class Outcome:
    status: int | None
    error: str
    retry: bool


class HttpDeliverer:
    """Background delivery to API destinations, with retries on a due-time heap (never blocking
    a worker while waiting) and the dead-letter queue. ``lookup(arn)`` gives (destination,
    connection) as dicts in DescribeApiDestination / DescribeConnection shape, secrets included."""

    def __init__(self, cloud: Any, lookup: Any, workers: int = 4):
        self._cloud = cloud
        self._lookup = lookup
        self._workers = workers
        self._heap: list[Attempt] = []
        self._cv = threading.Condition()
        self._seq = 0
        self._pending = 0
        self._stopping = False
        self._threads: list[threading.Thread] = []
        self._tokens: dict[str, tuple[str, float]] = {}  # connection arn -> (token, expires)
        self._sqs: Any = None

    # ---- service ----------------------------------------------------------------------------
    def start(self) -> None:
        self._sqs = self._cloud.client("sqs")
        self._stopping = False
        for n in range(self._workers):
            t = threading.Thread(target=self._run, name=f"localcloud-api-destination-{n}", daemon=True)
            t.start()
            self._threads.append(t)

    def stop(self) -> None:
        with self._cv:
            self._stopping = True
            self._cv.notify_all()
        deadline = time.monotonic() + 1
        for t in self._threads:
            t.join(timeout=max(0.0, deadline - time.monotonic()))
        self._threads.clear()

    def submit(self, rule_arn: str, target: dict[str, Any], event: dict[str, Any], payload: str) -> None:
        now = time.time()
        self._push(Attempt(now, 0, rule_arn, target, event, payload, now), new=True)

    def send_once(self, target: dict[str, Any], payload: str, principal: str) -> Outcome:
        """One request now, on the caller's thread, no retry nor dead-letter queue: for a caller
        that retries by itself (an EventBridge pipe leaves a failed SQS message in its queue).
        ``target``'s HttpParameters hold values (any JSON paths already resolved by the caller)."""
        now = time.time()
        return self._send(Attempt(now, 0, "", target, {}, payload, now, principal=principal, resolved=True))

    def wait_idle(self, timeout: float) -> bool:
        """True once every submitted event is delivered, dead-lettered or dropped."""
        with self._cv:
            return self._cv.wait_for(lambda: self._pending == 0, timeout)

    def _push(self, attempt: Attempt, new: bool = False) -> None:
        with self._cv:
            self._seq += 1
            attempt.seq = self._seq
            if new:
                self._pending += 1
            heapq.heappush(self._heap, attempt)
            self._cv.notify_all()

    def _done(self) -> None:
        with self._cv:
            self._pending -= 1
            self._cv.notify_all()

    def _run(self) -> None:
        while True:
            with self._cv:
                while not self._stopping and (not self._heap or self._heap[0].due > time.time()):
                    self._cv.wait(timeout=(self._heap[0].due - time.time()) if self._heap else None)
                if self._stopping:
                    return
                attempt = heapq.heappop(self._heap)
            try:
                self._attempt(attempt)
            except Exception as e:  # never let a worker die
                log.error("API destination target %s of %s: %s", attempt.target.get("Id"), attempt.rule_arn, e)
                self._done()

    # ---- one attempt ------------------------------------------------------------------------
    def _attempt(self, attempt: Attempt) -> None:
        outcome = self._send(attempt)
        if outcome.status is not None and 200 <= outcome.status < 300:
            self._done()
            return
        policy = attempt.target.get("RetryPolicy") or {}
        retries = int(policy.get("MaximumRetryAttempts", DEFAULT_RETRIES))
        max_age = int(policy.get("MaximumEventAgeInSeconds", DEFAULT_MAX_AGE))
        if outcome.retry:
            delay = min(BACKOFF_CAP, BACKOFF_BASE * 2 ** attempt.retries) * random.uniform(0.8, 1.2)
            if attempt.retries >= retries:
                return self._dead_letter(attempt, outcome, "MaximumRetryAttempts")
            if time.time() + delay - attempt.first > max_age:
                return self._dead_letter(attempt, outcome, "MaximumEventAgeInSeconds")
            attempt.retries += 1
            attempt.due = time.time() + delay
            log.info("API destination %s answered %s: retry %d in %.1fs", attempt.target.get("Arn"),
                     outcome.status or outcome.error, attempt.retries, delay)
            self._push(attempt)
            return
        self._dead_letter(attempt, outcome, None)

    def _send(self, attempt: Attempt) -> Outcome:
        arn = attempt.target["Arn"]
        role = attempt.target.get("RoleArn")
        if iam.enforcing():
            if not role:
                return Outcome(None, "the target has no RoleArn (EventBridge invokes an API destination with it)", False)
            try:
                denied = iam.first_denied(role, attempt.principal, [iam.actions.Check("events:InvokeApiDestination", arn)])
            except Exception as e:  # the role cannot be assumed by EventBridge
                return Outcome(None, f"role {role}: {e}", False)
            if denied is not None:
                return Outcome(None, f"{role} may not events:InvokeApiDestination on {arn}", False)
        try:
            destination, connection = self._lookup(arn)
        except LookupError as e:
            return Outcome(None, str(e), False)
        try:
            request = self._request(attempt, destination, connection)
        except _AuthFailed as e:
            return Outcome(None, f"connection authorization failed: {e}", True)
        try:
            with urllib.request.urlopen(request, timeout=TIMEOUT) as answer:  # noqa: S310 - the destination's endpoint
                answer.read()
                return Outcome(answer.status, "", False)
        except urllib.error.HTTPError as e:
            status = e.code
            return Outcome(status, f"HTTP {status}", status in RETRIED or status >= 500)
        except (TimeoutError, OSError) as e:  # URLError, time-out, refused
            return Outcome(None, f"{type(e).__name__}: {e}", True)

    def _request(self, attempt: Attempt, destination: dict[str, Any], connection: dict[str, Any]) -> urllib.request.Request:
        params = attempt.target.get("HttpParameters") or {}
        endpoint = str(destination["InvocationEndpoint"])
        for value in params.get("PathParameterValues") or []:
            value = str(value) if attempt.resolved else value_of(value, attempt.event)
            endpoint = endpoint.replace("*", urllib.parse.quote(value, safe=""), 1)
        headers = {"Content-Type": "application/json; charset=utf-8", "User-Agent": USER_AGENT}
        headers.update({str(k): str(v) for k, v in (params.get("HeaderParameters") or {}).items()})
        query = {str(k): str(v) if attempt.resolved else value_of(v, attempt.event)
                 for k, v in (params.get("QueryStringParameters") or {}).items()}
        auth = connection.get("AuthParameters") or {}
        invocation = auth.get("InvocationHttpParameters") or {}
        headers.update({p["Key"]: p.get("Value", "") for p in invocation.get("HeaderParameters") or []})
        query.update({p["Key"]: p.get("Value", "") for p in invocation.get("QueryStringParameters") or []})
        body = attempt.payload
        extra = {p["Key"]: p.get("Value", "") for p in invocation.get("BodyParameters") or []}
        if extra:
            try:
                document = json.loads(body)
                if isinstance(document, dict):
                    document.update(extra)
                    body = json.dumps(document, separators=(",", ":"), ensure_ascii=False)
            except ValueError:
                pass
        headers.update(self._authorization(connection))
        if query:
            endpoint += ("&" if "?" in endpoint else "?") + urllib.parse.urlencode(query)
        method = str(destination.get("HttpMethod") or "POST").upper()
        data = None if method in ("GET", "HEAD") else body.encode("utf-8")
        return urllib.request.Request(endpoint, data=data, headers=headers, method=method)

    def _authorization(self, connection: dict[str, Any]) -> dict[str, str]:
        kind = connection.get("AuthorizationType")
        auth = connection.get("AuthParameters") or {}
        if kind == "API_KEY":
            key = auth.get("ApiKeyAuthParameters") or {}
            return {str(key.get("ApiKeyName")): str(key.get("ApiKeyValue", ""))}
        if kind == "BASIC":
            basic = auth.get("BasicAuthParameters") or {}
            raw = f"{basic.get('Username', '')}:{basic.get('Password', '')}".encode()
            return {"Authorization": "Basic " + base64.b64encode(raw).decode()}
        if kind == "OAUTH_CLIENT_CREDENTIALS":
            return {"Authorization": "Bearer " + self._token(connection)}
        return {}

    def _token(self, connection: dict[str, Any]) -> str:
        arn = connection["ConnectionArn"]
        cached = self._tokens.get(arn)
        if cached and cached[1] > time.time() + 5:
            return cached[0]
        oauth = (connection.get("AuthParameters") or {}).get("OAuthParameters") or {}
        client = oauth.get("ClientParameters") or {}
        extra = oauth.get("OAuthHttpParameters") or {}
        endpoint = str(oauth.get("AuthorizationEndpoint") or "")
        query = {p["Key"]: p.get("Value", "") for p in extra.get("QueryStringParameters") or []}
        if query:
            endpoint += ("&" if "?" in endpoint else "?") + urllib.parse.urlencode(query)
        raw = f"{client.get('ClientID', '')}:{client.get('ClientSecret', '')}".encode()
        headers = {"Authorization": "Basic " + base64.b64encode(raw).decode(), "Content-Type": "application/json"}
        headers.update({p["Key"]: p.get("Value", "") for p in extra.get("HeaderParameters") or []})
        body = {p["Key"]: p.get("Value", "") for p in extra.get("BodyParameters") or []}
        method = str(oauth.get("HttpMethod") or "POST").upper()
        request = urllib.request.Request(endpoint, method=method, headers=headers,
                                         data=None if method == "GET" else json.dumps(body).encode())
        try:
            with urllib.request.urlopen(request, timeout=TIMEOUT) as answer:  # noqa: S310 - the connection's endpoint
                document = json.loads(answer.read() or b"{}")
        except (OSError, ValueError) as e:
            raise _AuthFailed(str(e)) from None
        token = document.get("access_token") if isinstance(document, dict) else None
        if not token:
            raise _AuthFailed("the authorization endpoint answered no access_token")
        self._tokens[arn] = (str(token), time.time() + float(document.get("expires_in") or 3600))
        return str(token)

    def _dead_letter(self, attempt: Attempt, outcome: Outcome, exhausted: str | None) -> None:
        try:
            queue = ((attempt.target.get("DeadLetterConfig") or {}).get("Arn")) or ""
            code = f"{outcome.status}" if outcome.status is not None else "SDK_CLIENT_ERROR"
            log.warning("API destination %s of %s: not delivered (%s)%s", attempt.target.get("Arn"), attempt.rule_arn,
                        outcome.error, "" if queue else ": dropped (no dead-letter queue)")
            if not queue:
                return
            attributes = {
                "RULE_ARN": attempt.rule_arn, "TARGET_ARN": attempt.target["Arn"], "ERROR_CODE": code,
                "ERROR_MESSAGE": outcome.error[:1000] or f"HTTP {outcome.status}",
                "RETRY_ATTEMPTS": str(attempt.retries),
            }
            if exhausted:
                attributes["EXHAUSTED_RETRY_CONDITION"] = exhausted
            name = queue.rsplit(":", 1)[-1]
            url = self._sqs.get_queue_url(QueueName=name, QueueOwnerAWSAccountId=queue.split(":")[4])["QueueUrl"]
            self._sqs.send_message(
                QueueUrl=url, MessageBody=json.dumps(attempt.event, separators=(",", ":"), ensure_ascii=False),
                MessageAttributes={k: {"DataType": "String", "StringValue": v} for k, v in attributes.items()},
            )
        finally:
            self._done()


class _AuthFailed(Exception):
    pass
