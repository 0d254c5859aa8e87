"""Digests into messages: Jinja2 templates for the subject, plain text and HTML email.

No I/O but template loading. A user's `templates:` folder is searched first; whatever it lacks
falls back to the defaults shipped in `templates/`. The HTML part is autoescaped (with all it
includes), and paper text reaches it only as escaped Markup (highlighting is built from escaped
pieces), so no feed can inject markup.
"""

from __future__ import annotations

import contextlib
import inspect
import json
import os
import re
import traceback
import unicodedata
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from functools import lru_cache
from html import unescape
from pathlib import Path
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

import css_inline
import jinja2
from markupsafe import Markup, escape

from . import __version__
from .links import button_value
from .matching import highlight_spans
from .models import Digest, Match, Paper, Profile, Subscriber
from .schedule import ScheduleError, get_timezone
from .text import ELLIPSIS, idna_url, one_line, safe_url, shorten, tame_marks, wrap

ABSTRACT_CHARS = 600
SLACK_ABSTRACT_CHARS = 300
SLACK_TITLE_CHARS = 300
SLACK_AUTHORS_CHARS = 300
MAX_AUTHORS = 8
SUBJECT_CHARS = 200
# Slack's limits (Block Kit reference): blocks per message, characters per text field.
SLACK_MAX_BLOCKS = 50
SLACK_SECTION_CHARS = 3000
SLACK_HEADER_CHARS = 150
SLACK_BUTTON_CHARS = 75
SLACK_FIELD_CHARS = 2000  # each of a section's fields
SLACK_TEXT_CHARS = 3900  # `text` must stay under 4,000
# All the text of one message's blocks together: beyond an undocumented total chat.postMessage
# answers msg_blocks_too_long (about 13,300 characters of markdown blocks, and 11,341 of section
# and rich_text blocks was refused once: slackapi/bolt-js#2509, #2867). Kept well under.
SLACK_MESSAGE_TEXT_CHARS = 9000
# Highlighted words: a styled span, which every client shows (Outlook for Windows and Yahoo
# drop <mark>); the class carries the colours, inlined, and the dark palette.
HIGHLIGHT_START = '<span class="hl">'
HIGHLIGHT_END = "</span>"
_URL_RE = re.compile(r"(?:https?://|www\.)[^\s<>\"']+", re.IGNORECASE)
# Gmail clips an HTML part over about 102 KB, hiding the rest and the unsubscribe footer.
HTML_BUDGET = 100_000  # bytes of the finished (inlined) HTML part
COMPACT_ABSTRACT_CHARS = 160
FULL_FIRST = 10  # a digest cut to fit still shows its best papers in full
COMPACT_AUTHORS = 3


def default_templates_dir() -> Path:
    """The shipped templates: inside the package when installed from a wheel, else the repo's."""
    here = Path(__file__).resolve().parent
    for candidate in (here / "templates", here.parent / "templates"):
        if (candidate / "digest.html").is_file():
            return candidate
    raise FileNotFoundError("digestbot's default templates are missing from this installation")


class TemplateLoader(jinja2.FileSystemLoader):
    """Templates are UTF-8 text (a byte order mark first, as Windows editors write it, is
    dropped). A file that is not UTF-8, or cannot be read, is a TemplateSyntaxError naming it
    (`check`, `send` and the worker report it as any broken template), not a UnicodeDecodeError."""

    def __init__(self, searchpath: list[str]):
        super().__init__(searchpath, encoding="utf-8-sig")

    def get_source(self, environment: jinja2.Environment, template: str):
        try:
            return super().get_source(environment, template)
        except jinja2.TemplateNotFound:
            raise  # an OSError too, but Jinja's `ignore missing` and include lists rely on it
        except (UnicodeDecodeError, OSError) as e:
            raise unreadable(self.searchpath, template, e) from None


def unreadable(searchpath: Iterable[str], template: str, error: OSError | UnicodeDecodeError):
    """A template file that could not be read as a TemplateSyntaxError naming the file."""
    filename = next(
        (p for p in (os.path.join(d, template) for d in searchpath) if os.path.isfile(p)), template
    )
    why = (
        f"not UTF-8 text ({error.reason} at byte {error.start})"
        if isinstance(error, UnicodeDecodeError)
        else f"cannot read it: {error.strerror or error}"
    )
    return jinja2.TemplateSyntaxError(why, 1, template, filename)


def template_search(templates: Path | None) -> list[str]:
    """Where templates are looked up: the user's folder first, then the shipped ones."""
    return [*([str(templates)] if templates else []), str(default_templates_dir())]


@dataclass(frozen=True)
class EmailParts:
    subject: str
    text: str
    html: str
    shown: int = 0  # how many of the digest's papers the email shows (fewer when cut for size)


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
    host: str
    categories: tuple[str, ...]
    terms: tuple[str, ...]
    authors_matched: tuple[str, ...]
    upvotes: int | None
    score: int
    published: datetime | None
    key: str = ""
    # Signed "more like this" / "less like this" links, when the web app that answers them is public.
    more_url: str = ""
    less_url: str = ""
    button_value: str = ""  # what its Slack rating buttons carry: the digest and the paper
    # Why beyond keywords ("like <liked title>", "similar to papers you rated up"), and everything
    # that put the paper here: terms, authors and those reasons.
    reasons: tuple[str, ...] = ()
    why: tuple[str, ...] = ()
    title_mrkdwn: str = ""
    abstract_mrkdwn: str = ""
    authors_mrkdwn: str = ""
    terms_mrkdwn: str = ""
    # Slack rich_text elements (lists of dicts for |tojson): text shown exactly as written, with
    # matched words bold and URLs as links, so nothing in a title or abstract becomes formatting.
    title_rich: tuple[dict, ...] = ()
    abstract_rich: tuple[dict, ...] = ()
    meta_rich: tuple[dict, ...] = ()  # "Matched: …" (bold), upvotes, comments, PDF, code, project links
    # What the Hugging Face daily list adds (links checked with paper_link, the thumbnail https only).
    hf_url: str = ""
    github_url: str = ""
    github_repo: str = ""  # owner/name, shown as the code link's text
    github_stars: int | None = None
    stars_text: str = ""  # "1.2k"
    project_url: str = ""
    project_host: str = ""
    ai_summary: str = ""
    thumbnail_url: str = ""
    comments: int | None = None
    organization: str = ""
    # Set when the digest is long: a shorter abstract and no thumbnail, so the HTML part stays
    # under the size at which Gmail clips it.
    compact: bool = False
    authors_short: str = ""  # the first COMPACT_AUTHORS, for the compact layout


