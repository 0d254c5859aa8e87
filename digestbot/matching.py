"""Profile matching: compile profiles once, match many papers, score and rank. No I/O.

The rules users rely on (DESIGN.md): keywords match title and abstract case- and
accent-insensitively on word boundaries; hyphen, space and underscore are the same; a plural
matches its singular and back; `prefix*` is a prefix. Exclusions veto, authors match ignoring case
and accents, categories filter.

Everything rests on one normalization. A text becomes a string of tokens, each padded by single
spaces: `" self supervised learning | of robots "`. Letters and digits make tokens; space,
hyphen, underscore, apostrophe, slash and TeX's `$`, `\\` and braces (math: `$k$-means`) only separate
them; any other punctuation becomes the break token `|`, so a phrase never matches across a
comma or a full stop (but `C++`, `C#` and the `.` of `.NET` are tokens: see _token_res). A
keyword normalizes the same way, so matching a phrase on word boundaries is finding `" diffusion policy "` in that string.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from functools import cache, lru_cache
from itertools import chain, compress, count
from operator import attrgetter

import ahocorasick
import numpy as np
from scipy import sparse

from .models import Match, Paper, Profile
from .text import detex, invisible_problem

TITLE_WEIGHT = 30
ABSTRACT_WEIGHT = 10
REPEAT_WEIGHT = 1
REPEAT_CAP = 5
AUTHOR_WEIGHT = 40

BREAK = "|"
_JOINERS = r"\s\-'’/\u2010-\u2015\u200c\u200d$\\{}"
# A token is a run of letters/digits (and, in text that is not ASCII, of the marks they carry:
# see _code_space); a break is a run of anything that is neither that, nor white space, nor a
# joiner. Underscore is in \w, so it is neither: a joiner. So are the
# zero-width (non-)joiners Persian and Hindi words are spelled with: a feed's text reaches the
# store with them as spaces (text.one_line), and a keyword typed with one must match that.
# So are TeX's `$` and `\`: titles and abstracts keep math as written (`$k$-means`,
# `$\alpha$-divergence`), and it spells the words `k-means` and `alpha-divergence`. So are
# the dashes U+2012-U+2015: titles write `Vision–Language` and `Navier–Stokes` with an en dash.
# So are TeX's braces, which group and separate nothing: `\emph{in-context} learning` is
# `in-context learning` (arXiv abstracts keep TeX as written).
_ASCII_RUN_RE = re.compile(r"[\x00-\x7f]+|[^\x00-\x7f]")
# Names of languages and tools spelled with punctuation are words too: a token may end in `++`
# or `#` (`C++`, `C++17`, `C#`, `F#`), so `C++` is neither `C`, nor `C#`, nor "C, then any
# punctuation". A `.` that follows no letter and comes before one is a token of its own
# (`.NET` is `. net`): `.NET` is not "any punctuation, then net", and `JSON` still matches `.json`.
# Elsewhere (`a+b`, `#3`, `e.g.`, `ASP.NET`, `0.5`) these stay punctuation.
DOT = "."
_SUFFIX = r"(?:\+\+(?![+]|[^\W\d_])|#(?![#\w]))?"
_DOT_NAME = r"(?<![\w.])\.(?=[^\W\d_])"


# Text with none of these (nearly every title and abstract) is read by the same regex without
# the names' lookarounds, which cost a tokenizer a third of its speed; both read it alike.
_NAMED_RE = re.compile(r"\+\+|#|\.(?<![\w.]\.)[^\W\d_]")  # the `.` first: found at C speed


def _token_res(word: str, joiners: str = _JOINERS) -> tuple[re.Pattern, re.Pattern]:
    """Tokens (group 1) made of `word` runs, and breaks (no group), as two regexes: one for
    text with no names spelled with punctuation, one for text with some (see above)."""
    return (
        re.compile(rf"({word})|[^\w{joiners}]+"),
        re.compile(rf"({_DOT_NAME}|{word}{_SUFFIX})|(?:(?!{_DOT_NAME})[^\w{joiners}])+"),
    )


_TOKEN_RES = _token_res(r"[^\W_]+")


def _tokenizer(folded: str) -> re.Pattern:
    """The regex that splits `folded` (folded text) into tokens and breaks."""
    plain, named = _TOKEN_RES if folded.isascii() else _code_space()[1]
    return named if _NAMED_RE.search(folded) else plain


# Letters Unicode gives no decomposition (a stroke, a slash, a ligature: NFKD leaves them
# whole), folded as one types them without the accent: `Łukasz` is `lukasz`, `Søren` `soren`.
_UNDECOMPOSED = {"ł": "l", "ø": "o", "đ": "d", "ð": "d", "ħ": "h", "ŧ": "t", "ı": "i", "ƚ": "l",
                 "æ": "ae", "œ": "oe", "þ": "th"}  # fmt: skip


# Characters that change how a word is drawn, not which word it is: the soft hyphen (`&shy;`,
# where a line may break), the combining grapheme joiner, Arabic's tatweel (a letter drawn
# longer to justify a line), Mongolian's free variation selectors, the variation selectors
# (which glyph to draw) and the Hangul fillers. Folding deletes them.
_SHAPING = (
    0xAD, 0x34F, 0x640, 0x115F, 0x1160, *range(0x180B, 0x1810), 0x3164, *range(0xFE00, 0xFE10), 0xFFA0,
    *range(0xE0100, 0xE01F0),
)  # fmt: skip


@cache
def _code_space() -> tuple[dict[int, str | None], tuple[re.Pattern, re.Pattern]]:
    """What folding and tokens need of the code space, found in one walk of it (once, when the
    first text that is not ASCII comes): a str.translate table deleting every combining mark
    (and the `_SHAPING` characters) and spelling the letters NFKD leaves whole without their accent; and the token regexes (`_token_res`) for such text, where a token goes on
    through the marks that stay, such as the vowel signs of Devanagari, Bengali or Tamil
    (`किताब` is one word: to `\\w` its vowel signs are neither letters nor digits)."""
    table: dict[int, str | None] = dict.fromkeys(_SHAPING)
    marks: list[list[int]] = []  # [first, last] of each run of the marks that stay
    combining, category = unicodedata.combining, unicodedata.category
    for i in range(0x30000):
        char = chr(i)
        if combining(char):
            table[i] = None
        elif category(char)[0] == "M":
            if marks and marks[-1][1] == i - 1:
                marks[-1][1] = i
            else:
                marks.append([i, i])
    table.update({ord(letter): plain for letter, plain in _UNDECOMPOSED.items()})
    # as ranges: a class of 2,000 single characters is tested one by one (4 times slower)
    kept = "".join(f"{re.escape(chr(a))}-{re.escape(chr(b))}" for a, b in marks)
    return table, _token_res(rf"[^\W_]+(?:[{kept}]+[^\W_]*)*", _JOINERS + kept)


# Chinese and Japanese write no spaces between words, and no tokenizer can tell where their
# words end without a dictionary: each ideograph and kana is a token of its own, so a keyword
# (`机器学习`, a phrase of four) matches where its characters stand in a row, inside a sentence
# too, and still never across punctuation.
_UNSPACED_RE = re.compile(
    "[\u2e80-\u2eff\u3005-\u3007\u3021-\u3029\u3031-\u3035\u3038-\u303c\u3041-\u309f"
    "\u30a0-\u30ff\u3105-\u312f\u31a0-\u31bf\u31f0-\u31ff\u3400-\u4dbf\u4e00-\u9fff"
    "\uf900-\ufaff\U00020000-\U0003134f]"
)


def _spaced(folded: str) -> str:
    """`folded` with each character of a script written without spaces set apart (see above)."""
    return folded if folded.isascii() else _UNSPACED_RE.sub(r" \g<0> ", folded)


def fold(text: str) -> str:
    """Case- and accent-fold: `Schröder` -> `schroder`, `Straße` -> `strasse`."""
    if text.isascii():
        return text.lower()
    return unicodedata.normalize("NFKD", text.casefold()).translate(_code_space()[0])


# A Greek letter standing alone is the word TeX spells it with: `α-divergence` is
# `$\alpha$-divergence`, `β-VAE` `$\beta$-VAE` (folded: final sigma is sigma, tonos gone).
_GREEK = dict(zip("αβγδεζηθικλμνξοπρστυφχψω", (
    "alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta", "theta", "iota", "kappa", "lambda", "mu",
    "nu", "xi", "omicron", "pi", "rho", "sigma", "tau", "upsilon", "phi", "chi", "psi", "omega",
), strict=True))  # fmt: skip


def _word(token: str) -> str:
    """A token found in folded text that is not ASCII, as matching reads it (see _GREEK)."""
    return _GREEK.get(token, token) if token else BREAK


def tokens(text: str) -> list[str]:
    """The normalized tokens of `text`, with BREAK where punctuation splits phrases."""
    folded = _spaced(fold(text))
    found = _tokenizer(folded).findall(folded)
    if folded.isascii():
        return [t or BREAK for t in found]
    return list(map(_word, found))


def normalize(text: str) -> str:
    """The padded token string that keywords are searched in (see the module doc)."""
    toks = tokens(text)
    return f" {' '.join(toks)} " if toks else " "


def token_spans(text: str) -> list[tuple[str, int, int]]:
    """Like `tokens`, with each token's (start, end) in the original text (for highlighting)."""
    if text.isascii():  # folding is lower(): offsets are unchanged
        lowered = text.lower()
        return [(m.group(1) or BREAK, m.start(), m.end()) for m in _tokenizer(lowered).finditer(lowered)]
    folded: list[str] = []
    origin: list[int] = []
    one_to_one = True
    for m in _ASCII_RUN_RE.finditer(text):  # fold runs of ASCII at once, other characters one by one
        chunk = m.group()
        if chunk.isascii():
            folded.append(chunk.lower())
            origin.extend(range(m.start(), m.end()))
        else:
            f = _spaced(fold(chunk))
            one_to_one = one_to_one and len(f) == 1
            folded.append(f)
            origin.extend([m.start()] * len(f))
    joined = "".join(folded)
    token_re = _tokenizer(joined)
    if one_to_one:  # every character folded to exactly one: offsets are unchanged
        return [(_word(m.group(1)), m.start(), m.end()) for m in token_re.finditer(joined)]
    return [
        (_word(m.group(1)), origin[m.start()], origin[m.end() - 1] + 1) for m in token_re.finditer(joined)
    ]


