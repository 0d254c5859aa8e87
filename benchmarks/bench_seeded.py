"""Selection cost with liked papers: `DigestRunner.select` (match + rank, no rendering or
delivery) for subscribers with keywords only, the same subscribers each with 3 liked papers,
and with 3 library entries without an arXiv id besides (title and abstract texts; one in three
is a paper of the window, found by its title).

    python benchmarks/bench_seeded.py                       # 2,000 papers x 10,000 subscribers
    python benchmarks/bench_seeded.py --papers 20000 --subscribers 10000

Same run, same generated data (benchmarks/corpus.py: seed texts resampled, Zipf keywords): the
keyword-only row is the baseline, the ratio is the cost of similarity. CPU seconds and peak
memory (tracemalloc) of the selection alone.
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from functools import partial
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.corpus import make_papers, make_profiles  # noqa: E402
from digestbot.config import Config, Env  # noqa: E402
from digestbot.digest import DigestRunner, Selection  # noqa: E402
from digestbot.models import Subscriber  # noqa: E402
from digestbot.store import Store  # noqa: E402


def run(n_papers: int, n_subs: int, likes: int, texts: int = 0) -> tuple[float, float, int]:
    with tempfile.TemporaryDirectory() as tmp:
        store = Store(Path(tmp) / "bench.db")
        papers = make_papers(n_papers)
        store.add_papers(papers[: n_papers // 10], "old", seed_only=True)  # papers people liked before
        liked_pool = [p.key.removeprefix("arxiv:") for p in papers[: n_papers // 10]]
        rng = random.Random(3)
        window = papers[n_papers // 10 :]

        def library() -> tuple[str, ...]:  # one in three a window paper's, spelled in lower case
            picks = rng.sample(window, texts)
            return tuple(
                f"{p.title.lower() if i % 3 == 0 else p.title + ' revisited'}. {p.abstract}"
                for i, p in enumerate(picks)
            )

        subscribers = [
            Subscriber(
                id=sid,
                profile=replace(
                    profile,
                    likes=tuple(rng.sample(liked_pool, likes)) if likes else (),
                    seed_texts=library() if texts else (),
                ),
                email=f"{sid}@example.org",
            )
            for sid, profile in make_profiles(n_subs).items()
        ]
        store.sync_subscribers(subscribers)
        store.add_papers(papers[n_papers // 10 :], "bench")
        seconds, peak, selection = timed_select(store, Path(tmp))
        store.close()
        return seconds, peak, sum(selection.matched.values())


def timed_select(store: Store, tmp: Path) -> tuple[float, float, Selection]:
    """`DigestRunner.select` for every stored subscriber: CPU seconds, peak MB, the selection."""
    runner = DigestRunner(store, Config(path=tmp / "s.yaml"), Env(outbox=tmp))
    states = store.subscribers()
    tracemalloc.start()
    started = time.process_time()
    selection = runner.select(states, datetime.now(UTC))
    seconds = time.process_time() - started
    peak = tracemalloc.get_traced_memory()[1] / 1e6
    tracemalloc.stop()
    return seconds, peak, selection


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--papers", type=int, default=2000)
    parser.add_argument("--subscribers", type=int, default=10_000)
    args = parser.parse_args()
    print_table(
        args.papers,
        args.subscribers,
        "matched",
        [(label, partial(run, args.papers, args.subscribers, *counts)) for label, *counts in VARIANTS],
    )


VARIANTS = (("keywords only", 0), ("keywords + 3 likes", 3), ("+ 3 library texts", 3, 3))


def print_table(
    papers: int, subs: int, counted: str, rows: list[tuple[str, Callable]], decimals: int = 1
) -> None:
    """One row per (label, measure) in turn; the first row is the baseline of the ratio column."""
    print(f"{'profiles':24} {'papers':>7} {'subs':>7} {'CPU s':>7} {'peak MB':>8} {counted:>9} {'ratio':>6}")
    base = None
    for label, measure in rows:
        seconds, peak, count = measure()
        base = base or seconds
        print(
            f"{label:24} {papers:7} {subs:7} {seconds:7.{decimals}f} {peak:8.0f} {count:9} {seconds / base:6.2f}"
        )


if __name__ == "__main__":
    main()
