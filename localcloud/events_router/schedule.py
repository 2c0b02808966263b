"""EventBridge schedule expressions, as pure computation: ``rate(...)`` and AWS's 6-field ``cron(...)``.

AWS semantics (EventBridge "Schedule expressions for rules"), all times UTC:

- ``rate(value unit)``: value a positive integer, unit minute|minutes|hour|hours|day|days, singular
  when the value is 1 and plural otherwise. The rate starts when the rule is created.
- ``cron(minutes hours day-of-month month day-of-week year)``: ``, - * /`` in every field;
  ``?`` ``L`` ``W`` in day-of-month; ``?`` ``L`` ``#`` in day-of-week (1-7 or SUN-SAT, 1 = Sunday);
  months 1-12 or JAN-DEC; years 1970-2199. One of day-of-month / day-of-week must be ``?``.

``Scheduler`` fires the rules due at each tick; its clock is injectable so tests need not wait.
"""

from __future__ import annotations

import calendar
import logging
import re
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

log = logging.getLogger("localcloud.events_router.schedule")


class InvalidSchedule(ValueError):
    """A ScheduleExpression AWS would refuse; the message says which part and why."""


def utcnow() -> datetime:
    return datetime.now(UTC)


# ---- rate -----------------------------------------------------------------------------------
_RATE = re.compile(r"^rate\(\s*(\S+)\s+(\S+)\s*\)$")
_RATE_UNITS = {"minute": 60, "hour": 3600, "day": 86400}


@dataclass(frozen=True)
class Rate:
    period: timedelta

    def next_after(self, t: datetime, anchor: datetime) -> datetime:
        """The first firing strictly after ``t`` of a rate that started at ``anchor``."""
        if t < anchor:
            return anchor + self.period
        periods = (t - anchor) // self.period + 1
        return anchor + periods * self.period


def _parse_rate(text: str, body: re.Match) -> Rate:
    value_text, unit = body.group(1), body.group(2)
    if not value_text.isdigit() or int(value_text) < 1:
        raise InvalidSchedule(f"{text}: the rate value must be a positive integer, not {value_text!r}")
    value = int(value_text)
    singular = unit[:-1] if unit.endswith("s") else unit
    if singular not in _RATE_UNITS:
        raise InvalidSchedule(f"{text}: the rate unit must be minute(s), hour(s) or day(s), not {unit!r}")
    if value == 1 and unit != singular:
        raise InvalidSchedule(f"{text}: a rate of 1 takes a singular unit ({singular})")
    if value > 1 and unit == singular:
        raise InvalidSchedule(f"{text}: a rate above 1 takes a plural unit ({singular}s)")
    return Rate(timedelta(seconds=value * _RATE_UNITS[singular]))


# ---- cron -----------------------------------------------------------------------------------
_MONTHS = {m.upper(): i for i, m in enumerate(calendar.month_abbr) if m}
_DAYS = {"SUN": 1, "MON": 2, "TUE": 3, "WED": 4, "THU": 5, "FRI": 6, "SAT": 7}


def _aws_weekday(d: date) -> int:
    """AWS day-of-week number: 1 = Sunday ... 7 = Saturday."""
    return (d.weekday() + 1) % 7 + 1


def _number(token: str, field: str, lo: int, hi: int, names: dict[str, int] | None) -> int:
    upper = token.upper()
    if names and upper in names:
        return names[upper]
    if not token.isdigit():
        raise InvalidSchedule(f"{field}: {token!r} is not a number{' or a name' if names else ''}")
    n = int(token)
    if not lo <= n <= hi:
        raise InvalidSchedule(f"{field}: {n} is outside {lo}-{hi}")
    return n


