"""The Hugging Face daily papers listing: `GET /api/daily_papers[?date=YYYY-MM-DD]`, a JSON array."""

from __future__ import annotations

from ..arxiv_ids import arxiv_id
from ..config import SourceConfig
from ..text import safe_url
from .base import (
    FetchResult,
    SourceError,
    arxiv_paper,
    check_readable,
    clean_abstract,
    clean_title,
)
from .http import Fetched
from .jsondoc import count, json_datetime, json_names, json_text, load_json


def parse_hf_daily(source: SourceConfig, fetched: Fetched) -> FetchResult:
    """Papers from the daily list: `paper.id` is the arXiv id; upvotes, links, stars, the AI
    summary, the thumbnail, comments and the organization are kept (see `hf_fields`).

    An item that is not shaped as expected is skipped with a reason; the others are kept.
    """
    if fetched.status >= 400:
        raise SourceError(f"HTTP {fetched.status}")
    items = load_json(fetched.content or b"", fetched.content_type)
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
                _title(paper, item),
                abstract=clean_abstract(json_text(paper.get("summary"))),
                authors=json_names(paper.get("authors")),
                published=json_datetime(paper.get("publishedAt")),
                upvotes=count(paper.get("upvotes")),
                sources=(source.name,),
                **hf_fields(aid, item, paper),
            )
        )
    check_readable(len(items), skipped)  # every skip here is an item not shaped as expected
    return FetchResult(papers, fetched.etag, fetched.last_modified, skipped=skipped)


def _title(paper: dict, item: dict) -> str:
    """The paper's title, or the item's where the paper's is blank (white space, markup)."""
    title = json_text(paper.get("title"))
    return title if clean_title(title) else json_text(item.get("title"))


HF_PAPER_PAGE = "https://huggingface.co/papers/"
MAX_URL = 2000


def web_url(value: object, https_only: bool = False) -> str:
    """An absolute http(s) URL from JSON (https only if asked), else "": no other scheme, no
    relative link, no white space, quotes or control characters, at most MAX_URL characters."""
    url = json_text(value).strip()
    return safe_url(url, https_only) if len(url) <= MAX_URL else ""


def hf_fields(aid: str, item: dict, paper: dict) -> dict:
    """What the daily list says beyond the paper itself. The API puts `githubRepo`,
    `githubStars`, `projectPage` and `ai_summary` on `paper`, and `thumbnail`, `numComments` and
    `organization` ({`name`, `fullname`}) on the item (older answers had `organization` on
    `paper`); anything missing or of the wrong type is left empty."""
    org = item.get("organization") or paper.get("organization")
    org_name = (json_text(org.get("fullname")) or json_text(org.get("name"))) if isinstance(org, dict) else ""
    return {
        "hf_url": HF_PAPER_PAGE + aid,
        "github_url": web_url(paper.get("githubRepo")),
        "github_stars": count(paper.get("githubStars")),
        "project_url": web_url(paper.get("projectPage")),
        "ai_summary": clean_abstract(json_text(paper.get("ai_summary"))),
        "thumbnail_url": web_url(item.get("thumbnail"), https_only=True),
        "comments": count(item.get("numComments")),
        "organization": clean_title(org_name),
    }
