"""The similarity core (relevance.py): seeds pull similar papers up, down-ratings push them down,
and fusion keeps every keyword match while similarity alone must clear the floor."""

from __future__ import annotations

import numpy as np
import pytest

from digestbot import relevance
from digestbot.models import Paper


def similarities(features: relevance.Features, vector) -> dict[str, float]:
    """Cosine of every paper to the profile vector (0 for all without one)."""
    if vector is None:
        return dict.fromkeys(features.keys, 0.0)
    scores = features.matrix @ vector
    return dict(zip(features.keys, (float(s) for s in scores), strict=True))


TEXTS = {
    "seed": relevance.paper_text(
        "Diffusion policies for robot manipulation", "Robots learn grasping with diffusion."
    ),
    "near": relevance.paper_text(
        "Robot grasping with diffusion models", "Manipulation policies from diffusion."
    ),
    "far": relevance.paper_text("Tax law in medieval towns", "Ledgers of merchants and guilds."),
    "mid": relevance.paper_text("Language models write code", "Agents call tools and fix bugs in code."),
    "kw": relevance.paper_text("A survey of guild ledgers", "Merchants, towns and taxes."),
}


def test_a_paper_like_the_seed_ranks_above_an_unrelated_one():
    features = relevance.Features.fit(TEXTS)
    sims = similarities(features, relevance.reader_vectors(features, ["seed"]).reader)
    assert sims["near"] > sims["mid"] >= 0 and sims["near"] > sims["far"]


def test_no_liked_or_up_rated_paper_means_no_reader_direction():
    features = relevance.Features.fit(TEXTS)
    assert relevance.reader_vectors(features, [], downs=["far"]) is None
    assert set(similarities(features, None).values()) == {0.0}
    papers = {k: Paper(key=k, title=k, rev=1) for k in TEXTS}
    window = relevance.Window.of(features, list(papers.values()))
    seeds = relevance.Seeds((), (), {"far": -1}, {"far": papers["far"]})
    # through the ranking itself: without a direction, nothing comes by similarity, even at floor 0
    assert relevance.rank_seeded(window, 0, {}, window.where(lambda _: True), features, seeds, [], 0.0) == (
        [],
        0,
    )


def test_a_down_rating_lowers_papers_like_it():
    features = relevance.Features.fit(TEXTS)
    before = similarities(features, relevance.reader_vectors(features, ["seed"]).reader)
    after = similarities(features, relevance.reader_vectors(features, ["seed"], downs=["near"]).reader)
    assert after["near"] < before["near"]


def test_fusion_adds_the_two_scores_each_scaled_to_its_best():
    keep = relevance.KEYWORD_KEEP
    similarity = {"kw": 0.05, "near": 0.5, "mid": 0.2}
    fused = dict(relevance.fuse({"near": 10.0, "kw": 30.0}, similarity))
    # near: similarity 1 (the highest) + keywords 1/3, all of it (the most like the seeds);
    # kw: 0.1 + 1 (the best), of which it keeps keep + (1 - keep) * 0.1; mid: 0.4 alone
    assert fused == pytest.approx({"near": 1 + 1 / 3, "kw": 0.1 + keep + (1 - keep) * 0.1, "mid": 0.4})
    assert [k for k, _ in relevance.fuse({"near": 10.0, "kw": 30.0}, similarity)] == ["near", "kw", "mid"]
    # a strong keyword match is not outranked by a paper that is only somewhat similar
    assert [k for k, _ in relevance.fuse({"kw": 30.0}, {"kw": 0.1, "mid": 0.3, "far": 0.0})][:2] == [
        "kw",
        "mid",
    ]
    # negative similarities scale from the lowest; a match without features scores its keywords,
    # as the least like the seeds
    fused = dict(relevance.fuse({"unseen": 5.0}, {"a": -0.2, "b": 0.2}))
    assert fused == pytest.approx({"a": 0.0, "b": 1.0, "unseen": keep})


