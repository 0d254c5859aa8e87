"""Any RSS or Atom feed (and JSON Feed, found by its content). A paper's key is its arXiv id
when the link or guid carries one, else the guid, else the link (within its source when not a URI), else a hash of its text."""

from __future__ import annotations

from ..config import SourceConfig
from . import document
from .base import (
    FetchResult,
    SourceError,
    absolute_link,
    clean_abstract,
    clean_terms,
    clean_title,
    entry_datetime,
    field_text,
    html_to_text,
    parse_feed,
    split_authors,
)
from .entries import Entry, fuller_text, papers_from
from .http import Fetched
from .jsonfeed import parse_json_feed


def parse_rss(source: SourceConfig, fetched: Fetched) -> FetchResult:
    """Papers from a generic feed: RSS, Atom, or a JSON Feed."""
    if fetched.status >= 400:
        raise SourceError(f"HTTP {fetched.status}")
    content = fetched.content or b""
    if document.starts_as_json(content):  # JSON: told by its content
        return parse_json_feed(source, fetched)
    parsed = parse_feed(content, fetched.content_type)
    entries = (_entry(e, fetched.url) for e in parsed.entries)
    papers, skipped = papers_from(source, entries)
    return FetchResult(papers, fetched.etag, fetched.last_modified, skipped=skipped, warnings=parsed.warnings)


def _entry(entry: dict, base: str | None) -> Entry:
    guid, link = entry.get("id") or "", entry.get("link") or ""
    authors = [a.get("name", "") for a in entry.get("authors", []) if a.get("name")]
    return Entry(
        guid=guid,
        link=_entry_link(entry, base),
        raw_link=link,
        title=clean_title(field_text(entry, "title")),
        abstract=clean_abstract(_entry_text(entry)),
        authors=split_authors(", ".join(authors)) if authors else (),
        categories=clean_terms(t.get("term") for t in entry.get("tags", [])),
        published=entry_datetime(entry, "published", "updated"),
    )


def _entry_link(entry: dict, base: str | None) -> str:
    link = entry.get("link") or ""
    # feedparser makes a "permalink" guid the link; a bare token (`12345`, `urn:...`) is not one.
    if entry.get("guidislink") and "/" not in link:
        return ""
    return absolute_link(link, base)


def _entry_text(entry: dict) -> str:
    contents = []
    for c in entry.get("content") or []:  # Atom <content>, RSS <content:encoded>
        value = c.get("value") or ""
        contents.append(value if c.get("type") == "text/plain" else html_to_text(value))
    return fuller_text(field_text(entry, "summary"), contents)
