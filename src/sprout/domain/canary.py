"""Canary and linear promotes, the pure part: the strategy a promote takes (an object or a preset's
name), the plan of weights it walks, and the judge's verdict on one step from the new version's
own requests and errors.

A strategy (``POST .../promote`` body, ``"strategy"``):

* ``{"type": "allAtOnce"}`` — today's promote: every ``live`` alias flips at once;
* ``{"type": "canary", "percent": P, "intervalSeconds": S}`` — P % of every function's traffic on
  the new version for S seconds, judged, then the rest;
* ``{"type": "linear", "percent": P, "intervalSeconds": S}`` — P %, 2P %, … below 100 %, each
  judged after S seconds, then the rest;
* either with ``"steps": [5, 25, 50]``: the weights (percent, rising, 1–99) walked instead.

Presets (``PRESETS``): ``allAtOnce``, ``canary10-10s``, ``canary10-30s``, ``canary10-1m``,
``canary10-5m``, ``canary25-30s``, ``linear10-10s``, ``linear25-30s``, ``linear25-1m``,
``linear50-1m``.

The judge (``judge``) reads the new version only — requests and errors counted on the
``ExecutedVersion`` of every function's ``live`` alias since the step began — so a fault of the
old version, or an alarm already firing on the stage, says nothing about the canary:

* ``FAIL`` as soon as the new version has ``MIN_ERRORS`` errors and more than ``MAX_ERROR_RATE``
  of its requests failed (mid-step: a bad canary is aborted within seconds), or at the end of the
  step when its error rate is above ``MAX_ERROR_RATE``;
* ``BAKING`` until the step's ``intervalSeconds`` have passed;
* ``PASS`` once they have, with at least ``MIN_REQUESTS`` requests (the documented minimum per
  step) at no more than ``MAX_ERROR_RATE`` errors;
* ``WAITING`` with fewer requests, for up to ``wait_limit`` more seconds (``intervalSeconds``,
  between ``MIN_WAIT`` and ``MAX_WAIT``); then ``INCONCLUSIVE``: the deployment pauses (the stage
  stays held, the weight as it is) until a person resumes, finishes or aborts it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

from sprout.domain.errors import InvalidInput, shown

MIN_REQUESTS = 10  # requests of the new version a step needs to be judged PASS
MIN_ERRORS = 3  # errors of the new version that can fail a step before its interval is over
MAX_ERROR_RATE = 0.05  # the new version's errors / requests above which a step fails
MIN_INTERVAL, MAX_INTERVAL = 5, 3600
MIN_WAIT, MAX_WAIT = 30, 600  # how long a step with too few requests waits for more
MAX_STEPS = 20
CHECK_SECONDS = 1  # how often the state machine looks at a step (and at a person's finish/abort)
PAUSE_LIMIT_SECONDS = 3600  # an INCONCLUSIVE canary nobody resumes is aborted after this
# the longest a strategy's steps may take (with their waits for requests): the deploy and promote machines'
# TimeoutSeconds (8 h) covers it and a pause; past it the finalizer removes the weights
MAX_TOTAL_SECONDS = 6 * 3600


class StrategyType(StrEnum):
    ALL_AT_ONCE = "allAtOnce"
    CANARY = "canary"
    LINEAR = "linear"


class Verdict(StrEnum):
    BAKING = "BAKING"
    WAITING = "WAITING"
    PASS = "PASS"
    FAIL = "FAIL"
    INCONCLUSIVE = "INCONCLUSIVE"


class CanaryProgress(StrEnum):
    """Where the deploy machine's canary loop is (its CanaryRoute Choice compares against these)."""

    BEGIN = "BEGIN"
    SHIFT = "SHIFT"
    BAKING = "BAKING"
    PAUSED = "PAUSED"
    PROMOTE = "PROMOTE"
    DEPLOY = "DEPLOY"
    ABORTED = "ABORTED"


# a canary past these has made (or is making) its last flip: the stack converging, or the abort
LAST_STATES = ("PROMOTING", "ABORTING")