_SIBILANT_ENDS = ("s", "x", "z", "ch", "sh")


def _plurals(word: str) -> set[str]:
    """Regular English plurals of `word` (`analysis` -> analyses; `box` -> boxes)."""
    found = {word[:-2] + "es"} if word.endswith("is") and len(word) > 4 else set()
    if word.endswith(_SIBILANT_ENDS):
        found.add(word + "es")
    elif word.endswith("y") and len(word) > 1 and word[-2] not in "aeiou":
        found.add(word[:-1] + "ies")
    else:
        found.add(word + "s")
    return found


def _singulars(word: str) -> set[str]:
    """Every singular `word` may be the regular plural of: a plural in -es or -ies is read more
    than one way (`responses` is response+s, `boxes` box+es, `analyses` analysis; `movies` is
    movie+s, `policies` policy), so each reading is kept: a wrong one names no word."""
    found = set()
    if word.endswith("ies") and len(word) > 4:
        found.add(word[:-3] + "y")
    if word.endswith("es") and word[:-2].endswith(_SIBILANT_ENDS):
        found.add(word[:-2])
    if word.endswith("ses") and len(word) > 5:
        found.add(word[:-2] + "is")
    if word.endswith("s") and not word.endswith("ss") and len(word) > 3:
        found.add(word[:-1])
    return found


def word_forms(word: str) -> set[str]:
    """A word with its plural and singular forms: `policy` -> {policy, policies}."""
    if not word.isalpha():
        return {word}
    return {word} | _plurals(word) | _singulars(word)


@dataclass(frozen=True)
class Term:
    """A compiled keyword: what the user wrote and the padded patterns that match it."""

    text: str
    patterns: tuple[str, ...]

    @property
    def is_prefix(self) -> bool:
        return not self.patterns[0].endswith(" ")


class InvalidTerm(ValueError):
    """A keyword that can never match (no letters or digits, or a misplaced `*`)."""


@lru_cache(maxsize=65536)
def compile_term(raw: str) -> Term:
    """Compile one keyword or phrase; `robot*` matches any word starting with `robot`."""
    text = raw.strip()
    core = text[:-1] if text.endswith("*") else text
    if "*" in core:
        raise InvalidTerm(f"'*' is only allowed at the end of a keyword: {raw!r}")
    toks = tokens(core)
    if not any(t not in (BREAK, DOT) for t in toks):
        raise InvalidTerm(f"keyword has no letters or digits: {raw!r}")
    toks = _inner(toks)
    head = " ".join(toks[:-1])
    head = f" {head} " if head else " "
    if core is not text:
        return Term(text, (f"{head}{toks[-1]}",))
    forms = word_forms(toks[-1])
    if _ACRONYM_PLURAL_RE.search(core):  # `LMs`, `GPs`: too short for word_forms to guess
        forms.add(toks[-1][:-1])
    return Term(text, tuple(sorted(f"{head}{w} " for w in forms)))


def _inner(toks: list[str]) -> list[str]:
    """A keyword's tokens without the breaks at its ends: a keyword already matches on word
    boundaries, so `RLHF.`, `(LLM)` or `"diffusion policy"` are `RLHF`, `LLM` and `diffusion policy`,
    not those words beside punctuation."""
    start, end = 0, len(toks)
    while toks[start] == BREAK:
        start += 1
    while toks[end - 1] == BREAK:
        end -= 1
    return toks[start:end]


