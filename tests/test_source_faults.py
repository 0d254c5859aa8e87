"""Fault hunt on the collection side: what a hostile or unlucky feed (or server) does to the
papers that arrive, checked in the store and in what `fetch` reports.

Feeds are served by `responses` (no request leaves the machine); each test names the fault it
found and checks what arrived in the database, not what was called.
"""

from __future__ import annotations

import gzip
from datetime import UTC, date, datetime, timedelta
from email.utils import format_datetime
from hashlib import sha256
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
import responses
import test_mail_headers
from helpers import FeedPaper, arxiv_listing, raw_sql
from test_hostile import client, forbidden_in

from digestbot import collect
from digestbot.config import SourceConfig
from digestbot.models import Paper
from digestbot.store import Store
from digestbot.text import shorten

# feedparser warns about its own updated_parsed/published_parsed fallback on items without dates.
pytestmark = pytest.mark.filterwarnings("ignore:To avoid breaking existing software:DeprecationWarning")


def source(name: str, url: str, kind: str = "rss", **kw) -> SourceConfig:
    return SourceConfig(name=name, type=kind, url=url, path=None, every=3600, **kw)


def rss(*items: str) -> bytes:
    return (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>t</title>'
        f"{''.join(items)}</channel></rss>"
    ).encode()


def item(title: str, guid: str = "", link: str = "", text: str = "Some text.") -> str:
    g = f'<guid isPermaLink="false">{guid}</guid>' if guid else ""
    li = f"<link>{link}</link>" if link else ""
    return f"<item><title>{title}</title><description>{text}</description>{g}{li}</item>"


@pytest.fixture
def http():
    with responses.RequestsMock() as mock:
        yield mock


@pytest.fixture
def store(tmp_path: Path):
    with Store(tmp_path / "db.sqlite") as s:
        yield s


def titles(store: Store) -> dict[str, str]:
    return {p.key: p.title for p in store.papers_after(0)}


# --- a guid is unique within its feed only ------------------------------------------------
# Fault: two feeds whose items carry bare guids (`12345`, JSON Feed's numeric ids) were keyed by
# the guid alone, so the second feed's item was taken for the first one's: counted "known" and
# never delivered. A guid that is not a URI is only its feed's: it is keyed with the source.


def test_two_feeds_with_the_same_bare_guid_bring_two_papers(store, http):
    http.get("https://a.example/feed", body=rss(item("Cats and policies", guid="1")))
    http.get("https://b.example/feed", body=rss(item("Dogs and policies", guid="1")))
    a = collect.fetch_one(store, source("a", "https://a.example/feed"), client())
    b = collect.fetch_one(store, source("b", "https://b.example/feed"), client())
    assert (a.new, b.new, b.known) == (1, 1, 0)
    assert sorted(titles(store).values()) == ["Cats and policies", "Dogs and policies"]


def test_json_feeds_with_the_same_numeric_ids_bring_two_papers(store, http):
    def feed(title: str) -> dict:
        return {"version": "https://jsonfeed.org/version/1", "items": [{"id": 7, "title": title}]}

    http.get("https://a.example/feed.json", json=feed("Cats"))
    http.get("https://b.example/feed.json", json=feed("Dogs"))
    collect.fetch_one(store, source("a", "https://a.example/feed.json"), client())
    collect.fetch_one(store, source("b", "https://b.example/feed.json"), client())
    assert sorted(titles(store).values()) == ["Cats", "Dogs"]


def test_a_uri_guid_or_a_link_is_still_one_paper_in_two_feeds(store, http):
    """A post in two category feeds of one blog, with its URL (or a tag: URI) as guid."""
    body = rss(
        item("A post", guid="tag:blog.example,2024:post-1"),
        item("Another post", link="https://blog.example/post-2"),
    )
    http.get("https://blog.example/cat-a", body=body)
    http.get("https://blog.example/cat-b", body=body)
    collect.fetch_one(store, source("cat-a", "https://blog.example/cat-a"), client())
    b = collect.fetch_one(store, source("cat-b", "https://blog.example/cat-b"), client())
    assert (b.new, b.known) == (0, 2)
    assert set(titles(store)) == {"tag:blog.example,2024:post-1", "https://blog.example/post-2"}


def test_the_same_bare_guid_from_the_same_feed_stays_one_paper(store, http):
    src = source("a", "https://a.example/feed")
    http.get(src.url, body=rss(item("Cats", guid="1")))
    collect.fetch_one(store, src, client())
    again = collect.fetch_one(store, src, client())
    assert (again.new, again.known) == (0, 1)


def test_papers_stored_under_a_bare_guid_are_keyed_by_their_source_on_upgrade(db_target, http):
    """A database from before: its papers under bare guids are re-keyed on open, so the next
    fetch of the same feed knows them (nothing sent again) and the other feed's item, lost
    before, now arrives."""
    with Store(db_target) as store:
        store.add_papers([Paper(key="1", title="Cats and policies")], "a")
        store.add_papers([Paper(key="1", title="Dogs and policies")], "b")  # as the old key rule merged it
        store.add_papers([Paper(key="https://blog.example/p", title="Blog")], "a")
        seq = store.paper("1").seq
    raw_sql(
        db_target,
        "UPDATE digestbot_schema SET version = 9"
        if str(db_target).startswith("postgresql")
        else "PRAGMA user_version = 9",  # main's schema 9, before the re-keying
    )
    with Store(db_target) as store:
        assert set(titles(store)) == {"guid:a:1", "https://blog.example/p"}
        assert store.paper("guid:a:1").seq == seq
        assert store.paper("1").seq == seq  # rating links and buttons sent before name "1"
        http.get("https://a.example/feed", body=rss(item("Cats and policies", guid="1")))
        http.get("https://b.example/feed", body=rss(item("Dogs and policies", guid="1")))
        a = collect.fetch_one(store, source("a", "https://a.example/feed"), client())
        b = collect.fetch_one(store, source("b", "https://b.example/feed"), client())
        assert (a.new, a.known, b.new) == (0, 1, 1)
        assert titles(store)["guid:b:1"] == "Dogs and policies"


