"""Profile matching: compile profiles once, match many papers, score and rank. No I/O.

The rules users rely on (DESIGN.md): keywords match title and abstract case- and
accent-insensitively on word boundaries; hyphen, space and underscore are the same; a plural
matches its singular and back; `prefix*` is a prefix. Exclusions veto, authors match ignoring case
and accents, categories filter.

Everything rests on one normalization. A text becomes a string of tokens, each padded by single
spaces: `" self supervised learning | of robots "`. Letters and digits make tokens; space,
hyphen, underscore, apostrophe and slash only separate them; any other punctuation becomes the
break token `|`, so a phrase never matches across a comma or a full stop. A keyword normalizes the
same way, so matching a phrase on word boundaries is finding `" diffusion policy "` in that string.
"""

from __future__ import annotations

import re
import unicodedata
from array import array
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from functools import cache, lru_cache

import ahocorasick

from .models import Match, Paper, Profile
from .text import detex

TITLE_WEIGHT = 30
ABSTRACT_WEIGHT = 10
REPEAT_WEIGHT = 1
REPEAT_CAP = 5
AUTHOR_WEIGHT = 40

BREAK = "|"
_JOINERS = r"\s\-'’/\u2010\u2011"
# A token is a run of letters/digits; a break is a run of anything that is neither that,
# nor white space, nor a joiner. Underscore is in \w, so it is neither: a joiner.
_ASCII_RUN_RE = re.compile(r"[\x00-\x7f]+|[^\x00-\x7f]")
_TOKEN_RE = re.compile(rf"([^\W_]+)|[^\w{_JOINERS}]+")  # group 1 is a token; no group, a break


@cache
def _drop_marks() -> dict[int, None]:
    """A str.translate table deleting every combining mark (built once: it walks the code space)."""
    return {i: None for i in range(0x30000) if unicodedata.combining(chr(i))}


def fold(text: str) -> str:
    """Case- and accent-fold: `Schröder` -> `schroder`, `Straße` -> `strasse`."""
    if text.isascii():
        return text.lower()
    return unicodedata.normalize("NFKD", text.casefold()).translate(_drop_marks())


def tokens(text: str) -> list[str]:
    """The normalized tokens of `text`, with BREAK where punctuation splits phrases."""
    return [t or BREAK for t in _TOKEN_RE.findall(fold(text))]


def normalize(text: str) -> str:
    """The padded token string that keywords are searched in (see the module doc)."""
    toks = tokens(text)
    return f" {' '.join(toks)} " if toks else " "


def token_spans(text: str) -> list[tuple[str, int, int]]:
    """Like `tokens`, with each token's (start, end) in the original text (for highlighting)."""
    if text.isascii():  # folding is lower(): offsets are unchanged
        return [(m.group(1) or BREAK, m.start(), m.end()) for m in _TOKEN_RE.finditer(text.lower())]
    folded: list[str] = []
    origin: list[int] = []
    one_to_one = True
    for m in _ASCII_RUN_RE.finditer(text):  # fold runs of ASCII at once, other characters one by one
        chunk = m.group()
        if chunk.isascii():
            folded.append(chunk.lower())
            origin.extend(range(m.start(), m.end()))
        else:
            f = fold(chunk)
            one_to_one = one_to_one and len(f) == 1
            folded.append(f)
            origin.extend([m.start()] * len(f))
    joined = "".join(folded)
    if one_to_one:  # every character folded to exactly one: offsets are unchanged
        return [(m.group(1) or BREAK, m.start(), m.end()) for m in _TOKEN_RE.finditer(joined)]
    return [
        (m.group(1) or BREAK, origin[m.start()], origin[m.end() - 1] + 1) for m in _TOKEN_RE.finditer(joined)
    ]


def _plural(word: str) -> str:
    if word.endswith(("s", "x", "z", "ch", "sh")):
        return word + "es"
    if word.endswith("y") and len(word) > 1 and word[-2] not in "aeiou":
        return word[:-1] + "ies"
    if word.endswith("is") and len(word) > 4:
        return word[:-2] + "es"
    return word + "s"


