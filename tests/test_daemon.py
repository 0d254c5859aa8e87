"""Running unattended: crashes, retries, downtime, schedules, locks, signals, reloads, concurrency.

Where the question is what survives a kill or a second process, the tests start real processes
(`python -m digestbot ...`) against a real SMTP server on loopback. Where it is what happens over
simulated days, they drive Worker / DigestRunner in process with a fake clock. Every test checks
what arrived (SMTP server, outbox) and what the ledger says; the contract is DESIGN.md,
"Delivery rules".
"""

from __future__ import annotations

import email
import email.policy
import json
import logging
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from datetime import time as clock_time
from email.message import EmailMessage
from pathlib import Path
from urllib.parse import parse_qs, urlsplit
from xml.sax.saxutils import escape
from zoneinfo import ZoneInfo

import apscheduler.schedulers.base
import pytest
import requests
import responses
from helpers import FeedPaper, arxiv_listing, db_dump, not_due_soon
from helpers import digestbot as invoke
from test_email_delivery import body_parts, ids, papers_in

from digestbot import daemon
from digestbot.collect import fetch_one, source_health
from digestbot.config import Env, SourceConfig, load_config
from digestbot.daemon import Worker
from digestbot.digest import DigestRunner, Outcome
from digestbot.models import Paper
from digestbot.slack_commands import CommandContext, CommandHandler
from digestbot.sources import HttpClient
from digestbot.store import Store, now_utc

FIXTURES = Path(__file__).parent / "fixtures"
RSS_URL = "https://rss.arxiv.org/rss/cs.LG"
API_URL = "https://export.arxiv.org/api/query"


# --- papers and feeds -----------------------------------------------------------------------


def topic_paper(n: int, topic: str) -> FeedPaper:
    """A paper that matches the keyword `topic` and nothing else used in these tests."""
    return FeedPaper(f"2403.{n:05d}", f"{topic.capitalize()} findings, part {n}", f"A note on the {topic}.")


def as_paper(p: FeedPaper) -> Paper:
    """The Paper an arXiv listing would give for `p` (for Store.add_papers)."""
    return Paper(
        key=f"arxiv:{p.aid}",
        arxiv_id=p.aid,
        title=p.title,
        abstract=p.abstract,
        authors=tuple(p.authors.split(", ")),
        categories=("cs.LG",),
        link=f"https://arxiv.org/abs/{p.aid}",
        pdf_url=f"https://arxiv.org/pdf/{p.aid}",
    )


def write_listing(path: Path, papers: Iterable[FeedPaper], day: date = date(2024, 3, 14)) -> Path:
    path.write_text(arxiv_listing(papers, day), encoding="utf-8")
    return path


def api_feed(
    papers: Iterable[FeedPaper],
    categories: tuple[str, ...] = ("cs.LG",),
    submitted: Callable[[FeedPaper], datetime] = lambda p: utc("2024-03-12 15:04:27"),
) -> str:
    """An export.arxiv.org Atom response (the format of arxiv_api.atom); `published` is when
    version 1 was submitted."""
    entries = "".join(
        f"""  <entry>
    <id>http://arxiv.org/abs/{p.aid}v1</id>
    <updated>{submitted(p):%Y-%m-%dT%H:%M:%SZ}</updated>
    <published>{submitted(p):%Y-%m-%dT%H:%M:%SZ}</published>
    <title>{escape(p.title)}</title>
    <summary>  {escape(p.abstract)}
</summary>
    <author><name>{escape(p.authors.split(", ")[0])}</name></author>
    <link href="http://arxiv.org/abs/{p.aid}v1" rel="alternate" type="text/html"/>
    <arxiv:primary_category xmlns:arxiv="http://arxiv.org/schemas/atom" term="{categories[0]}"/>
{"".join(f'    <category term="{c}"/>{chr(10)}' for c in categories)}  </entry>
"""
        for p in papers
    )
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<feed xmlns="http://www.w3.org/2005/Atom">
  <title type="html">arXiv Query</title>
  <id>http://arxiv.org/api/catch-up</id>
  <updated>2024-03-14T00:00:00-04:00</updated>
{entries}</feed>
"""


# --- config snippets --------------------------------------------------------------------------


def local_source(name: str = "feed", path: str = "feed.xml", every: str = "6h") -> str:
    return f"- name: {name}\n  type: arxiv_rss\n  url: {path}\n  every: {every}\n"


def subscriber_yaml(
    sid: str,
    *keywords: str,
    schedule: str | None = None,
    timezone: str = "UTC",
    max_papers: int = 25,
    slack: str | None = None,
) -> str:
    """One subscriber; the schedule defaults to a daily time 12 hours away (not due again soon)."""
    where = f"  slack: '{slack}'\n" if slack else f"  email: {sid}@example.org\n"
    return (
        f"- id: {sid}\n{where}"
        f"  keywords: [{', '.join(keywords)}]\n"
        f"  schedule: {schedule or not_due_soon()}\n"
        f"  timezone: {timezone}\n"
        f"  max_papers: {max_papers}\n"
    )


def address(sid: str) -> str:
    return f"{sid}@example.org"


# --- what arrived -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Mail:
    """One digest as it arrived: recipient, Message-ID, the papers it lists, its text part."""

    to: str
    message_id: str
    papers: frozenset[str]
    text: str


def as_mail(msg: EmailMessage) -> Mail:
    return Mail(
        msg["To"].addresses[0].addr_spec,
        msg["Message-ID"],
        frozenset(papers_in(msg)),
        body_parts(msg)[0],
    )


def smtp_mails(server) -> list[Mail]:
    return [as_mail(m.message) for m in list(server.messages)]


def outbox_mails(folder: Path) -> list[Mail]:
    return [
        as_mail(email.message_from_bytes(p.read_bytes(), policy=email.policy.default))
        for p in sorted(folder.glob("*.eml"))
        if not p.name.startswith(".")  # the outbox's temporary file, before its rename
    ]


def by_recipient(mails: Iterable[Mail]) -> dict[str, list[Mail]]:
    found: dict[str, list[Mail]] = defaultdict(list)
    for m in mails:
        found[m.to].append(m)
    return dict(found)


def wait_until(predicate: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.01)


# --- real processes -----------------------------------------------------------------------------


class Proc:
    """A `python -m digestbot ...` child process; its stdout and stderr are read in the background."""

    def __init__(self, workdir, *args: str, prelude: str = ""):
        """`prelude`: Python run in the child before digestbot starts (to inject a fault)."""
        self.args = args
        start = (
            ["-c", f"{prelude}\nfrom digestbot.cli import main\nmain()"] if prelude else ["-m", "digestbot"]
        )
        options = ["--config", str(workdir.config), "--db", str(workdir.db)]
        self.popen = subprocess.Popen(
            [sys.executable, *start, *options, *args],
            cwd=workdir.path,
            env=dict(os.environ),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            encoding="utf-8",
        )
        self.stdout: list[str] = []
        self.stderr: list[str] = []
        self._readers = [
            threading.Thread(target=self._read, args=(self.popen.stdout, self.stdout), daemon=True),
            threading.Thread(target=self._read, args=(self.popen.stderr, self.stderr), daemon=True),
        ]
        for t in self._readers:
            t.start()

    @staticmethod
    def _read(stream, lines: list[str]) -> None:
        for line in stream:
            lines.append(line)

    @property
    def pid(self) -> int:
        return self.popen.pid

    @property
    def output(self) -> str:
        return "".join(self.stdout) + "".join(self.stderr)

    def wait_for(self, pattern: str, timeout: float = 15) -> str:
        """The first stderr line matching `pattern`, waiting for it to be logged."""
        regex = re.compile(pattern)
        deadline = time.monotonic() + timeout
        while True:
            found = next((line for line in list(self.stderr) if regex.search(line)), None)
            if found:
                return found
            if self.popen.poll() is not None and not any(t.is_alive() for t in self._readers):
                pytest.fail(
                    f"digestbot {' '.join(self.args)} exited without logging {pattern!r}:\n{self.output}"
                )
            if time.monotonic() > deadline:
                pytest.fail(f"digestbot {' '.join(self.args)} never logged {pattern!r}:\n{self.output}")
            time.sleep(0.01)

    def signal(self, sig: int) -> None:
        self.popen.send_signal(sig)

    def finish(self, timeout: float = 20) -> int:
        """Wait for the process to exit; its exit code (negative: killed by that signal)."""
        try:
            rc = self.popen.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            pytest.fail(f"digestbot {' '.join(self.args)} still running after {timeout}s:\n{self.output}")
        for t in self._readers:
            t.join(5)
        return rc

    def kill(self) -> None:
        if self.popen.poll() is None:
            self.popen.kill()
            self.popen.wait(5)

    def close(self) -> None:
        """Kill it if it still runs, and let go of its pipes."""
        self.kill()
        for t in self._readers:
            t.join(5)
        for stream in (self.popen.stdout, self.popen.stderr):
            stream.close()


@pytest.fixture
def spawn(workdir):
    """Start digestbot processes in the workdir; any still running at the end is killed."""
    started: list[Proc] = []

    def start(*args: str, prelude: str = "") -> Proc:
        proc = Proc(workdir, *args, prelude=prelude)
        started.append(proc)
        return proc

    try:
        yield start
    finally:
        for proc in started:
            proc.close()


def run_process(spawn, *args: str, expect: int = 0) -> Proc:
    proc = spawn(*args)
    rc = proc.finish()
    assert rc == expect, f"digestbot {' '.join(args)}: exit {rc}, wanted {expect}:\n{proc.output}"
    return proc


# --- the bot in process, on a fake clock ---------------------------------------------------------


class FakeClock:
    """A wall clock that only moves when told to."""

    def __init__(self, now: datetime):
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def set(self, when: datetime | str) -> datetime:
        self.now = when if isinstance(when, datetime) else utc(when)
        return self.now

    def advance(self, **delta: float) -> datetime:
        self.now += timedelta(**delta)
        return self.now


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


@dataclass
class Bot:
    """A Worker on a fake clock, with its store, over the workdir's config."""

    worker: Worker
    clock: FakeClock
    outbox: Path

    @property
    def store(self) -> Store:
        return self.worker.store

    @property
    def runner(self) -> DigestRunner:
        return self.worker.runner

    def add(self, *papers: FeedPaper) -> None:
        """Papers reaching the store now, as if a fetch had brought them."""
        self.store.add_papers([as_paper(p) for p in papers], "feed", self.clock())

    def run(self, **kwargs) -> list[Outcome]:
        return self.runner.run(**kwargs)

    def mails(self) -> list[Mail]:
        return outbox_mails(self.outbox)


