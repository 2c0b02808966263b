"""Lambda's pollers: one thread per event source mapping reads its queue or stream and invokes the
function synchronously with a batch, as Lambda does.

SQS (https://docs.aws.amazon.com/lambda/latest/dg/with-sqs.html): long-polls the queue, gathers up
to ``BatchSize`` messages (waiting up to ``MaximumBatchingWindowInSeconds`` for a full batch once
the first has arrived), invokes, and deletes the batch when the function succeeds. A function error
leaves the messages in flight: they come back after the queue's visibility timeout and, past the
redrive policy's ``maxReceiveCount``, go to the dead-letter queue (moto's queue semantics). With
``FunctionResponseTypes: [ReportBatchItemFailures]`` only the messages the function names in
``batchItemFailures`` come back. A disabled mapping (``Enabled: false``) reads nothing.

DynamoDB streams (https://docs.aws.amazon.com/lambda/latest/dg/with-ddb.html): reads each shard from
``StartingPosition`` (TRIM_HORIZON or LATEST) in order, invokes with up to ``BatchSize`` records,
and retries a failed batch (from the first failed record with ReportBatchItemFailures) until it
succeeds or ``MaximumRetryAttempts`` is spent; the shard does not move on meanwhile.

The mappings are read through Lambda's ListEventSourceMappings every half second, so a mapping
made, changed or deleted by any client is picked up. With ``--enforce-iam`` a poller reads and
deletes with the credentials of the function's execution role, as Lambda does: the role needs
``sqs:ReceiveMessage``/``sqs:DeleteMessage``/``sqs:GetQueueAttributes`` (``dynamodb:GetRecords``,
``GetShardIterator``, ``DescribeStream`` for a stream) or the mapping reads nothing (logged).
"""

from __future__ import annotations

import json
import logging
import threading
import time
from typing import Any

from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from localcloud import iam

from . import filtering, records

log = logging.getLogger("localcloud.event_sources")

SCAN_INTERVAL_S = 0.5
STREAM_POLL_S = 0.25  # Lambda polls a stream's shards four times a second


class Invoker:
    """Synchronous invokes through the local endpoint's Lambda API (as the poller does on AWS)."""

    def __init__(self, lam: Any):
        self.lam = lam

    def invoke(self, function_arn: str, event: dict[str, Any]) -> tuple[bool, bytes]:
        """(succeeded, payload): a function error, a throttle or an API error is a failed batch."""
        try:
            out = self.lam.invoke(
                FunctionName=function_arn, InvocationType="RequestResponse", Payload=json.dumps(event).encode()
            )
        except (ClientError, BotoCoreError) as e:
            log.warning("event source mapping: invoking %s failed: %s", function_arn, e)
            return False, b""
        payload = out["Payload"].read()
        if out.get("FunctionError"):
            log.info("event source mapping: %s returned a function error: %s", function_arn, payload[:300])
            return False, payload
        return True, payload


class RoleClients:
    """Clients of the local cloud as a function's execution role (the root's without enforcement)."""

    _lock = threading.Lock()  # boto3 client creation is not thread-safe

    def __init__(self, cloud: Any, lam: Any, roots: dict[str, Any]):
        self.cloud = cloud
        self.lam = lam
        self.roots = roots
        self._cache: dict[tuple[str, str, str], Any] = {}
        self._roles: dict[str, tuple[float, str, str]] = {}  # function ARN -> (read at, role, function name)

    ROLE_TTL_S = 5.0

    def client(self, service: str, function_arn: str) -> Any:
        if not iam.enforcing():
            return self.roots[service]
        known = self._roles.get(function_arn)
        if known is None or time.monotonic() - known[0] > self.ROLE_TTL_S:
            config = self.lam.get_function_configuration(FunctionName=function_arn)
            known = (time.monotonic(), config["Role"], config["FunctionName"])
            self._roles[function_arn] = known
        _, role, name = known
        creds = iam.credentials(role, name, "lambda.amazonaws.com")
        key = (service, role, creds.access_key)
        with self._lock:
            client = self._cache.get(key)
            if client is None:
                self._cache = {k: v for k, v in self._cache.items() if k[:2] != key[:2]}
                client = self.cloud.client(
                    service,
                    aws_access_key_id=creds.access_key,
                    aws_secret_access_key=creds.secret_key,
                    aws_session_token=creds.token,
                    config=Config(retries={"total_max_attempts": 1}, read_timeout=30),
                )
                self._cache[key] = client
        return client


