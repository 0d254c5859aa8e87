"""Faults found hunting in schedule strings and due times (schedule.py), checked through the
real CLI on a real config where a user would meet them."""

from __future__ import annotations

import pytest
from helpers import SOURCES, digestbot, write_feed

# --- a timezone written into the schedule -------------------------------------------------------
# Fault: `schedule: weekly mon 09:00 Europe/Berlin` in the YAML, the very form `/digest schedule`
# takes (README), was refused as "cannot read schedule ...: use 'daily HH:MM', 'weekdays HH:MM',
# 'weekly DAY HH:MM' or a 5-field cron expression", which names nothing wrong with it: the
# schedule was read word by word and a zone at its end was only one word too many.


@pytest.mark.parametrize(
    ("spec", "schedule", "zone"),
    [
        ("weekly mon 09:00 Europe/Berlin", "weekly mon 09:00", "Europe/Berlin"),
        ("daily 08:00 UTC", "daily 08:00", "UTC"),
        ("0 7 * * 1-5 America/New_York", "0 7 * * 1-5", "America/New_York"),
    ],
)
def test_a_timezone_at_the_end_of_a_schedule_is_named_as_the_problem(workdir, spec, schedule, zone):
    write_feed(workdir.path / "feed.xml", [])
    workdir.write_config(
        SOURCES, f"- id: alice\n  email: alice@example.org\n  keywords: [x]\n  schedule: {spec}\n"
    )
    said = digestbot(workdir, "check", expect=2).output
    assert (
        f"subscriptions.yaml:14: subscribers[0].schedule: schedule '{spec}' ends in a timezone:"
        f" write schedule: {schedule} and, on a line of its own, timezone: {zone}"
    ) in said, said
