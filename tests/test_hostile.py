"""Hostile input, bad configuration and secrets: the README's "Security" section, tested from outside.

1. A hostile feed (tests/fixtures/hostile_feed.xml) and Hugging Face list (hostile_hf.json) end to
   end through the real CLI, to the real SMTP server and to the Slack stand-in: what arrives must
   be safe to open, and one bad paper must not stop the others.
2. Feeds as documents: entity declarations (external entities, a local URL, a billion laughs) in
   several encodings, size caps, redirects, timeouts, too many entries, and the defined behaviour
   for duplicates, missing fields and bad dates.
3. Properties (hypothesis): arbitrary text through the parsers, the matcher and both renderers.
4. Configuration errors: every class reported as `file:line: field: message`, all at once, and the
   database left byte-for-byte as it was.
5. Secrets: never in output, logs (-vv), `status` or the database.
6. The web app: malformed requests get a 4xx, never a 500 or a traceback; unsubscribe answers
   the same for a subscriber that does not exist.
"""

from __future__ import annotations

import contextlib
import email
import email.policy
import io
import json
import logging
import re
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import EmailMessage
from html.parser import HTMLParser
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from urllib.parse import urlencode, urlsplit
from xml.sax.saxutils import escape as xml_escape

import pytest
import responses
import waitress
from click.testing import CliRunner
from helpers import db_dump, digestbot, http_server, subscriber
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from test_email_delivery import body_parts, papers_in
from test_slack import (
    SIGNING_SECRET,
    assert_within_slack_limits,
    mrkdwn_texts,
    paper_ids,
    rich_papers,
    slack_signature,
    slack_sub,
    stop_server,
    strings,
)

from digestbot import collect
from digestbot.cli import cli
from digestbot.config import Env, SourceConfig, load_config
from digestbot.delivery.message import build_email
from digestbot.links import make_token
from digestbot.matching import InvalidTerm, Matcher, compile_term
from digestbot.models import Digest, Match, Paper, Profile, Subscriber
from digestbot.render import Renderer
from digestbot.sources import HttpClient, SourceError, fetch_source
from digestbot.sources.base import MAX_ABSTRACT, MAX_ENTRIES, parse_feed
from digestbot.sources.http import MAX_BYTES, MAX_REDIRECTS, Fetched, FetchError
from digestbot.store import Store
from digestbot.web import MAX_BODY, WebApp

# feedparser warns about its own updated_parsed/published_parsed fallback on items without dates.
pytestmark = pytest.mark.filterwarnings("ignore:To avoid breaking existing software:DeprecationWarning")

FIXTURES = Path(__file__).parent / "fixtures"
HOSTILE_FEED = FIXTURES / "hostile_feed.xml"
HOSTILE_HF = FIXTURES / "hostile_hf.json"
KEYWORD = "imitation learning"
WHEN = datetime(2024, 3, 14, 7, 0, tzinfo=UTC)

# What may never reach a header, a one-line field or the plain-text part: C0/C1 controls, line
# and paragraph separators, zero-width and bidirectional marks, lone surrogates. (The plain-text
# part may hold newlines: check it line by line.)
FORBIDDEN = re.compile(
    "[\x00-\x1f\x7f-\x9f\u061c\u180e\u200b\u200e\u200f\u2028-\u202e\u2060-\u2069\ufeff\ufff9-\ufffb\ud800-\udfff]"
    # A zero-width (non-)joiner spells words in some scripts: shown inside a word, never alone.
    r"|(?<!\S)[\u200c\u200d]|[\u200c\u200d](?!\S)"
)


def forbidden_in(text: str) -> list[str]:
    return [f"U+{ord(c):04X}" for c in FORBIDDEN.findall(text)]


# === 1. the hostile feed end to end =================================================================

# Papers the hostile files carry with an arXiv id: each must reach the digest, whatever the others hold.
ARXIV_IDS = {f"2501.{n}" for n in [*range(40001, 40008), *range(40010, 40017)]}
HF_IDS = {"2501.50001", "2501.50002", "2501.50003", "2501.50006"}
# Items without an arXiv id: an `rss` source keeps them (keyed by guid), `arxiv_rss` skips them.
NO_ARXIV_ID_TITLES = (
    "Link test javascript scheme",
    "Link test mixed case scheme",
    "Link test data scheme",
    "Link test vbscript scheme",
    "Link test deceptive host",
    "No link and no arXiv id",
)
HUGE_END = "ENDOFHUGEABSTRACT"  # the last word of the 200 KB abstract (paper 2501.40010)
# Subscribers whose one matching paper is a hostile title: their Subject is that title, cleaned.
SUBJECTS = {
    "hdr": (
        "headerinjection",
        "1 new paper for you: Imitation learning headerinjection Bcc: evil@example.org X-Injected: yes",
    ),
    "bidi": (
        "bidirectional",
        "1 new paper for you: Imitation learning bidirectional txt.exe isolate rlm zero",
    ),
    "ctl": ("controlchars", "1 new paper for you: Imitation learning controlchars NUL bell [31mANSI red [0m"),
}


def hostile_sources(kind: str) -> str:
    """The hostile feed as a local `kind` source (arxiv_rss or rss), and the hostile HF list."""
    return (
        f"- name: hostile\n  type: {kind}\n  url: {HOSTILE_FEED}\n"
        f"- name: hostile-hf\n  type: hf_daily\n  url: {HOSTILE_HF}\n"
    )


def everyone() -> str:
    """alice gets every paper; hdr, bidi and ctl one hostile title each."""
    subs = subscriber("alice", KEYWORD) + "  max_papers: 100\n"
    return subs + "".join(subscriber(sid, keyword) for sid, (keyword, _) in SUBJECTS.items())


TEMPLATE_TAGS = {
    "html",
    "head",
    "meta",
    "title",
    "style",
    "body",
    "div",
    "p",
    "a",
    "span",
    "br",
    "code",
    "img",
}
TEMPLATE_ATTRS = {"lang", "charset", "name", "content", "class", "style", "href", "dir", "id"}
THUMBNAIL_ATTRS = {"class", "src", "width", "height", "alt", "style"}
# Outlook's 600 px table, inside conditional comments only it reads
_MSO = re.compile(
    r'<!--\[if mso\]><table role="presentation" width="600" align="center" cellpadding="0" '
    r'cellspacing="0" border="0"><tr><td><!\[endif\]-->|<!--\[if mso\]></td></tr></table><!\[endif\]-->'
)
_TAG_START = re.compile(rf"<(?:/?(?:{'|'.join(sorted(TEMPLATE_TAGS))})[\s/>]|!DOCTYPE html>)", re.IGNORECASE)


class _Html(HTMLParser):
    """Every start tag with its attributes, and all the text, as a browser would see them."""

    def __init__(self, html: str):
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.data: list[str] = []
        self.feed(html)
        self.close()

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))

    handle_startendtag = handle_starttag

    def handle_data(self, data):
        self.data.append(data)

    @property
    def text(self) -> str:
        return " ".join("".join(self.data).split())


def assert_safe_html(html: str) -> _Html:
    """Only the template's own tags and attributes, only http(s) links: paper text is text."""
    head, _, body = html.partition("</head>")
    assert head.count("<style") == 1 and "<style" not in body.lower()  # the template's dark palette
    html = _MSO.sub("", html)
    lowered = html.lower()
    for needle in ("<script", "<iframe", "<svg", "<object", "<embed", "<form"):
        assert needle not in lowered, needle
    assert not re.search(r"<[^>]*\son\w+\s*=", html, re.IGNORECASE), "an event handler inside a tag"
    for m in re.finditer("<", html):
        assert _TAG_START.match(html, m.start()), f"unexpected markup: {html[m.start() : m.start() + 60]!r}"
    doc = _Html(html)
    for tag, attrs in doc.tags:
        assert tag in TEMPLATE_TAGS, tag
        if tag == "img":  # only the template's thumbnail: https, sized, with alt text
            assert set(attrs) == THUMBNAIL_ATTRS and attrs["class"] == "thumb", attrs
            assert (attrs["src"] or "").startswith("https://") and (attrs["width"], attrs["height"]) == (
                "160",
                "90",
            )
            continue
        assert set(attrs) <= TEMPLATE_ATTRS, (tag, attrs)
        if "href" in attrs:
            assert (attrs["href"] or "").startswith(("https://", "http://")), attrs["href"]
    return doc


