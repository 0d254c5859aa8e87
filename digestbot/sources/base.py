"""What every source shares: the result type, the error type, feed parsing and text helpers."""

from __future__ import annotations

import hashlib
import html
import re
import xml.sax
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from email.utils import parsedate_to_datetime
from html.parser import HTMLParser
from urllib.parse import urljoin, urlsplit

import feedparser

from ..models import Paper
from ..text import clean_paragraphs, detex, invisible_character, one_line
from . import document

MAX_ABSTRACT = 20_000
MAX_TITLE = 1_000
MAX_ENTRIES = 10_000


class SourceError(Exception):
    """A source failed as a whole (network, HTTP, not a feed, malformed): logged, others go on.
    `retry_after`: the seconds the server asked to wait before it is fetched again, if it did."""

    def __init__(self, message: str, retry_after: int | None = None):
        super().__init__(message)
        self.retry_after = retry_after


@dataclass
class FetchResult:
    """The papers one fetch produced, plus what the next conditional GET needs."""

    papers: list[Paper]
    etag: str | None = None
    last_modified: str | None = None
    not_modified: bool = False
    skipped: list[str] = field(default_factory=list)
    announced: date | None = None  # the announcement day an arXiv listing is for
    warnings: list[str] = field(default_factory=list)  # read, but the feed should be fixed
    total: int | None = None  # the arXiv API's opensearch:totalResults: results of the query in all
    blank: int = 0  # entries with no id, title or link: the arXiv API's answer for an id it does not know
    retry_after: int | None = None  # seconds a server asked to wait, at a catch-up that failed

    @property
    def entries(self) -> int:
        """Entries the response held, read or skipped (a page's size, for paging)."""
        return len(self.papers) + len(self.skipped)


def check_entry_count(n: int) -> None:
    if n > MAX_ENTRIES:
        raise SourceError(f"feed has {n} entries; at most {MAX_ENTRIES} are accepted")


def check_readable(entries: int, unreadable: list[str]) -> None:
    """A feed whose every entry is unreadable (why: `unreadable`) is a failure, not a quiet
    day: its format changed (the Hugging Face list's shape) or it is not the feed it should be.
    Entries left out on purpose (an announce type not asked for, a duplicate) are not counted."""
    if entries and len(unreadable) >= entries:
        raise SourceError(
            f"none of the {entries} entries could be read (first: {unreadable[0]}): is the url right, "
            "or did the feed's format change?"
        )


def arxiv_paper_urls(aid: str) -> tuple[str, str]:
    return f"https://arxiv.org/abs/{aid}", f"https://arxiv.org/pdf/{aid}"


def arxiv_paper(aid: str, title: str, **fields) -> Paper:
    """A Paper keyed by its arXiv id, with its abstract page and PDF as links."""
    link, pdf_url = arxiv_paper_urls(aid)
    return Paper(
        key=f"arxiv:{aid}",
        arxiv_id=aid,
        title=clean_title(title),
        link=link,
        pdf_url=pdf_url,
        **fields,
    )


