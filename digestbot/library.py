"""A reader's library as seed papers: a BibTeX file (as Zotero, Mendeley, Google Scholar or
arXiv export it) or a text file with one arXiv id or URL per line; another export format (RIS,
CSV, CSL JSON, XML) is refused, named. Pure: text in, seeds out.

From BibTeX, an entry's arXiv id comes from `eprint` (with `archivePrefix = {arXiv}` or an
id-shaped eprint), `url`, a `doi` of the 10.48550/arXiv form, a CoRR `volume` (`abs/…`, with
`journal = {CoRR}` or `{ArXiv}`), or a field that mentions arXiv; an entry without one is kept as
a title (and abstract) seed: a stored paper with the same title (whatever its case, punctuation,
braces or accents; `title_keys`) stands for it, else it is used as text. A proceedings volume
(or another entry's `crossref`) without an arXiv id is no paper of the reader's: not a seed.
Parsing is bibtexparser's; a block it cannot parse is an error with its line.
"""

from __future__ import annotations

import contextlib
import functools
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass

import bibtexparser
from bibtexparser.model import DuplicateBlockKeyBlock, DuplicateFieldKeyBlock, Entry, String

from .arxiv_ids import arxiv_id, mentioned_arxiv_id, problem_note, unlisted
from .text import bom_encoding, detex, one_line

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
# arXiv:1706.03762}`, Zotero's `number = {arXiv:…}` and `note = {arXiv:… [cs]}`, NASA ADS's
# `pages = {arXiv:…}`, `howpublished`.
_MENTIONS = ("journal", "number", "note", "howpublished", "pages")
# Semantic Scholar's `journal = {ArXiv}` and DBLP's `journal = {CoRR}` name the paper in the
# volume: `volume = {abs/1706.03762}`, as arXiv's Computing Research Repository numbered it.
_CORR_VOLUME_RE = re.compile(r"^\s*abs/(\S+)\s*$", re.IGNORECASE)


# JabRef names a library's encoding in its header (`% Encoding: ISO8859_1`, `Cp1252`, `UTF8`):
# older versions saved in the system's encoding, Latin-1 or Windows-1252.
_JABREF_ENCODING_RE = re.compile(rb"\A(?:%[^\n]*\n|[ \t\r]*\n)*?%[ \t]*Encoding:[ \t]*([A-Za-z0-9_.:-]+)")


def library_text(raw: bytes) -> str:
    """A library file's bytes as text: as its byte order mark says, else UTF-8, else (bytes
    that are no UTF-8) in the encoding its JabRef header names; UnicodeDecodeError otherwise.
    UTF-8 comes before the header: a file converted to UTF-8 keeps the header it had. Lines
    end in "\n" whatever ended them (classic Mac OS BibDesk and old exports end them in a bare
    "\r", which bibtexparser does not count, so every error would say line 1)."""
    return _newlines(_decoded(raw))


def _decoded(raw: bytes) -> str:
    # A byte order mark says how a file is encoded: UTF-8 (Windows editors), UTF-16 (Notepad's
    # "Unicode", Windows PowerShell's `>`) or UTF-32.
    if (codec := bom_encoding(raw)) is not None:
        return raw.decode(codec).removeprefix("\ufeff")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        if m := _JABREF_ENCODING_RE.match(raw[:2000]):
            with contextlib.suppress(LookupError):  # a name Python does not know (or no text encoding)
                return raw.decode(m.group(1).decode("ascii"))
        raise


def _newlines(text: str) -> str:
    return text.replace("\r\n", "\n").replace("\r", "\n") if "\r" in text else text


def read_library(text: str) -> list[Seed]:
    """The seeds in a library file's text, each paper once (`distinct_seeds`); raises
    LibraryError for what cannot be read."""
    if _BIBTEX_RE.search(text):
        seeds = _bibtex(text)
    else:
        _refuse_foreign(text)
        seeds = _id_lines(text)
    if len(seeds) > MAX_SEEDS:
        raise LibraryError(1, f"{len(seeds)} papers; a library can hold at most {MAX_SEEDS}")
    return distinct_seeds(seeds)


