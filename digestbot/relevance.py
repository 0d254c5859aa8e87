"""Relevance beyond keywords: similarity to the papers a reader liked or rated, fused with the
keyword score. Pure: no I/O; texts in, scores out.

- Text features: TF-IDF (scikit-learn) over each paper's title (counted twice) and abstract,
  fitted once per run on the papers being ranked plus the reader's seed papers, so a paper's
  features are computed once per run, never per subscriber. Rows are L2-normalized, so a dot
  product is a cosine similarity.
- The seeds' direction is Rocchio's (Manning et al., *Introduction to IR*, ch. 9): the
  centroid of liked papers and of papers rated up, minus (less strongly) the centroid of
  papers rated down. A paper enters a digest by similarity alone when its cosine to it clears
  the relevance floor; keywords bring in their own matches and leave the floor as it is.
- Papers are *ranked* along the seeds' direction less CENTRE_WEIGHT of the centroid of all the
  run's papers (Rocchio's non-relevant set, taken as the whole collection), plus the reader's
  own query (their keywords, as one short text): what every paper of the day shares ("we
  propose", "large language models") stops pulling papers up. The two parts are unit vectors
  and count the same: the likes are not worth less for being about two topics (their centroid
  is shorter the more they differ), nor the keywords for being few.
- Fusion: CombSUM (Fox & Shaw, 1994) of the two scores, each scaled to [0, 1] over the
  candidates (min-max): the keyword score (feedback-weighted) by the best match's, the
  similarity from the lowest candidate's to the highest's. A paper strong on both comes
  first, and a strong keyword match is not outranked by a weak similarity; a keyword match
  keeps less of its keyword score the less it is like the seeds (`keyword_part`).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import NamedTuple

import numpy as np
from scipy import sparse
from sklearn.feature_extraction.text import TfidfVectorizer

from .models import Match, Paper

KEYWORD_WEIGHT = 1.0  # the keyword score's share of a fused score, the similarity's being 1
KEYWORD_KEEP = 0.7  # the share of it a keyword match keeps when it is the least like the seeds
CENTRE_WEIGHT = 0.3  # how much of the run's centroid the ranking direction leaves out
UP_WEIGHT = 0.75  # Rocchio's beta for papers rated up (likes count 1)
DOWN_WEIGHT = 0.5  # Rocchio's gamma for papers rated down
DEFAULT_FLOOR = 0.08  # the cosine a paper needs to enter a digest by similarity alone (unigram TF-IDF)


def paper_text(title: str, abstract: str) -> str:
    """What the features read: the title twice (it says most about a paper), then the abstract."""
    return f"{title}. {title}. {abstract}"


@dataclass(frozen=True)
class Features:
    """TF-IDF rows for a set of papers, by key, and the vectorizer that made them."""

    keys: tuple[str, ...]
    matrix: sparse.csr_matrix
    vectorizer: TfidfVectorizer | None  # None: the texts had no word to go by
    index: Mapping[str, int]

    @classmethod
    def fit(cls, texts: Mapping[str, str]) -> Features:
        """Features of these texts. Texts with no word to go by (stop words only, or every word
        in more than half of them) give no features: nothing is similar to anything then."""
        keys = tuple(texts)
        docs = [texts[k] for k in keys]
        index = {k: i for i, k in enumerate(keys)}
        for max_df in (0.5, 1.0) if len(keys) >= 20 else (1.0,):
            vectorizer = TfidfVectorizer(
                sublinear_tf=True,
                stop_words="english",
                ngram_range=(1, 1),
                min_df=1,
                max_df=max_df,
                strip_accents="unicode",
            )
            try:
                return cls(keys, vectorizer.fit_transform(docs).tocsr(), vectorizer, index)
            except ValueError:  # scikit-learn's "empty vocabulary" or "no terms remain"
                continue
        return cls(keys, sparse.csr_matrix((len(keys), 0)), None, index)

    @cached_property
    def centre(self) -> np.ndarray:
        """The centroid of every paper's row, L2-normalized (zeros without papers or words):
        what the run's papers have in common. Made once per run, on first use."""
        if not self.matrix.shape[0]:
            return np.zeros(self.matrix.shape[1])
        return _unit(np.asarray(self.matrix.mean(axis=0)).ravel())

    def query(self, keywords: Sequence[str]) -> np.ndarray | None:
        """Keywords as one short text in the same space (L2-normalized), or None if no word of
        them is in the vocabulary."""
        row = self.queries([keywords])[0]
        return None if row is None else np.asarray(row.todense()).ravel()

    def queries(self, keyword_lists: Sequence[Sequence[str]]) -> list[sparse.csr_matrix | None]:
        """The keyword queries of many readers in one pass of the vectorizer, as sparse rows
        (L2-normalized; None for one with no word in the vocabulary)."""
        if self.vectorizer is None:
            return [None] * len(keyword_lists)
        if not keyword_lists:
            return []
        texts = [" ".join(k.rstrip("*") for k in kws) for kws in keyword_lists]
        rows = self.vectorizer.transform(texts).tocsr()
        return [row if row.nnz else None for row in (rows.getrow(i) for i in range(rows.shape[0]))]

    def rows(self, keys: Sequence[str]) -> sparse.csr_matrix:
        return self.matrix[[self.index[k] for k in keys if k in self.index]]


