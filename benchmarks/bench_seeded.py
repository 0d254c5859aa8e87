"""Selection cost with liked papers: `DigestRunner.select` (match + rank, no rendering or
delivery) for subscribers with keywords only, the same subscribers each with 3 liked papers,
and with 3 library entries without an arXiv id besides (title and abstract texts; one in three
is a paper of the window, found by its title).

    python benchmarks/bench_seeded.py                       # 2,000 papers x 10,000 subscribers
    python benchmarks/bench_seeded.py --papers 20000 --subscribers 10000

Same run, same generated data (benchmarks/corpus.py: seed texts resampled, Zipf keywords): the
keyword-only row is the baseline, the ratio is the cost of similarity. CPU seconds of the
selection alone, and the peak resident memory of the process that made it (each row's in a
child process of its own).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from functools import partial
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.corpus import make_papers, make_profiles  # noqa: E402
from digestbot import relevance  # noqa: E402, F401  imported once, before the children fork, as a worker has it
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
        store.close()
        return timed_select(Path(tmp) / "bench.db", Path(tmp), lambda s: sum(s.matched.values()))


def timed_select(db: Path, tmp: Path, count: Callable[[Selection], int]) -> tuple[float, float, int]:
    """`DigestRunner.select` for every subscriber stored in `db`, in a child process of its own
    (forked): its CPU seconds, the child's peak resident memory in MB (the whole process, as a
    worker's would be, not only what Python allocated) and `count` of the selection."""
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: measure, report through the pipe, leave without cleaning up
        try:
            os.close(read)
            with Store(db) as store:
                runner = DigestRunner(store, Config(path=tmp / "s.yaml"), Env(outbox=tmp))
                states = store.subscribers()
                started = time.process_time()
                selection = runner.select(states, datetime.now(UTC))
                seconds = time.process_time() - started
                os.write(write, json.dumps([seconds, count(selection)]).encode())
        except BaseException:
            traceback.print_exc()
        finally:
            os._exit(0)
    os.close(write)
    with os.fdopen(read, "rb") as pipe:
        answer = pipe.read()
    _, status, usage = os.wait4(pid, 0)
    if not answer:
        raise SystemExit(f"the measuring child process failed (wait status {status})")
    seconds, counted = json.loads(answer)
    return seconds, usage.ru_maxrss / 1024, counted


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
    print(
        f"{'profiles':24} {'papers':>7} {'subs':>7} {'CPU s':>7} {'peak RSS MB':>11} {counted:>9} {'ratio':>6}"
    )
    base = None
    for label, measure in rows:
        seconds, peak, count = measure()
        base = base or seconds
        print(
            f"{label:24} {papers:7} {subs:7} {seconds:7.{decimals}f} {peak:11.0f} {count:9} {seconds / base:6.2f}"
        )


if __name__ == "__main__":
    main()
