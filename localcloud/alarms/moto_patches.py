"""Where the alarm evaluator meets moto (every private name through localcloud.moto_hooks).

moto 5.2.5 stores alarms (``CloudWatchBackend.alarms``: name -> ``Alarm``) but never evaluates
them, starts them in ``OK``, accepts any definition, keeps ``Alarm.history`` as bare tuples and
does not implement DescribeAlarmHistory. The hooks here:

* ``CloudWatchBackend.put_metric_alarm``: validate first (ValidationError as CloudWatch words
  it), start new alarms in ``INSUFFICIENT_DATA``, keep state and history across an update (AWS
  keeps the state of an updated alarm), record a ``ConfigurationUpdate`` history item;
* ``Alarm.update_state`` (what SetAlarmState - the user's or the evaluator's - ends in): record a
  ``StateUpdate`` history item and hand the change to listeners (the event emitter);
* ``CloudWatchResponse.call_action``: answer DescribeAlarmHistory from those items.
"""

from __future__ import annotations

import inspect
import json
import logging
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

from localcloud.moto_hooks import hook, require

from .evaluation import INSUFFICIENT_DATA, AlarmDefinition, aws_timestamp
from .validation import InvalidAlarm, parse_alarm

log = logging.getLogger("localcloud.alarms")

MODELS = "moto.cloudwatch.models"
INITIAL_REASON = "Unchecked: Initial alarm creation"


def backends() -> Any:
    return require(MODELS, "cloudwatch_backends", "the alarms and metric datapoints the evaluator reads")


def iter_backends() -> Iterator[tuple[str, str, Any]]:
    """(account, region, CloudWatchBackend) for every backend that exists."""
    return iter(list(backends().iter_backends()))


# ---- moto objects -> plain PutMetricAlarm-shaped specs ------------------------------------------
def _query_spec(q: Any) -> dict[str, Any]:
    out: dict[str, Any] = {"Id": q.id, "Label": q.label, "ReturnData": q.return_data, "Period": q.period}
    if q.expression:
        out["Expression"] = q.expression
    ms = q.metric_stat
    if ms is not None:
        out["MetricStat"] = {
            "Metric": {
                "Namespace": ms.metric.namespace,
                "MetricName": ms.metric.metric_name,
                "Dimensions": [{"Name": d.name, "Value": d.value} for d in ms.metric.dimensions],
            },
            "Period": ms.period,
            "Stat": ms.stat,
            "Unit": ms.unit,
        }
    return out


def alarm_spec(alarm: Any) -> dict[str, Any]:
    """A stored moto ``Alarm`` as a PutMetricAlarm-shaped mapping."""
    return {
        "AlarmName": alarm.name,
        "AlarmDescription": alarm.description,
        "MetricName": alarm.metric_name,
        "Namespace": alarm.namespace,
        "Statistic": alarm.statistic,
        "ExtendedStatistic": alarm.extended_statistic,
        "Dimensions": [{"Name": d.name, "Value": d.value} for d in alarm.dimensions],
        "Period": alarm.period,
        "Unit": alarm.unit,
        "EvaluationPeriods": alarm.evaluation_periods,
        "DatapointsToAlarm": alarm.datapoints_to_alarm,
        "Threshold": alarm.threshold,
        "ComparisonOperator": alarm.comparison_operator,
        "TreatMissingData": alarm.treat_missing_data,
        "EvaluateLowSampleCountPercentile": alarm.evaluate_low_sample_count_percentile,
        "ThresholdMetricId": alarm.threshold_metric_id,
        "Metrics": [_query_spec(q) for q in alarm.metric_data_queries or []],
    }


def alarm_definition(alarm: Any) -> AlarmDefinition:
    """Raises InvalidAlarm for an alarm the evaluator cannot evaluate."""
    return parse_alarm(alarm_spec(alarm), alarm.alarm_arn)


