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
from collections.abc import Iterable, Iterator, Mapping, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from functools import cache, lru_cache

import ahocorasick
import numpy as np
from scipy import sparse

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


CHUNK = 10_000  # papers per batch in `Matcher.match_stream`: bounds the memory of one product


class Matcher:
    """All profiles compiled once: every keyword's patterns into one Aho-Corasick automaton, and
    who follows what (keywords, exclusions, authors, categories) into sparse matrices (scipy).

    A batch of papers is read once (one pass of the automaton over each title and abstract); the
    join of those hits with the profiles that follow them is a sparse matrix product, computed in
    C, so no Python runs per match. A `Match` (its terms and authors) is built only when a caller
    reads one. Results are exactly those of `ReferenceMatcher` (same matches in the same order,
    same terms, same scores): the tests hold it to that.
    """

    def __init__(self, profiles: Mapping[str, Profile]):
        self.ids: list[str] = []
        self.keyword_texts: list[tuple[str, ...]] = []  # per profile, its keywords as written
        self.keyword_terms: list[tuple[int, ...]] = []  # per profile, the term id of each keyword
        self.authors: list[Mapping[str, str]] = []  # per profile, normalized -> as written
        pattern_ids: dict[str, int] = {}
        term_ids: dict[tuple[str, ...], int] = {}
        term_of_pattern: tuple[array, array] = (array("q"), array("q"))  # (pattern, term) pairs
        follows = (array("q"), array("q"))  # (term, profile), once per keyword position
        excludes = (array("q"), array("q"))
        self.author_ids: dict[str, int] = {}
        authored = (array("q"), array("q"))  # (author, profile)
        self.category_bits: dict[str, int] = {}
        masks: dict[int, int] = {}  # profile index -> bit mask of its categories
        category_only: list[int] = []  # profiles with categories and neither keywords nor authors
        for sid, profile in profiles.items():
            compiled = compile_profile(profile)
            if compiled.is_empty:
                continue
            index = len(self.ids)
            self.ids.append(sid)
            self.keyword_texts.append(tuple([t.text for t in compiled.keywords]))
            self.authors.append(compiled.authors)
            for role, pairs in ((compiled.keywords, follows), (compiled.exclude, excludes)):
                for term in role:
                    tid = term_ids.get(term.patterns)
                    if tid is None:
                        tid = term_ids[term.patterns] = len(term_ids)
                        for pattern in term.patterns:
                            term_of_pattern[0].append(pattern_ids.setdefault(pattern, len(pattern_ids)))
                            term_of_pattern[1].append(tid)
                    pairs[0].append(tid)
                    pairs[1].append(index)
            self.keyword_terms.append(tuple(follows[0][len(follows[0]) - len(compiled.keywords) :]))
            for name in compiled.authors:
                authored[0].append(self.author_ids.setdefault(name, len(self.author_ids)))
                authored[1].append(index)
            if compiled.categories:
                mask = 0
                for category in compiled.categories:
                    mask |= 1 << self.category_bits.setdefault(category, len(self.category_bits))
                masks[index] = mask
                if not compiled.keywords and not compiled.authors:
                    category_only.append(index)
        n = len(self.ids)
        self.n_terms = len(term_ids)
        self.term_patterns = _incidence(term_of_pattern, (len(pattern_ids), self.n_terms))
        self.followers = _incidence(follows, (self.n_terms, n))  # counts a keyword listed twice twice
        self.excluders = _incidence(excludes, (self.n_terms, n)) if excludes[0] else None
        self.author_followers = _incidence(authored, (len(self.author_ids), n)) if authored[0] else None
        self.words = max(1, -(-len(self.category_bits) // 64))  # 64-bit words per category mask
        self.profile_masks = np.zeros((n, self.words), dtype=np.uint64)
        for index, mask in masks.items():
            self.profile_masks[index] = _words(mask, self.words)
        self.filtered = self.profile_masks.any(axis=1)  # profiles with a category filter
        self.category_only = np.zeros(n, dtype=bool)
        self.category_only[category_only] = True
        self.category_followers = None
        if category_only:
            bits = [
                (b, i) for i in category_only for b in range(len(self.category_bits)) if masks[i] >> b & 1
            ]
            pairs = (array("q", [b for b, _ in bits]), array("q", [i for _, i in bits]))
            self.category_followers = _incidence(pairs, (len(self.category_bits), n))
        self._paper_masks: dict[tuple[str, ...], int] = {}
        self.automaton = ahocorasick.Automaton(ahocorasick.STORE_INTS)
        for pattern, pid in pattern_ids.items():
            self.automaton.add_word(pattern, pid)
        if pattern_ids:
            self.automaton.make_automaton()
        self.has_patterns = bool(pattern_ids)

    def __len__(self) -> int:
        return len(self.ids)

    def match(self, paper: Paper) -> Iterator[tuple[str, Match]]:
        """Every profile this paper matches, as (subscriber id, Match), in profile order."""
        found = self.match_batch([paper])
        return ((self.ids[found.profiles[k]], found.match(k)) for k in range(len(found)))

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
        n, n_profiles = len(papers), len(self.ids)
        title_hits, abstract_hits = (array("q"), array("q")), (array("q"), array("q"))  # (row, pattern)
        authored = (array("q"), array("q"))  # (row, author)
        paper_masks = []
        scan = self.automaton.iter if self.has_patterns else None
        author_ids, masks = self.author_ids, self._paper_masks
        for row, paper in enumerate(papers):
            if scan is not None:
                for hits, text in ((title_hits, paper.title), (abstract_hits, paper.abstract)):
                    for _end, pid in scan(normalize(text)):
                        hits[0].append(row)
                        hits[1].append(pid)
            if author_ids:
                for name in {normalize_name(a) for a in paper.authors}:
                    aid = author_ids.get(name)
                    if aid is not None:
                        authored[0].append(row)
                        authored[1].append(aid)
            if self.category_bits:
                mask = masks.get(paper.categories)
                if mask is None:
                    mask = masks[paper.categories] = self._category_mask(paper.categories)
                paper_masks.append(mask)
        # Per (paper, term): occurrences in the title and in the abstract, then its keyword score.
        title = _incidence(title_hits, (n, self.automaton_size)) @ self.term_patterns
        abstract = _incidence(abstract_hits, (n, self.automaton_size)) @ self.term_patterns
        hits = title + abstract
        in_title, in_abstract = title.sign(), abstract.sign()
        repeats = hits - in_title - in_abstract
        repeats.data = np.minimum(repeats.data, REPEAT_CAP)
        scores = TITLE_WEIGHT * in_title + ABSTRACT_WEIGHT * in_abstract + REPEAT_WEIGHT * repeats
        # The join: every hit term to every profile that follows it, summed per profile. Every
        # keyword hit scores at least ABSTRACT_WEIGHT and every author AUTHOR_WEIGHT, so an entry
        # is a match exactly when a keyword or an author of the profile is in the paper.
        found = scores @ self.followers
        if self.author_followers is not None:
            found = found + AUTHOR_WEIGHT * (
                _incidence(authored, (n, len(author_ids))) @ self.author_followers
            )
        words = None
        if self.category_bits:
            words = np.array([_words(m, self.words) for m in paper_masks], dtype=np.uint64).reshape(n, -1)
        if self.category_followers is not None:  # picked by category alone: marked 1, scored 0 below
            bits = np.unpackbits(words.view(np.uint8), axis=1, bitorder="little")[
                :, : len(self.category_bits)
            ]
            found = found + (sparse.csr_matrix(bits, dtype=np.int32) @ self.category_followers).sign()
        if self.excluders is not None:  # vetoes: drop every entry whose profile excludes a hit term
            found = found - found.multiply((hits @ self.excluders).sign())
        found = sparse.csr_matrix(found)
        found.sort_indices()
        rows = np.repeat(np.arange(n), np.diff(found.indptr))
        profiles, points = found.indices, found.data
        if words is not None:  # categories filter: the paper carries one category a profile wants
            check = np.flatnonzero(self.filtered[profiles])
            wanted = self.profile_masks[profiles[check]] & words[rows[check]]
            keep = np.ones(len(profiles), dtype=bool)
            keep[check] = wanted.any(axis=1)
            rows, profiles, points = rows[keep], profiles[keep], points[keep]
        points = np.where(self.category_only[profiles], 0, points)
        indptr = np.zeros(n + 1, dtype=np.int64)
        np.cumsum(np.bincount(rows, minlength=n), out=indptr[1:])
        return Matches(
            self, list(papers), indptr, profiles.astype(np.int64), points.astype(np.int64), hits, n_profiles
        )

    @property
    def automaton_size(self) -> int:
        return self.term_patterns.shape[0]

    def _category_mask(self, categories: tuple[str, ...]) -> int:
        """The bits of the wanted categories a paper carries, its archives included (`cs.lg` is
        also `cs`): exactly `category_allowed`, as a bit test."""
        mask = 0
        for key in _category_keys(tuple(c.casefold() for c in categories)):
            bit = self.category_bits.get(key)
            if bit is not None:
                mask |= 1 << bit
        return mask

    def build(
        self, index: int, paper: Paper, hit_terms: AbstractSet[int], authors: AbstractSet[str], score: int
    ) -> Match:
        """The Match of profile `index` for a paper it matched: the terms it hit, in the order the
        profile lists them, and the followed authors."""
        terms = tuple(
            [
                t
                for t, tid in zip(self.keyword_texts[index], self.keyword_terms[index], strict=True)
                if tid in hit_terms
            ]
        )
        followed = self.authors[index]
        names = tuple([name for norm, name in followed.items() if norm in authors]) if followed else ()
        return Match(paper, score, terms, names)


class Matches:
    """The matches of one batch of papers. Paper `row`'s are the entries
    `indptr[row]:indptr[row + 1]` of `profiles` (profile indexes, ascending: profile order) and
    `scores`; `match(k)` builds entry k's Match."""

    def __init__(
        self, matcher: Matcher, papers: list[Paper], indptr, profiles, scores, hits, n_profiles: int
    ):
        self.matcher, self.papers = matcher, papers
        self.indptr, self.profiles, self.scores = indptr, profiles, scores
        self.rows = np.repeat(np.arange(len(papers)), np.diff(indptr))
        self._hits = hits
        self._n_profiles = n_profiles
        self._views: dict[int, tuple[frozenset[int], frozenset[str]]] = {}

    def __len__(self) -> int:
        return len(self.scores)

    def counts(self) -> np.ndarray:
        """Matches per profile index."""
        return np.bincount(self.profiles, minlength=self._n_profiles)

    def match(self, k: int) -> Match:
        row = int(self.rows[k])
        view = self._views.get(row)
        if view is None:
            start, end = self._hits.indptr[row], self._hits.indptr[row + 1]
            view = self._views[row] = (
                frozenset(self._hits.indices[start:end].tolist()),
                frozenset(normalize_name(a) for a in self.papers[row].authors),
            )
        return self.matcher.build(
            int(self.profiles[k]), self.papers[row], view[0], view[1], int(self.scores[k])
        )

    def __iter__(self) -> Iterator[tuple[str, Match]]:
        """Every match as (subscriber id, Match): paper by paper, in profile order."""
        ids = self.matcher.ids
        return ((ids[self.profiles[k]], self.match(k)) for k in range(len(self)))


def _incidence(pairs: tuple[array, array], shape: tuple[int, int]) -> sparse.csr_matrix:
    """A sparse (rows x cols) int32 matrix counting each (row, col) pair."""
    rows, cols = (np.frombuffer(a, dtype=np.int64) if len(a) else np.zeros(0, dtype=np.int64) for a in pairs)
    data = np.ones(len(rows), dtype=np.int32)
    return sparse.csr_matrix((data, (rows, cols)), shape=shape, dtype=np.int32)


def _words(mask: int, words: int) -> list[int]:
    return [(mask >> (64 * w)) & 0xFFFF_FFFF_FFFF_FFFF for w in range(words)]


def _category_keys(categories: tuple[str, ...]) -> set[str]:
    """A paper's categories plus their archives (`cs.lg` -> `cs.lg`, `cs`)."""
    keys = set(categories)
    keys.update(c.split(".", 1)[0] for c in categories if "." in c)
    return keys


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
