"""The Hugging Face daily papers listing: `GET /api/daily_papers[?date=YYYY-MM-DD]`, a JSON array."""

from __future__ import annotations

import json
from datetime import datetime

from ..config import SourceConfig
from .base import (
    FetchResult,
    SourceError,
    arxiv_id,
    arxiv_paper,
    clean_abstract,
    clean_title,
    plausible_datetime,
)
from .http import Fetched


def parse_hf_daily(source: SourceConfig, fetched: Fetched) -> FetchResult:
    """Papers from the daily list: `paper.id` is the arXiv id; upvotes are kept for ranking.

    An item that is not shaped as expected is skipped with a reason; the others are kept.
    """
    if fetched.status >= 400:
        raise SourceError(f"HTTP {fetched.status}")
    try:
        items = json.loads(fetched.content or b"", parse_int=_json_int)
    except (ValueError, UnicodeDecodeError) as e:
        raise SourceError(f"not JSON: {e}") from None
    if not isinstance(items, list):
        raise SourceError("expected a JSON array of daily papers")
    papers, skipped = [], []
    for item in items:
        paper = item.get("paper") if isinstance(item, dict) else None
        if not isinstance(paper, dict):
            skipped.append("an item without a 'paper' object")
            continue
        aid = arxiv_id(_text(paper.get("id")))
        if not aid:
            skipped.append(f"{paper.get('id')!r}: not an arXiv id")
            continue
        papers.append(
            arxiv_paper(
                aid,
                _text(paper.get("title")) or _text(item.get("title")),
                abstract=clean_abstract(_text(paper.get("summary"))),
                authors=_authors(paper.get("authors")),
                published=_iso(paper.get("publishedAt")),
                upvotes=count(paper.get("upvotes")),
                sources=(source.name,),
            )
        )
    return FetchResult(papers, fetched.etag, fetched.last_modified, skipped=skipped)


MAX_COUNT = 2**31 - 1  # a plausible count; anything larger is an error (and overflows SQLite)
_MAX_INT_DIGITS = 18


def _json_int(text: str) -> int | float:
    # Python refuses to convert over 4,300 digits and would fail the whole list: an absurd
    # number becomes a float, which no count accepts.
    return int(text) if len(text) <= _MAX_INT_DIGITS else float("inf")


def count(value: object) -> int | None:
    """A count (upvotes, comments) when it is a plausible one: an int from 0 to 2^31 - 1."""
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= MAX_COUNT:
        return value
    return None


def _text(value: object) -> str:
    return value if isinstance(value, str) else ""


def _authors(value: object) -> tuple[str, ...]:
    if not isinstance(value, list):
        return ()
    names = (clean_title(a["name"]) for a in value if isinstance(a, dict) and isinstance(a.get("name"), str))
    return tuple(n for n in names if n)


def _iso(text: object) -> datetime | None:
    if not isinstance(text, str):
        return None
    try:
        return plausible_datetime(datetime.fromisoformat(text.replace("Z", "+00:00")))
    except ValueError:
        return None