@pytest.mark.parametrize(
    ("kind", "stored", "body"),
    [
        (
            "json",
            "post\t7",
            {"version": "https://jsonfeed.org/version/1.1", "items": [{"id": "post\t7", "title": "Cats"}]},
        ),
        ("rss", "lab-post\n42", rss(item("Cats", guid="lab-post\n42"))),
        ("rss", "tag:blog.example,2024:a  b", rss(item("Cats", guid="tag:blog.example,2024:a  b"))),
    ],
)
def test_an_id_with_white_space_or_a_line_break_is_known_again_after_the_upgrade(
    db_target, http, kind, stored, body
):
    """The upgrade re-keys a stored id as a new report of it is keyed (`keys.entry_key`: one
    line, single spaces), or the next fetch brought it as a new paper, sent again."""
    with Store(db_target) as store:
        store.add_papers([Paper(key=stored, title="Cats")], "blog")  # as an older version keyed it
    raw_sql(
        db_target,
        "UPDATE digestbot_schema SET version = 9"
        if str(db_target).startswith("postgresql")
        else "PRAGMA user_version = 9",
    )
    url = "https://blog.example/feed"
    http.get(url, json=body) if kind == "json" else http.get(url, body=body)
    with Store(db_target) as store:
        again = collect.fetch_one(store, source("blog", url), client())  # a JSON Feed is an rss source
        assert (again.new, again.known) == (0, 1)
        assert store.paper(stored) is not None  # links sent before still find it


# --- a feed none of whose entries can be read is a failure --------------------------------
# Fault: when the Hugging Face list changed its shape (items without a `paper` object), or a
# feed's every entry lacked what the parser needs (an arXiv id in an arXiv listing, a title or
# text), the fetch counted them as skipped and reported the source ok: "0 new" every day, no
# error in `status` until it went stale days later. Entries left out on purpose (an announce
# type not asked for, a duplicate) are not unreadable.

HF_URL = "https://huggingface.co/api/daily_papers"
RSS_URL = "https://rss.arxiv.org/rss/cs.LG"


def arxiv_rss(*items: str) -> bytes:
    return (
        '<?xml version="1.0"?><rss version="2.0" xmlns:arxiv="http://arxiv.org/schemas/atom">'
        f"<channel><title>cs.LG updates on arXiv.org</title>{''.join(items)}</channel></rss>"
    ).encode()


def arxiv_item(link: str, kind: str = "new") -> str:
    return (
        f"<item><title>A paper</title><link>{link}</link><description>arXiv:2403.01234v1 Announce"
        f" Type: {kind} Abstract: Text.</description><arxiv:announce_type>{kind}</arxiv:announce_type></item>"
    )


UNREADABLE = [
    pytest.param(
        "hf_daily",
        HF_URL,
        {"json": [{"id": "2403.01234", "title": "A paper", "upvotes": 3}] * 3},
        "without a 'paper' object",
        id="hf-shape-changed",
    ),
    pytest.param(
        "hf_daily",
        HF_URL,
        {"json": [{"paper": {"id": "not-an-id", "title": "A paper"}}] * 2},
        "not an arXiv id",
        id="hf-no-ids",
    ),
    pytest.param(
        "rss",
        "https://blog.example/feed",
        {"body": rss("<item><link>https://blog.example/a</link></item>", "<item><title> </title></item>")},
        "no title and no text",
        id="rss-empty-entries",
    ),
    pytest.param(
        "rss",
        "https://blog.example/feed.json",
        {"json": {"version": "https://jsonfeed.org/version/1.1", "items": [1, "two"]}},
        "not an object",
        id="json-feed-items-not-objects",
    ),
]


@pytest.mark.parametrize("kind, url, answer, reason", UNREADABLE)
def test_a_feed_whose_every_entry_is_unreadable_fails_saying_why(store, http, kind, url, answer, reason):
    http.get(url, **answer)
    outcome = collect.fetch_one(store, source("src", url, kind), client())
    assert not outcome.ok
    assert "could be read" in outcome.error and reason in outcome.error
    state = store.source_state("src")
    assert state["failures"] == 1 and state["last_error"] == outcome.error


def test_an_arxiv_listing_without_arxiv_ids_fails(store, http):
    """Neither link nor description names a paper (not arXiv's listing after all)."""
    entry = "<item><title>A</title><link>https://example.org/a</link><description>Text.</description></item>"
    http.get(RSS_URL, body=arxiv_rss(entry, entry.replace("/a<", "/b<")))
    outcome = collect.fetch_one(store, source("arxiv", RSS_URL, "arxiv_rss"), client())
    assert not outcome.ok and "no arXiv id" in outcome.error


def test_entries_left_out_on_purpose_are_not_a_failure(store, http):
    """A listing of replacements only, with the default announce types: a quiet day, not an error."""
    http.get(RSS_URL, body=arxiv_rss(arxiv_item("https://arxiv.org/abs/2403.01234v2", "replace")))
    outcome = collect.fetch_one(store, source("arxiv", RSS_URL, "arxiv_rss"), client())
    assert outcome.ok and (outcome.new, outcome.skipped) == (0, 1)


def test_some_unreadable_entries_keep_the_others(store, http):
    good = {"paper": {"id": "2403.01234", "title": "A paper"}}
    http.get(HF_URL, json=[good, {"id": "x"}])
    outcome = collect.fetch_one(store, source("hf", HF_URL, "hf_daily"), client())
    assert outcome.ok and (outcome.new, outcome.skipped) == (1, 1)


# --- catching up missed arXiv days reads every page --------------------------------------
# Fault: catching up the days an arXiv listing skipped stopped at the first page with fewer
# papers than a full page, so a page with one entry it could not read (no id) ended it, and
# so did a short or empty page (the export API sometimes answers one under load) while its
# opensearch:totalResults said more were there. The missed days were then recorded as caught
# up, and their papers never came.

API_URL = "https://export.arxiv.org/api/query"
ARXIV = source("arxiv-cs-lg", RSS_URL, "arxiv_rss")
MON, THU = date(2024, 3, 11), date(2024, 3, 14)


def api_page(aids: list[str], total: int) -> bytes:
    entries = "".join(
        f"<entry><id>http://arxiv.org/abs/{aid}v1</id><title>Paper {aid}</title>"
        f"<summary>About {aid}.</summary><published>2024-03-12T15:00:00Z</published></entry>"
        for aid in aids
    )
    return (
        '<?xml version="1.0"?><feed xmlns="http://www.w3.org/2005/Atom"'
        ' xmlns:opensearch="http://a9.com/-/spec/opensearch/1.1/"><title>arXiv Query</title>'
        f"<id>http://arxiv.org/api/q</id><opensearch:totalResults>{total}</opensearch:totalResults>"
        f"{entries}</feed>"
    ).encode()


def paged_api(pages: dict[int, bytes]):
    """An export API answering each `start` with its page."""

    def answer(request):
        start = int(parse_qs(urlsplit(request.url).query)["start"][0])
        return 200, {}, pages[start]

    return answer