def distinct_seeds(seeds: Iterable[Seed]) -> list[Seed]:
    """Each paper of a library once, in file order. Libraries often hold a paper twice: the
    arXiv preprint and the published version (a DOI, no arXiv id), or two exports of it. An
    entry without an id whose title is an id'd entry's is that paper; of several without an id
    under one title, the one with the longest abstract stands for them."""
    seeds = list(seeds)
    ids: set[str] = set()
    titled = {title_key(s.title) for s in seeds if s.arxiv_id and s.title}
    best: dict[str, Seed] = {}
    for s in seeds:
        if s.arxiv_id is None and s.title:
            key = title_key(s.title)
            if key not in titled and (key not in best or len(s.abstract) > len(best[key].abstract)):
                best[key] = s
    kept = []
    for s in seeds:
        if s.arxiv_id is not None:
            if s.arxiv_id not in ids:
                ids.add(s.arxiv_id)
                kept.append(s)
        elif not s.title or best.get(title_key(s.title)) is s:
            kept.append(s)
    return kept


# TeX that exports write beside accents (`detex`): typography as text commands, as Zotero
# writes it (`Isn{\\textquoteright}t`, `{\\textendash}`), formatting commands that keep their
# argument (`\\emph{In vivo}`) and escaped specials (`\\&`). Written here rather than with
# pylatexenc (which bibtexparser brings): that took 48 s for a library of 5,000 abstracts.
_TEX_SYMBOLS = {
    "textquoteright": "\u2019",
    "textquoteleft": "\u2018",
    "textquotedblright": "\u201d",
    "textquotedblleft": "\u201c",
    "textquotesingle": "'",
    "textendash": "\u2013",
    "textemdash": "\u2014",
    "textellipsis": "\u2026",
    "ldots": "\u2026",
    "dots": "\u2026",
    "textasciitilde": "~",
    "textbackslash": "\\",
    "textunderscore": "_",
    "textbar": "|",
    "textless": "<",
    "textgreater": ">",
    "textbullet": "\u2022",
    "textdegree": "\u00b0",
    "textperiodcentered": "\u00b7",
    "LaTeX": "LaTeX",
    "TeX": "TeX",
}
_TEX_SYMBOL_RE = re.compile(
    r"\\(" + "|".join(sorted(_TEX_SYMBOLS, key=len, reverse=True)) + r")(?![A-Za-z])(?:\{\}|[ \t]+)?"
)
# A command of two or more letters before a group, but for the special letters `detex` reads.
_TEX_COMMAND_RE = re.compile(r"\\(?!(?:ss|aa|AA|ae|AE|oe|OE)(?![A-Za-z]))[A-Za-z]{2,}\*?\s*(?=\{)")
_TEX_ESCAPE_RE = re.compile(r"\\([&%$#_])")
# Old-style font and size switches, which apply to the rest of their group (`{\\em In vivo}`,
# `{\\it Ab initio\\/}`, as ACM, IEEE and hand-kept libraries write titles), and the controls that
# print nothing: a hyphenation point (`Demon\\-strations`), the italic correction, `\\@`.
_TEX_SWITCH_RE = re.compile(
    r"\\(?:em|it|bf|sc|sl|sf|tt|rm|up|md|normalfont|(?:it|sl|sc|up)shape|(?:bf|md)series"
    r"|(?:rm|sf|tt)family|tiny|scriptsize|footnotesize|small|normalsize|large|Large|LARGE|huge|Huge)"
    r"(?![A-Za-z])\s*"
    r"|(?<!\\)\\[-/@]"
)
_TEX_TIE_RE = re.compile(r"(?<!\\)~")  # a non-breaking space