@pytest.fixture
def bot(workdir):
    """Make a Bot: writes the config (an empty feed.xml unless the test wrote one), syncs it."""
    stores: list[Store] = []

    def make(subscribers: str, start: str, sources: str | None = None, smtp_url: str | None = None) -> Bot:
        feed = workdir.path / "feed.xml"
        if not feed.exists():
            write_listing(feed, [])
        workdir.write_config(sources or local_source(), subscribers)
        config = load_config(workdir.config)
        clock = FakeClock(utc(start))
        store = Store(workdir.db)
        stores.append(store)
        store.sync_subscribers(config.subscribers, now=clock())
        env = Env(smtp_url=smtp_url, outbox=workdir.outbox)
        worker = Worker(config, store, env, clock=clock, client=HttpClient(sleep=lambda s: None))
        return Bot(worker, clock, workdir.outbox)

    try:
        yield make
    finally:
        for store in stores:
            store.close()


# --- 1. a crash at any moment loses nothing ------------------------------------------------------

ANIMALS = ("axolotl", "capybara", "narwhal", "okapi", "pangolin", "quokka", "tapir", "wombat")


def test_kill_9_mid_batch_loses_nothing_and_repeats_only_the_digest_in_flight(
    workdir, slow_smtp_server, spawn
):
    papers = {
        sid: [topic_paper(2 * i + 1, sid), topic_paper(2 * i + 2, sid)] for i, sid in enumerate(ANIMALS)
    }
    write_listing(workdir.path / "feed.xml", [p for ps in papers.values() for p in ps])
    workdir.write_config(local_source(), "".join(subscriber_yaml(sid, sid) for sid in ANIMALS))
    workdir.use_smtp(slow_smtp_server.url)

    first = spawn("run", "--once")
    wait_until(lambda: len(slow_smtp_server.messages) >= 2, 15, "two digests at the SMTP server")
    first.kill()  # SIGKILL: no finally, no cleanup, lock dropped by the kernel
    assert first.finish() == -signal.SIGKILL
    before_kill = smtp_mails(slow_smtp_server)
    assert 2 <= len(before_kill) < len(ANIMALS), "the kill came too late to test anything"
    slow_smtp_server.handler.delay = 0.05

    run_process(spawn, "send")  # a digest left pending by the crash is retried at once, the rest are due
    with Store(workdir.db) as store:
        assert store.digests(status="pending") == []
    run_process(spawn, "send", "--force")  # nothing new: nothing more goes out

    received = by_recipient(smtp_mails(slow_smtp_server))
    assert set(received) == {address(sid) for sid in ANIMALS}
    for sid in ANIMALS:
        assert [set(m.papers) for m in received[address(sid)]] in (
            [ids(*papers[sid])],
            [ids(*papers[sid])] * 2,
        )
    twice = {to: mails for to, mails in received.items() if len(mails) > 1}
    assert len(twice) <= 1, f"more than one digest repeated: {sorted(twice)}"
    for to, (a, b) in twice.items():
        assert to == before_kill[-1].to, "only the digest in flight at the kill may arrive twice"
        assert a.message_id == b.message_id
    with Store(workdir.db) as store:
        ledger = store.digests()
    assert [d.status for d in ledger] == ["sent"] * len(ANIMALS)
    assert {d.message_id for d in ledger} == {m.message_id for m in smtp_mails(slow_smtp_server)}


# --- 2. transient failures: retried with backoff, then given up --------------------------------


def test_failed_send_is_retried_with_doubling_backoff_then_given_up(workdir, smtp_server, bot):
    first, later = topic_paper(1, "quokka"), topic_paper(2, "quokka")
    b = bot(
        subscriber_yaml("alice", "quokka", schedule="daily 08:00"),
        "2024-03-14 07:00",
        smtp_url=smtp_server.url,
    )
    b.add(first)
    smtp_server.refuse_next(1000)  # 451 to everything until told otherwise
    created = b.clock.set("2024-03-14 08:00")

    [outcome] = b.run()
    assert (outcome.status, outcome.subscriber_id) == ("failed", "alice")
    [record] = b.store.digests()
    assert (record.status, record.attempts, record.created_at) == ("pending", 1, created)
    assert record.next_attempt_at == created + timedelta(minutes=5)
    assert re.search(r"\b451\b", record.last_error or "")

    status = invoke(workdir, "status").output
    row = next(line for line in status.splitlines() if re.search(r"\b451\b", line))  # not a port's digits
    assert re.search(r"\balice\b.*\bpending\b.*\s1\s.*try again later", row), row

    b.clock.set(created + timedelta(minutes=4, seconds=59))
    assert not b.runner.has_work(b.clock())
    assert b.run() == []  # the wait is not over: no retry, and no second digest meanwhile
    assert smtp_server.refused == 1

    delays, attempt_times = [], [created]
    while True:
        b.clock.set(record.next_attempt_at)
        [outcome] = b.run()
        attempt_times.append(b.clock())
        record = b.store.digest(record.id)
        assert smtp_server.refused == record.attempts
        if outcome.status == "given-up":
            break
        assert outcome.status == "failed" and record.status == "pending"
        delays.append((record.next_attempt_at - b.clock()) / timedelta(minutes=1))
        assert record.next_attempt_at - created <= timedelta(hours=24)

    # 5, 10, 20 ... minutes, capped at 2 hours; no retry is ever planned beyond a day after creation
    assert delays == [10, 20, 40, 80, 120, 120, 120, 120, 120, 120, 120, 120, 120, 120]
    assert (record.status, record.attempts, record.next_attempt_at) == ("failed", 16, None)
    assert attempt_times[-1] + timedelta(hours=2) - created > timedelta(hours=24)
    assert len(b.store.digests()) == 1
    assert smtp_server.messages == []
    status = invoke(workdir, "status").output
    assert re.search(r"\balice\b.*\bfailed\b.*\s16\s.*try again later", status)

    smtp_server.refuse_next(0)
    b.clock.set("2024-03-15 07:00")
    b.add(later)
    b.clock.set("2024-03-15 08:00")
    [outcome] = b.run()
    assert outcome.status == "sent"
    [mail] = smtp_mails(smtp_server)
    assert (mail.to, set(mail.papers)) == ("alice@example.org", ids(later))


# --- 3. downtime: days of papers, one digest ---------------------------------------------------


