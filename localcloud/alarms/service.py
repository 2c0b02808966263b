"""The background side: a scheduler that evaluates each alarm as its period closes, and an emitter
that puts ``CloudWatch Alarm State Change`` events on the default bus through PutEvents.

Cadence: an alarm is evaluated at every multiple of min(Period, 60 s) since the epoch (AWS
evaluates standard alarms every minute, high-resolution ones every 10 s), plus ``margin`` seconds
so that datapoints put just after a period closed still count. Late datapoints also count at the
next evaluation, which looks back over the whole evaluation range again.
"""

from __future__ import annotations

import json
import logging
import math
import queue
import threading
import time
from datetime import UTC, datetime
from typing import Any

import boto3
from botocore.exceptions import ClientError

from localcloud.cloud import ROOT_ACCESS_KEY, ROOT_SECRET_KEY

from . import moto_patches
from .evaluation import AlarmDefinition, Query, Samples, configuration_metrics, evaluate, series
from .metric_index import SeriesIndex
from .validation import InvalidAlarm

log = logging.getLogger("localcloud.alarms")

DETAIL_TYPE = "CloudWatch Alarm State Change"
MAX_REASON = 1023
IDLE_WAKE = 60.0


def cadence(definition: AlarmDefinition) -> int:
    return min(definition.period, 60)