def assert_clean_text(text: str) -> None:
    for n, line in enumerate(text.splitlines(), 1):
        assert not forbidden_in(line), f"line {n}: {forbidden_in(line)} in {line!r}"


HEADERS = {
    "Content-Type",
    "MIME-Version",
    "From",
    "To",
    "Subject",
    "Date",
    "Message-ID",
    "List-Id",
    "Auto-Submitted",
    "X-Auto-Response-Suppress",
}


def assert_headers_intact(raw: bytes) -> EmailMessage:
    """The header block is ASCII, every line a header or a folded continuation, and holds
    exactly digestbot's headers (none injected, none split); it parses without a defect."""
    head = re.split(rb"\r?\n\r?\n", raw, maxsplit=1)[0]
    assert head.isascii()
    lines = head.decode("ascii").splitlines()
    for line in lines:
        assert re.match(r"[A-Za-z][A-Za-z0-9-]*: |[ \t]\S", line), f"broken header line {line!r}"
    assert {line.split(":", 1)[0] for line in lines if not line[:1].isspace()} == HEADERS
    return email.message_from_bytes(raw, policy=email.policy.strict)


def paper_block(html: str, marker: str) -> str:
    """The HTML of the one paper whose block contains `marker`."""
    [block] = [b for b in html.split('<div class="paper"')[1:] if marker in b]
    return block.split("</div>")[0]


@pytest.mark.parametrize("kind", ["arxiv_rss", "rss"])
def test_hostile_feed_by_email_end_to_end(workdir, smtp_server, kind):
    workdir.write_config(hostile_sources(kind), everyone())
    workdir.use_smtp(smtp_server.url)

    digestbot(workdir, "run", "--once")

    addresses = ["alice@example.org", *(f"{sid}@example.org" for sid in SUBJECTS)]
    assert sorted(m.rcpt_tos for m in smtp_server.messages) == sorted((a,) for a in addresses)
    for mail in smtp_server.messages:
        msg = assert_headers_intact(mail.raw)
        subject = msg["Subject"]
        assert not forbidden_in(subject), (subject, forbidden_in(subject))
        text, html = body_parts(msg)
        assert_safe_html(html)
        assert_clean_text(text)
    for sid, (_, expected) in SUBJECTS.items():
        [mail] = smtp_server.to(f"{sid}@example.org")
        assert mail.message["Subject"].startswith(expected), mail.message["Subject"]

    [mail] = smtp_server.to("alice@example.org")
    assert papers_in(mail.message) == ARXIV_IDS | HF_IDS  # one bad paper stops no other
    text, html = body_parts(mail.message)
    for title in NO_ARXIV_ID_TITLES:
        assert (title in text) is (kind == "rss"), title
    # The 200 KB abstract arrives cut: its start is there, its end is not, the message stays small.
    assert "Imitation Learning at Length" in text and "We study imitation" in text
    assert HUGE_END not in text and HUGE_END not in html
    assert len(mail.raw) < 150_000
    with Store(workdir.db) as store:
        huge = store.paper("arxiv:2501.40010")
    assert huge is not None and len(huge.abstract) == MAX_ABSTRACT and HUGE_END not in huge.abstract
    # Markup arrives as text, Slack pings too.
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html and "<script>alert(1)</script>" in text
    assert "&lt;!channel&gt;" in html and "<!channel>" in text
    if kind == "rss":
        deceptive = paper_block(html, "Link test deceptive host")
        assert 'href="https://evil.example/phish"' in deceptive
        assert "evil.example" in deceptive.split('class="links"')[1]  # the real host, shown
        for title in ("Link test javascript scheme", "No link and no arXiv id"):
            assert "<a " not in paper_block(html, title).split("</p>")[0]  # shown, not linked


@pytest.fixture
def slack(workdir, slack_api):
    """Digests go to the Slack stand-in (one message per digest here: no spacing to wait out)."""
    workdir.monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-test")
    workdir.monkeypatch.setenv("DIGESTBOT_SLACK_API_URL", slack_api.url)
    return slack_api


_SLACK_LINK = re.compile(r"<https?://[^\s<>|]+\|[^<>]*>")


def slack_texts(message: dict) -> list[str]:
    """The fallback text and every text field of every block."""
    return [message["text"], *(s for block in message["blocks"] for s in strings(block))]


def assert_nothing_pings(message: dict) -> None:
    """No `<!…>`, `<@…>`, `<#…>` anywhere; in mrkdwn every `<` opens an http(s) link and every
    `&` an escape (rich_text is literal text: it shows `<` and `&` as they are)."""
    assert message.get("link_names", False) is False
    for text in slack_texts(message):
        assert not re.search(r"<[!@#]", text), text
    for text in mrkdwn_texts(message):
        assert "<" not in _SLACK_LINK.sub("", text), text
        assert not re.search(r"&(?!amp;|lt;|gt;)", text), text


@pytest.mark.parametrize("kind", ["arxiv_rss", "rss"])
def test_hostile_feed_to_slack_end_to_end(workdir, slack, kind):
    workdir.write_config(hostile_sources(kind), slack_sub("ml", "#ml-papers", KEYWORD, max_papers=100))

    digestbot(workdir, "run", "--once")

    posts = slack.posts
    assert len(posts) == 1
    linked = set()
    for post in posts:
        message = post.body
        assert_within_slack_limits(message)
        assert_nothing_pings(message)
        assert "<!" not in post.raw.decode() and "<@" not in post.raw.decode()
        linked |= set(paper_ids(message))
    assert linked == ARXIV_IDS | HF_IDS
    # paper text is literal rich_text: shown as written, a word joiner after each would-be mention's `<`
    texts = " ".join(
        t for post in posts for p in rich_papers(post.body) for t in (p.title, p.authors, p.abstract)
    ).replace("\u2060", "")
    for written in ("<!channel>", "<!here>", "<!everyone>", "<@U12345>"):
        assert written in texts
    assert "<!subteam^S123|@team>" in texts and "<#C12345>" in texts
    assert "a plain @here." in texts  # typed text, and link_names is off: it stays text


# --- found while writing the above: each its own test, so the end-to-end tests stay meaningful ---


def write_rss(path: Path, items: list[tuple[str, str, str]]) -> Path:
    """A generic RSS feed of (title, link, abstract) items, each keyed by its own guid."""
    body = "".join(
        f"<item><title>{xml_escape(t)}</title><link>{xml_escape(link)}</link>"
        f"<description>{xml_escape(a)}</description><guid>tag:hostile.example,2024:{n}</guid></item>"
        for n, (t, link, a) in enumerate(items)
    )
    path.write_text(f'<rss version="2.0"><channel><title>t</title>{body}</channel></rss>', encoding="utf-8")
    return path


RSS_SOURCE = "- name: blog\n  type: rss\n  url: blog.xml\n"
GOOD_ITEM = ("A good paper", "https://blog.example.org/good", "imitation learning done well.")


@pytest.mark.parametrize("link", ["https://[evil.example]/phish", "https://[::1/x", "https://a\uff03b/"])
def test_a_link_python_cannot_split_does_not_stop_the_digest(workdir, smtp_server, link):
    write_rss(
        workdir.path / "blog.xml", [("A bad link", link, "imitation learning, badly linked."), GOOD_ITEM]
    )
    workdir.write_config(RSS_SOURCE, subscriber("alice", KEYWORD))
    workdir.use_smtp(smtp_server.url)

    digestbot(workdir, "run", "--once")

    [mail] = smtp_server.messages
    text, _ = body_parts(mail.message)
    assert "A good paper" in text and "A bad link" in text