def listing(http, store, day: date, aid: str) -> collect.SourceOutcome:
    http.upsert(responses.GET, RSS_URL, body=arxiv_listing([FeedPaper(aid, f"Listed {aid}", "Text.")], day))
    return collect.fetch_one(store, ARXIV, client(), datetime(day.year, day.month, day.day, 6, tzinfo=UTC))


@pytest.fixture
def small_pages(monkeypatch):
    monkeypatch.setattr(collect, "CATCH_UP_PAGE", 2)


def test_a_catch_up_page_with_an_unreadable_entry_does_not_end_it(store, http, small_pages):
    listing(http, store, MON, "2403.00001")
    http.add_callback(
        responses.GET,
        API_URL,
        callback=paged_api({0: api_page(["2403.10001", "junk"], 3), 2: api_page(["2403.10003"], 3)}),
    )
    outcome = listing(http, store, THU, "2403.00004")
    assert store.paper("arxiv:2403.10003") is not None, "the second page was never read"
    assert (outcome.ok, outcome.caught_up) == (True, 2)
    assert store.source_state(ARXIV.name)["last_announced"] == "2024-03-14"


def test_an_empty_page_before_the_end_the_api_announced_fails_the_catch_up_for_a_retry(
    store, http, small_pages
):
    listing(http, store, MON, "2403.00001")
    pages = {0: api_page(["2403.10001", "2403.10002"], 5), 2: api_page([], 5)}
    http.add_callback(responses.GET, API_URL, callback=paged_api(pages))
    outcome = listing(http, store, THU, "2403.00004")
    assert outcome.ok  # the listing itself is stored
    assert store.source_state(ARXIV.name)["last_announced"] == "2024-03-11"  # not caught up: retried
    pages[2] = api_page(["2403.10003", "2403.10004"], 5)
    pages[4] = api_page(["2403.10005"], 5)
    again = listing(http, store, THU, "2403.00004")
    assert store.paper("arxiv:2403.10005") is not None
    assert store.source_state(ARXIV.name)["last_announced"] == "2024-03-14"
    assert again.caught_up >= 1


def test_a_short_page_ends_the_catch_up_whatever_the_count_said(store, http, small_pages):
    """The API's count is not always right (an id it cannot find still counts): a page with
    entries, but fewer than asked for, is the end, as before."""
    listing(http, store, MON, "2403.00001")
    pages = {0: api_page(["2403.10001", "2403.10002"], 9), 2: api_page(["2403.10003"], 9)}
    http.add_callback(responses.GET, API_URL, callback=paged_api(pages))
    outcome = listing(http, store, THU, "2403.00004")
    assert (outcome.caught_up, store.source_state(ARXIV.name)["last_announced"]) == (3, "2024-03-14")


# --- a failure says what to do ------------------------------------------------------------
# Fault: an HTTP error was logged as its bare status ("HTTP 404 Not Found", "HTTP 429 Too Many
# Requests"), a TLS failure as 200 characters of urllib3's wrapping ("_TLSPool(host=...): Max
# retries exceeded ... SSLError(SSLCertVerif"), and a login page where Hugging Face's JSON was
# expected as "not JSON: Expecting value: line 1 column 1": none said what was wrong or what to do.


@pytest.mark.parametrize(
    "status, headers, says",
    [
        (404, {}, "no feed at this url: check the source's url"),
        (410, {}, "removed for good"),
        (401, {}, "refuses digestbot"),
        (403, {}, "refuses digestbot"),
        (429, {"Retry-After": "3600"}, "asks to wait 3600 s"),
        (429, {}, "raise the source's every:"),
        (503, {}, "the next fetch tries again"),
    ],
)
def test_an_http_error_says_what_it_means_and_what_to_do(store, http, status, headers, says):
    http.get("https://blog.example/feed", status=status, headers=headers, body="<html>nope</html>")
    outcome = collect.fetch_one(store, source("blog", "https://blog.example/feed"), client())
    assert outcome.error.startswith(f"HTTP {status}")
    assert says in outcome.error
    assert store.source_state("blog")["last_error"] == outcome.error


@pytest.mark.parametrize("kind", ["hf_daily", "rss"])
def test_a_login_page_where_json_was_expected_is_called_an_html_page(store, http, kind):
    body = "<!DOCTYPE html><html><head><title>Log in</title></head><body>Sign in</body></html>"
    http.get(HF_URL, body=body, content_type="text/html")
    outcome = collect.fetch_one(store, source("hf", HF_URL, kind), client())
    assert outcome.error.startswith("got an HTML page"), outcome.error


certificate = test_mail_headers.certificate  # a fixture: a self-signed certificate for 127.0.0.1


@pytest.mark.parametrize("tls", [True, False], ids=["untrusted-certificate", "plain-http-port"])
def test_a_tls_failure_says_what_failed_in_one_line(store, certificate, tls):
    import http.server
    import ssl
    import threading

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), http.server.BaseHTTPRequestHandler)
    if tls:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(*certificate)  # self-signed: nobody trusts it
        server.socket = context.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    try:
        url = f"https://127.0.0.1:{server.server_address[1]}/feed"
        outcome = collect.fetch_one(store, source("tls", url), client())
    finally:
        server.shutdown()
        server.server_close()
    assert "_TLSPool" not in outcome.error and "Max retries" not in outcome.error, outcome.error
    if tls:
        assert "certificate verify failed" in outcome.error and "REQUESTS_CA_BUNDLE" in outcome.error
    else:
        assert "does not speak TLS" in outcome.error and "http://" in outcome.error


# --- a feed that moved for good is named ---------------------------------------------------
# Fault: a 301 or 308 was followed on every fetch, silently, so the YAML kept the old url until
# the old host dropped the redirect and the source broke. The url is the user's (in the YAML):
# as newsboat and selfoss do, digestbot does not rewrite it, it says where the feed went.


@pytest.mark.parametrize("status", [301, 308])
def test_a_permanent_redirect_is_followed_and_named_in_a_warning(store, http, status):
    old, new = "http://blog.example/feed", "https://blog.example/feed.xml"
    http.get(old, status=status, headers={"Location": new})
    http.get(new, body=rss(item("A post", guid="tag:blog.example,2024:1")))
    outcome = collect.fetch_one(store, source("blog", old), client())
    assert outcome.ok and outcome.new == 1
    [warning] = outcome.warnings
    assert f"moved permanently to {new}" in warning and "url:" in warning
    assert new in store.source_state("blog")["last_warning"]


