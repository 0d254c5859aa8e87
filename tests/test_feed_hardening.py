"""Hardening, round 2 (issue 9), the source side: what a feed brings in, checked in the store.

Feeds are served by `responses` or by a real HTTP server on loopback; every check reads what
arrived in the database (or what the parser returned), not what was called.
"""

from __future__ import annotations

import contextlib
import json
import logging
import re
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest
import responses
import test_hostile
from helpers import http_server
from test_hostile import client

from digestbot import collect
from digestbot.config import SourceConfig
from digestbot.store import Store

# feedparser warns about its own updated_parsed/published_parsed fallback on items without dates.
pytestmark = pytest.mark.filterwarnings("ignore:To avoid breaking existing software:DeprecationWarning")

FEED_URL = "https://blog.example.org/feed/rss.xml"
HF_URL = "https://huggingface.co/api/daily_papers"
API_URL = "https://export.arxiv.org/api/query"


def source(
    kind: str = "rss", url: str | None = FEED_URL, path: Path | None = None, name: str = "src", **kw
) -> SourceConfig:
    return SourceConfig(name=name, type=kind, url=None if path else url, path=path, every=3600, **kw)


# Fixtures shared with the hostile-input tests: a Store in tmp_path, and `responses`.
store = test_hostile.store
mocked = test_hostile.mocked


@pytest.fixture
def http(mocked: responses.RequestsMock) -> responses.RequestsMock:
    return mocked


def rss(*items: str, channel: str = "") -> bytes:
    return (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>t</title>'
        f"{channel}{''.join(items)}</channel></rss>"
    ).encode()


def item(guid: str = "", title: str = "A title", description: str = "Some text.", extra: str = "") -> str:
    g = f'<guid isPermaLink="false">{guid}</guid>' if guid else ""
    return f"<item><title>{title}</title><description>{description}</description>{g}{extra}</item>"


def fetch_into(
    store: Store, http, body: bytes, src: SourceConfig | None = None, **kw
) -> collect.SourceOutcome:
    src = src or source()
    http.get(src.url, body=body, **kw)
    return collect.fetch_one(store, src, client())


def stored(store: Store) -> dict:
    """The stored papers by their guid as the feed wrote it (the store keys a guid that is not a
    URI within its source: `g1` from source `src` is `guid:src:g1`)."""
    return {re.sub(r"^guid:[^:]+:", "", p.key): p for p in store.papers_after(0)}


def links_in(store: Store) -> dict[str, str]:
    return {k: p.link for k, p in stored(store).items()}


# --- 1. implausible dates ----------------------------------------------------------------------

SOON = datetime.now(UTC) + timedelta(days=1)


@pytest.mark.parametrize(
    ("date", "expected"),
    [
        ("Thu, 14 Mar 0999 00:00:00 +0000", None),
        ("Mon, 01 Jan 0001 00:00:00 GMT", None),
        ("Sun, 31 Dec 1989 23:59:59 GMT", None),
        ("Mon, 01 Jan 1990 00:00:00 GMT", datetime(1990, 1, 1, tzinfo=UTC)),
        ("Thu, 14 Mar 2024 00:00:00 -0400", datetime(2024, 3, 14, 4, tzinfo=UTC)),
        (f"{SOON:%a, %d %b %Y} 00:00:00 GMT", SOON.replace(hour=0, minute=0, second=0, microsecond=0)),
        ("Thu, 14 Mar 2999 00:00:00 +0000", None),
    ],
)
def test_rss_dates_before_1990_or_in_the_future_are_unknown(store, http, date, expected):
    fetch_into(store, http, rss(item("g1", extra=f"<pubDate>{date}</pubDate>")))
    assert stored(store)["g1"].published == expected


def test_atom_and_arxiv_api_dates_before_1990_are_unknown(store, http):
    atom = (
        b'<?xml version="1.0"?><feed xmlns="http://www.w3.org/2005/Atom"><title>t</title>'
        b"<entry><id>http://arxiv.org/abs/2403.20001v1</id><title>Old</title><summary>x</summary>"
        b"<published>0500-01-01T00:00:00Z</published><updated>0600-01-01T00:00:00Z</updated></entry>"
        b"<entry><id>http://arxiv.org/abs/2403.20002v1</id><title>Fallback</title><summary>x</summary>"
        b"<published>0999-01-01T00:00:00Z</published><updated>2024-03-13T17:59:59Z</updated></entry>"
        b"</feed>"
    )
    http.get(API_URL, body=atom)
    outcome = collect.fetch_one(store, source("arxiv_api", API_URL, query="cat:cs.LG"), client())
    assert outcome.ok, outcome.error
    papers = stored(store)
    assert papers["arxiv:2403.20001"].published is None
    assert papers["arxiv:2403.20002"].published == datetime(2024, 3, 13, 17, 59, 59, tzinfo=UTC)