def _put_spec(kw: dict[str, Any]) -> dict[str, Any]:
    return {
        "AlarmName": kw.get("name"),
        "AlarmDescription": kw.get("description"),
        "MetricName": kw.get("metric_name"),
        "Namespace": kw.get("namespace"),
        "Statistic": kw.get("statistic"),
        "ExtendedStatistic": kw.get("extended_statistic"),
        "Dimensions": kw.get("dimensions"),
        "Period": kw.get("period"),
        "Unit": kw.get("unit"),
        "EvaluationPeriods": kw.get("evaluation_periods"),
        "DatapointsToAlarm": kw.get("datapoints_to_alarm"),
        "Threshold": kw.get("threshold"),
        "ComparisonOperator": kw.get("comparison_operator"),
        "TreatMissingData": kw.get("treat_missing_data"),
        "EvaluateLowSampleCountPercentile": kw.get("evaluate_low_sample_count_percentile"),
        "ThresholdMetricId": kw.get("threshold_metric_id"),
        "Metrics": [_query_spec(q) for q in kw.get("metric_data_queries") or []],
    }


# ---- listeners (the service registers itself) ---------------------------------------------------
StateListener = Callable[[Any, dict[str, Any], dict[str, Any]], None]  # (alarm, previous, new)
state_listeners: list[StateListener] = []
put_listeners: list[Callable[[], None]] = []


def _state_of(alarm: Any) -> dict[str, Any]:
    ts = alarm.state_updated_timestamp
    return {
        "value": alarm.state_value,
        "reason": alarm.state_reason,
        "reasonData": alarm.state_reason_data or "{}",
        "timestamp": aws_timestamp(ts),
    }


def _history_item(alarm: Any, kind: str, summary: str, data: dict[str, Any]) -> dict[str, Any]:
    return {
        "AlarmName": alarm.name,
        "AlarmType": "MetricAlarm",
        "Timestamp": datetime.now(UTC),
        "HistoryItemType": kind,
        "HistorySummary": summary,
        "HistoryData": json.dumps(data, separators=(",", ":")),
    }


