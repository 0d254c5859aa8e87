"""The Hugging Face daily papers listing: `GET /api/daily_papers[?date=YYYY-MM-DD]`, a JSON array."""

from __future__ import annotations

import json
from datetime import datetime

from ..config import SourceConfig
from .base import FetchResult, SourceError, arxiv_id, arxiv_paper, clean_abstract, clean_title
from .http import Fetched


def parse_hf_daily(source: SourceConfig, fetched: Fetched) -> FetchResult:
    """Papers from the daily list: `paper.id` is the arXiv id; upvotes are kept for ranking.

    An item that is not shaped as expected is skipped with a reason; the others are kept.
    """
    if fetched.status >= 400:
        raise SourceError(f"HTTP {fetched.status}")
    try:
        items = json.loads(fetched.content or b"")
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
        upvotes = paper.get("upvotes")
        papers.append(
            arxiv_paper(
                aid,
                _text(paper.get("title")) or _text(item.get("title")),
                abstract=clean_abstract(_text(paper.get("summary"))),
                authors=_authors(paper.get("authors")),
                published=_iso(paper.get("publishedAt")),
                upvotes=upvotes if isinstance(upvotes, int) and not isinstance(upvotes, bool) else None,
                sources=(source.name,),
            )
        )
    return FetchResult(papers, fetched.etag, fetched.last_modified, skipped=skipped)


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
        return datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