def closed_state(state: str | None, status: str) -> str:
    """A canary's state once its deployment is closed: PROMOTED (every alias on the new versions, the
    stack converged), ABORTED (every weight removed), or FAILED (it ended some other way: the stack
    converging failed, or the execution ended; the aliases are as the deployment's versions say)."""
    if status == "SUCCEEDED":
        return "PROMOTED"
    return "ABORTED" if state == "ABORTING" else "FAILED"


class Control(StrEnum):
    """What a person may ask of a canary in progress."""

    FINISH = "finish"
    ABORT = "abort"
    RESUME = "resume"


@dataclass(frozen=True)
class Strategy:
    type: StrategyType
    percent: int = 100
    interval_seconds: int = 0
    steps: tuple[int, ...] = ()
    preset: str | None = None

    @property
    def gradual(self) -> bool:
        return self.type is not StrategyType.ALL_AT_ONCE

    def weights(self) -> list[int]:
        """The percent of traffic on the new version at each judged step (the final flip to 100 %
        is not a step)."""
        if not self.gradual:
            return []
        if self.steps:
            return list(self.steps)
        if self.type is StrategyType.CANARY:
            return [self.percent]
        return list(range(self.percent, 100, self.percent))

    def view(self) -> dict[str, Any]:
        out: dict[str, Any] = {"type": self.type.value}
        if self.gradual:
            out |= {"percent": self.percent, "intervalSeconds": self.interval_seconds, "steps": self.weights()}
        if self.preset:
            out["preset"] = self.preset
        return out


@dataclass(frozen=True)
class Weight:
    """One ``live`` alias as a step sets it: ``primary`` with ``percent`` % on ``extra`` (0: none)."""

    function_name: str
    primary: str
    extra: str | None = None
    percent: int = 0


ALL_AT_ONCE = Strategy(StrategyType.ALL_AT_ONCE)
PRESETS: dict[str, Strategy] = {
    "allAtOnce": ALL_AT_ONCE,
    **{f"canary{p}-{label}": Strategy(StrategyType.CANARY, p, s)
       for p, label, s in ((10, "10s", 10), (10, "30s", 30), (10, "1m", 60), (10, "5m", 300), (25, "30s", 30))},
    **{f"linear{p}-{label}": Strategy(StrategyType.LINEAR, p, s)
       for p, label, s in ((10, "10s", 10), (25, "30s", 30), (25, "1m", 60), (50, "1m", 60))},
}
FIELDS = ("type", "percent", "intervalSeconds", "steps")


