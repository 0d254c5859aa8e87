"""Trending digests and per-subscriber sources, end to end.

The Hugging Face daily list is served by a real HTTP server on loopback whose answer the test
changes between runs (upvotes move during the day); an arXiv listing is a local file; digests go
over SMTP to aiosmtpd and the tests read which papers arrived, in which order.
"""

from __future__ import annotations

import json
import re
import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler
from urllib.parse import parse_qs, urlsplit

import pytest
from helpers import FeedPaper, digestbot, http_server, ledger, write_feed

from digestbot.store import Store

AGENTS = "We build language agents that plan over tools and check their own steps."
OTHER = "We study the loss landscape of wide networks trained with large learning rates."


def hf_item(aid: str, title: str, summary: str, upvotes: int) -> dict:
    return {
        "paper": {
            "id": aid,
            "title": title,
            "summary": summary,
            "upvotes": upvotes,
            "authors": [{"name": "Ada Lovelace"}],
            "githubRepo": f"https://github.com/example/{aid}",
        },
        "numComments": 1,
        "thumbnail": f"https://cdn-thumbnails.huggingface.co/social-thumbnails/papers/{aid}.png",
    }


class HfList:
    """The daily list the server answers with, and how many times it was asked. `days`: the
    list of a `?date=` (none given: `items`, the current list); `asked`: the dates asked for,
    in order (None: the current list); a date in `failing` answers 503."""

    def __init__(self) -> None:
        self.items: list[dict] = []
        self.requests = 0
        self.status = 200
        self.days: dict[str, list[dict]] = {}
        self.asked: list[str | None] = []
        self.failing: set[str] = set()

    def set(self, **upvotes: int) -> None:
        """`set(A=50, B=40)`: the list holds these papers (see PAPERS) with these upvotes."""
        self.items = [hf_item(*PAPERS[name], votes) for name, votes in upvotes.items()]


PAPERS = {  # name -> (arXiv id, title, summary)
    "A": ("2501.00001", "Agents That Plan With Tools", AGENTS),
    "B": ("2501.00002", "Wide Networks at Large Learning Rates", OTHER),
    "C": ("2501.00003", "Self-Checking Language Agents", AGENTS),
    "D": ("2501.00004", "Sharpness and Width", OTHER),
    "E": ("2501.00005", "Cheap Agents for Web Tasks", AGENTS),
    "F": ("2501.00006", "Agents in the Loop", AGENTS),
}
NAMES = {aid: name for name, (aid, _, _) in PAPERS.items()}