def test_papers_from_days_without_a_dispatch_arrive_in_one_digest(workdir, bot):
    feed = workdir.path / "feed.xml"
    subs = subscriber_yaml("alice", "quokka", schedule="daily 08:00", max_papers=4)
    subs += subscriber_yaml("bob", "narwhal", schedule="daily 08:00")
    b = bot(subs, "2024-03-11 06:00")
    write_listing(feed, [topic_paper(1, "quokka"), topic_paper(2, "narwhal")], date(2024, 3, 11))
    b.clock.set("2024-03-11 08:00")
    assert [o.status for o in b.worker.dispatch()] == ["sent", "sent"]  # both had their first digest

    days = {}
    for n, day in enumerate((date(2024, 3, 12), date(2024, 3, 13), date(2024, 3, 14))):
        days[day] = [topic_paper(10 * n + 11, "quokka"), topic_paper(10 * n + 12, "quokka")]
        days[day] += [topic_paper(10 * n + 13, "narwhal"), topic_paper(10 * n + 14, "okapi")]
        write_listing(feed, days[day], day)  # one announcement day per listing, as arXiv does
        b.clock.set(datetime.combine(day, clock_time(6, 0), UTC))
        assert b.worker.fetch("feed").new == 4  # the fetch job ran; the dispatch did not

    b.clock.set("2024-03-15 09:30")
    outcomes = b.worker.dispatch()

    assert sorted((o.subscriber_id, o.status, o.papers, o.matched) for o in outcomes) == [
        ("alice", "sent", 4, 6),
        ("bob", "sent", 3, 3),
    ]
    mails = by_recipient(b.mails())
    _, alice = mails["alice@example.org"]
    _, bob = mails["bob@example.org"]
    quokka = {p.aid for ps in days.values() for p in ps if "Quokka" in p.title}
    assert len(alice.papers) == 4 and alice.papers <= quokka
    assert "…and 2 more matched" in alice.text
    assert set(bob.papers) == {p.aid for ps in days.values() for p in ps if "Narwhal" in p.title}
    assert "more matched" not in bob.text

    b.clock.set("2024-03-16 08:00")  # the papers cut at max_papers are not sent later
    assert {o.status for o in b.worker.dispatch()} == {"empty"}
    assert len(b.mails()) == 4


# --- 4. schedules over a simulated week with a DST change ---------------------------------------

DAILY, WEEKDAYS = set(range(7)), set(range(5))


@dataclass(frozen=True)
class Week:
    start: str
    end: str
    night: str  # a local time that a DST change skips or repeats in New York
    fixed: dict[str, list[str]]  # digests the docs pin down exactly on the DST days (UTC)


SPRING = Week(
    "2024-03-08 10:00",
    "2024-03-15 10:00",
    "02:30",
    {
        "la": ["2024-03-09 16:00", "2024-03-10 15:00"],  # PST, then PDT from Sunday 10 March
        "ny-night": ["2024-03-09 07:30", "2024-03-10 07:30", "2024-03-11 06:30"],  # 02:30 skipped: 03:30
        "ny-weekdays": ["2024-03-08 12:30", "2024-03-11 11:30"],
    },
)
AUTUMN = Week(
    "2024-10-25 10:00",
    "2024-11-04 10:00",
    "01:30",
    {
        "berlin-weekly": ["2024-10-28 08:00", "2024-11-04 08:00"],  # CET since Sunday 27 October
        "ny-night": ["2024-11-02 05:30", "2024-11-03 05:30", "2024-11-04 06:30"],  # 01:30 twice: once
        "la": ["2024-11-02 15:00", "2024-11-03 16:00"],
    },
)


def expected_slots(days: set[int], at: str, tz: str, start: datetime, end: datetime) -> list[datetime]:
    """Local wall-clock fire times in (start, end], in UTC (fold=0: a skipped time lands an hour
    later, a repeated one counts on its first pass, as schedule.py documents)."""
    zone, hh_mm = ZoneInfo(tz), clock_time.fromisoformat(at)
    day, last = start.astimezone(zone).date() - timedelta(days=1), end.astimezone(zone).date()
    out = []
    while day <= last:
        if day.weekday() in days:
            fire = datetime.combine(day, hh_mm, zone).astimezone(UTC)
            if start < fire <= end:
                out.append(fire)
        day += timedelta(days=1)
    return out


@pytest.mark.parametrize("week", [SPRING, AUTUMN], ids=["us-spring-forward", "eu-and-us-fall-back"])
def test_a_week_of_schedules_across_a_dst_change(workdir, bot, week):
    subscribers = {
        "utc": ("daily 08:00", "UTC", DAILY, "08:00"),
        "la": ("daily 08:00", "America/Los_Angeles", DAILY, "08:00"),
        "kolkata": ("daily 08:00", "Asia/Kolkata", DAILY, "08:00"),
        "berlin-weekly": ("weekly mon 09:00", "Europe/Berlin", {0}, "09:00"),
        "ny-weekdays": ("weekdays 07:30", "America/New_York", WEEKDAYS, "07:30"),
        "ny-night": (f"daily {week.night}", "America/New_York", DAILY, week.night),
    }
    b = bot(
        "".join(
            subscriber_yaml(sid, "quokka", schedule=s, timezone=tz)
            for sid, (s, tz, _, _) in subscribers.items()
        ),
        week.start,
    )
    start, end = utc(week.start), utc(week.end)
    sent: dict[str, list[datetime]] = defaultdict(list)
    n = 0
    fresh = True  # a paper nobody has had yet: so every due run has something to send
    while b.clock() <= end:
        if fresh:
            n += 1
            b.add(topic_paper(n, "quokka"))
        outcomes = b.run()
        assert {o.status for o in outcomes} <= {"sent"}, outcomes
        for o in outcomes:
            sent[o.subscriber_id].append(b.clock())
        fresh = bool(outcomes)
        b.clock.advance(minutes=5)

    for sid, (_, tz, days, at) in subscribers.items():
        assert sent[sid] == [start, *expected_slots(days, at, tz, start, end)], sid
    for sid, times in week.fixed.items():
        assert set(map(utc, times)) <= set(sent[sid]), sid
    assert Counter(m.to for m in b.mails()) == {address(sid): len(sent[sid]) for sid in subscribers}
    assert all(d.status == "sent" for d in b.store.digests())


class SkewedClock:
    """The real wall clock plus an offset the test moves, as NTP or an operator moves the system
    clock; `install` makes APScheduler's wall clock the same one."""

    def __init__(self, monkeypatch):
        self.offset = timedelta(0)
        clock = self

        class Wall(datetime):
            @classmethod
            def now(cls, tz=None):
                return datetime.now(tz) + clock.offset

        monkeypatch.setattr(apscheduler.schedulers.base, "datetime", Wall)

    def __call__(self) -> datetime:
        return now_utc() + self.offset


@pytest.mark.parametrize("jump", [timedelta(hours=-1), timedelta(days=-2), timedelta(hours=3)])
def test_the_running_worker_keeps_dispatching_when_the_system_clock_jumps(workdir, monkeypatch, jump):
    # APScheduler waits for wall-clock times: after the clock went back an hour, the dispatch job
    # (due a minute later) would wait an hour and more, and nobody would get a digest meanwhile.
    monkeypatch.setattr(daemon, "DISPATCH_EVERY", timedelta(seconds=1))
    clock = SkewedClock(monkeypatch)
    write_listing(workdir.path / "feed.xml", [])
    workdir.write_config(local_source(every="1d"), subscriber_yaml("alice", "quokka"))
    config = load_config(workdir.config)
    store = Store(workdir.db)
    store.sync_subscribers(config.subscribers, now=clock())
    store.add_papers([as_paper(topic_paper(1, "quokka"))], "feed", clock())
    worker = Worker(
        config, store, Env(outbox=workdir.outbox), clock=clock, client=HttpClient(sleep=lambda s: None)
    )
    worker.signals.installed = True  # the test's thread is not the main one: no handlers
    thread = threading.Thread(target=worker.run_forever)
    thread.start()
    try:
        received = lambda sid: address(sid) in {m.to for m in outbox_mails(workdir.outbox)}  # noqa: E731
        wait_until(lambda: received("alice"), 15, "alice's first digest")
        clock.offset = jump
        time.sleep(2)  # the worker notices the jump within a second or two
        # bob arrives after the jump: his first digest is due at the next dispatch, a second away
        workdir.write_config(
            local_source(every="1d"), subscriber_yaml("alice", "quokka") + subscriber_yaml("bob", "quokka")
        )
        wait_until(lambda: received("bob"), 10, "bob's digest after the clock moved by " + str(jump))
    finally:
        worker.stopping.set()
        thread.join(15)
        store.close()
    assert not thread.is_alive()
    assert Counter(m.to for m in outbox_mails(workdir.outbox)) == {address("alice"): 1, address("bob"): 1}