def _whole(value: Any, name: str, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise InvalidInput(name, f"must be a whole number from {low} to {high}, not {shown(value)}")
    return value


def parse_strategy(value: Any, field: str = "strategy") -> Strategy:
    """A strategy from an API body: a preset's name or an object (see the module's doc).
    InvalidInput naming the field (``strategy.percent``…) when it is not one."""
    if value is None:
        return ALL_AT_ONCE
    if isinstance(value, str):
        if value in PRESETS:
            preset = PRESETS[value]
            return Strategy(preset.type, preset.percent, preset.interval_seconds, preset.steps, value)
        raise InvalidInput(field, f"unknown preset {shown(value)}: one of {', '.join(PRESETS)}")
    if not isinstance(value, dict):
        raise InvalidInput(field, "must be a preset's name or an object with type, percent, intervalSeconds")
    for key in value:
        if key not in FIELDS:
            raise InvalidInput(f"{field}.{key}", f"is not a strategy field (one of {', '.join(FIELDS)})")
    try:
        kind = StrategyType(str(value.get("type")))
    except ValueError:
        raise InvalidInput(f"{field}.type", f"must be one of {', '.join(t.value for t in StrategyType)}, "
                                            f"not {shown(value.get('type'))}") from None
    if kind is StrategyType.ALL_AT_ONCE:
        extra = [k for k in value if k != "type"]
        if extra:
            raise InvalidInput(f"{field}.{extra[0]}", "allAtOnce takes no percent, interval or steps")
        return ALL_AT_ONCE
    interval = _whole(value.get("intervalSeconds"), f"{field}.intervalSeconds", MIN_INTERVAL, MAX_INTERVAL)
    steps: tuple[int, ...] = ()
    if "steps" in value:
        raw = value["steps"]
        if not isinstance(raw, list) or not 1 <= len(raw) <= MAX_STEPS:
            raise InvalidInput(f"{field}.steps", f"must be a list of 1 to {MAX_STEPS} percents")
        steps = tuple(_whole(s, f"{field}.steps", 1, 99) for s in raw)
        if any(b <= a for a, b in zip(steps, steps[1:], strict=False)):
            raise InvalidInput(f"{field}.steps", "must rise: each percent above the one before")
    if "percent" in value or not steps:
        percent = _whole(value.get("percent"), f"{field}.percent", 1, 99)
    else:
        percent = steps[0]
    if kind is StrategyType.LINEAR and not steps and len(range(percent, 100, percent)) > MAX_STEPS:
        raise InvalidInput(f"{field}.percent", f"linear {percent} % takes more than {MAX_STEPS} steps")
    strategy = Strategy(kind, percent, interval, steps)
    longest = len(strategy.weights()) * (interval + wait_limit(interval))
    if longest > MAX_TOTAL_SECONDS:
        raise InvalidInput(f"{field}.intervalSeconds", f"{len(strategy.weights())} steps of {interval} s (and up to "
                                                      f"{wait_limit(interval)} s each waiting for requests) may take "
                                                      f"{longest} s: more than {MAX_TOTAL_SECONDS} s")
    return strategy


def default_strategy(value: Any, field: str) -> dict[str, Any] | None:
    """A stage's default promote strategy from an API body, as recorded (None: all at once)."""
    parsed = parse_strategy(value, field)
    return parsed.view() if parsed.gradual else None


def strategy_of(view: dict[str, Any] | None) -> Strategy:
    """A strategy back from its recorded view (``Strategy.view``)."""
    if not view or view.get("type") in (None, StrategyType.ALL_AT_ONCE.value):
        return ALL_AT_ONCE
    return Strategy(StrategyType(view["type"]), int(view["percent"]), int(view["intervalSeconds"]),
                    tuple(int(s) for s in view.get("steps") or ()), view.get("preset"))


def wait_limit(interval_seconds: int) -> int:
    """How long a step with too few requests waits for more, after its interval."""
    return max(MIN_WAIT, min(MAX_WAIT, interval_seconds))


@dataclass(frozen=True)
class Judgement:
    verdict: Verdict
    reason: str


def judge(requests: int, errors: int, elapsed: float, interval: int, waited_limit: int | None = None,
          min_requests: int = MIN_REQUESTS, max_error_rate: float = MAX_ERROR_RATE) -> Judgement:
    """The verdict on one step from the new version's own ``requests`` and ``errors`` since the
    step began, ``elapsed`` seconds ago (see the module's doc)."""
    limit = wait_limit(interval) if waited_limit is None else waited_limit
    seen = max(requests, errors)
    rate = errors / seen if seen else 0.0
    said = f"{errors} errors in {requests} requests of the new version"
    if errors >= MIN_ERRORS and rate > max_error_rate:
        return Judgement(Verdict.FAIL, f"{said}: above {max_error_rate:.0%}")
    if elapsed < interval:
        return Judgement(Verdict.BAKING, f"{said} after {elapsed:.0f} of {interval} s")
    if seen >= min_requests:
        if rate > max_error_rate:
            return Judgement(Verdict.FAIL, f"{said}: above {max_error_rate:.0%}")
        return Judgement(Verdict.PASS, f"{said}: at most {max_error_rate:.0%}")
    if elapsed < interval + limit:
        return Judgement(Verdict.WAITING, f"{said}: fewer than {min_requests}; waiting up to {limit} s more")
    return Judgement(Verdict.INCONCLUSIVE, f"{said} after {elapsed:.0f} s: fewer than {min_requests} to judge")


def control_refusal(action: Control, canary_state: str | None, status: str) -> str | None:
    """Why ``action`` cannot be asked of a deployment now (409), or None."""
    if status != "IN_PROGRESS":
        return f"the deployment is {status}: there is nothing to {action.value}"
    if canary_state is None:
        return f"the deployment is not a canary or linear promote in progress: there is nothing to {action.value}"
    if canary_state in LAST_STATES:
        return f"the canary is {canary_state}: its last flip is done or under way; there is nothing to {action.value}"
    if action is Control.RESUME and canary_state != Verdict.INCONCLUSIVE.value:
        return "only an INCONCLUSIVE canary can be resumed"
    return None


def canary_holds(holder: Any) -> str | None:
    """Why an alarm on the stage does not act while ``holder`` (the deployment holding it, a
    ``Deployment``) is a canary in progress: the canary is judged by its new version's own errors,
    and an alarm about the stage (the old version's traffic) neither blocks nor fails it."""
    canary = getattr(holder, "canary", None) if holder is not None else None
    if canary and canary.get("state") not in LAST_STATES and str(getattr(holder, "status", "")) == "IN_PROGRESS":
        return (f"canary {holder.id} of build {holder.build} holds the stage: it is judged by its new version's own "
                "errors; an alarm on the stage neither blocks nor fails it")
    return None


# ---- the new version's handled 5xx ------------------------------------------------------------------
# A handler that RETURNS {"statusCode": 500} is no Lambda error: ``AWS/Lambda`` Errors never see it.
# The stage's access log names, for each 5xx, the Lambda invocation that answered it
# (``integrationRequestId``), and Lambda names each log stream ``YYYY/MM/DD/[<version>]<id>`` (in a
# group LoggingConfig names, as Sprout names every app function's: ``YYYY/MM/DD/<name>[<version>]<id>``):
# a 5xx whose request id appears in one of the new version's streams (its START line, or the JSON
# ``platform.start`` record of LogFormat JSON) was the new version's. Its bad count is ``bad_count``:
# an unhandled error is both a Lambda error and a 502, never counted twice.
LOOKUP_SECONDS = 3  # a step re-reads the logs for 5xx at most this often (the judge looks every second)
MAX_NAMED_IDS = 24  # request ids OR-ed in one filter pattern (CloudWatch Logs: 1024 characters)
START_PATTERN = '?"START RequestId" ?"platform.start"'  # every invocation's first line, text or JSON
_REQUEST_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9-]{0,63}")
_TOKEN = re.compile(r"[A-Za-z0-9-]+")


