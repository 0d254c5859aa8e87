"""arXiv: the rss.arxiv.org listings (2024+ format) and the export API (Atom)."""

from __future__ import annotations

import re

from ..config import SourceConfig
from ..models import Paper
from .base import (
    FetchResult,
    SourceError,
    arxiv_id,
    arxiv_paper_urls,
    clean_abstract,
    clean_title,
    entry_datetime,
    field_text,
    parse_feed,
    split_authors,
)
from .http import Fetched

# rss.arxiv.org descriptions read "arXiv:2403.01234v1 Announce Type: new \nAbstract: ...".
_DESCRIPTION_RE = re.compile(r"^\s*arXiv:(\S+)\s+Announce Type:\s*(\S+)\s*(?:Abstract:\s*)?(.*)$", re.DOTALL)


def parse_arxiv_rss(source: SourceConfig, fetched: Fetched) -> FetchResult:
    """Papers from an rss.arxiv.org feed, keeping the announce types the source asks for.

    An empty feed is normal (weekends, holidays); a feed titled "Feed error for query" is
    arXiv's answer to a bad category.
    """
    parsed = parse_feed(fetched.content or b"")
    title = parsed.feed.get("title", "")
    if title.lower().startswith("feed error"):
        raise SourceError(f"arXiv says: {title}")
    if fetched.status >= 400:
        raise SourceError(f"HTTP {fetched.status}")
    papers, skipped = [], []
    for entry in parsed.entries:
        description = field_text(entry, "summary")
        m = _DESCRIPTION_RE.match(description)
        abstract = m.group(3) if m else description
        kind = (entry.get("arxiv_announce_type") or (m.group(2) if m else "new")).strip().lower()
        aid = arxiv_id(entry.get("id"), m.group(1) if m else None, entry.get("link"))
        if kind not in source.announce:
            skipped.append(f"{aid or entry.get('link')}: announce type {kind}")
            continue
        if not aid:
            skipped.append(f"{entry.get('link') or entry.get('title')}: no arXiv id")
            continue
        abs_url, pdf_url = arxiv_paper_urls(aid)
        papers.append(
            Paper(
                key=f"arxiv:{aid}",
                arxiv_id=aid,
                title=clean_title(field_text(entry, "title")),
                abstract=clean_abstract(abstract),
                authors=split_authors(entry.get("author", "")),
                categories=tuple(t["term"] for t in entry.get("tags", []) if t.get("term")),
                link=abs_url,
                pdf_url=pdf_url,
                published=entry_datetime(entry, "published", "updated"),
                announce_type=kind,
                sources=(source.name,),
            )
        )
    return FetchResult(papers, fetched.etag, fetched.last_modified, skipped=skipped)


def parse_arxiv_api(source: SourceConfig, fetched: Fetched) -> FetchResult:
    """Papers from an export-API Atom response; the API reports errors as an entry titled Error."""
    parsed = parse_feed(fetched.content or b"")
    papers, skipped = [], []
    for entry in parsed.entries:
        if "/api/errors" in entry.get("id", ""):
            raise SourceError(f"arXiv API error: {field_text(entry, 'summary').strip() or entry.get('id')}")
        aid = arxiv_id(entry.get("id"), entry.get("link"))
        if not aid:
            skipped.append(f"{entry.get('id')}: no arXiv id")
            continue
        abs_url, pdf_url = arxiv_paper_urls(aid)
        primary = (entry.get("arxiv_primary_category") or {}).get("term")
        tags = tuple(t["term"] for t in entry.get("tags", []) if t.get("term"))
        papers.append(
            Paper(
                key=f"arxiv:{aid}",
                arxiv_id=aid,
                title=clean_title(field_text(entry, "title")),
                abstract=clean_abstract(field_text(entry, "summary")),
                authors=tuple(
                    clean_title(a.get("name", "")) for a in entry.get("authors", []) if a.get("name")
                ),
                categories=tuple(dict.fromkeys(((primary,) if primary else ()) + tags)),
                link=abs_url,
                pdf_url=pdf_url,
                published=entry_datetime(entry, "published", "updated"),
                sources=(source.name,),
            )
        )
    if fetched.status >= 400:
        raise SourceError(f"HTTP {fetched.status}")
    return FetchResult(papers, fetched.etag, fetched.last_modified, skipped=skipped)


def api_params(source: SourceConfig) -> dict:
    return {
        "search_query": source.query,
        "start": 0,
        "max_results": source.max_results,
        "sortBy": "submittedDate",
        "sortOrder": "descending",
    }