def seeds_vector(
    features: Features, likes: Sequence[str], ups: Sequence[str] = (), downs: Sequence[str] = ()
) -> np.ndarray | None:
    """The direction of the reader's seeds (L2-normalized): the centroid of liked papers and of
    papers rated up, minus the centroid of those rated down; None without a liked or up-rated
    paper to start from (keywords alone are the keyword matcher's job)."""
    parts, positive = [], False
    for keys, weight in ((likes, 1.0), (ups, UP_WEIGHT), (downs, -DOWN_WEIGHT)):
        rows = features.rows(keys)
        if rows.shape[0]:
            parts.append(weight * np.asarray(rows.mean(axis=0)).ravel())
            positive = positive or weight > 0
    if not positive:
        return None
    vector = np.sum(parts, axis=0)
    norm = np.linalg.norm(vector)
    return vector / norm if norm else None


class Directions(NamedTuple):
    """A reader's two directions (`reader_vectors`): the one the floor is measured along, the one
    papers are ranked along, and whether their seeds gave them (else both are their keywords less
    the papers they rated down, and no paper enters by similarity)."""

    reader: np.ndarray
    ranking: np.ndarray
    seeded: bool


def reader_vectors(
    features: Features,
    likes: Sequence[str],
    ups: Sequence[str] = (),
    downs: Sequence[str] = (),
    keywords: Sequence[str] = (),
    query: np.ndarray | sparse.spmatrix | None = None,
    centre: float | None = None,
) -> Directions | None:
    """(the seeds' direction, the one papers are ranked along) from one reading of the seeds:
    the first is the centroid of liked papers and of papers rated up, minus the centroid of
    those rated down; the second leaves `centre` (CENTRE_WEIGHT) of all papers' centroid out of
    it and adds the keywords (`query` when the caller made it already: `Features.queries`),
    each part a unit vector so they count the same. The floor is measured along the first: a
    reader's keywords let in their own matches, and do not make the floor stricter for papers
    like their seeds. A reader who only rated papers down (and has keywords) has the keywords
    less those papers for both; None without seeds."""
    centre = CENTRE_WEIGHT if centre is None else centre
    seeds = seeds_vector(features, likes, ups, downs)
    query = _query(features, keywords, query)
    if seeds is None:
        rated_down = features.rows(downs)
        if query is None or not rated_down.shape[0]:
            return None
        away = _join(-DOWN_WEIGHT * _unit(np.asarray(rated_down.mean(axis=0)).ravel()), query)
        return None if away is None else Directions(away, away, False)
    ranking = _join(_unit(seeds - centre * features.centre) if centre else seeds, query)
    return None if ranking is None else Directions(seeds, ranking, True)


