"""The Hugging Face daily papers listing: `GET /api/daily_papers[?date=YYYY-MM-DD]`, a JSON array."""

from __future__ import annotations

from ..arxiv_ids import arxiv_id
from ..config import SourceConfig
from .base import (
    FetchResult,
    SourceError,
    arxiv_paper,
    clean_abstract,
)
from .http import Fetched
from .jsondoc import count, json_datetime, json_names, json_text, load_json


def parse_hf_daily(source: SourceConfig, fetched: Fetched) -> FetchResult:
    """Papers from the daily list: `paper.id` is the arXiv id; upvotes are kept for ranking.

    An item that is not shaped as expected is skipped with a reason; the others are kept.
    """
    if fetched.status >= 400:
        raise SourceError(f"HTTP {fetched.status}")
    items = load_json(fetched.content or b"")
    if not isinstance(items, list):
        raise SourceError("expected a JSON array of daily papers")
    papers, skipped = [], []
    for item in items:
        paper = item.get("paper") if isinstance(item, dict) else None
        if not isinstance(paper, dict):
            skipped.append("an item without a 'paper' object")
            continue
        aid = arxiv_id(json_text(paper.get("id")))
        if not aid:
            skipped.append(f"{paper.get('id')!r}: not an arXiv id")
            continue
        papers.append(
            arxiv_paper(
                aid,
                json_text(paper.get("title")) or json_text(item.get("title")),
                abstract=clean_abstract(json_text(paper.get("summary"))),
                authors=json_names(paper.get("authors")),
                published=json_datetime(paper.get("publishedAt")),
                upvotes=count(paper.get("upvotes")),
                sources=(source.name,),
            )
        )
    return FetchResult(papers, fetched.etag, fetched.last_modified, skipped=skipped)
