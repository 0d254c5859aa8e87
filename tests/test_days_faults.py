"""Faults in what a reader gets over days: a first digest after an old paper was revised, a
paper one source reported before the reader's own source did, and the Hugging Face lists of the
days the worker was down. Each runs the real CLI on SQLite and PostgreSQL and checks the mail
that arrived at a real SMTP server (aiosmtpd on loopback).
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from http.server import BaseHTTPRequestHandler
from urllib.parse import parse_qs, urlsplit

import pytest
from helpers import SOURCES, FeedPaper, digestbot, http_server, raw_sql, subscriber, write_feed
from test_trending import hf_item, person

from digestbot.models import Paper
from digestbot.store import Store

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
