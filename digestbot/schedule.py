"""Schedule strings and due times. Pure: every function takes the clock as an argument.

A schedule is `daily HH:MM`, `weekdays HH:MM`, `weekly DAY HH:MM` or a 5-field cron expression,
read in the subscriber's IANA timezone. Fire times are computed on local wall-clock dates, so a
digest fires once per scheduled local time even on the days clocks move: a time skipped by a
spring-forward fires as much later as the clocks moved (an hour in most zones, 30 minutes on
Lord Howe), a time repeated by a fall-back fires once (its first pass).
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from .text import is_number

_MONTHS = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"]
_CRON_DOW = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"]
_TIME_RE = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)$")
_DURATION_RE = re.compile(r"(\d+)\s*([smhd])")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
# IANA names are parts of letters, digits and _+- joined by "/" (the longest is 32 characters).
_TZ_NAME_RE = re.compile(r"^[A-Za-z0-9_+-]+(/[A-Za-z0-9_+-]+)*$")
MAX_TIMEZONE_CHARS = 64
_SEARCH_DAYS = 366 * 8 + 2  # a Feb-29-on-a-Monday cron fires within 28 years; 8 is plenty for all else


@dataclass(frozen=True)
class Schedule:
    """A parsed schedule: the cron sets it fires on (weekdays 0 = Monday)."""

    spec: str
    minutes: frozenset[int]
    hours: frozenset[int]
    days: frozenset[int]
    months: frozenset[int]
    weekdays: frozenset[int]
    any_day: bool = True
    any_weekday: bool = True

    def day_matches(self, d: date) -> bool:
        if d.month not in self.months:
            return False
        dom, dow = d.day in self.days, d.weekday() in self.weekdays
        if self.any_day or self.any_weekday:
            return dom and dow
        return dom or dow  # crontab(5): both restricted (neither starts with `*`), either one

    @property
    def shortest_gap(self) -> int:
        """Minutes between its two closest times of a day, past midnight too (clock times: a
        daylight-saving change aside); 1440 for once a day."""
        times = sorted(h * 60 + m for h in self.hours for m in self.minutes)
        return min(b - a for a, b in zip(times, [*times[1:], times[0] + 1440], strict=True))


class ScheduleError(ValueError):
    """A schedule string that cannot be read, or that never fires."""


def _hhmm(text: str) -> tuple[int, int]:
    m = _TIME_RE.match(text)
    if not m:
        raise ScheduleError(f"expected a time as HH:MM (24-hour), got {text!r}")
    return int(m.group(1)), int(m.group(2))


_FULL_DAYS = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]


def _day(text: str) -> int:
    key = text.lower()
    for i, full in enumerate(_FULL_DAYS):
        if key in (full, full[:3]):
            return i
    raise ScheduleError(f"expected a day name (mon ... sun), got {text!r}")


_ALL_DAYS = frozenset(range(1, 32))
_ALL_MONTHS = frozenset(range(1, 13))
_ALL_WEEKDAYS = frozenset(range(7))


@lru_cache(maxsize=4096)  # asked for every subscriber at every dispatch; few distinct strings
def parse_schedule(spec: str) -> Schedule:
    """Read a schedule string; raises ScheduleError saying what is wrong and what is allowed."""
    words = spec.split()
    if not words:
        raise ScheduleError("empty schedule")
    kind = words[0].lower()
    if kind in ("daily", "weekdays") and len(words) == 2:
        h, m = _hhmm(words[1])
        weekdays = _ALL_WEEKDAYS if kind == "daily" else frozenset(range(5))
        sched = Schedule(spec, frozenset([m]), frozenset([h]), _ALL_DAYS, _ALL_MONTHS, weekdays)
    elif kind == "weekly" and len(words) == 3:
        h, m = _hhmm(words[2])
        days = frozenset([_day(words[1])])
        sched = Schedule(spec, frozenset([m]), frozenset([h]), _ALL_DAYS, _ALL_MONTHS, days)
    elif len(words) == 5:
        sched = _parse_cron(spec, words)
    elif len(words) > 2 and _takes(get_timezone, words[-1]) and reads_as_schedule(" ".join(words[:-1])):
        # the form `/digest schedule` takes: in the YAML the zone is a key of its own
        raise ScheduleError(
            f"schedule {spec!r} ends in a timezone: write schedule: {' '.join(words[:-1])} and,"
            f" on a line of its own, timezone: {words[-1]}"
        )
    else:
        raise ScheduleError(
            f"cannot read schedule {spec!r}: use 'daily HH:MM', 'weekdays HH:MM', "
            "'weekly DAY HH:MM' or a 5-field cron expression"
        )
    if next_run(sched, ZoneInfo("UTC"), datetime(2000, 1, 1, tzinfo=UTC)) is None:
        raise ScheduleError(f"schedule {spec!r} never fires")
    return sched


def reads_as_schedule(spec: str) -> bool:
    """Whether `spec` is a schedule parse_schedule takes."""
    return _takes(parse_schedule, spec)


def _takes(parse: Callable[[str], object], text: str) -> bool:
    try:
        parse(text)
    except ScheduleError:
        return False
    return True


def _parse_cron(spec: str, words: list[str]) -> Schedule:
    minute, hour, dom, month, dow = words
    weekdays = frozenset((d - 1) % 7 for d in _cron_field(dow, 0, 7, _CRON_DOW, "day of week"))
    return Schedule(
        spec,
        frozenset(_cron_field(minute, 0, 59, None, "minute")),
        frozenset(_cron_field(hour, 0, 23, None, "hour")),
        frozenset(_cron_field(dom, 1, 31, None, "day of month")),
        frozenset(_cron_field(month, 1, 12, _MONTHS, "month")),
        weekdays,
        # crontab(5): a field that starts with `*` (`*`, `*/2`) is unrestricted, so `0 8 */2 * mon`
        # is an odd day that is a Monday, as cron runs it and crontab.guru reads it
        any_day=dom.startswith("*"),
        any_weekday=dow.startswith("*"),
    )


def _cron_value(text: str, lo: int, hi: int, names: list[str] | None, what: str) -> int:
    if names and text.lower() in names:
        return names.index(text.lower()) + (1 if names is _MONTHS else 0)
    if not is_number(text) or not lo <= int(text) <= hi:
        raise ScheduleError(f"cron {what} must be {lo}-{hi}, got {text!r}")
    return int(text)


def _cron_field(text: str, lo: int, hi: int, names: list[str] | None, what: str) -> set[int]:
    values: set[int] = set()
    for part in text.split(","):
        rng, _, step_text = part.partition("/")
        step = int(step_text) if is_number(step_text) and int(step_text) > 0 else None
        if step_text and step is None:
            raise ScheduleError(f"cron {what} step must be a positive number, got {part!r}")
        if rng == "*":
            start, end = lo, hi
        elif "-" in rng:
            a, b = rng.split("-", 1)
            start, end = _cron_value(a, lo, hi, names, what), _cron_value(b, lo, hi, names, what)
        else:
            start = _cron_value(rng, lo, hi, names, what)
            end = hi if step else start
        if start > end and names is None:  # `5-1` minutes is a slip, not "5 to 59, then 0 and 1"
            raise ScheduleError(f"cron {what} range {rng!r} runs backwards")
        values.update(_cron_range(start, end, lo, hi, names is _CRON_DOW)[:: step or 1])
    return values


def _cron_range(start: int, end: int, lo: int, hi: int, weekdays: bool) -> list[int]:
    """start..end; one that runs backwards wraps round the week or the year (`fri-mon`,
    `sat-sun`, `nov-feb`), as people write them (cron refuses them)."""
    if start <= end:
        return list(range(start, end + 1))
    if weekdays and start == 7:  # from Sunday written as 7 (`7-2`): the week starts there
        return list(range(0, end + 1))
    top = hi - 1 if weekdays else hi  # the week wraps at 6: 7 is Sunday again
    return list(range(start, top + 1)) + list(range(lo, end + 1))


def _fires(schedule: Schedule, tz: ZoneInfo, day: date) -> list[datetime]:
    """The schedule's fire times on `day` in `tz`, in UTC (none on a day it skips)."""
    if not schedule.day_matches(day):
        return []
    return [
        datetime(day.year, day.month, day.day, h, m, tzinfo=tz).astimezone(UTC)
        for h in schedule.hours
        for m in schedule.minutes
    ]