# A keyword ending in an acronym in the plural, as written: capitals, then a lower-case s (and
# maybe punctuation, no part of the keyword: see _inner).
_ACRONYM_PLURAL_RE = re.compile(r"(?<![^\W_])[A-Z][A-Z0-9]*[A-Z]s(?=[^\w+#]*$)")


MAX_TERM_CHARS = 100  # one keyword or exclusion, as written


def term_problem(term: str) -> str | None:
    """Why a keyword or exclusion cannot be used, or None. The one check the YAML, Slack and the
    web form apply alike: at most MAX_TERM_CHARS characters, no control or invisible formatting
    character (a right-to-left override would turn the footer that lists it around), and a
    term that can match something."""
    if len(term) > MAX_TERM_CHARS:
        return f"at most {MAX_TERM_CHARS} characters"
    if (problem := invisible_problem(term)) is not None:
        return problem
    try:
        compile_term(term)
    except InvalidTerm as e:
        return str(e)
    return None


def author_problem(name: str) -> str | None:
    """Why an author name cannot be followed, or None: a control or invisible character (as
    for terms), or no letters or digits (`---`), which names no author a paper lists."""
    if (problem := invisible_problem(name)) is not None:
        return problem
    if not normalize_name(name):
        return f"{name!r} has no letters or digits: it names no author"
    return None


def category_problem(category: str) -> str | None:
    """Why a category cannot be wanted, or None: a control or invisible character, or a `*`
    (no category holds one: `cs` is every `cs.*` already)."""
    if (problem := invisible_problem(category)) is not None:
        return problem
    if "*" in category:
        archive = category.split(".", 1)[0].strip(" *") or "cs"
        return f"{category!r} is no category: write {archive} (it stands for every {archive}.*)"
    return None


def term_key(term: str) -> tuple[str, ...]:
    """What the matcher takes a keyword for (its patterns): two with one key, such as another
    case, accent or spacing, `self-supervised` and `self supervised`, are one term to it, so a
    list keeps one of them. A term that can never match is keyed by its folded text."""
    try:
        return compile_term(term).patterns
    except InvalidTerm:
        return (fold(" ".join(term.split())),)


def distinct_terms(terms: Iterable[str], known: Iterable[str] = (), key=term_key) -> tuple[str, ...]:
    """`terms` but those with the `key` (`term_key`: one term to the matcher) of one `known`
    or of one before them: the first written is kept."""
    seen = set(map(key, known))
    out = []
    for term in terms:
        if (k := key(term)) not in seen:
            seen.add(k)
            out.append(term)
    return tuple(out)


def vetoes(exclusion: str, keyword: str) -> bool:
    """Whether `exclusion` leaves out every paper `keyword` brings, so the keyword can never
    bring one: it is the same term, or it is found in the keyword itself (`learning` in
    `imitation learning`, `rob*` in `robot*`, `transformer` in `transformers`)."""
    try:
        excluded, followed = compile_term(exclusion), compile_term(keyword)
    except InvalidTerm:
        return False
    if excluded.patterns == followed.patterns:
        return True
    # the shortest text the keyword matches: its words as written (a prefix: up to its `*`)
    written = followed.patterns[0] if followed.is_prefix else normalize(followed.text)
    return any(pattern in written for pattern in excluded.patterns)


def entry_key(field: str):
    """The key that makes two entries of a profile's `field` one to the matcher: `term_key` for
    keywords and exclusions, the normalized name for authors (`Lovelace, Ada` is `Ada
    Lovelace`), the folded category for categories (`CS.lg` is `cs.LG`). A list keeps the first
    of each (`distinct_terms`): the YAML, /digest and the web form alike."""
    return {"authors": normalize_name, "categories": _category_key}.get(field, term_key)


def _category_key(category: str) -> str:
    return category.strip().casefold()


def shared_terms(terms: Iterable[str], others: Iterable[str]) -> list[str]:
    """The entries of `terms` that are one term to the matcher (`term_key`) with one of `others`:
    a keyword that is also excluded, say."""
    keys = set(map(term_key, others))
    return [t for t in terms if term_key(t) in keys]


@lru_cache(maxsize=65536)  # the same authors come back paper after paper
def normalize_name(name: str) -> str:
    """An author name for comparison: TeX accents decoded, case and accents folded, and one
    written last name first (`Lovelace, Ada`, as BibTeX has it) read in the order papers list
    names (`Ada Lovelace`); a suffix after the comma (`King, Jr.`) is no first name."""
    last, comma, first = name.partition(",")
    if comma and last.strip() and first.strip() and "," not in first and not _NAME_SUFFIX_RE.match(first):
        name = f"{first} {last}"
    return " ".join(t for t in tokens(detex(name)) if t not in (BREAK, DOT))


_NAME_SUFFIX_RE = re.compile(r"^\s*(?:jr|sr|[ivx]+)\.?\s*$", re.IGNORECASE)


@dataclass(frozen=True)
class CompiledProfile:
    """A profile ready to match: terms compiled, authors and categories normalized."""

    keywords: tuple[Term, ...]
    exclude: tuple[Term, ...]
    authors: Mapping[str, str]  # normalized name -> as the user wrote it
    categories: tuple[str, ...]

    @property
    def is_empty(self) -> bool:
        return not (self.keywords or self.authors or self.categories)


def compile_profile(profile: Profile) -> CompiledProfile:
    """Compile a profile; raises InvalidTerm for a keyword that can never match."""
    return CompiledProfile(
        keywords=tuple(compile_term(k) for k in profile.keywords),
        exclude=tuple(compile_term(k) for k in profile.exclude),
        authors=profile_authors(profile),
        categories=profile_categories(profile),
    )


def profile_authors(profile: Profile) -> dict[str, str]:
    """The authors a profile follows: normalized name -> as the user wrote it."""
    return followed_authors(profile.authors)


def followed_authors(names: Iterable[str]) -> dict[str, str]:
    """Author names as followed: normalized name -> as written (names with no letters dropped)."""
    return {normalize_name(a): a for a in names if normalize_name(a)}


def profile_categories(profile: Profile) -> tuple[str, ...]:
    """The categories a profile wants, normalized (`cs.LG ` -> `cs.lg`)."""
    return wanted_categories(profile.categories)


def wanted_categories(categories: Iterable[str]) -> tuple[str, ...]:
    """Categories as wanted, normalized (`cs.LG ` -> `cs.lg`), blank ones dropped."""
    return tuple(c.strip().casefold() for c in categories if c.strip())


@dataclass(frozen=True)
class PaperText:
    """A paper's normalized title and abstract: computed once per paper, shared by all profiles."""

    title: str
    abstract: str
    authors: frozenset[str]
    categories: tuple[str, ...]

    @classmethod
    def of(cls, paper: Paper) -> PaperText:
        return cls(
            title=normalize(paper.title),
            abstract=normalize(paper.abstract),
            authors=frozenset(normalize_name(a) for a in paper.authors),
            categories=tuple(c.casefold() for c in paper.categories),
        )


