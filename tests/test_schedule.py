"""Schedules: parsing, next fire times in the subscriber's timezone, DST days, due checks."""

from datetime import UTC, datetime, timedelta
from itertools import pairwise

import pytest

from digestbot.schedule import (
    ScheduleError,
    get_timezone,
    is_due,
    next_due,
    next_run,
    parse_duration,
    parse_schedule,
    previous_run,
)


def fires(spec: str, tz: str, start: datetime, days: int) -> list[datetime]:
    sched, zone = parse_schedule(spec), get_timezone(tz)
    out, t, end = [], start, start + timedelta(days=days)
    while (t := next_run(sched, zone, t)) is not None and t < end:
        out.append(t.astimezone(zone))
    return out


def test_daily_in_local_time():
    times = fires("daily 08:00", "Asia/Kolkata", datetime(2024, 3, 1, tzinfo=UTC), 3)
    assert [(t.day, t.hour, t.minute) for t in times] == [(1, 8, 0), (2, 8, 0), (3, 8, 0)]
    assert times[0].astimezone(UTC).hour == 2 and times[0].astimezone(UTC).minute == 30


def test_weekdays_skip_weekend():
    times = fires("weekdays 07:30", "UTC", datetime(2024, 3, 4, tzinfo=UTC), 7)  # Monday
    assert [t.strftime("%a") for t in times] == ["Mon", "Tue", "Wed", "Thu", "Fri"]


def test_weekly():
    times = fires("weekly mon 09:00", "Europe/Berlin", datetime(2024, 3, 1, tzinfo=UTC), 21)
    assert [t.strftime("%a %d %H:%M") for t in times] == ["Mon 04 09:00", "Mon 11 09:00", "Mon 18 09:00"]


def test_cron_with_steps_ranges_and_names():
    times = fires("*/30 9-10 * * mon-fri", "UTC", datetime(2024, 3, 8, tzinfo=UTC), 4)  # Fri..Mon
    slots = ["09:00", "09:30", "10:00", "10:30"]
    assert [t.strftime("%a %H:%M") for t in times] == [f"{d} {s}" for d in ("Fri", "Mon") for s in slots]


def test_cron_day_of_month_or_weekday():
    times = fires("0 12 1 * sun", "UTC", datetime(2024, 3, 30, tzinfo=UTC), 4)  # Sat 30 .. Tue 2
    assert [t.strftime("%d") for t in times] == ["31", "01"]  # Sunday 31st, and the 1st


def test_cron_day_of_month_starting_with_a_star_is_unrestricted_as_crontab_says():
    # crontab(5): "if both fields are restricted (i.e., don't start with *)", either one; `*/2`
    # starts with one, so this is an odd day of the month that is also a Monday (as cron runs it).
    times = fires("0 8 */2 * mon", "UTC", datetime(2024, 4, 1, tzinfo=UTC), 30)  # Mon 1 April
    assert [t.strftime("%a %d") for t in times] == ["Mon 01", "Mon 15", "Mon 29"]
    times = fires("0 8 * * */2", "UTC", datetime(2024, 4, 1, tzinfo=UTC), 7)
    assert [t.strftime("%a") for t in times] == ["Tue", "Thu", "Sat", "Sun"]  # 0, 2, 4, 6: Sun ... Sat


@pytest.mark.parametrize(
    "spec, days",
    [
        ("0 8 * * sat-sun", ["Sat", "Sun"]),
        ("0 8 * * fri-mon", ["Fri", "Sat", "Sun", "Mon"]),
        ("0 8 * * 6-0", ["Sat", "Sun"]),
        ("0 8 * * 7-1", ["Sun", "Mon"]),  # 7 is Sunday too
        ("0 8 * * fri-tue/2", ["Fri", "Sun", "Tue"]),
        ("0 8 * * 7", ["Sun"]),  # Sunday as 7, alone: not the week from Sunday to 7
        ("0 8 * * 7-7", ["Sun"]),
        ("0 8 * * 5-7", ["Fri", "Sat", "Sun"]),
    ],
)
def test_a_weekday_range_that_wraps_the_week_is_read_round_it(spec, days):
    times = fires(spec, "UTC", datetime(2024, 4, 1, tzinfo=UTC), 7)  # Mon 1 .. Sun 7 April
    assert sorted(t.strftime("%a") for t in times) == sorted(days)


def test_a_month_range_that_wraps_the_year_is_read_round_it():
    assert sorted(parse_schedule("0 8 1 nov-feb *").months) == [1, 2, 11, 12]
    assert sorted(parse_schedule("0 8 1 11-2 *").months) == [1, 2, 11, 12]


def test_spring_forward_fires_once_an_hour_late():
    # 02:30 does not exist in Los Angeles on 2024-03-10.
    times = fires("daily 02:30", "America/Los_Angeles", datetime(2024, 3, 9, tzinfo=UTC), 3)
    assert [t.strftime("%d %H:%M") for t in times] == ["09 02:30", "10 03:30", "11 02:30"]


def test_fall_back_fires_once():
    # 01:30 happens twice in Los Angeles on 2024-11-03.
    times = fires("daily 01:30", "America/Los_Angeles", datetime(2024, 11, 2, tzinfo=UTC), 3)
    assert [t.strftime("%d %H:%M") for t in times] == ["02 01:30", "03 01:30", "04 01:30"]


