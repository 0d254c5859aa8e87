"""Fault hunt 51: collecting sources over HTTP, as an operator meets it (a url edited in the
YAML, a server asking to wait, what an error message says).

Feeds come from a real HTTP server on loopback (or `responses`); each test names the fault it
found and checks what arrived: the request the server got, the stored paper, the message.
"""

from __future__ import annotations

import os
import time
from datetime import UTC, datetime, timedelta
from typing import ClassVar

import pytest
import responses
from apscheduler.schedulers.background import BackgroundScheduler
from helpers import FeedPaper, QuietHandler, arxiv_listing, http_server

from digestbot import collect
from digestbot.config import Env, SourceConfig, load_config
from digestbot.daemon import Worker
from digestbot.models import Profile, Subscriber
from digestbot.sources import HttpClient
from digestbot.store import Store

pytestmark = pytest.mark.filterwarnings("ignore:To avoid breaking existing software:DeprecationWarning")


def rss(title: str, link: str) -> bytes:
    return (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>t</title>'
        f"<item><title>{title}</title><link>{link}</link><description>Text.</description></item>"
        "</channel></rss>"
    ).encode()


class Blog(QuietHandler):
    """/old is gone (404), /new is the feed; every path asked is kept in `asked`."""

    asked: ClassVar[list[str]] = []

    def do_GET(self):
        Blog.asked.append(self.path)
        if self.path.startswith("/old"):
            self.send_error(404)
            return
        body = rss("Narwhal tusks as sensors", "https://blog.example/narwhal")
        self.send_body(body)


def blog_source(url: str) -> str:
    return f"- name: blog\n  type: rss\n  url: {url}\n  every: 12h\n"


def blog_worker(workdir, store: Store, url: str, now: list) -> Worker:
    """A Worker on the workdir's config (the blog at `url`, alice reading about narwhals), its
    subscribers synced, its clock `now[0]`."""
    workdir.write_config(blog_source(url), READER)
    config = load_config(workdir.config)
    store.sync_subscribers(config.subscribers)
    return Worker(config, store, Env(outbox=workdir.outbox), clock=lambda: now[0], client=client())


READER = "- id: alice\n  email: alice@example.org\n  keywords: [narwhal]\n  schedule: daily 08:00\n"


# --- an edited url waited out the old one's interval ------------------------------------------
# Fault: an operator whose source failed (`HTTP 404 ... check the source's url`) fixed its url in
# the YAML; the worker re-read the YAML, but fetched the new url only `every:` (12 h here) after
# the old url's last fetch: when a source was last fetched was asked by its name alone, so the
# new url looked fetched a minute ago, and `status` went on naming the old url's error for hours.
# A source last fetched elsewhere (another url, query or date) is now due at once.


def test_a_source_whose_url_was_edited_is_fetched_at_once_not_after_its_interval(workdir):
    Blog.asked.clear()
    now = [datetime.now(UTC)]
    with http_server(Blog) as root, Store(workdir.db) as store:
        worker = blog_worker(workdir, store, f"{root}/old", now)
        scheduler = BackgroundScheduler(timezone=UTC)
        worker.on_reload = lambda c: worker._schedule_fetches(scheduler, c)
        assert "HTTP 404" in worker.fetch("blog").error

        workdir.write_config(blog_source(f"{root}/new"), READER)
        os.utime(workdir.config, ns=(time.time_ns(), time.time_ns() + 10**9))
        now[0] += timedelta(minutes=1)
        assert worker.maybe_reload()
        job = scheduler.get_job("fetch:blog")
        assert job.next_run_time <= now[0] + timedelta(seconds=1)  # due now, not in 12 h

        worker.fetch_stale(now[0])  # what a dispatch does before a digest
        state = store.source_state("blog")
        titles = [p.title for p in store.papers_after(0)]
    assert Blog.asked == ["/old", "/new"]
    assert titles == ["Narwhal tusks as sensors"]
    assert state["last_error"] is None and state["location"] == f"{root}/new"


# --- a Retry-After is the host's, not one source's -----------------------------------------
# Fault: a 429 or 503 with Retry-After from rss.arxiv.org (or the export API) held back only the
# source whose fetch got it: the worker went on to the next listing on the same host three
# seconds later (cs.CL after cs.LG), the liked papers and an arXiv catch-up asked the export API
# right after an `arxiv_api` source was told to wait an hour. A server's 429 answers this
# machine, and asking on after it is how a bot gets blocked. Every source on that host waits.