def next_run(schedule: Schedule, tz: ZoneInfo, after: datetime) -> datetime | None:
    """The first fire time strictly after `after`, in UTC; None if it never fires."""
    day = after.astimezone(tz).date()
    for _ in range(_SEARCH_DAYS):
        # The earliest of the day's times, not the first in wall-clock order: a skipped time
        # moves forward by the change (30 minutes on Lord Howe, 2 hours on Troll), past times
        # that follow it on the clock face.
        upcoming = [fire for fire in _fires(schedule, tz, day) if fire > after]
        if upcoming:
            return min(upcoming)
        day += timedelta(days=1)
    return None


def previous_run(schedule: Schedule, tz: ZoneInfo, at: datetime) -> datetime | None:
    """The last fire time at or before `at`, in UTC; None if there is none within the search."""
    found: list[datetime] = []
    day, left = at.astimezone(tz).date() + timedelta(days=1), _SEARCH_DAYS
    while left > 0:
        found += [fire for fire in _fires(schedule, tz, day) if fire <= at]
        day, left = day - timedelta(days=1), left - 1
        if found:
            left = min(left, 1)  # one day more: a time that day skipped may land on the next
    return max(found, default=None)


def next_due(
    schedule: Schedule,
    tz: ZoneInfo,
    last_run: datetime,
    moved: tuple[str, str] | None = None,
    now: datetime | None = None,
) -> datetime | None:
    """When the digest after the one of `last_run` is due, in UTC; None if never.

    `moved`: the schedule and timezone the last run was due under, when they changed since.
    The run then stands for the new schedule's time nearest to the one it was due at, so a
    digest moved from 08:00 to 10:00 comes at 10:00, once, whether the change came before or
    after 08:00; moved to 08:00 at 09:00 (today's 10:00 not sent yet), it comes at once rather
    than tomorrow; and a digest sent away from its time (a first one at 20:00, the one after
    downtime) still stands for the 08:00 it was due at, so moved to 07:00 it comes tomorrow.

    `now`: a last run that `ran_ahead` of it counts as run now.
    """
    if now is not None and ran_ahead(schedule, tz, last_run, moved, now):
        return next_run(schedule, tz, now)
    return _next_due(schedule, tz, last_run, moved)