@dataclass(frozen=True)
class Move:
    """A subscriber changing their schedule or timezone between two digests."""

    before: tuple[str, str]  # (schedule, timezone)
    start: str  # the first digest (at once: a new subscriber), UTC
    at: str  # when the change is made, UTC
    after: tuple[str, str]
    sent: list[str]  # every digest until three days after `start`, UTC


MOVES = {
    # asked for 10:00 before today's 08:00 digest: that one moves to 10:00 (not 07:00 and 10:00)
    "later-before-the-digest": Move(
        ("daily 08:00", "UTC"),
        "2026-03-01 08:00",
        "2026-03-02 07:00",
        ("daily 10:00", "UTC"),
        ["2026-03-01 08:00", "2026-03-02 10:00", "2026-03-03 10:00"],
    ),
    # asked for 10:00 just after today's 08:00 digest: the next one is tomorrow at 10:00
    "later-after-the-digest": Move(
        ("daily 08:00", "UTC"),
        "2026-03-01 08:00",
        "2026-03-02 09:00",
        ("daily 10:00", "UTC"),
        ["2026-03-01 08:00", "2026-03-02 08:00", "2026-03-03 10:00"],
    ),
    # asked for 08:00 at 09:00, before today's 10:00 digest: today's comes at once, not tomorrow
    "earlier-past-now": Move(
        ("daily 10:00", "UTC"),
        "2026-03-01 10:00",
        "2026-03-02 09:00",
        ("daily 08:00", "UTC"),
        ["2026-03-01 10:00", "2026-03-02 09:00", "2026-03-03 08:00", "2026-03-04 08:00"],
    ),
    # Berlin -> New York after today's 08:00 (07:00 UTC): New York's 08:00 today is the same day
    "berlin-to-new-york": Move(
        ("daily 08:00", "Europe/Berlin"),
        "2026-03-02 07:00",
        "2026-03-02 09:00",
        ("daily 08:00", "America/New_York"),
        ["2026-03-02 07:00", "2026-03-03 13:00", "2026-03-04 13:00"],
    ),
    "new-york-to-berlin": Move(
        ("daily 08:00", "America/New_York"),
        "2026-03-02 13:00",
        "2026-03-02 14:00",
        ("daily 08:00", "Europe/Berlin"),
        ["2026-03-02 13:00", "2026-03-03 07:00", "2026-03-04 07:00", "2026-03-05 07:00"],
    ),
    # weekly Monday -> daily on Wednesday: the days since Monday come at once, then daily
    "weekly-to-daily": Move(
        ("weekly mon 09:00", "UTC"),
        "2026-03-02 09:00",
        "2026-03-04 10:00",
        ("daily 08:00", "UTC"),
        ["2026-03-02 09:00", "2026-03-04 10:00", "2026-03-05 08:00"],
    ),
    # daily -> weekly Monday 09:00 on a Monday, after its 08:00 digest: nothing until next Monday
    "daily-to-weekly": Move(
        ("daily 08:00", "UTC"),
        "2026-03-02 08:00",
        "2026-03-02 10:00",
        ("weekly mon 09:00", "UTC"),
        ["2026-03-02 08:00"],
    ),
}


def digests_across_a_move(workdir, bot, move: Move) -> list[datetime]:
    """When alice's digests went out, every 5 minutes a run, until three days after
    `move.start`, her YAML schedule changed at `move.at` (a fresh paper after each digest)."""

    def config(when: tuple[str, str]) -> str:
        return subscriber_yaml("alice", "quokka", schedule=when[0], timezone=when[1])

    b = bot(config(move.before), move.start)
    end = utc(move.start) + timedelta(days=3)
    sent, n, fresh = [], 0, True
    while b.clock() < end:
        if b.clock() == utc(move.at):
            workdir.write_config(local_source(), config(move.after))
            assert b.worker.maybe_reload()
        if fresh:
            n += 1
            b.add(topic_paper(n, "quokka"))
        outcomes = b.run()
        assert {o.status for o in outcomes} <= {"sent"}, outcomes
        sent += [b.clock()] * len(outcomes)
        fresh = bool(outcomes)
        b.clock.advance(minutes=5)
    assert len(b.mails()) == len(sent)
    return sent


@pytest.mark.parametrize("move", MOVES.values(), ids=MOVES.keys())
def test_a_subscriber_who_changes_schedule_or_timezone_gets_no_digest_twice_and_no_day_skipped(
    workdir, bot, move
):
    assert digests_across_a_move(workdir, bot, move) == [utc(t) for t in move.sent]


def slack_reader_sent_at_8(bot, user: str):
    """A Slack reader on `daily 08:00 UTC` whose 08:00 digest of 2026-03-01 went out, and the
    /digest handler on the bot's clock."""
    b = bot(subscriber_yaml("alice", "quokka"), "2026-03-01 08:00")
    handler = CommandHandler(b.store, b.worker.config, b.worker.env, clock=b.clock)
    who = CommandContext(user_id=user)
    handler.handle(who, "subscribe quokka")
    handler.handle(who, "schedule daily 08:00 UTC")
    b.store.advance(f"slack:{user}", 0, utc("2026-03-01 08:00"))
    return b, handler, who


def test_a_schedule_moved_from_slack_is_due_at_its_new_time_only(workdir, bot):
    b, handler, who = slack_reader_sent_at_8(bot, "U0MOVE")
    b.clock.set("2026-03-02 07:00")
    reply = handler.handle(who, "schedule daily 10:00 UTC")

    assert "Next digest: Mon 02 Mar 10:00" in reply.text
    due = lambda at: "slack:U0MOVE" in {s.subscriber.id for s in b.runner.due(utc(at))}  # noqa: E731
    assert not due("2026-03-02 07:00") and not due("2026-03-02 09:55")
    assert due("2026-03-02 10:00")


def test_a_digest_past_its_time_shows_as_due_now_in_slack_not_as_a_time_gone_by(workdir, bot):
    b, handler, who = slack_reader_sent_at_8(bot, "U0LATE")
    b.clock.set("2026-03-04 12:00")  # the worker was down: Monday's 08:00 digest has not gone out

    shown = handler.handle(who, "list").text

    assert "Next digest: due now (since Mon 02 Mar 08:00;" in shown, shown
    b.clock.set("2026-03-02 07:00")
    assert "Next digest: Mon 02 Mar 08:00" in handler.handle(who, "list").text
    handler.handle(who, "pause")  # a paused digest is not due at all
    b.clock.set("2026-03-04 12:00")
    assert "Next digest: none while paused" in handler.handle(who, "list").text


# --- 5. fetch before send -----------------------------------------------------------------------


def test_dispatch_fetches_sources_older_than_their_interval_before_building_the_digest(workdir, bot):
    hourly, six_hourly = workdir.path / "hourly.xml", workdir.path / "slow.xml"
    write_listing(hourly, [topic_paper(1, "quokka")])
    write_listing(six_hourly, [topic_paper(2, "quokka")])
    sources = local_source("hourly", "hourly.xml", "1h") + local_source("slow", "slow.xml", "6h")
    b = bot(subscriber_yaml("alice", "quokka", schedule="daily 08:00"), "2024-03-14 06:00", sources=sources)
    b.worker.fetch("hourly")
    b.worker.fetch("slow")
    assert [o.papers for o in b.worker.dispatch()] == [2]  # the first digest, at once

    b.clock.set("2024-03-14 07:50")
    b.worker.fetch("slow")
    write_listing(hourly, [topic_paper(1, "quokka"), topic_paper(3, "quokka")])  # a fresh fetch brings 3
    write_listing(six_hourly, [topic_paper(2, "quokka"), topic_paper(4, "quokka")])  # fetched 10 min ago

    b.clock.set("2024-03-14 07:59")
    assert b.worker.dispatch() == []  # nobody due: no digest, and no fetch either
    assert b.store.source_state("hourly")["last_fetch_at"] == "2024-03-14T06:00:00.000000Z"

    b.clock.set("2024-03-14 08:00")
    [outcome] = b.worker.dispatch()

    assert outcome.status == "sent"
    _, second = b.mails()
    assert set(second.papers) == ids(topic_paper(3, "quokka"))
    assert b.store.source_state("hourly")["last_fetch_at"] == "2024-03-14T08:00:00.000000Z"
    assert b.store.source_state("slow")["last_fetch_at"] == "2024-03-14T07:50:00.000000Z"