def _join(seeds: np.ndarray, query: np.ndarray | None) -> np.ndarray | None:
    """The seeds' direction plus the keywords', L2-normalized (None if they cancel out)."""
    if query is None:
        return seeds
    vector = seeds + query
    norm = np.linalg.norm(vector)
    return vector / norm if norm else None


def _unit(vector: np.ndarray) -> np.ndarray:
    norm = np.linalg.norm(vector)
    return vector / norm if norm else vector


def _query(
    features: Features, keywords: Sequence[str], query: np.ndarray | sparse.spmatrix | None
) -> np.ndarray | None:
    if query is None and keywords:
        return features.query(keywords)
    if sparse.issparse(query):
        return np.asarray(query.todense()).ravel()
    return query


def fuse(keyword: Mapping[str, float], similarity: Mapping[str, float]) -> list[tuple[str, float]]:
    """Rank the candidates (the keys of both) by their similarity, scaled from the lowest
    candidate's (or 0) to the highest's, plus their keyword score scaled by the best one (0
    without one) and weighed by `keyword_part`. Best first, ties by key."""
    low, span = _span(similarity.values())
    best = max(keyword.values(), default=0.0)
    fused = {
        key: (similarity[key] - low) / span if key in similarity and span else 0.0
        for key in [*similarity, *keyword]
    }
    if best > 0:
        for key, score in keyword.items():
            fused[key] += keyword_part(score / best, fused[key])
    return sorted(fused.items(), key=lambda kv: (-kv[1], kv[0]))


def keyword_part(keyword, similarity):
    """What a keyword match's score (scaled to [0, 1]) adds to its scaled similarity (floats or
    numpy arrays): KEYWORD_WEIGHT of it for the candidate most like the reader's seeds, down to
    KEYWORD_KEEP of that for the least. A keyword in a paper unlike anything the reader likes
    is more often the word in another sense ("circuits" in a paper on robot control, for a
    reader of interpretability papers), so it counts less there; it still counts."""
    return KEYWORD_WEIGHT * keyword * (KEYWORD_KEEP + (1 - KEYWORD_KEEP) * similarity)


def _span(values) -> tuple[float, float]:
    """(low, high - low) of similarities for min-max scaling; low is at most 0."""
    values = list(values)
    low = min(min(values, default=0.0), 0.0)
    return low, max(values, default=0.0) - low


SCORE_SCALE = 1_000_000  # fused scores are stored as whole numbers, like keyword scores
UP_REASON = "similar to papers you rated up"
LIBRARY_REASON = "like papers in your library"


@dataclass(frozen=True)
class Seeds:
    """What a reader showed they like or not: liked papers (stored ones), library texts without
    a stored paper, and their ratings (paper key -> +1 / -1) of papers they received."""

    likes: tuple[Paper, ...] = ()
    texts: tuple[str, ...] = ()
    ratings: Mapping[str, int] = field(default_factory=dict)
    rated: Mapping[str, Paper] = field(default_factory=dict)


def text_key(text: str) -> str:
    """The key a text-only seed has among the features."""
    return "text:" + hashlib.sha1(text.encode()).hexdigest()[:16]


def term_weights(
    keyword: Mapping[str, Match], seeds: Seeds, rated_terms: Mapping[str, tuple[str, ...]]
) -> dict[str, float]:
    """Feedback on keywords: a term found in papers rated up counts more, one in papers rated
    down less (a smoothed ratio, (1 + ups) / (1 + downs))."""
    ups: dict[str, int] = {}
    downs: dict[str, int] = {}
    for key, vote in seeds.ratings.items():
        for term in rated_terms.get(key, ()):
            bucket = ups if vote > 0 else downs
            bucket[term] = bucket.get(term, 0) + 1
    terms = {t for m in keyword.values() for t in m.terms}
    return {t: (1 + ups.get(t, 0)) / (1 + downs.get(t, 0)) for t in terms}