def _history_state(state: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {"stateValue": state["value"], "stateReason": state["reason"]}
    try:
        data = json.loads(state.get("reasonData") or "{}")
    except ValueError:
        data = None
    if data:
        out["stateReasonData"] = data
    return out


# ---- hooks ---------------------------------------------------------------------------------------
def install() -> None:
    validation_error = require(
        "moto.cloudwatch.exceptions", "ValidationError", "CloudWatch's ValidationError"
    )
    backend_cls = require(MODELS, "CloudWatchBackend", "the backend whose alarms are evaluated")
    put_signature = inspect.signature(backend_cls.put_metric_alarm)
    require(MODELS, "Alarm", "alarm state (state_value, state_reason, ...) and history live on it")
    action_result = require("moto.core.responses", "ActionResult", "serialise DescribeAlarmHistory")
    service_exception = require("moto.core.exceptions", "ServiceException", "errors of DescribeAlarmHistory")

    @hook(MODELS, "CloudWatchBackend.put_metric_alarm", "validate alarms; new ones start INSUFFICIENT_DATA")
    def put_metric_alarm(original: Callable[..., Any], self: Any, *args: Any, **kwargs: Any) -> Any:
        bound = put_signature.bind(self, *args, **kwargs)
        kw = dict(bound.arguments)
        if kw.get("rule"):  # a composite alarm (moto re-uses this method): not evaluated here
            return original(self, *args, **kwargs)
        try:
            parse_alarm(_put_spec(kw), "")
        except InvalidAlarm as e:
            raise validation_error(str(e)) from None
        previous = self.alarms.get(kw["name"])
        alarm = original(self, *args, **kwargs)
        if previous is not None:  # AWS: an update keeps the alarm's state
            alarm.state_value = previous.state_value
            alarm.state_reason = previous.state_reason
            alarm.state_reason_data = previous.state_reason_data
            alarm.state_updated_timestamp = previous.state_updated_timestamp
            alarm.history = list(previous.history)
        else:
            alarm.state_value = INSUFFICIENT_DATA
            alarm.state_reason = INITIAL_REASON
            alarm.state_reason_data = None
        verb, kind = ("updated", "Update") if previous is not None else ("created", "Create")
        alarm.history.append(
            _history_item(
                alarm,
                "ConfigurationUpdate",
                f'Alarm "{alarm.name}" {verb}',
                {"version": "1.0", "type": kind, f"{verb}Alarm": _history_config(alarm)},
            )
        )
        for notify in list(put_listeners):
            notify()
        return alarm

    @hook(MODELS, "Alarm.update_state", "record StateUpdate history and emit the state-change event")
    def update_state(
        original: Callable[..., Any], self: Any, reason: str, reason_data: str, state_value: str
    ) -> None:
        before = _state_of(self)
        original(self, reason, reason_data, state_value)
        if self.history and isinstance(self.history[-1], tuple):
            self.history.pop()  # moto's own bare tuple; replaced by an AWS-shaped item below
        if before["value"] == state_value:
            return
        after = _state_of(self)
        self.history.append(
            _history_item(
                self,
                "StateUpdate",
                f"Alarm updated from {before['value']} to {state_value}",
                {"version": "1.0", "oldState": _history_state(before), "newState": _history_state(after)},
            )
        )
        for listener in list(state_listeners):
            try:
                listener(self, before, after)
            except Exception:  # a listener must never fail the API call
                log.exception("alarm state listener failed")

    @hook("moto.cloudwatch.responses", "CloudWatchResponse.call_action", "implement DescribeAlarmHistory")
    def call_action(original: Callable[..., Any], self: Any) -> Any:
        if self._get_action() != "DescribeAlarmHistory":
            return original(self)
        try:
            result = action_result(_describe_alarm_history(self))
        except service_exception as e:
            result = action_result(e)
        status, headers, body = self.serialized(result)
        headers["status"] = str(status)
        headers, body = self._enrich_response(headers, body)
        return status, headers, body

    def _describe_alarm_history(response: Any) -> dict[str, Any]:
        backend = response.cloudwatch_backend
        name = response._get_param("AlarmName")
        kind = response._get_param("HistoryItemType")
        types = response._get_param("AlarmTypes") or []
        start, end = response._get_param("StartDate"), response._get_param("EndDate")
        scan = response._get_param("ScanBy") or "TimestampDescending"
        try:
            limit = int(response._get_param("MaxRecords") or 100)
        except ValueError:
            raise validation_error("MaxRecords must be an integer between 1 and 100.") from None
        token = response._get_param("NextToken") or "0"
        if not str(token).isdigit():
            raise validation_error(f"NextToken {token!r} is not valid.")
        offset = int(token)
        if not 1 <= limit <= 100:
            raise validation_error(f"MaxRecords ({limit}) must be between 1 and 100.")
        if types and "MetricAlarm" not in types:
            return {"AlarmHistoryItems": []}
        alarms = (
            [backend.alarms[name]]
            if name in backend.alarms
            else ([] if name else list(backend.alarms.values()))
        )
        items = [
            item
            for alarm in alarms
            for item in list(alarm.history)
            if isinstance(item, dict)
            and (not kind or item["HistoryItemType"] == kind)
            and (start is None or item["Timestamp"] >= _aware(start))
            and (end is None or item["Timestamp"] <= _aware(end))
        ]
        items.sort(key=lambda i: i["Timestamp"], reverse=scan != "TimestampAscending")
        page = items[offset : offset + limit]
        out: dict[str, Any] = {"AlarmHistoryItems": page}
        if offset + limit < len(items):
            out["NextToken"] = str(offset + limit)
        return out


def _aware(ts: Any) -> datetime:
    if isinstance(ts, str):
        ts = datetime.fromisoformat(ts.replace("Z", "+00:00"))
    if isinstance(ts, (int, float)):
        return datetime.fromtimestamp(ts, UTC)
    return ts if ts.tzinfo else ts.replace(tzinfo=UTC)


def _history_config(alarm: Any) -> dict[str, Any]:
    spec = alarm_spec(alarm)
    return {k[0].lower() + k[1:]: v for k, v in spec.items() if v not in (None, [], "")}


