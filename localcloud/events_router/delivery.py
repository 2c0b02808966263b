"""Delivering to Lambda and Step Functions targets, on background workers.

A put-events caller never waits for a target: the router queues one ``Delivery`` per target and
returns. Lambda targets get an asynchronous ``Invoke`` (``InvocationType=Event``) and state machines
a new execution with a unique name, both through the local endpoint's public API. A failed delivery
is logged, never raised.

With IAM enforced (localcloud.iam), delivery is authorized as on AWS: a state machine target is
started with the credentials of the target's ``RoleArn`` (its trust policy must admit
events.amazonaws.com, its policies must allow ``states:StartExecution`` on the state machine), and
a Lambda target must be allowed by the function's resource-based policy (``AddPermission`` for
events.amazonaws.com, ``SourceArn`` the rule).
"""

from __future__ import annotations

import logging
import queue
import threading
import time
import uuid
from dataclasses import dataclass
from typing import Any

from botocore.config import Config

from localcloud import iam

log = logging.getLogger("localcloud.events_router")

# The services whose targets localcloud delivers to (moto delivers to logs, sqs and events).
SERVICES = ("lambda", "states")


@dataclass(frozen=True)
class Delivery:
    rule_arn: str
    target_id: str
    target_arn: str
    payload: str
    role_arn: str | None = None  # the target's RoleArn


class Deliverer:
    def __init__(self, cloud: Any, workers: int = 4):
        self._cloud = cloud
        self._workers = workers
        self._queue: queue.Queue[Delivery | None] = queue.Queue()
        self._threads: list[threading.Thread] = []
        self._clients: dict[str, Any] = {}
        self._idle = threading.Condition()
        self._pending = 0
        self._config = Config(retries={"total_max_attempts": 1}, read_timeout=900, connect_timeout=5)
        self._role_clients: dict[tuple[str, str], Any] = {}  # (role, access key) -> stepfunctions client
        self._role_lock = threading.Lock()

    def submit(self, delivery: Delivery) -> None:
        with self._idle:
            self._pending += 1
        self._queue.put(delivery)

    def wait_idle(self, timeout: float) -> bool:
        """True once every submitted delivery has been made (or failed); for tests and benches."""
        with self._idle:
            return self._idle.wait_for(lambda: self._pending == 0, timeout)

    def start(self) -> None:
        # Clients are made here, on one thread (client creation is not thread-safe); calls are.
        self._clients = {
            "lambda": self._cloud.client("lambda", config=self._config),
            "states": self._cloud.client("stepfunctions", config=self._config),
        }
        for n in range(self._workers):
            t = threading.Thread(target=self._run, name=f"localcloud-event-delivery-{n}", daemon=True)
            t.start()
            self._threads.append(t)

    def stop(self) -> None:
        """Prompt: waits at most a second in all; a worker still inside a call is a daemon thread."""
        for _ in self._threads:
            self._queue.put(None)
        deadline = time.monotonic() + 1
        for t in self._threads:
            t.join(timeout=max(0.0, deadline - time.monotonic()))
        self._threads.clear()

    def _run(self) -> None:
        while True:
            delivery = self._queue.get()
            if delivery is None:
                return
            try:
                self.deliver(delivery)
            except Exception as e:
                log.error(
                    "delivering to target %s (%s) of rule %s failed: %s",
                    delivery.target_id,
                    delivery.target_arn,
                    delivery.rule_arn,
                    e,
                )
            finally:
                with self._idle:
                    self._pending -= 1
                    self._idle.notify_all()

    def deliver(self, delivery: Delivery) -> None:
        service = delivery.target_arn.split(":")[2]
        if service == "lambda":
            if not iam.service_may_invoke(delivery.target_arn, "events.amazonaws.com", delivery.rule_arn):
                raise PermissionError(
                    f"the resource-based policy of {delivery.target_arn} does not allow events.amazonaws.com "
                    f"lambda:InvokeFunction for {delivery.rule_arn} (add a Lambda permission for the rule)"
                )
            self._clients["lambda"].invoke(
                FunctionName=delivery.target_arn,
                InvocationType="Event",
                Payload=delivery.payload.encode("utf-8"),
            )
        elif service == "states":
            self._states_client(delivery).start_execution(
                stateMachineArn=delivery.target_arn,
                name=str(uuid.uuid4()),
                input=delivery.payload,
            )
        else:  # the router only queues SERVICES
            raise ValueError(f"no delivery to {service} targets")

    def _states_client(self, delivery: Delivery) -> Any:
        """Root's client; with IAM enforced, one with the credentials of the target's role."""
        if not iam.enforcing():
            return self._clients["states"]
        if not delivery.role_arn:
            raise PermissionError(
                f"target {delivery.target_id} of {delivery.rule_arn} has no RoleArn: EventBridge starts a state "
                "machine with the target's role, which must allow states:StartExecution on it"
            )
        rule_name = delivery.rule_arn.rsplit("/", 1)[-1]
        creds = iam.credentials(delivery.role_arn, rule_name, "events.amazonaws.com")
        key = (delivery.role_arn, creds.access_key)
        with self._role_lock:
            client = self._role_clients.get(key)
            if client is None:
                self._role_clients = {k: v for k, v in self._role_clients.items() if k[0] != delivery.role_arn}
                client = self._cloud.client(
                    "stepfunctions",
                    aws_access_key_id=creds.access_key,
                    aws_secret_access_key=creds.secret_key,
                    aws_session_token=creds.token,
                    config=self._config,
                )
                self._role_clients[key] = client
        return client
