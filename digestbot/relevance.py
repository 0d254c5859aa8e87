"""Relevance beyond keywords: similarity to the papers a reader liked or rated, fused with the
keyword score. Pure: no I/O; texts in, scores out.

- Text features: TF-IDF (scikit-learn) over each paper's title (counted twice) and abstract,
  fitted once per run on the papers being ranked plus the reader's seed papers, so a paper's
  features are computed once per run, never per subscriber. Rows are L2-normalized, so a dot
  product is a cosine similarity.
- A reader's direction is Rocchio's (Manning et al., *Introduction to IR*, ch. 9): the centroid
  of liked papers and of papers rated up, minus (less strongly) the centroid of papers rated
  down (the seeds' direction), plus the reader's own query (their keywords, as one short text).
  The two are unit vectors and count the same: the likes are not worth less for being about
  two topics (their centroid is shorter the more they differ), nor the keywords for being few.
- Fusion: the keyword score and the similarity each give a ranking; they are combined by
  reciprocal rank fusion (Cormack et al., 2009), which needs no calibration between a keyword
  score in points and a cosine in [0, 1]. A paper can enter by similarity alone when it clears
  the relevance floor.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
from scipy import sparse
from sklearn.feature_extraction.text import TfidfVectorizer

from .models import Match, Paper

RRF_K = 60  # the constant of reciprocal rank fusion; 60 is the published default
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


def profile_vector(
    features: Features,
    likes: Sequence[str],
    ups: Sequence[str] = (),
    downs: Sequence[str] = (),
    keywords: Sequence[str] = (),
    query: np.ndarray | sparse.spmatrix | None = None,
) -> np.ndarray | None:
    """The reader's direction in feature space (L2-normalized): the seeds' direction plus the
    keywords' (each a unit vector, so they count the same), or None without a liked or
    up-rated paper. `query` is the keywords' vector when the caller made it already
    (`Features.queries`)."""
    seeds = seeds_vector(features, likes, ups, downs)
    query = _query(features, keywords, query)
    if seeds is None and query is not None and downs:
        seeds = -DOWN_WEIGHT * _unit(np.asarray(features.rows(downs).mean(axis=0)).ravel())
    if seeds is None or query is None:
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


def fuse(
    keyword: Mapping[str, float],
    similarity: Mapping[str, float],
    floor: float = DEFAULT_FLOOR,
    k: int | None = None,
) -> list[tuple[str, float]]:
    """Rank papers by reciprocal rank fusion of the keyword ranking (matches only) and the
    similarity ranking (papers at or above `floor`, plus every keyword match). Best first.
    `k` is RRF_K unless given."""
    k = RRF_K if k is None else k
    fused: dict[str, float] = {}
    for rank, key in enumerate(sorted(keyword, key=lambda p: (-keyword[p], p)), 1):
        fused[key] = 1.0 / (k + rank)
    eligible = [p for p, s in similarity.items() if s > 0 and (s >= floor or p in keyword)]
    for rank, key in enumerate(sorted(eligible, key=lambda p: (-similarity[p], p)), 1):
        fused[key] = fused.get(key, 0.0) + 1.0 / (k + rank)
    return sorted(fused.items(), key=lambda kv: (-kv[1], kv[0]))


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
    finds a paper's row by key, and `key_order` is each row's place in key order (ties)."""

    papers: tuple[Paper, ...]
    rows: sparse.csr_matrix
    revs: np.ndarray
    at: Mapping[str, int] = field(default_factory=dict)
    key_order: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))

    @classmethod
    def of(cls, features: Features, papers: Sequence[Paper]) -> Window:
        papers = tuple(p for p in papers if p.key in features.index)
        keys = [p.key for p in papers]
        revs = np.array([p.rev or 0 for p in papers], dtype=np.int64)
        key_order = np.empty(len(keys), dtype=np.int64)
        key_order[sorted(range(len(keys)), key=keys.__getitem__)] = np.arange(len(keys))
        return cls(papers, features.rows(keys), revs, {k: i for i, k in enumerate(keys)}, key_order)