@pytest.fixture
def hf() -> Iterator[tuple[HfList, str]]:
    listing = HfList()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            listing.requests += 1
            day = parse_qs(urlsplit(self.path).query).get("date", [None])[0]
            listing.asked.append(day)
            body = json.dumps(listing.items if day is None else listing.days.get(day, [])).encode()
            self.send_response(503 if day in listing.failing else listing.status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    with http_server(Handler) as url:
        yield listing, f"{url}/api/daily_papers"


def sources_yaml(hf_url: str) -> str:
    return f"""
- name: hf-daily
  type: hf_daily
  url: {hf_url}
- name: feed
  type: arxiv_rss
  url: feed.xml
"""


def person(sid: str, extra: str) -> str:
    later = f"{datetime.now(UTC) + timedelta(hours=12):%H:%M}"
    return f"- id: {sid}\n  email: {sid}@example.org\n  schedule: daily {later}\n" + "".join(
        f"  {line}\n" for line in extra.strip().splitlines()
    )


def received(smtp_server, sid: str) -> list[list[str]]:
    """For each digest `sid` received, the papers (by name) in the order the mail lists them."""
    digests = []
    for mail in smtp_server.to(f"{sid}@example.org"):
        text = mail.message.get_body(("plain",)).get_content()
        ids = dict.fromkeys(re.findall(r"arxiv\.org/abs/(\d{4}\.\d{5})", text))
        digests.append([NAMES.get(aid, aid) for aid in ids])
    return digests


def fetched_an_hour_ago(workdir) -> None:
    """As if the last fetch were an hour old (the refresh skips a source fetched minutes ago)."""
    hour_ago = (datetime.now(UTC) - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    with sqlite3.connect(workdir.db) as conn:
        conn.execute("UPDATE sources SET last_fetch_at = ?", (hour_ago,))


def fetched(workdir, hf, subscribers: str, smtp_server=None, **upvotes: int) -> HfList:
    """Config with `subscribers`, an empty arXiv listing, the HF list holding `upvotes`, fetched
    once; mail to `smtp_server` if given (else the outbox). Returns the list to change it."""
    listing, url = hf
    write_feed(workdir.path / "feed.xml", [])
    if smtp_server is not None:
        workdir.use_smtp(smtp_server.url)
    workdir.write_config(sources_yaml(url), subscribers)
    listing.set(**upvotes)
    digestbot(workdir, "fetch")
    return listing


def test_trending_sends_the_most_upvoted_unreceived_papers_ranked_at_send_time(workdir, smtp_server, hf):
    subscribers = person("top", "trending: 2") + person("agents", "trending: 2\nkeywords: [agents]")
    listing = fetched(workdir, hf, subscribers, smtp_server, A=50, B=40, C=30, D=20, E=10)
    fetched_an_hour_ago(workdir)
    listing.set(A=50, B=100, C=30, D=5, E=10)  # upvotes moved since the fetch

    result = digestbot(workdir, "send")

    assert listing.requests == 2  # re-fetched before the trending digests, once for both
    assert "refetched hf-daily: 0 new, 5 already known" in result.output
    assert received(smtp_server, "top") == [["B", "A"]]  # by the upvotes at send time
    assert received(smtp_server, "agents") == [["A", "C"]]  # the 2 most upvoted agent papers

    # The next day: D climbed past everything, F is new. D was passed over yesterday and comes
    # now; nothing already received comes again.
    fetched_an_hour_ago(workdir)
    listing.set(B=120, D=200, F=60, C=31, E=10)
    digestbot(workdir, "send", "--force")

    assert received(smtp_server, "top") == [["B", "A"], ["D", "F"]]
    assert received(smtp_server, "agents") == [["A", "C"], ["F", "E"]]
    with Store(workdir.db) as store:
        for sid in ("top", "agents"):
            got = [
                it.paper.arxiv_id for d in store.digests(subscriber_id=sid) for it in store.digest_items(d.id)
            ]
            assert len(got) == len(set(got)) == 4  # none twice
        d = store.paper(f"arxiv:{PAPERS['D'][0]}")
        assert (d.upvotes, d.rev, d.revised) == (200, 4, False)  # re-fetches made nothing new
        assert d.github_url == f"https://github.com/example/{PAPERS['D'][0]}"


def test_a_failed_send_loses_nothing_and_the_retry_sends_the_same_papers(workdir, smtp_server, hf):
    listing = fetched(workdir, hf, person("top", "trending: 2"), smtp_server, A=50, B=40, C=30)
    smtp_server.refuse_next(1)

    digestbot(workdir, "send", expect=1)
    listing.set(A=50, B=40, C=300)
    fetched_an_hour_ago(workdir)
    digestbot(workdir, "send", "--force")

    # The retry sends the digest as recorded (C's new count changes nothing in it); then, due
    # again, the subscriber gets C, which was passed over and is now on top.
    assert received(smtp_server, "top") == [["A", "B"], ["C"]]
    assert [d.status for d in ledger(workdir.db)] == ["sent", "sent"]


def test_trending_digests_reach_back_a_week_but_not_before_the_subscriber(workdir, smtp_server, hf):
    fetched(workdir, hf, person("top", "trending: 5"), smtp_server, A=50, B=40)
    with sqlite3.connect(workdir.db) as conn:  # A was last listed 30 hours ago
        old = (datetime.now(UTC) - timedelta(hours=30)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        conn.execute("UPDATE papers SET listed_at = ? WHERE arxiv_id = ?", (old, PAPERS["A"][0]))
    digestbot(workdir, "send")
    assert received(smtp_server, "top") == [["B"]]  # a first digest reaches back one day


def test_sources_limit_what_feeds_a_digest(workdir, smtp_server, hf):
    listing, url = hf
    write_feed(
        workdir.path / "feed.xml",
        [FeedPaper("2501.00009", "Agents From the arXiv Listing", AGENTS), FeedPaper(*PAPERS["C"])],
    )
    workdir.use_smtp(smtp_server.url)
    workdir.write_config(
        sources_yaml(url),
        person("hfonly", "keywords: [agents]\nsources: [hf-daily]")
        + person("feedonly", "keywords: [agents]\nsources: [feed]")
        + person("all", "keywords: [agents]"),
    )
    listing.set(A=50, B=40)

    digestbot(workdir, "run", "--once")

    assert [sorted(d) for d in received(smtp_server, "hfonly")] == [["A"]]
    assert [sorted(d) for d in received(smtp_server, "feedonly")] == [["2501.00009", "C"]]
    assert [sorted(d) for d in received(smtp_server, "all")] == [["2501.00009", "A", "C"]]


def test_preview_json_of_a_trending_digest_keeps_its_shape(workdir, hf):
    fetched(workdir, hf, person("top", "trending: 2"), A=50, B=40, C=30)

    result = digestbot(workdir, "preview", "top", "--format", "json")

    ranking = json.loads(result.output)
    assert set(ranking) == {"subscriber", "total", "papers"}
    assert (ranking["subscriber"], ranking["total"]) == ("top", 3)
    assert [p["arxiv_id"] for p in ranking["papers"]] == [PAPERS["A"][0], PAPERS["B"][0]]
    assert {"key", "arxiv_id", "title", "score", "why"} <= set(ranking["papers"][0])
    assert ranking["papers"][0]["why"] == ["trending on Hugging Face"]


def test_a_failed_refetch_sends_by_the_counts_of_the_last_fetch(workdir, smtp_server, hf):
    listing = fetched(workdir, hf, person("top", "trending: 2"), smtp_server, A=50, B=40, C=30)
    fetched_an_hour_ago(workdir)
    listing.set(A=5, B=40, C=30)
    listing.status = 503

    result = digestbot(workdir, "send")

    assert (
        "refetched hf-daily: FAILED: HTTP 503 Service Unavailable: the server failed; the next fetch tries again (trending digests use the counts of the last fetch)"
        in (result.output)
    )
    assert received(smtp_server, "top") == [["A", "B"]]


def test_the_ai_summary_reaches_the_mail_only_of_a_reader_who_asked_for_it(workdir, smtp_server, hf):
    subscribers = person("asked", "trending: 1\nshow_ai_summary: true") + person("plain", "trending: 1")
    listing = fetched(workdir, hf, subscribers, smtp_server, A=50)
    listing.items[0]["paper"]["ai_summary"] = "Robots plan with tools & <check> their steps."
    fetched_an_hour_ago(workdir)

    digestbot(workdir, "send")

    [asked], [plain] = smtp_server.to("asked@example.org"), smtp_server.to("plain@example.org")
    html = asked.message.get_body(("html",)).get_content()
    assert "Robots plan with tools &amp; &lt;check&gt; their steps." in html
    assert "AI summary: Robots plan" in asked.message.get_body(("plain",)).get_content()
    assert "Robots plan" not in plain.message.as_string()
    decoded = (
        plain.message.get_body(("plain",)).get_content() + plain.message.get_body(("html",)).get_content()
    )
    assert "Robots plan" not in decoded  # the parts as read: the HTML one is base64 on the wire
