"""Selection cost of trending digests: `DigestRunner.select` (pool, match, rank; no rendering or
delivery) for the same generated subscribers with keywords only, with `trending: 10` alone, and
with `trending: 10` plus their keywords as a filter.

    python benchmarks/bench_trending.py                      # a week of the HF list x 2,000 subscribers
    python benchmarks/bench_trending.py --papers 350 --subscribers 10000

Same run, same generated data (benchmarks/corpus.py), every paper listed with upvotes as the
Hugging Face list reports them: the keyword-only row is the baseline, the ratio is the cost of
trending. CPU seconds of the selection alone, and the peak resident memory of its process.
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
from dataclasses import replace
from functools import partial
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.bench_seeded import print_table, timed_select  # noqa: E402
from benchmarks.corpus import make_papers, make_profiles  # noqa: E402
from digestbot.models import Profile, Subscriber  # noqa: E402
from digestbot.store import Store  # noqa: E402

MODES = {
    "keywords only": lambda p: p,
    "trending 10": lambda p: Profile(trending=10),
    "trending 10 + keywords": lambda p: replace(p, trending=10),
}


def run(n_papers: int, n_subs: int, mode: str) -> tuple[float, float, int]:
    with tempfile.TemporaryDirectory() as tmp:
        store = Store(Path(tmp) / "bench.db")
        rng = random.Random(5)
        subscribers = [
            Subscriber(id=sid, profile=MODES[mode](profile), email=f"{sid}@example.org")
            for sid, profile in make_profiles(n_subs).items()
        ]
        store.sync_subscribers(subscribers)
        papers = [replace(p, upvotes=int(rng.paretovariate(1.2) * 3)) for p in make_papers(n_papers)]
        store.add_papers(papers, "hf-daily")
        store.close()
        return timed_select(Path(tmp) / "bench.db", Path(tmp), lambda s: sum(len(m) for m in s.best.values()))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--papers", type=int, default=350, help="papers in the pool (default: 7 days x 50)")
    parser.add_argument("--subscribers", type=int, default=2000)
    args = parser.parse_args()
    rows = [(mode, partial(run, args.papers, args.subscribers, mode)) for mode in MODES]
    print_table(args.papers, args.subscribers, "shown", rows, decimals=2)


if __name__ == "__main__":
    main()