def test_only_the_permanent_part_of_a_redirect_chain_is_named(store, http):
    old, moved, temporary = "http://blog.example/feed", "https://blog.example/feed", "https://cdn.example/f"
    http.get(old, status=301, headers={"Location": moved})
    http.get(moved, status=302, headers={"Location": temporary})
    http.get(temporary, body=rss(item("A post", guid="tag:blog.example,2024:1")))
    outcome = collect.fetch_one(store, source("blog", old), client())
    assert [w for w in outcome.warnings if "moved permanently" in w] == [
        f"moved permanently to {moved} (HTTP 301): put that in the source's url:"
    ]


@pytest.mark.parametrize("status", [302, 303, 307])
def test_a_temporary_redirect_is_no_warning(store, http, status):
    http.get("https://blog.example/feed", status=status, headers={"Location": "https://blog.example/today"})
    http.get("https://blog.example/today", body=rss(item("A post", guid="tag:blog.example,2024:1")))
    outcome = collect.fetch_one(store, source("blog", "https://blog.example/feed"), client())
    assert outcome.ok and outcome.warnings == ()


# --- a server's Retry-After is honoured ---------------------------------------------------
# Fault: a 429 (or 503) with Retry-After was recorded as a failure and the source fetched again
# at its next `every:` (or, for Hugging Face, before every trending digest: five minutes later),
# however long the server had asked to wait: the way to get a bot blocked for good.


def fetch_at(store, src: SourceConfig, when: datetime) -> collect.SourceOutcome:
    return collect.fetch_one(store, src, client(), when)


T0 = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)


@pytest.fixture
def either_store(db_target):
    """A store on SQLite, then on PostgreSQL (the test runs once with each)."""
    with Store(db_target) as s:
        yield s


@pytest.mark.parametrize("status", [429, 503])
def test_no_request_goes_out_before_the_retry_after_the_server_asked(either_store, http, status):
    store, src = either_store, source("hf", HF_URL, "hf_daily")
    limited = http.get(HF_URL, status=status, headers={"Retry-After": "3600"})
    assert "asks to wait 3600 s" in fetch_at(store, src, T0).error

    waiting = fetch_at(store, src, T0 + timedelta(minutes=30))
    assert len(http.calls) == 1  # nothing sent
    assert waiting.ok and waiting.waiting_until == T0 + timedelta(hours=1)  # waiting is no failure
    assert store.source_state("hf")["failures"] == 1  # waiting is not another failure

    http.remove(limited)
    http.get(HF_URL, json=[{"paper": {"id": "2403.01234", "title": "A paper"}}])
    after = fetch_at(store, src, T0 + timedelta(minutes=61))
    assert len(http.calls) == 2 and after.ok and after.new == 1
    assert store.source_state("hf")["retry_at"] is None


def test_a_retry_after_given_as_a_date_is_honoured(store, http):
    src = source("blog", "https://blog.example/feed")
    now = datetime.now(UTC).replace(microsecond=0)
    http.get(
        src.url, status=429, headers={"Retry-After": format_datetime(now + timedelta(hours=2), usegmt=True)}
    )
    fetch_at(store, src, now)
    assert fetch_at(store, src, now + timedelta(hours=1)).waiting_until > now + timedelta(hours=1)
    assert len(http.calls) == 1


@pytest.mark.parametrize("asked", ["99999999999", "100000000000000", "9" * 40])
def test_an_absurd_retry_after_waits_a_day_at_most(store, http, asked):
    """Past what a timedelta holds too: a hostile header crashed the whole fetch (and the run)."""
    src = source("blog", "https://blog.example/feed")
    http.get(src.url, status=429, headers={"Retry-After": asked})
    fetch_at(store, src, T0)
    fetch_at(store, src, T0 + timedelta(hours=23))
    assert len(http.calls) == 1
    fetch_at(store, src, T0 + timedelta(hours=24, minutes=1))
    assert len(http.calls) == 2


@pytest.mark.parametrize("asked", [None, "²", "-5", "soon"])
def test_a_429_without_a_readable_retry_after_is_tried_at_the_next_fetch(store, http, asked):
    src = source("blog", "https://blog.example/feed")
    http.get(src.url, status=429, headers={"Retry-After": asked} if asked else {})
    fetch_at(store, src, T0)
    fetch_at(store, src, T0 + timedelta(minutes=1))
    assert len(http.calls) == 2


# --- "(untitled)" is a placeholder, not a title --------------------------------------------
# Fault: a paper reported without a usable title was stored as "(untitled)", and a merge took
# that for a title: a later report's real title never replaced it (Hugging Face first, then a
# blog), and an arXiv report without one replaced a real title with it. Hugging Face's item
# title was not used when the paper's was only white space.


def blog_post_about(aid: str, title: str) -> bytes:
    return rss(f"<item><title>{title}</title><link>https://arxiv.org/abs/{aid}v3</link></item>")


def test_hugging_face_uses_the_item_title_when_the_papers_is_blank(store, http):
    http.get(HF_URL, json=[{"title": "Quokka policies", "paper": {"id": "2403.01234", "title": " \n "}}])
    collect.fetch_one(store, source("hf", HF_URL, "hf_daily"), client())
    assert store.paper("arxiv:2403.01234").title == "Quokka policies"


def test_a_later_report_gives_an_untitled_paper_its_title(store, http):
    http.get(HF_URL, json=[{"paper": {"id": "2403.01234", "title": "", "summary": "About quokkas."}}])
    collect.fetch_one(store, source("hf", HF_URL, "hf_daily"), client())
    assert store.paper("arxiv:2403.01234").display_title == "(untitled)"
    http.get("https://blog.example/feed", body=blog_post_about("2403.01234", "Quokka policies"))
    collect.fetch_one(store, source("blog", "https://blog.example/feed"), client())
    assert store.paper("arxiv:2403.01234").title == "Quokka policies"


def test_an_arxiv_report_without_a_title_keeps_the_one_known(store, http):
    http.get("https://blog.example/feed", body=blog_post_about("2403.01234", "Quokka policies"))
    collect.fetch_one(store, source("blog", "https://blog.example/feed"), client())
    entry = (
        "<item><title> </title><link>https://arxiv.org/abs/2403.01234</link><description>arXiv:2403.01234v1"
        " Announce Type: new Abstract: About quokkas.</description></item>"
    )
    http.get(RSS_URL, body=arxiv_rss(entry))
    collect.fetch_one(store, source("arxiv", RSS_URL, "arxiv_rss"), client())
    paper = store.paper("arxiv:2403.01234")
    assert (paper.title, paper.abstract) == ("Quokka policies", "About quokkas.")