def test_links_reach_the_text_part_without_control_or_bidi_characters(workdir, smtp_server):
    link = "https://evil.example/\u202efdp.exe\u2066x\x7fy"
    write_rss(
        workdir.path / "blog.xml", [("Reversed link", link, "imitation learning, reversed."), GOOD_ITEM]
    )
    workdir.write_config(RSS_SOURCE, subscriber("alice", KEYWORD))
    workdir.use_smtp(smtp_server.url)

    digestbot(workdir, "run", "--once")

    [mail] = smtp_server.messages
    text, _ = body_parts(mail.message)
    assert "Reversed link" in text
    assert_clean_text(text)


RENDERER = Renderer()  # one template environment for the module: compiling templates is slow


def digest_of(*papers: Paper, terms: tuple[str, ...] = (KEYWORD,)) -> Digest:
    sub = Subscriber(id="alice", email="alice@example.org", profile=Profile(keywords=terms))
    return Digest(sub, [Match(p, 40, terms) for p in papers], len(papers), created=WHEN)


def browser_host(url: str) -> str | None:
    """The host a browser goes to (WHATWG URL: tab/CR/LF dropped, '\\' is '/' in http(s) URLs)."""
    return urlsplit(re.sub(r"[\t\r\n]", "", url).replace("\\", "/")).hostname


def test_the_host_shown_is_the_host_the_link_opens():
    link = "https://evil.example\\@arxiv.org/abs/2501.40001"
    html = RENDERER.email(digest_of(Paper(key="k", title="Imitation learning", link=link))).html

    block = paper_block(html, "Imitation learning")
    hrefs = re.findall(r'href="([^"]+)"', block)
    shown = re.search(r"· ([\w.-]+)\s", _Html(block).text + " ")
    assert not hrefs or (shown and shown.group(1) == browser_host(hrefs[0])), (hrefs, _Html(block).text)


# === 2. feeds as documents ==========================================================================


def make_source(kind: str = "rss", url: str | None = None, path: Path | None = None) -> SourceConfig:
    return SourceConfig(name="hostile", type=kind, url=url, path=path, every=3600)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with Store(tmp_path / "db.sqlite") as s:
        yield s


@pytest.fixture
def mocked() -> Iterator[responses.RequestsMock]:
    with responses.RequestsMock() as mock:
        yield mock


def client(**kwargs) -> HttpClient:
    return HttpClient(sleep=lambda s: None, **kwargs)


class _Fixed:
    """An HttpClient stand-in answering every GET with the same bytes."""

    max_bytes = MAX_BYTES

    def __init__(self, content: bytes):
        self.content = content

    def get(self, url, **kwargs) -> Fetched:
        return Fetched(self.content, 200)


def dump(store: Store) -> str:
    return "\n".join(store.conn.iterdump())


@dataclass
class Listener:
    """A TCP socket on loopback that nobody should ever connect to."""

    sock: socket.socket

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.sock.getsockname()[1]}/"

    def connections(self) -> int:
        """Connections made so far (a connect completes in the kernel, before any accept)."""
        count = 0
        while True:
            try:
                conn, _ = self.sock.accept()
            except BlockingIOError:
                return count
            conn.close()
            count += 1


@pytest.fixture
def listener() -> Iterator[Listener]:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(16)
        sock.setblocking(False)
        yield Listener(sock)


SECRET_FILE_TEXT = "S3CRET-FILE-CONTENT-7f3a"
_FEED_BODY = (
    '<rss version="2.0"><channel><title>t</title><item><title>x &e; y</title>'
    "<description>imitation learning</description><guid>g1</guid></item></channel></rss>"
)


def _laughs() -> str:
    entities = ['<!ENTITY l0 "lol">'] + [f'<!ENTITY l{i} "{f"&l{i - 1};" * 10}">' for i in range(1, 10)]
    return "".join(entities) + '<!ENTITY e "&l9;">'


def entity_doc(kind: str, secret_file: Path, local_url: str) -> str:
    subsets = {
        "local-file": f'<!ENTITY e SYSTEM "file://{secret_file}">',
        "etc-passwd": '<!ENTITY e SYSTEM "file:///etc/passwd">',
        "local-url": f'<!ENTITY e SYSTEM "{local_url}">',
        "parameter-entity": f'<!ENTITY % p SYSTEM "{local_url}"> %p;',
        "billion-laughs": _laughs(),
        "internal": '<!ENTITY e "INJECTED">',
    }
    return f"<!DOCTYPE rss [{subsets[kind]}]>{_FEED_BODY}"


ENCODINGS = {  # codec: the name the XML declaration gives
    "utf-8": "UTF-8",
    "utf-16": "UTF-16",  # with a byte order mark
    "utf-16-be": "UTF-16",
    "utf-16-le": "UTF-16",
    "utf-32": "UTF-32",
}
# Encodings feedparser decodes by itself (it reads the declaration, or sniffs EBCDIC), in which
# `<!ENTITY` is not ASCII bytes: the byte-level check in refuse_dtd does not see the declaration.
UNDETECTED = {"cp037": "cp037", "utf-7": "utf-7"}


def encode_doc(doc: str, codec: str, declared: str) -> bytes:
    text = f'<?xml version="1.0" encoding="{declared}"?>{doc}'
    if codec == "utf-7":  # '<!' as UTF-7 writes '<' in a base64 run: no '<!ENTITY' in the bytes
        return text.replace("<!", "+ADw-!").encode("ascii")
    return text.encode(codec)


def fetch_document(store: Store, tmp_path: Path, data: bytes) -> tuple[collect.SourceOutcome, float]:
    path = tmp_path / "feed.xml"
    path.write_bytes(data)
    started = time.monotonic()
    outcome = collect.fetch_one(store, make_source(path=path), client())
    return outcome, time.monotonic() - started


def assert_fetched_nothing(store: Store, listener: Listener) -> None:
    assert store.count_papers() == 0
    text = dump(store)
    assert SECRET_FILE_TEXT not in text and "root:" not in text
    assert listener.connections() == 0


@pytest.mark.parametrize("codec", list(ENCODINGS))
@pytest.mark.parametrize(
    "kind", ["local-file", "etc-passwd", "local-url", "parameter-entity", "billion-laughs", "internal"]
)
def test_feeds_declaring_entities_are_refused_before_parsing(store, tmp_path, listener, kind, codec):
    secret = tmp_path / "secret.txt"
    secret.write_text(SECRET_FILE_TEXT)
    data = encode_doc(entity_doc(kind, secret, listener.url), codec, ENCODINGS[codec])

    outcome, seconds = fetch_document(store, tmp_path, data)

    assert outcome.error is not None and "entities" in outcome.error, outcome.error
    assert seconds < 1.0
    assert_fetched_nothing(store, listener)
    assert store.source_state("hostile")["last_error"] == outcome.error


def test_an_external_dtd_reference_is_never_fetched(store, tmp_path, listener):
    doc = f'<!DOCTYPE rss SYSTEM "{listener.url}evil.dtd">{_FEED_BODY}'
    fetch_document(store, tmp_path, encode_doc(doc, "utf-8", "UTF-8"))

    assert listener.connections() == 0


@pytest.mark.parametrize("codec", list(UNDETECTED))
@pytest.mark.parametrize("kind", ["local-file", "local-url", "parameter-entity"])
def test_external_entities_stay_unresolved_even_in_encodings_the_check_misses(
    store, tmp_path, listener, kind, codec
):
    secret = tmp_path / "secret.txt"
    secret.write_text(SECRET_FILE_TEXT)
    data = encode_doc(entity_doc(kind, secret, listener.url), codec, UNDETECTED[codec])

    outcome, _ = fetch_document(store, tmp_path, data)

    assert outcome.error is None or "entities" in outcome.error  # read (the check missed it) or refused
    assert SECRET_FILE_TEXT not in dump(store) and listener.connections() == 0


@pytest.mark.parametrize("codec", list(UNDETECTED))
def test_entities_are_refused_whatever_the_encoding(store, tmp_path, listener, codec):
    data = encode_doc(entity_doc("internal", tmp_path / "none", listener.url), codec, UNDETECTED[codec])

    outcome, _ = fetch_document(store, tmp_path, data)

    assert outcome.error is not None and "entities" in outcome.error
    assert "INJECTED" not in dump(store)


