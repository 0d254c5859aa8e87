"""Faults in what a reader gets over days: a first digest after an old paper was revised, a
paper one source reported before the reader's own source did, and the Hugging Face lists of the
days the worker was down. Each runs the real CLI on SQLite and PostgreSQL and checks the mail
that arrived at a real SMTP server (aiosmtpd on loopback).
"""

from __future__ import annotations

import json
import re
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

import pytest
from helpers import SOURCES, FeedPaper, digestbot, ledger, raw_sql, subscriber, write_feed
from test_trending import hf, hf_item, person

from digestbot.models import Paper
from digestbot.store import Store

__all__ = ["hf"]  # a fixture: the Hugging Face daily papers API on loopback
pytestmark = pytest.mark.usefixtures("backend")

NARWHAL = FeedPaper(
    "2403.10001",
    "Narwhal navigation with sparse rewards",
    "We study narwhal navigation. Narwhals steer with sparse rewards in icy water.",
)
QUOKKA = Paper(
    key="arxiv:2403.10002",
    arxiv_id="2403.10002",
    title="Quokka grins at scale",
    abstract="A quokka study. Quokkas smile at scale.",
    link="https://arxiv.org/abs/2403.10002",
)


def arxiv_ids(smtp_server, sid: str) -> list[list[str]]:
    """The arXiv ids in each digest `sid` received, in order."""
    return [
        re.findall(r"arxiv\.org/abs/(\d{4}\.\d{5})", m.message.get_body(("plain",)).get_content())
        for m in smtp_server.to(f"{sid}@example.org")
    ]


def test_a_new_subscribers_first_digest_reaches_back_a_day_even_after_an_old_paper_was_revised(
    workdir, smtp_server
):
    # A first digest takes the papers of the last day. It started after the highest rev among
    # the papers first seen before that day: a paper seen a week ago and revised this morning
    # has the newest rev of all, so the new subscriber got nothing of the day before it.
    write_feed(workdir.path / "feed.xml", [])
    workdir.write_config(SOURCES, subscriber("bob", "wombat"))
    workdir.use_smtp(smtp_server.url)
    now = datetime.now(UTC)
    with Store(workdir.db) as store:
        store.add_papers([QUOKKA], "feed", now - timedelta(days=7))
    write_feed(workdir.path / "feed.xml", [NARWHAL])
    digestbot(workdir, "fetch")  # the narwhal paper, an hour before the quokka's revision
    with Store(workdir.db) as store:
        revised = replace(QUOKKA, abstract=QUOKKA.abstract + " Revised.")
        store.add_papers([revised], "feed", now + timedelta(minutes=1))

    workdir.write_config(SOURCES, subscriber("bob", "wombat") + subscriber("alice", "narwhal"))
    digestbot(workdir, "send")

    assert arxiv_ids(smtp_server, "alice") == [[NARWHAL.aid]]


def test_a_reader_who_signs_up_on_a_weekend_gets_fridays_papers_first(workdir, smtp_server):
    # arXiv announces nothing on Saturdays and Sundays: a first digest that reached back one
    # day from now found nothing on a Saturday and sent nothing until Monday's listing. It
    # reaches back a day from the newest paper the sources brought.
    workdir.write_config(SOURCES, subscriber("bob", "wombat"))
    workdir.use_smtp(smtp_server.url)
    now = datetime.now(UTC)
    friday = Paper(
        key=f"arxiv:{NARWHAL.aid}",
        arxiv_id=NARWHAL.aid,
        title=NARWHAL.title,
        abstract=NARWHAL.abstract,
        link=f"https://arxiv.org/abs/{NARWHAL.aid}",
    )
    with Store(workdir.db) as store:
        store.add_papers([QUOKKA], "feed", now - timedelta(days=4))  # Wednesday's
        store.add_papers([friday], "feed", now - timedelta(hours=40))  # Friday, 01:00 UTC
    write_feed(workdir.path / "feed.xml", [])  # on Saturday the listing has nothing new

    workdir.write_config(SOURCES, subscriber("bob", "wombat") + subscriber("alice", "narwhal", "quokka"))
    digestbot(workdir, "run", "--once")

    assert arxiv_ids(smtp_server, "alice") == [[NARWHAL.aid]]