@pytest.mark.parametrize("shared", [False, True], ids=["one-worker", "several-workers"])
def test_a_fetch_recorded_ahead_of_a_clock_set_back_does_not_hold_the_source_back(workdir, bot, shared):
    # The clock ran two days ahead (a bad hardware clock at boot) and was then set right: the
    # last fetch looks two days in the future, which must not mean "fetched a moment ago".
    write_listing(workdir.path / "hourly.xml", [topic_paper(1, "quokka")])
    b = bot(
        subscriber_yaml("alice", "quokka"),
        "2024-03-16 06:00",
        sources=local_source("hourly", "hourly.xml", "1h"),
    )
    b.worker.runner.shared = shared  # several workers: the fetch takes its lease too
    b.worker.fetch("hourly")
    b.clock.set("2024-03-14 06:05")
    write_listing(workdir.path / "hourly.xml", [topic_paper(1, "quokka"), topic_paper(2, "quokka")])

    fetched = b.worker.fetch("hourly") if shared else b.worker.fetch_stale(b.clock())
    assert fetched, "the source was not fetched"
    assert b.store.source_state("hourly")["last_fetch_at"] == "2024-03-14T06:05:00.000000Z"
    assert b.store.count_papers() == 2  # the second paper came with the fetch


# --- 6. arXiv catch-up ---------------------------------------------------------------------------

ARXIV = SourceConfig("arxiv-cs-lg", "arxiv_rss", RSS_URL, None, every=6 * 3600)
MON, TUE, WED, THU, FRI = (date(2024, 3, d) for d in (11, 12, 13, 14, 15))
LISTED_BEFORE = [topic_paper(101, "quokka"), topic_paper(102, "narwhal")]
LISTED_NOW = [topic_paper(401, "quokka"), topic_paper(402, "narwhal")]
MISSED = [topic_paper(201, "quokka"), topic_paper(301, "okapi")]  # announced Tue and Wed


@pytest.fixture
def http():
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield mock


@pytest.fixture
def store(tmp_path):
    with Store(tmp_path / "db.sqlite") as s:
        yield s


def fetch_listing(http, store, papers: list[FeedPaper], day: date):
    """Serve the arXiv listing of `day` and fetch it (on that day, 06:00 UTC)."""
    http.upsert(responses.GET, RSS_URL, body=arxiv_listing(papers, day))
    when = datetime.combine(day, clock_time(6, 0), UTC)
    return fetch_one(store, ARXIV, HttpClient(sleep=lambda s: None), when)


def api_calls(http) -> list[dict[str, str]]:
    return [
        {k: v[0] for k, v in parse_qs(urlsplit(c.request.url).query).items()}
        for c in http.calls
        if c.request.url.startswith(API_URL)
    ]


def last_announced(store) -> str | None:
    return store.source_state(ARXIV.name)["last_announced"]


def test_arxiv_catch_up_fills_the_days_missed_between_two_listings(http, store):
    assert fetch_listing(http, store, LISTED_BEFORE, MON).new == 2
    assert last_announced(store) == "2024-03-11"
    # the API knows the missed days' papers, and (overlapping) some already stored
    http.get(API_URL, body=api_feed([LISTED_BEFORE[0], *MISSED, LISTED_NOW[0]], ("cs.LG", "stat.ML")))

    outcome = fetch_listing(http, store, LISTED_NOW, THU)

    [query] = api_calls(http)
    search = query["search_query"]
    assert "cat:cs.LG" in search
    span = re.search(r"submittedDate:\[(\d{8})\d{4} TO (\d{8})\d{4}\]", search)
    assert span, search
    assert span.group(1) <= f"{TUE:%Y%m%d}" and span.group(2) >= f"{WED:%Y%m%d}"
    assert (outcome.ok, outcome.caught_up, outcome.new) == (True, 2, 4)
    assert last_announced(store) == "2024-03-14"
    assert store.count_papers() == 6  # 2 + 2 listed, 2 caught up; the overlap merged, not added
    for p in MISSED:
        assert store.paper(f"arxiv:{p.aid}").sources == (ARXIV.name,)
    assert store.paper(f"arxiv:{LISTED_BEFORE[0].aid}").categories == ("cs.LG", "stat.ML")


def test_a_weekend_between_two_listings_is_not_a_gap(http, store):
    fetch_listing(http, store, LISTED_BEFORE, FRI)
    empty_saturday = http.get(RSS_URL, body=(FIXTURES / "arxiv_rss_weekend.xml").read_bytes())
    fetch_one(store, ARXIV, HttpClient(sleep=lambda s: None), utc("2024-03-16 06:00"))
    http.remove(empty_saturday)

    outcome = fetch_listing(http, store, LISTED_NOW, date(2024, 3, 18))

    assert api_calls(http) == []
    assert (outcome.ok, outcome.new, outcome.caught_up) == (True, 2, 0)
    assert last_announced(store) == "2024-03-18"


@pytest.mark.parametrize(
    "failure",
    [
        {"status": 503, "body": "Service Unavailable"},
        {"body": (FIXTURES / "arxiv_api_error.atom").read_bytes()},
        {"body": requests.exceptions.ConnectionError("Connection reset by peer")},
    ],
    ids=["http-503", "api-error-entry", "connection-reset"],
)
def test_a_failed_catch_up_keeps_the_old_day_so_the_next_fetch_tries_again(http, store, failure):
    fetch_listing(http, store, LISTED_BEFORE, MON)
    broken = http.get(API_URL, **failure)

    outcome = fetch_listing(http, store, LISTED_NOW, THU)

    assert (outcome.ok, outcome.new, outcome.caught_up) == (True, 2, 0)  # the listing itself is stored
    assert store.source_state(ARXIV.name)["failures"] == 0
    assert last_announced(store) == "2024-03-11"
    assert len(api_calls(http)) == 1

    http.remove(broken)
    http.get(API_URL, body=api_feed(MISSED))
    outcome = fetch_listing(http, store, LISTED_NOW, THU)

    assert len(api_calls(http)) == 2
    assert (outcome.ok, outcome.new, outcome.known, outcome.caught_up) == (True, 2, 2, 2)
    assert last_announced(store) == "2024-03-14"
    assert store.count_papers() == 6


def export_api(submitted: dict[FeedPaper, str]):
    """An export API that answers a submittedDate range query with the papers submitted in it."""

    def answer(request):
        query = parse_qs(urlsplit(request.url).query)["search_query"][0]
        low, high = re.search(r"submittedDate:\[(\d{12}) TO (\d{12})\]", query).groups()
        inside = [p for p, at in submitted.items() if low <= f"{utc(at):%Y%m%d%H%M}" <= high]
        return 200, {}, api_feed(inside, submitted=lambda p: utc(submitted[p])).encode()

    return answer


# arXiv's week: submissions before 14:00 US Eastern are announced that evening and listed on
# rss.arxiv.org the next day; Friday 14:00 to Monday 14:00 is one batch, listed on Tuesday.
# So the papers a missed listing holds were submitted up to three days before the listing seen
# last: Tuesday's listing starts with Friday afternoon's submissions.
@pytest.mark.parametrize(
    ("seen", "missed", "current"),
    [
        (  # Monday's listing seen, the bot down all Tuesday and Wednesday, Thursday's listing
            [(MON, LISTED_BEFORE)],
            {
                topic_paper(601, "quokka"): "2024-03-08 20:30",  # Friday after 14:00 EST: Tuesday
                topic_paper(602, "quokka"): "2024-03-09 12:00",  # Saturday: Tuesday
                topic_paper(603, "quokka"): "2024-03-11 19:00",  # Monday after 14:00 EDT: Wednesday
            },
            (THU, LISTED_NOW),
        ),
        (  # Friday's listing, the (empty) Saturday feed, the bot down on Monday, Tuesday's listing
            [(FRI, LISTED_BEFORE), (date(2024, 3, 16), [])],
            {
                topic_paper(701, "quokka"): "2024-03-14 20:00",  # Thursday after 14:00 EDT: Monday
                topic_paper(702, "quokka"): "2024-03-15 12:00",  # Friday morning: Monday
            },
            (date(2024, 3, 19), LISTED_NOW),
        ),
    ],
    ids=["missed-tuesday", "missed-monday-after-a-saturday-feed"],
)
def test_catch_up_covers_every_submission_the_missed_listings_hold(http, store, seen, missed, current):
    for day, papers in seen:
        fetch_listing(http, store, papers, day)
    http.add_callback(responses.GET, API_URL, callback=export_api(missed))

    outcome = fetch_listing(http, store, current[1], current[0])

    assert outcome.ok and len(api_calls(http)) == 1
    lost = [p.aid for p in missed if store.paper(f"arxiv:{p.aid}") is None]
    assert lost == [], f"never fetched: {lost} (query {api_calls(http)[0]['search_query']})"