def rank_seeded(
    window: Window,
    after: int,
    keyword: Mapping[str, Match],
    allowed: Callable[[Paper], bool],
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
    whether it is new to them) says yes. Each says why it is there."""
    ups = [k for k, v in seeds.ratings.items() if v > 0 and k in seeds.rated]
    downs = [k for k, v in seeds.ratings.items() if v < 0 and k in seeds.rated]
    like_keys = [p.key for p in seeds.likes] + [text_key(t) for t in seeds.texts]
    vector = profile_vector(features, like_keys, ups, downs, keywords, query)
    weights = term_weights(keyword, seeds, rated_terms or {})
    weighted = {
        k: m.score * (sum(weights.get(t, 1.0) for t in m.terms) / len(m.terms) if m.terms else 1.0)
        for k, m in keyword.items()
    }
    by_key: dict[str, Paper] = {}
    if vector is not None and not (like_keys or ups):  # only rated down: no paper enters by similarity
        known = [k for k in keyword if k in features.index]
        similar = zip(known, (float(x) for x in features.rows(known) @ vector), strict=True)
        ranked = fuse(weighted, dict(similar), floor)
        total = len(ranked)
    elif vector is not None and any(k not in window.at and k in features.index for k in keyword):
        ranked = fuse(
            weighted, _pool(window, after, keyword, allowed, features, vector, floor, by_key), floor
        )
        total = len(ranked)
    elif vector is not None and window.papers:
        ranked, total = _fuse_window(
            window, after, keyword, weighted, allowed, vector, floor, explain, by_key
        )
    else:
        ranked = fuse(weighted, {}, floor)
        total = len(ranked)
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


def _pool(window, after, keyword, allowed, features, vector, floor, by_key) -> dict[str, float]:
    """The similarity of every paper that may rank (`fuse`'s input): window papers that clear
    the floor and are allowed, and the keyword matches whatever their cosine."""
    pool: dict[str, float] = {}
    scores = window.rows @ vector
    for i in np.flatnonzero((scores >= floor) & (window.revs > after)):
        paper = window.papers[i]
        if paper.key not in keyword and allowed(paper):
            by_key[paper.key] = paper
            pool[paper.key] = float(scores[i])
    known = [k for k in keyword if k in features.index]
    if known:
        pool.update(zip(known, (float(x) for x in features.rows(known) @ vector), strict=True))
    return pool


def _fuse_window(window, after, keyword, weighted, allowed, vector, floor, explain, by_key):
    """`fuse` of the keyword ranking and the similarity ranking over the window, computing only
    the best `explain` (and how many rank in all): the similarity order is one numpy sort, and a
    paper that only similarity brings has a fused score falling with its rank there, so the best
    `explain` of them are among the first `explain` + len(keyword) of that order."""
    k = RRF_K
    papers = window.papers
    scores = window.rows @ vector
    near = np.flatnonzero((scores >= floor) & (scores > 0) & (window.revs > after)).tolist()
    picked = [i for i in near if papers[i].key not in keyword and allowed(papers[i])]
    at = (window.at.get(key) for key in keyword)  # None: a match the features never saw
    known = [i for i in at if i is not None and scores[i] > 0]  # any cosine
    rows = np.array(picked + known, dtype=np.int64)
    order = np.lexsort((window.key_order[rows], -scores[rows]))  # best first, then by key
    place = np.empty(len(rows), dtype=np.int64)
    place[order] = np.arange(1, len(rows) + 1)
    fused = {key: 1.0 / (k + r) for r, key in enumerate(sorted(weighted, key=lambda p: (-weighted[p], p)), 1)}
    for j in range(len(picked), len(rows)):
        key = papers[rows[j]].key
        fused[key] += 1.0 / (k + int(place[j]))
    for j in order[: explain + len(keyword)].tolist():
        if j < len(picked):
            paper = papers[rows[j]]
            by_key[paper.key] = paper
            fused[paper.key] = 1.0 / (k + int(place[j]))
    ranked = sorted(fused.items(), key=lambda kv: (-kv[1], kv[0]))
    return ranked, len(weighted) + len(picked)


def _closest_seeds(
    features: Features, keys: list[str], like_keys: list[str], ups: list[str], seeds: Seeds
) -> dict[str, str]:
    """Why papers came by similarity: the liked paper each is closest to, or the ratings."""
    seed_keys = [k for k in like_keys + ups if k in features.index]
    keys = [k for k in keys if k in features.index]
    if not seed_keys or not keys:
        return {}
    scores = (features.rows(keys) @ features.rows(seed_keys).T).toarray()
    titles = {p.key: p.title for p in seeds.likes}
    out = {}
    for key, row in zip(keys, scores, strict=True):
        best = seed_keys[int(np.argmax(row))]
        out[key] = (
            UP_REASON if best in seeds.rated else f"like {titles[best]}" if best in titles else LIBRARY_REASON
        )
    return out