def paper_link(url: str, https_only: bool = False) -> str:
    """A paper's link as shown and opened: http(s) only (`safe_url`), its host in IDNA, so that
    a look-alike host (`аrxiv.org`, with a Cyrillic а) reads as what it is, beside the link too."""
    url = safe_url(url, https_only)
    return idna_url(url) if url else ""


def link_host(url: str) -> str:
    """The host a (safe) link really goes to, shown beside it."""
    try:
        return urlsplit(url).hostname or ""
    except ValueError:
        return ""


def marked_spans(text: str, terms: tuple[str, ...]) -> list[tuple[int, int]]:
    """The spans the terms match, each to the end of its last letter's combining marks (the
    matcher drops marks, so `cafe` + U+0301 matched as `cafe`), leaving out any inside a URL: a
    highlight there would break the link (Slack's auto-link ends at a `*`; a mail client's at
    the markup)."""
    spans = [(a, _marks_end(text, b)) for a, b in highlight_spans(text, terms)]
    if not spans or ("://" not in text and "www." not in text.lower()):
        return spans
    urls = [m.span() for m in _URL_RE.finditer(text)]
    return [(a, b) for a, b in spans if not any(a < ue and b > us for us, ue in urls)]


def _marks_end(text: str, end: int) -> int:
    """`end` moved past the combining marks that follow it: they belong to the letter before."""
    while end < len(text) and unicodedata.category(text[end]).startswith("M"):
        end += 1
    return end


def highlight(
    text: str, terms: tuple[str, ...], start: str = HIGHLIGHT_START, end: str = HIGHLIGHT_END
) -> Markup:
    """Escape `text` and wrap the words the terms match in `start`/`end` markup."""
    out, pos = [], 0
    for a, b in marked_spans(text, terms):
        out += [escape(text[pos:a]), Markup(start), escape(text[a:b]), Markup(end)]
        pos = b
    out.append(escape(text[pos:]))
    return Markup("").join(out)