def conditional(papers: list[FeedPaper], day: date, etag: str):
    """An rss.arxiv.org-like responder: an ETag on every answer, 304 when the client has it."""

    def answer(request):
        if request.headers.get("If-None-Match") == etag:
            return 304, {"ETag": etag}, b""
        return 200, {"ETag": etag}, arxiv_listing(papers, day).encode()

    return answer


def test_a_failed_catch_up_is_retried_even_when_the_listing_answers_304(http, store):
    http.add_callback(responses.GET, RSS_URL, callback=conditional(LISTED_BEFORE, MON, '"mon"'))
    fetch_one(store, ARXIV, HttpClient(sleep=lambda s: None), utc("2024-03-11 06:00"))
    http.remove(responses.GET, RSS_URL)
    http.add_callback(responses.GET, RSS_URL, callback=conditional(LISTED_NOW, THU, '"thu"'))
    broken = http.get(API_URL, status=503, body="Service Unavailable")
    fetch_one(store, ARXIV, HttpClient(sleep=lambda s: None), utc("2024-03-14 06:00"))
    assert last_announced(store) == "2024-03-11"
    http.remove(broken)
    http.get(API_URL, body=api_feed(MISSED))

    outcome = fetch_one(store, ARXIV, HttpClient(sleep=lambda s: None), utc("2024-03-14 12:00"))

    assert outcome.ok
    assert len(api_calls(http)) == 2, "the catch-up was not tried again"
    assert outcome.caught_up == 2
    assert last_announced(store) == "2024-03-14"


# --- 7. failing and stale sources ---------------------------------------------------------------


def test_three_failed_fetches_in_a_row_make_a_source_failing(workdir, store):
    broken = workdir.path / "broken.xml"
    broken.write_bytes((FIXTURES / "html_error_page.html").read_bytes())
    source = SourceConfig("broken", "arxiv_rss", None, broken, every=3600)
    now = utc("2024-03-14 06:00")
    health = []
    for hour in range(3):
        assert not fetch_one(store, source, HttpClient(), now + timedelta(hours=hour)).ok
        health.append(source_health(source, store.source_state("broken"), now + timedelta(hours=hour)))
    assert health[:2] == [None, None]
    assert (
        health[2]
        == "failing: 3 fetches in a row (got an HTML page, not a feed (a login or error page? open the url in a browser))"
    )

    write_listing(broken, [topic_paper(1, "quokka")])
    assert fetch_one(store, source, HttpClient(), now + timedelta(hours=3)).ok
    assert source_health(source, store.source_state("broken"), now + timedelta(hours=3)) is None


@pytest.mark.parametrize(
    ("last_new", "now", "health"),
    [
        ("2024-03-15 06:00", "2024-03-16 23:00", None),  # Friday's papers, then a weekend
        ("2024-03-15 06:00", "2024-03-18 06:00", None),  # ... and Monday's listing brought nothing
        ("2024-03-15 06:00", "2024-03-19 06:00", "stale: no new papers for 2 working days"),
        ("2024-03-11 06:00", "2024-03-12 23:00", None),  # one working day without papers
        ("2024-03-11 06:00", "2024-03-13 06:00", "stale: no new papers for 2 working days"),
        ("2024-03-11 06:00", "2024-03-15 06:00", "stale: no new papers for 4 working days"),
    ],
)
def test_an_arxiv_listing_with_no_new_papers_for_two_working_days_is_stale(
    workdir, store, last_new, now, health
):
    feed = write_listing(workdir.path / "feed.xml", [topic_paper(1, "quokka")])
    source = SourceConfig("feed", "arxiv_rss", None, feed, every=6 * 3600)
    assert fetch_one(store, source, HttpClient(), utc(last_new)).new == 1
    t = utc(last_new)
    while t < utc(now):  # fetched every 6 hours, nothing new each time
        t = min(t + timedelta(hours=6), utc(now))
        assert fetch_one(store, source, HttpClient(), t).known == 1

    assert source_health(source, store.source_state("feed"), utc(now)) == health


def test_status_shows_failing_and_stale_sources(workdir):
    write_listing(workdir.path / "feed.xml", [topic_paper(1, "quokka")])
    (workdir.path / "broken.xml").write_bytes((FIXTURES / "html_error_page.html").read_bytes())
    sources = local_source("feed") + local_source("broken", "broken.xml")
    workdir.write_config(sources, subscriber_yaml("alice", "quokka"))
    config, now = load_config(workdir.config), now_utc()
    with Store(workdir.db) as store:
        assert fetch_one(store, config.source("feed"), HttpClient(), now - timedelta(days=7)).new == 1
        assert fetch_one(store, config.source("feed"), HttpClient(), now - timedelta(hours=1)).known == 1
        for minutes in (30, 20, 10):
            fetch_one(store, config.source("broken"), HttpClient(), now - timedelta(minutes=minutes))

    status = invoke(workdir, "status").output

    rows = {line.split()[1]: line for line in status.splitlines() if re.match(r"^\W*(feed|broken)\s", line)}
    assert re.search(r"stale: no new papers for [5-9] working days", rows["feed"]), status
    assert "failing: 3 fetches in a row" in rows["broken"], status


# --- 8. exactly one sender ------------------------------------------------------------------------


def test_two_send_processes_at_once_never_send_a_digest_twice(workdir, slow_smtp_server, spawn):
    subscribers = ANIMALS[:6]
    write_listing(workdir.path / "feed.xml", [topic_paper(i, sid) for i, sid in enumerate(subscribers)])
    workdir.write_config(local_source(), "".join(subscriber_yaml(sid, sid) for sid in subscribers))
    workdir.use_smtp(slow_smtp_server.url)
    slow_smtp_server.handler.delay = 0.2
    invoke(workdir, "fetch")

    both = [spawn("send"), spawn("send")]
    codes = [p.finish() for p in both]

    received = by_recipient(smtp_mails(slow_smtp_server))
    assert {to: len(mails) for to, mails in received.items()} == {address(sid): 1 for sid in subscribers}
    for proc, rc in zip(both, codes, strict=True):
        waited = rc == 0 and "Digests:" in proc.output
        refused = rc == 1 and re.search(r"another digestbot process \(pid \d+\) is sending", proc.output)
        assert waited or refused, proc.output
    assert sum(p.output.count(": sent 1 paper(s)") for p in both) == len(subscribers)


def daemon_setup(workdir, *sids: str) -> None:
    """A local feed with one paper per subscriber, each due at once (never had a digest)."""
    write_listing(workdir.path / "feed.xml", [topic_paper(i, sid) for i, sid in enumerate(sids)])
    workdir.write_config(local_source(), "".join(subscriber_yaml(sid, sid) for sid in sids))


def start_daemon(spawn, sid: str = "quokka") -> Proc:
    """`digestbot run`, once its first dispatch has delivered `sid`'s digest. From then on no job
    starts for a minute, so a signal cannot hit the hang that
    test_a_signal_while_a_job_is_being_started_still_stops_the_worker shows."""
    proc = spawn("run")
    proc.wait_for(rf"digest \d+ to {sid}: 1 papers")
    return proc


def test_a_second_scheduler_on_the_same_database_exits_2_naming_the_first(workdir, spawn):
    daemon_setup(workdir, "quokka")
    first = start_daemon(spawn)

    started = time.monotonic()
    second = run_process(spawn, "run", expect=2)

    assert time.monotonic() - started < 10
    assert re.search(
        rf"not starting: another digestbot process \(pid {first.pid}\) is running", second.output
    )
    assert first.popen.poll() is None
    first.signal(signal.SIGTERM)
    assert first.finish(10) == 0, first.output


def test_a_scheduler_killed_with_9_leaves_no_stale_lock(workdir, spawn):
    daemon_setup(workdir, "quokka")
    first = spawn("run")
    first.wait_for("digestbot running")
    first.kill()

    second = spawn("run")
    second.wait_for("digestbot running")  # logged once it holds the scheduler lock


# --- 9. SIGTERM / SIGINT --------------------------------------------------------------------------


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_run_stops_cleanly_on_a_signal(workdir, spawn, sig):
    daemon_setup(workdir, "quokka")
    proc = start_daemon(spawn)

    proc.signal(sig)
    started = time.monotonic()
    assert proc.finish(10) == 0, proc.output
    assert time.monotonic() - started < 5
    assert re.search(rf"received {sig.name}", proc.output)
    assert proc.stderr[-1].rstrip().endswith("stopped")
    [mail] = outbox_mails(workdir.outbox)
    assert set(mail.papers) == ids(topic_paper(0, "quokka"))