class _Poller(threading.Thread):
    def __init__(self, mapping: dict[str, Any], invoker: Invoker, region: str):
        super().__init__(name=f"localcloud-esm-{mapping['UUID'][:8]}", daemon=True)
        self.mapping = mapping
        self.invoker = invoker
        self.region = region
        self.stopping = threading.Event()
        self._last_problem = ""

    def _problem(self, text: str) -> None:
        """Logged once per distinct problem, not every second."""
        if text != self._last_problem:
            log.warning("event source mapping %s (%s): %s", self.mapping["UUID"], self.mapping["EventSourceArn"], text)
            self._last_problem = text

    @property
    def enabled(self) -> bool:
        return self.mapping.get("State", "Enabled") in ("Enabled", "Enabling", "Updating")

    @property
    def batch_size(self) -> int:
        return int(self.mapping.get("BatchSize") or 10)

    @property
    def window_s(self) -> float:
        return float(self.mapping.get("MaximumBatchingWindowInSeconds") or 0)

    @property
    def filters(self) -> list[Any]:
        criteria = self.mapping.get("FilterCriteria") or {}
        key = json.dumps(criteria, sort_keys=True)
        if getattr(self, "_filters_key", None) != key:
            self._filters_key, self._filters = key, filtering.patterns(criteria)
        return self._filters

    @property
    def reports_item_failures(self) -> bool:
        return "ReportBatchItemFailures" in (self.mapping.get("FunctionResponseTypes") or [])

    def stop(self) -> None:
        self.stopping.set()

    def run(self) -> None:
        while not self.stopping.is_set():
            if not self.enabled:
                self.stopping.wait(SCAN_INTERVAL_S)
                continue
            try:
                self.poll_once()
                self._last_problem = ""
            except (ClientError, BotoCoreError, iam.RoleNotAssumable, filtering.InvalidFilter) as e:
                self._problem(str(e))
                self.stopping.wait(1.0)
            except Exception:  # a poller must not die
                log.exception("event source mapping %s failed", self.mapping["UUID"])
                self.stopping.wait(1.0)

    def poll_once(self) -> None:
        raise NotImplementedError


