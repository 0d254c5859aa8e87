"""Schedules: parsing, next fire times in the subscriber's timezone, DST days, due checks."""

from datetime import UTC, datetime, timedelta

import pytest

from digestbot.schedule import ScheduleError, get_timezone, is_due, next_run, parse_duration, parse_schedule


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