def held_until(due: datetime | None, retry_at: datetime | None) -> datetime | None:
    """When a digest due at `due` can go, its subscriber's previous one waiting for a retry at
    `retry_at` (None: none waits): not before that retry, which goes first."""
    return due if due is None or retry_at is None else max(due, retry_at)


def ran_ahead(
    schedule: Schedule, tz: ZoneInfo, last_run: datetime, moved: tuple[str, str] | None, now: datetime
) -> bool:
    """Whether a last run recorded ahead of `now` (the clock ran ahead then, or was set back
    since) would hold the next digest past the second scheduled time from now: more than a
    period ahead, so the time it was recorded at says nothing. A clock set back less than a
    period (an hour, after the 08:00 digest) still sends no second digest that day."""
    if last_run <= now:
        return False
    upcoming = _next_due(schedule, tz, last_run, moved)
    first = next_run(schedule, tz, now)
    second = next_run(schedule, tz, first) if first is not None else None
    return upcoming is not None and second is not None and upcoming > second


def _next_due(
    schedule: Schedule, tz: ZoneInfo, last_run: datetime, moved: tuple[str, str] | None
) -> datetime | None:
    upcoming = next_run(schedule, tz, last_run)
    if not moved or upcoming is None:
        return upcoming
    # The new time the last run stands for: the one nearest to the time it was due at under
    # the old schedule (when it went out says nothing of that: a first digest goes at once).
    stood_for = _nearest(schedule, tz, _due_at(moved, last_run))
    return next_run(schedule, tz, upcoming) if upcoming == stood_for else upcoming


def _due_at(under: tuple[str, str], run: datetime) -> datetime:
    """The time a run was due at under `under` (schedule, timezone): that schedule's last time
    at or before it; the run's own time when that schedule cannot be read any more."""
    try:
        due = previous_run(parse_schedule(under[0]), get_timezone(under[1]), run)
    except ScheduleError:
        return run
    return due or run


def _nearest(schedule: Schedule, tz: ZoneInfo, at: datetime) -> datetime | None:
    """The schedule's time nearest to `at` (the later one of two as near)."""
    before, after = previous_run(schedule, tz, at), next_run(schedule, tz, at)
    if before is not None and (after is None or at - before < after - at):
        return before
    return after


def is_due(
    schedule: Schedule,
    tz: ZoneInfo,
    last_run: datetime | None,
    now: datetime,
    moved: tuple[str, str] | None = None,
) -> bool:
    """Due when a scheduled time has passed since the last run; never run means due at once."""
    if last_run is None:
        return True
    due = next_due(schedule, tz, last_run, moved, now)
    return due is not None and due <= now