# --- gzip the server does not declare, or declares wrongly ---------------------------------
# Fault: a feed served as a .gz file without `Content-Encoding: gzip` (or a local feed.xml.gz)
# failed as "malformed feed: not well-formed (invalid token)", and a body declared gzip that is
# not failed as "request failed (('Received response with content-encoding: gzip, but failed
# to decode it.', error('Error -3 ...')))". The first is read (within the size cap, counted
# after decompression); the second says what the server got wrong.

A_FEED = rss(item("A post", guid="tag:blog.example,2024:1"))


def test_a_gzipped_feed_without_content_encoding_is_read(store, http):
    http.get("https://blog.example/feed.xml.gz", body=gzip.compress(A_FEED), content_type="application/gzip")
    outcome = collect.fetch_one(store, source("blog", "https://blog.example/feed.xml.gz"), client())
    assert outcome.ok and outcome.new == 1, outcome.error


def test_a_gzipped_local_feed_file_is_read(store, tmp_path):
    path = tmp_path / "feed.xml.gz"
    path.write_bytes(gzip.compress(A_FEED))
    src = SourceConfig(name="file", type="rss", url=None, path=path, every=3600)
    outcome = collect.fetch_one(store, src, client())
    assert outcome.ok and outcome.new == 1, outcome.error


def test_an_undeclared_gzip_bomb_is_refused_at_the_size_cap(store, http):
    bomb = gzip.compress(A_FEED[:-20] + b" " * (3 * 1024 * 1024) + A_FEED[-20:])
    http.get("https://blog.example/feed.xml.gz", body=bomb)
    outcome = collect.fetch_one(
        store, source("blog", "https://blog.example/feed.xml.gz"), client(max_bytes=2**20)
    )
    assert "too large" in outcome.error and store.count_papers() == 0


def test_a_body_declared_gzip_that_is_not_says_so(store, http):
    http.get("https://blog.example/feed", body=A_FEED, headers={"Content-Encoding": "gzip"})
    outcome = collect.fetch_one(store, source("blog", "https://blog.example/feed"), client())
    assert outcome.error.startswith("the server says the body is gzip-compressed (Content-Encoding), but it")
    assert "Error -3" not in outcome.error


# --- arXiv's abstract stays arXiv's ---------------------------------------------------------
# Fault: after arXiv reported a paper, a Hugging Face report whose abstract was longer (a code
# link appended, different line breaks) replaced arXiv's abstract ("the longer abstract wins"),
# and the next arXiv fetch put it back: each fetch changed what the paper can match, so it was
# new again for everyone, over and over (Hugging Face is fetched before every trending digest).
# The store did not remember that arXiv, the record of truth, had given the abstract.


def test_a_hugging_face_report_never_replaces_the_abstract_arxiv_gave(either_store, http):
    store = either_store
    entry = (
        "<item><title>Quokka policies</title><link>https://arxiv.org/abs/2403.01234</link>"
        "<description>arXiv:2403.01234v1 Announce Type: new Abstract: We study quokkas.</description></item>"
    )
    http.get(RSS_URL, body=arxiv_rss(entry))
    arxiv_src = source("arxiv", RSS_URL, "arxiv_rss")
    collect.fetch_one(store, arxiv_src, client())
    rev = store.paper("arxiv:2403.01234").rev
    longer = {"id": "2403.01234", "title": "Quokka policies", "summary": "We study quokkas. Code: x.org"}
    for upvotes in (3, 5):
        http.upsert(responses.GET, HF_URL, json=[{"paper": {**longer, "upvotes": upvotes}}])
        collect.fetch_one(store, source("hf", HF_URL, "hf_daily"), client())
        collect.fetch_one(store, arxiv_src, client())
    paper = store.paper("arxiv:2403.01234")
    assert (paper.abstract, paper.upvotes) == ("We study quokkas.", 5)
    assert paper.rev == rev, "the paper was made new again by re-fetches that changed nothing"


def test_hugging_face_still_fills_an_abstract_arxiv_did_not_give(store, http):
    entry = "<item><title>Quokka policies</title><link>https://arxiv.org/abs/2403.01234</link></item>"
    http.get(RSS_URL, body=arxiv_rss(entry))
    collect.fetch_one(store, source("arxiv", RSS_URL, "arxiv_rss"), client())
    http.get(HF_URL, json=[{"paper": {"id": "2403.01234", "title": "Q", "summary": "We study quokkas."}}])
    collect.fetch_one(store, source("hf", HF_URL, "hf_daily"), client())
    paper = store.paper("arxiv:2403.01234")
    assert (paper.title, paper.abstract) == ("Quokka policies", "We study quokkas.")


# --- an absurdly long guid -------------------------------------------------------------------
# Fault: a paper's key is the table's unique index, and PostgreSQL refuses an index entry over
# about 2,700 bytes: an entry whose guid (or link) ran to a few kilobytes failed the whole
# store write as a database error, which stops the fetch of every other source and makes the
# worker back off as if the disk were full. A long id is keyed by its hash.


def fetch_with_another(store, http, url: str) -> list[collect.SourceOutcome]:
    """Fetch the source at `url` (registered by the caller), then another, well-behaved one:
    whatever the first brings, the second must still be fetched."""
    http.get("https://other.example/feed", body=rss(item("Other", guid="tag:o,1")))
    return collect.fetch_all(
        store, [source("blog", url), source("other", "https://other.example/feed")], client()
    )


def test_a_guid_of_several_kilobytes_is_stored_and_known_again_on_both_backends(either_store, http):
    # hex digits, so that PostgreSQL cannot compress the index entry below its limit
    store, long_guid = either_store, "urn:x:" + "".join(sha256(b"%d" % i).hexdigest() for i in range(125))
    http.get("https://blog.example/feed", body=rss(item("A post", guid=long_guid), item("B", guid="tag:b,1")))
    outcomes = fetch_with_another(store, http, "https://blog.example/feed")
    assert [(o.ok, o.new) for o in outcomes] == [(True, 2), (True, 1)], outcomes
    again = collect.fetch_one(store, source("blog", "https://blog.example/feed"), client())
    assert (again.new, again.known) == (0, 2)
    assert max(len(k) for k in titles(store)) <= 500


# --- a NUL in a JSON Feed ----------------------------------------------------------------------
# Fault: JSON may carry any character, NUL (\u0000) and other controls included, and a JSON
# Feed's id, url and tags reached the store as they were (titles and text were cleaned).
# PostgreSQL refuses NUL in text: the write failed as a database error that stopped every
# other source's fetch. On either backend a control character in a key, link or category has
# no business in a digest.