# Widens a real window: the scheduler thread holds concurrent.futures' (non-reentrant) shutdown
# lock while it hands a job to the pool; a signal landing then runs its handler inside that.
SLOW_JOB_HANDOVER = """
import concurrent.futures.thread, sys, time
_adjust = concurrent.futures.thread.ThreadPoolExecutor._adjust_thread_count
def _slow_adjust(self):
    print("handing a job to the pool", file=sys.stderr, flush=True)
    time.sleep(1)
    return _adjust(self)
concurrent.futures.thread.ThreadPoolExecutor._adjust_thread_count = _slow_adjust
"""


def test_a_signal_while_a_job_is_being_started_still_stops_the_worker(workdir, spawn):
    daemon_setup(workdir, "quokka")
    proc = spawn("run", prelude=SLOW_JOB_HANDOVER)
    proc.wait_for("handing a job to the pool")

    proc.signal(signal.SIGTERM)

    assert proc.finish(3) == 0, proc.output
    assert proc.stderr[-1].rstrip().endswith("stopped")


def test_sigterm_mid_batch_finishes_the_digests_in_flight_and_leaves_the_rest_due(
    workdir, slow_smtp_server, spawn
):
    sids = ("axolotl", "capybara", "narwhal", "okapi")
    daemon_setup(workdir, *sids)
    workdir.use_smtp(slow_smtp_server.url)
    slow_smtp_server.handler.delay = 0.6
    proc = spawn("run")
    wait_until(lambda: len(slow_smtp_server.messages) == 1, 15, "the first digest at the SMTP server")

    proc.signal(signal.SIGTERM)  # while the server has not yet confirmed it

    assert proc.finish(10) == 0, proc.output
    assert proc.stderr[-1].rstrip().endswith("stopped")
    with Store(workdir.db) as store:
        ledger = store.digests()
    # The digest on the wire is finished, and so is the next one if it was already recorded
    # (the runner renders digest k+1 while k is on the wire); nothing is left half done.
    assert [d.status for d in ledger] in (["sent"], ["sent", "sent"])
    assert [d.subscriber_id for d in ledger] == list(sids[: len(ledger)])
    assert len(slow_smtp_server.messages) == len(ledger)

    slow_smtp_server.handler.delay = 0.05
    run_process(spawn, "send")  # the rest were never started: still due
    received = by_recipient(smtp_mails(slow_smtp_server))
    assert {to: len(mails) for to, mails in received.items()} == {address(s): 1 for s in sids}


# --- 10. config reload ---------------------------------------------------------------------------


def touch_later(path: Path) -> None:
    """Move the mtime on for sure (some filesystems keep whole seconds)."""
    t = path.stat().st_mtime + 5
    os.utime(path, (t, t))


def test_worker_picks_up_an_edited_config_and_keeps_the_old_one_when_an_edit_is_broken(workdir, bot, caplog):
    quokka, narwhal = topic_paper(1, "quokka"), topic_paper(2, "narwhal")
    b = bot(subscriber_yaml("alice", "quokka", schedule="daily 08:00"), "2024-03-14 06:00")
    assert not b.worker.maybe_reload()  # unchanged

    workdir.write_config(
        local_source(),
        subscriber_yaml("alice", "narwhal", schedule="daily 08:00")
        + subscriber_yaml("bob", "quokka", schedule="daily 08:00"),
    )
    touch_later(workdir.config)
    assert b.worker.maybe_reload()
    good = b.worker.config
    assert {s.id: s.profile.keywords for s in good.subscribers} == {"alice": ("narwhal",), "bob": ("quokka",)}
    assert b.runner.config is good
    assert b.store.subscriber("alice").subscriber.profile.keywords == ("narwhal",)
    assert b.store.subscriber("bob") is not None

    before = db_dump(workdir.db)
    text = workdir.config.read_text(encoding="utf-8")
    workdir.config.write_text(text.replace("schedule: daily 08:00", "schedule: fortnightly 08:00", 1))
    touch_later(workdir.config)
    caplog.clear()
    with caplog.at_level(logging.INFO):
        assert not b.worker.maybe_reload()
        assert not b.worker.maybe_reload()  # reported once, not on every dispatch
        b.worker.reload_requested.set()  # SIGHUP: read again, still broken
        assert not b.worker.maybe_reload()

    errors = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert len(errors) == 2
    assert "still running the previous config" in errors[0].getMessage()
    assert "cannot read schedule 'fortnightly 08:00'" in errors[0].getMessage()
    assert b.worker.config is good and b.runner.config is good
    assert db_dump(workdir.db) == before

    b.add(quokka, narwhal)  # the old config keeps running
    b.clock.set("2024-03-14 07:00")
    outcomes = b.worker.dispatch()
    assert sorted((o.subscriber_id, o.status) for o in outcomes) == [("alice", "sent"), ("bob", "sent")]
    mails = {m.to: set(m.papers) for m in b.mails()}
    assert mails == {"alice@example.org": ids(narwhal), "bob@example.org": ids(quokka)}

    workdir.config.write_text(text.replace("[narwhal]", "[okapi]"))
    touch_later(workdir.config)
    assert b.worker.maybe_reload()
    assert b.store.subscriber("alice").subscriber.profile.keywords == ("okapi",)


@pytest.mark.parametrize(
    "old, new, said",
    [  # both raised out of load_config (ReaderError, ValueError) and stopped the worker
        ("[quokka]", "[quok\x01ka]", "yaml: unacceptable character #x0001"),
        ("schedule: daily 08:00", "schedule: daily 08:00\n    id2: 2024-13-45", "unknown key"),
    ],
)
def test_an_edit_python_yaml_cannot_read_keeps_the_worker_on_its_old_config(
    workdir, bot, caplog, old, new, said
):
    b = bot(subscriber_yaml("alice", "quokka", schedule="daily 08:00"), "2024-03-14 06:00")
    good = b.worker.config
    text = workdir.config.read_text(encoding="utf-8")
    workdir.config.write_text(text.replace(old, new, 1), encoding="utf-8")
    touch_later(workdir.config)
    with caplog.at_level(logging.INFO):
        assert not b.worker.maybe_reload()
    errors = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
    assert len(errors) == 1 and "still running the previous config" in errors[0] and said in errors[0]
    assert b.worker.config is good


def test_worker_reloads_when_a_library_file_changes_and_keeps_the_old_likes_when_it_breaks(
    workdir, bot, caplog
):
    library = workdir.path / "library.txt"
    library.write_text("2303.04137\n", encoding="utf-8")
    entry = subscriber_yaml("alice", "quokka", schedule="daily 08:00") + "  library: library.txt\n"
    b = bot(entry, "2024-03-14 06:00")
    assert b.store.subscriber("alice").subscriber.profile.likes == ("2303.04137",)
    assert not b.worker.maybe_reload()  # nothing changed

    library.write_text("2303.04137\nhttps://arxiv.org/abs/2401.00001v2\n", encoding="utf-8")
    touch_later(library)  # the YAML itself is untouched
    assert b.worker.maybe_reload()
    assert b.store.subscriber("alice").subscriber.profile.likes == ("2303.04137", "2401.00001")

    library.write_text("@article{broken,\n  title = {no closing brace\n", encoding="utf-8")
    touch_later(library)
    with caplog.at_level(logging.ERROR):
        assert not b.worker.maybe_reload()
    assert "still running the previous config" in caplog.text and "library.txt" in caplog.text
    assert b.store.subscriber("alice").subscriber.profile.likes == ("2303.04137", "2401.00001")


# --- 11. WAL and the busy timeout: everyone shares the database ---------------------------------