@dataclass(frozen=True)
class Window:
    """The papers a run ranks, with their feature rows and revisions, made once per run; `at`
    finds a paper's row by key."""

    papers: tuple[Paper, ...]
    rows: sparse.csr_matrix
    revs: np.ndarray
    at: Mapping[str, int] = field(default_factory=dict)

    @classmethod
    def of(cls, features: Features, papers: Sequence[Paper]) -> Window:
        papers = tuple(p for p in papers if p.key in features.index)
        keys = [p.key for p in papers]
        revs = np.array([p.rev or 0 for p in papers], dtype=np.int64)
        return cls(papers, features.rows(keys), revs, {k: i for i, k in enumerate(keys)})

    def where(self, test: Callable[[Paper], bool]) -> Allowed:
        """An `Allowed` that asks `test` of each paper (the vectorized filter's plain form)."""
        return lambda rows: np.fromiter((test(self.papers[i]) for i in rows.tolist()), bool, len(rows))

    def rows_of(self, keys: Iterable[str]) -> np.ndarray:
        """The rows of those of `keys` that are window papers."""
        at = self.at
        return np.fromiter((at[k] for k in keys if k in at), np.int64)


# Which of some window rows (an int array) may enter a reader's digest by similarity: a bool
# array as long. One call per reader over all their candidates, not one per paper.
Allowed = Callable[[np.ndarray], np.ndarray]


def rank_seeded(
    window: Window,
    after: int,
    keyword: Mapping[str, Match],
    allowed: Allowed,
    features: Features,
    seeds: Seeds,
    keywords: Sequence[str],
    floor: float,
    rated_terms: Mapping[str, tuple[str, ...]] | None = None,
    explain: int = 1000,
    query: np.ndarray | sparse.spmatrix | None = None,
) -> tuple[list[Match], int]:
    """A seeded reader's best `explain` papers of the window (those with `rev` above `after`),
    best first, and how many matched in all:
    keyword matches (re-weighted by feedback) fused with similarity to their seeds; a paper
    enters by similarity alone when it clears `floor` and `allowed` (the profile's filters, and
    whether it is new to them; `Window.where` makes one from a test per paper) says yes. Each
    says why it is there."""
    ups = [k for k, v in seeds.ratings.items() if v > 0 and k in seeds.rated]
    downs = [k for k, v in seeds.ratings.items() if v < 0 and k in seeds.rated]
    like_keys = [p.key for p in seeds.likes] + [text_key(t) for t in seeds.texts]
    vectors = reader_vectors(features, like_keys, ups, downs, keywords, query)
    weights = term_weights(keyword, seeds, rated_terms or {})
    weighted = {
        k: m.score * (sum(weights.get(t, 1.0) for t in m.terms) / len(m.terms) if m.terms else 1.0)
        for k, m in keyword.items()
    }
    by_key: dict[str, Paper] = {}
    if vectors is None:  # keywords alone
        ranked = fuse(weighted, {})
        total = len(ranked)
    else:
        enter = vectors.seeded  # only rated down: no paper enters by similarity
        if not enter or not window.papers or any(k not in window.at for k in keyword):
            similarity = _pool(window, after, keyword, allowed, features, vectors, floor, enter, by_key)
            ranked = fuse(weighted, similarity)
            total = len(ranked)
        else:
            ranked, total = _fuse_window(
                window, after, keyword, weighted, allowed, vectors, floor, explain, by_key
            )
    top = [k for k, _ in ranked[:explain] if k not in keyword or not (keyword[k].terms or keyword[k].authors)]
    reasons = _closest_seeds(features, top, like_keys, ups, seeds)
    matches = []
    for key, fused in ranked[:explain]:
        base = keyword.get(key) or Match(by_key[key], 0)
        reason = reasons.get(key)
        matches.append(
            Match(
                base.paper, round(fused * SCORE_SCALE), base.terms, base.authors, (reason,) if reason else ()
            )
        )
    return matches, total