def test_control_characters_in_a_json_feeds_ids_links_and_tags_never_reach_the_store(either_store, http):
    store = either_store
    feed = {
        "version": "https://jsonfeed.org/version/1.1",
        "items": [
            {
                "id": "tag:blog.example,2024:\u00001",
                "url": "https://blog.example/\u0000post",
                "title": "A post",
                "tags": ["ml\u0000", "\u0007", "\udfff"],  # and lone surrogates, no UTF-8 at all
            },
            {
                "id": "post\u0000-2\ud800",
                "external_url": "https://blog.example/\u0007two",
                "title": "Another",
            },
        ],
    }
    http.get("https://blog.example/feed.json", json=feed)
    outcomes = fetch_with_another(store, http, "https://blog.example/feed.json")
    assert [(o.ok, o.new) for o in outcomes] == [(True, 2), (True, 1)], outcomes
    for paper in store.papers_after(0):
        for text in (paper.key, paper.link, *paper.categories):
            assert not any(ord(c) < 32 or 0xD800 <= ord(c) <= 0xDFFF for c in text), repr(text)


def test_fetching_liked_papers_honours_the_retry_after_too(store, http):
    from digestbot.models import Profile, Subscriber

    store.sync_subscribers([Subscriber("kim", Profile(likes=("2401.00001",)), email="kim@example.org")])
    http.get(API_URL, status=503, headers={"Retry-After": "600"})
    assert "asks to wait 600 s" in collect.fetch_liked(store, client(), T0).error
    assert collect.fetch_liked(store, client(), T0 + timedelta(minutes=5)).waiting_until == T0 + timedelta(
        minutes=10
    )
    assert len(http.calls) == 1


def test_a_catch_up_longer_than_it_reads_says_what_it_left_out(store, http, small_pages, monkeypatch):
    """Fault: after weeks down, the missed days held more papers than the catch-up reads (20
    pages); it stopped there silently and recorded the days as caught up."""
    monkeypatch.setattr(collect, "CATCH_UP_MAX_PAGES", 2)
    listing(http, store, MON, "2403.00001")
    pages = {s: api_page([f"2403.{10001 + s}", f"2403.{10002 + s}"], 9) for s in (0, 2, 4, 6)}
    http.add_callback(responses.GET, API_URL, callback=paged_api(pages))
    outcome = listing(http, store, THU, "2403.00004")
    assert outcome.caught_up == 4
    [warning] = outcome.warnings
    assert "first 4 of 9 papers of the missed days" in warning
    assert warning in store.source_state(ARXIV.name)["last_warning"]


# --- an arXiv API window too small --------------------------------------------------------------
# Fault: an `arxiv_api` source reads the newest `max_results` papers; when more than that arrived
# between two fetches, every result was new and the older ones were never read, without a word.


def api_source() -> SourceConfig:
    return source("robots", API_URL, "arxiv_api", query="cat:cs.RO", max_results=3)


def test_an_api_fetch_whose_every_result_is_new_warns_that_papers_may_be_missed(store, http):
    http.get(API_URL, body=api_page(["2403.00001", "2403.00002", "2403.00003"], 50))
    first = collect.fetch_one(store, api_source(), client())
    assert first.warnings == ()  # the first fetch: nothing to have missed
    http.upsert(responses.GET, API_URL, body=api_page(["2403.00011", "2403.00012", "2403.00013"], 60))
    second = collect.fetch_one(store, api_source(), client())
    [warning] = second.warnings
    assert "all 3 results were new" in warning and "max_results" in warning
    assert warning in store.source_state("robots")["last_warning"]


def test_an_api_fetch_reaching_known_papers_is_no_warning(store, http):
    http.get(API_URL, body=api_page(["2403.00001", "2403.00002", "2403.00003"], 50))
    collect.fetch_one(store, api_source(), client())
    http.upsert(responses.GET, API_URL, body=api_page(["2403.00011", "2403.00012", "2403.00001"], 52))
    assert collect.fetch_one(store, api_source(), client()).warnings == ()


def test_a_feed_whose_every_entry_is_new_again_warns(store, http):
    """The same for a feed (it shows its newest entries); a feed that changed its ids warns too."""
    src = source("blog", "https://blog.example/feed")
    http.get(src.url, body=rss(item("A", guid="tag:b,1"), item("B", guid="tag:b,2")))
    assert collect.fetch_one(store, src, client()).warnings == ()
    http.upsert(responses.GET, src.url, body=rss(item("C", guid="tag:b,3"), item("A", guid="tag:b,1")))
    assert collect.fetch_one(store, src, client()).warnings == ()
    http.upsert(responses.GET, src.url, body=rss(item("D", guid="tag:b,4"), item("E", guid="tag:b,5")))
    [warning] = collect.fetch_one(store, src, client()).warnings
    assert "all 2 entries were new" in warning


# --- a feed's encoding: its BOM, its declaration, then what the server says ---------------------
# Fault: the charset a server gives in Content-Type was never looked at (feedparser was handed
# the bytes alone), so a Greek or Russian feed that names its encoding only there, as RFC 7303
# allows, or whose XML declaration says utf-8 wrongly, was decoded by feedparser's last resort,
# windows-1252: every title stored as mojibake ("Ìç÷áíéêÞ"). And a UTF-16 feed with a byte
# order mark but no declaration (legal: the BOM says it) was read with a warning that it was
# "declared as utf-8". Now a BOM decides; then the document's declaration, or UTF-8 when it has
# none, as long as it decodes; else the server's charset; feedparser's guesses come last.


def encoded_feed(title: str, encoding: str, declared: str | None = None) -> bytes:
    declaration = f' encoding="{declared}"' if declared else ""
    return (
        f'<?xml version="1.0"{declaration}?><rss version="2.0"><channel><title>t</title>'
        f"<item><title>{title}</title><guid>g1</guid><description>{title}.</description></item>"
        "</channel></rss>"
    ).encode(encoding)