class SqsPoller(_Poller):
    def __init__(self, mapping: dict[str, Any], invoker: Invoker, region: str, sqs: Any, clients: RoleClients):
        super().__init__(mapping, invoker, region)
        self.root_sqs = sqs
        self.clients = clients
        self.sqs = sqs
        self._url: str | None = None

    def _queue_url(self) -> str:
        if self._url is None:  # Lambda resolves the queue itself: not an action of the role
            _, _, _, _, account, name = self.mapping["EventSourceArn"].split(":", 5)
            self._url = self.root_sqs.get_queue_url(QueueName=name, QueueOwnerAWSAccountId=account)["QueueUrl"]
        return self._url

    def _receive(self, url: str, count: int, wait_s: int) -> list[dict[str, Any]]:
        return self.sqs.receive_message(
            QueueUrl=url,
            MaxNumberOfMessages=count,
            WaitTimeSeconds=wait_s,
            AttributeNames=["All"],
            MessageAttributeNames=["All"],
        ).get("Messages", [])

    def collect(self, url: str) -> list[dict[str, Any]]:
        batch: list[dict[str, Any]] = []
        deadline = 0.0
        while len(batch) < self.batch_size and not self.stopping.is_set():
            want = min(10, self.batch_size - len(batch))
            if batch and time.monotonic() >= deadline:
                break
            got = self._receive(url, want, 0 if batch else 1)
            if not batch:
                if not got:
                    return []
                deadline = time.monotonic() + self.window_s
            batch += got
            if len(got) < want:
                if self.window_s <= 0:
                    break
                self.stopping.wait(min(0.1, max(0.0, deadline - time.monotonic())))
        return batch

    def poll_once(self) -> None:
        url = self._queue_url()
        self.sqs = self.clients.client("sqs", self.mapping["FunctionArn"])
        batch = self.collect(url)
        if not batch:
            return
        arn = self.mapping["EventSourceArn"]
        kept = []
        for message in batch:
            record = records.sqs_record(message, arn, self.region)
            if filtering.matches(self.filters, filtering.sqs_view(record)):
                kept.append((message, record))
            else:  # Lambda deletes a message that matches no filter
                self.sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
        if not kept:
            return
        batch = [m for m, _ in kept]
        event = {"Records": [r for _, r in kept]}
        ok, payload = self.invoker.invoke(self.mapping["FunctionArn"], event)
        if not ok:
            return  # the batch comes back after the visibility timeout
        failed: set[str] = set()
        if self.reports_item_failures:
            try:
                failed = records.batch_item_failures(payload, {m["MessageId"] for m in batch})
            except records.InvalidBatchResponse as e:
                log.info("event source mapping %s: the whole batch failed: %s", self.mapping["UUID"], e)
                return
        for message in batch:  # DeleteMessage: the action Lambda's execution role is documented to need
            if message["MessageId"] not in failed:
                self.sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])


class StreamPoller(_Poller):
    def __init__(
        self, mapping: dict[str, Any], invoker: Invoker, region: str, clients: RoleClients, position: str | None = None
    ):
        super().__init__(mapping, invoker, region)
        self.clients = clients
        self.position = position  # a LATEST mapping's sequence number when it was made
        self.streams: Any = None
        self._iterators: dict[str, str] = {}
        self._pending: dict[str, list[dict[str, Any]]] = {}  # a failed batch, retried before reading on
        self._attempts: dict[str, int] = {}

    @property
    def batch_size(self) -> int:
        return int(self.mapping.get("BatchSize") or 100)

    def _shards(self) -> list[str]:
        arn = self.mapping["EventSourceArn"]
        shards = self.streams.describe_stream(StreamArn=arn)["StreamDescription"].get("Shards", [])
        for shard in shards:
            sid = shard["ShardId"]
            if sid not in self._iterators:
                kwargs: dict[str, Any] = {"ShardIteratorType": self.mapping.get("StartingPosition") or "TRIM_HORIZON"}
                if kwargs["ShardIteratorType"] == "LATEST" and self.position is not None:
                    kwargs = {"ShardIteratorType": "AT_SEQUENCE_NUMBER", "SequenceNumber": self.position}
                self._iterators[sid] = self.streams.get_shard_iterator(StreamArn=arn, ShardId=sid, **kwargs)[
                    "ShardIterator"
                ]
        return [s["ShardId"] for s in shards]

    def poll_once(self) -> None:
        self.streams = self.clients.client("dynamodbstreams", self.mapping["FunctionArn"])
        busy = False
        for sid in self._shards():
            batch = self._pending.get(sid)
            if not batch:
                out = self.streams.get_records(ShardIterator=self._iterators[sid], Limit=min(self.batch_size, 1000))
                self._iterators[sid] = out.get("NextShardIterator") or self._iterators[sid]
                batch = out.get("Records", [])
            if batch:
                busy = True
                self._deliver(sid, batch)
        if not busy:
            self.stopping.wait(STREAM_POLL_S)

    def _deliver(self, sid: str, batch: list[dict[str, Any]]) -> None:
        arn = self.mapping["EventSourceArn"]
        batch = [r for r in batch if filtering.matches(self.filters, records.stream_record(r, arn, self.region))]
        if not batch:  # records that match no filter are skipped
            self._pending.pop(sid, None)
            self._attempts.pop(sid, None)
            return
        event = {"Records": [records.stream_record(r, arn, self.region) for r in batch]}
        ok, payload = self.invoker.invoke(self.mapping["FunctionArn"], event)
        retry = [] if ok else batch
        if ok and self.reports_item_failures:
            sequence = [r["dynamodb"]["SequenceNumber"] for r in batch]
            try:
                failed = records.batch_item_failures(payload, set(sequence))
            except records.InvalidBatchResponse:
                failed = set(sequence)
            if failed:  # the stream is retried from the first failed record on
                first = min(sequence.index(s) for s in failed)
                retry = batch[first:]
        if not retry:
            self._pending.pop(sid, None)
            self._attempts.pop(sid, None)
            return
        attempts = self._attempts.get(sid, 0) + 1
        limit = int(self.mapping.get("MaximumRetryAttempts", -1) if self.mapping.get("MaximumRetryAttempts") is not None else -1)
        if 0 <= limit < attempts:
            log.warning("event source mapping %s: discarding %d records after %d retries", self.mapping["UUID"], len(retry), limit)
            self._pending.pop(sid, None)
            self._attempts.pop(sid, None)
            return
        self._pending[sid] = retry
        self._attempts[sid] = attempts
        self.stopping.wait(min(0.5 * 2 ** (attempts - 1), 5.0))