def request_id_of(value: Any) -> str | None:
    """An access log's ``integrationRequestId`` when it looks like one (it lands in a filter pattern)."""
    return value if isinstance(value, str) and _REQUEST_ID.fullmatch(value) else None


def version_stream_prefixes(function_name: str, log_group: str, version: str, since: datetime,
                            until: datetime) -> list[str]:
    """``logStreamNamePrefix`` of a version's log streams, one per UTC day from ``since`` to ``until``:
    ``YYYY/MM/DD/[<version>]`` in the function's default group, ``YYYY/MM/DD/<function name>[<version>]``
    in a group its LoggingConfig names (as Lambda names them)."""
    named = "" if log_group == f"/aws/lambda/{function_name}" else function_name
    day, last, out = since.astimezone(UTC).date(), until.astimezone(UTC).date(), []
    while day <= last:
        out.append(f"{day:%Y/%m/%d}/{named}[{version}]")
        day += timedelta(days=1)
    return out


def ids_pattern(ids: Iterable[str]) -> str:
    """The filter pattern of the lines naming those request ids (OR terms), or of every invocation's
    first line when there are more than MAX_NAMED_IDS to name."""
    named_ids = sorted(set(ids))
    if len(named_ids) > MAX_NAMED_IDS:
        return START_PATTERN
    return " ".join(f'?"{i}"' for i in named_ids)


def mentioned_ids(messages: Iterable[str], wanted: set[str]) -> set[str]:
    """Which of ``wanted`` those log lines name (a whole token: START RequestId, a JSON requestId)."""
    return {token for message in messages for token in _TOKEN.findall(message)} & wanted


def bad_count(lambda_errors: int, answered_5xx: int) -> int:
    """The new version's failures: its Lambda errors or its 5xx answers, whichever is more (an
    unhandled error is both: counted once)."""
    return max(lambda_errors, answered_5xx)
