"""arXiv: the rss.arxiv.org listings (2024+ format) and the export API (Atom)."""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta
from urllib.parse import urlsplit

from ..arxiv_ids import arxiv_id
from ..config import SourceConfig
from . import base
from .base import FetchResult, SourceError, arxiv_paper, entry_datetime, field_text
from .http import Fetched

_CATEGORY_RE = re.compile(r"^[a-z-]+(\.[A-Za-z-]+)?$")
# rss.arxiv.org descriptions read "arXiv:2403.01234v1 Announce Type: new \nAbstract: ...".
_DESCRIPTION_RE = re.compile(r"^\s*arXiv:(\S+)\s+Announce Type:\s*(\S+)\s*(?:Abstract:\s*)?(.*)$", re.DOTALL)


def parse_arxiv_rss(source: SourceConfig, fetched: Fetched) -> FetchResult:
    """Papers from an rss.arxiv.org feed, keeping the announce types the source asks for.

    An empty feed is normal (weekends, holidays); a feed titled "Feed error for query" is
    arXiv's answer to a bad category.
    """
    parsed = base.parse_feed(fetched.content or b"", fetched.content_type)
    title = parsed.feed.get("title", "")
    if title.lower().startswith("feed error"):
        raise SourceError(f"arXiv says: {title}")
    if fetched.status >= 400:
        raise SourceError(f"HTTP {fetched.status}")
    papers, skipped, unreadable = [], [], []
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
            unreadable.append(f"{entry.get('link') or entry.get('title')}: no arXiv id")
            continue
        papers.append(
            arxiv_paper(
                aid,
                field_text(entry, "title"),
                abstract=base.clean_abstract(abstract),
                authors=base.split_authors(entry.get("author", "")),
                categories=base.clean_terms(t.get("term") for t in entry.get("tags", [])),
                published=entry_datetime(entry, "published", "updated"),
                announce_type=kind,
                sources=(source.name,),
            )
        )
    base.check_readable(len(parsed.entries) - len(skipped), unreadable)
    announced = entry_datetime(parsed.feed, "published", "updated")
    if announced is None and papers:
        announced = max((p.published for p in papers if p.published), default=None)
    return FetchResult(
        papers,
        fetched.etag,
        fetched.last_modified,
        skipped=skipped + unreadable,
        announced=_announce_day(announced),
        warnings=parsed.warnings,
    )


def _announce_day(when: datetime | None) -> date | None:
    # rss.arxiv.org dates its listings at midnight US Eastern ("Mon, 11 Mar 2024 00:00:00 -0400"):
    # in UTC that is 04:00 or 05:00 on the same day, so the UTC date is the announcement day.
    return when.date() if when else None


def categories_of(url: str) -> list[str]:
    """The categories an rss.arxiv.org URL lists: `.../rss/cs.LG+stat.ML` -> [cs.LG, stat.ML]."""
    last = urlsplit(url).path.rstrip("/").rsplit("/", 1)[-1]
    return [c for c in last.split("+") if _CATEGORY_RE.match(c)]


def missed_days(previous: date, current: date) -> list[date]:
    """Announcement days (Monday to Friday) strictly between two listings the bot saw."""
    days, day = [], previous + timedelta(days=1)
    while day < current:
        if day.weekday() < 5:
            days.append(day)
        day += timedelta(days=1)
    return days


CATCH_UP_MARGIN = timedelta(days=4)


def catch_up_query(categories: list[str], previous: date, current: date) -> str:
    """An export-API query for papers submitted between two listings.

    A listing holds what was submitted since 14:00 ET on the working day before it, and a
    Monday listing reaches back to Friday: the window starts four days before the last listing
    seen, so no submission falls between. Both ends overlap what is stored; known papers merge."""
    cats = " OR ".join(f"cat:{c}" for c in categories)
    start = previous - CATCH_UP_MARGIN
    return f"({cats}) AND submittedDate:[{start:%Y%m%d}0000 TO {current:%Y%m%d}2359]"


def parse_arxiv_api(source: SourceConfig, fetched: Fetched) -> FetchResult:
    """Papers from an export-API Atom response; the API reports errors as an entry titled Error.

    For an id it does not know, an `id_list` answer holds a blank entry (no id, no title): that
    is no paper, not an unreadable one (the caller sees which ids did not come back)."""
    parsed = base.parse_feed(fetched.content or b"", fetched.content_type)
    papers, skipped = [], []
    entries = [e for e in parsed.entries if e.get("id") or e.get("title") or e.get("link")]
    for entry in entries:
        if "/api/errors" in entry.get("id", ""):
            raise SourceError(f"arXiv API error: {field_text(entry, 'summary').strip() or entry.get('id')}")
        aid = arxiv_id(entry.get("id"), entry.get("link"))
        if not aid:
            skipped.append(f"{entry.get('id')}: no arXiv id")
            continue
        primary = (entry.get("arxiv_primary_category") or {}).get("term")
        tags = tuple(t["term"] for t in entry.get("tags", []) if t.get("term"))
        papers.append(
            arxiv_paper(
                aid,
                field_text(entry, "title"),
                abstract=base.clean_abstract(field_text(entry, "summary")),
                authors=tuple(
                    base.clean_title(a.get("name", "")) for a in entry.get("authors", []) if a.get("name")
                ),
                categories=base.clean_terms(((primary,) if primary else ()) + tags),
                published=entry_datetime(entry, "published", "updated"),
                sources=(source.name,),
            )
        )
    if fetched.status >= 400:
        raise SourceError(f"HTTP {fetched.status}")
    base.check_readable(len(entries), skipped)  # every skip here is an entry without an id
    total = parsed.feed.get("opensearch_totalresults", "")
    return FetchResult(
        papers,
        fetched.etag,
        fetched.last_modified,
        skipped=skipped,
        warnings=parsed.warnings,
        total=int(total) if total.strip().isdigit() else None,
        blank=len(parsed.entries) - len(entries),
    )


def id_list_params(ids: list[str]) -> dict:
    """An export-API request for these papers by id (arXiv takes a comma-separated id_list)."""
    return {"id_list": ",".join(ids), "max_results": len(ids)}


def api_params(source: SourceConfig, start: int = 0, order: str = "descending") -> dict:
    return {
        "search_query": source.query,
        "start": start,
        "max_results": source.max_results,
        "sortBy": "submittedDate",
        "sortOrder": order,
    }