def _singulars(word: str) -> set[str]:
    if word.endswith("ies") and len(word) > 4:
        return {word[:-3] + "y"}
    if word.endswith("es") and word[:-2].endswith(("s", "x", "z", "ch", "sh")):
        return {word[:-2]}
    if word.endswith("s") and not word.endswith("ss") and len(word) > 3:
        return {word[:-1]}
    return set()


def word_forms(word: str) -> set[str]:
    """A word with its plural and singular forms: `policy` -> {policy, policies}."""
    if not word.isalpha():
        return {word}
    return {word, _plural(word)} | _singulars(word)


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
    if not any(t != BREAK for t in toks):
        raise InvalidTerm(f"keyword has no letters or digits: {raw!r}")
    head = " ".join(toks[:-1])
    head = f" {head} " if head else " "
    if core is not text:
        return Term(text, (f"{head}{toks[-1]}",))
    return Term(text, tuple(sorted(f"{head}{w} " for w in word_forms(toks[-1]))))


@lru_cache(maxsize=65536)  # the same authors come back paper after paper
def normalize_name(name: str) -> str:
    """An author name for comparison: TeX accents decoded, case and accents folded."""
    return " ".join(t for t in tokens(detex(name)) if t != BREAK)


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
        authors={normalize_name(a): a for a in profile.authors if normalize_name(a)},
        categories=tuple(c.strip().casefold() for c in profile.categories if c.strip()),
    )


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


_KEYWORD, _EXCLUDE = 0, 1
_POS_BITS = 8  # a posting is (subscriber index << 8) | term position