T0 = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
API_URL = "https://export.arxiv.org/api/query"


def source(name: str, url: str, kind: str, **kw) -> SourceConfig:
    return SourceConfig(name=name, type=kind, url=url, path=None, every=3600, **kw)


@pytest.fixture
def http():
    with responses.RequestsMock() as mock:
        yield mock


@pytest.fixture
def either_store(db_target):
    with Store(db_target) as s:
        yield s


def client() -> HttpClient:
    return HttpClient(sleep=lambda s: None)


def listing_of(aid: str, day=None) -> str:
    return arxiv_listing([FeedPaper(aid, f"Listed {aid}", "Text.")], *([day] if day else []))


@pytest.mark.parametrize("status", [429, 503])
def test_a_retry_after_holds_back_every_source_on_that_host(either_store, http, status):
    store = either_store
    lg = source("cs-lg", "https://rss.arxiv.org/rss/cs.LG", "arxiv_rss")
    cl = source("cs-cl", "https://rss.arxiv.org/rss/cs.CL", "arxiv_rss")
    blog = source("blog", "https://blog.example/feed", "rss")
    limited = http.get(lg.url, status=status, headers={"Retry-After": "3600"})
    http.get(cl.url, body=listing_of("2403.00002"))
    http.get(blog.url, body=listing_of("2403.00003"))
    outcomes = collect.fetch_all(store, [lg, cl, blog], client(), T0)
    assert [c.request.url for c in http.calls] == [lg.url, blog.url]  # cs.CL was not asked
    assert [(o.name, o.ok, o.waiting_until) for o in outcomes] == [
        ("cs-lg", False, None),
        ("cs-cl", True, T0 + timedelta(hours=1)),
        ("blog", True, None),
    ]

    http.remove(limited)
    http.get(lg.url, body=listing_of("2403.00001"))
    later = collect.fetch_all(store, [lg, cl], client(), T0 + timedelta(minutes=61))
    assert [(o.name, o.new) for o in later] == [("cs-lg", 1), ("cs-cl", 1)]
    assert {p.arxiv_id for p in store.papers_after(0)} == {"2403.00001", "2403.00002", "2403.00003"}


def test_the_liked_papers_and_a_catch_up_wait_for_the_export_api_too(either_store, http):
    store = either_store
    from datetime import date

    store.sync_subscribers([Subscriber("kim", Profile(likes=("2401.00001",)), email="kim@example.org")])
    api = source("rl", API_URL, "arxiv_api", query="cat:cs.LG")
    lg = source("cs-lg", "https://rss.arxiv.org/rss/cs.LG", "arxiv_rss")
    http.get(lg.url, body=listing_of("2403.00001", date(2024, 3, 11)))
    assert collect.fetch_one(store, lg, client(), T0 - timedelta(days=1)).ok  # Monday's listing seen

    http.get(API_URL, status=429, headers={"Retry-After": "600"})
    http.upsert(responses.GET, lg.url, body=listing_of("2403.00004", date(2024, 3, 14)))  # Thursday
    outcomes = collect.fetch_all(store, [api, lg], client(), T0)
    asked = [c.request.url.split("?")[0] for c in http.calls[1:]]
    assert asked == [API_URL, lg.url], asked  # no catch-up of Tue-Wed, no liked papers asked for
    assert [o.name for o in outcomes] == ["rl", "cs-lg", collect.LIKED_SOURCE]
    assert outcomes[-1].waiting_until == T0 + timedelta(minutes=10)
    assert store.source_state("cs-lg")["last_announced"] == "2024-03-11"  # the gap is still to fill


# --- what a network failure says -----------------------------------------------------------
# Fault: behind a proxy that asks for a login (407 to CONNECT), a fetch failed with requests'
# raw text cut at 200 characters, `connection failed (HTTPSConnectionPool(host='feeds...',
# port=443): Max retries exceeded with url: /f?token=SECRET (Caused by ProxyError('Unable to
# connect to proxy', OSError('Tunnel connection failed: 407 Proxy)`, kept in `status` and the
# log: the feed's token shown, the proxy never named, the cause cut off. A proxy that refused
# read `connection failed (Connection refused")` (a stray quote), as if the feed's host had; a
# redirect to ftp: or file: printed requests' "No connection adapters were found for 'URL'"
# with the token; a cut response was `(('Connection broken: IncompleteRead(...)', ...))`; and a
# malformed Location failed as "unexpected error: ValueError: Invalid IPv6 URL".