def get_timezone(name: str) -> ZoneInfo:
    """An IANA timezone by name; raises ScheduleError for an unknown one.

    A name is a path into the tzdata folder, so only names shaped like zone names reach
    ZoneInfo, and whatever it raises (a folder, a name too long for the file system) means
    the same: no such timezone.
    """
    shown = repr(name if len(name) <= MAX_TIMEZONE_CHARS else name[:MAX_TIMEZONE_CHARS] + "…")
    hint = _zone_like(name[:MAX_TIMEZONE_CHARS])
    unknown = ScheduleError(
        f"unknown timezone {shown} "
        + (f"(did you mean '{hint}'?)" if hint else "(use an IANA name such as Europe/Berlin)")
    )
    if len(name) > MAX_TIMEZONE_CHARS or not _TZ_NAME_RE.match(name):
        raise unknown
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError) as e:
        raise unknown from e


# Names in the tz database that are no place's zone: the server's own (it moves with the machine),
# a placeholder, a file the POSIX TZ rules read, and the copies under posix/ (the same zones)
# and right/ (for clocks that count leap seconds, which no server's does), which not every tz
# database holds: a worker on another machine could not read them.
_NOT_A_PLACE = {
    "localtime": "the server's own zone, which changes with the machine the bot runs on",
    "Factory": "a placeholder with no offset of its own ('-00')",
    "posixrules": "a file of the tz database, not a zone",
}
# Abbreviations the tz database keeps as zones with one offset all year: a reader who writes
# EST for New York time would get digests an hour late all summer.
_NO_SUMMER_TIME = {
    "EST": ("UTC-5", "America/New_York", "America/Panama"),
    "MST": ("UTC-7", "America/Denver", "America/Phoenix"),
}
_COPIES = {
    "posix/": "a copy of the zone {zone!r}",
    "right/": "a copy of the zone {zone!r} for clocks that count leap seconds",
}


def settable_timezone(name: str) -> ZoneInfo:
    """A timezone as a person may set it (the YAML, `/digest schedule`, the web form): an IANA
    name, not one of the names in the tz database that are no place's zone (`localtime`,
    `Factory`, `posix/…`, `right/…`); raises ScheduleError naming the zone to use instead.
    `get_timezone` still reads them, so a digest that has one keeps coming."""
    zone = get_timezone(name)
    if why := _NOT_A_PLACE.get(name):
        raise ScheduleError(f"timezone {name!r} is {why}: use an IANA name such as Europe/Berlin")
    if fixed := _NO_SUMMER_TIME.get(name):
        offset, seasonal, all_year = fixed
        raise ScheduleError(
            f"timezone {name!r} is {offset} all year, with no summer time: use {seasonal!r} for the"
            f" clocks of that region (or {all_year!r} for {offset} all year)"
        )
    for prefix, why in _COPIES.items():
        if name.startswith(prefix):
            place = name.removeprefix(prefix)
            raise ScheduleError(f"timezone {name!r} is {why.format(zone=place)} (did you mean {place!r}?)")
    return zone


@lru_cache(maxsize=1)
def _zone_names() -> dict[str, str]:
    """The tz database's names by their lower-case spelling."""
    return {n.lower(): n for n in sorted(available_timezones())}


def _zone_like(name: str) -> str | None:
    """The zone a mistyped name means: `utc`, `europe/berlin`, `America/New York`, a city alone
    (`Berlin`), or a region/city a letter or two off (`Europe/Berln`). Abbreviations (CEST,
    GMT+1) get none: the zone nearest in spelling has another offset."""
    names = _zone_names()
    key = "_".join(name.strip().lower().split())
    if key in names:
        return names[key]
    # Etc/GMT+1 is UTC-1 (POSIX signs): never offered for a GMT+1 meant as UTC+1
    cities = [n for low, n in names.items() if low.rpartition("/")[2] == key and not low.startswith("etc/")]
    if len(cities) == 1 and "/" not in key:  # `Eastern`: Canada's or the US's? neither
        return cities[0]
    if "/" in key and (close := difflib.get_close_matches(key, list(names), n=1, cutoff=0.8)):
        return names[close[0]]
    return None


def parse_duration(text: str | int) -> int:
    """`30m`, `6h`, `1d`, `1h30m` (or a plain number of minutes) in seconds."""
    if isinstance(text, int) and not isinstance(text, bool):
        seconds = text * 60
    elif is_number(str(text).strip()):
        seconds = int(str(text).strip()) * 60
    else:
        compact = str(text).replace(" ", "").lower()
        parts = _DURATION_RE.findall(compact)
        if not parts or "".join(n + u for n, u in parts) != compact:
            raise ScheduleError(f"expected a duration such as 30m, 6h or 1d, got {text!r}")
        seconds = sum(int(n) * _UNITS[u] for n, u in parts)
    if seconds <= 0:
        raise ScheduleError(f"duration must be positive, got {text!r}")
    return seconds
