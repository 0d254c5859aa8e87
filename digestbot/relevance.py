"""Relevance beyond keywords: similarity to the papers a reader liked or rated, fused with the
keyword score. Pure: no I/O; texts in, scores out.

- Text features: TF-IDF (scikit-learn) over each paper's title (counted twice) and abstract,
  fitted once per run on the papers being ranked plus the reader's seed papers, so a paper's
  features are computed once per run, never per subscriber. Rows are L2-normalized, so a dot
  product is a cosine similarity.
- A reader's profile vector is Rocchio's (Manning et al., *Introduction to IR*, ch. 9): the
  reader's own query (their keywords, as one short text), plus the centroid of liked papers and
  of papers rated up, minus (less strongly) the centroid of papers rated down.
- Fusion: the keyword score and the similarity each give a ranking; they are combined by
  reciprocal rank fusion (Cormack et al., 2009), which needs no calibration between a keyword
  score in points and a cosine in [0, 1]. A paper can enter by similarity alone when it clears
  the relevance floor.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from scipy import sparse
from sklearn.feature_extraction.text import TfidfVectorizer

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
    vectorizer: TfidfVectorizer

    @classmethod
    def fit(cls, texts: Mapping[str, str]) -> Features:
        keys = tuple(texts)
        vectorizer = TfidfVectorizer(
            sublinear_tf=True,
            stop_words="english",
            ngram_range=(1, 1),
            min_df=1,
            max_df=0.5 if len(keys) >= 20 else 1.0,
            strip_accents="unicode",
        )
        matrix = vectorizer.fit_transform([texts[k] for k in keys]).tocsr()
        return cls(keys, matrix, vectorizer)

    def query(self, keywords: Sequence[str]) -> np.ndarray | None:
        """Keywords as one short text in the same space (L2-normalized), or None if no word of
        them is in the vocabulary."""
        text = " ".join(k.rstrip("*") for k in keywords)
        row = np.asarray(self.vectorizer.transform([text]).todense()).ravel()
        norm = np.linalg.norm(row)
        return row / norm if norm else None

    def rows(self, keys: Sequence[str]) -> sparse.csr_matrix:
        index = {k: i for i, k in enumerate(self.keys)}
        return self.matrix[[index[k] for k in keys if k in index]]


def profile_vector(
    features: Features,
    likes: Sequence[str],
    ups: Sequence[str] = (),
    downs: Sequence[str] = (),
    keywords: Sequence[str] = (),
) -> np.ndarray | None:
    """The reader's direction in feature space (L2-normalized), or None without a liked or
    up-rated paper to start from (keywords alone are the keyword matcher's job)."""
    parts, positive = [], False
    query = features.query(keywords) if keywords else None
    if query is not None:
        parts.append(query)
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


def similarities(features: Features, vector: np.ndarray | None) -> dict[str, float]:
    """Cosine of every paper to the profile vector (0 for all without one)."""
    if vector is None:
        return dict.fromkeys(features.keys, 0.0)
    scores = features.matrix @ vector
    return dict(zip(features.keys, (float(s) for s in scores), strict=True))


def fuse(
    keyword: Mapping[str, float],
    similarity: Mapping[str, float],
    floor: float = DEFAULT_FLOOR,
    k: int = RRF_K,
) -> list[tuple[str, float]]:
    """Rank papers by reciprocal rank fusion of the keyword ranking (matches only) and the
    similarity ranking (papers at or above `floor`, plus every keyword match). Best first."""
    fused: dict[str, float] = {}
    for rank, key in enumerate(sorted(keyword, key=lambda p: -keyword[p]), 1):
        fused[key] = 1.0 / (k + rank)
    eligible = [p for p, s in similarity.items() if s > 0 and (s >= floor or p in keyword)]
    for rank, key in enumerate(sorted(eligible, key=lambda p: -similarity[p]), 1):
        fused[key] = fused.get(key, 0.0) + 1.0 / (k + rank)
    return sorted(fused.items(), key=lambda kv: (-kv[1], kv[0]))