def hf_item(aid: str, **paper) -> dict:
    return {"paper": {"id": aid, "title": f"Paper {aid}", "summary": "text", **paper}}


def test_hf_dates_before_1990_are_unknown_and_naive_dates_are_utc(store, http):
    items = [
        hf_item("2501.50001", publishedAt="0999-01-01T00:00:00Z"),
        hf_item("2501.50002", publishedAt="2024-03-14T10:00:00"),  # no offset: UTC
        hf_item("2501.50003", publishedAt="1970-01-01T00:00:00Z"),
        hf_item("2501.50004", publishedAt="2999-01-01T00:00:00+02:00"),
        hf_item("2501.50005", publishedAt="2024-03-14T12:00:00+02:00"),
    ]
    outcome = fetch_into(store, http, json.dumps(items).encode(), source("hf_daily", HF_URL))
    assert outcome.ok and outcome.new == 5, outcome
    papers = stored(store)
    assert papers["arxiv:2501.50001"].published is None
    assert papers["arxiv:2501.50002"].published == datetime(2024, 3, 14, 10, tzinfo=UTC)
    assert papers["arxiv:2501.50003"].published is None
    assert papers["arxiv:2501.50004"].published is None
    assert papers["arxiv:2501.50005"].published == datetime(2024, 3, 14, 10, tzinfo=UTC)


def test_plausible_datetime_is_the_one_rule():
    from digestbot.sources.base import plausible_datetime

    assert plausible_datetime(None) is None
    assert plausible_datetime(datetime(2024, 1, 1)) == datetime(2024, 1, 1, tzinfo=UTC)
    assert plausible_datetime(datetime(2024, 1, 1)).tzinfo is UTC
    assert plausible_datetime(datetime(1, 1, 1)) is None
    assert plausible_datetime(datetime(9999, 12, 31, tzinfo=UTC)) is None
    # an aware datetime near the lower edge: compared in UTC, and returned in UTC
    from datetime import timezone

    east = timezone(timedelta(hours=5))
    assert plausible_datetime(datetime(1990, 1, 1, 3, tzinfo=east)) is None
    assert plausible_datetime(datetime(1990, 1, 1, 6, tzinfo=east)) == datetime(1990, 1, 1, 1, tzinfo=UTC)


# --- 2. out-of-range numbers in the HF list -----------------------------------------------------


@pytest.mark.parametrize(
    "raw",
    [
        "1000000000000000000000000000000",  # 10^30
        "-3",
        "2147483648",  # 2^31
        "4.5",
        '"12"',
        "1e400",  # a float that overflows to infinity
        "-1e400",
        "NaN",
        "9" * 5000,  # more digits than Python's int() accepts by default
    ],
)
def test_one_out_of_range_hf_number_keeps_every_other_item(store, http, raw):
    good = json.dumps(hf_item("2501.50001", upvotes=42), separators=(",", ":"))
    bad = (
        '{"paper":{"id":"2501.50002","title":"Bad numbers","summary":"t",'
        f'"upvotes":{raw}}},"numComments":{raw}}}'
    )
    body = f"[{good},{bad}]".encode()
    outcome = fetch_into(store, http, body, source("hf_daily", HF_URL))
    assert outcome.ok, outcome.error
    papers = stored(store)
    assert papers["arxiv:2501.50001"].upvotes == 42
    assert papers["arxiv:2501.50002"].upvotes is None
    assert papers["arxiv:2501.50002"].title == "Bad numbers"


def test_the_largest_plausible_upvote_count_is_kept(store, http):
    items = [hf_item("2501.50001", upvotes=2**31 - 1), hf_item("2501.50002", upvotes=0)]
    fetch_into(store, http, json.dumps(items).encode(), source("hf_daily", HF_URL))
    papers = stored(store)
    assert (papers["arxiv:2501.50001"].upvotes, papers["arxiv:2501.50002"].upvotes) == (2**31 - 1, 0)


# --- 3. undefined entities: read, with a warning; truncation and DTDs still refused -------------

ENTITY_ITEMS = (
    item(
        "g1", "Caf&eacute; and na&iuml;ve&nbsp;models", "A&nbsp;text with &eacute; and &hellip; and &mdash;."
    ),
    item("g2", "Second", "Plain text &amp; more."),
)


