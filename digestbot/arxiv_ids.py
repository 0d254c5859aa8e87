"""arXiv identifiers: found in links, guids, DOIs and plain text, returned without version.

New-style ids (`2403.01234v2`) and old-style ones (`hep-th/9901001v1`), in an abstract, PDF or
HTML URL (or a Hugging Face paper page's, or alphaXiv's, ar5iv's, Semantic Scholar's or SciRate's), an OAI or `arXiv:` prefix, the DataCite DOI `10.48550/arXiv.2403.01234`, or on their
own; wrapped as Slack sends links (`<https://…|label>`) or in brackets. One paper has one id
whatever the spelling: old-style archives in lower case, without a subject class
(`math.GT/0309136` is `math/0309136`, as arXiv's API names it). A string shaped like an id that
arXiv never issued (month 13, four digits after 2014, five before 2015, an unknown archive) is
not one. Characters that print nothing (a zero-width space, a soft hyphen) do not count. Pure: no I/O.
"""

from __future__ import annotations

import re
from urllib.parse import unquote

_ID = (
    r"(?:(?P<yy>\d{2})(?P<mm>\d{2})\.(?P<num>\d{4,5})"
    r"|(?P<archive>[a-z][a-z-]*)(?:\.[a-z][a-z-]*)?/(?P<oyy>\d{2})(?P<omm>\d{2})(?P<onum>\d{3}))"
    r"(?:v\d+)?(?:\.pdf)?"
    # the end (of the text, a path, or a url inside another's query: `?url=…/2403.01234&hl=en`),
    # or a sentence's closing punctuation
    r"(?=$|[?#&/|>}\s]|[.,;:!)\]>\"'’”]+(?:$|\s))"
)
_ARXIV_ID_RE = re.compile(
    r"(?:(?<![\w-])arxiv\.org/(?:abs|pdf|html|format|ps|src)/|(?<![\w-])huggingface\.co/papers/"
    # the sites readers read arXiv papers on, whose links name the paper by its id
    r"|(?<![\w-])(?:alphaxiv\.org/(?:abs|overview|pdf)|ar5iv\.org/(?:abs|html)|semanticscholar\.org/arxiv"
    r"|scirate\.com/arxiv|arxiv-sanity-lite\.com/\?rank=pid&pid=)/?"
    r"|oai:arxiv\.org:|arxiv:|10\.48550/arxiv\.|^)\s*" + _ID,
    re.IGNORECASE,
)
_ANY_ID_RE = re.compile(r"(?<![\w./-])" + _ID, re.IGNORECASE)  # bare ids anywhere: is there a second?
_OPENERS = "<([{\"'‘“"  # around an id in text and Slack's <link|label>

# The archives of old-style ids (before April 2007), as arXiv lists them.
OLD_ARCHIVES = frozenset(
    [
        "acc-phys",
        "adap-org",
        "alg-geom",
        "ao-sci",
        "astro-ph",
        "atom-ph",
        "bayes-an",
        "chao-dyn",
        "chem-ph",
        "cmp-lg",
        "comp-gas",
        "cond-mat",
        "cs",
        "dg-ga",
        "funct-an",
        "gr-qc",
        "hep-ex",
        "hep-lat",
        "hep-ph",
        "hep-th",
        "math",
        "math-ph",
        "mtrl-th",
        "nlin",
        "nucl-ex",
        "nucl-th",
        "patt-sol",
        "physics",
        "plasm-ph",
        "q-alg",
        "q-bio",
        "q-fin",
        "quant-ph",
        "solv-int",
        "supr-con",
    ]
)


def arxiv_id(*candidates: str | None) -> str | None:
    """The arXiv id (without version) of the first of the given strings (links, guids, ids)
    that names one paper: a string naming two (`2403.10715, 2403.10886`) names none."""
    for text in candidates:
        if text:
            # as written, else percent-decoded: a link inside a redirect's query (Outlook's Safe
            # Links: `?url=https%3A%2F%2Farxiv.org%2Fabs%2F2403.01234`)
            for form in dict.fromkeys((text, unquote(text))):
                if aid := _one_id(form):
                    return aid
    return None


# Characters that print nothing, copied along with an id: a zero-width space (web pages), a soft
# hyphen (PDF text), direction marks, a word joiner, a byte order mark (two files joined with `cat`).
_INVISIBLE_RE = re.compile("[\u00ad\u200b-\u200f\u202a-\u202e\u2060-\u2064\ufeff]")


