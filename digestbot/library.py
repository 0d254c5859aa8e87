"""A reader's library as seed papers: a BibTeX file (as Zotero, Mendeley, Google Scholar or
arXiv export it) or a text file with one arXiv id or URL per line. Pure: text in, seeds out.

From BibTeX, an entry's arXiv id comes from `eprint` (with `archivePrefix = {arXiv}` or an
id-shaped eprint), `url`, or a `doi` of the 10.48550/arXiv form; an entry without one is kept as
a title (and abstract) seed: a stored paper with the same title (whatever its case, punctuation,
braces or accents; `title_keys`) stands for it, else it is used as text.
Parsing is bibtexparser's; a block it cannot parse is an error with its line.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from dataclasses import dataclass

import bibtexparser

from .arxiv_ids import arxiv_id, mentioned_arxiv_id, problem_note
from .text import detex, one_line

MAX_SEEDS = 5000
MAX_LIBRARY_BYTES = 32 * 2**20  # 5,000 entries with long abstracts are about 15 MB


@dataclass(frozen=True)
class Seed:
    """One paper of a library: an arXiv id, or a title (and abstract) without one."""

    line: int
    arxiv_id: str | None = None
    title: str = ""
    abstract: str = ""


class LibraryError(ValueError):
    """A library that cannot be read: `line` (1-based) says where."""

    def __init__(self, line: int, message: str):
        super().__init__(message)
        self.line = line


_BIBTEX_RE = re.compile(r"^\s*@\w+\s*[{(]", re.MULTILINE)
_BRACES_RE = re.compile(r"[{}]")
# Fields where exports mention the preprint: Google Scholar's `journal = {arXiv preprint
# arXiv:1706.03762}`, Zotero's `number = {arXiv:…}` and `note = {arXiv:… [cs]}`, `howpublished`.
_MENTIONS = ("journal", "number", "note", "howpublished")


def read_library(text: str) -> list[Seed]:
    """The seeds in a library file's text; raises LibraryError for what cannot be read."""
    seeds = _bibtex(text) if _BIBTEX_RE.search(text) else _id_lines(text)
    if len(seeds) > MAX_SEEDS:
        raise LibraryError(1, f"{len(seeds)} papers; a library can hold at most {MAX_SEEDS}")
    return seeds


def _clean(value: str) -> str:
    """A BibTeX field as one line of plain text, as feed titles are (TeX accents decoded)."""
    return one_line(detex(_BRACES_RE.sub("", value)))


def _bibtex(text: str) -> list[Seed]:
    library = bibtexparser.parse_string(text)
    if library.failed_blocks:
        block = library.failed_blocks[0]
        raise LibraryError(block.start_line + 1, f"BibTeX that cannot be parsed: {_first_line(block.raw)}")
    seeds = []
    for entry in library.entries:
        fields = {f.key.lower(): str(f.value) for f in entry.fields}
        aid = _entry_arxiv_id(fields)
        title = _clean(fields.get("title", ""))
        if aid or title:
            seeds.append(Seed(entry.start_line + 1, aid, title, _clean(fields.get("abstract", ""))))
    return seeds


def _entry_arxiv_id(fields: dict[str, str]) -> str | None:
    """An entry's arXiv id: its eprint, Mendeley's arxivId, its url or doi, else the one paper a
    field that mentions arXiv names."""
    eprint = fields.get("eprint", "")
    prefix = fields.get("archiveprefix", fields.get("eprinttype", "")).lower()
    aid = arxiv_id(
        eprint if prefix == "arxiv" or arxiv_id(eprint) else None,
        fields.get("arxivid"),  # Mendeley
        fields.get("url"),
        fields.get("doi"),
    )
    mentions = (mentioned_arxiv_id(fields[f]) for f in _MENTIONS if "arxiv" in fields.get(f, "").lower())
    return aid or next(filter(None, mentions), None)


def _id_lines(text: str) -> list[Seed]:
    seeds = []
    for n, raw in enumerate(text.splitlines(), 1):
        line = raw.split("#", 1)[0].strip() if not raw.lstrip().startswith("http") else raw.strip()
        if not line:
            continue
        aid = arxiv_id(line)
        if aid is None:
            raise LibraryError(n, f"not an arXiv id or URL: {line[:80]!r}{problem_note(line)}")
        seeds.append(Seed(n, aid))
    return seeds


def _first_line(raw: str) -> str:
    return raw.strip().splitlines()[0][:80] if raw.strip() else "(empty)"


_NOT_WORD_RE = re.compile(r"[\W_]+")
MAX_TITLE_CHARS = 300  # a title is shorter: a seed text's title ends within these
MIN_CUT_WORDS = 3


def title_key(title: str) -> str:
    """A title as two spellings of it share it: TeX decoded, case, accents and punctuation gone
    (`Schr{\\"o}dinger {B}ridges: a Study` and `Schrödinger bridges - A study`)."""
    text = unicodedata.normalize("NFKD", detex(_BRACES_RE.sub("", title)).casefold())
    text = "".join(c for c in text if not unicodedata.combining(c))
    return _NOT_WORD_RE.sub(" ", text).strip()


@functools.lru_cache(maxsize=65536)  # a library's texts come again for every digest
def title_keys(seed_text: str) -> tuple[str, ...]:
    """The keys of the titles a seed text (`title. abstract`, as a library entry without an
    arXiv id becomes) may start with, longest first: it is cut at each ". " in its first
    MAX_TITLE_CHARS where at least three words come before, and at its end if that is as near."""
    text = seed_text.strip()
    short = len(text) <= MAX_TITLE_CHARS
    ends = [m.end() for m in re.finditer(r"[.?!] ", text[:MAX_TITLE_CHARS])] + ([len(text)] if short else [])
    keys, key, start = [], "", 0
    for end in ends:  # a cut's key is the last one's and the next piece's: each piece normalized once
        key = f"{key} {title_key(text[start:end])}".strip()
        keys.append(key)
        start = end
    keys = [k for k in keys if k.count(" ") >= MIN_CUT_WORDS - 1]  # not "Deep learning." of a longer title
    if short and key not in keys:
        keys.append(key)  # the whole text: an entry with a title only, however short
    return tuple(k for k in dict.fromkeys(reversed(keys)) if k)  # longest first