def test_a_feed_with_html_entities_and_no_dtd_is_read_with_a_warning(store, http, caplog):
    with caplog.at_level(logging.WARNING, logger="digestbot.collect"):
        outcome = fetch_into(store, http, rss(*ENTITY_ITEMS))
    assert outcome.ok, outcome.error
    papers = stored(store)
    assert papers["g1"].title == "Café and naïve models"  # &nbsp; is a space, &eacute; é
    assert papers["g1"].abstract == "A text with é and … and —."
    assert papers["g2"].abstract == "Plain text & more."
    assert outcome.warnings and "undefined entities" in outcome.warnings[0]
    assert "&nbsp;" in outcome.warnings[0] and "&eacute;" in outcome.warnings[0]
    assert any(
        "undefined entities" in r.getMessage() and r.levelno == logging.WARNING for r in caplog.records
    )


def test_an_unknown_entity_name_arrives_as_text():
    from digestbot.sources.base import parse_feed

    parsed = parse_feed(rss(item("g1", "Fish &chips; x", "y")))
    assert parsed.entries[0].title == "Fish &chips; x"
    assert "&chips;" in parsed.warnings[0]


def test_entities_inside_cdata_are_left_to_the_html_reader(store, http):
    body = rss(item("g1", "t", "<![CDATA[<p>a&nbsp;b &eacute;</p>]]>"))
    assert fetch_into(store, http, body).ok
    assert stored(store)["g1"].abstract == "a b é"


@pytest.mark.parametrize("cut", [40, 80, 200], ids=["in-entity-item", "mid-tag", "late"])
def test_a_truncated_feed_with_entities_still_stores_nothing(store, http, cut):
    body = rss(*ENTITY_ITEMS, item("g3", "Third", "more &nbsp; text"))
    body = body[: body.index(b"<item>") + cut] if cut < 200 else body[:-30]
    outcome = fetch_into(store, http, body)
    assert outcome.error is not None and outcome.error.startswith("malformed feed"), outcome.error
    assert store.count_papers() == 0


def test_entity_declarations_are_still_refused(store, http):
    body = b'<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY nbsp "&#160;">]>' + rss(*ENTITY_ITEMS)[21:]
    outcome = fetch_into(store, http, body)
    assert outcome.error is not None and "entities" in outcome.error
    assert store.count_papers() == 0


def test_a_wrongly_declared_encoding_is_read_with_a_warning(store, http):
    body = rss(item("g1", "Caf\u00e9 society", "Na\u00efve text.")).replace(b"utf-8", b"us-ascii")
    outcome = fetch_into(store, http, body)
    assert outcome.ok and stored(store)["g1"].title == "Café society"
    assert any("declared as us-ascii" in w for w in outcome.warnings), outcome.warnings


def test_a_clean_feed_has_no_warnings(store, http):
    outcome = fetch_into(store, http, rss(item("g1")))
    assert outcome.ok and outcome.warnings == ()


def test_fetch_prints_the_warning_under_the_source(workdir):
    from helpers import digestbot, subscriber

    (workdir.path / "feed.xml").write_bytes(rss(*ENTITY_ITEMS))
    workdir.write_config("- name: blog\n  type: rss\n  url: feed.xml\n", subscriber("alice", "models"))
    out = digestbot(workdir, "fetch").output
    assert "blog: 2 new, 0 already known\n    warning: undefined entities read as HTML would (&eacute;" in out


# --- 5. relative links and identifiers that are not links ---------------------------------------


def links_item(guid: str, link: str = "", permalink: bool = False, extra: str = "") -> str:
    g = f'<guid isPermaLink="{str(permalink).lower()}">{guid}</guid>' if guid else ""
    li = f"<link>{link}</link>" if link else ""
    return f"<item><title>Post {guid or link}</title><description>x</description>{g}{li}{extra}</item>"


def test_relative_links_resolve_against_the_feed_url_and_ids_are_never_links(store, http):
    body = rss(
        links_item("g1", "/posts/1"),
        links_item("g2", "2024/post-2.html"),
        links_item("urn:uuid:0b6f0a5e-3c5e-4f6e-9a7e-1d2c3b4a5f60"),
        links_item("12345", permalink=True),  # a number as a "permalink"
        links_item("urn:isbn:0451450523", permalink=True),
        links_item("g6", "javascript:alert(1)"),
        links_item("g7", "https://elsewhere.example/p/7"),
        links_item("g8", "//cdn.example.org/p/8"),
        links_item("https://blog.example.org/p/9", permalink=True),
        links_item("/p/10", permalink=True),  # a relative permalink guid: a path, resolved
    )
    assert fetch_into(store, http, body).ok
    assert links_in(store) == {
        "g1": "https://blog.example.org/posts/1",
        "g2": "https://blog.example.org/feed/2024/post-2.html",
        "urn:uuid:0b6f0a5e-3c5e-4f6e-9a7e-1d2c3b4a5f60": "",
        "12345": "",
        "urn:isbn:0451450523": "",
        "g6": "",
        "g7": "https://elsewhere.example/p/7",
        "g8": "https://cdn.example.org/p/8",
        "https://blog.example.org/p/9": "https://blog.example.org/p/9",
        "/p/10": "https://blog.example.org/p/10",
    }


