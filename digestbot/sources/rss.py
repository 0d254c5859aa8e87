"""Any RSS or Atom feed. A paper's key is its arXiv id when the link or guid carries one."""

from __future__ import annotations

from ..config import SourceConfig
from ..models import Paper
from .base import (
    UNTITLED,
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


def parse_rss(source: SourceConfig, fetched: Fetched) -> FetchResult:
    """Papers from a generic feed; entries with neither guid nor link cannot be tracked and are skipped."""
    if fetched.status >= 400:
        raise SourceError(f"HTTP {fetched.status}")
    parsed = parse_feed(fetched.content or b"")
    papers, skipped, seen = [], [], set()
    for entry in parsed.entries:
        guid, link = entry.get("id") or "", entry.get("link") or ""
        aid = arxiv_id(guid, link)
        key = f"arxiv:{aid}" if aid else (guid or link)
        title = clean_title(field_text(entry, "title"))
        if not key:
            skipped.append(f"{title or '(untitled)'}: no guid or link")
            continue
        if key in seen:
            skipped.append(f"{key}: listed twice in the feed")
            continue
        seen.add(key)
        abstract = clean_abstract(field_text(entry, "summary"))
        if not title and not abstract:
            skipped.append(f"{key}: no title and no text")
            continue
        abs_url, pdf_url = arxiv_paper_urls(aid) if aid else (link, "")
        authors = [a.get("name", "") for a in entry.get("authors", []) if a.get("name")]
        papers.append(
            Paper(
                key=key,
                arxiv_id=aid,
                title=title or UNTITLED,
                abstract=abstract,
                authors=split_authors(", ".join(authors)) if authors else (),
                categories=tuple(t["term"] for t in entry.get("tags", []) if t.get("term")),
                link=link or abs_url,
                pdf_url=pdf_url,
                published=entry_datetime(entry, "published", "updated"),
                sources=(source.name,),
            )
        )
    return FetchResult(papers, fetched.etag, fetched.last_modified, skipped=skipped, warnings=parsed.warnings)