TOKEN = "s3cr3t-t0ken"


class Proxy(QuietHandler):
    """A proxy that asks for a login, to a CONNECT (https) as to a GET (http)."""

    def _login(self):
        self.send_response(407)
        self.send_header("Proxy-Authenticate", 'Basic realm="corp"')
        self.send_header("Content-Length", "0")
        self.end_headers()

    do_CONNECT = do_GET = _login


def feeds(*urls: str) -> str:
    return "".join(f"- name: f{n}\n  type: rss\n  url: {url}\n" for n, url in enumerate(urls))


def test_a_proxy_that_asks_for_a_login_is_named_and_the_feeds_token_is_never_shown(workdir, caplog):
    from helpers import digestbot

    urls = (f"https://feeds.example.org/f?token={TOKEN}", f"http://feeds.example.org/f?token={TOKEN}")
    workdir.write_config(feeds(*urls), READER)
    with http_server(Proxy) as proxy:
        port = proxy.rsplit(":", 1)[1]
        for name in ("HTTPS_PROXY", "HTTP_PROXY"):
            workdir.monkeypatch.setenv(name, proxy.replace("//", "//me:pw@"))
        fetched = digestbot(workdir, "fetch", expect=1).output
    status = digestbot(workdir, "status").output
    with Store(workdir.db) as store:
        errors = [store.source_state(n)["last_error"] for n in ("f0", "f1")]
    assert errors[0].startswith(f"the proxy 127.0.0.1:{port} failed (407 Proxy Authentication Required)")
    assert errors[1].startswith("HTTP 407 Proxy Authentication Required")
    assert all("put its user and password in HTTPS_PROXY" in e for e in errors), errors
    for text in (fetched, status, caplog.text, *errors):
        assert TOKEN not in text and ":pw@" not in text, text


def test_a_proxy_that_refuses_is_named_not_taken_for_the_feeds_host(workdir):
    from conftest import free_port

    workdir.monkeypatch.setenv("HTTPS_PROXY", f"http://127.0.0.1:{free_port()}")
    with pytest.raises(Exception) as caught:
        HttpClient().get(f"https://feeds.example.org/f?token={TOKEN}")
    assert str(caught.value) == (
        f"the proxy {os.environ['HTTPS_PROXY'][7:]} failed (Connection refused): check HTTPS_PROXY and"
        " HTTP_PROXY, or name the feed's host in NO_PROXY"
    )


class Broken(QuietHandler):
    """Answers as broken servers do, by path."""

    def do_GET(self):
        body = rss("A post", "https://blog.example/1")
        if self.path.startswith("/ftp"):
            self._redirect(f"ftp://files.example.org/feed.xml?token={TOKEN}")
        elif self.path.startswith("/file"):
            self._redirect("file:///etc/passwd")
        elif self.path.startswith("/bad-location"):
            self._redirect(f"http://[files.example.org/feed?token={TOKEN}")
        elif self.path.startswith("/cut"):
            self.wfile.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % (len(body) + 100) + body)
        elif self.path.startswith("/chunks"):
            self.wfile.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n" + body)
        else:
            self.wfile.write(b"SSH-2.0-OpenSSH_9.6\r\n")
        self.close_connection = True

    def _redirect(self, location: str):
        self.send_response(302)
        self.send_header("Location", location)
        self.send_header("Content-Length", "0")
        self.end_headers()


@pytest.mark.parametrize(
    ("path", "says"),
    [
        ("/ftp", "redirected away from http(s), to ftp: (not fetched): open the url in a browser"),
        ("/file", "redirected away from http(s), to file: (not fetched): open the url in a browser"),
        ("/bad-location", "redirected to a malformed url (Location): open the url in a browser"),
        (
            "/cut",
            "connection failed (the server closed the connection 100 bytes short of the 299 it announced)",
        ),
        ("/chunks", "connection failed (the server closed the connection in the middle of its answer)"),
        ("/ssh", "connection failed (the server's answer is not HTTP (the wrong port?))"),
    ],
)
def test_a_broken_answer_says_what_happened_in_a_line_without_the_query(either_store, path, says):
    with http_server(Broken) as root:
        src = source("blog", f"{root}{path}?token={TOKEN}", "rss")
        outcome = collect.fetch_one(either_store, src, client(), T0)
    assert outcome.error == says
    assert either_store.source_state("blog")["last_error"] == says
    assert list(either_store.papers_after(0)) == []