def test_relative_links_resolve_against_the_url_after_redirects(store, http):
    http.get(FEED_URL, status=301, headers={"Location": "https://cdn.example.net/feeds/all.xml"})
    http.get("https://cdn.example.net/feeds/all.xml", body=rss(links_item("g1", "posts/1")))
    assert collect.fetch_one(store, source(), client()).ok
    assert stored(store)["g1"].link == "https://cdn.example.net/feeds/posts/1"


def test_xml_base_is_honoured(store, http):
    body = (
        b'<?xml version="1.0"?><feed xmlns="http://www.w3.org/2005/Atom" xml:base="https://x.example/blog/">'
        b"<title>t</title>"
        b'<entry xml:base="2024/"><id>urn:1</id><title>a</title><link href="p1.html"/></entry>'
        b'<entry><id>urn:2</id><title>b</title><link href="/top.html"/></entry>'
        b'<entry xml:base="sub/"><id>urn:3</id><title>c</title><link href="p3"/></entry>'
        b"</feed>"
    )
    assert fetch_into(store, http, body).ok
    assert links_in(store) == {
        "urn:1": "https://x.example/blog/2024/p1.html",
        "urn:2": "https://x.example/top.html",
        "urn:3": "https://x.example/blog/sub/p3",
    }


def test_a_relative_xml_base_resolves_against_the_feed_url(store, http):
    body = (
        b'<?xml version="1.0"?><feed xmlns="http://www.w3.org/2005/Atom" xml:base="/news/">'
        b'<title>t</title><entry><id>urn:1</id><title>a</title><link href="p1"/></entry></feed>'
    )
    assert fetch_into(store, http, body).ok
    assert stored(store)["urn:1"].link == "https://blog.example.org/news/p1"


def test_relative_links_in_a_local_file_stay_empty(store, tmp_path):
    path = tmp_path / "feed.xml"
    path.write_bytes(rss(links_item("g1", "/posts/1"), links_item("g2", "https://blog.example.org/p/2")))
    assert collect.fetch_one(store, source(path=path), client()).ok
    assert links_in(store) == {"g1": "", "g2": "https://blog.example.org/p/2"}


def test_fetched_carries_the_final_url(http):
    http.get(FEED_URL, status=302, headers={"Location": "https://cdn.example.net/f.xml"})
    http.get("https://cdn.example.net/f.xml", body=rss())
    assert client().get(FEED_URL).url == "https://cdn.example.net/f.xml"


# --- 6. leftovers: escaped HTML in text, content without a summary, items without ids -----------

CONTENT_NS = 'xmlns:content="http://purl.org/rss/1.0/modules/content/"'


def rss_ns(*items: str) -> bytes:
    return rss(*items).replace(b'<rss version="2.0">', f'<rss version="2.0" {CONTENT_NS}>'.encode())


def test_double_escaped_html_left_in_an_abstract_is_cleaned(store, http):
    body = rss(
        item(
            "g1",
            description="One.&amp;lt;br /&amp;gt;Two &amp;amp;nbsp;three.&amp;lt;p&amp;gt;Four.&amp;lt;/p&amp;gt;",
        ),
        item("g2", description="A&amp;nbsp;B &amp;amp; C &amp;#233;"),
        item("g3", description="x &amp;lt; y and y &amp;gt; z, as text."),
    )
    assert fetch_into(store, http, body).ok
    papers = stored(store)
    assert papers["g1"].abstract == "One.\n\nTwo three.\n\nFour."
    assert papers["g2"].abstract == "A B & C é"
    assert papers["g3"].abstract == "x < y and y > z, as text."


def test_markup_in_a_text_summary_is_cleaned(store, http):
    body = (
        b'<?xml version="1.0"?><feed xmlns="http://www.w3.org/2005/Atom"><title>t</title>'
        b'<entry><id>urn:1</id><title type="text">x &lt; y and y &gt; z</title>'
        b'<summary type="text">First.&lt;br/&gt;Second &amp;nbsp;&lt;p&gt;Third&lt;/p&gt;</summary></entry>'
        b'<entry><id>urn:2</id><title type="text">The &lt;b&gt; tag, and &lt;p&gt; too</title>'
        b'<summary type="text">About the &lt;b&gt; tag.</summary></entry>'
        b"</feed>"
    )
    assert fetch_into(store, http, body).ok
    papers = stored(store)
    assert papers["urn:1"].title == "x < y and y > z"
    assert papers["urn:1"].abstract == "First.\n\nSecond\n\nThird"
    assert papers["urn:2"].title == "The <b> tag, and <p> too"  # titles are titles: left alone
    assert papers["urn:2"].abstract == "About the <b> tag."  # no paragraph markup: left alone