def _values(spec: str, field: str, lo: int, hi: int, names: dict[str, int] | None = None) -> frozenset[int]:
    """The set of values of a field made of ``, - * /`` parts."""
    out: set[int] = set()
    for part in spec.split(","):
        if not part:
            raise InvalidSchedule(f"{field}: empty item in {spec!r}")
        base, _, step_text = part.partition("/")
        step = 1
        if step_text:
            if not step_text.isdigit() or int(step_text) < 1:
                raise InvalidSchedule(f"{field}: the step in {part!r} must be a positive integer")
            step = int(step_text)
        if base == "*":
            start, end = lo, hi
        elif "-" in base:
            a, _, b = base.partition("-")
            start, end = _number(a, field, lo, hi, names), _number(b, field, lo, hi, names)
            if start > end:
                raise InvalidSchedule(f"{field}: the range {base!r} runs backwards")
        else:
            start = _number(base, field, lo, hi, names)
            end = hi if step_text else start
        out.update(range(start, end + 1, step))
    return frozenset(out)


DayTest = Callable[[date], bool]


def _day_of_month(spec: str) -> DayTest | None:
    field = "day-of-month"
    if spec == "?":
        return None
    if spec == "L":
        return lambda d: d.day == calendar.monthrange(d.year, d.month)[1]
    if spec == "LW":
        return lambda d: d == _nearest_weekday(d.year, d.month, calendar.monthrange(d.year, d.month)[1])
    if spec.endswith("W"):
        day = _number(spec[:-1], field, 1, 31, None)
        return lambda d: d == _nearest_weekday(d.year, d.month, day)
    days = _values(spec, field, 1, 31)
    return lambda d: d.day in days


def _nearest_weekday(year: int, month: int, day: int) -> date | None:
    """The weekday nearest to ``day`` in the same month (AWS/Quartz ``W``); None if no such day."""
    last = calendar.monthrange(year, month)[1]
    if day > last:
        return None
    d = date(year, month, day)
    if d.weekday() == 5:  # Saturday: Friday before, unless that leaves the month
        return d - timedelta(days=1) if day > 1 else d + timedelta(days=2)
    if d.weekday() == 6:  # Sunday: Monday after, unless that leaves the month
        return d + timedelta(days=1) if day < last else d - timedelta(days=2)
    return d


def _day_of_week(spec: str) -> DayTest | None:
    field = "day-of-week"
    if spec == "?":
        return None
    if spec == "L":
        return lambda d: _aws_weekday(d) == 7
    if spec.endswith("L"):
        wd = _number(spec[:-1], field, 1, 7, _DAYS)
        return lambda d: _aws_weekday(d) == wd and d.day + 7 > calendar.monthrange(d.year, d.month)[1]
    if "#" in spec:
        a, _, b = spec.partition("#")
        wd = _number(a, field, 1, 7, _DAYS)
        nth = _number(b, field, 1, 5, None)
        return lambda d: _aws_weekday(d) == wd and (d.day - 1) // 7 + 1 == nth
    days = _values(spec, field, 1, 7, _DAYS)
    return lambda d: _aws_weekday(d) in days


@dataclass(frozen=True)
class Cron:
    minutes: tuple[int, ...]
    hours: tuple[int, ...]
    months: frozenset[int]
    years: frozenset[int]
    day_test: DayTest

    def next_after(self, t: datetime, anchor: datetime | None = None) -> datetime | None:
        """The first matching minute strictly after ``t`` (UTC); None if the expression never fires again."""
        t = t.astimezone(UTC)
        start = t.replace(second=0, microsecond=0) + timedelta(minutes=1)
        d = start.date()
        last_year = max(self.years)
        while d.year <= last_year:
            if d.year not in self.years:
                d = date(d.year + 1, 1, 1)
                continue
            if d.month not in self.months:
                d = date(d.year + 1, 1, 1) if d.month == 12 else date(d.year, d.month + 1, 1)
                continue
            if self.day_test(d):
                for h in self.hours:
                    for m in self.minutes:
                        candidate = datetime(d.year, d.month, d.day, h, m, tzinfo=UTC)
                        if candidate >= start:
                            return candidate
            d += timedelta(days=1)
        return None


_CRON = re.compile(r"^cron\((.*)\)$")


