"""Feed entries, whatever their format (RSS, Atom, JSON Feed), into Papers: keys and duplicates."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from ..arxiv_ids import arxiv_id
from ..config import SourceConfig
from ..keys import entry_key
from ..models import Paper
from ..text import one_line
from .base import arxiv_paper_urls, check_readable, content_key


@dataclass(frozen=True)
class Entry:
    """One feed entry's fields, whatever format it came in; text already cleaned."""

    guid: str
    link: str  # an absolute http(s) URL or ""
    title: str
    abstract: str
    raw_link: str = ""  # the link as written, for keying when it is not a usable URL
    authors: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    published: datetime | None = None


def papers_from(
    source: SourceConfig, entries: Iterable[Entry], unreadable: Sequence[str] = ()
) -> tuple[list[Paper], list[str]]:
    """Papers from entries, and why the others were skipped (a duplicate, or nothing to show).
    `unreadable`: why the caller could not make an Entry of some items; if no item is
    readable, the feed fails (`check_readable`)."""
    papers, skipped, empty, count, seen = [], [], [*unreadable], len(unreadable), set()
    for e in entries:
        count += 1
        aid = arxiv_id(e.guid, e.link or e.raw_link)
        if not e.title and not e.abstract:
            empty.append(f"{e.guid or e.raw_link or '(no id)'}: no title and no text")
            continue
        ident = e.guid or e.link or e.raw_link
        key = (
            f"arxiv:{aid}"
            if aid
            else entry_key(source.name, ident)
            if ident
            else content_key(e.title, e.abstract)
        )
        if key in seen:
            skipped.append(f"{key}: listed twice in the feed")
            continue
        seen.add(key)
        abs_url, pdf_url = arxiv_paper_urls(aid) if aid else (e.link, "")
        papers.append(
            Paper(
                key=key,
                arxiv_id=aid,
                title=e.title,
                abstract=e.abstract,
                authors=e.authors,
                categories=e.categories,
                link=e.link or abs_url,
                pdf_url=pdf_url,
                published=e.published,
                sources=(source.name,),
            )
        )
    check_readable(count, empty)
    return papers, empty + skipped


_CUT_MARKS = ".… []"  # what ends a cut summary: "...", "…", "[…]"


def fuller_text(summary: str, contents: list[str]) -> str:
    """The summary, or the longest content where the summary is empty or only its beginning."""
    full = max(contents, key=len, default="")
    stem, whole = one_line(summary).rstrip(_CUT_MARKS), one_line(full)
    return full if len(whole) > len(stem) and whole.startswith(stem) else summary