@pytest.mark.parametrize(
    "summary",
    [
        "",
        "   ",
        "Full text of the post, in which",
        "Full text of the post, in which...",
        "Full text of the post [&#8230;]",
    ],
    ids=["empty", "blank", "prefix", "dots", "ellipsis"],
)
def test_full_content_is_used_when_the_summary_is_empty_or_cut(store, http, summary):
    content = "<content:encoded><![CDATA[<p>Full text of the post, in which we explain.</p><p>More.</p>]]></content:encoded>"
    assert fetch_into(store, http, rss_ns(item("g1", description=summary, extra=content))).ok
    assert stored(store)["g1"].abstract == "Full text of the post, in which we explain.\n\nMore."


def test_a_real_summary_is_kept_over_the_content(store, http):
    content = "<content:encoded><![CDATA[<p>The long article.</p>]]></content:encoded>"
    assert fetch_into(store, http, rss_ns(item("g1", description="A short teaser.", extra=content))).ok
    assert stored(store)["g1"].abstract == "A short teaser."


def test_items_without_guid_or_link_are_keyed_by_their_content(store, http):
    body = rss(
        "<item><title>Untracked news</title><description>Some text.</description></item>",
        "<item><title>Only a title</title></item>",
        "<item><description>Only a text.</description></item>",
        "<item><title> </title><description> </description></item>",
    )
    first = fetch_into(store, http, body)
    assert first.ok and first.new == 3 and first.skipped == 1
    keys = sorted(stored(store))
    assert all(k.startswith("sha1:") for k in keys)
    assert stored(store)[keys[0]].link == ""
    http.get(FEED_URL, body=body.replace(b"Untracked news", b"Untracked  news"))  # white space only
    again = collect.fetch_one(store, source(), client())
    assert (again.new, again.known) == (0, 3)


# --- 7. JSON Feed ---------------------------------------------------------------------------------


def json_feed(*items: dict, version: str = "https://jsonfeed.org/version/1.1", **top) -> bytes:
    return json.dumps({"version": version, "title": "Blog", **top, "items": list(items)}).encode()


JSON_ITEMS = (
    {
        "id": "https://blog.example.org/posts/1",
        "url": "https://blog.example.org/posts/1",
        "title": "Diffusion policies, explained",
        "content_html": "<p>We read <em>Diffusion Policy</em>.</p><p>Then&nbsp;more.</p>",
        "summary": "We read",
        "date_published": "2024-03-14T09:30:00+01:00",
        "authors": [{"name": "Zo\u00eb M\u00fcller"}, {"url": "https://x"}, "nobody"],
        "tags": ["robots", 5, "", "imitation learning"],
    },
    {
        "id": "urn:uuid:1",
        "content_text": "A note without a title or a link.",
        "date_published": "0999-01-01T00:00:00Z",
    },
    {"id": "2", "url": "/posts/2", "title": "Relative", "content_text": "x"},
    {"id": 3, "title": "Number id", "summary": "s", "author": {"name": "Ada Lovelace"}},  # version 1 style
    {"id": "a", "url": "https://arxiv.org/abs/2403.20001v2", "title": "An arXiv paper", "content_text": "x"},
    {"id": "b", "external_url": "javascript:alert(1)", "title": "Bad link", "content_text": "x"},
    {"title": "No id at all", "content_text": "Keyed by content."},
    {"id": "empty"},
    "not an item",
)


def test_a_json_feed_is_read_by_an_rss_source(store, http):
    outcome = fetch_into(store, http, json_feed(*JSON_ITEMS), content_type="application/feed+json")
    assert outcome.ok, outcome.error
    papers = stored(store)
    first = papers["https://blog.example.org/posts/1"]
    assert first.title == "Diffusion policies, explained"
    assert first.abstract == "We read Diffusion Policy.\n\nThen more."  # the summary was its start
    assert first.authors == ("Zo\u00eb M\u00fcller",)
    assert first.categories == ("robots", "imitation learning")
    assert first.published == datetime(2024, 3, 14, 8, 30, tzinfo=UTC)
    assert first.link == "https://blog.example.org/posts/1"
    note = papers["urn:uuid:1"]
    assert (note.display_title, note.abstract, note.link, note.published) == (
        "(untitled)",
        "A note without a title or a link.",
        "",
        None,
    )
    assert papers["2"].link == "https://blog.example.org/posts/2"
    assert papers["3"].authors == ("Ada Lovelace",) and papers["3"].abstract == "s"
    arxiv = papers["arxiv:2403.20001"]
    assert (arxiv.arxiv_id, arxiv.link, arxiv.pdf_url) == (
        "2403.20001",
        "https://arxiv.org/abs/2403.20001v2",  # the feed's own link, as for RSS items
        "https://arxiv.org/pdf/2403.20001",
    )
    assert papers["b"].link == ""
    assert any(k.startswith("sha1:") for k in papers)
    assert len(papers) == 7 and outcome.skipped == 2  # "empty" has nothing to show; a string is no item


