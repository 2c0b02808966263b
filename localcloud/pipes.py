"""EventBridge Pipes: a pipe reads its SQS source and sends each message to its API destination.

moto keeps the pipes (CreatePipe, DescribePipe, UpdatePipe, DeletePipe, ListPipes, StartPipe,
StopPipe, tags) and runs none; this component runs those whose source is an SQS queue and whose
target is an EventBridge API destination, with AWS's documented semantics ("Amazon EventBridge
Pipes", "Amazon SQS as a source", "input transformation", "dynamic path parameters"):

- the pipe polls its queue with its ``RoleArn`` (assumed as ``pipes.amazonaws.com``): under
  ``--enforce-iam`` the role needs ``sqs:ReceiveMessage``, ``sqs:DeleteMessage`` and
  ``sqs:GetQueueAttributes`` on the queue (or it reads nothing, logged) and
  ``events:InvokeApiDestination`` on the destination (or nothing is sent);
- each message is an event ``{messageId, receiptHandle, body, attributes, messageAttributes,
  md5OfBody, eventSource, eventSourceARN, awsRegion}``; a ``body`` that is valid JSON is parsed
  ("implicit body data parsing"), so ``$.body.x`` reaches into it;
- ``TargetParameters.InputTemplate``: ``<$.path>`` placeholders and the reserved variables
  ``<aws.pipes.pipe-arn>``, ``<aws.pipes.pipe-name>``, ``<aws.pipes.source-arn>``,
  ``<aws.pipes.target-arn>``, ``<aws.pipes.event.ingestion-time>``, ``<aws.pipes.event>``,
  ``<aws.pipes.event.json>``; a string value is quoted in JSON and an object or array is inserted as
  JSON (events_router.transform's placement rules); without a template the event is sent as JSON
  (its ``body`` as the string it was);
- ``TargetParameters.HttpParameters``: ``HeaderParameters``, ``QueryStringParameters`` and
  ``PathParameterValues`` each take a static value or a JSON path into the event (``$.body.x``:
  the whole value is the path) — unlike a rule's target, headers are dynamic too;
- the request goes through the API-destination sender of the event router (connection
  authorization, 5 s time-out); 2xx deletes the message. Errors ("Pipes error handling"): a
  *customer invocation error* (an HTTP answer other than 2xx, a role that may not invoke the
  destination) leaves the message in the queue, received again after its visibility timeout, and
  the queue's redrive policy moves it to its dead-letter queue after ``maxReceiveCount`` receives;
  a *pipe internal error* (no HTTP answer: connection refused, time-out) is retried by the pipe
  itself, with back-off, without counting against ``maxReceiveCount``, until the message expires
  from the queue (its ``MessageRetentionPeriod``);
- a pipe whose ``DesiredState`` is ``STOPPED`` reads nothing. Events are sent one at a time.

Not modelled: enrichment, filters (``SourceParameters.FilterCriteria``), other sources and targets
(logged once), batching windows, the pipe's own logs.
"""

from __future__ import annotations

import json
import logging
import re
import threading
import time
from typing import Any

from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from localcloud import iam
from localcloud.event_sources import records
from localcloud.events_router import router
from localcloud.events_router.transform import iso_time, json_path, render_template, value_of

log = logging.getLogger("localcloud.pipes")

SCAN_INTERVAL_S = 0.5
BACKOFF_S = (0.5, 30.0)  # a pipe internal error's first retry delay, and the cap (doubling)
PRINCIPAL = "pipes.amazonaws.com"
PLACEHOLDER = re.compile(r"<(\$(?:\.[\w/\-]+|\[(?:\d+|\*)\])*|aws\.pipes\.[a-z.\-]+)>")


def is_sqs_to_api_destination(pipe: dict[str, Any]) -> bool:
    source, target = str(pipe.get("Source") or ""), str(pipe.get("Target") or "")
    return source.startswith("arn:") and source.split(":")[2:3] == ["sqs"] and ":api-destination/" in target


def event_of(record: dict[str, Any]) -> dict[str, Any]:
    """The event as templates and dynamic parameters see it: a JSON body parsed."""
    event = dict(record)
    body = record.get("body")
    if isinstance(body, str):
        try:
            event["body"] = json.loads(body)
        except ValueError:
            pass
    return event


