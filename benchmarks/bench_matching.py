"""Matching at scale: the engine against its floor and against the rule-by-rule reference.

    python benchmarks/bench_matching.py --quick     # 2,000 x 1,000 and 20,000 x 10,000
    python benchmarks/bench_matching.py             # up to 100,000 papers x 100,000 subscribers
    python benchmarks/bench_matching.py --categories 155   # arXiv's whole taxonomy, not 10 categories

For each size, on the same generated data (benchmarks/corpus.py, seeded):
- engine: digestbot.matching.Matcher, profiles compiled, every paper matched in batches of
  matching.CHUNK (each batch: every match with its profile and score, as arrays), matches
  counted per subscriber; a Match object (terms, authors) is built only for what a digest shows,
  so building them is not timed here (the old engine built one per match: 21 million at the
  largest size);
- floor: what any engine must spend, with no per-subscriber work: read every profile's
  keywords, compile each distinct keyword once into one automaton, and pass it over each
  paper's normalized title and abstract. (Until the sparse engine it compiled each profile in
  full, which cost more than the engine's own compile at 100,000 subscribers: a floor the
  engine beat. Both runs also start with the compile caches empty, so neither profits from the
  other's.);
- reference: ReferenceMatcher on a sample of subscribers, extrapolated to all of them.
Each size runs in a fresh child process, so its peak memory (max RSS) is its own; there the
floor and the engine run in turns (three times each for the smaller sizes, twice for the largest, the best kept), timed
in CPU seconds of the process: on a shared machine that is what stays comparable. Ratios come
from one run on one machine; absolute seconds vary with the machine.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import resource
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np

from benchmarks.corpus import ARXIV_CATEGORIES, CATEGORIES, make_papers, make_profiles
from digestbot.matching import Matcher, ReferenceMatcher, compile_term, normalize, normalize_name

QUICK = [(2_000, 1_000), (20_000, 10_000)]
FULL = [(2_000, 1_000), (20_000, 10_000), (100_000, 1_000), (2_000, 100_000), (100_000, 100_000)]
REFERENCE_PAIRS = 150_000  # paper x subscriber pairs the reference matcher is timed on
REPEAT_UNDER = 500_000_000  # pairs: smaller sizes time floor and engine three times, best kept
# (the largest twice: one round of each swung its ratio from 0.99 to 1.49 on this shared machine)


def floor(papers, profiles) -> dict:
    """What any engine must spend: read every profile's keywords, build one automaton of their
    patterns (each distinct keyword compiled once), and pass it over each paper's normalized
    title and abstract. No per-subscriber work at all."""
    import ahocorasick

    _cold()
    started = time.process_time()
    distinct: set[str] = set()
    for profile in profiles.values():
        distinct.update(profile.keywords)
        distinct.update(profile.exclude)
    automaton = ahocorasick.Automaton(ahocorasick.STORE_INTS)
    for keyword in distinct:
        for pattern in compile_term(keyword).patterns:
            if pattern not in automaton:
                automaton.add_word(pattern, len(automaton))
    automaton.make_automaton()
    hits = 0
    for paper in papers:
        for text in (normalize(paper.title), normalize(paper.abstract)):
            for _ in automaton.iter(text):
                hits += 1
    return {"seconds": time.process_time() - started, "hits": hits}


def _cold() -> None:
    """Empty the compile caches, so that neither run profits from the other's."""
    compile_term.cache_clear()
    normalize_name.cache_clear()


