"""Fault hunt 33: feeds and the text they carry, into the store, and what a digest makes of it.

End to end where a user would see it: the real CLI, feeds from local files or a real HTTP server
on loopback, a real SMTP server; each test checks what arrived (mail, database), not what was
called.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import test_slack
from helpers import SOURCES, FeedPaper, QuietHandler, digestbot, http_server, write_feed
from test_email_delivery import body_parts, papers_in
from test_slack import slack_state

from digestbot import collect
from digestbot.config import SourceConfig
from digestbot.sources import HttpClient
from digestbot.store import Store

start_web = test_slack.start_web  # the fixture: the real web app on loopback
web = test_slack.web  # the fixture: that app over YAML email subscribers, the feed fetched

# feedparser warns about its own updated_parsed/published_parsed fallback on items without dates.
pytestmark = pytest.mark.filterwarnings("ignore:To avoid breaking existing software:DeprecationWarning")


def follower(sid: str, keywords: list[str], exclude: list[str] = ()) -> str:
    """A YAML email subscriber whose keywords (and exclusions) are written quoted, as they are."""
    quoted = ", ".join(f'"{k}"' for k in keywords)
    lines = f"- id: {sid}\n  email: {sid}@example.org\n  keywords: [{quoted}]\n"
    if exclude:
        lines += f"  exclude: [{', '.join(f'{e!r}' for e in exclude)}]\n"
    return lines


# --- languages and tools whose names are punctuation --------------------------------------
# Fault: `+`, `#` and a leading `.` were punctuation, so `C++` and `C#` compiled to "c, then
# any punctuation" and `.NET` to "any punctuation, then net". A C++ follower got every paper
# saying "C, Rust and Go" or "C#"; a plain `C` follower got every C++ and C# paper; the
# keywords [C++, C#] were one term (the second silently dropped as a repeat); and exclude [C#]
# beside keyword C++ was refused by `check` as "also a keyword". These names are words now.

CPP = FeedPaper("2501.30001", "A C++ Template Library for Sparse Tensors", "Header-only and fast.")
CSHARP = FeedPaper("2501.30002", "Gradual Typing for C#", "We add refinement types to a managed language.")
PLAIN_C = FeedPaper(
    "2501.30003", "A Verified Optimizing Compiler", "We verify a compiler for C, Rust and Go."
)
DOTNET = FeedPaper("2501.30004", "Profiling .NET Services at Scale", "Sampling the managed runtime.")
FSHARP = FeedPaper("2501.30005", "Units of Measure in F#", "A type system for physical units.")
CPP17 = FeedPaper("2501.30006", "Migrating to C++17 Parallel Algorithms", "Legacy loops, rewritten.")
NETS = FeedPaper(
    "2501.30007", "Pruning Nets (Net by Net)", "Smaller neural nets, graded F, G or H: the net effect."
)

LANGUAGE_PAPERS = [CPP, CSHARP, PLAIN_C, DOTNET, FSHARP, CPP17, NETS]


def received(smtp_server, sid: str) -> set[str]:
    mails = smtp_server.to(f"{sid}@example.org")
    return set().union(*(papers_in(m.message) for m in mails))


@pytest.mark.parametrize(
    "keyword, wanted",
    [
        ("C++", {CPP, CPP17}),
        ("c++", {CPP, CPP17}),
        ("C#", {CSHARP}),
        ("C", {PLAIN_C}),
        (".NET", {DOTNET}),
        ("F#", {FSHARP}),
        ("C++17", {CPP17}),
    ],
)
def test_a_keyword_that_names_a_language_by_its_punctuation_brings_that_language(
    workdir, smtp_server, keyword, wanted
):
    write_feed(workdir.path / "feed.xml", LANGUAGE_PAPERS)
    workdir.write_config(SOURCES, follower("lang", [keyword]))
    workdir.use_smtp(smtp_server.url)

    digestbot(workdir, "run", "--once")

    assert received(smtp_server, "lang") == {p.aid for p in wanted}


def test_the_matched_language_name_is_highlighted_whole(workdir, smtp_server):
    write_feed(workdir.path / "feed.xml", [CPP])
    workdir.write_config(SOURCES, follower("lang", ["C++"]))
    workdir.use_smtp(smtp_server.url)

    digestbot(workdir, "run", "--once")

    [mail] = smtp_server.to("lang@example.org")
    _, html = body_parts(mail.message)
    assert re.search(r'<span class="hl" style="[^"]+">C\+\+</span> Template', html)


def test_c_plus_plus_and_c_sharp_are_two_keywords_and_one_may_be_excluded(workdir, smtp_server):
    write_feed(workdir.path / "feed.xml", LANGUAGE_PAPERS)
    workdir.write_config(
        SOURCES, follower("both", ["C++", "C#"]) + follower("only", ["C++", "C"], exclude=["C#"])
    )
    workdir.use_smtp(smtp_server.url)

    checked = digestbot(workdir, "check")
    assert "also a keyword" not in checked.output and "leaves out" not in checked.output
    digestbot(workdir, "run", "--once")

    assert received(smtp_server, "both") == {CPP.aid, CPP17.aid, CSHARP.aid}
    assert received(smtp_server, "only") == {CPP.aid, CPP17.aid, PLAIN_C.aid}


def test_slack_subscribe_keeps_c_plus_plus_and_c_sharp_apart(web):
    reply = web.command("subscribe C++, C#")

    assert "Added `C++`, `C#`" in reply
    assert slack_state(web).subscriber.profile.keywords == ("C++", "C#")
    reply = web.command("exclude C")
    assert slack_state(web).subscriber.profile.exclude == ("C",)
    assert slack_state(web).subscriber.profile.keywords == ("C++", "C#")


# --- JSON in another encoding than UTF-8 -------------------------------------------------------
# Fault: a JSON Feed sent in UTF-16 or UTF-32 with a byte order mark (as Windows tools write it)
# was taken for XML, its first byte not being `{`, and refused as "malformed feed: not
# well-formed"; in UTF-16BE without a mark the same. A JSON Feed or Hugging Face answer in
# ISO-8859-1, as its server's Content-Type said, was refused as "not JSON: 'utf-8' codec can't
# decode byte 0xe9". JSON's encoding is told as RFC 8259 and 4627 tell it (the mark, else the
# NULs of its first bytes), and the server's charset is used where the bytes are not UTF-8.


def serving(body: bytes, content_type: str):
    """A real HTTP server on loopback answering every GET with `body` and this Content-Type."""

    class Handler(QuietHandler):
        def do_GET(self):
            self.send_body(body, content_type)

    return http_server(Handler)


JSON_FEED = {
    "version": "https://jsonfeed.org/version/1.1",
    "title": "Lab notes",
    "items": [
        {"id": "n1", "url": "https://lab.example/n1", "title": "Café naïve", "content_text": "Über alles."}
    ],
}
HF_LIST = [{"paper": {"id": "2501.40001", "title": "Café naïve", "summary": "Über alles.", "upvotes": 3}}]


@pytest.fixture
def store(tmp_path: Path):
    with Store(tmp_path / "db.sqlite") as s:
        yield s


def fetched_from(store: Store, kind: str, body: bytes, content_type: str) -> collect.SourceOutcome:
    with serving(body, content_type) as url:
        src = SourceConfig(name="src", type=kind, url=url + "/feed", path=None, every=3600)
        return collect.fetch_one(store, src, HttpClient(sleep=lambda s: None))


@pytest.mark.parametrize(
    "encoding, charset",
    [
        ("utf-16", None),  # a byte order mark
        ("utf-32", None),
        ("utf-16-be", None),  # no mark: told by its NULs
        ("utf-16-le", None),
        ("utf-8-sig", None),
        ("iso-8859-1", "iso-8859-1"),  # not UTF-8: the server says what it is
        ("windows-1252", "windows-1252"),
        ("utf-8", "iso-8859-1"),  # a server default that is wrong: UTF-8 decodes, and wins
    ],
)
@pytest.mark.parametrize("kind, doc", [("rss", JSON_FEED), ("hf_daily", HF_LIST)])
def test_json_is_read_in_the_encoding_it_is_sent_in(store, kind, doc, encoding, charset):
    content_type = "application/json" + (f"; charset={charset}" if charset else "")
    body = json.dumps(doc, ensure_ascii=False).encode(encoding)

    outcome = fetched_from(store, kind, body, content_type)

    assert outcome.ok, outcome.error
    assert [(p.title, p.abstract) for p in store.papers_after(0)] == [("Café naïve", "Über alles.")]


def test_json_that_is_not_utf_8_and_has_no_charset_says_so(store):
    body = json.dumps(JSON_FEED, ensure_ascii=False).encode("iso-8859-1")

    outcome = fetched_from(store, "rss", body, "application/feed+json")

    assert outcome.error is not None
    assert "not UTF-8" in outcome.error and "charset" in outcome.error
    assert "codec" not in outcome.error
    assert list(store.papers_after(0)) == []


# --- a date with a named time zone ---------------------------------------------------------
# Fault: feedparser (and email.utils, which JSON dates written as RSS has them go through) knows
# only UT/GMT/Z, the US zones and MET/MEST: `CET`, `CEST`, `BST`, `JST`, `AEST`... were read as
# UTC without a word, so a German blog's 10:00 CEST post was stored as 10:00 UTC, two hours
# late, and a Tokyo lab's evening post on the wrong day. They are read as the zones they name.


def rss_dated(*dates: str) -> bytes:
    items = "".join(
        f"<item><guid>https://blog.example/{n}</guid><title>Post {n}</title><description>Text.</description>"
        f"<pubDate>{d}</pubDate></item>"
        for n, d in enumerate(dates)
    )
    return f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>t</title>{items}</channel></rss>'.encode()


ZONED = [
    ("Mon, 11 Mar 2024 10:00:00 CET", "2024-03-11 09:00"),
    ("Tue, 02 Jul 2024 10:00:00 CEST", "2024-07-02 08:00"),
    ("Tue, 02 Jul 2024 10:00:00 BST", "2024-07-02 09:00"),
    ("Tue, 02 Jul 2024 07:30:00 JST", "2024-07-01 22:30"),
    ("Tue, 02 Jul 2024 09:00:00 AEST", "2024-07-01 23:00"),
    ("Tue, 02 Jul 2024 10:00:00 EEST", "2024-07-02 07:00"),
    ("Tue, 02 Jul 2024 10:00 MESZ", "2024-07-02 08:00"),
    ("Tue, 02 Jul 2024 10:00:00 UTC", "2024-07-02 10:00"),
    ("Tue, 02 Jul 2024 10:00:00 EDT", "2024-07-02 14:00"),  # feedparser knew these already
    ("Tue, 02 Jul 2024 10:00:00 +0200", "2024-07-02 08:00"),
]


def published(store: Store) -> dict[str, str]:
    return {p.title: f"{p.published:%Y-%m-%d %H:%M}" for p in store.papers_after(0) if p.published}


def test_a_date_with_a_named_time_zone_is_read_in_that_zone(store):
    outcome = fetched_from(store, "rss", rss_dated(*(d for d, _ in ZONED)), "application/rss+xml")

    assert outcome.ok, outcome.error
    assert published(store) == {f"Post {n}": utc for n, (_, utc) in enumerate(ZONED)}


def test_a_json_feed_date_with_a_named_time_zone_is_read_in_that_zone(store):
    items = [
        {"id": f"n{n}", "title": f"Post {n}", "content_text": "Text.", "date_published": d}
        for n, (d, _) in enumerate(ZONED)
    ]
    body = json.dumps({"version": "https://jsonfeed.org/version/1.1", "items": items}).encode()

    outcome = fetched_from(store, "rss", body, "application/feed+json")

    assert outcome.ok, outcome.error
    assert published(store) == {f"Post {n}": utc for n, (_, utc) in enumerate(ZONED)}