class Matcher:
    """All profiles compiled once into one multi-pattern automaton (Aho-Corasick), then each
    paper's title and abstract are scanned once, whatever the number of profiles.

    Hits are turned into matches through inverted indexes (term -> the profiles that use it,
    author -> profiles, category -> category-only profiles), so the work per paper grows with the
    matches it makes, not with the number of profiles. Results are exactly those of
    `ReferenceMatcher` (same terms in the same order, same scores): the tests hold it to that.
    """

    def __init__(self, profiles: Mapping[str, Profile]):
        self.ids: list[str] = []
        self.compiled: list[CompiledProfile] = []
        pattern_ids: dict[str, int] = {}
        self.pattern_terms: list[list[int]] = []  # pattern id -> term ids using it
        term_ids: dict[tuple[str, ...], int] = {}
        self.term_patterns: list[tuple[int, ...]] = []
        self.postings: list[list[array]] = []  # term id -> [keyword postings, exclude postings]
        self.author_index: dict[str, array] = {}
        self.category_index: dict[str, array] = {}  # profiles with categories only
        # Per profile: its keywords' texts, its categories, and whether it is "simple" (no term
        # listed twice): a simple profile hit by one term needs no merging (see `match`).
        self.keyword_texts: list[tuple[str, ...]] = []
        self.categories: list[tuple[str, ...]] = []
        self.simple = bytearray()
        for sid, profile in profiles.items():
            compiled = compile_profile(profile)
            if compiled.is_empty:
                continue
            if max(len(compiled.keywords), len(compiled.exclude)) >= 1 << _POS_BITS:
                raise ValueError(
                    f"profile {sid!r} has more than {(1 << _POS_BITS) - 1} keywords or exclusions"
                )
            index = len(self.ids)
            self.ids.append(sid)
            self.compiled.append(compiled)
            self.keyword_texts.append(tuple(t.text for t in compiled.keywords))
            self.categories.append(compiled.categories)
            self.simple.append(len({t.patterns for t in compiled.keywords}) == len(compiled.keywords))
            for role, terms in ((_KEYWORD, compiled.keywords), (_EXCLUDE, compiled.exclude)):
                for position, term in enumerate(terms):
                    tid = term_ids.get(term.patterns)
                    if tid is None:
                        tid = term_ids[term.patterns] = len(self.term_patterns)
                        self.term_patterns.append(
                            tuple(pattern_ids.setdefault(p, len(pattern_ids)) for p in term.patterns)
                        )
                        self.postings.append([array("q"), array("q")])
                        for pid in self.term_patterns[tid]:
                            if pid == len(self.pattern_terms):
                                self.pattern_terms.append([])
                            self.pattern_terms[pid].append(tid)
                    self.postings[tid][role].append((index << _POS_BITS) | position)
            for name in compiled.authors:
                self.author_index.setdefault(name, array("q")).append(index)
            if not compiled.keywords and not compiled.authors:
                for category in compiled.categories:
                    self.category_index.setdefault(category, array("q")).append(index)
        # Terms whose every keyword user is a simple profile: one hit of such a term alone can
        # skip the general path.
        self.term_simple = bytearray(
            all(self.simple[p >> _POS_BITS] for p in keyword_postings)
            for keyword_postings, _ in self.postings
        )
        self.automaton = ahocorasick.Automaton(ahocorasick.STORE_INTS)
        for pattern, pid in pattern_ids.items():
            self.automaton.add_word(pattern, pid)
        if pattern_ids:
            self.automaton.make_automaton()
        self.has_patterns = bool(pattern_ids)

    def __len__(self) -> int:
        return len(self.ids)

    def scan(self, text: str) -> dict[int, int]:
        """Pattern id -> occurrences in one normalized text: the one pass over the text."""
        counts: dict[int, int] = {}
        if self.has_patterns:
            for _end, pid in self.automaton.iter(text):
                counts[pid] = counts.get(pid, 0) + 1
        return counts

    def _term_hits(self, text: str) -> dict[int, int]:
        hits: dict[int, int] = {}
        for pid, n in self.scan(text).items():
            for tid in self.pattern_terms[pid]:
                hits[tid] = hits.get(tid, 0) + n
        return hits

    def match(self, paper: Paper, text: PaperText | None = None) -> Iterator[tuple[str, Match]]:
        """Every profile this paper matches, as (subscriber id, Match), in profile order."""
        text = text or PaperText.of(paper)
        title, abstract = self._term_hits(text.title), self._term_hits(text.abstract)
        if not title and not abstract and not self._author_or_category_candidates(text):
            return iter(())
        hit_terms = title.keys() | abstract.keys()
        if len(hit_terms) == 1 and not self._author_or_category_candidates(text):
            tid = next(iter(hit_terms))
            if self.term_simple[tid] and not self.postings[tid][1]:
                return self._one_term(
                    tid, keyword_score(title.get(tid, 0), abstract.get(tid, 0)), paper, text
                )
        return self._general(hit_terms, title, abstract, paper, text)

    def _general(
        self, hit_terms: set[int], title: dict, abstract: dict, paper: Paper, text: PaperText
    ) -> Iterator[tuple[str, Match]]:
        """Any paper: gather each profile's hits, drop the excluded, build matches in profile order."""
        found: dict[int, list] = {}  # profile index -> [(position, score)]
        excluded: set[int] = set()
        for tid in hit_terms:
            keyword_postings, exclude_postings = self.postings[tid]
            for posting in exclude_postings:
                excluded.add(posting >> _POS_BITS)
            if keyword_postings:
                score = keyword_score(title.get(tid, 0), abstract.get(tid, 0))
                get = found.get
                for posting in keyword_postings:  # the hot loop: one turn per profile using the term
                    index, hit = posting >> _POS_BITS, (posting & 0xFF, score)
                    hits = get(index)
                    if hits is None:
                        found[index] = [hit]
                    else:
                        hits.append(hit)
        for name in text.authors:
            for index in self.author_index.get(name, ()):
                found.setdefault(index, [])
        for category in _category_keys(text.categories):
            for index in self.category_index.get(category, ()):
                found.setdefault(index, [])
        shared: dict[tuple[str, int], Match] = {}
        for index in sorted(found.keys() - excluded):
            match = self._build(index, found[index], paper, text, shared)
            if match is not None:
                yield self.ids[index], match

    def _one_term(self, tid: int, score: int, paper: Paper, text: PaperText) -> Iterator[tuple[str, Match]]:
        """The common case: one term hit the paper, it excludes no one, none of its users lists
        it twice, and no author of the paper is followed (nor is any profile picked by category
        alone). Its postings are in profile order and need no merging: matches come straight
        off them, with only the category filter to apply."""
        shared: dict[str, Match] = {}
        texts, ids, categories = self.keyword_texts, self.ids, self.categories
        for posting in self.postings[tid][0]:
            index = posting >> _POS_BITS
            if categories[index] and not category_allowed(categories[index], text.categories):
                continue
            term = texts[index][posting & 0xFF]
            match = shared.get(term)
            if match is None:
                match = shared[term] = Match(paper, score, (term,), ())
            yield ids[index], match

    def _author_or_category_candidates(self, text: PaperText) -> bool:
        if self.author_index and any(name in self.author_index for name in text.authors):
            return True
        return bool(self.category_index) and any(
            c in self.category_index for c in _category_keys(text.categories)
        )

    def _build(
        self, index: int, hits: list, paper: Paper, text: PaperText, shared: dict[tuple[str, int], Match]
    ) -> Match | None:
        # The hot path: one call per (paper, matching profile). Kept lean on purpose.
        profile = self.compiled[index]
        if profile.categories and not category_allowed(profile.categories, text.categories):
            return None
        if len(hits) == 1 and not profile.authors:
            # The common case, one keyword and nothing else: profiles that follow the same keyword
            # get the same (immutable) Match object for this paper.
            position, score = hits[0]
            key = (profile.keywords[position].text, score)
            match = shared.get(key)
            if match is None:
                match = shared[key] = Match(paper, score, (key[0],), ())
            return match
        if len(hits) == 1:
            position, score = hits[0]
            terms: tuple[str, ...] = (profile.keywords[position].text,)
        elif hits:
            hits.sort()
            keywords = profile.keywords
            terms = tuple([keywords[position].text for position, _ in hits])
            score = sum([points for _, points in hits])
        else:
            terms, score = (), 0
        authors: tuple[str, ...] = ()
        if profile.authors:
            authors = tuple([name for norm, name in profile.authors.items() if norm in text.authors])
            score += AUTHOR_WEIGHT * len(authors)
            if not (terms or authors):
                return None
        elif not terms and profile.keywords:
            return None
        return Match(paper, score, terms, authors)