FEED_URL = "https://feeds.example.org/feed.xml"
SMALL_FEED = (FIXTURES / "generic_rss.xml").read_bytes()


def test_fetches_carry_connect_and_read_timeouts(mocked):
    mocked.get(FEED_URL, body=SMALL_FEED)
    client().get(FEED_URL)
    assert mocked.calls[0].request.req_kwargs["timeout"] == (10.0, 30.0)


def test_a_server_that_never_answers_times_out(listener):
    started = time.monotonic()
    with pytest.raises(FetchError, match="timed out"):
        client(timeout=(1.0, 0.3)).get(listener.url)
    assert time.monotonic() - started < 3


@pytest.mark.parametrize("declared", [True, False], ids=["content-length", "streamed"])
def test_a_response_over_the_size_cap_fails_and_stores_nothing(mocked, store, declared):
    body = SMALL_FEED + b" " * (MAX_BYTES + 1 - len(SMALL_FEED))
    mocked.get(FEED_URL, body=body, headers={"Content-Length": str(len(body))} if declared else {})

    outcome = collect.fetch_one(store, make_source(url=FEED_URL), client())

    assert outcome.error is not None and "response too large" in outcome.error
    assert store.count_papers() == 0


@contextlib.contextmanager
def endless_server() -> Iterator[tuple[str, list[int]]]:
    """A local HTTP server streaming a feed that never ends; yields its URL and bytes sent."""
    sent = [0]
    chunk = b"<item><title>imitation learning</title><guid>g</guid></item>" * 1000

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200)
            self.send_header("Content-Type", "application/rss+xml")
            self.end_headers()
            self.wfile.write(b'<rss version="2.0"><channel><title>t</title>')
            with contextlib.suppress(OSError):
                while sent[0] < 200 * 1024 * 1024:  # a bound, so a broken client cannot hang the test
                    self.wfile.write(chunk)
                    sent[0] += len(chunk)

        def log_message(self, *args):
            pass

    with http_server(Handler) as root:
        yield f"{root}/feed.xml", sent


def test_an_endless_response_is_cut_off_at_the_cap():
    with endless_server() as (url, sent):
        with pytest.raises(FetchError, match="response too large"):
            client(max_bytes=256 * 1024).get(url)
        time.sleep(0.05)
        assert sent[0] < 16 * 1024 * 1024  # the client stopped reading long before the server would


def hop(n: int) -> str:
    return FEED_URL if n == 0 else f"https://feeds.example.org/hop{n}.xml"


def redirects(mocked: responses.RequestsMock, hops: int, last: str | None = None) -> None:
    """FEED_URL redirects `hops` times, then answers the feed (or the last hop points at `last`)."""
    for n in range(hops):
        target = last if last is not None and n + 1 == hops else hop(n + 1)
        mocked.get(hop(n), status=302, headers={"Location": target})
    if last is None:
        mocked.get(hop(hops), body=SMALL_FEED)


def test_five_redirects_are_followed(mocked, store):
    redirects(mocked, MAX_REDIRECTS)
    outcome = collect.fetch_one(store, make_source(url=FEED_URL), client())
    assert outcome.error is None and outcome.new == 3


def test_more_than_five_redirects_fail_and_store_nothing(mocked, store):
    redirects(mocked, MAX_REDIRECTS + 1)
    mocked.assert_all_requests_are_fired = False
    outcome = collect.fetch_one(store, make_source(url=FEED_URL), client())
    assert outcome.error == "more than 5 redirects"
    assert store.count_papers() == 0


@pytest.mark.parametrize(
    "target", ["file:///etc/passwd", "FILE:///etc/passwd", "ftp://127.0.0.1/feed", "gopher://127.0.0.1:70/"]
)
def test_a_redirect_to_another_scheme_cannot_be_followed(mocked, store, target):
    redirects(mocked, 1, last=target)
    outcome = collect.fetch_one(store, make_source(url=FEED_URL), client())
    assert outcome.error is not None and outcome.error.startswith("redirected away from http(s), to ")
    assert store.count_papers() == 0 and "root:" not in dump(store)


def rss_with(n: int) -> bytes:
    items = "".join(f"<item><guid>g{i}</guid><title>p{i}</title></item>" for i in range(n))
    return f'<rss version="2.0"><channel><title>t</title>{items}</channel></rss>'.encode()


def test_a_feed_over_max_entries_is_refused(mocked, store):
    mocked.get(FEED_URL, body=rss_with(MAX_ENTRIES + 1))
    outcome = collect.fetch_one(store, make_source(url=FEED_URL), client())
    assert outcome.error == f"feed has {MAX_ENTRIES + 1} entries; at most {MAX_ENTRIES} are accepted"
    assert store.count_papers() == 0


def test_a_feed_at_max_entries_is_read():
    assert len(parse_feed(rss_with(MAX_ENTRIES)).entries) == MAX_ENTRIES


def parse_fixture(kind: str, path: Path = HOSTILE_FEED):
    return fetch_source(make_source(kind, path=path), client())


def by_key(papers: list[Paper]) -> dict[str, list[Paper]]:
    found: dict[str, list[Paper]] = {}
    for p in papers:
        found.setdefault(p.key, []).append(p)
    return found


def test_rss_source_defined_behaviour_for_broken_items():
    result = parse_fixture("rss")
    papers = by_key(result.papers)
    assert "arxiv:2501.40011: listed twice in the feed" in result.skipped  # the second copy
    assert [p.title for p in papers["arxiv:2501.40011"]] == ["Duplicate guid, first copy"]
    [untracked] = [p for ps in papers.values() for p in ps if p.title == "Neither guid nor link"]
    assert untracked.key.startswith("sha1:") and untracked.link == ""  # keyed by its content
    assert papers["arxiv:2501.40012"][0].display_title == "(untitled)"  # no <title>
    assert papers["arxiv:2501.40016"][0].display_title == "(untitled)"  # a title of invisible characters
    assert papers["arxiv:2501.40013"][0].link == "https://arxiv.org/abs/2501.40013"  # from the guid
    assert papers["tag:hostile.example,2024:nolink"][0].link == ""
    assert papers["arxiv:2501.40014"][0].published is None  # year 2999: unknown, not the future
    assert papers["arxiv:2501.40015"][0].published is None  # unparseable
    assert papers["arxiv:2501.40001"][0].published == datetime(2024, 3, 14, 4, 0, tzinfo=UTC)
    assert papers["tag:hostile.example,2024:javascript"][0].link == ""  # only ever http(s), or none


def test_arxiv_rss_source_defined_behaviour_for_broken_items(store):
    result = parse_fixture("arxiv_rss")
    papers = by_key(result.papers)
    assert len(papers["arxiv:2501.40011"]) == 2  # the parser keeps both; the store keeps one
    assert result.skipped == [
        "javascript:alert(document.cookie): no arXiv id",
        "JaVaScRiPt:alert(1): no arXiv id",
        "data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==: no arXiv id",
        "vbscript:msgbox(1): no arXiv id",
        "https://evil.example/phish: no arXiv id",
        "No link and no arXiv id: no arXiv id",
        "Neither guid nor link: no arXiv id",
    ]
    assert papers["arxiv:2501.40013"][0].link == "https://arxiv.org/abs/2501.40013"
    assert papers["arxiv:2501.40014"][0].published is None
    assert papers["arxiv:2501.40015"][0].published is None

    new, known = store.add_papers(result.papers, "hostile")

    assert (new, known) == (len(papers), 1)
    assert store.paper("arxiv:2501.40011").title == "Duplicate guid, first copy"