def http_parameters(params: dict[str, Any] | None, event: dict[str, Any]) -> dict[str, Any]:
    """A pipe target's HttpParameters with every JSON path replaced by its value."""
    params = params or {}
    out: dict[str, Any] = {}
    for kind in ("HeaderParameters", "QueryStringParameters"):
        if params.get(kind):
            out[kind] = {str(k): value_of(v, event) for k, v in params[kind].items()}
    if params.get("PathParameterValues"):
        out["PathParameterValues"] = [value_of(v, event) for v in params["PathParameterValues"]]
    return out


def target_input(pipe: dict[str, Any], record: dict[str, Any]) -> str:
    """The request body a pipe sends for one SQS record."""
    template = (pipe.get("TargetParameters") or {}).get("InputTemplate")
    if template is None:
        return json.dumps(record, separators=(",", ":"), ensure_ascii=False)
    event = event_of(record)
    variables: dict[str, Any] = {
        "aws.pipes.pipe-arn": pipe.get("Arn"), "aws.pipes.pipe-name": pipe.get("Name"),
        "aws.pipes.source-arn": pipe.get("Source"), "aws.pipes.target-arn": pipe.get("Target"),
        "aws.pipes.enrichment-arn": pipe.get("Enrichment") or "",
        "aws.pipes.event.ingestion-time": iso_time(time.time()),
        "aws.pipes.event": event, "aws.pipes.event.json": event,
    }
    for m in PLACEHOLDER.finditer(template):
        if m.group(1).startswith("$"):
            variables[m.group(1)] = json_path(event, m.group(1))
    return render_template(template, variables, PLACEHOLDER)


class _PipeRunner(threading.Thread):
    def __init__(self, pipe: dict[str, Any], service: Pipes):
        super().__init__(name=f"localcloud-pipe-{pipe['Name'][:24]}", daemon=True)
        self.pipe = pipe
        self.service = service
        self.stopping = threading.Event()
        self._url: str | None = None
        self._last_problem = ""

    def stop(self) -> None:
        self.stopping.set()

    def _problem(self, text: str) -> None:
        if text != self._last_problem:
            log.warning("pipe %s: %s", self.pipe["Name"], text)
            self._last_problem = text

    def run(self) -> None:
        while not self.stopping.is_set():
            try:
                if not self.poll_once():
                    self.stopping.wait(0.2)
                self._last_problem = ""
            except (ClientError, BotoCoreError, iam.RoleNotAssumable) as e:
                self._problem(str(e))
                self.stopping.wait(1.0)
            except Exception:  # a pipe must not die
                log.exception("pipe %s failed", self.pipe["Name"])
                self.stopping.wait(1.0)

    def poll_once(self) -> bool:
        """Read and send one batch; False when the queue had nothing."""
        pipe = self.pipe
        if self._url is None:  # resolving the queue is the service's, not an action of the role
            _, _, _, _, account, name = pipe["Source"].split(":", 5)
            self._url = self.service.sqs.get_queue_url(QueueName=name, QueueOwnerAWSAccountId=account)["QueueUrl"]
        sqs = self.service.client_as(pipe)
        sqs.get_queue_attributes(QueueUrl=self._url, AttributeNames=["VisibilityTimeout"])
        size = int(((pipe.get("SourceParameters") or {}).get("SqsQueueParameters") or {}).get("BatchSize") or 10)
        messages = sqs.receive_message(QueueUrl=self._url, MaxNumberOfMessages=min(10, size), WaitTimeSeconds=1,
                                       AttributeNames=["All"], MessageAttributeNames=["All"]).get("Messages", [])
        for message in messages:
            if self.stopping.is_set():
                return True  # left in flight: it comes back after its visibility timeout
            record = records.sqs_record(message, pipe["Source"], self.service.region)
            if self.deliver(record, message):
                sqs.delete_message(QueueUrl=self._url, ReceiptHandle=message["ReceiptHandle"])
        return bool(messages)

    def deliver(self, record: dict[str, Any], message: dict[str, Any] | None = None) -> bool:
        """Send one record; True once delivered. A pipe internal error (no HTTP answer) is retried
        here, the message kept in flight, until it is delivered, expires, or the pipe stops."""
        pipe = self.pipe
        try:
            payload = target_input(pipe, record)
            params = http_parameters((pipe.get("TargetParameters") or {}).get("HttpParameters"), event_of(record))
        except Exception as e:  # a template or a path that cannot be applied: the message is not sent
            self._problem(f"cannot build the request: {e}")
            return False
        target = {"Arn": pipe["Target"], "RoleArn": pipe.get("RoleArn"), "HttpParameters": params}
        delay = BACKOFF_S[0]
        while True:
            outcome = router().http.send_once(target, payload, PRINCIPAL)
            if outcome.status is not None and 200 <= outcome.status < 300:
                return True
            internal = outcome.status is None and outcome.retry
            if not internal or message is None or self.stopping.is_set() or self._expired(message):
                log.info("pipe %s: %s answered %s; message %s stays in the queue", pipe["Name"], pipe["Target"],
                         outcome.status or outcome.error, record.get("messageId"))
                return False
            log.info("pipe %s: %s (internal error), retried in %.1fs", pipe["Name"], outcome.error, delay)
            self.service.sqs.change_message_visibility(QueueUrl=self._url, ReceiptHandle=message["ReceiptHandle"],
                                                       VisibilityTimeout=int(delay + 10))
            self.stopping.wait(delay)
            delay = min(BACKOFF_S[1], delay * 2)

    def _expired(self, message: dict[str, Any]) -> bool:
        sent = int((message.get("Attributes") or {}).get("SentTimestamp") or 0) / 1000
        retention = int(self.service.sqs.get_queue_attributes(
            QueueUrl=self._url, AttributeNames=["MessageRetentionPeriod"])["Attributes"]["MessageRetentionPeriod"])
        return time.time() - sent > retention