def test_json_feed_version_1_is_read(store, http):
    body = json_feed(
        {"id": "1", "title": "Old style", "content_text": "x"}, version="https://jsonfeed.org/version/1"
    )
    assert fetch_into(store, http, body).ok
    assert stored(store)["1"].title == "Old style"


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b'{"posts": []}', "a JSON document, not an RSS/Atom or JSON Feed"),
        (b"[1, 2, 3]", "a JSON document, not an RSS/Atom or JSON Feed"),
        (b'{"version": "https://jsonfeed.org/version/1.1", "items": {}}', "malformed JSON Feed"),
        (json_feed(*JSON_ITEMS)[:-40], "not JSON"),  # cut short: nothing of it lands
        (b"[" * 100_000, "not JSON"),
    ],
    ids=["object", "array", "items-not-a-list", "truncated", "nested"],
)
def test_what_is_not_a_whole_json_feed_fails_the_source(store, http, body, message):
    outcome = fetch_into(store, http, body)
    assert outcome.error is not None and outcome.error.startswith(message), outcome.error
    assert store.count_papers() == 0


def test_json_feed_limits_match_rss(store, http):
    from digestbot.sources.base import MAX_ABSTRACT, MAX_ENTRIES

    huge = {"id": "h", "title": "Huge", "content_text": "word " * (MAX_ABSTRACT // 2)}
    assert fetch_into(store, http, json_feed(huge)).ok
    assert len(stored(store)["h"].abstract) == MAX_ABSTRACT
    many = json_feed(*({"id": str(i), "title": "t"} for i in range(MAX_ENTRIES + 1)))
    http.get(FEED_URL, body=many)
    outcome = collect.fetch_one(store, source(), client())
    assert outcome.error == f"feed has {MAX_ENTRIES + 1} entries; at most {MAX_ENTRIES} are accepted"


# --- 8. a total deadline per fetch, cancellation, and documents too costly to parse -------------


@contextlib.contextmanager
def slow_server(interval: float = 0.2, silent_after: int | None = None) -> Iterator[str]:
    """A local HTTP server: `/trickle` sends a feed one byte every `interval` seconds (never long
    enough for a read timeout), or goes silent after `silent_after` bytes; `/feed` answers at once."""
    stop = threading.Event()
    body = rss(item("g1"), item("g2")) * 100

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200)
            self.send_header("Content-Type", "application/rss+xml")
            if self.path == "/feed":
                good = rss(item("ok1"))
                self.send_header("Content-Length", str(len(good)))
                self.end_headers()
                self.wfile.write(good)
                return
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            with contextlib.suppress(OSError):
                for n, byte in enumerate(body):
                    if stop.is_set():
                        return
                    if silent_after is not None and n >= silent_after:
                        stop.wait(30)
                        return
                    self.wfile.write(bytes([byte]))
                    self.wfile.flush()
                    stop.wait(interval)

        def log_message(self, *args):
            pass

    try:
        with http_server(Handler) as root:
            yield root
    finally:
        stop.set()


@pytest.mark.parametrize("silent_after", [None, 10], ids=["trickling", "silent"])
def test_a_slow_server_fails_at_the_deadline_and_the_next_source_still_runs(store, silent_after):
    with slow_server(silent_after=silent_after) as root:
        slow = source(url=f"{root}/trickle", name="slow", timeout=2)
        good = source(url=f"{root}/feed", name="good")
        started = time.monotonic()
        outcomes = collect.fetch_all(store, [slow, good], client())
        slow_took = outcomes[0].seconds
    assert "deadline" in (outcomes[0].error or ""), outcomes[0]
    assert "2 s" in outcomes[0].error and "timeout:" in outcomes[0].error  # names the fix
    assert slow_took < 2 + 2, slow_took
    assert time.monotonic() - started < 2 + 4
    assert outcomes[1].ok and outcomes[1].new == 1
    assert store.source_state("slow")["last_error"] == outcomes[0].error
    assert set(stored(store)) == {"ok1"}


def test_the_default_deadline_is_a_minute():
    from digestbot.sources.http import FETCH_DEADLINE

    assert FETCH_DEADLINE == 60.0
    assert collect.HttpClient().deadline == FETCH_DEADLINE


def test_cancelling_stops_an_in_flight_read_within_a_second():
    from digestbot.sources.http import FetchError

    cancel = threading.Event()
    with slow_server(silent_after=10) as root:
        http_client = collect.HttpClient(cancel=cancel, sleep=lambda s: None)
        threading.Timer(0.5, cancel.set).start()
        started = time.monotonic()
        with pytest.raises(FetchError, match=r"^stopped$"):
            http_client.get(f"{root}/trickle")
        took = time.monotonic() - started
    assert 0.4 < took < 0.5 + 1.5, took


def test_a_cancelled_client_starts_no_fetch(http):
    from digestbot.sources.http import FetchError

    cancel = threading.Event()
    cancel.set()
    with pytest.raises(FetchError, match=r"^stopped$"):
        collect.HttpClient(cancel=cancel).get(FEED_URL)
    assert len(http.calls) == 0


def test_socket_timeouts_never_exceed_the_time_left(http):
    http.get(FEED_URL, body=rss())
    client(deadline=5.0).get(FEED_URL)
    assert http.calls[0].request.req_kwargs["timeout"] == (5.0, 5.0)
    client().get(FEED_URL, deadline=20.0)
    assert http.calls[1].request.req_kwargs["timeout"] == (10.0, 20.0)


def test_the_source_timeout_reaches_the_request(http, store):
    http.get(FEED_URL, body=rss(item("g1")))
    assert collect.fetch_one(store, source(timeout=7), client()).ok
    assert http.calls[0].request.req_kwargs["timeout"] == (7.0, 7.0)


def test_a_gzipped_response_is_decoded_and_capped_after_decoding(http, store):
    import gzip

    body = rss(item("g1"))
    http.get(FEED_URL, body=gzip.compress(body), headers={"Content-Encoding": "gzip"})
    assert collect.fetch_one(store, source(), client()).ok and set(stored(store)) == {"g1"}
    bomb = gzip.compress(b" " * (4 * 1024 * 1024))
    http.get(FEED_URL, body=bomb, headers={"Content-Encoding": "gzip"})
    outcome = collect.fetch_one(store, source(), client(max_bytes=1024 * 1024))
    assert outcome.error is not None and "too large" in outcome.error


def crowded(n: int, value: str = "v") -> bytes:
    attrs = " ".join(f'a{i}="{value}"' for i in range(n))
    return rss(f"<item {attrs}><title>Crowded</title><description>x</description><guid>g1</guid></item>")


@pytest.mark.parametrize("value", ["v", ">", "a = b"], ids=["plain", "gt-in-values", "equals-in-values"])
def test_a_tag_with_tens_of_thousands_of_attributes_is_refused_before_parsing(store, http, value):
    outcome = fetch_into(store, http, crowded(50_000, value))
    assert outcome.error is not None and "attributes" in outcome.error, outcome.error
    assert store.count_papers() == 0


def test_a_tag_with_many_attributes_is_still_read(store, http):
    assert fetch_into(store, http, crowded(200)).ok
    assert set(stored(store)) == {"g1"}


def test_html_in_cdata_with_many_attributes_counts_too(store, http):
    attrs = " ".join(f'data-x{i}="1"' for i in range(1000))
    body = rss(item("g1", description=f"<![CDATA[<p {attrs}>x</p>]]>"))
    outcome = fetch_into(store, http, body)
    assert outcome.error is not None and "attributes" in outcome.error


def test_text_with_many_equals_signs_is_not_mistaken_for_attributes(store, http):
    underline = "=" * 5000
    body = rss(item("g1", description=f"Title\n{underline}\nx = 1, y = 2 " * 50))
    assert fetch_into(store, http, body).ok


@pytest.mark.parametrize(
    ("value", "expected"),
    [("30s", 30), ("2m", 120), ("1m30s", 90), ("10m", 600), (None, None)],
)
def test_source_timeout_in_yaml(tmp_path, value, expected):
    from digestbot.config import parse_config

    line = f"    timeout: {value}\n" if value else ""
    text = f"sources:\n  - name: blog\n    type: rss\n    url: {FEED_URL}\n{line}subscribers: []\n"
    [src] = parse_config(text, tmp_path / "subscriptions.yaml").sources
    assert src.timeout == expected


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("2h", "timeout: at most 10m"),
        ("soon", "timeout: expected a duration"),
        ("[1]", "timeout: expected text"),
    ],
)
def test_a_bad_source_timeout_is_reported_with_its_line(tmp_path, value, message):
    from digestbot.config import ConfigError, parse_config

    text = f"sources:\n  - name: blog\n    type: rss\n    url: {FEED_URL}\n    timeout: {value}\nsubscribers: []\n"
    with pytest.raises(ConfigError) as info:
        parse_config(text, tmp_path / "subscriptions.yaml")
    assert f"subscriptions.yaml:5: sources[0].{message}" in str(info.value)


