"""Faults of schedules, time and the digest window (hunt 50): each against the real worker on a
fake clock (test_daemon's Bot), the real CLI, and both stores where the store is the question."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from helpers import digestbot
from test_daemon import (  # noqa: F401 - bot: a fixture
    as_paper,
    bot,
    local_source,
    smtp_mails,
    subscriber_yaml,
    topic_paper,
    utc,
    write_listing,
)
from test_trending import hf_item

from digestbot.models import Profile, Subscriber
from digestbot.slack_commands import CommandContext, CommandHandler
from digestbot.store import DigestItem, Store

TWO_SOURCES = local_source("feed") + local_source("blog", "blog.xml")


def reader(sid: str, keyword: str, sources: str) -> str:
    return (
        f"- id: {sid}\n  email: {sid}@example.org\n  keywords: [{keyword}]\n"
        f"  schedule: daily 08:00\n  sources: [{sources}]\n"
    )


# --- a first digest reaches back from the newest paper of the reader's own sources ----------------
# A new subscriber's first digest reaches back a day before the newest paper arrived, so that one
# signing up on a weekend gets Friday's papers. With `sources:` the newest paper of any source
# counted: a blog (or Hugging Face) posting on Saturday moved the reach past Friday's arXiv
# listing, and an arXiv-only reader's first digest was empty until Monday's.


def test_a_reader_of_one_source_signing_up_on_a_weekend_gets_that_sources_last_papers(workdir, bot):  # noqa: F811
    write_listing(workdir.path / "blog.xml", [])
    b = bot(
        reader("ada", "okapi", "feed") + reader("bea", "narwhal", "blog"), "2024-03-16 10:00", TWO_SOURCES
    )
    b.store.add_papers([as_paper(topic_paper(1, "okapi"))], "feed", utc("2024-03-15 01:00"))  # Friday's
    b.store.add_papers([as_paper(topic_paper(2, "narwhal"))], "blog", utc("2024-03-16 09:00"))  # Saturday
    b.store.add_papers([as_paper(topic_paper(3, "okapi"))], "blog", utc("2024-03-16 09:30"))  # not ada's

    outcomes = b.run()

    assert sorted(o.status for o in outcomes) == ["sent", "sent"], outcomes
    assert sorted((m.to, sorted(m.papers)) for m in b.mails()) == [
        ("ada@example.org", ["2403.00001"]),
        ("bea@example.org", ["2403.00002"]),
    ]


def test_the_newest_arrival_of_some_sources_reads_their_names_literally(db_target):
    # `_` and `%` are LIKE's wildcards: a source `cs_lg` is not `csXlg`, nor `c%`'s every name
    now = utc("2024-03-16 10:00")
    with Store(db_target) as store:
        store.add_papers([as_paper(topic_paper(1, "okapi"))], "cs_lg", now - timedelta(days=3))
        store.add_papers([as_paper(topic_paper(2, "okapi"))], "csXlg", now - timedelta(days=1))
        store.add_papers([as_paper(topic_paper(3, "okapi"))], 'we"ird!', now - timedelta(days=2))
        assert store.newest_arrival(now, {"cs_lg"}) == now - timedelta(days=3)
        assert store.newest_arrival(now, {'we"ird!', "cs_lg"}) == now - timedelta(days=2)
        assert store.newest_arrival(now, {"c%"}) is None
        assert store.newest_arrival(now) == now - timedelta(days=1)


# --- a cron schedule written without quotes -------------------------------------------------------
# `schedule: */15 * * * *` (or `* 8 * * mon-fri`), as crontab has it, is a YAML alias to PyYAML:
# `check` said only "yaml: expected alphabetic or numeric character, but found '/'", nothing on
# what to do, where a value starting with `@` says to quote it.


@pytest.mark.parametrize("cron", ["*/15 * * * *", "* 8 * * mon-fri"])
def test_a_cron_schedule_written_without_quotes_says_to_quote_it(workdir, cron):
    write_listing(workdir.path / "feed.xml", [])
    workdir.write_config(
        local_source(), f"- id: ada\n  email: ada@example.org\n  keywords: [okapi]\n  schedule: {cron}\n"
    )
    lines = workdir.config.read_text().splitlines()
    line = next(n for n, text in enumerate(lines, 1) if text.endswith(f"schedule: {cron}"))
    for command in ("check", "run"):
        first = digestbot(workdir, command, expect=2).output.splitlines()[0]
        assert first.startswith(f"{workdir.config}:{line}: yaml: "), first
        assert "a value starting with '*' must be quoted" in first, first
    workdir.write_config(
        local_source(), f'- id: ada\n  email: ada@example.org\n  keywords: [okapi]\n  schedule: "{cron}"\n'
    )
    digestbot(workdir, "check")


# --- a retry's wait recorded before the clock was set back -------------------------------------
# A digest that failed while the clock ran two days ahead (a bad hardware clock at boot, set right
# by NTP) waited for a retry time two days ahead too: nothing went to that subscriber meanwhile,
# neither the retry nor any later digest (a subscriber whose digest waits gets no other), while the
# README says waits recorded ahead of a clock set back hold nothing back.


def test_a_digest_that_failed_before_the_clock_was_set_back_is_retried_at_once(workdir, bot, smtp_server):  # noqa: F811
    b = bot(
        subscriber_yaml("ada", "okapi", schedule="daily 08:00"), "2024-03-16 10:00", smtp_url=smtp_server.url
    )
    b.add(topic_paper(1, "okapi"))
    smtp_server.refuse_next(1)
    assert [o.status for o in b.worker.dispatch()] == ["failed"]

    b.clock.set("2024-03-14 10:00")  # set right: two days back
    assert b.store.retry_times(now=b.clock())["ada"] <= b.clock()  # status and /digest list: now
    b.clock.advance(minutes=1)
    assert [o.status for o in b.worker.dispatch()] == ["sent"]

    assert [sorted(m.papers) for m in smtp_mails(smtp_server)] == [["2403.00001"]]
    b.clock.advance(minutes=10)
    assert b.worker.dispatch() == []  # once


def test_a_retry_wait_from_an_attempt_recorded_ahead_of_the_clock_is_over(db_target):
    ahead, now = utc("2024-03-16 10:00"), utc("2024-03-14 10:00")
    with Store(db_target) as store:
        store.sync_subscribers(
            [Subscriber("ada", Profile(keywords=("okapi",)), email="ada@example.org")], now=ahead
        )
        store.add_papers([as_paper(topic_paper(1, "okapi"))], "feed", ahead)
        [paper] = store.papers_after(0)
        digest = store.create_digest(
            "ada", [DigestItem(paper, 1, (), ())], 1, 1, ahead, "<m@x>", "email", "ada@example.org"
        )
        store.begin_attempt(digest, ahead)
        store.mark_attempt_failed(digest, "451", ahead + timedelta(minutes=5))
        assert [d.id for d in store.retryable_digests(now)] == [digest]
        assert store.retry_times(now=now)["ada"] < now
        assert [d.id for d in store.retryable_digests(ahead)] == []  # the clock as it was: wait
        assert store.retry_times(now=ahead)["ada"] == ahead + timedelta(minutes=5)
        assert [
            d.id for d in store.retryable_digests(ahead - timedelta(seconds=20))
        ] == []  # drift, not a set-back


# --- a hand-over is a change of schedule too ------------------------------------------------------
# A YAML subscriber taking over a Slack user's /digest digest (or a web reader's address) carries
# on from its last digest, but not from the schedule and timezone that digest was due under: the
# Slack digest's 08:00 Berlin one went out at 07:00 UTC, the YAML's `daily 08:00` (UTC) read its
# time alone and sent a second digest an hour later, where a move from Berlin 08:00 to UTC 08:00
# after the day's digest comes the next day (README, Delivery guarantees).


def test_a_yaml_subscriber_taking_over_a_slack_digest_sends_no_second_digest_that_day(workdir, bot):  # noqa: F811
    b = bot(subscriber_yaml("bob", "wombat", schedule="daily 20:00"), "2026-03-02 06:55")
    b.worker.dispatch()  # bob's first: empty
    handler = CommandHandler(b.store, b.worker.config, b.worker.env, clock=b.clock)
    who = CommandContext(user_id="U0TAKE1234")
    handler.handle(who, "subscribe okapi")
    handler.handle(who, "schedule daily 08:00 Europe/Berlin")
    b.add(topic_paper(1, "okapi"))
    b.clock.set("2026-03-02 07:00")  # 08:00 in Berlin
    assert {o.subscriber_id: o.status for o in b.worker.dispatch()} == {"slack:U0TAKE1234": "sent"}

    b.clock.set("2026-03-02 07:30")
    workdir.write_config(
        local_source(),
        subscriber_yaml("bob", "wombat", schedule="daily 20:00")
        + subscriber_yaml("ada", "okapi", schedule="daily 08:00", slack="U0TAKE1234"),
    )
    assert b.worker.dispatch() == []  # the YAML's ada takes over, nothing due
    b.add(topic_paper(2, "okapi"))
    sent = []
    for at in ("2026-03-02 08:00", "2026-03-02 12:00", "2026-03-03 07:59", "2026-03-03 08:00"):
        b.clock.set(at)
        out = b.worker.dispatch()
        sent += [(at, o.papers) for o in out if o.subscriber_id == "ada"]
    assert sent == [("2026-03-03 08:00", 1)]

    # ada leaves the YAML; the reader's next /digest command brings their own digest back
    b.clock.set("2026-03-03 09:00")
    workdir.write_config(local_source(), subscriber_yaml("bob", "wombat", schedule="daily 20:00"))
    b.worker.dispatch()
    handler.config = b.worker.config
    handler.handle(who, "subscribe capybara")
    b.add(topic_paper(3, "okapi"))
    sent = []
    for at in ("2026-03-03 09:30", "2026-03-03 18:00", "2026-03-04 06:59", "2026-03-04 07:00"):
        b.clock.set(at)
        sent += [(at, o.papers) for o in b.worker.dispatch() if o.subscriber_id == "slack:U0TAKE1234"]
    assert sent == [("2026-03-04 07:00", 1)]  # 08:00 in Berlin, the next day


def test_a_takeover_carries_the_schedule_the_last_digest_was_due_under(db_target):
    sent = utc("2026-03-02 07:00")
    okapi = Profile(keywords=("okapi",))
    with Store(db_target) as store:
        store.save_slack_subscriber(
            Subscriber(
                "slack:U0TAKE1234", okapi, slack="U0TAKE1234", timezone="Europe/Berlin", origin="slack"
            )
        )
        store.save_web_subscriber(
            Subscriber("web:kate", okapi, email="kate@uni.example", schedule="weekly mon 09:00", origin="web")
        )
        store.advance("slack:U0TAKE1234", 0, sent)
        store.advance("web:kate", 0, sent)
        store.sync_subscribers(
            [
                Subscriber("ada", okapi, slack="U0TAKE1234"),
                Subscriber("kate", okapi, email="KATE@uni.example"),
            ]
        )
        ada, kate = store.subscriber("ada"), store.subscriber("kate")
        assert (ada.last_run_at, ada.schedule_moved) == (sent, ("daily 08:00", "Europe/Berlin"))
        assert (kate.last_run_at, kate.schedule_moved) == (sent, ("weekly mon 09:00", "UTC"))

        # The YAML's digests go out a day later; then the entries go, and the Slack and web
        # digests come back: they carry on from those, not from their own of the day before.
        later = sent + timedelta(days=1, hours=1)
        store.advance("ada", 0, later)
        store.advance("kate", 0, later)
        store.sync_subscribers([Subscriber("bob", okapi, email="bob@uni.example")])
        store.save_slack_subscriber(
            Subscriber(
                "slack:U0TAKE1234", okapi, slack="U0TAKE1234", timezone="Europe/Berlin", origin="slack"
            )
        )
        store.save_web_subscriber(
            Subscriber("web:kate", okapi, email="kate@uni.example", schedule="weekly mon 09:00", origin="web")
        )
        back, web = store.subscriber("slack:U0TAKE1234"), store.subscriber("web:kate")
        assert (back.last_run_at, back.schedule_moved) == (later, ("daily 08:00", "UTC"))
        assert (web.last_run_at, web.schedule_moved) == (later, ("daily 08:00", "UTC"))


# --- a trending reader added while the clock ran ahead ---------------------------------------------
# A trending digest chooses among papers listed since the day before its reader was added. A
# reader added while the clock ran a year ahead (set right since) had that floor a year ahead:
# every trending digest was empty for a year, where the README says a time recorded ahead of a
# clock set back holds nothing back.


def test_a_trending_reader_added_while_the_clock_ran_ahead_gets_todays_most_upvoted(workdir, bot):  # noqa: F811
    listing = [hf_item("2403.00001", "Okapi findings", "A note on the okapi.", 5)]
    (workdir.path / "hf.json").write_text(json.dumps(listing), encoding="utf-8")
    top = "- id: top\n  email: top@example.org\n  trending: 3\n  schedule: daily 08:00\n"
    b = bot(top, "2025-03-14 10:00", sources="- name: hf\n  type: hf_daily\n  url: hf.json\n")
    b.clock.set("2024-03-14 10:00")  # set right: a year back

    assert [(o.status, o.papers) for o in b.worker.dispatch()] == [("sent", 1)]
    assert [sorted(m.papers) for m in b.mails()] == [["2403.00001"]]


# --- a web rate limit counted before the clock was set back ---------------------------------------
# The sign-up page's limits (one confirmation an hour per address, sign-ups per network) count
# the events of the last hour. Events counted while the clock ran ahead stayed "within the hour"
# until the clock caught up: a reader who signed up then could not have another confirmation
# for as long as the clock had been ahead (a year, for a clock that ran a year ahead).


def test_a_rate_limit_event_counted_ahead_of_a_clock_set_back_holds_nothing_back(db_target):
    ahead = utc("2025-03-14 10:00")
    with Store(db_target) as store:
        assert store.hit("confirm-email:k", 1, 3600, ahead)
        assert not store.hit("confirm-email:k", 1, 3600, ahead + timedelta(minutes=5))
        assert not store.hit("confirm-email:k", 1, 3600, ahead - timedelta(seconds=20))  # drift
        assert store.hit("confirm-email:k", 1, 3600, ahead - timedelta(days=365))  # set right
        assert not store.hit("confirm-email:k", 1, 3600, ahead - timedelta(days=365, minutes=-5))