def plain_tex(value: str) -> str:
    """TeX in a BibTeX field or a title as text: accents and special letters decoded, text
    commands as their characters, formatting commands and font switches dropped (their text
    kept), escapes, hyphenation points and braces gone. Math (`$\\alpha$`) stays as written, as arXiv's own titles keep it."""
    value = _TEX_TIE_RE.sub(" ", value)
    if "\\" in value:
        value = detex(value)
        value = _TEX_SYMBOL_RE.sub(lambda m: _TEX_SYMBOLS[m.group(1)], value)
        value = _TEX_SWITCH_RE.sub("", value)
        value = _TEX_ESCAPE_RE.sub(r"\1", _TEX_COMMAND_RE.sub("", value))
    return _BRACES_RE.sub("", value)


def _clean(value: str) -> str:
    """A BibTeX field as one line of plain text, as feed titles are (TeX decoded)."""
    return one_line(plain_tex(value))


# Blocks bibtexparser refuses that are whole entries all the same: a key used twice (two
# bibliographies merged, Google Scholar entries pasted one after another), a field given twice.
_READABLE_FAILURES = (DuplicateBlockKeyBlock, DuplicateFieldKeyBlock)


def _bibtex(text: str) -> list[Seed]:
    library = bibtexparser.parse_string(text, parse_stack=[])  # values as written: `_value` reads them
    for block in library.failed_blocks:
        if not isinstance(block, _READABLE_FAILURES):
            raise LibraryError(
                block.start_line + 1, f"BibTeX that cannot be parsed: {_first_line(block.raw)}"
            )
    entries = list(library.entries)
    entries += [  # not a @string or @preamble given twice: no paper
        b.ignore_error_block for b in library.failed_blocks if isinstance(b.ignore_error_block, Entry)
    ]
    macros = _macros(library.strings)
    read = []
    for entry in sorted(entries, key=lambda e: e.start_line):
        fields: dict[str, list[str]] = {}
        for f in entry.fields:
            fields.setdefault(_field_key(f.key), []).append(_value(str(f.value), macros))
        read.append((entry, fields))
    volumes = {_first(fields, "crossref").strip().lower() for _, fields in read} - {""}
    seeds = []
    for entry, fields in read:
        aid = _entry_arxiv_id(fields)
        title = _clean(_first(fields, "title"))
        if not aid and _is_volume(entry, volumes):
            continue
        if aid or title:
            seeds.append(Seed(entry.start_line + 1, aid, title, _clean(_first(fields, "abstract"))))
    return seeds


# Entry types of a volume that holds papers, not of a paper: DBLP's and JabRef's exports add
# the one each paper's `crossref` names, titled "IEEE International Conference on …".
_VOLUME_TYPES = frozenset({"proceedings", "mvproceedings", "collection", "mvcollection", "periodical"})


def _is_volume(entry: Entry, crossrefs: set[str]) -> bool:
    """Whether an entry is a proceedings volume or another entry's crossref: no paper to seed
    with (unless it has an arXiv id: EPTCS publishes its volumes there)."""
    return entry.entry_type.lower() in _VOLUME_TYPES or entry.key.strip().lower() in crossrefs


_COMMENT_LINE_RE = re.compile(r"%[^\n]*\n")


def _field_key(key: str) -> str:
    """A field's name, lower case, without the `% comment` lines bibtexparser reads into the
    name of the field after them (`title = {…}, % from Scholar`, then `eprint = …`)."""
    return _COMMENT_LINE_RE.sub("", key).strip().lower()


def _macros(strings: Iterable[String]) -> dict[str, str]:
    """The @string macros by lower-case name, each read with those defined before it."""
    macros: dict[str, str] = {}
    for string in strings:
        macros[string.key.strip().lower()] = _value(str(string.value), macros)
    return macros


def _value(raw: str, macros: dict[str, str]) -> str:
    """A field's value as written: `{…}`, `"…"`, a number or a @string macro (an unknown one is
    its name), or several of them joined with `#` (`title = conf # { Workshop}`)."""
    return "".join(_part(p, macros) for p in (_concatenated(raw) if "#" in raw else [raw]))


def _concatenated(raw: str) -> list[str]:
    """The parts of a value joined with `#` outside braces and quotes."""
    parts, depth, quoted, start = [], 0, False, 0
    for i, c in enumerate(raw):
        if c == "{":
            depth += 1
        elif c == "}":
            depth -= 1
        elif c == '"' and depth == 0:
            quoted = not quoted
        elif c == "#" and depth == 0 and not quoted:
            parts.append(raw[start:i])
            start = i + 1
    return [*parts, raw[start:]]