class _TextExtractor(HTMLParser):
    _BLOCKS = frozenset(
        {"p", "br", "div", "li", "ul", "ol", "h1", "h2", "h3", "h4", "h5", "h6", "tr", "blockquote"}
    )
    _SKIP = frozenset({"script", "style", "template"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.skipping = 0

    def handle_starttag(self, tag: str, attrs: list) -> None:
        if tag in self._SKIP:
            self.skipping += 1
        elif tag in self._BLOCKS:
            self.parts.append("\n\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in self._SKIP and self.skipping:
            self.skipping -= 1
        elif tag in self._BLOCKS:
            self.parts.append("\n\n")

    def handle_data(self, data: str) -> None:
        if not self.skipping:
            self.parts.append(data)


def html_to_text(html: str) -> str:
    """Plain text from an HTML fragment (feedparser hands descriptions over as HTML)."""
    if "<" not in html and "&" not in html:
        return html
    parser = _TextExtractor()
    parser.feed(html)
    parser.close()
    return "".join(parser.parts)


def field_text(entry: dict, name: str) -> str:
    """An entry's text field as plain text, whether the feed declared it as text or HTML."""
    value = entry.get(name) or ""
    detail = entry.get(f"{name}_detail") or {}
    if detail.get("type", "text/html") in ("text/html", "application/xhtml+xml"):
        value = html_to_text(value)
    return value


def clean_title(text: str) -> str:
    return one_line(detex(leftover_entities(text)))[:MAX_TITLE]


def clean_abstract(text: str) -> str:
    return clean_paragraphs(html_leftovers(text))[:MAX_ABSTRACT]


# What a feed escaped once too often, found in the text after one level of decoding: paragraph
# markup (`<br />`, `<p>`) and entities (`&nbsp;`). Other `<...>` stays: "x < y", "the <b> tag".
_MARKUP_LEFT_RE = re.compile(
    r"<(?:br\s*/?|/?(?:p|div|li|ul|ol|blockquote|h[1-6])(?:\s[^<>]*)?)>", re.IGNORECASE
)
_ENTITY_LEFT_RE = re.compile(r"&(?:[A-Za-z][A-Za-z0-9]{1,31}|#[0-9]{1,7}|#[xX][0-9A-Fa-f]{1,6});")


def leftover_entities(text: str) -> str:
    """Entities a feed escaped twice (`&amp;nbsp;` arrives as `&nbsp;`), decoded."""
    return _ENTITY_LEFT_RE.sub(lambda m: html.unescape(m.group(0)), text)


def html_leftovers(text: str) -> str:
    """Text with the HTML a feed escaped twice decoded: as HTML when paragraph markup is left in
    it, else just the entities. Titles get only the entities (a title may speak of `<b>`)."""
    if _MARKUP_LEFT_RE.search(text):
        return html_to_text(text)
    return leftover_entities(text)


def absolute_link(link: str, base: str | None) -> str:
    """`link` as an absolute http(s) URL, resolved against `base` when relative; else "" (no
    `javascript:`, no `urn:`, no control characters, and no relative link without a base, as
    in a local file)."""
    link = link.strip()
    if not link or invisible_character(link):  # a control or direction character: no real link
        return ""
    try:
        if base and not urlsplit(link).scheme:
            link = urljoin(base, link)
        parts = urlsplit(link)
    except ValueError:  # an unsplittable URL ("https://[x")
        return ""
    return link if parts.scheme.lower() in ("http", "https") and parts.netloc else ""


def clean_terms(terms) -> tuple[str, ...]:
    """Categories or tags as one-line text, without control characters (JSON may carry NUL,
    which PostgreSQL refuses), empty ones and repeats dropped."""
    return tuple(dict.fromkeys(t for t in (one_line(x) for x in terms if isinstance(x, str)) if t))


def content_key(title: str, text: str) -> str:
    """A key for an entry with neither guid nor link: a hash of its white-space-normalized text
    (as feed readers do), so the same item is known again on the next fetch."""
    normalized = f"{one_line(title)}\n{one_line(text)}".casefold()
    return "sha1:" + hashlib.sha1(normalized.encode("utf-8", "surrogatepass")).hexdigest()


def split_authors(text: str) -> tuple[str, ...]:
    """`A, B and C` (as in dc:creator) into names, TeX accents decoded."""
    names = re.split(r",|;|\band\b", detex(text))
    return tuple(n for n in (one_line(x) for x in names) if n)


EARLIEST = datetime(1990, 1, 1, tzinfo=UTC)  # before any feed or e-print server; older is an error
FUTURE_SLACK = timedelta(days=2)


def plausible_datetime(when: datetime | None) -> datetime | None:
    """`when` in UTC (a naive one is taken as UTC), or None when it is before 1990 or more than
    two days in the future: a clock or a feed gone wrong, not a real date. The one rule every
    source applies."""
    if when is None:
        return None
    try:
        when = when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)
    except OverflowError:  # year 1 or 9999 moved across midnight by its offset
        return None
    return when if EARLIEST <= when <= datetime.now(UTC) + FUTURE_SLACK else None


# Zone abbreviations feeds write that feedparser and email.utils do not know, and read as UTC
# without a word: their offsets, in minutes. Ambiguous ones (IST: India, Ireland or Israel)
# are left out, and so read as UTC, as before.
NAMED_ZONES = {
    "UTC": 0, "WET": 0, "WEST": 60, "BST": 60, "CET": 60, "CEST": 120, "MEZ": 60, "MESZ": 120,
    "EET": 120, "EEST": 180, "MSK": 180, "SAST": 120, "WAT": 60, "CAT": 120, "EAT": 180,
    "PKT": 300, "ICT": 420, "WIB": 420, "HKT": 480, "SGT": 480, "AWST": 480, "PHT": 480,
    "JST": 540, "KST": 540, "ACST": 570, "ACDT": 630, "AEST": 600, "AEDT": 660,
    "NZST": 720, "NZDT": 780, "HST": -600, "AKST": -540, "AKDT": -480, "NST": -210,
    "NDT": -150, "BRT": -180, "ART": -180,
}  # fmt: skip
_NAMED_ZONE_RE = re.compile(r"(?<=[\d\s])\s*\(?([A-Za-z]{3,4})\)?\s*$")


def zoned_datetime(text: str) -> datetime | None:
    """A date (RFC 822 as RSS writes it, or ISO 8601) that ends in a zone of NAMED_ZONES, read in
    that zone (`10:00 CEST` is 08:00 UTC); None for any other text."""
    m = _NAMED_ZONE_RE.search(text) if isinstance(text, str) else None
    offset = NAMED_ZONES.get(m.group(1).upper()) if m else None
    if offset is None:
        return None
    sign, minutes = "-" if offset < 0 else "+", abs(offset)
    head = text[: m.start()].strip()
    try:
        return plausible_datetime(
            parsedate_to_datetime(f"{head} {sign}{minutes // 60:02d}{minutes % 60:02d}")
        )
    except (TypeError, ValueError, IndexError):
        pass
    try:
        return plausible_datetime(
            datetime.fromisoformat(f"{head}{sign}{minutes // 60:02d}:{minutes % 60:02d}")
        )
    except ValueError:
        return None


def entry_datetime(entry: dict, *names: str) -> datetime | None:
    """The first plausible date among `names` (feedparser's `*_parsed` fields, in UTC, or the
    text itself where it names a zone feedparser reads as UTC: `zoned_datetime`)."""
    for name in names:
        if (when := zoned_datetime(entry.get(name))) is not None:
            return when
        parsed = entry.get(f"{name}_parsed")
        if parsed:
            try:
                when = plausible_datetime(datetime(*parsed[:6], tzinfo=UTC))
            except (TypeError, ValueError):
                continue
            if when is not None:
                return when
    return None


@dataclass
class ParsedFeed:
    """A whole feed as feedparser read it, and what was wrong with it but could be read."""

    feed: dict
    entries: list
    warnings: list[str] = field(default_factory=list)


def parse_feed(content: bytes, content_type: str = "") -> ParsedFeed:
    """Parse feed bytes with feedparser; raise SourceError for anything that is not a whole feed.

    feedparser is lenient: on malformed XML it sets `bozo` and still returns what it read, the
    last entry cut short. A truncated download must not half-land in the database, so any XML
    error fails the source. What feedparser reads past and is safe is read, with a warning:
    white space before the XML declaration, HTML entities without a DTD (`&nbsp;`), bare `&`, control characters (all repaired before
    parsing, so the strict parser still checks the whole document) and a wrongly declared
    encoding (feedparser's CharacterEncodingOverride). `content_type`: the server's
    Content-Type, whose charset names an encoding the document does not (`as_utf8`).
    """
    if not content.strip():
        raise SourceError("empty response, not a feed")
    if document.is_html(content):
        raise SourceError("got an HTML page, not a feed (a login or error page? open the url in a browser)")
    content, trimmed = document.trim_start(content)
    warnings = [document.LEADING_WARNING] if trimmed else []
    # Decode as feedparser would, so that the checks see the same document the parser will.
    content, encoding_warning = document.as_utf8(content, content_type)
    warnings += [encoding_warning] if encoding_warning else []
    if document.declares_entities(content):
        raise SourceError("feed declares XML entities (a DTD internal subset): refused for safety")
    if document.crowded_tag(content):
        raise SourceError(
            f"feed has a tag with over {document.MAX_ATTRIBUTES} attributes: refused (feedparser's time grows with the square of that number)"
        )
    try:
        content, repairs = document.repair(content)
    except document.TooBroken as e:
        raise SourceError(str(e)) from None
    warnings += repairs
    parsed = feedparser.parse(content)
    if parsed.bozo and isinstance(parsed.get("bozo_exception"), xml.sax.SAXException):
        raise SourceError(f"malformed feed: {parsed.bozo_exception}")
    if not parsed.get("version") and not parsed.entries:
        raise SourceError("not an RSS or Atom feed")
    check_entry_count(len(parsed.entries))
    return ParsedFeed(parsed.feed, parsed.entries, warnings)
