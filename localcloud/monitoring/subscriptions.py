"""CloudWatch Logs subscription filters with a Lambda destination, delivered as AWS delivers them.

moto 5.2.5 checks only that the destination function exists at ``PutSubscriptionFilter``; then,
inside every ``PutLogEvents`` call, it invokes the function synchronously with all the call's
events whatever the filter pattern. AWS (CloudWatch Logs, "Using subscription filters"):

* ``PutSubscriptionFilter`` to a Lambda function is refused with InvalidParameterException ("Could
  not execute the lambda function. Make sure you have given CloudWatch Logs permission to execute
  your function.") unless the function's resource-based policy lets ``logs.amazonaws.com`` invoke
  it for that log group (``SourceArn`` ``arn:aws:logs:{region}:{account}:log-group:{name}:*``);
  an invalid ``filterPattern`` is refused with InvalidParameterException;
* the events that match the filter pattern are delivered asynchronously (an ``Event`` invocation;
  ``PutLogEvents`` never waits for the destination), in batches, as
  ``{"awslogs": {"data": base64(gzip(json))}}`` where the JSON is ``{"messageType":
  "DATA_MESSAGE", "owner", "logGroup", "logStream", "subscriptionFilters": [name], "logEvents":
  [{"id", "timestamp", "message"}]}``.

Here a background worker takes what ``PutLogEvents`` queued, joins what is queued for the same
filter, group and stream into one batch (at most ``MAX_BATCH_EVENTS`` events and about
``MAX_BATCH_BYTES``), and invokes the function with ``InvocationType=Event`` through the local
endpoint. This covers every writer of log events, the local cloud's own (function output, API
Gateway access logs written by localcloud.telemetry) included. Other destinations (Kinesis,
Firehose, Logs) are left to moto.
"""

from __future__ import annotations

import base64
import gzip
import json
import logging
import queue
import threading
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from botocore.config import Config

from localcloud import iam
from localcloud.moto_hooks import hook, require

from .filter_pattern import InvalidPattern, compile_pattern

log = logging.getLogger("localcloud.monitoring.subscriptions")

MAX_BATCH_EVENTS = 10_000
MAX_BATCH_BYTES = 1_000_000
SERVICE = "logs.amazonaws.com"
NO_PERMISSION = (
    "Could not execute the lambda function. Make sure you have given CloudWatch Logs permission to execute your function."
)
_WHY = (
    "subscription filters deliver to Lambda asynchronously: LogStream.{_send_log_events,log_group,log_stream_name,"
    "account_id,region}, LogGroup.subscription_filters[name].filter_pattern, LogsBackend.put_subscription_filter"
)


def group_arn(region: str, account: str, group: str) -> str:
    """The ARN CloudWatch Logs invokes a destination for (the ``aws:SourceArn``)."""
    return f"arn:aws:logs:{region}:{account}:log-group:{group}:*"


def payload(owner: str, group: str, stream: str, filter_name: str, events: list[dict[str, Any]]) -> bytes:
    """The invocation's event: ``{"awslogs": {"data": base64(gzip(json))}}``."""
    doc = {
        "messageType": "DATA_MESSAGE",
        "owner": owner,
        "logGroup": group,
        "logStream": stream,
        "subscriptionFilters": [filter_name],
        "logEvents": events,
    }
    data = base64.b64encode(gzip.compress(json.dumps(doc, separators=(",", ":")).encode())).decode()
    return json.dumps({"awslogs": {"data": data}}).encode()


@dataclass
class Batch:
    destination: str
    owner: str
    region: str
    group: str
    stream: str
    filter_name: str
    events: list[dict[str, Any]] = field(default_factory=list)