def test_a_refused_connection_says_so_without_a_stray_quote():
    from conftest import free_port

    with pytest.raises(Exception) as caught:
        HttpClient().get(f"http://127.0.0.1:{free_port()}/feed?token={TOKEN}")
    assert str(caught.value) == "connection failed (Connection refused)"


# --- an arXiv query that matches nothing ----------------------------------------------------
# Fault: an `arxiv_api` source whose query had a typo (`cat:cs.LGG`) was fetched without a word:
# arXiv answers such a query with an empty feed (totalResults 0), `fetch` said "0 new" and
# `status` "ok" until, a week of working days later, the source was called stale. A query
# matching no paper in all of arXiv is now a warning naming the query, in `fetch` and `status`.

EMPTY_ANSWER = b"""<?xml version="1.0" encoding="UTF-8"?>
<feed xmlns="http://www.w3.org/2005/Atom">
  <title type="html">ArXiv Query: search_query=cat:cs.LGG&amp;id_list=&amp;start=0&amp;max_results=100</title>
  <id>http://arxiv.org/api/5tQ9Q4dY5m5BNJhQ6pnvyjGmxm8</id>
  <updated>2026-03-02T00:00:00-05:00</updated>
  <opensearch:totalResults xmlns:opensearch="http://a9.com/-/spec/opensearch/1.1/">0</opensearch:totalResults>
  <opensearch:startIndex xmlns:opensearch="http://a9.com/-/spec/opensearch/1.1/">0</opensearch:startIndex>
  <opensearch:itemsPerPage xmlns:opensearch="http://a9.com/-/spec/opensearch/1.1/">100</opensearch:itemsPerPage>
</feed>
"""


def test_an_arxiv_query_that_matches_no_paper_at_all_is_a_warning(workdir, http):
    from helpers import digestbot

    http.get(API_URL, body=EMPTY_ANSWER)
    workdir.write_config("- name: rl\n  type: arxiv_api\n  query: cat:cs.LGG\n", READER)
    fetched = digestbot(workdir, "fetch").output
    status = digestbot(workdir, "status").output
    said = "arXiv has no paper at all for the query 'cat:cs.LGG' (totalResults 0): check the source's query:"
    assert said in fetched, fetched
    assert said[:60] in status, status


def test_an_arxiv_query_with_no_new_paper_today_is_no_warning(either_store, http):
    store = either_store
    page = EMPTY_ANSWER.replace(b">0</opensearch:totalResults>", b">1534</opensearch:totalResults>")
    http.get(API_URL, body=page)
    outcome = collect.fetch_one(store, source("rl", API_URL, "arxiv_api", query="cat:cs.LG"), client(), T0)
    assert outcome.ok and outcome.warnings == ()


# --- a feed redirected to a login page -------------------------------------------------------
# Fault: a feed behind a single sign-on (or fetched through a hotel's captive portal) redirected
# to a login page, and the source failed as "got an HTML page, not a feed (a login or error
# page? open the url in a browser)": the browser, logged in, showed the feed, and nothing said
# the bot had been sent elsewhere. A failure of an answer that came from another page names it
# (without its query: a login page's `?next=` may carry the feed's token).


class SignOn(QuietHandler):
    def do_GET(self):
        if self.path.startswith("/feed"):
            self.send_response(302)
            self.send_header("Location", f"/sso/login?next=/feed%3Ftoken%3D{TOKEN}")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        body = b"<!DOCTYPE html><html><head><title>Sign in</title></head><body><form></form></body></html>"
        self.send_body(body, "text/html")


@pytest.mark.parametrize("kind", ["rss", "hf_daily"])
def test_a_feed_redirected_to_a_login_page_names_where_it_was_sent(either_store, kind):
    with http_server(SignOn) as root:
        outcome = collect.fetch_one(
            either_store, source("f", f"{root}/feed?token={TOKEN}", kind), client(), T0
        )
    assert outcome.error.startswith("got an HTML page, not ")
    assert outcome.error.endswith(f" (redirected to {root}/sso/login)"), outcome.error
    assert TOKEN not in either_store.source_state("f")["last_error"]


