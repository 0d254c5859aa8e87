"""Ranking quality on a labelled relevance set: data/relevance/ by default (see its README).

    python benchmarks/bench_relevance.py            # every persona, every method
    python benchmarks/bench_relevance.py --detail   # also the per-persona table
    python benchmarks/bench_relevance.py --data data/relevance-holdout   # the hold-out set

For each persona, the candidate papers are every labelled paper but its liked seeds. Methods:
- keywords: digestbot's matcher and its score (a digest lists only the matches);
- likes: similarity to the liked papers (relevance.py), papers above the floor;
- both: the keyword score fused (scaled scores added) with the similarity to the liked
  papers and the keywords (Rocchio: the keywords are the query the likes expand);
- both + N rounds: each round the persona rates the top 10 shown and not yet rated (grade 2 up,
  grade 0 down, 1 no rating); the next ranking uses the ratings, and is measured on the papers
  not yet rated (held out), so a method cannot score by re-ranking what it was told.
Metrics: nDCG@10 (graded gains 2/1/0), P@10 (grade 2 counts as relevant), recall@25 (of grade 2).
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from digestbot import relevance  # noqa: E402
from digestbot.matching import Matcher  # noqa: E402
from digestbot.models import Paper, Profile  # noqa: E402

DATA = ROOT / "data" / "relevance"
ROUNDS = 3
SHOWN = 10


@dataclass(frozen=True)
class Persona:
    id: str
    keywords: tuple[str, ...]
    likes: tuple[str, ...]
    grades: dict[str, int]


class DataError(Exception):
    """A labelled set that cannot be read; the message names the file."""


def load(data: Path = DATA) -> tuple[dict[str, Paper], list[Persona]]:
    """Read a labelled set: ``papers.jsonl`` and ``personas.yaml`` in the folder ``data``."""
    for name in ("papers.jsonl", "personas.yaml"):
        if not (data / name).is_file():
            raise DataError(
                f"{data / name}: not found (--data wants a folder holding papers.jsonl and personas.yaml)"
            )
    papers = {}
    for line in (data / "papers.jsonl").read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        papers[row["arxiv_id"]] = Paper(
            key=row["arxiv_id"], arxiv_id=row["arxiv_id"], title=row["title"], abstract=row["abstract"]
        )
    personas = [
        Persona(
            p["id"],
            tuple(p["keywords"]),
            tuple(p["likes"]),
            {aid: int(g[0]) for aid, g in p["labels"].items()},
        )
        for p in yaml.safe_load((data / "personas.yaml").read_text(encoding="utf-8"))["personas"]
    ]
    return papers, personas


def ndcg(ranked: list[str], grades: dict[str, int], candidates: set[str], n: int = 10) -> float:
    gains = [grades.get(k, 0) for k in ranked[:n]]
    dcg = sum((2**g - 1) / math.log2(i + 2) for i, g in enumerate(gains))
    ideal = sorted((grades.get(k, 0) for k in candidates), reverse=True)[:n]
    idcg = sum((2**g - 1) / math.log2(i + 2) for i, g in enumerate(ideal))
    return dcg / idcg if idcg else 0.0


def precision(ranked: list[str], grades: dict[str, int], n: int = 10) -> float:
    return sum(grades.get(k, 0) == 2 for k in ranked[:n]) / n


def recall(ranked: list[str], grades: dict[str, int], candidates: set[str], n: int = 25) -> float:
    relevant = {k for k in candidates if grades.get(k, 0) == 2}
    return len(relevant & set(ranked[:n])) / len(relevant) if relevant else 0.0


def keyword_matches(persona: Persona, papers: dict[str, Paper], candidates: set[str]) -> dict:
    matcher = Matcher({persona.id: Profile(keywords=persona.keywords)})
    return {key: match for key in candidates for _, match in matcher.match(papers[key])}


def rankings(persona, papers, features, candidates, ups=(), downs=()):
    """The ranked candidate keys per method, given ratings so far, through the code digests use
    (relevance.rank_seeded)."""
    keyword = keyword_matches(persona, papers, candidates)
    ratings = {**dict.fromkeys(ups, 1), **dict.fromkeys(downs, -1)}
    rated = {k: papers[k] for k in ratings}
    liked = tuple(papers[k] for k in persona.likes)
    window = relevance.Window.of(features, [papers[k] for k in sorted(candidates)])
    floor = relevance.DEFAULT_FLOOR

    def ranked(seeds, kw, words):
        terms = {k: m.terms for k, m in keyword_matches(persona, papers, set(rated)).items()}
        found, _ = relevance.rank_seeded(window, -1, kw, ALLOW, features, seeds, words, floor, terms)
        return [m.paper.key for m in found]

    return {
        "keywords": [k for k, _ in sorted(keyword.items(), key=lambda kv: (-kv[1].score, kv[0]))],
        "likes": ranked(relevance.Seeds(liked), {}, ()),
        "both": ranked(relevance.Seeds(liked, (), ratings, rated), keyword, persona.keywords),
    }


def ALLOW(rows: np.ndarray) -> np.ndarray:
    """Every paper may enter (the labelled set has no filters, and every paper is new)."""
    return np.ones(len(rows), dtype=bool)


def evaluate(papers: dict[str, Paper], personas: list[Persona]) -> dict[str, dict[str, tuple]]:
    texts = {k: relevance.paper_text(p.title, p.abstract) for k, p in papers.items()}
    features = relevance.Features.fit(texts)  # once for all papers, as a run does
    results: dict[str, dict[str, tuple]] = {}
    for persona in personas:
        candidates = set(papers) - set(persona.likes)
        ranked = rankings(persona, papers, features, candidates)
        row = {m: metrics(r, persona.grades, candidates) for m, r in ranked.items()}
        row["let in"] = let_in(ranked["likes"], persona.grades, candidates)
        ups: list[str] = []
        downs: list[str] = []
        shown = ranked["both"]
        for n in range(1, ROUNDS + 1):
            rated = set(ups) | set(downs)
            for key in [k for k in shown if k not in rated][:SHOWN]:
                grade = persona.grades.get(key, 0)
                (ups if grade == 2 else downs if grade == 0 else []).append(key)
            held_out = candidates - set(ups) - set(downs)
            shown = rankings(persona, papers, features, held_out, ups, downs)["both"]
            row[f"both+{n}"] = metrics(shown, persona.grades, held_out)
            if n == 1:  # the baseline for the lift: no feedback, same held-out papers
                base = rankings(persona, papers, features, held_out)["both"]
                row["both@held"] = metrics(base, persona.grades, held_out)
        results[persona.id] = row
    return results


def let_in(ranked: list[str], grades: dict[str, int], candidates: set[str]) -> tuple[float, float, float]:
    """(off-topic, relevant) papers a ranking by likes alone lets in (those that clear the floor),
    and of how many candidates: what a TF-IDF setting or a floor costs in papers nobody wanted."""
    return (
        sum(grades.get(k, 0) == 0 for k in ranked),
        sum(grades.get(k, 0) == 2 for k in ranked),
        len(candidates),
    )


def metrics(ranked: list[str], grades: dict[str, int], candidates: set[str]) -> tuple[float, float, float]:
    return ndcg(ranked, grades, candidates), precision(ranked, grades), recall(ranked, grades, candidates)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--detail", action="store_true", help="print every persona's figures too")
    parser.add_argument(
        "--data",
        metavar="DIR",
        type=Path,
        default=DATA,
        help="the labelled set to measure on: a folder with papers.jsonl and personas.yaml"
        " (default: data/relevance, the set the ranking was developed on; data/relevance-holdout"
        " is the independent hold-out set)",
    )
    args = parser.parse_args()
    try:
        papers, personas = load(args.data)
    except DataError as err:
        print(f"error: {err}", file=sys.stderr)
        raise SystemExit(2) from None
    shown = args.data.resolve()
    shown = shown.relative_to(ROOT) if shown.is_relative_to(ROOT) else shown
    print(f"labelled set: {shown} ({len(personas)} personas x {len(papers)} papers)")
    results = evaluate(papers, personas)
    methods = ["keywords", "likes", "both", "both@held", "both+1", "both+2", "both+3"]
    if args.detail:
        print(f"{'persona':22} " + " ".join(f"{m:>9}" for m in methods) + "   (nDCG@10)")
        for pid, row in results.items():
            print(f"{pid:22} " + " ".join(f"{row[m][0]:9.3f}" for m in methods))
        print()
    print(f"{'method':12} {'nDCG@10':>8} {'P@10':>6} {'R@25':>6}  notes")
    print("-" * 60)
    notes = {
        "both@held": "no feedback, on round 1's held-out papers",
        "both+3": "after 3 rounds of thumbs on the top 10",
    }
    means = {}
    for m in methods:
        vals = [results[p][m] for p in results]
        means[m] = tuple(sum(v[i] for v in vals) / len(vals) for i in range(3))
        print(f"{m:12} {means[m][0]:8.3f} {means[m][1]:6.3f} {means[m][2]:6.3f}  {notes.get(m, '')}")
    worst = min(results[p]["both"][0] - results[p]["keywords"][0] for p in results)
    off, relevant, among = (sum(r["let in"][i] for r in results.values()) / len(results) for i in range(3))
    print(
        f"floor {relevance.DEFAULT_FLOOR}: likes alone let in {off:.1f} off-topic (grade 0) and"
        f" {relevant:.1f} relevant (grade 2) papers per persona, of {among:.0f} candidates"
    )
    print(
        f"summary: personas={len(results)} keywords={means['keywords'][0]:.3f} likes={means['likes'][0]:.3f}"
        f" both={means['both'][0]:.3f} worst_both_minus_keywords={worst:+.3f}"
        f" feedback_lift={means['both+3'][0] - means['both@held'][0]:+.3f} offtopic_let_in={off:.1f}"
    )


if __name__ == "__main__":
    main()