def test_hf_daily_defined_behaviour_for_broken_items():
    result = parse_fixture("hf_daily", HOSTILE_HF)
    papers = {p.key: p for p in result.papers}
    assert set(papers) == {f"arxiv:{i}" for i in HF_IDS}
    assert result.skipped == ["'javascript:alert(1)': not an arXiv id", "an item without a 'paper' object"]
    assert papers["arxiv:2501.50003"].display_title == "(untitled)"
    hostile = papers["arxiv:2501.50002"]
    assert (hostile.upvotes, hostile.published) == (None, None)  # "9999" is not a count; a bad date
    assert papers["arxiv:2501.50006"].upvotes is None  # true is not a count either
    for text in (hostile.title, *hostile.authors):
        assert not forbidden_in(text), (text, forbidden_in(text))
    assert not forbidden_in(hostile.abstract.replace("\n", " "))
    assert "Bcc: evil@example.org" in hostile.title  # the CR/LF went, the words stay


def test_arxiv_rss_papers_without_a_title_get_a_visible_one():
    titles = {p.key: p.display_title for p in parse_fixture("arxiv_rss").papers}
    assert titles["arxiv:2501.40012"] and titles["arxiv:2501.40016"]


@pytest.mark.parametrize("kind", ["rss", "arxiv_rss", "arxiv_api"])
def test_an_empty_response_is_a_clear_source_error(kind):
    with pytest.raises(SourceError):
        fetch_source(make_source(kind, url=FEED_URL), _Fixed(b""))


@pytest.mark.parametrize("authors", [5, True, 1.5])
def test_one_malformed_hf_item_does_not_fail_the_list(authors):
    items = [
        {"paper": {"id": "2501.50001", "title": "Good", "authors": [{"name": "Ada"}]}},
        {"paper": {"id": "2501.50002", "title": "Bad", "authors": authors}},
    ]
    result = fetch_source(make_source("hf_daily", url=FEED_URL), _Fixed(json.dumps(items).encode()))
    assert "arxiv:2501.50001" in {p.key for p in result.papers}


# === 3. properties ===================================================================================

PROPERTY = settings(
    max_examples=120,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
SNIPPETS = [
    "<script>alert(1)</script>",
    "<img src=x onerror=alert(1)>",
    '<a href="javascript:alert(1)">x</a>',
    "<!channel>",
    "<!here>",
    "<@U12345>",
    "<#C12345>",
    "<!subteam^S1|@team>",
    "<https://evil.example|arxiv.org>",
    "&amp;",
    "&lt;",
    "&#0;",
    "\r\nBcc: evil@example.org\r\n",
    "]]>",
    "<![CDATA[",
    "imitation learning",
    "Imitation-Learning",
    "*",
    "_",
    "`",
    "|",
    "\\",
    "https://arxiv.org/abs/2501.00001",
]
SPECIALS = [chr(c) for c in [*range(0x20), *range(0x7F, 0xA0)]] + list(
    "\u2028\u2029\u200b\u200d\u200e\u200f\u202a\u202d\u202e\u2066\u2069\ufeff\u0085&<>\"'"
)
_PIECES = st.one_of(st.characters(), st.sampled_from(SPECIALS), st.sampled_from(SNIPPETS))
TEXT = st.lists(
    st.one_of(_PIECES, st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF)), max_size=25
).map("".join)
# Links reach the renderer only from the store, which cannot hold lone surrogates.
LINK_TEXT = st.lists(_PIECES, max_size=15).map("".join)
LINKS = st.one_of(
    LINK_TEXT, LINK_TEXT.map("https://".__add__), st.sampled_from(["javascript:alert(1)", "data:x,y", ""])
)


# Keywords come from the operator's YAML or a Slack user's own /digest: plain words, not feed text.
KEYWORDS = st.lists(
    st.one_of(
        st.sampled_from([KEYWORD, "robot*", "self-supervised", "script", "channel", "here", "amp", "lt"]),
        st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789 -_éü", min_size=1, max_size=12),
    ),
    max_size=2,
)


def rss_document(title: str, abstract: str, author: str, link: str) -> str:
    """An arXiv-style and a plain item, the text XML-escaped as any feed writer would."""
    t, a, au, li = (xml_escape(s) for s in (title, abstract, author, link))
    return (
        '<?xml version="1.0" encoding="UTF-8"?><rss xmlns:dc="http://purl.org/dc/elements/1.1/" '
        'version="2.0"><channel><title>t</title>'
        f"<item><title>{t}</title><link>{li}</link><description>arXiv:2501.00001v1 Announce Type: new\n"
        f"Abstract: {a}</description><guid>oai:arXiv.org:2501.00001v1</guid><dc:creator>{au}</dc:creator></item>"
        f"<item><title>{t}</title><link>{li}</link><description>{a}</description><guid>{li}</guid></item>"
        "</channel></rss>"
    )


def atom_document(title: str, abstract: str, author: str, link: str) -> str:
    t, a, au, li = (xml_escape(s) for s in (title, abstract, author, link))
    href = xml_escape(link, {'"': "&quot;"})
    return (
        '<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom"><title>t</title>'
        f'<entry><id>{li}</id><title type="text">{t}</title><link href="{href}"/>'
        f'<summary type="html">{a}</summary><author><name>{au}</name></author></entry></feed>'
    )


def hf_document(title: str, abstract: str, author: str, link: str) -> str:
    paper = {"id": "2501.00001", "title": title, "summary": abstract, "authors": [{"name": author}]}
    return json.dumps([{"paper": {**paper, "publishedAt": link}}, {"paper": {"id": link, "title": title}}])


DOCUMENTS = [
    ("rss", rss_document),
    ("arxiv_rss", rss_document),
    ("rss", atom_document),
    ("arxiv_api", atom_document),
    ("hf_daily", hf_document),
]


@PROPERTY
@given(TEXT, TEXT, TEXT, TEXT)
def test_parsers_raise_nothing_but_source_error_and_keep_one_line_fields_clean(title, abstract, author, link):
    for kind, document in DOCUMENTS:
        data = document(title, abstract, author, link).encode("utf-8", "surrogatepass")
        try:
            result = fetch_source(make_source(kind, url=FEED_URL), _Fixed(data))
        except SourceError:
            continue
        for paper in result.papers:
            for text in (paper.title, *paper.authors):
                assert not forbidden_in(text), (kind, text)
            for text in (paper.key, paper.abstract, paper.link, paper.pdf_url):
                text.encode("utf-8")  # storable: no lone surrogate


@PROPERTY
@given(st.binary(min_size=1, max_size=300))  # b"": test_an_empty_response_is_a_clear_source_error
def test_parsers_survive_arbitrary_bytes(data):
    for kind in ("rss", "arxiv_rss", "arxiv_api", "hf_daily"):
        with contextlib.suppress(SourceError):
            fetch_source(make_source(kind, url=FEED_URL), _Fixed(data))


def profile_from(keywords: list[str], authors: list[str], exclude: list[str]) -> Profile:
    def valid(terms: list[str]) -> tuple[str, ...]:
        kept = []
        for term in terms:
            with contextlib.suppress(InvalidTerm):
                compile_term(term)
                kept.append(term)
        return tuple(kept)

    return Profile(keywords=valid(keywords) or (KEYWORD,), authors=tuple(authors), exclude=valid(exclude))


def hostile_paper(title: str, abstract: str, authors: list[str], link: str = "") -> Paper:
    return Paper(
        key="k",
        title=title,
        abstract=abstract,
        authors=tuple(authors),
        link=link,
        pdf_url=link,
        categories=("cs.LG",),
        seq=1,
    )


@PROPERTY
@given(TEXT, TEXT, st.lists(TEXT, max_size=3), st.lists(TEXT, max_size=3), st.lists(TEXT, max_size=2))
def test_the_matcher_never_raises(title, abstract, authors, keywords, exclude):
    profile = profile_from(keywords, authors[:1], exclude)
    paper = hostile_paper(title, abstract, authors)
    for _, match in Matcher({"a": profile, "b": Profile(categories=("cs",))}).match(paper):
        assert match.paper is paper


def splittable(link: str) -> bool:
    """Links urlsplit cannot read crash rendering: test_a_link_python_cannot_split_does_not_stop_the_digest."""
    try:
        urlsplit(link).hostname  # noqa: B018
    except ValueError:
        return False
    return True