def _pool(window, after, keyword, allowed, features, vectors, floor, enter, by_key) -> dict[str, float]:
    """The similarity along the ranking direction of every paper that may rank (`fuse`'s
    input): window papers whose cosine to the reader's direction clears the floor and that are
    allowed (when papers may `enter` by similarity), and the keyword matches the features know,
    whatever their cosine. `vectors`: (the reader's direction, the ranking direction)."""
    pool: dict[str, float] = {}
    if enter and window.papers:
        cosines, scores = _along(window.rows, vectors)
        for i in _entering(window, keyword, allowed, cosines, floor, after).tolist():
            paper = window.papers[i]
            by_key[paper.key] = paper
            pool[paper.key] = float(scores[i])
    known = [k for k in keyword if k in features.index]
    if known:
        pool.update(zip(known, (float(x) for x in features.rows(known) @ vectors.ranking), strict=True))
    return pool


def _fuse_window(window, after, keyword, weighted, allowed, vectors, floor, explain, by_key):
    """`fuse` over `_pool`'s candidates, in numpy, computing only the best `explain` in full
    (and how many rank in all); every keyword match is a window paper here."""
    papers = window.papers
    cosines, scores = _along(window.rows, vectors)
    picked = _entering(window, keyword, allowed, cosines, floor, after)
    rows = np.concatenate((picked, window.rows_of(keyword)))
    similarity = scores[rows]
    low, span = _span(similarity.tolist())
    fused = (similarity - low) / span if span else np.zeros(len(rows))
    best = max(weighted.values(), default=0.0)
    if best > 0:
        fused[len(picked) :] += keyword_part(np.array(list(weighted.values())) / best, fused[len(picked) :])
    chosen = np.arange(len(rows))
    if len(rows) > explain:  # the best `explain`, and whatever ties with the last of them
        cut = np.partition(-fused, explain - 1)[explain - 1]
        chosen = np.flatnonzero(-fused <= cut)
    keys = [papers[i].key for i in rows[chosen].tolist()]
    ranked = sorted(zip(keys, fused[chosen].tolist(), strict=True), key=lambda kv: (-kv[1], kv[0]))
    for j in chosen[chosen < len(picked)].tolist():
        by_key[papers[rows[j]].key] = papers[rows[j]]
    return ranked, len(rows)


def _entering(window: Window, keyword, allowed: Allowed, cosines: np.ndarray, floor: float, after: int):
    """The rows of window papers that enter by similarity: new since `after`, at or above the
    floor (and above 0), no keyword match (those rank anyway) and `allowed`."""
    near = (cosines >= floor) & (cosines > 0) & (window.revs > after)
    near[window.rows_of(keyword)] = False
    rows = np.flatnonzero(near)
    return rows[allowed(rows)] if len(rows) else rows


def _along(rows: sparse.csr_matrix, vectors: Directions) -> tuple[np.ndarray, np.ndarray]:
    """Each row's cosine to both directions, in one pass over the rows."""
    if vectors.reader is vectors.ranking:
        both = rows @ vectors.reader
        return both, both
    both = rows @ np.column_stack((vectors.reader, vectors.ranking))
    return both[:, 0], both[:, 1]


def _closest_seeds(
    features: Features, keys: list[str], like_keys: list[str], ups: list[str], seeds: Seeds
) -> dict[str, str]:
    """Why papers came by similarity: the liked paper each is closest to, or the ratings."""
    seed_keys = [k for k in like_keys + ups if k in features.index]
    keys = [k for k in keys if k in features.index]
    if not seed_keys or not keys:
        return {}
    scores = (features.rows(keys) @ features.rows(seed_keys).T).toarray()
    titles = {p.key: p.display_title for p in seeds.likes}
    out = {}
    for key, row in zip(keys, scores, strict=True):
        best = seed_keys[int(np.argmax(row))]
        out[key] = (
            UP_REASON if best in seeds.rated else f"like {titles[best]}" if best in titles else LIBRARY_REASON
        )
    return out