def _parse_cron(text: str, body: str) -> Cron:
    fields = body.split()
    if len(fields) != 6:
        raise InvalidSchedule(
            f"{text}: cron takes 6 fields (minutes hours day-of-month month day-of-week year), got {len(fields)}"
        )
    minute, hour, dom, month, dow, year = fields
    try:
        dom_test, dow_test = _day_of_month(dom), _day_of_week(dow)
        if (dom_test is None) == (dow_test is None):
            raise InvalidSchedule("exactly one of day-of-month and day-of-week must be '?'")
        day_test = dom_test or dow_test
        assert day_test is not None
        return Cron(
            minutes=tuple(sorted(_values(minute, "minutes", 0, 59))),
            hours=tuple(sorted(_values(hour, "hours", 0, 23))),
            months=_values(month, "month", 1, 12, _MONTHS),
            years=_values(year, "year", 1970, 2199),
            day_test=day_test,
        )
    except InvalidSchedule as e:
        raise InvalidSchedule(f"{text}: {e}") from None


Schedule = Rate | Cron


def parse(expression: str) -> Schedule:
    """Parse a ScheduleExpression; raises InvalidSchedule naming what is wrong."""
    text = (expression or "").strip()
    if m := _RATE.match(text):
        return _parse_rate(text, m)
    if m := _CRON.match(text):
        return _parse_cron(text, m.group(1))
    raise InvalidSchedule(f"{expression!r}: a schedule expression is rate(value unit) or cron(6 fields)")


# ---- the scheduler --------------------------------------------------------------------------
@dataclass(frozen=True)
class ScheduledRule:
    arn: str
    expression: str
    enabled: bool


class Scheduler:
    """Fires each enabled scheduled rule at its times.

    ``rules()`` lists the scheduled rules now; ``fire(rule, at)`` delivers one firing (``at`` is
    the scheduled time). A rate starts when the scheduler first sees the rule enabled (AWS: when
    the rule is created). ``tick()`` does one round at ``clock()``; ``start()`` runs ticks on a
    thread every ``poll_seconds`` until ``stop()``.
    """

    def __init__(
        self,
        rules: Callable[[], Iterable[ScheduledRule]],
        fire: Callable[[ScheduledRule, datetime], None],
        clock: Callable[[], datetime] = utcnow,
        poll_seconds: float = 1.0,
    ):
        self._rules = rules
        self._fire = fire
        self._clock = clock
        self._poll = poll_seconds
        # arn -> (expression, parsed schedule, anchor, next firing)
        self._state: dict[str, tuple[str, Schedule, datetime, datetime | None]] = {}
        self._invalid: set[str] = set()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    def tick(self) -> list[tuple[ScheduledRule, datetime]]:
        """Fire what is due now; returns the firings made."""
        now = self._clock()
        fired: list[tuple[ScheduledRule, datetime]] = []
        seen: set[str] = set()
        for rule in self._rules():
            if not rule.enabled:
                continue  # a disabled rule loses its state: re-enabling restarts a rate
            seen.add(rule.arn)
            state = self._state.get(rule.arn)
            if state is None or state[0] != rule.expression:
                try:
                    schedule = parse(rule.expression)
                except InvalidSchedule as e:
                    if rule.expression not in self._invalid:
                        log.error("rule %s: %s", rule.arn, e)
                        self._invalid.add(rule.expression)
                    continue
                self._state[rule.arn] = (rule.expression, schedule, now, schedule.next_after(now, now))
                continue
            expression, schedule, anchor, due = state
            if due is None or now < due:
                continue
            try:
                self._fire(rule, due)
            except Exception:
                log.exception("firing scheduled rule %s failed", rule.arn)
            fired.append((rule, due))
            self._state[rule.arn] = (expression, schedule, anchor, schedule.next_after(now, anchor))
        for arn in set(self._state) - seen:
            del self._state[arn]
        return fired

    def start(self) -> None:
        self._stopping.clear()
        self._thread = threading.Thread(target=self._run, name="localcloud-event-scheduler", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(timeout=2)
            self._thread = None

    def _run(self) -> None:
        while not self._stopping.wait(self._poll):
            try:
                self.tick()
            except Exception:  # a broken round must not end the scheduler
                log.exception("scheduler round failed")
