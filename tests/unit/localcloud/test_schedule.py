"""EventBridge schedule expressions (rate and AWS's 6-field cron) and the scheduler, on a fake clock."""

from datetime import UTC, datetime, timedelta

import pytest

from localcloud.events_router.schedule import InvalidSchedule, ScheduledRule, Scheduler, parse


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def firings(expression: str, start: str, n: int) -> list[str]:
    s = parse(expression)
    t = at(start)
    out = []
    for _ in range(n):
        t = s.next_after(t, at(start))
        out.append(t.strftime("%Y-%m-%d %a %H:%M"))
    return out


# ---- rate -------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("expression", "period"),
    [("rate(1 minute)", 60), ("rate(5 minutes)", 300), ("rate(1 hour)", 3600), ("rate(2 days)", 172800)],
)
def test_given_a_rate_when_parsed_then_its_period_is_the_value_times_the_unit(expression, period):
    assert parse(expression).period == timedelta(seconds=period)


def test_given_a_rate_when_asked_for_next_times_then_they_count_from_the_rule_creation():
    assert firings("rate(5 minutes)", "2024-03-01T10:02:30", 3) == [
        "2024-03-01 Fri 10:07",
        "2024-03-01 Fri 10:12",
        "2024-03-01 Fri 10:17",
    ]


@pytest.mark.parametrize(
    ("expression", "says"),
    [
        ("rate(1 minutes)", "singular"),
        ("rate(5 minute)", "plural"),
        ("rate(0 minutes)", "positive integer"),
        ("rate(-1 minutes)", "positive integer"),
        ("rate(5 weeks)", "minute(s), hour(s) or day(s)"),
        ("rate(five minutes)", "positive integer"),
        ("every 5 minutes", "rate(value unit) or cron(6 fields)"),
    ],
)
def test_given_a_bad_rate_when_parsed_then_the_error_says_what_is_wrong(expression, says):
    with pytest.raises(InvalidSchedule, match=r".*" + says.replace("(", r"\(").replace(")", r"\)")):
        parse(expression)


# ---- cron -------------------------------------------------------------------------------------
def test_given_cron_every_15_minutes_weekdays_when_next_then_it_skips_the_weekend():
    # 2024-03-01 is a Friday
    assert firings("cron(0/15 * ? * MON-FRI *)", "2024-03-01T23:40:00", 3) == [
        "2024-03-01 Fri 23:45",
        "2024-03-04 Mon 00:00",
        "2024-03-04 Mon 00:15",
    ]


def test_given_cron_at_10_15_daily_when_next_then_each_day_at_10_15_utc():
    assert firings("cron(15 10 * * ? *)", "2024-03-01T10:15:00", 2) == [
        "2024-03-02 Sat 10:15",
        "2024-03-03 Sun 10:15",
    ]


def test_given_cron_on_the_last_day_of_the_month_when_next_then_leap_years_count():
    assert firings("cron(0 12 L * ? *)", "2024-01-31T13:00:00", 2) == [
        "2024-02-29 Thu 12:00",
        "2024-03-31 Sun 12:00",
    ]


def test_given_cron_with_day_of_week_numbers_when_next_then_1_is_sunday():
    assert firings("cron(0 8 ? * 1 *)", "2024-03-01T00:00:00", 1) == ["2024-03-03 Sun 08:00"]


def test_given_cron_on_the_last_friday_when_next_then_it_is_the_last_friday_of_each_month():
    assert firings("cron(0 18 ? * 6L *)", "2024-03-01T00:00:00", 2) == [
        "2024-03-29 Fri 18:00",
        "2024-04-26 Fri 18:00",
    ]


def test_given_cron_on_the_second_tuesday_when_next_then_it_is_the_second_tuesday():
    assert firings("cron(30 9 ? * TUE#2 *)", "2024-03-01T00:00:00", 2) == [
        "2024-03-12 Tue 09:30",
        "2024-04-09 Tue 09:30",
    ]


def test_given_cron_on_the_nearest_weekday_to_the_first_when_the_first_is_a_saturday_then_monday_the_3rd():
    # 2024-06-01 is a Saturday: the nearest weekday in the same month is Monday the 3rd.
    assert firings("cron(0 0 1W * ? *)", "2024-05-15T00:00:00", 2) == [
        "2024-06-03 Mon 00:00",
        "2024-07-01 Mon 00:00",
    ]


def test_given_cron_with_named_months_and_a_year_range_when_past_the_last_year_then_it_never_fires():
    s = parse("cron(0 0 1 JAN,JUL ? 2024-2025)")
    assert firings("cron(0 0 1 JAN,JUL ? 2024-2025)", "2024-03-01T00:00:00", 3) == [
        "2024-07-01 Mon 00:00",
        "2025-01-01 Wed 00:00",
        "2025-07-01 Tue 00:00",
    ]
    assert s.next_after(at("2025-07-01T00:00:00")) is None