def test_a_feed_that_is_no_feed_where_it_was_asked_names_no_redirect(either_store):
    with http_server(SignOn) as root:
        outcome = collect.fetch_one(either_store, source("f", f"{root}/sso/login", "rss"), client(), T0)
    assert outcome.error == "got an HTML page, not a feed (a login or error page? open the url in a browser)"


# --- announce: edited, the listing read again -----------------------------------------------
# Fault: an operator who added `replace` to an arxiv_rss source's `announce:` (to see revised
# papers) got none that day: the next fetch sent the listing's validators, rss.arxiv.org said
# 304 Not Modified, and the replacements it held were never read (the listing had been read
# before with them left out). Validators belong to what is asked (as a query or a date already
# did): a changed `announce:` gets the listing whole.


def listing_with_a_replacement() -> str:
    text = arxiv_listing(
        [
            FeedPaper("2403.00001", "A new paper", "New."),
            FeedPaper("2403.00002", "A revised paper", "Revised."),
        ]
    )
    head, tail = text.split("2403.00002", 1)
    return (
        head
        + "2403.00002"
        + tail.replace("Announce Type: new", "Announce Type: replace").replace(
            "<arxiv:announce_type>new<", "<arxiv:announce_type>replace<"
        )
    )


def answer_with_validators(request):
    if request.headers.get("If-None-Match") == '"day-1"':
        return 304, {"ETag": '"day-1"'}, ""
    return 200, {"ETag": '"day-1"'}, listing_with_a_replacement()


def test_a_listing_is_read_whole_again_once_its_announce_types_changed(either_store, http):
    store, url = either_store, "https://rss.arxiv.org/rss/cs.LG"
    http.add_callback(responses.GET, url, callback=answer_with_validators)
    assert collect.fetch_one(store, source("lg", url, "arxiv_rss"), client(), T0).new == 1
    wider = source("lg", url, "arxiv_rss", announce=("new", "cross", "replace"))
    after = collect.fetch_one(store, wider, client(), T0 + timedelta(hours=1))
    assert (after.not_modified, after.new) == (False, 1)
    assert {p.arxiv_id for p in store.papers_after(0)} == {"2403.00001", "2403.00002"}
    again = collect.fetch_one(store, wider, client(), T0 + timedelta(hours=2))
    assert again.not_modified  # unchanged, the conditional GET goes on
    same = source("lg", url, "arxiv_rss", announce=("cross", "new"))  # the default, in its own order
    assert same.location == source("lg", url, "arxiv_rss").location == url


# --- a private feed's password in its url ----------------------------------------------------
# Fault: a feed behind HTTP basic auth, written `https://me:PASSWORD@host/feed` as its url, gave
# its relative links (`<link>/posts/1</link>`, a JSON Feed's `"url": "/posts/2"`) resolved
# against the url with its user info: `https://me:PASSWORD@host/posts/1` was stored and sent in
# every subscriber's digest. A permanent redirect's warning (`moved permanently to
# https://me:PASSWORD@host/new`) showed it in the log, `fetch` and `status`. Links now resolve
# against the url without its user info, and the warning shows the password as ***.

PASSWORD = "hunter2-Pw"


class Private(QuietHandler):
    """Basic auth (me:PASSWORD); /old moved for good to /new; /new an RSS, /json a JSON Feed."""

    def do_GET(self):
        import base64

        if (
            self.headers.get("Authorization")
            != "Basic " + base64.b64encode(f"me:{PASSWORD}".encode()).decode()
        ):
            self.send_error(401)
        elif self.path.startswith("/old"):
            self.send_response(301)
            self.send_header("Location", "/new")
            self.send_header("Content-Length", "0")
            self.end_headers()
        else:
            body = rss("A private post", "/posts/1") if self.path.startswith("/new") else json_feed()
            self.send_body(body)


def json_feed() -> bytes:
    import json

    item = {"id": "tag:private,2026:2", "url": "/posts/2", "title": "Another private post"}
    return json.dumps({"version": "https://jsonfeed.org/version/1.1", "title": "p", "items": [item]}).encode()