@contextlib.contextmanager
def header_trickler() -> Iterator[str]:
    """A server that sends its status line and headers one byte every 0.2 s, without end."""
    stop = threading.Event()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            with contextlib.suppress(OSError):
                self.wfile.write(b"HTTP/1.1 200 OK\r\n")
                while not stop.is_set():
                    self.wfile.write(b"X")
                    self.wfile.flush()
                    stop.wait(0.2)

        def log_message(self, *args):
            pass

    try:
        with http_server(Handler) as root:
            yield f"{root}/feed"
    finally:
        stop.set()


def test_a_server_that_trickles_its_headers_fails_at_the_deadline_too():
    from digestbot.sources.http import FetchError

    with header_trickler() as url:
        started = time.monotonic()
        with pytest.raises(FetchError, match="deadline"):
            client(deadline=1.5).get(url)
        assert time.monotonic() - started < 1.5 + 2


def test_cancelling_stops_a_fetch_waiting_for_headers():
    from digestbot.sources.http import FetchError

    cancel = threading.Event()
    with header_trickler() as url:
        threading.Timer(0.3, cancel.set).start()
        started = time.monotonic()
        with pytest.raises(FetchError, match=r"^stopped$"):
            collect.HttpClient(cancel=cancel).get(url)
        assert time.monotonic() - started < 0.3 + 1.5