def test_is_due():
    sched, tz = parse_schedule("daily 08:00"), get_timezone("UTC")
    last = datetime(2024, 3, 1, 9, 0, tzinfo=UTC)
    assert is_due(sched, tz, None, last)  # never had a digest: due at once
    assert not is_due(sched, tz, last, datetime(2024, 3, 2, 7, 59, tzinfo=UTC))
    assert is_due(sched, tz, last, datetime(2024, 3, 2, 8, 0, tzinfo=UTC))
    assert is_due(sched, tz, last, datetime(2024, 3, 9, 8, 0, tzinfo=UTC))  # after downtime: once


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("daily 25:00", "HH:MM"),
        ("weekly funday 09:00", "day name"),
        ("hourly", "cannot read schedule"),
        ("0 0 31 2 *", "never fires"),
        ("61 * * * *", "minute must be 0-59"),
        ("* * * * * *", "cannot read schedule"),
        ("*/0 * * * *", "step"),
        ("5-1 * * * *", "backwards"),
    ],
)
def test_bad_schedules(spec, message):
    with pytest.raises(ScheduleError, match=message):
        parse_schedule(spec)


def test_durations():
    assert parse_duration("6h") == 21600
    assert parse_duration("1h30m") == 5400
    assert parse_duration(15) == 900
    for bad in ("6x", "", "0m", "h"):
        with pytest.raises(ScheduleError):
            parse_duration(bad)


def test_unknown_timezone():
    with pytest.raises(ScheduleError, match="unknown timezone"):
        get_timezone("Europe/Berln")


def all_fire_times(spec: str, tz: str, start: datetime, days: int) -> list[datetime]:
    """Every scheduled local time of the days around (start, start + days), in UTC, in order:
    the oracle for next_run (a skipped local time maps, as documented, to fold=0)."""
    sched, zone = parse_schedule(spec), get_timezone(tz)
    first = start.astimezone(zone).date() - timedelta(days=1)
    instants = set()
    for i in range(days + 3):  # + 3: the date line can skip a local day
        day = first + timedelta(days=i)
        if sched.day_matches(day):
            for h in sched.hours:
                for m in sched.minutes:
                    fire = datetime(day.year, day.month, day.day, h, m, tzinfo=zone).astimezone(UTC)
                    if start < fire < start + timedelta(days=days):
                        instants.add(fire)
    return sorted(instants)


CLOCK_CHANGES = [
    # Lord Howe moves its clocks by 30 minutes: 02:15 does not exist on 2026-10-04 and becomes
    # 02:45, later than 02:40, which does.
    ("15,40 2 * * *", "Australia/Lord_Howe", datetime(2026, 10, 2, tzinfo=UTC)),
    # Troll (Antarctica) moves its clocks by two hours: 02:00 on 2026-03-29 becomes 04:00.
    ("0 2,3 * * *", "Antarctica/Troll", datetime(2026, 3, 27, tzinfo=UTC)),
    ("0 2,3 * * *", "Antarctica/Troll", datetime(2026, 10, 23, tzinfo=UTC)),
    ("*/20 1-3 * * *", "America/New_York", datetime(2026, 3, 7, tzinfo=UTC)),
    ("daily 01:30", "America/New_York", datetime(2026, 10, 30, tzinfo=UTC)),
    ("*/20 0-3 * * *", "Europe/Berlin", datetime(2026, 10, 24, tzinfo=UTC)),
    # Samoa skipped 30 December 2011 (it crossed the date line)
    ("30 0-23/2 * * *", "Pacific/Apia", datetime(2011, 12, 28, tzinfo=UTC)),
    ("weekly fri 08:00", "Pacific/Apia", datetime(2011, 12, 27, tzinfo=UTC)),
]


@pytest.mark.parametrize("spec, tz, start", CLOCK_CHANGES)
def test_next_run_is_the_earliest_scheduled_time_even_when_a_clock_change_reorders_them(spec, tz, start):
    times = [t.astimezone(UTC) for t in fires(spec, tz, start, 15)]
    assert times == all_fire_times(spec, tz, start, 15)


@pytest.mark.parametrize("spec, tz, start", CLOCK_CHANGES)
def test_previous_run_is_the_latest_scheduled_time_at_or_before(spec, tz, start):
    sched, zone = parse_schedule(spec), get_timezone(tz)
    times = all_fire_times(spec, tz, start, 15)
    assert len(times) >= 2
    for earlier, fire in pairwise(times):
        assert previous_run(sched, zone, fire) == fire
        assert previous_run(sched, zone, fire - timedelta(microseconds=1)) == earlier


def test_a_moved_schedule_counts_the_last_digest_for_the_nearest_new_time():
    utc = get_timezone("UTC")
    at_ten = parse_schedule("daily 10:00")
    sent_at_eight = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)
    assert next_due(at_ten, utc, sent_at_eight) == datetime(2026, 3, 1, 10, 0, tzinfo=UTC)  # unchanged
    assert next_due(at_ten, utc, sent_at_eight, moved=("daily 08:00", "UTC")) == datetime(
        2026, 3, 2, 10, 0, tzinfo=UTC
    )
    at_eight, sent_at_ten = parse_schedule("daily 08:00"), datetime(2026, 3, 1, 10, 0, tzinfo=UTC)
    assert next_due(at_eight, utc, sent_at_ten, moved=("daily 10:00", "UTC")) == datetime(
        2026, 3, 2, 8, 0, tzinfo=UTC
    )
    # a first digest at sign-up, late in the day, is not moved: tomorrow's comes as usual
    late = datetime(2026, 3, 1, 21, 0, tzinfo=UTC)
    assert next_due(at_eight, utc, late) == datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