def test_a_feeds_password_never_reaches_a_link_a_warning_or_status(workdir):
    from helpers import digestbot

    with http_server(Private) as root:
        private = root.replace("//", f"//me:{PASSWORD}@")
        workdir.write_config(feeds(f"{private}/old", f"{private}/json"), READER)
        fetched = digestbot(workdir, "fetch").output
    status = digestbot(workdir, "status").output
    with Store(workdir.db) as store:
        links = sorted(p.link for p in store.papers_after(0))
        warning = store.source_state("f0")["last_warning"]
    assert links == [f"{root}/posts/1", f"{root}/posts/2"]
    assert warning.startswith(f"moved permanently to {root.replace('//', '//me:***@')}/new (HTTP 301)")
    for text in (fetched, status, warning):
        assert PASSWORD not in text, text


# --- a catch-up within the source's own timeout: ------------------------------------------
# Fault: a source given `timeout: 3m` (a slow link, or arXiv slow to answer) had its listing read
# within that, but the pages of its catch-up from the export API (500 papers each, which arXiv
# takes its time over) were cut at the default minute: after every downtime the catch-up failed
# with "deadline: no whole response within 60 s ... raise the source's `timeout:`", the very
# setting the operator had raised. The catch-up's requests keep the source's timeout.


class SlowApi(QuietHandler):
    def do_GET(self):
        time.sleep(1.5)
        body = (
            b'<?xml version="1.0"?><feed xmlns="http://www.w3.org/2005/Atom"'
            b' xmlns:opensearch="http://a9.com/-/spec/opensearch/1.1/"><title>q</title><id>q</id>'
            b"<opensearch:totalResults>1</opensearch:totalResults><entry><id>http://arxiv.org/abs/2403.00009v1</id>"
            b"<title>A missed paper</title><summary>Missed.</summary></entry></feed>"
        )
        self.send_body(body)


def test_a_catch_up_keeps_the_sources_timeout(either_store, http, monkeypatch):
    from datetime import date

    store, url = either_store, "https://rss.arxiv.org/rss/cs.LG"
    lg = source("lg", url, "arxiv_rss", timeout=10)
    slow = HttpClient(sleep=lambda s: None, deadline=1)  # the default minute, scaled down
    http.get(url, body=listing_of("2403.00001", date(2024, 3, 11)))
    assert collect.fetch_one(store, lg, slow, T0).ok
    with http_server(SlowApi) as api:
        http.add_passthru(api)
        monkeypatch.setitem(collect.DEFAULT_URLS, "arxiv_api", f"{api}/api/query")
        http.upsert(responses.GET, url, body=listing_of("2403.00004", date(2024, 3, 14)))
        outcome = collect.fetch_one(store, lg, slow, T0 + timedelta(days=3))
    assert outcome.ok and outcome.caught_up == 1, outcome
    assert "2403.00009" in {p.arxiv_id for p in store.papers_after(0)}
    assert store.source_state("lg")["last_announced"] == "2024-03-14"


# --- `check` says which source is failing ---------------------------------------------------
# Fault: `digestbot check` said "OK" while a source failed at every fetch (`HTTP 404 ... check
# the source's url`): it warned of the liked papers' last failure, never of a source's, so an
# operator who ran it after editing the YAML learnt nothing of the feed that brought no papers.
# It now warns of each source whose last fetch failed (or which `status` flags), with the reason;
# not of one fetched at another url since (the edit may have fixed it).


def test_check_warns_of_a_source_whose_last_fetch_failed_saying_what_to_do(workdir):
    from helpers import digestbot

    Blog.asked.clear()
    with http_server(Blog) as root:
        workdir.write_config(blog_source(f"{root}/old") + feeds(f"{root}/new"), READER)
        digestbot(workdir, "fetch", expect=1)
        checked = digestbot(workdir, "check").output
        workdir.write_config(blog_source(f"{root}/new/blog") + feeds(f"{root}/new"), READER)
        edited = digestbot(workdir, "check").output
    assert (
        "warning: source blog failed at its last fetch: HTTP 404 Not Found: no feed at this url:" in checked
    )
    assert "f0" not in checked  # it worked
    assert "warning: source" not in edited, edited