@pytest.mark.parametrize(
    "title, encoding, declared, charset, warned",
    [
        ("Μηχανική μάθηση", "iso-8859-7", None, "iso-8859-7", False),  # said only by the server
        ("Машинное обучение", "windows-1251", None, "windows-1251", False),
        ("機械学習の論文", "shift_jis", None, "Shift_JIS", False),
        ("Машинное обучение", "windows-1251", "utf-8", "windows-1251", True),  # a wrong declaration
        ("Café naïve", "utf-8", None, "iso-8859-1", False),  # a server default that is wrong
        ("Café naïve", "utf-8", "utf-8", "iso-8859-1", False),
        ("Café naïve", "utf-16", None, None, False),  # a BOM, no declaration
        ("Plain title", "utf-16", None, None, False),
    ],
)
def test_a_feed_is_decoded_by_its_bom_its_declaration_or_the_servers_charset(
    store, http, title, encoding, declared, charset, warned
):
    content_type = "application/rss+xml" + (f"; charset={charset}" if charset else "")
    http.get(
        "https://feeds.example/rss", body=encoded_feed(title, encoding, declared), content_type=content_type
    )
    outcome = collect.fetch_one(store, source("feed", "https://feeds.example/rss"), client())
    assert outcome.ok, outcome.error
    assert [(p.title, p.abstract) for p in store.papers_after(0)] == [(title, f"{title}.")]
    assert bool(outcome.warnings) == warned, outcome.warnings
    if warned:
        assert (
            outcome.warnings[0] == f"encoding: declared as {declared}, but it is {charset} as the server says"
        )


# --- white space before the XML declaration -----------------------------------------------------
# Fault: a feed with a blank line or a few spaces before `<?xml` (WordPress's classic: a plugin or
# theme file that ends in a newline prints it ahead of the feed; also a BOM and then a newline)
# was refused as "malformed feed: XML or text declaration not at start of entity", every fetch,
# though every feed reader reads it. And a JSON Feed starting with a BOM and a newline was taken
# for XML and refused. What stands before the declaration is dropped, with a warning.

LEADING = [b"\n\n", b"   ", b"\r\n\t", b"\xef\xbb\xbf\n", b"\n\xef\xbb\xbf"]


@pytest.mark.parametrize("junk", LEADING)
@pytest.mark.parametrize("kind", ["rss", "arxiv_rss"])
def test_white_space_before_the_xml_declaration_is_dropped_with_a_warning(store, http, junk, kind):
    # A declaration after the junk still counts: an iso-8859-1 feed is read as one.
    encoding = "utf-8" if b"\xef\xbb\xbf" in junk else "iso-8859-1"
    if kind == "arxiv_rss":
        feed = arxiv_listing([FeedPaper("2403.01234", "Café naïve", "An abstract.")]).encode()
    else:
        feed = encoded_feed("Café naïve", encoding, encoding)
    http.get("https://feeds.example/rss", body=junk + feed, content_type="application/rss+xml")
    outcome = collect.fetch_one(store, source("feed", "https://feeds.example/rss", kind), client())
    assert outcome.ok, outcome.error
    assert [p.title for p in store.papers_after(0)] == ["Café naïve"]
    assert outcome.warnings == (
        "white space before the XML declaration was dropped: the feed should start with <?xml",
    )


def test_a_json_feed_after_a_bom_and_a_newline_is_read(store, http):
    feed = b'\xef\xbb\xbf\n{"version": "https://jsonfeed.org/version/1.1", "items": [{"id": "1", "title": "Hi", "content_text": "x"}]}'
    http.get("https://feeds.example/rss", body=feed, content_type="application/feed+json")
    outcome = collect.fetch_one(store, source("feed", "https://feeds.example/rss"), client())
    assert outcome.ok, outcome.error
    assert [p.title for p in store.papers_after(0)] == ["Hi"]


# --- an XHTML prefix is not an HTML page --------------------------------------------------------
# Fault: an Atom feed whose title is XHTML written with an `html:` prefix (`<html:div>`, legal
# Atom) near its start was refused as "got an HTML page, not a feed": any `<html` in the first
# 200 bytes counted as a page's root. Only an `<html>` tag does.


def test_an_atom_feed_with_an_html_prefix_is_no_html_page(store, http):
    feed = (
        b'<?xml version="1.0" encoding="utf-8"?>\n<feed xmlns="http://www.w3.org/2005/Atom"'
        b' xmlns:html="http://www.w3.org/1999/xhtml"><title type="xhtml"><html:div>Lab</html:div></title>'
        b"<id>urn:lab</id><updated>2024-03-11T10:00:00Z</updated><entry><id>urn:lab:1</id>"
        b"<title>A post</title><updated>2024-03-11T10:00:00Z</updated><summary>Text.</summary></entry></feed>"
    )
    http.get("https://lab.example/atom", body=feed, content_type="application/atom+xml")
    outcome = collect.fetch_one(store, source("lab", "https://lab.example/atom"), client())
    assert outcome.ok, outcome.error
    assert list(titles(store).values()) == ["A post"]


# --- a moved url is named without the query digestbot adds ---------------------------------------
# Fault: an `arxiv_api` (or dated `hf_daily`) source whose url moved for good (`http://` to
# `https://`, as export.arxiv.org redirects) was told to put the url *with digestbot's own
# query* in its `url:` (`...query?search_query=cat%3Acs.RO&start=0&max_results=3...`): done,
# every request sent each parameter twice. The url named is the redirect's without the
# parameters digestbot adds; a query the user wrote stays.


def redirect_to_https(request):
    return 301, {"Location": request.url.replace("http://", "https://", 1)}, ""


@pytest.mark.parametrize(
    "kind, url, kw, body",
    [
        ("arxiv_api", "http://export.arxiv.org/api/query", {"query": "cat:cs.RO", "max_results": 3}, None),
        ("hf_daily", "http://huggingface.co/api/daily_papers", {"date": "2024-03-11"}, "[]"),
        ("hf_daily", "http://hf.example/api/daily_papers?token=x", {"date": "2024-03-11"}, "[]"),
    ],
)
def test_a_permanent_redirect_names_the_url_without_digestbots_own_query(store, http, kind, url, kw, body):
    http.add_callback(responses.GET, url.split("?")[0], callback=redirect_to_https)
    moved = url.replace("http://", "https://", 1)
    http.get(moved.split("?")[0], body=body or api_page(["2403.00001"], 1))
    outcome = collect.fetch_one(store, source("moved", url, kind, **kw), client())
    assert outcome.ok, outcome.error
    assert outcome.warnings == (f"moved permanently to {moved} (HTTP 301): put that in the source's url:",)


# --- an arXiv link inside another link ------------------------------------------------------------
# Fault: a feed of Google Scholar alerts (an alert mailbox turned into RSS) links each paper
# through Scholar (`scholar_url?url=https://arxiv.org/abs/2403.01234&hl=en&...`): an id followed
# by `&` was no id, so the paper came in under the Scholar link as a second paper beside
# arXiv's own listing of it, and again in the digest. `&` ends an id as `?` and `#` do.


