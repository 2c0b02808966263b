"""Asynchronous deliveries of SNS and S3 to Lambda, as those services make them: an ``Event``
invoke through the Lambda API, allowed only by the function's resource-based policy (with
``--enforce-iam``: ``AWS::Lambda::Permission`` for ``sns.amazonaws.com`` with the topic as
``SourceArn``, for ``s3.amazonaws.com`` with the bucket). The publisher never waits."""

from __future__ import annotations

import json
import logging
import queue
import threading
from dataclasses import dataclass
from typing import Any

from botocore.config import Config

from localcloud import iam

log = logging.getLogger("localcloud.event_sources")


@dataclass(frozen=True)
class Push:
    function_arn: str  # as subscribed / configured, qualified or not
    service: str  # sns.amazonaws.com, s3.amazonaws.com
    source_arn: str  # the topic, the bucket
    event: dict[str, Any]


class Pusher:
    def __init__(self, cloud: Any, workers: int = 2):
        self.cloud = cloud
        self.workers = workers
        self._queue: queue.Queue[Push | None] = queue.Queue()
        self._threads: list[threading.Thread] = []
        self._lambda: Any = None
        self._pending = 0
        self._idle = threading.Condition()

    def submit(self, push: Push) -> None:
        with self._idle:
            self._pending += 1
        self._queue.put(push)

    def wait_idle(self, timeout: float) -> bool:
        with self._idle:
            return self._idle.wait_for(lambda: self._pending == 0, timeout)

    def start(self) -> None:
        self._lambda = self.cloud.client("lambda", config=Config(retries={"total_max_attempts": 1}, read_timeout=30))
        for n in range(self.workers):
            t = threading.Thread(target=self._run, name=f"localcloud-push-{n}", daemon=True)
            t.start()
            self._threads.append(t)

    def stop(self) -> None:
        for _ in self._threads:
            self._queue.put(None)
        for t in self._threads:
            t.join(timeout=1)
        self._threads.clear()

    def _run(self) -> None:
        while True:
            push = self._queue.get()
            if push is None:
                return
            try:
                self.deliver(push)
            except Exception as e:  # an asynchronous delivery fails in the logs, never to the publisher
                log.error("%s could not invoke %s: %s", push.service, push.function_arn, e)
            finally:
                with self._idle:
                    self._pending -= 1
                    self._idle.notify_all()

    def deliver(self, push: Push) -> None:
        account = push.function_arn.split(":")[4] if push.function_arn.startswith("arn:") else None
        if not iam.service_may_invoke(push.function_arn, push.service, push.source_arn, account):
            raise PermissionError(
                f"the resource-based policy of {push.function_arn} does not allow {push.service} "
                f"lambda:InvokeFunction for {push.source_arn} (add a Lambda permission for it)"
            )
        self._lambda.invoke(
            FunctionName=push.function_arn, InvocationType="Event", Payload=json.dumps(push.event).encode()
        )