class Pollers:
    """The service: keeps one poller per SQS or DynamoDB stream event source mapping."""

    def __init__(self, cloud: Any):
        self.cloud = cloud
        self._pollers: dict[str, _Poller] = {}
        self._stopping = threading.Event()
        self._wake = threading.Event()
        self.positions: dict[str, str] = {}  # mapping UUID -> where its LATEST stream position was
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        config = Config(retries={"total_max_attempts": 1}, read_timeout=910, connect_timeout=5)
        self._lambda = self.cloud.client("lambda", config=config)
        self._sqs = self.cloud.client("sqs", config=Config(retries={"total_max_attempts": 1}, read_timeout=30))
        self._streams = self.cloud.client("dynamodbstreams")
        self._invoker = Invoker(self._lambda)
        self._clients = RoleClients(self.cloud, self._lambda, {"sqs": self._sqs, "dynamodbstreams": self._streams})
        self._stopping.clear()
        self._thread = threading.Thread(target=self._scan, name="localcloud-esm-scan", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        self._wake.set()
        for poller in self._pollers.values():
            poller.stop()
        if self._thread is not None:
            self._thread.join(timeout=2)
        self._pollers.clear()

    def _mappings(self) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = []
        for page in self._lambda.get_paginator("list_event_source_mappings").paginate():
            found += page.get("EventSourceMappings", [])
        return found

    def wake(self) -> None:
        """Look at the mappings now (a mapping was just made or changed): a LATEST stream position
        is then taken right after CreateEventSourceMapping answers, not up to half a second later."""
        self._wake.set()

    def _scan(self) -> None:
        while not self._stopping.is_set():
            self._wake.wait(SCAN_INTERVAL_S)
            self._wake.clear()
            if self._stopping.is_set():
                return
            try:
                mappings = self._mappings()
            except (ClientError, BotoCoreError) as e:
                log.warning("listing event source mappings failed: %s", e)
                continue
            seen = set()
            for mapping in mappings:
                uuid = mapping["UUID"]
                seen.add(uuid)
                poller = self._pollers.get(uuid)
                if poller is not None:
                    poller.mapping = mapping
                    continue
                service = mapping["EventSourceArn"].split(":")[2]
                if service == "sqs":
                    poller = SqsPoller(mapping, self._invoker, self.cloud.region, self._sqs, self._clients)
                elif service == "dynamodb":
                    poller = StreamPoller(
                        mapping, self._invoker, self.cloud.region, self._clients, self.positions.get(uuid)
                    )
                else:
                    continue
                self._pollers[uuid] = poller
                poller.start()
            for uuid in [u for u in self._pollers if u not in seen]:
                self._pollers.pop(uuid).stop()