def test_a_keyword_match_unlike_the_seeds_counts_less_than_one_like_them():
    """Two papers matching the same keywords: the one less like the reader's seeds gets less of
    its keyword score, so a keyword used in another sense sinks below papers the reader likes."""
    fused = dict(relevance.fuse({"like": 10.0, "unlike": 10.0}, {"like": 0.4, "unlike": 0.0, "top": 0.5}))
    assert fused["like"] - 0.8 > fused["unlike"] - 0.0
    assert fused["unlike"] == pytest.approx(relevance.KEYWORD_KEEP) and fused["unlike"] < fused["top"]


def test_the_ranking_direction_leaves_out_what_every_paper_shares():
    features = relevance.Features.fit(TEXTS)
    plain = relevance.reader_vectors(features, ["seed"]).reader
    ranking = relevance.reader_vectors(features, ["seed"]).ranking
    assert plain @ features.centre > ranking @ features.centre
    assert np.linalg.norm(ranking) == pytest.approx(1.0)


def test_the_window_ranking_is_the_reference_fusion_exactly():
    """rank_seeded's numpy path (one sort, only the best `explain` fused) gives what `fuse` over
    every candidate gives: the same papers, scores, reasons and count, on the labelled papers with
    random ratings, floors, watermarks, filters and digest sizes."""
    import random
    import sys
    from dataclasses import replace
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    sys.path.insert(0, str(root / "benchmarks"))
    import bench_relevance as bench

    papers, personas = bench.load()
    features = relevance.Features.fit(
        {k: relevance.paper_text(p.title, p.abstract) for k, p in papers.items()}
    )
    rng = random.Random(7)

    def reference(*args, **kwargs):
        def every_candidate(window, after, keyword, weighted, allowed, vectors, floor, explain, by_key):
            pool = relevance._pool(window, after, keyword, allowed, features, vectors, floor, True, by_key)
            ranked = relevance.fuse(weighted, pool)
            return ranked, len(ranked)

        fast, relevance._fuse_window = relevance._fuse_window, every_candidate
        try:
            return relevance.rank_seeded(*args, **kwargs)
        finally:
            relevance._fuse_window = fast

    for _ in range(80):
        persona = rng.choice(personas)
        keys = sorted(rng.sample(sorted(set(papers) - set(persona.likes)), rng.randint(10, 140)))
        window = relevance.Window.of(features, [replace(papers[k], rev=rng.randint(0, 5)) for k in keys])
        keyword = {k: m for k, m in bench.keyword_matches(persona, papers, set(keys)).items()}
        rated = rng.sample(keys, 6)
        ratings = {k: rng.choice((1, -1)) for k in rated}
        seeds = relevance.Seeds(
            tuple(papers[k] for k in persona.likes[: rng.randint(0, 3)]),
            (),
            ratings,
            {k: papers[k] for k in rated},
        )
        barred = set(rng.sample(keys, len(keys) // 5))
        args = (
            window,
            rng.randint(-1, 3),
            keyword,
            window.where(lambda paper, barred=barred: paper.key not in barred),
            features,
            seeds,
            persona.keywords if rng.random() < 0.7 else (),
            rng.choice((0.0, 0.03, 0.08, 0.2)),
        )
        explain = rng.choice((1, 5, 25, 1000))
        fast, count = relevance.rank_seeded(*args, explain=explain)
        slow, slow_count = reference(*args, explain=explain)
        assert count == slow_count
        assert [(m.paper.key, m.score, m.reasons) for m in fast] == [
            (m.paper.key, m.score, m.reasons) for m in slow
        ]


def test_a_keyword_match_without_features_ranks_by_its_keywords_alone():
    """A keyword match whose paper the features were not fitted on (so not in the window) has no
    similarity: it ranks by keywords, as `fuse` ranks it, instead of failing the whole ranking."""
    from digestbot.models import Match, Paper

    features = relevance.Features.fit(TEXTS)
    papers = {k: Paper(k, k, rev=1) for k in TEXTS}
    window = relevance.Window.of(features, list(papers.values()))
    outside = Paper("outside", "A paper the features never saw", rev=1)
    keyword = {"kw": Match(papers["kw"], 10, ("guild",)), "outside": Match(outside, 30, ("guild",))}
    seeds = relevance.Seeds((papers["seed"],))

    ranked, total = relevance.rank_seeded(
        window, 0, keyword, window.where(lambda p: p.key != "seed"), features, seeds, ["guild"], 0.08
    )

    vectors = relevance.reader_vectors(features, ["seed"], keywords=["guild"])
    expected = relevance.fuse(
        {"kw": 10.0, "outside": 30.0},
        relevance._pool(
            window, 0, keyword, window.where(lambda p: p.key != "seed"), features, vectors, 0.08, True, {}
        ),
    )
    assert [(m.paper.key, m.score) for m in ranked] == [
        (k, round(s * relevance.SCORE_SCALE)) for k, s in expected
    ]
    assert total == len(expected) and "outside" in {m.paper.key for m in ranked}


def test_the_centre_weight_is_read_when_ranking_not_when_importing(monkeypatch):
    # the variants benchmark patches it: a default bound at import would measure nothing
    features = relevance.Features.fit(TEXTS)
    before = relevance.reader_vectors(features, ["seed"])[1]
    monkeypatch.setattr(relevance, "CENTRE_WEIGHT", 0.0)
    after = relevance.reader_vectors(features, ["seed"])[1]
    assert not np.allclose(before, after)
    assert np.allclose(after, relevance.reader_vectors(features, ["seed"])[0])


def test_seeds_without_a_known_word_let_nothing_in_by_similarity():
    features = relevance.Features.fit(TEXTS)
    papers = {k: Paper(key=k, title=k, rev=1) for k in TEXTS}
    window = relevance.Window.of(features, list(papers.values()))
    # a library text the features never saw, and a paper rated down: only keyword matches rank
    seeds = relevance.Seeds((), ("the and of",), {"far": -1}, {"far": papers["far"]})
    ranked, total = relevance.rank_seeded(
        window, 0, {}, window.where(lambda _: True), features, seeds, ["guild"], 0.0
    )
    assert (ranked, total) == ([], 0)
    # rated down papers the features do not know: no direction at all, no error
    gone = relevance.Seeds((), (), {"gone": -1}, {"gone": Paper(key="gone", title="gone")})
    assert relevance.reader_vectors(features, [], downs=["gone"], keywords=["guild"]) is None
    assert relevance.rank_seeded(
        window, 0, {}, window.where(lambda _: True), features, gone, ["guild"], 0.0
    ) == ([], 0)


def test_keywords_do_not_raise_the_floor_for_papers_like_the_seeds():
    """The floor is a cosine to the seeds alone: a reader who adds keywords still gets every
    paper that clears it for their likes (the keywords add their own matches), where measuring
    it along the seeds and keywords together let fewer in, however like the seeds they were."""
    features = relevance.Features.fit(TEXTS)
    papers = {k: Paper(key=k, title=k, rev=1) for k in TEXTS}
    window = relevance.Window.of(features, list(papers.values()))
    seeds = relevance.Seeds((papers["seed"],))
    cosine = similarities(features, relevance.reader_vectors(features, ["seed"]).reader)["near"]
    joined = relevance.reader_vectors(features, ["seed"], keywords=["guild ledgers"])
    assert float((features.rows(["near"]) @ joined.ranking)[0]) < cosine  # the keywords pull away

    def entered(keywords):
        ranked, _ = relevance.rank_seeded(
            window, 0, {}, window.where(lambda p: p.key != "seed"), features, seeds, keywords, cosine
        )
        return {m.paper.key for m in ranked}

    assert "near" in entered([]) and entered(["guild ledgers"]) == entered([])