@pytest.mark.parametrize(
    ("expression", "says"),
    [
        ("cron(0 10 * * *)", "6 fields"),
        ("cron(0 10 * * MON *)", "exactly one of day-of-month and day-of-week"),
        ("cron(0 10 ? * ? *)", "exactly one of day-of-month and day-of-week"),
        ("cron(60 10 * * ? *)", "minutes: 60 is outside 0-59"),
        ("cron(0 24 * * ? *)", "hours: 24 is outside 0-23"),
        ("cron(0 0 * 13 ? *)", "month: 13 is outside 1-12"),
        ("cron(0 0 ? * FUN *)", "day-of-week: 'FUN' is not a number"),
        ("cron(0 0 5-1 * ? *)", "runs backwards"),
        ("cron(0/0 * * * ? *)", "step"),
    ],
)
def test_given_a_bad_cron_when_parsed_then_the_error_names_the_field(expression, says):
    with pytest.raises(InvalidSchedule) as e:
        parse(expression)
    assert says in str(e.value)


# ---- the scheduler ----------------------------------------------------------------------------
class FakeClock:
    def __init__(self, now: datetime):
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


def make_scheduler(rules: list[ScheduledRule], clock: FakeClock):
    fired: list[tuple[str, datetime]] = []
    scheduler = Scheduler(lambda: list(rules), lambda rule, when: fired.append((rule.arn, when)), clock=clock)
    return scheduler, fired


def test_given_a_rate_1_minute_rule_when_a_minute_passes_then_it_fires_once_per_minute():
    clock = FakeClock(at("2024-03-01T10:00:20"))
    scheduler, fired = make_scheduler([ScheduledRule("arn:r1", "rate(1 minute)", True)], clock)
    scheduler.tick()  # first seen: the rate starts now
    clock.advance(59)
    scheduler.tick()
    assert fired == []
    clock.advance(1)
    scheduler.tick()
    clock.advance(30)
    scheduler.tick()
    clock.advance(30)
    scheduler.tick()
    assert fired == [("arn:r1", at("2024-03-01T10:01:20")), ("arn:r1", at("2024-03-01T10:02:20"))]


def test_given_a_disabled_rule_when_its_time_comes_then_it_does_not_fire():
    clock = FakeClock(at("2024-03-01T10:00:00"))
    rules = [ScheduledRule("arn:r1", "rate(1 minute)", False)]
    scheduler, fired = make_scheduler(rules, clock)
    for _ in range(3):
        scheduler.tick()
        clock.advance(60)
    assert fired == []


def test_given_a_rule_disabled_then_enabled_when_ticking_then_its_rate_restarts_at_enabling():
    clock = FakeClock(at("2024-03-01T10:00:00"))
    rules = [ScheduledRule("arn:r1", "rate(1 minute)", True)]
    scheduler, fired = make_scheduler(rules, clock)
    scheduler.tick()
    clock.advance(30)
    rules[0] = ScheduledRule("arn:r1", "rate(1 minute)", False)
    scheduler.tick()
    clock.advance(60)
    rules[0] = ScheduledRule("arn:r1", "rate(1 minute)", True)
    scheduler.tick()  # re-enabled at 10:01:30
    clock.advance(60)
    scheduler.tick()
    assert fired == [("arn:r1", at("2024-03-01T10:02:30"))]


def test_given_a_cron_rule_when_the_clock_passes_its_minute_then_it_fires_at_that_minute():
    clock = FakeClock(at("2024-03-01T10:13:59"))
    scheduler, fired = make_scheduler([ScheduledRule("arn:c", "cron(15 10 * * ? *)", True)], clock)
    scheduler.tick()
    clock.advance(60)  # 10:14:59
    scheduler.tick()
    assert fired == []
    clock.advance(1)
    scheduler.tick()
    assert fired == [("arn:c", at("2024-03-01T10:15:00"))]


def test_given_a_firing_that_raises_when_ticking_then_other_rules_still_fire():
    clock = FakeClock(at("2024-03-01T10:00:00"))
    fired = []

    def fire(rule, when):
        if rule.arn == "arn:bad":
            raise RuntimeError("target gone")
        fired.append(rule.arn)

    rules = [
        ScheduledRule("arn:bad", "rate(1 minute)", True),
        ScheduledRule("arn:ok", "rate(1 minute)", True),
    ]
    scheduler = Scheduler(lambda: rules, fire, clock=clock)
    scheduler.tick()
    clock.advance(60)
    scheduler.tick()
    assert fired == ["arn:ok"]


def test_given_a_started_scheduler_when_stopped_then_it_stops_within_a_second():
    import time

    scheduler = Scheduler(lambda: [], lambda r, w: None, poll_seconds=0.05)
    scheduler.start()
    started = time.monotonic()
    scheduler.stop()
    assert time.monotonic() - started < 1
