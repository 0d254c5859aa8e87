"""Digests into messages: Jinja2 templates for the subject, plain text and HTML email.

No I/O but template loading. A user's `templates:` folder is searched first; whatever it lacks
falls back to the defaults shipped in `templates/`. HTML templates are autoescaped, and paper
text reaches them only as escaped Markup (highlighting is built from escaped pieces), so no
feed can inject markup.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import css_inline
import jinja2
from markupsafe import Markup, escape

from . import __version__
from .matching import highlight_spans
from .models import Digest, Match, Subscriber
from .text import one_line, shorten

ABSTRACT_CHARS = 600
MAX_AUTHORS = 8
SUBJECT_CHARS = 200
TEMPLATE_NAMES = ("digest.subject.txt", "digest.txt", "digest.html")
_SAFE_SCHEMES = ("http://", "https://")


def default_templates_dir() -> Path:
    """The shipped templates: inside the package when installed from a wheel, else the repo's."""
    here = Path(__file__).resolve().parent
    for candidate in (here / "templates", here.parent / "templates"):
        if (candidate / "digest.html").is_file():
            return candidate
    raise FileNotFoundError("digestbot's default templates are missing from this installation")


@dataclass(frozen=True)
class EmailParts:
    subject: str
    text: str
    html: str


@dataclass(frozen=True)
class PaperView:
    """What a template sees of one paper: plain fields, and escaped/highlighted HTML fields."""

    rank: int
    title: str
    title_html: Markup
    abstract: str
    abstract_html: Markup
    authors: str
    link: str
    pdf_url: str
    categories: tuple[str, ...]
    terms: tuple[str, ...]
    authors_matched: tuple[str, ...]
    upvotes: int | None
    score: int
    published: datetime | None


def safe_url(url: str | None) -> str:
    """Only http(s) links reach a message; anything else (javascript:, data:) becomes empty."""
    url = (url or "").strip()
    return url if url.lower().startswith(_SAFE_SCHEMES) and not any(c in url for c in "\"'<> \n\r") else ""


def highlight(text: str, terms: tuple[str, ...], start: str = "<mark>", end: str = "</mark>") -> Markup:
    """Escape `text` and wrap the words the terms match in `start`/`end` markup."""
    out, pos = [], 0
    for a, b in highlight_spans(text, terms):
        out += [escape(text[pos:a]), Markup(start), escape(text[a:b]), Markup(end)]
        pos = b
    out.append(escape(text[pos:]))
    return Markup("").join(out)


def author_line(authors: tuple[str, ...], limit: int = MAX_AUTHORS) -> str:
    if len(authors) <= limit:
        return ", ".join(authors)
    return ", ".join(authors[:limit]) + f" and {len(authors) - limit} more"


def paper_view(rank: int, match: Match, abstract_chars: int = ABSTRACT_CHARS) -> PaperView:
    p = match.paper
    title = one_line(p.title)
    abstract = shorten(p.abstract.replace("\n\n", " "), abstract_chars)
    return PaperView(
        rank=rank,
        title=title,
        title_html=highlight(title, match.terms),
        abstract=abstract,
        abstract_html=highlight(abstract, match.terms),
        authors=one_line(author_line(p.authors)),
        link=safe_url(p.link),
        pdf_url=safe_url(p.pdf_url),
        categories=p.categories,
        terms=match.terms,
        authors_matched=match.authors,
        upvotes=p.upvotes,
        score=match.score,
        published=p.published,
    )


class Renderer:
    """Renders digests with the user's templates over the defaults."""

    def __init__(self, templates: Path | None = None):
        search = [str(templates)] if templates else []
        search.append(str(default_templates_dir()))
        self.env = jinja2.Environment(
            loader=jinja2.FileSystemLoader(search),
            autoescape=jinja2.select_autoescape(enabled_extensions=("html", "htm"), default_for_string=False),
            trim_blocks=True,
            lstrip_blocks=True,
            keep_trailing_newline=True,
        )
        self.env.filters["highlight"] = highlight

    def context(self, digest: Digest, **extra) -> dict:
        sub = digest.subscriber
        created = digest.created or datetime.now(UTC)
        local = created.astimezone(_zone(sub.timezone))
        return {
            "digest": digest,
            "subscriber": sub,
            "profile": sub.profile,
            "papers": [paper_view(i, m) for i, m in enumerate(digest.matches, 1)],
            "more": digest.more,
            "total": digest.total_matched,
            "date": local,
            "date_text": f"{local:%a %d %b %Y}",
            "why": why_text(sub),
            "version": __version__,
            "unsubscribe_url": None,
            "manage_hint": manage_hint(sub),
            **extra,
        }

    def email(self, digest: Digest, **extra) -> EmailParts:
        """Subject, plain text and HTML (CSS inlined) for an email digest."""
        ctx = self.context(digest, **extra)
        subject = one_line(self.env.get_template("digest.subject.txt").render(ctx))[:SUBJECT_CHARS]
        text = self.env.get_template("digest.txt").render(ctx)
        html = self.env.get_template("digest.html").render(ctx)
        return EmailParts(subject=subject, text=text, html=inline_css(html))


def inline_css(html: str) -> str:
    """Move <style> rules onto elements: many mail clients drop <style> blocks."""
    return css_inline.CSSInliner(keep_style_tags=False, load_remote_stylesheets=False).inline(html)


def why_text(sub: Subscriber) -> str:
    """One sentence on what the subscriber asked for, for the footer."""
    p = sub.profile
    parts = []
    if p.keywords:
        parts.append("keywords " + ", ".join(p.keywords))
    if p.authors:
        parts.append("authors " + ", ".join(p.authors))
    if p.categories:
        parts.append("categories " + ", ".join(p.categories))
    text = "; ".join(parts) or "nothing yet"
    if p.exclude:
        text += " (excluding " + ", ".join(p.exclude) + ")"
    return text


def manage_hint(sub: Subscriber) -> str:
    if sub.origin == "slack":
        return "Change or pause it in Slack with /digest."
    return f"To change or stop it, edit the entry '{sub.id}' in subscriptions.yaml (ask the bot's operator)."


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except Exception:
        return ZoneInfo("UTC")