class SubscriptionDelivery:
    """A service (start/stop): queued batches, joined and delivered by one worker."""

    def __init__(self, cloud: Any):
        self._cloud = cloud
        self._queue: queue.Queue[Batch | None] = queue.Queue()
        self._thread: threading.Thread | None = None
        self._client: Any = None
        self._idle = threading.Condition()
        self._pending = 0

    def submit(self, batch: Batch) -> None:
        with self._idle:
            self._pending += 1
        self._queue.put(batch)

    def wait_idle(self, timeout: float) -> bool:
        """True once everything submitted was delivered (or failed); for tests and benches."""
        with self._idle:
            return self._idle.wait_for(lambda: self._pending == 0, timeout)

    def start(self) -> None:
        config = Config(retries={"total_max_attempts": 1}, read_timeout=30, connect_timeout=5)
        self._client = self._cloud.client("lambda", config=config)
        self._thread = threading.Thread(target=self._run, name="localcloud-log-subscriptions", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        if self._thread is not None:
            self._queue.put(None)
            self._thread.join(timeout=1)
            self._thread = None

    def _run(self) -> None:
        while True:
            first = self._queue.get()
            if first is None:
                return
            taken = [first]
            stop = False
            while True:  # join whatever else is queued already
                try:
                    more = self._queue.get_nowait()
                except queue.Empty:
                    break
                if more is None:
                    stop = True
                    break
                taken.append(more)
            try:
                for batch in join(taken):
                    self.deliver(batch)
            finally:
                with self._idle:
                    self._pending -= len(taken)
                    self._idle.notify_all()
            if stop:
                return

    def deliver(self, batch: Batch) -> None:
        source = group_arn(batch.region, batch.owner, batch.group)
        if not iam.service_may_invoke(batch.destination, SERVICE, source, batch.owner):
            log.error("subscription filter %s of %s: %s is no longer allowed to be invoked by %s; %d events dropped",
                      batch.filter_name, batch.group, batch.destination, SERVICE, len(batch.events))
            return
        try:
            self._client.invoke(
                FunctionName=batch.destination,
                InvocationType="Event",
                Payload=payload(batch.owner, batch.group, batch.stream, batch.filter_name, batch.events),
            )
        except Exception as e:  # a failed delivery is logged, never raised into the worker
            log.error("subscription filter %s of %s: invoking %s failed: %s", batch.filter_name, batch.group,
                      batch.destination, e)


def join(batches: list[Batch]) -> list[Batch]:
    """Batches for the same destination, filter, group and stream joined, in order, within limits."""
    out: list[Batch] = []
    open_: dict[tuple[str, str, str, str], Batch] = {}
    sizes: dict[int, int] = defaultdict(int)
    for b in batches:
        key = (b.destination, b.filter_name, b.group, b.stream)
        size = sum(len(e["message"]) + 26 for e in b.events)
        current = open_.get(key)
        if current is None or len(current.events) + len(b.events) > MAX_BATCH_EVENTS or sizes[id(current)] + size > MAX_BATCH_BYTES:
            current = Batch(b.destination, b.owner, b.region, b.group, b.stream, b.filter_name, [])
            open_[key] = current
            out.append(current)
        current.events.extend(b.events)
        sizes[id(current)] += size
    return out


_delivery: SubscriptionDelivery | None = None


def delivery() -> SubscriptionDelivery:
    if _delivery is None:
        raise RuntimeError("log subscription delivery is not installed")
    return _delivery


def install(cloud: Any) -> None:
    global _delivery
    _delivery = SubscriptionDelivery(cloud)
    cloud.add_service(_delivery)
    invalid = require("moto.logs.exceptions", "InvalidParameterException", _WHY)
    for name in ("LogGroup", "LogStream", "SubscriptionFilter"):
        require("moto.logs.models", name, _WHY)

    @hook("moto.logs.models", "LogsBackend.put_subscription_filter",
          "PutSubscriptionFilter checks the filter pattern and the Lambda destination's resource policy")
    def put_subscription_filter(original: Any, self: Any, log_group_name: str, filter_name: str, filter_pattern: str,
                                destination_arn: str, role_arn: str) -> None:
        try:
            compile_pattern(filter_pattern)
        except InvalidPattern as e:
            raise invalid(f"Invalid filter pattern: {e}") from None
        if destination_arn.split(":")[2:3] == ["lambda"] and log_group_name in self.groups:
            if not iam.service_may_invoke(destination_arn, SERVICE,
                                          group_arn(self.region_name, self.account_id, log_group_name), self.account_id):
                raise invalid(NO_PERMISSION)
        return original(self, log_group_name, filter_name, filter_pattern, destination_arn, role_arn)

    @hook("moto.logs.models", "LogStream._send_log_events",
          "matching events go to a Lambda destination asynchronously, in batches, after PutLogEvents returns")
    def send_log_events(original: Any, self: Any, service: str, destination_arn: str, filter_name: str,
                        log_events: list[dict[str, Any]]) -> None:
        if service != "lambda":
            return original(self, service, destination_arn, filter_name, log_events)
        subscription = self.log_group.subscription_filters.get(filter_name)
        try:
            matches = compile_pattern(getattr(subscription, "filter_pattern", "") or "")
        except InvalidPattern:  # refused at PutSubscriptionFilter; a stored one from before: deliver nothing
            return None
        events = [{"id": str(e["id"]), "timestamp": e["timestamp"], "message": e["message"]}
                  for e in log_events if matches(e["message"])]
        if events:
            delivery().submit(Batch(destination_arn, self.account_id, self.region, self.log_group.name,
                                    self.log_stream_name, filter_name, events))
        return None