@PROPERTY
@given(TEXT, TEXT, st.lists(TEXT, max_size=3), LINKS, KEYWORDS)
def test_emails_of_arbitrary_papers_are_well_formed_and_hold_no_markup(
    title, abstract, authors, link, keywords
):
    assume(splittable(link))
    profile = profile_from(keywords, [], [])
    digest = digest_of(hostile_paper(title, abstract, authors, link), terms=profile.keywords)
    parts = RENDERER.email(digest)
    msg = build_email(
        parts, sender="Digest <digest@example.org>", to="alice@example.org", message_id="<1@x>", date=WHEN
    )

    raw = msg.as_bytes()
    back = assert_headers_intact(raw)
    assert not forbidden_in(back["Subject"])
    text, html = body_parts(back)
    shown_link = link.strip()  # links keep their characters: test_links_reach_the_text_part_without_...
    assert_clean_text(text.replace(shown_link, "") if shown_link.startswith("https://") else text)
    doc = assert_safe_html(html)
    shown = " ".join(FORBIDDEN.sub(" ", title).split())
    assert shown in doc.text  # the title arrives as text, whatever it holds


@PROPERTY
@given(TEXT, TEXT, st.lists(TEXT, max_size=3), LINKS, KEYWORDS)
def test_slack_messages_of_arbitrary_papers_ping_nobody_and_fit(title, abstract, authors, link, keywords):
    assume(splittable(link))
    profile = profile_from(keywords, [], [])
    papers = [hostile_paper(title * n, abstract * n, authors * n, link) for n in (1, 5, 40)]
    for message in RENDERER.slack(digest_of(*papers, terms=profile.keywords)):
        assert_within_slack_limits(message)
        for text in slack_texts(message):
            assert not re.search(r"<[!@#]", text), text


# === 4. configuration errors =========================================================================

GOOD_YAML = """\
timezone: UTC
email:
  from: "Paper digest <digest@example.org>"
sources:
  - name: feed
    type: arxiv_rss
    url: feed.xml
subscribers:
  - id: alice
    email: alice@example.org
    keywords: [imitation learning]
    schedule: daily 08:00
    timezone: Europe/Berlin
  - id: bob
    email: bob@example.org
    keywords: [reasoning]
  - id: carol
    email: carol@example.org
    keywords: [diffusion policy]
"""


@dataclass(frozen=True)
class Broken:
    """A change to GOOD_YAML (replace line `old` by the lines `new`) and the problem it must give,
    reported at the last line of `new`."""

    old: str
    new: str
    field: str
    message: str

    def apply(self, text: str) -> str:
        assert text.count(self.old + "\n") == 1, self.old
        return text.replace(self.old + "\n", self.new + "\n")

    def line(self, text: str) -> int:
        lines = text.splitlines()
        return len(lines) - lines[::-1].index(self.new.splitlines()[-1])  # the last such line


BROKEN = {
    "unknown-key": Broken(
        "    keywords: [imitation learning]",
        "    keywords: [imitation learning]\n    exlcude: [survey]",
        "subscribers[0].exlcude",
        "unknown key (did you mean 'exclude'?)",
    ),
    "wrong-type": Broken(
        "    keywords: [diffusion policy]",
        "    keywords: [diffusion policy]\n    max_papers: lots",
        "subscribers[2].max_papers",
        "expected a whole number from 1 to 1000, got 'lots'",
    ),
    "invalid-email": Broken(
        "    email: bob@example.org",
        "    email: bob(at)example.org",
        "subscribers[1].email",
        "not an email address: 'bob(at)example.org'",
    ),
    "unknown-timezone": Broken(
        "    timezone: Europe/Berlin",
        "    timezone: Europe/Berln",
        "subscribers[0].timezone",
        "unknown timezone 'Europe/Berln' (did you mean 'Europe/Berlin'?)",
    ),
    "impossible-schedule": Broken(
        "    schedule: daily 08:00",
        '    schedule: "0 8 30 2 *"',
        "subscribers[0].schedule",
        "schedule '0 8 30 2 *' never fires",
    ),
    "duplicate-id": Broken("  - id: bob", "  - id: alice", "subscribers[1].id", "duplicate id 'alice'"),
    "duplicate-key": Broken(
        "    email: alice@example.org",
        "    email: alice@example.org\n    email: alice@example.net",
        "subscribers[0].email",
        "duplicate key",
    ),
    "python-tag": Broken(
        "    keywords: [reasoning]",
        "    keywords: !!python/name:os.system",
        "yaml",
        "could not determine a constructor for the tag 'tag:yaml.org,2002:python/name:os.system'",
    ),
}


def db_files(workdir) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(workdir.path.glob("digestbot.db*"))}


@pytest.fixture
def existing_db(workdir) -> dict[str, bytes]:
    """A database made by a good config (papers fetched, subscribers synced); its bytes."""
    (workdir.path / "feed.xml").write_bytes((FIXTURES / "arxiv_rss_cs_lg.xml").read_bytes())
    workdir.config.write_text(GOOD_YAML, encoding="utf-8")
    digestbot(workdir, "fetch")
    before = db_files(workdir)
    assert "digestbot.db" in before
    return before


def problems_of(workdir, *args: str, expect: int = 2) -> list[str]:
    result = digestbot(workdir, *args, expect=expect)
    lines = result.stderr.splitlines()
    assert lines[-1] == f"{len(lines) - 1} problem(s) in {workdir.config}; nothing was changed."
    return lines[:-1]


@pytest.mark.parametrize("command", ["sync", "send"])
@pytest.mark.parametrize("case", list(BROKEN))
def test_each_config_error_names_its_line_and_changes_nothing(workdir, existing_db, case, command):
    broken = BROKEN[case]
    text = broken.apply(GOOD_YAML)
    workdir.config.write_text(text, encoding="utf-8")

    problems = problems_of(workdir, command)

    assert problems == [f"{workdir.config}:{broken.line(text)}: {broken.field}: {broken.message}"]
    assert db_files(workdir) == existing_db


def test_every_problem_in_one_file_is_reported_at_once(workdir, existing_db):
    together = [b for name, b in BROKEN.items() if name != "python-tag"]  # a YAML error ends reading
    text = GOOD_YAML
    for broken in together:
        text = broken.apply(text)
    workdir.config.write_text(text, encoding="utf-8")

    problems = problems_of(workdir, "check")

    expected = sorted(
        (b.line(text), f"{workdir.config}:{b.line(text)}: {b.field}: {b.message}") for b in together
    )
    assert problems == [line for _, line in expected]
    problems_of(workdir, "sync")
    assert db_files(workdir) == existing_db


def test_a_bad_max_papers_is_reported_with_the_subscribers_other_problems(workdir, existing_db):
    text = (
        BROKEN["invalid-email"]
        .apply(GOOD_YAML)
        .replace("    keywords: [reasoning]", "    keywords: [reasoning]\n    max_papers: lots")
    )
    workdir.config.write_text(text, encoding="utf-8")

    problems = problems_of(workdir, "check")

    assert any("subscribers[1].email: not an email address" in p for p in problems)
    assert any("subscribers[1].max_papers: expected a whole number" in p for p in problems), problems


NOT_A_MAPPING = ["- just\n- a list\n", "just a string\n", "42\n"]


@pytest.mark.parametrize("text", NOT_A_MAPPING, ids=["list", "string", "number"])
def test_a_config_that_is_not_a_mapping_is_refused(workdir, existing_db, text):
    workdir.config.write_text(text, encoding="utf-8")

    [problem] = problems_of(workdir, "sync")

    assert problem.startswith(f"{workdir.config}:1: ") and "expected a mapping, got" in problem
    assert db_files(workdir) == existing_db


@pytest.mark.parametrize("text", NOT_A_MAPPING, ids=["list", "string", "number"])
def test_a_config_that_is_not_a_mapping_names_a_field(workdir, text):
    workdir.config.write_text(text, encoding="utf-8")
    [problem] = problems_of(workdir, "check")
    assert re.fullmatch(rf"{re.escape(str(workdir.config))}:1: [^: ]+: expected a mapping, got .+", problem)