class AlarmEvaluator:
    """Service (start/stop) registered with the cloud by ``localcloud.alarms.install``."""

    def __init__(self, cloud: Any, margin: float = 0.3):
        self.cloud = cloud
        self.margin = margin
        self.index = SeriesIndex()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._events: queue.Queue[tuple[str, dict[str, Any]] | None] = queue.Queue()
        self._threads: list[threading.Thread] = []
        self._last: dict[str, int] = {}  # alarm ARN -> last evaluated tick
        self._definitions: dict[str, tuple[Any, AlarmDefinition | None]] = {}
        self._clients: dict[tuple[str, str], Any] = {}
        self._clients_lock = threading.Lock()

    # ---- lifecycle ------------------------------------------------------------------------------
    def start(self) -> None:
        for service in ("cloudwatch", "events"):
            self._client(service, self.cloud.region)
        moto_patches.state_listeners.append(self.on_state_change)
        moto_patches.put_listeners.append(self._wake.set)
        for target, name in ((self._run, "alarm-evaluator"), (self._emit_loop, "alarm-events")):
            t = threading.Thread(target=target, name=f"localcloud-{name}", daemon=True)
            t.start()
            self._threads.append(t)

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        self._events.put(None)
        for listeners, fn in (
            (moto_patches.state_listeners, self.on_state_change),
            (moto_patches.put_listeners, self._wake.set),
        ):
            if fn in listeners:
                listeners.remove(fn)
        for t in self._threads:
            t.join(timeout=1)
        self._threads.clear()

    # ---- scheduling -----------------------------------------------------------------------------
    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                next_wake = self.tick(time.time())
            except Exception:  # never let one bad pass kill the scheduler
                log.exception("alarm evaluation pass failed")
                next_wake = time.time() + 1
            self._wake.wait(max(0.0, next_wake - time.time()))
            self._wake.clear()

    def tick(self, now: float) -> float:
        """Evaluate every alarm whose tick has come; return when the next one comes."""
        next_wake = now + IDLE_WAKE
        due: list[tuple[str, str, Any, Any, AlarmDefinition]] = []
        live: set[str] = set()
        for account, region, backend in moto_patches.iter_backends():
            for alarm in list(backend.alarms.values()):
                if getattr(alarm, "rule", None):
                    continue
                definition = self._definition(alarm)
                if definition is None:
                    continue
                live.add(alarm.alarm_arn)
                step = cadence(definition)
                tick = math.floor((now - self.margin) / step)
                last = self._last.setdefault(alarm.alarm_arn, tick)
                if tick > last:
                    self._last[alarm.alarm_arn] = tick
                    due.append((account, region, backend, alarm, definition))
                next_wake = min(next_wake, (tick + 1) * step + self.margin)
        for arn in set(self._last) - live:
            del self._last[arn]
            self._definitions.pop(arn, None)
        refreshed: set[tuple[str, str]] = set()
        for account, region, backend, alarm, definition in due:
            if (account, region) not in refreshed:
                self.index.refresh(account, region, backend)
                refreshed.add((account, region))
            try:
                self.evaluate_alarm(account, region, alarm, definition, datetime.fromtimestamp(now, UTC))
            except ClientError as e:  # e.g. the alarm was deleted meanwhile
                log.warning("could not set the state of alarm %s: %s", alarm.name, e)
            except Exception:
                log.exception("evaluating alarm %s failed", alarm.name)
        return next_wake

    def _definition(self, alarm: Any) -> AlarmDefinition | None:
        cached = self._definitions.get(alarm.alarm_arn)
        if cached is not None and cached[0] is alarm:
            return cached[1]
        try:
            definition: AlarmDefinition | None = moto_patches.alarm_definition(alarm)
        except InvalidAlarm as e:
            log.warning("alarm %s is not evaluated: %s", alarm.name, e)
            definition = None
        self._definitions[alarm.alarm_arn] = (alarm, definition)
        return definition

    def evaluate_alarm(
        self, account: str, region: str, alarm: Any, definition: AlarmDefinition, now: datetime
    ) -> None:
        def samples_for(query: Query, start: datetime, end: datetime) -> Samples:
            assert query.metric is not None
            return self.index.samples(account, region, query.metric, query.unit, start.timestamp(), end.timestamp())

        points = series(definition, now, samples_for)
        result = evaluate(definition, points, alarm.state_value, now)
        if not result.changed:
            return
        reason = result.reason or ""
        if len(reason) > MAX_REASON:
            reason = reason[: MAX_REASON - 3] + "..."
        # The public API, so that the evaluator's change and a user's are one and the same path.
        self._client("cloudwatch", region).set_alarm_state(
            AlarmName=alarm.name,
            StateValue=result.state,
            StateReason=reason,
            StateReasonData=result.reason_data or "{}",
        )

    def _client(self, service: str, region: str) -> Any:
        key = (service, region)
        with self._clients_lock:  # boto3's default session is not thread-safe when creating clients
            if key not in self._clients:
                if region == self.cloud.region:
                    self._clients[key] = self.cloud.client(service)
                else:  # an alarm in another region: the same local endpoint and credentials
                    self._clients[key] = boto3.session.Session().client(
                        service,
                        endpoint_url=self.cloud.endpoint,
                        region_name=region,
                        aws_access_key_id=ROOT_ACCESS_KEY,
                        aws_secret_access_key=ROOT_SECRET_KEY,
                    )
            return self._clients[key]

    # ---- events ---------------------------------------------------------------------------------
    def on_state_change(self, alarm: Any, previous: dict[str, Any], state: dict[str, Any]) -> None:
        """Called (inside moto) after every state change; queues the event for PutEvents."""
        try:
            definition = moto_patches.alarm_definition(alarm)
            configuration: dict[str, Any] = {"metrics": configuration_metrics(definition)}
        except InvalidAlarm:
            configuration = {"metrics": []}
        if alarm.description:
            configuration["description"] = alarm.description
        detail = {
            "alarmName": alarm.name,
            "state": state,
            "previousState": previous,
            "configuration": configuration,
        }
        entry = {
            "Source": "aws.cloudwatch",
            "DetailType": DETAIL_TYPE,
            "Detail": json.dumps(detail),
            "Resources": [alarm.alarm_arn],
            "Time": datetime.now(UTC),
            "EventBusName": "default",
        }
        self._events.put((alarm.region_name, entry))

    def _emit_loop(self) -> None:
        while True:
            item = self._events.get()
            if item is None:
                return
            region, entry = item
            try:
                answer = self._client("events", region).put_events(Entries=[entry])
                if answer.get("FailedEntryCount"):
                    log.error("PutEvents refused the alarm state change event: %s", answer.get("Entries"))
            except Exception:
                log.exception("could not put the alarm state change event")