def mrkdwn(text: str) -> str:
    """Escape text for Slack mrkdwn: with &, < and > escaped no `<!channel>`, `<@U…>` or link
    can be formed, so a paper cannot ping anyone."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def mrkdwn_highlight(text: str, terms: tuple[str, ...]) -> str:
    """mrkdwn-escape `text` and put the words the terms match in *bold*."""
    out, pos = [], 0
    for a, b in marked_spans(text, terms):
        out += [mrkdwn(text[pos:a]), "*", mrkdwn(text[a:b]), "*"]
        pos = b
    out.append(mrkdwn(text[pos:]))
    return "".join(out)


def _term_label(term: str) -> str:
    # `robot*` inside *bold* would end the bold early: show a prefix as `robot…`.
    return term[:-1] + "…" if term.endswith("*") else term


def _cut_marked(text: str, terms: tuple[str, ...], mark: Callable) -> str:
    # Highlight a shortened text without its trailing " …": the ellipsis folds to three dots,
    # which would send the whole text down the slow (offset-mapping) path of token_spans.
    if text.endswith(ELLIPSIS):
        return mark(text[: -len(ELLIPSIS)], terms) + ELLIPSIS
    return mark(text, terms)


def author_line(authors: tuple[str, ...], limit: int = MAX_AUTHORS) -> str:
    if len(authors) <= limit:
        return ", ".join(authors)
    return ", ".join(authors[:limit]) + f" and {len(authors) - limit} more"


@lru_cache(maxsize=4096)
def _plain_fields(title: str, abstract: str, authors: tuple[str, ...]) -> tuple[str, str, str, str]:
    # A paper often goes to many subscribers in one run: clean its text once.
    flat = shown(abstract)
    return shown(title), flat, shorten(flat, ABSTRACT_CHARS), shown(author_line(authors))


def shown(text: str) -> str:
    """Text from a feed as a digest shows it: one line (`one_line`), and no stack of combining
    marks taller than any writing has (`tame_marks`)."""
    return tame_marks(one_line(text))


@lru_cache(maxsize=8192)
def _highlighted(text: str, terms: tuple[str, ...]) -> Markup:
    return _cut_marked(text, terms, highlight)


def paper_view(rank: int, match: Match, slack: bool = False) -> PaperView:
    """A paper as templates see it; the *_mrkdwn fields are filled for Slack only."""
    p = match.paper
    title, flat, abstract, authors = _plain_fields(p.display_title, p.abstract, p.authors)
    reasons = tuple(shown(r)[:200] for r in match.reasons)
    # The reader's own terms, as shown: Slack and web profiles may carry what one_line removes.
    terms, authors_matched = tuple(map(one_line, match.terms)), tuple(map(one_line, match.authors))
    view = PaperView(
        rank=rank,
        title=title,
        title_html=_highlighted(title, match.terms) if p.title else escape(title),  # UNTITLED: no words
        abstract=abstract,
        abstract_html=_highlighted(abstract, match.terms),
        authors=authors,
        link=paper_link(p.link),
        pdf_url=paper_link(p.pdf_url),
        host=link_host(paper_link(p.link)),
        categories=_labels(p.categories),
        terms=terms,
        authors_matched=authors_matched,
        upvotes=p.upvotes,
        score=match.score,
        published=p.published,
        key=p.key,
        reasons=reasons,
        why=terms + authors_matched + reasons,
        authors_short=shown(author_line(p.authors, COMPACT_AUTHORS)),
        **_hf_fields(p),
    )
    if not slack:
        return view
    slack_title = shorten(title, SLACK_TITLE_CHARS)
    return replace(
        view,
        title_rich=(_rich_link(view.link, slack_title, {"bold": True}),),
        abstract_rich=tuple(rich_text(shorten(flat, SLACK_ABSTRACT_CHARS), match.terms)),
        meta_rich=_meta_rich(view),
        title_mrkdwn=mrkdwn(slack_title),
        abstract_mrkdwn=_cut_marked(shorten(flat, SLACK_ABSTRACT_CHARS), match.terms, mrkdwn_highlight),
        authors_mrkdwn=mrkdwn(shorten(authors, SLACK_AUTHORS_CHARS)),
        terms_mrkdwn=", ".join(
            [f"*{mrkdwn(_term_label(t))}*" for t in terms + authors_matched]
            + [mrkdwn(r) for r in view.reasons]
        )
        or "your categories",
    )


CATEGORY_CHARS = 60  # a category is a label (cs.LG, "Machine Learning"): a line's worth of it
MAX_CATEGORIES = 20


@lru_cache(maxsize=4096)
def _labels(categories: tuple[str, ...]) -> tuple[str, ...]:
    """A paper's categories as shown: text from the feed like its title, so one line each (no
    control, zero-width or direction characters), cut short, and no more than MAX_CATEGORIES."""
    labels = (shorten(shown(c), CATEGORY_CHARS) for c in categories)
    return tuple(dict.fromkeys(c for c in labels if c))[:MAX_CATEGORIES]


def _hf_fields(p: Paper) -> dict:
    """The Hugging Face fields of a paper as a PaperView carries them: links checked, the
    thumbnail only over https (a mail client warns about, or blocks, plain-http images)."""
    github, project = paper_link(p.github_url), paper_link(p.project_url)
    return {
        "hf_url": paper_link(p.hf_url),
        "github_url": github,
        "github_repo": _repo_name(github),
        "github_stars": p.github_stars,
        "stars_text": _count(p.github_stars),
        "project_url": project,
        "project_host": link_host(project),
        "ai_summary": shown(p.ai_summary),
        "thumbnail_url": paper_link(p.thumbnail_url, https_only=True),
        "comments": p.comments,
        "organization": shown(p.organization)[:100],
    }


def _repo_name(url: str) -> str:
    """`owner/name` of a GitHub repository link, else its host."""
    try:
        parts = [x for x in urlsplit(url).path.split("/") if x]
    except ValueError:
        return ""
    if link_host(url).endswith("github.com") and len(parts) >= 2:
        return f"{parts[0]}/{parts[1]}"[:100]
    return link_host(url)


def _count(n: int | None) -> str:
    """1234 -> "1.2k": a star count at a glance."""
    if n is None:
        return ""
    if n < 1000:
        return str(n)
    if n < 1_000_000:
        return f"{n / 1000:.1f}".rstrip("0").rstrip(".") + "k"
    return f"{n / 1_000_000:.1f}".rstrip("0").rstrip(".") + "M"


def _rich_link(url: str, text: str, style: dict | None = None) -> dict:
    element = {"type": "link", "url": url, "text": text} if url else {"type": "text", "text": text}
    return {**element, "style": style} if style else element


def rich_text(text: str, terms: tuple[str, ...]) -> list[dict]:
    """Slack rich_text elements for `text`: literal text (no mrkdwn, so `*`, `_`, `~`, a
    backtick or `<!channel>` shows as written), matched words bold, URLs as links (and never
    bold inside one)."""
    cuts = [(a, b, "bold") for a, b in marked_spans(text, terms)]
    for m in _URL_RE.finditer(text):
        url = url_as_written(m.group())
        if url:
            cuts.append((m.start(), m.start() + len(url), "url"))
    out, pos = [], 0
    for a, b, kind in sorted(cuts):
        if a < pos:
            continue
        if a > pos:
            out.append({"type": "text", "text": text[pos:a]})
        piece = text[a:b]
        if kind == "url":
            out.append({"type": "link", "url": _url_of(piece), "text": piece})
        else:
            out.append({"type": "text", "text": piece, "style": {"bold": True}})
        pos = b
    if pos < len(text):
        out.append({"type": "text", "text": text[pos:]})
    return out


def _meta_rich(v: PaperView) -> tuple[dict, ...]:
    """The line under a paper in Slack, as rich_text elements: why it is there, its counts, links."""
    bold = {"bold": True}
    out: list[dict] = [{"type": "text", "text": "Matched: "}]
    why = [(_term_label(t), bold) for t in v.terms + v.authors_matched] + [
        (r, {"italic": True}) for r in v.reasons
    ]
    for i, (label, style) in enumerate(why or [("your categories", None)]):
        out += [{"type": "text", "text": ", "}] if i else []
        out.append({"type": "text", "text": label[:200], **({"style": style} if style else {})})
    counts = [f"{v.upvotes} upvote{'s' if v.upvotes != 1 else ''}"] if v.upvotes else []
    counts += [f"{v.comments} comment{'s' if v.comments != 1 else ''}"] if v.comments else []
    out += [{"type": "text", "text": f" · {c}"} for c in counts]
    stars = f" (★ {v.stars_text})" if v.github_url and v.stars_text else ""
    for url, label, after in (
        (v.pdf_url, "PDF", ""),
        (v.github_url, f"Code: {v.github_repo}", stars),
        (v.project_url, "Project page", ""),
        (v.hf_url, "Hugging Face", ""),
    ):
        if url:
            out += [{"type": "text", "text": " · "}, _rich_link(url, label)]
            out += [{"type": "text", "text": after}] if after else []
    return tuple(out)


_CLOSING = {")": "(", "]": "[", "}": "{"}


def url_as_written(found: str) -> str:
    """The URL that `_URL_RE` found in running text, without the punctuation after it: a
    trailing `.`, `,`, quote, or a bracket that closes none the URL opened, so `(see
    https://x.org/a)` ends at `a` and `https://en.wikipedia.org/wiki/X_(y)` keeps its own; empty
    when what is left is no link (`https://)`, `www.)`) or not a safe one."""
    url = found
    while url and (
        url[-1] in ".,;:!?'\"" or (url[-1] in _CLOSING and url.count(url[-1]) > url.count(_CLOSING[url[-1]]))
    ):
        url = url[:-1]
    return url if _URL_RE.fullmatch(url) and safe_url(_url_of(url)) else ""


def _url_of(found: str) -> str:
    return found if "://" in found else f"https://{found}"


TEMPLATE_NAMES = ("digest.subject.txt", "digest.txt", "digest.html", "digest.slack.json")
FINGERPRINT_FILES = 2000  # files of the user's folder watched for changes (a folder that big is a mistake)


class Renderer:
    """Renders digests with the user's templates over the defaults.

    An undefined name in a template is an error (StrictUndefined), not empty text: a typo
    shows up in `digestbot check` instead of as a silently missing part of every digest.
    """

    def __init__(
        self, templates: Path | None = None, block_kit_problem: Callable[[dict], str | None] | None = None
    ):
        """`block_kit_problem(message)`: what Slack would refuse in a message, or None (the
        Slack edge gives it; without it only the message's shape is checked)."""
        self.block_kit_problem = block_kit_problem
        self._checked: tuple[tuple | None, list[str]] = (None, [])  # (fingerprint, problems)
        self.env = jinja2.Environment(
            loader=TemplateLoader(template_search(templates)),
            undefined=jinja2.StrictUndefined,
            autoescape=jinja2.select_autoescape(enabled_extensions=("html", "htm"), default_for_string=False),
            trim_blocks=True,
            lstrip_blocks=True,
            keep_trailing_newline=True,
        )
        self.env.filters["highlight"] = highlight
        self.env.filters["mrkdwn"] = mrkdwn
        self.env.filters["wrap"] = wrap
        # Jinja's truncate cuts only at a space: a Japanese title with one English word lost the rest
        self.env.filters["shorten"] = shorten
        # The HTML part escapes everything it renders, whatever a file it includes or imports is
        # named: Jinja decides by the name, and `paper.html.j2` or `macros.jinja` would not be.
        self.html_env = self.env.overlay(autoescape=True)

    def context(
        self,
        digest: Digest,
        slack: bool = False,
        feedback_link: Callable[[str, str], str] | None = None,
        **extra,
    ) -> dict:
        """What templates see. `feedback_link(paper_key, "up"|"down")` makes the signed rating
        links (email), when the web app that answers them is public."""
        sub = digest.subscriber
        created = digest.created or datetime.now(UTC)
        local = created.astimezone(_zone(sub.timezone))
        papers = [paper_view(i, m, slack) for i, m in enumerate(digest.matches, 1)]
        if feedback_link is not None:
            papers = [
                replace(
                    v,
                    more_url=safe_url(feedback_link(v.key, "up")),
                    less_url=safe_url(feedback_link(v.key, "down")),
                    button_value=button_value(sub.id, v.key),
                )
                for v in papers
            ]
        ctx = {
            "digest": digest,
            "subscriber": sub,
            "profile": sub.profile,
            "papers": papers,
            "feedback": feedback_link is not None,
            "more": digest.more,
            "total": digest.total_matched,
            "date": local,
            "date_text": f"{local:%a %d %b %Y}",
            "why": why_text(sub),
            "version": __version__,
            "unsubscribe_url": None,
            "manage_url": None,  # the signed "Manage your digest" page, where the web app has one
            "show_ai_summary": sub.show_ai_summary,  # the Hugging Face AI summary, if the reader asked
            # papers left out of this email so that it stays under Gmail's clip (`_fit` says, or a
            # retry of a digest recorded cut: fewer papers than matched and its limit allowed)
            "cut_for_size": max(0, min(digest.total_matched, limit(sub)) - len(digest.matches)),
            **extra,
        }
        ctx["manage_url"] = safe_url(ctx["manage_url"]) or None
        ctx.setdefault("manage_hint", manage_hint(sub, ctx["manage_url"]))
        ctx.setdefault(
            "more_text", more_text(ctx["more"], len(papers), ctx["manage_url"], ctx["cut_for_size"])
        )
        return ctx

    def email(self, digest: Digest, **extra) -> EmailParts:
        """Subject, plain text and HTML (CSS inlined) for an email digest. The HTML part stays
        under HTML_BUDGET bytes whatever max_papers is (see `_fit`)."""
        ctx = self.context(digest, **extra)
        subject = shorten(one_line(self.env.get_template("digest.subject.txt").render(ctx)), SUBJECT_CHARS)
        if not subject:  # a mail without a subject looks like spam, and says nothing
            name = "digest.subject.txt"
            raise jinja2.TemplateSyntaxError("rendered an empty subject", 1, name, self.path_of(name))
        ctx, html = self._fit(ctx)
        text = self.env.get_template("digest.txt").render(ctx)
        return EmailParts(subject=subject, text=text, html=html, shown=len(ctx["papers"]))

    def _html(self, ctx: dict) -> str:
        return inline_css(self.html_env.get_template("digest.html").render(ctx))

    def _fit(self, ctx: dict) -> tuple[dict, str]:
        """The context and HTML of a digest that fits in HTML_BUDGET: all papers in full if they
        fit; else the best in full and the rest compact (title, authors and links: a tighter
        layout); else the best FULL_FIRST in full and as many compact papers as fit, the others
        counted in the "more" line (and left out of the text part too, so both parts agree).
        The footer is part of every try, so it is always inside. Each step is a binary search
        over renders; a digest that fits costs one render, as before."""
        html = self._html(ctx)
        if _size(html) <= HTML_BUDGET:
            return ctx, html
        papers = ctx["papers"]
        compact = [_compact(v) for v in papers]

        def attempt(full: int, shown: int) -> tuple[dict, str]:
            cut = len(papers) - shown
            views = papers[:full] + compact[full:shown]
            more = ctx["more"] + cut
            try_ctx = {
                **ctx,
                "papers": views,
                "more": more,
                "cut_for_size": ctx["cut_for_size"] + cut,  # a retry: cut when recorded, maybe more now
                "more_text": more_text(more, shown, ctx["manage_url"], ctx["cut_for_size"] + cut),
            }
            return try_ctx, self._html(try_ctx)

        shown = _largest(len(papers), lambda n: _size(attempt(min(FULL_FIRST, n), n)[1]) <= HTML_BUDGET)
        shown = max(shown, 1)  # a template too big on its own still sends the best paper
        full = _largest(shown, lambda k: _size(attempt(k, shown)[1]) <= HTML_BUDGET)
        return attempt(full, shown)

    def slack(self, digest: Digest, **extra) -> list[dict]:
        """Block Kit messages for a digest, split and trimmed to Slack's limits, in order."""
        ctx = self.context(digest, slack=True, **extra)
        template = self.env.get_template("digest.slack.json")
        rendered = template.render(ctx)
        try:
            payload = json.loads(rendered)
        except json.JSONDecodeError as e:
            raise not_json(template, ctx, e) from None
        if not isinstance(payload, dict) or not isinstance(payload.get("blocks"), list):
            raise jinja2.TemplateError('digest.slack.json must render to {"text": ..., "blocks": [...]}')
        wrong = block_shape_problem(payload)
        if wrong:
            raise jinja2.TemplateError(f"digest.slack.json did not render valid Block Kit: {wrong}")
        messages = split_slack_message(str(payload.get("text") or ""), payload["blocks"])
        for n, message in enumerate(messages, 1):  # as posted: split, and trimmed to Slack's limits
            wrong = self.block_kit_problem and self.block_kit_problem(message)
            if wrong:  # Slack would refuse it (invalid_blocks), maybe after a first part was posted
                part = f" (part {n} of {len(messages)})" if len(messages) > 1 else ""
                raise jinja2.TemplateError(f"digest.slack.json did not render valid Block Kit{part}: {wrong}")
        return messages

    def problems(self) -> list[str]:
        """Every template this renderer uses, compiled and rendered against a sample digest:
        what is wrong, as `file:line: template: message` (empty when all is well). Checked
        again only when a template file changed (the worker asks before every dispatch)."""
        fingerprint = self._fingerprint()
        if fingerprint != self._checked[0]:
            for env in (self.env, self.html_env):  # a template added to the user's folder hides the default
                if env.cache is not None:
                    env.cache.clear()
            self._checked = (fingerprint, self._find_problems())
        return list(self._checked[1])

    def _fingerprint(self) -> tuple:
        """When each template file, in each folder searched, was last changed (None: absent),
        and the other files of the user's folder (what a template includes, imports or
        extends; hidden folders left out, at most FINGERPRINT_FILES of them)."""
        stamps: list = []
        for folder in self.env.loader.searchpath:
            for name in TEMPLATE_NAMES:
                try:
                    stamps.append(os.stat(os.path.join(folder, name)).st_mtime_ns)
                except OSError:
                    stamps.append(None)
        for folder in self.env.loader.searchpath[:-1]:  # the shipped ones change with an upgrade only
            for root, dirs, files in os.walk(folder):
                dirs[:] = sorted(d for d in dirs if not d.startswith("."))
                for name in sorted(files):
                    if len(stamps) > FINGERPRINT_FILES:
                        return tuple(stamps)
                    with contextlib.suppress(OSError):
                        stamps.append((root, name, os.stat(os.path.join(root, name)).st_mtime_ns))
        return tuple(stamps)

    def _find_problems(self) -> list[str]:
        found = [  # Jinja passes over a folder named like a template, and uses the default
            f"{path}:1: template: not a file"
            for folder in self.env.loader.searchpath[:-1]
            for path in (os.path.join(folder, name) for name in TEMPLATE_NAMES)
            if os.path.exists(path) and not os.path.isfile(path)
        ]
        found += compile_problems(self.env, TEMPLATE_NAMES, self.path_of)
        found += unknown_names(self.env, TEMPLATE_NAMES)
        if found:
            return found
        link = "https://digest.example.org/unsubscribe?t=sample"
        for name, render in (  # one paper, and several with more left out: both ways of each `if`
            ("digest.subject.txt", lambda: self.email(sample_digest(papers=1))),
            (
                "digest.subject.txt",
                lambda: self.email(
                    sample_digest(),
                    unsubscribe_url=link,
                    manage_url=link,
                    show_ai_summary=True,
                    feedback_link=lambda key, vote: link,
                ),
            ),
            (  # papers with only a title and a link: `p.upvotes + 1` passes on the full sample
                "digest.subject.txt",
                lambda: self.email(sample_digest(sparse=True), unsubscribe_url=link, manage_url=link),
            ),
            ("digest.slack.json", lambda: self.slack(sample_digest(sparse=True, slack=True))),
            ("digest.slack.json", lambda: self.slack(sample_digest(papers=1, slack=True))),
            (
                "digest.slack.json",
                lambda: self.slack(sample_digest(slack=True), manage_url=link, show_ai_summary=True),
            ),
        ):
            try:
                render()
            except Exception as e:  # a template can raise anything (None + 1, a bad filter call)
                found.append(template_problem(e, self.path_of(name)))
        return list(dict.fromkeys(found or self._blank_parts(link) + self._linked_stylesheets(link)))

    def _blank_parts(self, link: str) -> list[str]:
        """The email templates that render no text for a full sample digest (an empty file, a
        comment left open): every reader would get an email that shows nothing."""
        parts = self.email(sample_digest(), unsubscribe_url=link, manage_url=link)
        blank = [("digest.txt", "the plain-text part")] if not parts.text.strip() else []
        blank += [("digest.html", "the HTML part")] if shows_no_text(parts.html) else []
        return [
            f"{self.path_of(name)}:1: template: rendered no text ({part} of every digest would be empty)"
            for name, part in blank
        ]

    def _linked_stylesheets(self, link: str) -> list[str]:
        """A `<link rel="stylesheet">` in the HTML part: dropped when the CSS is inlined (only
        <style> blocks are), and no mail client would load it, so its styles never show."""
        ctx = self.context(sample_digest(), unsubscribe_url=link, manage_url=link)
        template = self.html_env.get_template("digest.html")
        html = template.render(ctx)
        comments = [m.span() for m in _COMMENT_RE.finditer(html)]
        found = []
        for tag in _STYLESHEET_RE.finditer(html):
            if any(a <= tag.start() < b for a, b in comments):
                continue
            _, filename, line = written_at(template, ctx, tag.start())
            found.append(
                f'{filename or template.name}:{line}: template: a <link rel="stylesheet"> is dropped from the'
                " email (mail clients load no stylesheets, and only <style> blocks are inlined): put its"
                ' rules in a <style> block, as <style>{% include "digest.css" %}</style> does with a file'
                " of the templates folder"
            )
        return found

    def unsubscribe_missing(self) -> list[str]:
        """The email parts whose template shows no unsubscribe link when digests have one (a
        template of the user's folder that left it out): for `check` to warn of. Call after
        `problems()` found none."""
        link = "https://digest.example.org/unsubscribe?t=sample"
        parts = self.email(
            sample_digest(), unsubscribe_url=link, manage_url="https://digest.example.org/manage"
        )
        html = '<a href="{{ unsubscribe_url }}">Unsubscribe</a>'
        return [
            f"{self.path_of(name)}: the {part} part shows no unsubscribe link: a reader whose mail client"
            " offers no unsubscribe button has no way to stop the digest (Yahoo and CAN-SPAM ask for one"
            f" in the body); add {{% if unsubscribe_url %}}{example}{{% endif %}}"
            for name, part, body, example in (
                ("digest.html", "HTML", parts.html, html),
                ("digest.txt", "plain-text", parts.text, "Unsubscribe: {{ unsubscribe_url }}"),
            )
            if link not in body
        ]

    def path_of(self, name: str) -> str:
        """The file a template name resolves to (the user's folder first)."""
        try:
            return self.env.get_template(name).filename or name
        except jinja2.TemplateError:
            return name


# What a reader never sees in an HTML part: comments (one left open runs to the end), and the
# head, style, script and title elements. Whatever else is left after the tags is text.
_UNSEEN_RE = re.compile(
    r"<!--.*?(?:-->|\Z)|<(head|style|script|title)\b.*?(?:</\1\s*>|\Z)", re.DOTALL | re.IGNORECASE
)
_TAG_RE = re.compile(r"<[^>]*>")
_COMMENT_RE = re.compile(r"<!--.*?(?:-->|\Z)", re.DOTALL)
_STYLESHEET_RE = re.compile(r"<link\b[^>]*\brel\s*=\s*[\"']?[^\"'>]*\bstylesheet\b", re.IGNORECASE)


def shows_no_text(html: str) -> bool:
    """Whether an HTML document shows no text at all (white space and &nbsp; are none)."""
    text = _TAG_RE.sub("", _UNSEEN_RE.sub("", html))
    return not unescape(text).replace("\xa0", " ").strip()


def compile_problems(
    env: jinja2.Environment, names: Iterable[str], where: Callable[[str], str] = str
) -> list[str]:
    """The templates among `names` that do not compile in `env`, as `file:line: template:
    message`; `where(name)` is the file named when the error does not say (default: the name)."""
    found = []
    for name in names:
        try:
            env.get_template(name)
        except jinja2.TemplateError as e:  # TemplateLoader makes an unreadable file one too
            found.append(template_problem(e, where(name)))
    return found


def unknown_names(env: jinja2.Environment, names: Iterable[str]) -> list[str]:
    """Filters and tests the templates among `names` use but `env` lacks, as `file:line:
    template: message`. Jinja finds those only when their branch runs, which the sample digest
    may not take (an `if` on a paper without upvotes). A template that asks `is filter` or
    `is test` is left alone: it guards its own."""
    found = []
    for name in names:
        try:
            source, filename, _ = env.loader.get_source(env, name)
            tree = env.parse(source, name, filename)
        except jinja2.TemplateError:
            continue  # compile_problems reports it
        used = list(tree.find_all((jinja2.nodes.Filter, jinja2.nodes.Test)))
        if any(isinstance(n, jinja2.nodes.Test) and n.name in ("filter", "test") for n in used):
            continue
        for node in used:
            kind, known = (
                ("filter", env.filters) if isinstance(node, jinja2.nodes.Filter) else ("test", env.tests)
            )
            if node.name not in known:
                found.append(f"{filename or name}:{node.lineno}: template: No {kind} named '{node.name}'.")
    return list(dict.fromkeys(found))


def block_shape_problem(payload: dict) -> str | None:
    """What makes a rendered message (`{"text": ..., "blocks": [...]}`) no message at all, or
    None: no text and no blocks, or a block that is not an object. What Slack would refuse in a
    block is the edge's to say (`Renderer`'s `block_kit_problem`: slack-sdk's models)."""
    blocks = payload["blocks"]
    if not blocks and not one_line(str(payload.get("text") or "")):
        return "no text and no blocks"
    for n, block in enumerate(blocks, 1):
        if not isinstance(block, dict):
            return f"block {n} is not an object"
    return None


def not_json(template: jinja2.Template, ctx: dict, error: json.JSONDecodeError) -> jinja2.TemplateSyntaxError:
    """A template's output that is not JSON, as an error at the template line that wrote the
    text where the JSON broke (the output's own lines are not the file's, once a loop or an
    include has run), quoting that text."""
    # at the end of the output (a bracket left open): where its last text was written
    name, filename, line = written_at(template, ctx, min(error.pos, len(error.doc.rstrip()) - 1))
    quoted = one_line(error.doc.split("\n")[error.lineno - 1])
    before = error.doc[: error.pos].rstrip()
    message = f"{template.name} did not render to JSON: {error.msg}"
    if error.msg.startswith(("Expecting value", "Expecting property name")) and before.endswith(","):
        message += " (a comma after the last item?)"
    if not error.doc.strip():
        message += " (it rendered nothing)"
    elif quoted:
        message += f", in the line it rendered as {shorten(quoted, 80)!r}"
    else:
        message += " at the end of what it rendered"
    return jinja2.TemplateSyntaxError(message, line, name, filename)


def written_at(template: jinja2.Template, ctx: dict, pos: int) -> tuple[str, str | None, int]:
    """The template (name, file, line) that wrote character `pos` of `template`'s output for
    `ctx`: rendered again piece by piece, each piece read off the template code that yielded it,
    followed into what `{% include %}`, `{% extends %}` and blocks bring (a macro's text is its
    call's). Rendering is pure, so the second render is the first."""
    where: tuple[str, str | None, int] = (template.name or "", template.filename, 1)
    gen = template.root_render_func(template.new_context(ctx))
    done = 0
    try:
        for piece in gen:
            if done + len(piece) > pos:
                found = _yielded_at(gen)
                if found is not None:
                    writer, code_line = found
                    line = _source_line(writer, code_line, piece, pos - done)
                    where = (writer.name or "", writer.filename, line)
                break
            done += len(piece)
    finally:
        gen.close()
    return where


def _yielded_at(gen) -> tuple[jinja2.Template, int] | None:
    """The template whose code is suspended in `gen`, and the line of that code: the innermost
    of the generators it yields from (`yield from`, or the loop over `gen` an include compiles to)."""
    while True:
        inner = gen.gi_yieldfrom
        if inner is None and gen.gi_frame is not None:
            inner = gen.gi_frame.f_locals.get("gen")
        if not inspect.isgenerator(inner) or inner.gi_frame is None:
            break
        gen = inner
    frame = gen.gi_frame
    template = frame.f_globals.get("__jinja_template__") if frame is not None else None
    return (template, frame.f_lineno) if isinstance(template, jinja2.Template) else None


def _source_line(template: jinja2.Template, code_line: int, piece: str, offset: int) -> int:
    """The line of `template`'s file where character `offset` of `piece`, which its code line
    `code_line` yielded, was written. Jinja maps an expression's code to its line, but text
    written as it stands only to the tag before it: that text is found in the file from there."""
    line = template.get_corresponding_lineno(code_line)
    if any(code == code_line for _, code in template.debug_info):
        return line  # an expression's output: its own line
    try:
        source = template.environment.loader.get_source(template.environment, template.name)[0]
    except (jinja2.TemplateError, TypeError, AttributeError):
        return line
    source = source.replace("\r\n", "\n").replace("\r", "\n")
    start = sum(len(x) + 1 for x in source.split("\n")[: line - 1])
    at = source.find(piece, start)
    if at == -1:
        return line
    return line + source[start:at].count("\n") + piece[:offset].count("\n")


def template_problem(error: Exception, fallback: str) -> str:
    """An error from compiling or rendering a template as `file:line: template: message`: the
    file and line of the template itself (a syntax error says where; for a render error it is
    in the traceback, which jinja writes in template lines)."""
    message = one_line(getattr(error, "message", None) or str(error) or type(error).__name__)
    if isinstance(error, jinja2.TemplateNotFound):
        message = f"no template {error.name!r} in the templates folder or the defaults"
    elif isinstance(error, RecursionError):  # "maximum recursion depth exceeded in comparison"
        message = (
            "includes, imports or extends itself (directly or through another file), or a macro"
            " calls itself, without end: a name such as 'digest.html' is the templates folder's"
            " file first, never the default of that name"
        )
    if isinstance(error, jinja2.TemplateSyntaxError):
        return f"{error.filename or error.name or fallback}:{error.lineno}: template: {message}"
    where, line = fallback, 1
    for frame, lineno in traceback.walk_tb(error.__traceback__):
        filename = frame.f_code.co_filename
        # a template's own lines (Jinja rewrites the traceback into them), included ones too
        if filename.endswith(TEMPLATE_NAMES) or "__jinja_exception__" in frame.f_globals:
            where, line = filename, lineno
    return f"{where}:{line}: template: {message}"


def sample_digest(papers: int = 2, slack: bool = False, sparse: bool = False) -> Digest:
    """A digest with every field filled, to try templates on; with 2 papers, 1 more matched.
    `sparse`: its papers carry only what every feed gives (a key, a title, a link), as a blog
    post does: no abstract, authors, categories, date, arXiv id or Hugging Face fields."""
    sub = Subscriber(
        id="sample",
        profile=Profile(keywords=("imitation learning",), exclude=("survey",), authors=("Ada Lovelace",)),
        email=None if slack else "sample@example.org",
        slack="#sample" if slack else None,
    )
    created = datetime(2025, 1, 2, 8, tzinfo=UTC)
    if sparse:
        post = Paper(
            key="https://blog.example.org/post", title="A sample post", link="https://blog.example.org/post"
        )
        matches = [Match(post, 5, ("imitation learning",), ()), Match(post, 3, (), ())][:papers]
        return Digest(sub, matches, len(matches), created=created)
    paper = Paper(
        key="arxiv:2501.00001",
        title="A sample paper on imitation learning",
        abstract="We learn from demonstrations. " * 5,
        authors=("Ada Lovelace", "Alan Turing"),
        categories=("cs.LG", "cs.RO"),
        link="https://arxiv.org/abs/2501.00001",
        pdf_url="https://arxiv.org/pdf/2501.00001",
        arxiv_id="2501.00001",
        published=datetime(2025, 1, 2, tzinfo=UTC),
        upvotes=12,
        hf_url="https://huggingface.co/papers/2501.00001",
        github_url="https://github.com/sample/imitation",
        github_stars=1234,
        project_url="https://sample.github.io/imitation/",
        ai_summary="A sample summary of the paper.",
        thumbnail_url="https://cdn-thumbnails.huggingface.co/social-thumbnails/papers/2501.00001.png",
        comments=3,
        organization="Sample Lab",
    )
    matches = [Match(paper, 5, ("imitation learning",), ("Ada Lovelace",)), Match(paper, 3, (), ())][:papers]
    total = papers + 1 if papers > 1 else papers
    return Digest(sub, matches, total, created=created)


def split_slack_message(text: str, blocks: list[dict]) -> list[dict]:
    """Split a long message into several within Slack's limits, each with a fallback `text`."""
    blocks = [_fit_block(b) for b in blocks]
    chunks = _chunks(blocks, SLACK_MAX_BLOCKS - 1, SLACK_MESSAGE_TEXT_CHARS) or [[]]
    messages = []
    for n, chunk in enumerate(chunks, 1):
        label = f" ({n}/{len(chunks)})" if len(chunks) > 1 else ""
        if n > 1:
            chunk = [
                {"type": "context", "elements": [{"type": "mrkdwn", "text": f"continued{label}"}]},
                *chunk,
            ]
        messages.append({"text": _cut(one_line(text) + label, SLACK_TEXT_CHARS), "blocks": chunk})
    return messages


def _chunks(blocks: list[dict], size: int, chars: int) -> list[list[dict]]:
    """`blocks` in runs of at most `size` blocks and `chars` characters of text, never starting a
    run with a paper's buttons (an `actions` block goes with the paper above it)."""
    chunks, start = [], 0
    lengths = [_text_chars(b) for b in blocks]
    while start < len(blocks):
        end, total = start, 0
        while end < len(blocks) and end - start < size and (end == start or total + lengths[end] <= chars):
            total += lengths[end]
            end += 1
        while end < len(blocks) and end - 1 > start and blocks[end].get("type") == "actions":
            end -= 1
        chunks.append(blocks[start:end])
        start = end
    return chunks


def _text_chars(value: object) -> int:
    """The characters of every `text` string in a block, however deep (what Slack totals)."""
    if isinstance(value, dict):
        return sum(len(v) if k == "text" and isinstance(v, str) else _text_chars(v) for k, v in value.items())
    if isinstance(value, list):
        return sum(map(_text_chars, value))
    return 0


def _fit_block(block: dict) -> dict:
    block = dict(block)
    if block.get("type") == "rich_text":
        return _fit_rich(block)
    if block.get("type") == "header" and isinstance(block.get("text"), dict):
        block["text"] = {
            **block["text"],
            "text": _cut(one_line(block["text"].get("text", "")), SLACK_HEADER_CHARS),
        }
    elif isinstance(block.get("text"), dict):
        block["text"] = {**block["text"], "text": _cut(block["text"].get("text", ""), SLACK_SECTION_CHARS)}
    if isinstance(block.get("fields"), list):  # a section's columns: text objects of their own limit
        block["fields"] = [_fit_text(f, SLACK_FIELD_CHARS) for f in block["fields"]]
    if isinstance(block.get("elements"), list):
        block["elements"] = [_fit_element(e) for e in block["elements"]]
    if isinstance(block.get("accessory"), dict):  # a section's button (or image, menu...)
        block["accessory"] = _fit_element(block["accessory"])
    return block


def _fit_text(text: object, limit: int) -> object:
    """A text object (`{"type": ..., "text": ...}`) with its text trimmed to `limit`."""
    if isinstance(text, dict) and isinstance(text.get("text"), str):
        return {**text, "text": _cut(text["text"], limit)}
    return text


def _fit_rich(node: dict) -> dict:
    """A rich_text block with every text trimmed to Slack's limit. Its texts are literal (no
    mrkdwn), so nothing is escaped; a `<!channel>` there is shown, and pings nobody."""
    node = dict(node)
    if isinstance(node.get("text"), str):
        node["text"] = defuse(node["text"][:SLACK_SECTION_CHARS])
    if isinstance(node.get("elements"), list):
        fitted = [_fit_rich(e) if isinstance(e, dict) else e for e in node["elements"]]
        # Slack refuses a text element with no text (an empty title or reason)
        node["elements"] = [e for e in fitted if not (isinstance(e, dict) and e.get("text") == "")]
    return node


def _fit_element(element: object) -> object:
    """A context element's text, or a button's label (a text object), within Slack's limits."""
    if not isinstance(element, dict):
        return element
    text = element.get("text")
    if isinstance(text, str):
        return {**element, "text": _cut(text, SLACK_SECTION_CHARS)}
    return {**element, "text": _fit_text(text, SLACK_BUTTON_CHARS)} if isinstance(text, dict) else element


_MENTION_RE = re.compile(r"<(?=[!@#])")


def defuse(text: str) -> str:
    """Literal (rich_text) text with a word joiner after any `<` that starts `<!`, `<@` or `<#`:
    it looks the same, and whatever reads it can never take it for a mention."""
    return _MENTION_RE.sub("<\u2060", text)


def _cut(text: str, limit: int) -> str:
    """Trim to `limit` characters without leaving half a mrkdwn link or escape behind.

    Also defuses any `<!channel>`, `<@U…>` or `<#C…>` that reached a text (a template that
    forgot |mrkdwn): a digest never pings anyone.
    """
    text = _MENTION_RE.sub("&lt;", text)
    if len(text) <= limit:
        return text
    cut = text[: limit - 2]
    amp = cut.rfind("&")
    if amp != -1 and ";" not in cut[amp:]:
        cut = cut[:amp]
    opened = cut.rfind("<")
    if opened > cut.rfind(">"):
        if "|" in cut[opened:]:  # inside a link's label: keep the link, shorten its label
            return cut.rstrip() + "…>"
        cut = cut[:opened]  # inside the URL itself: drop the link
    return cut.rstrip() + "…"


def inline_css(html: str) -> str:
    """Move <style> rules onto elements: many mail clients drop <style> blocks. At-rules
    (`@media (prefers-color-scheme: dark)`) are kept in a <style> block for those that read it."""
    return _INLINER.inline(html)


# @media rules (a dark palette) cannot be inlined: they stay in a <style> block.
_INLINER = css_inline.CSSInliner(keep_style_tags=False, keep_at_rules=True, load_remote_stylesheets=False)


WHY_LIST_CHARS = 300  # of each list in the footer's "asks for ...": the rest are counted


def why_text(sub: Subscriber) -> str:
    """One sentence on what the subscriber asked for, for the footer: each list shown up to
    WHY_LIST_CHARS and the rest counted, so that a profile of 200 keywords still leaves room for
    the footer's links in a Slack block (3,000 characters). Terms are shown as one_line makes
    them: a keyword stored from Slack or the web pages cannot carry a control or direction
    character into the digest."""
    p = sub.profile
    parts = [f"the {p.trending} most upvoted new papers on Hugging Face"] if p.trending else []
    if p.likes or p.seed_texts:
        n = len(p.likes) + len(p.seed_texts)
        parts.append(f"papers like the {n} you liked" if n > 1 else "papers like the one you liked")
    if p.keywords:
        parts.append("keywords " + _listing(p.keywords))
    if p.authors:
        parts.append("authors " + _listing(p.authors))
    if p.categories:
        parts.append("categories " + _listing(p.categories))
    text = "; ".join(parts) or "nothing yet"
    if p.exclude:
        text += " (excluding " + _listing(p.exclude) + ")"
    return text


def _listing(items: tuple[str, ...], budget: int = WHY_LIST_CHARS) -> str:
    """`a, b, c and 7 more`: the items that fit in `budget` characters (at least one)."""
    shown: list[str] = []
    used = 0
    for item in map(one_line, items):
        if shown and used + len(item) > budget:
            break
        shown.append(item[:budget])
        used += len(item) + 2
    rest = len(items) - len(shown)
    return ", ".join(shown) + (f" and {rest} more" if rest else "")


def manage_hint(sub: Subscriber, manage_url: str | None = None) -> str:
    """What the reader can do about this digest, in their words (the footer)."""
    if manage_url:
        return "Change your topics, schedule or number of papers, or pause it:"
    if sub.origin == "slack":
        return "Change your topics or schedule, or pause it, with /digest in Slack."
    if sub.origin == "web":
        return "To change or stop it, use the links in this email."
    return "To change your topics or schedule, write to whoever set this digest up for you."


def more_text(more: int, shown: int, manage_url: str | None = None, cut_for_size: int = 0) -> str:
    """The line under a digest cut short: how many more matched, and what the reader can do (a
    digest cut for size is not cut by max_papers: more of them would not help)."""
    if more <= 0:
        return ""
    text = f"…and {more} more matched."
    if cut_for_size:
        return text + f" This email shows the best {shown}, so that every mail client shows it whole."
    if manage_url:
        return text + " To get more papers in each one:"
    return text + f" Your digest shows the best {shown} each time."


def limit(sub: Subscriber) -> int:
    """How many papers a digest of `sub` holds at most (a trending one: its N)."""
    return sub.profile.trending or sub.max_papers


def _size(html: str) -> int:
    return len(html.encode("utf-8"))


def _largest(n: int, fits: Callable[[int], bool]) -> int:
    """The largest k in 0..n with fits(k), for `fits` true up to some k and false after."""
    lo, hi = 0, n
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if fits(mid):
            lo = mid
        else:
            hi = mid - 1
    return lo


def _compact(view: PaperView) -> PaperView:
    """A paper in a tight layout: a short abstract, a few authors, no thumbnail or summary."""
    abstract = shorten(view.abstract, COMPACT_ABSTRACT_CHARS)
    return replace(
        view,
        compact=True,
        abstract=abstract,
        abstract_html=_highlighted(abstract, view.terms),
        authors=view.authors_short or view.authors,
        thumbnail_url="",
        ai_summary="",
    )


def _zone(name: str) -> ZoneInfo:
    try:
        return get_timezone(name)
    except ScheduleError:  # validated when it was set; a date in UTC beats no digest
        return ZoneInfo("UTC")