def _category_keys(categories: tuple[str, ...]) -> set[str]:
    """A paper's categories plus their archives (`cs.lg` -> `cs.lg`, `cs`), for the index."""
    keys = set(categories)
    keys.update(c.split(".", 1)[0] for c in categories if "." in c)
    return keys


TRENDING_REASON = "trending on Hugging Face"  # why a paper is in a trending digest (its upvotes show beside)


def fed_by(paper: Paper, sources: frozenset[str] | set[str]) -> bool:
    """Whether one of `sources` reported the paper (no sources named: any source will do)."""
    return not sources or any(s in sources for s in paper.sources)


def match_trending(profiles: Mapping[str, Profile], papers: Iterable[Paper]) -> dict[str, list[Match]]:
    """For each trending profile, the papers that pass it, most upvoted first (then higher
    keyword score, then newest). Keywords and authors, when given, must match; categories and
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
    for paper in papers:
        if paper.upvotes is None:
            continue
        text = PaperText.of(paper)
        for sid, m in matcher.match(paper, text):  # one Match may be shared by profiles: a copy each
            if fed_by(paper, feeds[sid]):
                found[sid].append(Match(paper, m.score, m.terms, m.authors, (*m.reasons, TRENDING_REASON)))
        for key, compiled in bare.items():
            if fed_by(paper, key[2]) and passes_filters(compiled, text):
                found[key].append(Match(paper, 0, reasons=(TRENDING_REASON,)))
    ranked = {
        key: sorted(ms, key=lambda m: (-(m.paper.upvotes or 0), -m.score, -(m.paper.rev or 0), m.paper.key))
        for key, ms in found.items()
    }
    return {sid: ranked[group.get(sid, sid)] for sid in profiles}


def rank(matches: Iterable[Match]) -> list[Match]:
    """Best first: score, then community upvotes, then newest (ingestion order)."""
    return sorted(
        matches,
        key=lambda m: (-m.score, -(m.paper.upvotes or 0), -(m.paper.seq or 0), m.paper.key),
    )


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