def engine(papers, profiles) -> dict:
    _cold()
    started = time.process_time()
    matcher = Matcher(profiles)
    compiled = time.process_time() - started
    per_subscriber = np.zeros(len(profiles), dtype=np.int64)
    for found in matcher.match_stream(papers):
        per_subscriber[: len(matcher)] += found.counts()
    per_subscriber = per_subscriber.tolist()
    total = sum(per_subscriber)
    return {
        "seconds": time.process_time() - started,
        "compile": compiled,
        "matches": total,
        "avg": total / len(profiles),
        "median": sorted(per_subscriber)[len(per_subscriber) // 2],
        "none": per_subscriber.count(0),
    }


def reference(papers, profiles) -> dict:
    """Time the reference on a sample and extrapolate to all papers x all subscribers."""
    sample_papers = papers[: min(len(papers), 1_000)]
    n_subs = max(5, min(len(profiles), REFERENCE_PAIRS // len(sample_papers)))
    sample = dict(list(profiles.items())[:n_subs])
    started = time.process_time()
    matcher = ReferenceMatcher(sample)
    for paper in sample_papers:
        for _ in matcher.match(paper):
            pass
    seconds = time.process_time() - started
    rate = len(sample_papers) * n_subs / seconds
    return {
        "rate": rate,
        "seconds": len(papers) * len(profiles) / rate,
        "sample": f"{len(sample_papers)}x{n_subs}",
    }


def _child(n_papers: int, n_subs: int, n_categories: int) -> dict:
    papers = make_papers(n_papers, n_categories=n_categories)
    profiles = make_profiles(n_subs, n_categories=n_categories)
    rounds = 3 if n_papers * n_subs <= REPEAT_UNDER else 2
    runs = [(floor(papers, profiles), engine(papers, profiles)) for _ in range(rounds)]
    result = {
        "floor": min((f for f, _ in runs), key=lambda r: r["seconds"]),
        "engine": min((e for _, e in runs), key=lambda r: r["seconds"]),
        "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }
    result["reference"] = reference(papers, profiles)
    return result


def measure(n_papers: int, n_subs: int, n_categories: int = len(CATEGORIES)) -> dict:
    """Generate one size's data in a fresh process and time floor, engine and reference on it."""
    # A pool of one fresh process: an error in it is raised here (a bare Process and a queue
    # waited for ever on a result that never came).
    with mp.get_context("fork").Pool(1) as pool:
        return pool.apply(_child, (n_papers, n_subs, n_categories))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="only the small sizes (a few minutes)")
    parser.add_argument("--sizes", help="comma-separated PAPERSxSUBSCRIBERS, e.g. 2000x1000,20000x10000")
    parser.add_argument(
        "--categories",
        type=int,
        default=len(CATEGORIES),
        help=f"categories papers and profiles draw from (default {len(CATEGORIES)}; up to"
        f" {len(ARXIV_CATEGORIES)}: arXiv's whole taxonomy)",
    )
    args = parser.parse_args()
    sizes = [tuple(map(int, s.split("x"))) for s in args.sizes.split(",")] if args.sizes else None
    sizes = sizes or (QUICK if args.quick else FULL)

    header = (
        f"{'papers':>8} {'subs':>8} {'what':<10} {'CPU s':>9} {'pairs/s':>12} {'peak MB':>8} "
        f"{'/floor':>7} {'ref/x':>9}  notes"
    )
    print(header)
    print("-" * len(header))
    last = None
    for n_papers, n_subs in sizes:
        pairs = n_papers * n_subs
        result = measure(n_papers, n_subs, args.categories)
        fl, en, ref, peak = result["floor"], result["engine"], result["reference"], result["peak_mb"]
        rows = [
            ("floor", fl["seconds"], None, f"{fl['hits']} keyword hits"),
            (
                "engine",
                en["seconds"],
                peak,
                f"compile {en['compile']:.2f}s; {en['avg']:.1f} matches/subscriber "
                f"(median {en['median']}, {en['none']} with none)",
            ),
            ("reference", ref["seconds"], None, f"extrapolated from {ref['sample']} pairs"),
        ]
        for what, seconds, mb, note in rows:
            print(
                f"{n_papers:>8} {n_subs:>8} {what:<10} {seconds:>9.2f} {pairs / seconds:>12,.0f} "
                f"{'' if mb is None else f'{mb:.0f}':>8} "
                f"{seconds / fl['seconds']:>7.2f} {ref['seconds'] / seconds:>9.1f}  {note}",
                flush=True,
            )
        last = (
            n_papers,
            n_subs,
            en["seconds"] / fl["seconds"],
            ref["seconds"] / en["seconds"],
            peak,
        )
    if last:
        print(
            f"summary: papers={last[0]} subscribers={last[1]} engine/floor={last[2]:.2f} "
            f"reference/engine={last[3]:.0f} peak_mb={last[4]:.0f}"
        )


if __name__ == "__main__":
    main()