def hf_file(path, *items: dict) -> None:
    path.write_text(json.dumps(list(items)), encoding="utf-8")


TWO_SOURCES = """
- name: feed
  type: arxiv_rss
  url: feed.xml
- name: hf
  type: hf_daily
  url: hf.json
"""


def test_a_paper_arxiv_announced_before_hugging_face_listed_it_reaches_a_reader_of_hugging_face_only(
    workdir, smtp_server
):
    # arXiv announces a paper; Hugging Face lists it a day later. A reader with `sources: [hf]`
    # had it filtered out of the digest after arXiv's report (not from hf), and when hf
    # reported it the paper was not new any more (same title and abstract, same rev): never
    # delivered. The reader with no `sources:` must not get it twice.
    reader = person("carol", "keywords: [narwhal]\nsources: [hf]")
    workdir.write_config(TWO_SOURCES, reader + subscriber("dave", "narwhal"))
    workdir.use_smtp(smtp_server.url)
    write_feed(workdir.path / "feed.xml", [NARWHAL])
    hf_file(workdir.path / "hf.json")
    digestbot(workdir, "run", "--once")
    assert arxiv_ids(smtp_server, "carol") == []
    assert arxiv_ids(smtp_server, "dave") == [[NARWHAL.aid]]

    hf_file(workdir.path / "hf.json", hf_item(NARWHAL.aid, NARWHAL.title, NARWHAL.abstract, 12))
    digestbot(workdir, "fetch")
    digestbot(workdir, "send", "--force")

    assert arxiv_ids(smtp_server, "carol") == [[NARWHAL.aid]]
    assert arxiv_ids(smtp_server, "dave") == [[NARWHAL.aid]]


def hf_sources(url: str) -> str:
    return f"""
- name: hf-daily
  type: hf_daily
  url: {url}
"""


def last_fetched(workdir, day: date) -> None:
    """As if the source's last fetch had been on `day` (at noon, UTC)."""
    at = f"{day.isoformat()}T12:00:00.000000Z"
    raw_sql(
        workdir.db,
        f"UPDATE sources SET last_announced = '{day.isoformat()}', last_fetch_at = '{at}', last_ok_at = '{at}'",
    )


def week_paper(n: int, votes: int) -> dict:
    return hf_item(f"2411.{n:05d}", f"Agents day {n}", f"An agents paper, number {n}.", votes)


def test_a_week_the_worker_was_down_still_gives_a_trending_reader_the_most_upvoted_of_those_days(
    workdir, smtp_server, hf
):
    # Without `date:` an hf_daily source reads the current list only: after a week down, the
    # lists of the six days between were never read, and a trending digest chose among today's
    # papers only. Each day since the last fetch is read again by `?date=`.
    lists, url = hf
    today = datetime.now(UTC).date()
    workdir.write_config(hf_sources(url), person("bob", "keywords: [wombat]"))
    workdir.use_smtp(smtp_server.url)
    digestbot(workdir, "fetch")
    last_fetched(workdir, today - timedelta(days=7))
    for n in range(7, 0, -1):  # the lists of the days it was down, a paper each
        lists.days[(today - timedelta(days=n)).isoformat()] = [week_paper(n, 10 * n)]
    lists.items = [week_paper(99, 5)]
    lists.asked.clear()
    workdir.write_config(hf_sources(url), person("bob", "keywords: [wombat]") + person("top", "trending: 3"))

    digestbot(workdir, "run", "--once")

    assert lists.asked == [None, *((today - timedelta(days=n)).isoformat() for n in range(7, 0, -1))]
    assert arxiv_ids(smtp_server, "top") == [["2411.00007", "2411.00006", "2411.00005"]]