def count_occurrences(haystack: str, pattern: str) -> int:
    """Occurrences of `pattern`, overlapping ones included (patterns share their padding)."""
    count, start = 0, haystack.find(pattern)
    while start != -1:
        count += 1
        start = haystack.find(pattern, start + 1)
    return count


def term_hits(term: Term, text: str) -> int:
    return sum(count_occurrences(text, p) for p in term.patterns)


def keyword_score(title_hits: int, abstract_hits: int) -> int:
    """Title hits count more than abstract hits; repeats add a little, never a keyword's worth."""
    fields = (title_hits > 0) + (abstract_hits > 0)
    repeats = min(title_hits + abstract_hits - fields, REPEAT_CAP)
    return TITLE_WEIGHT * (title_hits > 0) + ABSTRACT_WEIGHT * (abstract_hits > 0) + REPEAT_WEIGHT * repeats


def category_allowed(wanted: tuple[str, ...], categories: tuple[str, ...]) -> bool:
    """True when the paper carries one wanted category; `cs` stands for every `cs.*`."""
    if not wanted:
        return True
    return any(c == w or (("." not in w) and c.startswith(w + ".")) for w in wanted for c in categories)


def passes_filters(profile: CompiledProfile, text: PaperText) -> bool:
    """The profile's vetoes: the paper carries a wanted category (if any) and no exclusion."""
    if not category_allowed(profile.categories, text.categories):
        return False
    return not any(term_hits(t, text.title) or term_hits(t, text.abstract) for t in profile.exclude)


def match_profile(profile: CompiledProfile, paper: Paper, text: PaperText) -> Match | None:
    """Match one paper against one profile, rule by rule. The reference semantics."""
    if profile.is_empty or not passes_filters(profile, text):
        return None
    score, terms = 0, []
    for term in profile.keywords:
        t, a = term_hits(term, text.title), term_hits(term, text.abstract)
        if t or a:
            score += keyword_score(t, a)
            terms.append(term.text)
    authors = tuple(name for norm, name in profile.authors.items() if norm in text.authors)
    score += AUTHOR_WEIGHT * len(authors)
    if not (terms or authors or (not profile.keywords and not profile.authors)):
        return None
    return Match(paper=paper, score=score, terms=tuple(terms), authors=authors)


class ReferenceMatcher:
    """Rule by rule: every profile against every paper. Slow (papers x profiles x keywords), and
    kept as the reference the fast `Matcher` is tested against."""

    def __init__(self, profiles: Mapping[str, Profile]):
        self.profiles = {sid: compile_profile(p) for sid, p in profiles.items()}

    def match(self, paper: Paper, text: PaperText | None = None) -> Iterator[tuple[str, Match]]:
        text = text or PaperText.of(paper)
        for sid, profile in self.profiles.items():
            found = match_profile(profile, paper, text)
            if found is not None:
                yield sid, found


CHUNK = 10_000  # papers per batch in `Matcher.match_stream`: bounds the memory of one product


