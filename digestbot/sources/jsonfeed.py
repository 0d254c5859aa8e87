"""JSON Feed (https://jsonfeed.org, versions 1 and 1.1), read by `rss` sources when the document
is JSON: the same limits, keys and clean-up as RSS and Atom."""

from __future__ import annotations

from ..config import SourceConfig
from ..text import one_line
from .base import (
    FetchResult,
    SourceError,
    absolute_link,
    check_entry_count,
    clean_abstract,
    clean_terms,
    clean_title,
    html_to_text,
)
from .entries import Entry, fuller_text, papers_from
from .http import Fetched
from .jsondoc import json_datetime, json_names, json_text, load_json

VERSION_PREFIX = "https://jsonfeed.org/version/"


def parse_json_feed(source: SourceConfig, fetched: Fetched) -> FetchResult:
    """Papers from a JSON Feed; a JSON document that is not one is a SourceError."""
    doc = load_json(fetched.content or b"", fetched.content_type)
    if not isinstance(doc, dict) or not json_text(doc.get("version")).startswith(VERSION_PREFIX):
        raise SourceError("a JSON document, not an RSS/Atom or JSON Feed (no https://jsonfeed.org/version/)")
    items = doc.get("items")
    if not isinstance(items, list):
        raise SourceError("malformed JSON Feed: 'items' is not a list")
    check_entry_count(len(items))
    base = fetched.url or json_text(doc.get("feed_url")) or None
    entries, skipped = [], []
    for n, item in enumerate(items):
        if isinstance(item, dict):
            entries.append(_entry(item, base))
        else:
            skipped.append(f"item {n}: not an object")
    papers, not_kept = papers_from(source, entries, unreadable=skipped)
    return FetchResult(papers, fetched.etag, fetched.last_modified, skipped=not_kept)


def _entry(item: dict, base: str | None) -> Entry:
    guid = item.get("id")
    # Version 1 allowed numbers as ids; they are ids all the same.
    guid = (
        str(guid)
        if isinstance(guid, int | float) and not isinstance(guid, bool)
        else one_line(json_text(guid))
    )
    url = json_text(item.get("url")) or json_text(item.get("external_url"))
    contents = [json_text(item.get("content_text")), html_to_text(json_text(item.get("content_html")))]
    author = item.get("author")  # version 1: one author object
    tags = item.get("tags")
    return Entry(
        guid=guid,
        link=absolute_link(url, base),
        raw_link=one_line(url),  # JSON may hold any character: a key holds none of the controls
        title=clean_title(json_text(item.get("title"))),  # plain text, as the spec says
        abstract=clean_abstract(fuller_text(json_text(item.get("summary")), contents)),
        authors=json_names(item.get("authors")) or json_names([author]),
        categories=clean_terms(tags) if isinstance(tags, list) else (),
        published=json_datetime(item.get("date_published")) or json_datetime(item.get("date_modified")),
    )