def test_the_first_fetch_of_a_day_reads_yesterdays_list_once_and_a_failed_day_is_read_next_time(workdir, hf):
    # The votes (and papers) yesterday's list gathered after its last fetch count: the first
    # fetch of a day reads it again, once. A day whose list failed is read at the next fetch;
    # never more than 31 days back.
    lists, url = hf
    today = datetime.now(UTC).date()
    yesterday = (today - timedelta(days=1)).isoformat()
    workdir.write_config(hf_sources(url), person("bob", "keywords: [wombat]"))
    digestbot(workdir, "fetch")
    assert lists.asked == [None]
    last_fetched(workdir, today - timedelta(days=1))
    lists.days[yesterday] = [week_paper(1, 40)]
    lists.failing = {yesterday}
    digestbot(workdir, "fetch")
    lists.failing = set()
    digestbot(workdir, "fetch")
    digestbot(workdir, "fetch")
    assert lists.asked == [None, None, yesterday, None, yesterday, None]
    with Store(workdir.db) as store:
        assert store.paper("arxiv:2411.00001").upvotes == 40

    last_fetched(workdir, today - timedelta(days=400))
    lists.asked.clear()
    digestbot(workdir, "fetch")
    assert lists.asked[1:] == [(today - timedelta(days=n)).isoformat() for n in range(31, 0, -1)]


def _a_digest_waiting_for_a_retry(workdir, smtp_server, *others: str) -> None:
    """alice's first digest (the narwhal paper and a second one) refused with a 451: pending."""
    second = FeedPaper("2403.10009", "Narwhal tusks sense salinity", "Narwhals sense salt with tusks.")
    write_feed(workdir.path / "feed.xml", [NARWHAL, second])
    workdir.write_config(SOURCES, subscriber("alice", "narwhal"), *others)
    workdir.use_smtp(smtp_server.url)
    digestbot(workdir, "fetch")
    smtp_server.refuse_next(1)
    digestbot(workdir, "send", expect=1)
    assert [d.status for d in ledger(workdir.db)] == ["pending"] and not smtp_server.to("alice@example.org")


def test_a_reader_who_unsubscribed_while_a_digest_waited_gets_its_papers_on_coming_back(workdir, smtp_server):
    # Unsubscribing cancels a digest waiting for a retry. Its papers stayed its own, behind the
    # watermark and in the ledger as received: on resubscribing the reader got the papers that
    # came while away, but never those. A digest that cannot have arrived gives them back.
    _a_digest_waiting_for_a_retry(workdir, smtp_server)
    with Store(workdir.db) as store:
        store.set_paused("alice", True)  # the one-click unsubscribe's and /digest pause's
        assert [d.status for d in store.digests()] == ["cancelled"]
        store.set_paused("alice", False)  # resubscribing (the manage page, /digest resume)

    digestbot(workdir, "send", "--force")

    assert [sorted(ids) for ids in arxiv_ids(smtp_server, "alice")] == [["2403.10001", "2403.10009"]]


def test_a_reader_removed_from_the_yaml_while_a_digest_waited_gets_its_papers_when_put_back(
    workdir, smtp_server
):
    _a_digest_waiting_for_a_retry(workdir, smtp_server)
    workdir.write_config(SOURCES, subscriber("bob", "wombat"))
    digestbot(workdir, "send")
    assert [d.status for d in ledger(workdir.db)] == ["cancelled"]
    workdir.write_config(SOURCES, subscriber("alice", "narwhal"))

    digestbot(workdir, "send", "--force")
    digestbot(workdir, "send", "--force")  # and once only

    assert [sorted(ids) for ids in arxiv_ids(smtp_server, "alice")] == [["2403.10001", "2403.10009"]]


def test_a_digest_that_may_have_arrived_keeps_its_papers_when_cancelled(workdir, smtp_server):
    # One whose outcome is unknown (an attempt began and was never recorded) may be in the
    # reader's inbox: cancelling it gives nothing back, so nothing comes twice.
    _a_digest_waiting_for_a_retry(workdir, smtp_server)
    with Store(workdir.db) as store:
        (pending,) = store.digests()
        store.begin_attempt(pending.id, datetime.now(UTC))  # a crash mid-send, as kill -9 leaves it
        store.set_paused("alice", True)
        store.set_paused("alice", False)

    digestbot(workdir, "send", "--force")

    assert arxiv_ids(smtp_server, "alice") == []