def _one_id(text: str) -> str | None:
    text = _INVISIBLE_RE.sub("", text).strip().lstrip(_OPENERS)
    found = [aid for m in _ARXIV_ID_RE.finditer(text) if (aid := _issued(m))]
    if found:
        others = {aid for m in _ANY_ID_RE.finditer(text) if (aid := _issued(m))}
        if not others - {found[0]} and len(set(found)) == 1:
            return found[0]
    return None


def _issued(m: re.Match) -> str | None:
    """The match as arXiv writes the id, if arXiv could have issued it."""
    if m.group("yy"):
        yymm, num = int(m.group("yy") + m.group("mm")), m.group("num")
        digits = 5 if yymm >= 1501 else 4  # five-digit numbers since January 2015
        if yymm < 704 or not 1 <= yymm % 100 <= 12 or len(num) != digits:
            return None  # (new-style ids began in April 2007)
        return f"{m.group('yy')}{m.group('mm')}.{num}"
    archive, yy, mm = m.group("archive").lower(), int(m.group("oyy")), int(m.group("omm"))
    if archive not in OLD_ARCHIVES or not (yy >= 91 or yy <= 7) or not 1 <= mm <= 12:
        return None
    return f"{archive}/{m.group('oyy')}{m.group('omm')}{m.group('onum')}"


def _named(text: str) -> set[str]:
    """Every id arXiv could have issued that `text` names, links and bare ids alike."""
    text = _INVISIBLE_RE.sub("", text)
    return {aid for r in (_ARXIV_ID_RE, _ANY_ID_RE) for m in r.finditer(text) if (aid := _issued(m))}


def mentioned_arxiv_id(text: str | None) -> str | None:
    """The one paper a free text names, bare ids included (Google Scholar's `arXiv preprint
    hep-th/9901001`); None for none or several."""
    found = _named(text) if text else set()
    return found.pop() if len(found) == 1 else None


NOT_AN_ID = "not an arXiv id or link"
_NEW_SHAPE_RE = re.compile(r"(?<![\w.])(\d{2})(\d{2})\.(\d+)")  # YYMM.N…, issued or not
_OLD_SHAPE_RE = re.compile(r"(?<![\w./-])([a-z][a-z-]*)(?:\.[a-z-]+)?/(\d{2})(\d{2})\d{3}\b", re.IGNORECASE)


def id_problem(text: str) -> str:
    """Why `text` names no paper (for a message: `arxiv_id` gave None), in a few words."""
    found = _named(text)
    if len(found) > 1:
        return "it names more than one paper (" + ", ".join(sorted(found)) + "): give one at a time"
    if m := _NEW_SHAPE_RE.search(text):
        yymm, digits = int(m.group(1) + m.group(2)), len(m.group(3))
        if not 1 <= yymm % 100 <= 12:
            return f"{m.group(1)}{m.group(2)} is not a year and month (YYMM)"
        if yymm < 704:
            return "ids of the form YYMM.NNNN began in April 2007 (0704); older ones look like hep-th/9901001"
        want = 5 if yymm >= 1501 else 4
        if digits != want:
            return f"an id from {'2015 on' if want == 5 else 'before 2015'} has {want} digits after the dot"
    if m := _OLD_SHAPE_RE.search(text):
        if m.group(1).lower() not in OLD_ARCHIVES:
            return f"arXiv has no archive {m.group(1)!r} (old-style ids look like hep-th/9901001)"
        if not 1 <= int(m.group(3)) <= 12:
            return f"{m.group(2)}{m.group(3)} is not a year and month (YYMM)"
        return "old-style ids ran from 1991 to March 2007"
    return NOT_AN_ID


_LIST_MARKER_RE = re.compile(r"^(?:[-*+\u2022]|\d{1,4}[.)])\s+")  # `- `, `* `, `• `, `1. `, `2) `


def unlisted(line: str) -> str:
    """A line without the list marker before it (a list kept in notes, Markdown's)."""
    return _LIST_MARKER_RE.sub("", line, count=1)


def split_refs(text: str) -> list[str]:
    """Paper references (ids or links) as typed in a list: separated by commas or line breaks,
    or by spaces where one entry holds several ids, each without a list marker before it. An
    entry that names one paper stays whole (`arXiv:2401.12345 [cs.LG]`, `Attention is all you
    need https://arxiv.org/abs/1706.03762`)."""
    refs = []
    for part in (unlisted(p.strip()) for p in re.split(r"[,\r\n]+", text)):
        words = part.split()
        if len(words) > 1 and arxiv_id(part) is None and any(map(arxiv_id, words)):
            refs.extend(words)
        elif part:
            refs.append(part)
    return refs


def problem_note(text: str) -> str:
    """` (why)` when `id_problem` says more than that `text` is no id at all, else ''."""
    why = id_problem(text)
    return "" if why == NOT_AN_ID else f" ({why})"