def python_tag(form: str, marker: Path) -> Broken:
    """GOOD_YAML with a python tag that would run `touch marker` (or at least build a python object)
    if a non-safe loader constructed it; safe loading must refuse it at its line."""
    if form == "scalar":
        return BROKEN["python-tag"]
    old, new = {
        "sequence": (
            "    keywords: [reasoning]",
            f'    keywords: !!python/object/apply:os.system ["touch {marker}"]',
        ),
        "mapping-args": (
            "    keywords: [reasoning]",
            f'    keywords: !!python/object/apply:os.system {{args: ["touch {marker}"]}}',
        ),
        "popen": (
            "    keywords: [reasoning]",
            f'    keywords: !!python/object/new:subprocess.Popen [["touch", "{marker}"]]',
        ),
        "mapping": ("email:", "email: !!python/object:builtins.dict"),  # the tag on a valid mapping
    }[form]
    return Broken(old, new, "yaml", "could not determine a constructor for the tag")


@pytest.mark.parametrize("form", ["scalar", "sequence", "mapping-args", "popen", "mapping"])
def test_python_tags_never_run(workdir, tmp_path, form):
    marker = tmp_path / "PWNED"
    (workdir.path / "feed.xml").write_bytes((FIXTURES / "arxiv_rss_cs_lg.xml").read_bytes())
    workdir.config.write_text(python_tag(form, marker).apply(GOOD_YAML), encoding="utf-8")

    for command in ("check", "sync", "send"):
        result = CliRunner().invoke(cli, ["--config", str(workdir.config), "--db", str(workdir.db), command])
        assert result.exception is None or isinstance(result.exception, SystemExit)  # any exit code

    assert not marker.exists()


@pytest.mark.parametrize(
    "form",
    [
        "scalar",
        "sequence",
        "mapping",
    ],
)
def test_python_tags_are_refused(workdir, existing_db, tmp_path, form):
    broken = python_tag(form, tmp_path / "PWNED")
    text = broken.apply(GOOD_YAML)
    workdir.config.write_text(text, encoding="utf-8")

    [problem] = problems_of(workdir, "sync")

    assert problem.startswith(f"{workdir.config}:{broken.line(text)}: yaml: {broken.message}"), problem
    assert db_files(workdir) == existing_db


@pytest.mark.parametrize(
    ("old", "new", "field", "message"),
    [
        ("timezone: UTC", "timezone: 5", "timezone", "unknown timezone '5'"),
        (
            "    timezone: Europe/Berlin",
            "    timezone: [Europe/Berlin]",
            "subscribers[0].timezone",
            "expected text",
        ),
        (
            "    schedule: daily 08:00",
            "    schedule: 800",
            "subscribers[0].schedule",
            "cannot read schedule '800'",
        ),
        (  # a date is read as it is written, not as the date YAML made of it
            "    schedule: daily 08:00",
            "    schedule: 2024-03-14",
            "subscribers[0].schedule",
            "cannot read schedule '2024-03-14'",
        ),
    ],
)
def test_timezone_and_schedule_of_the_wrong_type_are_reported(workdir, existing_db, old, new, field, message):
    broken = Broken(old, new, field, message)
    text = broken.apply(GOOD_YAML)
    workdir.config.write_text(text, encoding="utf-8")

    problems = problems_of(workdir, "sync")

    assert any(p.startswith(f"{workdir.config}:{broken.line(text)}: {field}: {message}") for p in problems), (
        problems
    )
    assert db_files(workdir) == existing_db


# === 5. secrets ======================================================================================

SECRET = "S3CRET"
SLACK_TOKEN = "xoxb-S3CRET-TOKEN"


@pytest.fixture
def restore_logging() -> Iterator[None]:
    """-vv turns the root logger and libraries to DEBUG with a handler on the runner's stderr."""
    names = ("", "urllib3", "slack_sdk", "slack_bolt", "apscheduler", "mail.log")
    saved = {n: logging.getLogger(n).level for n in names}
    handlers = logging.getLogger().handlers[:]
    yield
    logging.getLogger().handlers[:] = handlers
    for name, level in saved.items():
        logging.getLogger(name).setLevel(level)


def smtp_url_with(closed_smtp_url: str, userinfo: str) -> str:
    return closed_smtp_url.replace("smtp://", f"smtp://{userinfo}@")


@pytest.fixture
def secret_setup(workdir, slack, closed_smtp_url, restore_logging):
    """Secrets in the environment, an SMTP server that refuses connections, and a Slack API that
    answers invalid_auth; one email and one Slack subscriber, a feed that matches both."""
    (workdir.path / "feed.xml").write_bytes((FIXTURES / "arxiv_rss_cs_lg.xml").read_bytes())
    workdir.write_config(
        "- name: feed\n  type: arxiv_rss\n  url: feed.xml\n"
        f"- name: down\n  type: rss\n  url: {closed_smtp_url.replace('smtp', 'http')}/feed.xml\n",
        subscriber("alice", KEYWORD) + slack_sub("ml", "#ml-papers", KEYWORD),
    )
    workdir.use_smtp(smtp_url_with(closed_smtp_url, "user:S3CRET-PW"))
    for name, value in {
        "SLACK_BOT_TOKEN": SLACK_TOKEN,
        "DIGESTBOT_SECRET": "S3CRET-SIGN",
        "DIGESTBOT_BASE_URL": "https://digest.example.org",
        "SLACK_SIGNING_SECRET": "S3CRET-SLACK-SIGNING",
    }.items():
        workdir.monkeypatch.setenv(name, value)
    slack.fail("chat.postMessage", "invalid_auth", times=5)
    return slack


def test_secrets_never_appear_in_output_logs_or_the_database(workdir, secret_setup, closed_smtp_url):
    outputs = {
        command: digestbot(workdir, "-vv", command, expect=code).output
        for command, code in (("fetch", 1), ("send", 1), ("status", 0), ("check", 0))
    }

    for command, output in outputs.items():
        assert SECRET not in output, f"{command}: {output}"
    assert "DEBUG" in outputs["send"]  # -vv really logged the requests
    assert SECRET not in "\n".join(db_dump(workdir.db))
    port = urlsplit(closed_smtp_url).port
    assert f"smtp://user:***@127.0.0.1:{port}" in outputs["status"]
    # The token was used (so it had every chance to leak), and the Slack error was stored without it.
    [post] = secret_setup.posts
    assert post.headers["authorization"] == f"Bearer {SLACK_TOKEN}"
    with Store(workdir.db) as store:
        errors = {d.subscriber_id: d.last_error for d in store.digests()}
    assert errors["ml"].startswith("Slack API error: invalid_auth: set SLACK_BOT_TOKEN")
    assert errors["alice"].startswith(f"cannot reach SMTP server smtp://user:***@127.0.0.1:{port}:")


@pytest.mark.parametrize("userinfo", ["user:pa@S3CRET", ":S3CRET"], ids=["at-sign", "no-user"])
def test_status_masks_any_smtp_password(workdir, closed_smtp_url, userinfo):
    workdir.write_config("", subscriber("alice", KEYWORD))
    workdir.use_smtp(smtp_url_with(closed_smtp_url, userinfo))

    output = digestbot(workdir, "status").output

    assert "***" in output and SECRET not in output


# === 6. the web app ==================================================================================

UNSUB_SECRET = "unsub-secret"


@dataclass(frozen=True)
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes


@pytest.fixture
def web_app(workdir) -> Iterator[WebApp]:
    """The WSGI app over a config with one subscriber (synced), a signing and an unsubscribe secret."""
    workdir.write_config("", subscriber("alice", KEYWORD))
    digestbot(workdir, "sync")
    env = Env(
        outbox=workdir.outbox,
        secret=UNSUB_SECRET,
        base_url="http://digest.example.org",
        slack_signing_secret=SIGNING_SECRET,
    )
    app = WebApp(load_config(workdir.config), env, workdir.db)
    yield app
    app.close()