@pytest.mark.parametrize("key", ["every", "timeout"])
def test_an_empty_duration_is_reported_not_a_crash(tmp_path, key):
    from digestbot.config import ConfigError, parse_config

    text = f"sources:\n  - name: blog\n    type: rss\n    url: {FEED_URL}\n    {key}:\nsubscribers: []\n"
    with pytest.raises(ConfigError) as info:
        parse_config(text, tmp_path / "subscriptions.yaml")
    assert f"subscriptions.yaml:5: sources[0].{key}: expected a duration" in str(info.value)


def test_bare_ampersands_and_control_characters_are_read_with_a_warning(store, http):
    # Both make a document not well-formed XML, and feedparser reads past both: so does digestbot,
    # keeping the rest of the document to the strict parser (a cut feed is still refused).
    body = rss(
        item("g1", "AT&T & friends", "R&D, Q&A, a&b and &#38; and &amp; and &#x26;."),
        item("g2", "Bell\x07 and escape\x1b[31m", "Form\x0cfeed and NUL\x00 gone."),
        item("g3", "Esc&#27;aped &#x1B;[0mtoo", "x&#0;y"),  # references to them: as invalid
    )
    outcome = fetch_into(store, http, body)
    assert outcome.ok, outcome.error
    papers = stored(store)
    assert papers["g1"].title == "AT&T & friends"
    assert papers["g1"].abstract == "R&D, Q&A, a&b and & and & and &."
    assert papers["g2"].title == "Bell and escape[31m"
    assert papers["g2"].abstract == "Formfeed and NUL gone."
    assert (papers["g3"].title, papers["g3"].abstract) == ("Escaped [0mtoo", "xy")
    assert any("bare &" in w for w in outcome.warnings), outcome.warnings
    assert any("control characters" in w for w in outcome.warnings), outcome.warnings
    cut = fetch_into(store, http, body[:-40])
    assert cut.error is not None and cut.error.startswith("malformed feed")


@pytest.mark.parametrize(
    "flaw", [b"&", b"&nbsp;", b"\x01", b"&#1;"], ids=["bare", "entity", "control", "reference"]
)
def test_a_feed_with_more_flaws_than_repairs_allow_is_refused(store, http, flaw):
    from digestbot.sources.document import MAX_REPAIRS

    body = rss(item("g1", description="x" + (flaw * (MAX_REPAIRS + 1)).decode()))
    outcome = fetch_into(store, http, body)
    assert outcome.error is not None and outcome.error.startswith("feed is too broken to read"), outcome.error
    assert store.count_papers() == 0


def test_the_warning_stays_in_status_until_a_clean_fetch(workdir):
    from helpers import digestbot, subscriber

    (workdir.path / "feed.xml").write_bytes(rss(*ENTITY_ITEMS))
    workdir.write_config("- name: blog\n  type: rss\n  url: feed.xml\n", subscriber("alice", "models"))
    digestbot(workdir, "fetch")
    assert "warning: undefined entities" in digestbot(workdir, "status").output
    (workdir.path / "feed.xml").write_bytes(rss())
    digestbot(workdir, "fetch")
    assert "warning:" not in digestbot(workdir, "status").output