# --- a stop while connecting to a host that never answers -------------------------------------
# Fault: a stop (SIGTERM, Ctrl-C) while a fetch was connecting to a host that drops the
# connection's packets (a dead host behind a firewall, very common) waited out the whole
# connect timeout, 10 s for each of the host's addresses, though the README promises a fetch in
# flight is cut short within a second: the watchdog only knew the socket once a request had been
# sent on it. The socket is now handed to it before it connects, and a shutdown wakes the connect.


def test_a_stop_cuts_a_connect_to_a_host_that_never_answers_short_within_a_second(either_store):
    import socket
    import threading

    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(0)  # never accepts: once its queue is full, the kernel drops new connections
    port = listener.getsockname()[1]
    waiting = [socket.socket() for _ in range(4)]
    for s in waiting:
        s.setblocking(False)
        s.connect_ex(("127.0.0.1", port))
    time.sleep(0.3)
    stop = threading.Event()
    threading.Timer(0.5, stop.set).start()
    started = time.monotonic()
    try:
        outcome = collect.fetch_one(
            either_store, source("dead", f"http://127.0.0.1:{port}/feed", "rss"), HttpClient(cancel=stop), T0
        )
    finally:
        for s in [*waiting, listener]:
            s.close()
    took = time.monotonic() - started
    assert outcome.stopped and outcome.error is None
    assert took < 2, took  # was the connect timeout: 10 s
    assert either_store.source_state("dead").get("last_fetch_at") is None  # fetched at the next run


# --- a feed's warning outlives a 304 ----------------------------------------------------------
# Fault: a feed read with repairs (`undefined entities read as HTML would (&nbsp;) ...: the feed
# should declare or escape them`) showed the warning in `status` only until its next fetch: the
# server answered 304 Not Modified, nothing was read, and the warning was dropped as if a clean
# copy had come. An operator looking the next day saw no warning for a feed still broken. A 304
# keeps what the last read found; a fetch that reads the feed again says afresh.

BROKEN_FEED = rss("Caf&eacute; and na&iuml;ve&nbsp;models", "https://blog.example/1")


def test_a_feeds_warning_stays_in_status_across_a_304(workdir, http):
    from helpers import digestbot

    body = [BROKEN_FEED]

    def answer(request):
        etag = f'"v{len(body[0])}"'
        if request.headers.get("If-None-Match") == etag:
            return 304, {"ETag": etag}, ""
        return 200, {"ETag": etag}, body[0]

    http.add_callback(responses.GET, "https://blog.example/feed", callback=answer)
    workdir.write_config(feeds("https://blog.example/feed"), READER)
    digestbot(workdir, "fetch")
    assert "undefined entities read as HTML would" in digestbot(workdir, "status").output
    digestbot(workdir, "fetch")
    assert http.calls[-1].response.status_code == 304
    assert "undefined entities read as HTML would" in digestbot(workdir, "status").output  # was gone
    body[0] = rss("Cafe and naive models, fixed", "https://blog.example/1")
    digestbot(workdir, "fetch")
    assert "warning:" not in digestbot(workdir, "status").output  # a clean copy read: no warning


# --- a host name in its own script ------------------------------------------------------------
# Fault: a feed on an internationalized host name (`bücher.example`) that did not resolve failed
# as `cannot resolve host xn--bcher-kva.example`, a name the operator never wrote and cannot find
# in the YAML. The host is named as written.


def test_an_unresolvable_international_host_is_named_as_written():
    with pytest.raises(Exception) as caught:
        HttpClient().get("http://bücher.invalid/feed")
    assert str(caught.value) == "connection failed (cannot resolve host bücher.invalid)"


# --- a failed source is tried again before the next digest ------------------------------------
# Fault: a source whose fetch failed on a network blip (HTTP 500, a reset) counted as fetched for
# its whole `every:`: a digest due ten minutes later went out without that source's papers, the
# worker not asking it again for 12 hours (and an arxiv listing's day is gone by then). A source
# whose last fetch failed is due again after 5 min, then 10, 20... (at most its `every:`).


class Flaky(QuietHandler):
    """Fails its first request (HTTP 500), then serves a feed with a narwhal post."""

    asked: ClassVar[list[str]] = []

    def do_GET(self):
        Flaky.asked.append(self.path)
        if len(Flaky.asked) == 1:
            self.send_error(500)
            return
        body = rss("Narwhal tusks as sensors", "https://blog.example/narwhal")
        self.send_body(body)