class Matcher:
    """All profiles compiled once: every keyword's patterns into one Aho-Corasick automaton, and
    who follows what (keywords, exclusions, authors, categories) into one sparse matrix (scipy).

    A batch of papers is read once (one pass of the automaton over each title and abstract) into
    a sparse matrix of what each paper carries: a score per keyword hit, a veto per excluded
    hit, its followed authors and its categories. The join with every profile is one sparse
    product, computed in C, so no Python runs per match; a `Match` (its terms and authors) is
    built only when a caller reads one. Results are exactly those of `ReferenceMatcher` (same
    matches, terms and scores, in profile order): the tests hold it to that.
    """

    def __init__(self, profiles: Mapping[str, Profile]):
        self._term_ids: dict[tuple[str, ...], int] = {}  # by patterns: `RL` and `rl` are one term
        self._pattern_ids: dict[str, int] = {}
        self._term_of_pattern: tuple[list[int], list[int]] = ([], [])
        # compile_profile's rules over all profiles at once, in bulk: each field of every profile
        # is read in one pass in C, and each distinct keyword as written is compiled once.
        written = _Index()
        rules = _Rules.read(profiles.values(), written)
        try:  # compile_profile's error, in profile order: the first keyword that can never match
            term_of = np.array([self._term_id(k) for k in written], dtype=np.int32)
        except InvalidTerm:
            for profile in profiles.values():
                compile_profile(profile)
            raise
        self._written = [k.strip() for k in written]  # keyword as written, by its index
        kept = rules.kept()
        sids = list(profiles)
        if not kept.all():  # empty profiles match nothing: left out
            rules = rules.only(kept)
            sids = list(compress(sids, kept.tolist()))
        self.ids: list[str] = sids
        n = len(sids)
        lengths, exclude_lengths, authors, categories = (
            rules.lengths,
            rules.exclude_lengths,
            rules.authors,
            rules.categories,
        )
        terms, excluded = term_of[rules.keywords], term_of[rules.excluded]
        # Profile i follows authors.values[_author_set[i]] (-1: none); categories likewise.
        self._author_set, self._followed = authors.of(n), authors.values
        # Flat, profile i's keywords are [_offsets[i]:_offsets[i + 1]]: as written, and as terms.
        self._keyword_written, self._keyword_terms = rules.keywords, terms
        self._offsets = np.concatenate(([0], np.cumsum(lengths)))
        self.author_ids: dict[str, int] = {}
        columns_of = [
            [self.author_ids.setdefault(a, len(self.author_ids)) for a in f] for f in authors.values
        ]
        followed = list(chain.from_iterable(map(columns_of.__getitem__, authors.which.tolist())))
        n_authors = np.zeros(n, dtype=np.int64)
        n_authors[authors.where] = np.array([len(c) for c in columns_of], dtype=np.int64)[authors.which]
        self.category_bits: dict[str, int] = {}
        self._set_masks = [self._category_mask(c) for c in categories.values]  # by category set
        self._category_set = categories.of(n)
        self._wants_categories = self._category_set >= 0  # bools: a gather per match reads 1 byte, not 8
        self.category_only = self._wants_categories & (lengths == 0) & (self._author_set < 0)
        bits = len(self.category_bits)
        only = np.flatnonzero(self.category_only)
        masks = self._set_masks  # the bits of the sets profiles picked by category alone use
        bits_of = _Memo(lambda which: [b for b in range(bits) if masks[which] >> b & 1])
        by_bit = list(map(bits_of.__getitem__, self._category_set[only].tolist()))
        # The veto: an excluded hit weighs more than everything else a profile can score.
        most = TITLE_WEIGHT + ABSTRACT_WEIGHT + REPEAT_WEIGHT * REPEAT_CAP
        self.veto = int((most * lengths + AUTHOR_WEIGHT * n_authors).max(initial=0)) + bits + 1
        bound = self.veto * (int(exclude_lengths.max(initial=0)) + 1)
        self.dtype = np.int32 if bound < 2**31 else np.int64
        # The rows of this matrix, and the columns of a batch's paper matrix: keyword terms, then
        # excluded terms, then authors, then category bits (for profiles picked by category alone).
        # A keyword listed twice counts twice (its two entries add up), as in the reference.
        self.n_terms = len(self._term_ids)
        self._excluded_at = self.n_terms
        self._authors_at = 2 * self.n_terms
        self._bits_at = self._authors_at + len(self.author_ids)
        bit_counts = np.zeros(n, dtype=np.int64)
        bit_counts[only] = [len(b) for b in by_bit]
        self.followers = _followers(
            [
                (terms, lengths, self.n_terms),
                (excluded, exclude_lengths, self.n_terms),
                (np.array(followed, dtype=np.int64), n_authors, len(self.author_ids)),
                (np.array(list(chain.from_iterable(by_bit)), dtype=np.int64), bit_counts, bits),
            ],
            self.dtype,
        )
        self.term_patterns = sparse.csr_matrix(
            (np.ones(len(self._term_of_pattern[0]), dtype=np.int32), self._term_of_pattern),
            shape=(len(self._pattern_ids), self.n_terms),
            dtype=np.int32,
        )
        self.words = max(1, -(-bits // 64))  # 64-bit words per category mask
        self._profile_words = np.zeros((n, self.words), dtype=np.uint64)  # by profile: its set's bits
        self._profile_words[categories.where] = _words(self._set_masks, self.words)[categories.which]
        self._paper_categories: dict[tuple[str, ...], tuple[int, list[int]]] = {}
        self.automaton = ahocorasick.Automaton(ahocorasick.STORE_INTS)
        for pattern, pid in self._pattern_ids.items():
            self.automaton.add_word(pattern, pid)
        if self._pattern_ids:
            self.automaton.make_automaton()
        self.has_patterns = bool(self._pattern_ids)

    def _category_mask(self, categories: tuple[str, ...]) -> int:
        """Wanted categories as bits, giving each category not seen yet the next bit."""
        bits = self.category_bits
        return sum({1 << bits.setdefault(category, len(bits)) for category in categories})

    def _term_id(self, keyword: str) -> int:
        term = compile_term(keyword)  # raises InvalidTerm
        tid = self._term_ids.get(term.patterns)
        if tid is None:
            tid = self._term_ids[term.patterns] = len(self._term_ids)
            for pattern in term.patterns:
                self._term_of_pattern[0].append(self._pattern_ids.setdefault(pattern, len(self._pattern_ids)))
                self._term_of_pattern[1].append(tid)
        return tid

    def __len__(self) -> int:
        return len(self.ids)

    def match(self, paper: Paper) -> Iterator[tuple[str, Match]]:
        """Every profile this paper matches, as (subscriber id, Match), in profile order."""
        return iter(self.match_batch([paper]))

    def match_stream(self, papers: Iterable[Paper], chunk: int = CHUNK) -> Iterator[Matches]:
        """`match_batch` over consecutive chunks of `papers` (a stream of any length)."""
        batch: list[Paper] = []
        for paper in papers:
            batch.append(paper)
            if len(batch) == chunk:
                yield self.match_batch(batch)
                batch = []
        if batch:
            yield self.match_batch(batch)

    def match_batch(self, papers: Sequence[Paper]) -> Matches:
        """Match every paper against every profile at once."""
        papers = list(papers)
        n = len(papers)
        title_hits = self._scan(map(_TITLE, papers))  # (row, pattern) per occurrence
        abstract_hits = self._scan(map(_ABSTRACT, papers))
        author_rows, author_cols = self._followed_in(papers)
        paper_masks, bit_rows, bit_cols = self._carried_categories(papers)
        carried = (np.concatenate((author_rows, bit_rows)), np.concatenate((author_cols, bit_cols)))
        # Per (paper, term): occurrences in the title and in the abstract, then its keyword score.
        n_patterns = len(self._pattern_ids)
        title = _counts(title_hits, (n, n_patterns)) @ self.term_patterns
        abstract = _counts(abstract_hits, (n, n_patterns)) @ self.term_patterns
        hits = title + abstract
        in_title, in_abstract = title.sign(), abstract.sign()
        repeats = hits - in_title - in_abstract
        repeats.data = np.minimum(repeats.data, REPEAT_CAP)
        scores = (TITLE_WEIGHT * in_title + ABSTRACT_WEIGHT * in_abstract + REPEAT_WEIGHT * repeats).tocoo()
        vetoes = hits.tocoo()
        carried_cols = carried[1]
        paper_side = sparse.csr_matrix(
            (
                np.concatenate(
                    (
                        scores.data.astype(self.dtype),
                        np.full(len(vetoes.data), -self.veto, dtype=self.dtype),
                        np.where(carried_cols < self._bits_at, AUTHOR_WEIGHT, 1).astype(self.dtype),
                    )
                ),
                (
                    np.concatenate((scores.row, vetoes.row, carried[0])),
                    np.concatenate((scores.col, vetoes.col + self._excluded_at, carried_cols)),
                ),
            ),
            shape=(n, self.followers.shape[0]),
            dtype=self.dtype,
        )
        found = paper_side @ self.followers
        # Every keyword hit scores at least ABSTRACT_WEIGHT and an author AUTHOR_WEIGHT; a veto
        # makes the sum negative: an entry is a match exactly when it is positive.
        rows = np.repeat(np.arange(n), np.diff(found.indptr))
        profiles, points = found.indices, found.data
        keep = points > 0
        if self.category_bits:  # the paper carries one category the profile wants
            words = _words(paper_masks, self.words)
            check = np.flatnonzero(keep & self._wants_categories[profiles])
            keep[check] = (self._profile_words[profiles[check]] & words[rows[check]]).any(axis=1)
        rows, profiles, points = rows[keep], profiles[keep], points[keep]
        if self.category_bits:  # picked by category alone: no score
            points = np.where(self.category_only[profiles], 0, points)
        return Matches(self, papers, rows, profiles, points, hits)

    def _scan(self, texts: Iterable[str]) -> tuple[list[int], list[int]]:
        """(row, pattern) per occurrence of a pattern in each normalized text."""
        rows: list[int] = []
        patterns: list[int] = []
        if self.has_patterns:
            scan = self.automaton.iter
            for row, text in enumerate(map(normalize, texts)):
                for _end, pattern in scan(text):
                    rows.append(row)
                    patterns.append(pattern)
        return rows, patterns

    def _followed_in(self, papers: list[Paper]) -> tuple[np.ndarray, np.ndarray]:
        """(row, column) per followed author of each paper, once per paper."""
        if not self.author_ids:
            return _NO_PAIRS
        names = list(map(_AUTHORS, papers))
        counts = np.fromiter(map(len, names), np.int64, len(names))
        column = _Memo(lambda name: self.author_ids.get(normalize_name(name), -1))  # this batch's names
        columns = np.fromiter(
            map(column.__getitem__, chain.from_iterable(names)), np.int64, int(counts.sum())
        )
        rows = np.repeat(np.arange(len(names)), counts)
        followed = columns >= 0
        width = len(self.author_ids)
        pairs = np.unique(rows[followed] * width + columns[followed])
        return pairs // width, self._authors_at + pairs % width

    def _carried_categories(self, papers: list[Paper]) -> tuple[list[int], np.ndarray, np.ndarray]:
        """Each paper's wanted categories as a bit mask, and (row, column) per bit it carries
        (only when some profile is picked by category alone: no other profile follows a bit)."""
        if not self.category_bits:
            return [], *_NO_PAIRS
        known = list(map(self._categories, map(_CATEGORIES, papers)))
        masks = [mask for mask, _ in known]
        if not self.category_only.any():
            return masks, *_NO_PAIRS
        counts = np.fromiter((len(columns) for _, columns in known), np.int64, len(known))
        columns = np.fromiter(chain.from_iterable(c for _, c in known), np.int64, int(counts.sum()))
        return masks, np.repeat(np.arange(len(known)), counts), columns

    def category_masks(self, papers: Sequence[Paper]) -> Callable[[int], np.ndarray | None]:
        """For profile `index`, which of `papers` its categories let through (`category_allowed`),
        as a bool array (None: it names none). Each distinct category set is checked against the
        papers once, however many profiles share it."""
        carried = [self._categories(p.categories)[0] for p in papers]
        done: dict[int, np.ndarray] = {}

        def masks(index: int) -> np.ndarray | None:
            which = int(self._category_set[index])
            if which < 0:
                return None
            if which not in done:
                wanted = self._set_masks[which]
                done[which] = np.fromiter((bool(wanted & c) for c in carried), bool, len(carried))
            return done[which]

        return masks

    def vetoed(self, batch: Matches) -> sparse.coo_matrix:
        """(paper row, profile index) where the paper carries a term the profile excludes."""
        excluders = self.followers[self._excluded_at : self._authors_at]
        return (batch.hits.sign() @ excluders).tocoo()

    def _categories(self, categories: tuple[str, ...]) -> tuple[int, list[int]]:
        """A paper's wanted categories, its archives included (`cs.lg` is also `cs`): as a bit
        mask (for the category filter, exactly `category_allowed`) and as columns. Cached: the
        same few combinations come back paper after paper."""
        known = self._paper_categories.get(categories)
        if known is None:
            known = self._paper_categories[categories] = self._category_columns(categories)
        return known

    def _category_columns(self, categories: tuple[str, ...]) -> tuple[int, list[int]]:
        mask = 0
        for key in _category_keys(tuple(c.casefold() for c in categories)):
            bit = self.category_bits.get(key)
            if bit is not None:
                mask |= 1 << bit
        return mask, [self._bits_at + b for b in range(len(self.category_bits)) if mask >> b & 1]

    def build(
        self, index: int, paper: Paper, hit_terms: AbstractSet[int], authors: AbstractSet[str], score: int
    ) -> Match:
        """The Match of profile `index` for a paper it matched: the keywords it hit, in the order
        the profile lists them, and the followed authors."""
        start, end = self._offsets[index], self._offsets[index + 1]
        tids = self._keyword_terms[start:end].tolist()
        written = self._written
        terms = tuple(
            [
                written[k]
                for k, t in zip(self._keyword_written[start:end].tolist(), tids, strict=True)
                if t in hit_terms
            ]
        )
        which = self._author_set[index]
        followed = self._followed[which] if which >= 0 else None
        names = tuple([name for norm, name in followed.items() if norm in authors]) if followed else ()
        return Match(paper, score, terms, names)


_TITLE, _ABSTRACT = attrgetter("title"), attrgetter("abstract")  # of a paper
_AUTHORS, _CATEGORIES = attrgetter("authors"), attrgetter("categories")
_RULES = ("keywords", "exclude", "authors", "categories")  # what Matcher reads of a profile
_NO_PAIRS = (np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64))


@dataclass(frozen=True)
class _Rules:
    """Every profile's rules read in bulk, for `Matcher`: keywords and exclusions as flat arrays
    (each keyword by its index among the distinct keywords as written) with a count per
    profile, and authors and categories, which few profiles set, by distinct value. Each field
    is read in one pass over all profiles that runs in C: no Python runs per profile, nor per
    keyword."""

    lengths: np.ndarray
    keywords: np.ndarray
    exclude_lengths: np.ndarray
    excluded: np.ndarray
    authors: _Some  # of followed_authors
    categories: _Some  # of wanted_categories

    @classmethod
    def read(cls, profiles: Collection[Profile], written: _Index) -> _Rules:
        """Read `profiles`, indexing each keyword in `written`. Each field is one pass in C over
        the profiles (faster than one pass taking all four and slicing them apart: 10 ms, not 16,
        at 100,000 profiles)."""
        keywords, exclude, authors, categories = (list(map(attrgetter(f), profiles)) for f in _RULES)
        keywords, keyword_lengths = _flat(keywords, written)
        excluded, exclude_lengths = _flat(exclude, written)
        return cls(
            lengths=keyword_lengths,
            keywords=keywords,
            exclude_lengths=exclude_lengths,
            excluded=excluded,
            authors=_Some.read(authors, followed_authors),
            categories=_Some.read(categories, wanted_categories),
        )

    def kept(self) -> np.ndarray:
        """The profiles that can match something (keywords, authors or categories)."""
        n = len(self.lengths)
        return (self.lengths > 0) | (self.authors.of(n) >= 0) | (self.categories.of(n) >= 0)

    def only(self, kept: np.ndarray) -> _Rules:
        """The same rules for the `kept` profiles only, renumbered."""
        index = np.cumsum(kept) - 1
        return _Rules(
            lengths=self.lengths[kept],
            keywords=self.keywords[np.repeat(kept, self.lengths)],
            exclude_lengths=self.exclude_lengths[kept],
            excluded=self.excluded[np.repeat(kept, self.exclude_lengths)],
            authors=self.authors.renumbered(index),  # every one is kept
            categories=self.categories.renumbered(index),
        )


@dataclass(frozen=True)
class _Some:
    """A field few profiles set, by distinct value: profile `where[k]` has `values[which[k]]`
    (`where` ascending). Each distinct value is read once: subscribers share their categories,
    and many their authors."""

    where: np.ndarray
    which: np.ndarray
    values: list

    @classmethod
    def read(cls, column: list[tuple[str, ...]], read) -> _Some:
        """`read(value)` for each profile's value in `column` (which is emptied), keeping the
        profiles where the value is not empty and reads non-empty."""
        where = np.fromiter(compress(count(), column), np.int64)
        found = list(filter(None, column))
        column.clear()
        distinct = _Index()
        which = np.fromiter(map(distinct.__getitem__, found), np.int64, len(found))
        values = list(map(read, distinct))
        known = np.flatnonzero([bool(v) for v in values])  # values that read non-empty, renumbered
        renumber = np.full(len(values), -1, dtype=np.int64)
        renumber[known] = np.arange(len(known))
        keep = renumber[which] >= 0
        return cls(where[keep], renumber[which[keep]], [values[i] for i in known.tolist()])

    def of(self, n: int) -> np.ndarray:
        """Per profile (of `n`), the index of its value in `values`; -1 for none."""
        of = np.full(n, -1, dtype=np.int64)
        of[self.where] = self.which
        return of

    def renumbered(self, index: np.ndarray) -> _Some:
        """The same, with profile i renumbered index[i]."""
        return _Some(index[self.where], self.which, self.values)


# The lists these take hold one field of every profile; they are dropped before anything that
# allocates much: the garbage collector walks every young list, and at 100,000 profiles those
# walks cost more than the reads. So the keywords are compiled after.


def _flat(groups: list[tuple[str, ...]], index: _Index) -> tuple[np.ndarray, np.ndarray]:
    """Every profile's keywords (one tuple each), in order, as their ids in `index` (one flat
    array), and how many each profile has."""
    lengths = np.fromiter(map(len, groups), np.int64, len(groups))
    flat = np.fromiter(map(index.__getitem__, chain.from_iterable(groups)), np.int32, int(lengths.sum()))
    return flat, lengths


class Matches:
    """The matches of one batch of papers, as arrays: entry k is paper `rows[k]` (an index into
    `papers`) matching profile `profiles[k]` (an index into `matcher.ids`) with `scores[k]`.
    Entries are grouped by paper; `match(k)` builds entry k's Match."""

    def __init__(self, matcher: Matcher, papers: list[Paper], rows, profiles, scores, hits):
        self.matcher, self.papers = matcher, papers
        self.rows, self.profiles, self.scores = rows, profiles, scores
        self.hits = hits  # (paper row, term) -> occurrences
        self._views: dict[int, tuple[frozenset[int], frozenset[str]]] = {}

    def __len__(self) -> int:
        return len(self.scores)

    def counts(self) -> np.ndarray:
        """Matches per profile index."""
        return np.bincount(self.profiles, minlength=len(self.matcher))

    def match(self, k: int) -> Match:
        """Entry k as a Match."""
        return self.build(int(self.rows[k]), int(self.profiles[k]), int(self.scores[k]))

    def build(self, row: int, index: int, score: int) -> Match:
        """The Match of paper `row` for profile `index` (which it matched with `score`)."""
        view = self._views.get(row)
        if view is None:
            start, end = self.hits.indptr[row], self.hits.indptr[row + 1]
            view = self._views[row] = (
                frozenset(self.hits.indices[start:end].tolist()),
                frozenset(normalize_name(a) for a in self.papers[row].authors),
            )
        return self.matcher.build(index, self.papers[row], view[0], view[1], score)

    def slim(self) -> Matches:
        """The same batch without its entries: enough to `build` the ones a caller kept."""
        empty = np.zeros(0, dtype=np.int64)
        return Matches(self.matcher, self.papers, empty, empty, empty, self.hits)

    def __iter__(self) -> Iterator[tuple[str, Match]]:
        """Every match as (subscriber id, Match): paper by paper, in profile order."""
        ids = self.matcher.ids
        order = np.lexsort((self.profiles, self.rows)).tolist()
        return ((ids[self.profiles[k]], self.match(k)) for k in order)


class BestMatches:
    """Per profile, the best `keep[index]` matches of a stream of batches (by `rank`) and a count
    of all, kept as arrays: a Match is built only for the ones that stay, and memory stays
    bounded however many papers match."""

    def __init__(self, keep: np.ndarray):
        self.keep = np.asarray(keep, dtype=np.int64)
        self.counts = np.zeros(len(self.keep), dtype=np.int64)
        self._batches: list[Matches] = []
        self._parts: list[np.ndarray] = []  # rows: profile, -score, -upvotes, -seq, batch, row
        self._size = 0

    def add(self, found: Matches, take: np.ndarray) -> None:
        """The entries of `found` where `take` is true."""
        chosen = np.flatnonzero(take)
        self.counts += np.bincount(found.profiles[chosen], minlength=len(self.keep))
        if not len(chosen):
            return
        rows = found.rows[chosen]
        upvotes = np.array([p.upvotes or 0 for p in found.papers], dtype=np.int64)
        seqs = np.array([p.seq or 0 for p in found.papers], dtype=np.int64)
        part = np.stack(
            (
                found.profiles[chosen],
                -found.scores[chosen],
                -upvotes[rows],
                -seqs[rows],
                np.full(len(chosen), len(self._batches), dtype=np.int64),
                rows,
            )
        )
        self._batches.append(found.slim())
        self._parts.append(part)
        self._size += len(chosen)
        if self._size > 4 * int(self.keep.sum()) + 100_000:
            self._reduce()

    def _reduce(self) -> np.ndarray:
        """Keep per profile its best `keep`, and any entry tied with the last kept one on score,
        upvotes and seq (`rank` then orders those by key)."""
        if not self._parts:
            return np.zeros((6, 0), dtype=np.int64)
        entries = np.concatenate(self._parts, axis=1)
        entries = entries[:, np.lexsort(entries[3::-1])]  # by profile, then best first
        profile = entries[0]
        starts = np.searchsorted(profile, profile, side="left")
        place = np.arange(len(profile)) - starts
        keep = self.keep[profile]
        kept = place < keep
        over = np.flatnonzero(~kept)
        if len(over):
            last = starts[over] + keep[over] - 1  # the last kept entry of the same profile
            kept[over] = (entries[1:4, over] == entries[1:4, last]).all(axis=0)
        entries = entries[:, kept]
        self._parts, self._size = [entries], entries.shape[1]
        return entries

    def best(self, index_to_key: Sequence[str]) -> dict[str, list[Match]]:
        """Per profile (by its key in `index_to_key`), its best matches, ranked."""
        entries = self._reduce()
        found: dict[str, list[Match]] = {}
        for profile, score, _, _, batch, row in entries.T.tolist():
            found.setdefault(index_to_key[profile], []).append(
                self._batches[batch].build(row, profile, -score)
            )
        keep = dict(zip(index_to_key, self.keep.tolist(), strict=True))
        return {key: rank(matches)[: keep[key]] for key, matches in found.items()}


class _Memo(dict):
    """Key -> make(key), made the first time the key is asked for."""

    def __init__(self, make):
        super().__init__()
        self.make = make

    def __missing__(self, key):
        value = self[key] = self.make(key)
        return value


class _Index(dict):
    """Key -> its index, in the order of first sight: a key not seen yet gets the next one."""

    def __missing__(self, key) -> int:
        index = self[key] = len(self)
        return index


def _followers(blocks: list[tuple[np.ndarray, np.ndarray, int]], dtype) -> sparse.csr_matrix:
    """Who follows what, as one (rows x profiles) CSR matrix of ones: each block (values,
    lengths, size) adds `size` rows, where profile i follows the next lengths[i] of `values`.

    One conversion for all blocks, in C: block b's profile i is column b * n + i of one CSC
    matrix, whose arrays are the blocks' own laid end to end; in CSR, the rows of block b
    hold only its columns, and are renumbered to profiles in place. (Converting each block and
    joining the results allocated four times the memory, and its page faults showed.)"""
    n = len(blocks[0][1])
    at = np.cumsum([0] + [size for _, _, size in blocks])
    nnz = sum(len(values) for values, _, _ in blocks)
    # Indices as scipy keeps them (int32 where they fit): handed int64, it checks and copies.
    index = np.int32 if max(nnz, int(at[-1]), len(blocks) * n) < 2**31 else np.int64
    indices = np.empty(nnz, dtype=index)
    indptr = np.zeros(len(blocks) * n + 1, dtype=index)
    start = 0
    for b, (values, lengths, _) in enumerate(blocks):
        np.add(values, at[b], out=indices[start : start + len(values)], casting="unsafe")
        np.cumsum(lengths, out=indptr[1 + b * n : 1 + (b + 1) * n])
        indptr[1 + b * n : 1 + (b + 1) * n] += start
        start += len(values)
    wide = sparse.csc_matrix(
        (np.ones(nnz, dtype=dtype), indices, indptr), shape=(int(at[-1]), len(blocks) * n)
    ).tocsr()
    for b in range(1, len(blocks)):
        wide.indices[wide.indptr[at[b]] : wide.indptr[at[b + 1]]] -= b * n
    return sparse.csr_matrix((wide.data, wide.indices, wide.indptr), shape=(int(at[-1]), n))


def _counts(pairs: tuple[list[int], list[int]], shape: tuple[int, int]) -> sparse.csr_matrix:
    """A sparse (rows x cols) int32 matrix counting each (row, col) pair."""
    return sparse.csr_matrix((np.ones(len(pairs[0]), dtype=np.int32), pairs), shape=shape, dtype=np.int32)


def _words(masks: list[int], words: int) -> np.ndarray:
    """Bit masks (Python ints) as a (len(masks) x words) array of 64-bit words."""
    out = np.zeros((len(masks), words), dtype=np.uint64)
    for w in range(words):
        out[:, w] = np.fromiter(
            ((m >> (64 * w)) & 0xFFFF_FFFF_FFFF_FFFF for m in masks), np.uint64, len(masks)
        )
    return out


def _category_keys(categories: tuple[str, ...]) -> set[str]:
    """A paper's categories plus their archives (`cs.lg` -> `cs.lg`, `cs`)."""
    keys = set(categories)
    keys.update(c.split(".", 1)[0] for c in categories if "." in c)
    return keys


TRENDING_REASON = "trending on Hugging Face"  # why a paper is in a trending digest (its upvotes show beside)


def fed_by(paper: Paper, sources: frozenset[str] | set[str]) -> bool:
    """Whether one of `sources` reported the paper (no sources named: any source will do)."""
    return not sources or any(s in sources for s in paper.sources)


def match_trending(profiles: Mapping[str, Profile], papers: Iterable[Paper]) -> dict[str, list[Match]]:
    """For each trending profile, the papers that pass it, most upvoted first (then higher
    keyword score, then newest: `trending_order`), each scored by its upvotes. Keywords and authors, when given, must match; categories and
    exclusions filter; `sources` must have reported the paper; a profile with none of these
    takes every paper. Each paper is read once for all profiles (the fast Matcher)."""
    matcher = Matcher(profiles)
    # Profiles with only trending (and maybe exclusions, categories, sources) pass the same papers
    # when they filter alike: each such filter is worked out once, and its matches shared.
    bare: dict[tuple, CompiledProfile] = {}
    group: dict[str, tuple] = {}
    for sid, p in profiles.items():
        compiled = compile_profile(p)
        if compiled.is_empty:
            group[sid] = (p.exclude, p.categories, frozenset(p.sources))
            bare.setdefault(group[sid], compiled)
    feeds = {sid: frozenset(p.sources) for sid, p in profiles.items() if sid not in group}
    found: dict = {key: [] for key in (*feeds, *bare)}
    upvoted = [paper for paper in papers if paper.upvotes is not None]
    for sid, m in matcher.match_batch(upvoted):  # paper by paper, in profile order
        if fed_by(m.paper, feeds[sid]):
            found[sid].append(Match(m.paper, m.score, m.terms, m.authors, (*m.reasons, TRENDING_REASON)))
    for paper in upvoted if bare else ():
        text = PaperText.of(paper)
        for key, compiled in bare.items():
            if fed_by(paper, key[2]) and passes_filters(compiled, text):
                found[key].append(Match(paper, 0, reasons=(TRENDING_REASON,)))
    ranked = {key: [_by_upvotes(m) for m in sorted(ms, key=trending_order)] for key, ms in found.items()}
    return {sid: ranked[group.get(sid, sid)] for sid in profiles}


def _by_upvotes(m: Match) -> Match:
    """A trending match scored by what ranks it, its upvotes (as every digest's score is what
    ranks it: preview's JSON lists scores best first)."""
    return Match(m.paper, m.paper.upvotes or 0, m.terms, m.authors, m.reasons)


def rank(matches: Iterable[Match]) -> list[Match]:
    """Best first: score, then community upvotes, then newest (ingestion order)."""
    return sorted(
        matches,
        key=lambda m: (-m.score, -(m.paper.upvotes or 0), *_newest(m)),
    )


def trending_order(m: Match) -> tuple:
    """A trending digest's order: most upvoted, then `rank`'s (score, then newest)."""
    return (-(m.paper.upvotes or 0), -m.score, *_newest(m))


def _newest(m: Match) -> tuple[int, str]:
    # Ties of every digest go to the newest paper by ingestion order (seq), never by rev: rev
    # moves when a later report changes a paper, so an old paper revised today is not new.
    return (-(m.paper.seq or 0), m.paper.key)


def highlight_spans(text: str, terms: Iterable[str]) -> list[tuple[int, int]]:
    """Character spans of `text` that the given keywords match, merged and sorted."""
    toks = token_spans(text)
    words = [t for t, _, _ in toks]
    starts: dict[str, list[int]] = {}
    for i, word in enumerate(words):
        starts.setdefault(word, []).append(i)
    spans: list[tuple[int, int]] = []
    for raw in terms:
        try:
            term = compile_term(raw)
        except InvalidTerm:
            continue
        for pattern in term.patterns:
            needle = pattern.split()
            n = len(needle)
            if term.is_prefix and n == 1:
                candidates = [i for i, w in enumerate(words) if w.startswith(needle[0])]
            else:
                candidates = starts.get(needle[0], [])
            for i in candidates:
                if i + n > len(words):
                    continue
                last = words[i + n - 1]
                last_ok = last.startswith(needle[-1]) if term.is_prefix else last == needle[-1]
                if last_ok and words[i + 1 : i + n - 1] == needle[1:-1]:
                    spans.append((toks[i][1], toks[i + n - 1][2]))
    return _merge(spans)


def _merge(spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    merged: list[tuple[int, int]] = []
    for start, end in sorted(spans):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    return merged