def call(
    app: WebApp,
    method: str,
    path: str,
    body: bytes = b"",
    query: str = "",
    content_length: str | None = None,
    headers: dict[str, str] | None = None,
) -> Answer:
    environ = {
        "REQUEST_METHOD": method,
        "PATH_INFO": path,
        "QUERY_STRING": query,
        "CONTENT_LENGTH": str(len(body)) if content_length is None else content_length,
        "CONTENT_TYPE": "application/x-www-form-urlencoded",
        "SERVER_NAME": "digest.example.org",
        "SERVER_PORT": "80",
        "wsgi.url_scheme": "http",
        "wsgi.input": io.BytesIO(body),
        **{"HTTP_" + k.upper().replace("-", "_"): v for k, v in (headers or {}).items()},
    }
    started: dict = {}

    def start_response(status: str, response_headers: list[tuple[str, str]]) -> None:
        started.update(status=int(status[:3]), headers=dict(response_headers))

    out = b"".join(app(environ, start_response))
    return Answer(started["status"], started["headers"], out)


def signed(body: bytes) -> dict[str, str]:
    timestamp = str(int(time.time()))
    return {
        "X-Slack-Request-Timestamp": timestamp,
        "X-Slack-Signature": slack_signature(SIGNING_SECRET, timestamp, body),
    }


MALFORMED = {
    "content-length-text": dict(method="POST", path="/slack/commands", body=b"x", content_length="abc"),
    "content-length-float": dict(method="POST", path="/slack/commands", body=b"x", content_length="1e3"),
    "content-length-negative": dict(method="POST", path="/slack/commands", body=b"x", content_length="-1"),
    "content-length-huge": dict(method="POST", path="/unsubscribe", content_length=str(10**12)),
    "body-over-64k": dict(method="POST", path="/slack/commands", body=b"a=" + b"x" * MAX_BODY),
    "garbage-form-signed": dict(
        method="POST", path="/slack/commands", body=b"\x00%%%&&==;;%zz=%", signed=True
    ),
    "non-utf8-signed": dict(method="POST", path="/slack/commands", body=b"user_id=\xff\xfe\xfd", signed=True),
    "non-utf8-unsigned": dict(method="POST", path="/slack/commands", body=b"\xff\xfe\xfd"),
    "events-not-json-signed": dict(method="POST", path="/slack/events", body=b"{not json", signed=True),
    "bad-signature-header": dict(
        method="POST",
        path="/slack/commands",
        body=b"user_id=U1",
        headers={"X-Slack-Request-Timestamp": "12\u00e9", "X-Slack-Signature": "v0=\u00ff"},
    ),
    "get-commands": dict(method="GET", path="/slack/commands"),
    "put-commands": dict(method="PUT", path="/slack/commands"),
    "delete-unsubscribe": dict(method="DELETE", path="/unsubscribe"),
    "post-healthz": dict(method="POST", path="/healthz"),
    "traversal": dict(method="GET", path="/../../etc/passwd"),
    "traversal-encoded": dict(method="GET", path="/%2e%2e/%2e%2e/etc/passwd"),
    "traversal-after-route": dict(method="GET", path="/unsubscribe/../../etc/passwd"),
    "double-slash": dict(method="GET", path="//etc/passwd"),
    "nul-in-path": dict(method="GET", path="/unsubscribe\x00"),
    "token-not-utf8": dict(method="GET", path="/unsubscribe", query="t=%ff%fe%00"),
    "token-huge": dict(method="GET", path="/unsubscribe", query="t=" + "A" * 100_000),
    "token-in-garbage-body": dict(method="POST", path="/unsubscribe", body=b"t=\xff\xfe.%%"),
}


@pytest.mark.parametrize("case", list(MALFORMED))
def test_malformed_requests_get_a_4xx_and_no_traceback(web_app, workdir, caplog, case):
    spec = dict(MALFORMED[case])
    headers = spec.pop("headers", None) or (
        signed(spec.get("body", b"")) if spec.pop("signed", False) else {}
    )
    before = db_dump(workdir.db)

    with caplog.at_level(logging.INFO, logger="digestbot"):
        answer = call(web_app, headers=headers, **spec)

    assert 400 <= answer.status < 500, (answer.status, answer.body[:200])
    assert b"Traceback" not in answer.body and b'File "' not in answer.body and b"root:" not in answer.body
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert db_dump(workdir.db) == before


RAW_REQUESTS = {
    "content-length-text": b"POST /slack/commands HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n",
    "content-lengths-disagree": (
        b"POST /slack/commands HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nContent-Length: 5\r\n\r\nabcde"
    ),
    "body-over-64k": b"POST /slack/commands HTTP/1.1\r\nHost: x\r\nContent-Length: 70000\r\n\r\n"
    + b"a" * 70000,
    "chunked-over-64k": (
        b"POST /slack/commands HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
        + b"".join(b"4000\r\n" + b"a" * 0x4000 + b"\r\n" for _ in range(5))
        + b"0\r\n\r\n"
    ),
    "traversal": b"GET /../../etc/passwd HTTP/1.1\r\nHost: x\r\n\r\n",
    "non-utf8-path": b"GET /\xff\xfe/unsubscribe HTTP/1.1\r\nHost: x\r\n\r\n",
    "garbage": b"\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03 not http\r\n\r\n",
}


@pytest.fixture
def web_server(web_app) -> Iterator[tuple[str, int]]:
    """The app on waitress, set up as `digestbot serve` does (body limit, no tracebacks)."""
    server = waitress.create_server(
        web_app, host="127.0.0.1", port=0, max_request_body_size=MAX_BODY, expose_tracebacks=False
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    yield "127.0.0.1", server.effective_port
    stop_server(server, thread)


def raw_request(address: tuple[str, int], data: bytes) -> bytes:
    with socket.create_connection(address, timeout=5) as sock:
        with contextlib.suppress(OSError):  # the server may answer and close before reading it all
            sock.sendall(data)
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_WR)
        chunks = []
        with contextlib.suppress(OSError):
            while chunk := sock.recv(65536):
                chunks.append(chunk)
    return b"".join(chunks)


@pytest.mark.parametrize("case", list(RAW_REQUESTS))
def test_the_server_answers_malformed_http_with_a_4xx(web_server, case):
    reply = raw_request(web_server, RAW_REQUESTS[case])

    status = re.match(rb"HTTP/1\.[01] (\d{3})", reply)
    assert status and 400 <= int(status.group(1)) < 500, reply[:200]
    assert b"Traceback" not in reply and b'File "' not in reply and b"root:" not in reply


def unsubscribe_answers(app: WebApp, sid: str) -> list[tuple[int, dict[str, str], bytes]]:
    """GET (the confirmation page) and POST (one click) for `sid`'s token, the token blanked out."""
    token = make_token(sid, UNSUB_SECRET)
    answers = [
        call(app, "GET", "/unsubscribe", query=urlencode({"t": token})),
        call(app, "POST", "/unsubscribe", body=b"List-Unsubscribe=One-Click", query=urlencode({"t": token})),
        call(app, "POST", "/unsubscribe", body=urlencode({"t": token}).encode()),
    ]
    return [
        (
            a.status,
            {k: v for k, v in a.headers.items() if k != "Content-Length"},
            a.body.replace(token.encode(), b"T"),
        )
        for a in answers
    ]


@pytest.mark.parametrize("unknown", ["mallory", "alice2", "<script>alert(1)</script>", "' OR '1'='1"])
def test_unsubscribe_answers_the_same_for_an_unknown_subscriber(web_app, workdir, unknown):
    before = db_dump(workdir.db)

    for_unknown = unsubscribe_answers(web_app, unknown)

    assert db_dump(workdir.db) == before  # nobody was created or changed
    for_known = unsubscribe_answers(web_app, "alice")
    assert for_unknown == for_known
    assert [status for status, _, _ in for_known] == [200, 200, 200]
    with Store(workdir.db) as store:
        assert store.subscriber("alice").subscriber.paused
        assert store.subscriber(unknown) is None