def test_a_source_that_failed_is_fetched_again_before_the_next_digest(workdir):
    from test_daemon import outbox_mails

    Flaky.asked.clear()
    now = [datetime.now(UTC)]
    with http_server(Flaky) as root, Store(workdir.db) as store:
        worker = blog_worker(workdir, store, f"{root}/feed", now)
        assert "HTTP 500" in worker.fetch("blog").error
        now[0] += timedelta(minutes=6)
        sent = [o.subscriber_id for o in worker.dispatch()]  # alice's first digest is due
        state = store.source_state("blog")
    assert len(Flaky.asked) == 2 and state["failures"] == 0
    assert sent == ["alice"]
    assert "Narwhal tusks as sensors" in outbox_mails(workdir.outbox)[0].text


def test_the_wait_after_failures_doubles_up_to_the_sources_interval():
    every = SourceConfig("s", "rss", "https://blog.example/feed", None, 12 * 3600)
    waits = [collect.fetch_interval(every, {"failures": n, "location": every.location}) for n in range(9)]
    assert waits == [43200, 300, 600, 1200, 2400, 4800, 9600, 19200, 38400]
    assert collect.fetch_interval(every, {"failures": 12, "location": every.location}) == 43200


# --- `status` says who is waiting -------------------------------------------------------------
# Fault: after a 429 with Retry-After, `status` showed the sources on that host as "ok" (the one
# that got it with its last error, the others with nothing at all), though none would be fetched
# before the time the server asked: an operator wondering why cs.CL had not been fetched for an
# hour had no answer. Their health now says it: `waiting until ... (Retry-After)`.


def test_status_shows_every_source_on_the_host_waiting_out_a_retry_after(workdir, http):
    from helpers import digestbot

    lg, cl = "https://rss.arxiv.org/rss/cs.LG", "https://rss.arxiv.org/rss/cs.CL"
    http.get(lg, status=429, headers={"Retry-After": "3600"})
    workdir.write_config(
        f"- name: lg\n  type: arxiv_rss\n  url: {lg}\n- name: cl\n  type: arxiv_rss\n  url: {cl}\n", READER
    )
    digestbot(workdir, "fetch", expect=1)
    rows = [line for line in digestbot(workdir, "status").output.splitlines() if line.startswith("│ ")]
    waiting = [row.split("│")[1].strip() for row in rows if "waiting until" in row]
    assert waiting == ["cl", "lg"], rows
    assert len(http.calls) == 1


# --- Hugging Face's Retry-After at a catch-up -------------------------------------------------
# Fault: after downtime, the first fetch of the day reads the Hugging Face lists of the days
# missed by `?date=`, back to back, the moment most likely to be rate limited; a 429 with
# Retry-After there was logged and dropped: the fetch counted as a success, and the next one (5
# minutes later, before a trending digest) asked Hugging Face again at once, list and dates. The
# catch-up's Retry-After is kept as a failed fetch's is: no request goes there before it.

HF_URL = "https://huggingface.co/api/daily_papers"


def test_a_retry_after_at_a_hugging_face_catch_up_is_honoured(either_store, http):
    from urllib.parse import parse_qs, urlsplit

    store, hf = either_store, source("hf", HF_URL, "hf_daily")
    limited = [True]

    def answer(request):
        day = parse_qs(urlsplit(request.url).query).get("date")
        if day and limited[0]:
            return 429, {"Retry-After": "600"}, ""
        aid = "2403.0000" + ("1" if not day else "2")
        return (
            200,
            {"Content-Type": "application/json"},
            f'[{{"paper": {{"id": "{aid}", "title": "P {aid}"}}}}]',
        )

    http.add_callback(responses.GET, HF_URL, callback=answer)
    day1 = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
    assert collect.fetch_one(store, hf, client(), day1).ok
    day2 = day1 + timedelta(days=1)
    assert collect.fetch_one(store, hf, client(), day2).ok  # today's list read; the catch-up limited
    asked = len(http.calls)
    later = collect.fetch_one(store, hf, client(), day2 + timedelta(minutes=5))
    assert later.waiting_until == day2 + timedelta(minutes=10) and len(http.calls) == asked
    limited[0] = False
    after = collect.fetch_one(store, hf, client(), day2 + timedelta(minutes=11))
    assert after.ok and after.caught_up == 1
    assert {p.arxiv_id for p in store.papers_after(0)} == {"2403.00001", "2403.00002"}