class Pipes:
    """The service: one runner per running SQS → API destination pipe, found through ListPipes."""

    _lock = threading.Lock()  # boto3 client creation is not thread-safe

    def __init__(self, cloud: Any):
        self.cloud = cloud
        self.region = cloud.region
        self._runners: dict[str, tuple[str, _PipeRunner]] = {}
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._clients: dict[tuple[str, str], Any] = {}
        self._warned: set[str] = set()

    def start(self) -> None:
        self.pipes = self.cloud.client("pipes")
        self.sqs = self.cloud.client("sqs", config=Config(retries={"total_max_attempts": 1}, read_timeout=30))
        self._stopping.clear()
        self._thread = threading.Thread(target=self._scan, name="localcloud-pipes-scan", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        for _, runner in self._runners.values():
            runner.stop()
        if self._thread is not None:
            self._thread.join(timeout=2)
        self._runners.clear()

    def client_as(self, pipe: dict[str, Any]) -> Any:
        """SQS as the pipe's role (the root's without enforcement)."""
        if not iam.enforcing():
            return self.sqs
        creds = iam.credentials(pipe.get("RoleArn"), pipe["Name"], PRINCIPAL)
        key = (str(pipe.get("RoleArn")), creds.access_key)
        with self._lock:
            client = self._clients.get(key)
            if client is None:
                client = self.cloud.client("sqs", aws_access_key_id=creds.access_key,
                                           aws_secret_access_key=creds.secret_key, aws_session_token=creds.token,
                                           config=Config(retries={"total_max_attempts": 1}, read_timeout=30))
                self._clients = {k: v for k, v in self._clients.items() if k[0] != key[0]}
                self._clients[key] = client
        return client

    def _definitions(self) -> list[dict[str, Any]]:
        found = []
        for page in self.pipes.get_paginator("list_pipes").paginate():
            for summary in page.get("Pipes", []):
                if summary.get("DesiredState") != "RUNNING":
                    continue
                try:
                    pipe = self.pipes.describe_pipe(Name=summary["Name"])
                except ClientError:
                    continue  # deleted meanwhile
                pipe.pop("ResponseMetadata", None)
                if is_sqs_to_api_destination(pipe):
                    found.append(pipe)
                elif pipe["Arn"] not in self._warned:
                    self._warned.add(pipe["Arn"])
                    log.warning("pipe %s: only SQS sources to API destination targets run locally", pipe["Name"])
        return found

    def _scan(self) -> None:
        while not self._stopping.wait(SCAN_INTERVAL_S):
            try:
                pipes = self._definitions()
            except (ClientError, BotoCoreError) as e:
                log.warning("listing pipes failed: %s", e)
                continue
            seen = set()
            for pipe in pipes:
                key = json.dumps({k: v for k, v in pipe.items() if k not in ("CurrentState", "LastModifiedTime",
                                                                              "CreationTime", "StateReason")},
                                 sort_keys=True, default=str)
                seen.add(pipe["Arn"])
                known = self._runners.get(pipe["Arn"])
                if known is not None and known[0] == key:
                    continue
                if known is not None:
                    known[1].stop()
                runner = _PipeRunner(pipe, self)
                self._runners[pipe["Arn"]] = (key, runner)
                runner.start()
            for arn in [a for a in self._runners if a not in seen]:
                self._runners.pop(arn)[1].stop()


def install(cloud: Any) -> None:
    cloud.add_service(Pipes(cloud))