def _part(part: str, macros: dict[str, str]) -> str:
    part = part.strip()
    if len(part) >= 2 and (part[0], part[-1]) in (("{", "}"), ('"', '"')):
        return part[1:-1]
    return macros.get(part.lower(), part)


def _first(fields: dict[str, list[str]], key: str) -> str:
    return next((v for v in fields.get(key, ()) if v.strip()), "")


def _entry_arxiv_id(fields: dict[str, list[str]]) -> str | None:
    """An entry's arXiv id: its eprint, Mendeley's arxivId, its url or doi (any of a field given
    twice), else the one paper a field that mentions arXiv names."""
    prefix = _first(fields, "archiveprefix") or _first(fields, "eprinttype")
    eprints = [e for e in fields.get("eprint", ()) if prefix.lower() == "arxiv" or arxiv_id(e)]
    aid = arxiv_id(
        *eprints, *(v for k in ("arxivid", "url", "doi") for v in fields.get(k, ()))
    )  # arxivId: Mendeley
    mentions = (mentioned_arxiv_id(v) for f in _MENTIONS for v in fields.get(f, ()) if "arxiv" in v.lower())
    return aid or _corr_volume(fields) or next(filter(None, mentions), None)


def _corr_volume(fields: dict[str, list[str]]) -> str | None:
    """The id in a CoRR volume (`abs/1706.03762`) of an entry whose journal is arXiv or CoRR."""
    journal = _first(fields, "journal").strip().lower()
    if journal != "corr" and "arxiv" not in journal:
        return None
    volumes = (m.group(1) for v in fields.get("volume", ()) if (m := _CORR_VOLUME_RE.match(v)))
    return next(filter(None, map(arxiv_id, volumes)), None)


# The other formats reference managers export, told by their first line: RIS (`TY  - JOUR`),
# EndNote's tagged text (`%0 Journal Article`), CSV with a header row, JSON (CSL JSON) and XML
# (EndNote XML, Zotero RDF, MODS).
_FOREIGN_FORMATS = (
    (re.compile(r"[A-Z][A-Z0-9]  - "), "a RIS export"),
    (re.compile(r"%0 "), "an EndNote export"),
    (re.compile(r'(?i)(?=.*\btitle\b)(?:"?[^,"]*"?,){2,}'), "a CSV export"),
    (re.compile(r"[\[{]"), "a JSON export (CSL JSON)"),
    (re.compile(r"<"), "an XML export"),
)


def _refuse_foreign(text: str) -> None:
    """Refuse, named for what it is, a library in another export format, told by its first line
    that is not a comment (read as a list of ids, it would be blamed for that line: "not an
    arXiv id or URL: 'TY  - JOUR'")."""
    lines = ((n, raw.strip()) for n, raw in enumerate(text.splitlines(), 1))
    n, line = next(
        ((n, line) for n, line in lines if line and not line.startswith("#")), (0, "")
    )  # not a comment
    if line and arxiv_id(line) is None:
        kind = next((k for pattern, k in _FOREIGN_FORMATS if pattern.match(line)), None)
        if kind:
            raise LibraryError(
                n,
                f"{kind}, which digestbot does not read: export the collection as BibTeX (.bib),"
                " or list one arXiv id or URL per line",
            )


_LINK_COMMENT_RE = re.compile(r"\s#")


def _id_lines(text: str) -> list[Seed]:
    seeds = []
    for n, raw in enumerate(text.splitlines(), 1):
        line = unlisted(raw.strip())  # a list in notes, Markdown's
        # a comment runs from `#` on; in a link, from a `#` after white space (not a `#fragment`)
        line = (
            _LINK_COMMENT_RE.split(line, 1)[0] if line.startswith("http") else line.split("#", 1)[0]
        ).strip()
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
    text = unicodedata.normalize("NFKD", plain_tex(title).casefold())
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