def test_an_arxiv_link_wrapped_in_a_scholar_redirect_is_the_arxiv_paper(store, http):
    scholar = "https://scholar.google.com/scholar_url?url=https://arxiv.org/pdf/2403.01234&amp;hl=en&amp;oi=scholaralrt"
    http.get("https://alerts.example/rss", body=rss(item("Café naïve", guid="tag:alerts,1", link=scholar)))
    http.get(
        "https://rss.arxiv.org/rss/cs.LG",
        body=arxiv_listing([FeedPaper("2403.01234", "Café naïve", "An abstract.")]).encode(),
    )
    collect.fetch_one(store, source("scholar", "https://alerts.example/rss"), client())
    collect.fetch_one(store, source("arxiv", "https://rss.arxiv.org/rss/cs.LG", "arxiv_rss"), client())
    assert titles(store) == {"arxiv:2403.01234": "Café naïve"}


def test_an_arxiv_link_percent_encoded_in_a_safe_links_redirect_is_the_arxiv_paper(store, http):
    """The same through Outlook's Safe Links (an alert mailbox at a university), which encodes it."""
    wrapped = (
        "https://eur01.safelinks.protection.outlook.com/?url=https%3A%2F%2Farxiv.org%2Fabs%2F2403.01234v1"
        "&amp;data=05%7C02%7C&amp;reserved=0"
    )
    http.get("https://alerts.example/rss", body=rss(item("Café naïve", guid="tag:alerts,1", link=wrapped)))
    collect.fetch_one(store, source("alerts", "https://alerts.example/rss"), client())
    assert list(titles(store)) == ["arxiv:2403.01234"]


# --- JSON dates in the other forms RFC 3339 and feeds use -----------------------------------------
# Fault: a JSON Feed's `date_published` with RFC 3339's lowercase `t` and `z` (which it allows),
# or an RFC 822 date written by mistake (as RSS has it), was "date unknown" in the digest:
# datetime.fromisoformat reads neither.


@pytest.mark.parametrize(
    "written",
    ["2024-03-01t10:00:00z", "2024-03-01T11:00:00+01:00", "Fri, 01 Mar 2024 10:00:00 GMT"],
    ids=["lowercase", "offset", "rfc822"],
)
def test_a_json_feed_date_in_any_form_feeds_use_is_read(store, http, written):
    item = {"id": "p1", "title": "Cats", "date_published": written}
    http.get(
        "https://a.example/feed.json", json={"version": "https://jsonfeed.org/version/1.1", "items": [item]}
    )
    collect.fetch_one(store, source("a", "https://a.example/feed.json"), client())
    [paper] = store.papers_after(0)
    assert paper.published == datetime(2024, 3, 1, 10, 0, tzinfo=UTC), paper.published


# --- Validators belong to what was asked, not only to the URL ---------------------------------
# Fault: the ETag and Last-Modified of an hf_daily source were sent again after its `date:`
# changed, and an arxiv_api source's after its `query:` or `max_results:` changed: the state
# compared only the URL. A server that answers If-Modified-Since by date alone (as a static
# file server or a CDN does) then said 304, and the new day's or query's papers never came.

HF = "https://huggingface.co/api/daily_papers"
API = "https://export.arxiv.org/api/query"
VALIDATORS = {"ETag": '"day-1"', "Last-Modified": "Thu, 14 Mar 2024 04:00:00 GMT"}
HF_DAY = [{"paper": {"id": "2403.01234", "title": "Cats", "summary": "About cats.", "upvotes": 3}}]
EMPTY_ATOM = '<?xml version="1.0"?><feed xmlns="http://www.w3.org/2005/Atom"><title>q</title></feed>'


@pytest.mark.parametrize(
    ("kind", "url", "before", "after"),
    [
        ("hf_daily", HF, {"date": "2024-03-14"}, {"date": "2024-03-15"}),
        ("arxiv_api", API, {"query": "cat:cs.LG"}, {"query": "cat:cs.RO"}),
        (
            "arxiv_api",
            API,
            {"query": "cat:cs.LG", "max_results": 10},
            {"query": "cat:cs.LG", "max_results": 50},
        ),
    ],
    ids=["hf-date", "api-query", "api-max-results"],
)
def test_validators_are_not_sent_once_what_is_asked_changed(store, http, kind, url, before, after):
    body = {"json": HF_DAY} if kind == "hf_daily" else {"body": EMPTY_ATOM}
    http.get(url, headers=VALIDATORS, **body)
    client_ = client()
    assert collect.fetch_one(store, source("s", url, kind, **before), client_).ok
    assert collect.fetch_one(store, source("s", url, kind, **after), client_).ok
    changed = http.calls[-1].request.headers
    assert "If-None-Match" not in changed and "If-Modified-Since" not in changed
    # Unchanged, the validators are sent as before (a conditional GET saves the listing).
    assert collect.fetch_one(store, source("s", url, kind, **after), client_).ok
    assert http.calls[-1].request.headers["If-None-Match"] == '"day-1"'


# --- Zero-width joiners inside words -----------------------------------------------------------
# Fault: a Persian title spelled with zero-width non-joiners (یادگیری‌ماشین, "machine learning"),
# a Hindi name with a joiner, and an emoji sequence (👩‍🔬, woman + ZWJ + microscope) were stored
# with a space for each joiner, so digests showed the words split and the emoji as two: one_line
# dropped every zero-width character as it drops direction overrides. A joiner between two
# characters now stays (the YAML already took keywords spelled with one); one at an edge of a word
# or alone, which joins nothing, is still dropped.

PERSIAN = "یادگیری\u200cماشین"
SCIENTIST = "\U0001f469\u200d\U0001f52c"


def test_zero_width_joiners_inside_words_are_kept(store, http):
    title = f"{PERSIAN} for {SCIENTIST} labs \u200d edge\u200c"
    http.get(
        "https://fa.example/rss",
        body=rss(item(title, guid="tag:fa,1", text=f"About {PERSIAN}.")),
    )
    collect.fetch_one(store, source("fa", "https://fa.example/rss"), client())
    [paper] = store.papers_after(0)
    assert paper.title == f"{PERSIAN} for {SCIENTIST} labs edge"
    assert paper.abstract == f"About {PERSIAN}."


def test_a_cut_beside_an_emoji_sequence_leaves_no_joiner_alone():
    for limit in range(1, 12):
        cut = shorten(f"Labs {SCIENTIST}{SCIENTIST}{SCIENTIST} and more words here", limit)
        assert not forbidden_in(cut), (limit, cut)