def test_runner_status_and_slack_commands_share_the_database_without_locking_errors(workdir, spawn):
    write_listing(workdir.path / "feed.xml", [])
    workdir.write_config(local_source(), subscriber_yaml("alice", "quokka"))
    config = load_config(workdir.config)
    env = Env(outbox=workdir.outbox)
    with Store(workdir.db) as store:
        store.sync_subscribers(config.subscribers)

    stop = threading.Event()
    done: Counter[str] = Counter()
    errors: list[str] = []

    def loop(name: str, step: Callable[[Store], None]) -> threading.Thread:
        def body() -> None:
            try:
                with Store(workdir.db) as own:  # one connection per thread, as separate processes have
                    while not stop.is_set():
                        step(own)
                        done[name] += 1
            except BaseException as e:  # an assertion, or pytest.fail from a helper
                errors.append(f"{name}: {type(e).__name__}: {e}")

        return threading.Thread(target=body, name=name)

    def send(store: Store) -> None:
        n = 1000 + done["send"]
        store.add_papers([as_paper(topic_paper(n, "quokka"))], "feed")
        outcomes = DigestRunner(store, config, env).run(force=True)
        assert {o.status for o in outcomes} <= {"sent", "empty"}, outcomes
        assert "sent" in {o.status for o in outcomes}

    def slack(store: Store) -> None:
        handler = CommandHandler(store, config, env)
        who = CommandContext(user_id="U0CONCUR1")
        assert handler.handle(who, "subscribe quokka, narwhal").text.startswith("Added")
        assert handler.handle(who, "unsubscribe narwhal").text.startswith("Removed")

    def read(store: Store) -> None:
        store.subscribers(include_inactive=True)
        store.digests(status="pending")
        store.count_papers()
        store.last_sent("alice")

    def status(_store: Store) -> None:
        proc = spawn("status")
        assert proc.finish() == 0, proc.output
        assert "locked" not in proc.output

    threads = [loop("send", send), loop("slack", slack), loop("read", read), loop("status", status)]
    for t in threads:
        t.start()
    try:  # each loop's rounds, however slow a loaded machine makes them (no time limit is the test)
        wait_until(
            lambda: errors or (min(done[n] for n in ("send", "slack", "read")) >= 5 and done["status"] >= 1),
            120,
            "five rounds of each loop",
        )
    finally:
        stop.set()
        for t in threads:
            t.join(30)

    assert errors == []
    with Store(workdir.db) as store:
        ledger = store.digests()
        assert {d.status for d in ledger} == {"sent"}
        assert store.delivered_count("alice") == done["send"]


# --- trending digests re-fetch the upvote list first ------------------------------------------------


def test_dispatch_refetches_the_hugging_face_list_before_a_trending_digest(workdir, bot):
    papers = [topic_paper(n, "quokka") for n in (1, 2, 3)]

    def hf_list(votes: tuple[int, ...]) -> None:
        items = [
            {"paper": {"id": p.aid, "title": p.title, "summary": p.abstract, "upvotes": v, "authors": []}}
            for p, v in zip(papers, votes, strict=True)
        ]
        (workdir.path / "hf.json").write_text(json.dumps(items), encoding="utf-8")

    hf_list((30, 20, 10))
    sources = local_source() + "- name: hf\n  type: hf_daily\n  url: hf.json\n  every: 6h\n"
    b = bot("- id: top\n  email: top@example.org\n  trending: 2\n", "2024-03-14 06:00", sources=sources)
    b.worker.fetch("hf")
    hf_list((30, 20, 99))  # the third paper took off since
    b.clock.set("2024-03-14 07:00")  # an hour later: not stale for its 6h interval

    [outcome] = b.worker.dispatch()

    assert (outcome.status, outcome.papers, outcome.matched) == ("sent", 2, 3)
    assert b.store.source_state("hf")["last_fetch_at"] == "2024-03-14T07:00:00.000000Z"
    [mail] = b.mails()
    assert re.findall(r"arxiv\.org/abs/(\S+)  \(PDF", mail.text) == [papers[2].aid, papers[0].aid]


def walrus_feed(workdir) -> list[FeedPaper]:
    """400 papers for wes (max_papers 400), with abstracts so long that an email of all of them
    would pass Gmail's clip: the renderer cuts it."""
    words = " ".join(f"walrus{i}" for i in range(300))  # long abstracts: 400 cards cannot fit 100 KB
    papers = [
        FeedPaper(f"2403.{n:05d}", f"Walrus study {n}", f"On the walrus. {words}") for n in range(1, 401)
    ]
    write_listing(workdir.path / "feed.xml", papers)
    workdir.write_config(local_source(), subscriber_yaml("wes", "walrus", max_papers=400))
    return papers


def test_papers_cut_to_keep_an_email_under_gmails_clip_are_not_recorded_as_received(workdir):
    papers = walrus_feed(workdir)
    invoke(workdir, "fetch")
    invoke(workdir, "send")

    (mail,) = outbox_mails(workdir.outbox)
    assert 10 <= len(mail.papers) < 400 and f"…and {400 - len(mail.papers)} more matched" in mail.text
    with Store(workdir.db) as store:
        (digest,) = store.digests(subscriber_id="wes")
        recorded = {it.paper.arxiv_id for it in store.digest_items(digest.id)}
    assert recorded == set(mail.papers)  # the ledger holds what the reader got, no more
    cut = next(p.aid for p in papers if p.aid not in mail.papers)
    assert "never received" in invoke(workdir, "feedback", "wes", cut, "up", expect=2).output


def test_a_dry_run_says_how_many_papers_the_email_cut_for_gmails_clip_will_show(workdir):
    walrus_feed(workdir)
    invoke(workdir, "fetch")

    would = re.search(
        r"wes: would send (\d+) paper\(s\) \((\d+) matched\)", invoke(workdir, "send", "--dry-run").output
    )
    sent = re.search(r"wes: sent (\d+) paper\(s\) \((\d+) matched\)", invoke(workdir, "send").output)

    (mail,) = outbox_mails(workdir.outbox)
    assert would and sent and would.groups() == sent.groups() == (str(len(mail.papers)), "400")


def test_a_preview_written_to_a_file_counts_the_papers_the_email_shows(workdir):
    walrus_feed(workdir)
    invoke(workdir, "fetch")

    wrote = {
        fmt: invoke(workdir, "preview", "wes", "--format", fmt, "-o", str(workdir.path / f"p.{fmt}")).output
        for fmt in ("eml", "html", "text")
    }
    sent = re.search(r"wes: sent (\d+) paper\(s\)", invoke(workdir, "send").output)

    assert sent and int(sent.group(1)) < 400
    for fmt, output in wrote.items():
        assert f"({sent.group(1)} paper(s))" in output, (fmt, output)


def test_a_digest_cut_for_gmails_clip_retried_after_a_failure_shows_every_recorded_paper(
    workdir, smtp_server
):
    walrus_feed(workdir)
    workdir.use_smtp(smtp_server.url)
    invoke(workdir, "fetch")
    smtp_server.refuse_next(1)  # the first send fails: the retry composes again from the ledger
    invoke(workdir, "send", expect=1)
    invoke(workdir, "send", "--force")

    (mail,) = smtp_mails(smtp_server)
    with Store(workdir.db) as store:
        (digest,) = store.digests(subscriber_id="wes")
        recorded = {it.paper.arxiv_id for it in store.digest_items(digest.id)}
    assert digest.status == "sent" and mail.message_id == digest.message_id
    assert 10 <= len(recorded) < 400 and set(mail.papers) == recorded
    assert f"…and {400 - len(recorded)} more matched" in mail.text


def test_a_digest_recorded_despite_a_template_error_keeps_only_what_its_email_shows_once_fixed(workdir):
    """A template failing on one paper's data leaves the digest recorded uncut (nothing could be
    composed); once the template is fixed, the retry is cut for Gmail's clip, and the ledger then
    holds only the papers that email shows, as a digest composed first does."""
    from digestbot.render import default_templates_dir

    walrus_feed(workdir)
    workdir.write_config(
        local_source(), subscriber_yaml("wes", "walrus", max_papers=400), extra_yaml="templates: mine"
    )
    (workdir.path / "mine").mkdir()
    broken = workdir.path / "mine" / "digest.html"
    broken.write_text(
        (default_templates_dir() / "digest.html")
        .read_text(encoding="utf-8")
        .replace(
            "{% for p in papers %}",
            "{% for p in papers %}{% if p.title == 'Walrus study 400' %}{{ p.no_such_field }}{% endif %}",
            1,
        ),
        encoding="utf-8",
    )
    invoke(workdir, "fetch")
    assert "FAILED" in invoke(workdir, "send", expect=1).output
    broken.unlink()  # the operator fixes the template
    invoke(workdir, "send", "--force")

    (mail,) = outbox_mails(workdir.outbox)
    with Store(workdir.db) as store:
        (digest,) = store.digests(subscriber_id="wes")
        recorded = {it.paper.arxiv_id for it in store.digest_items(digest.id)}
    assert digest.status == "sent" and 10 <= len(mail.papers) < 400
    assert recorded == set(mail.papers)
    cut = next(p for p in (f"2403.{n:05d}" for n in range(1, 401)) if p not in mail.papers)
    assert "never received" in invoke(workdir, "feedback", "wes", cut, "up", expect=2).output
