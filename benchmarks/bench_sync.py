"""Syncing the YAML's subscribers into the store (every `digestbot` command and every reload).

    python benchmarks/bench_sync.py                 # 2,000, 20,000 and 50,000 subscribers
    python benchmarks/bench_sync.py --sizes 5000

For each size, on SQLite: the first sync (all added), a second one (all unchanged), and a sync
after one web subscriber signed up with the address of a YAML one (the hand-over path), against
a baseline in the same run: inserting the same rows with one executemany into a bare table,
which is what any sync must at least write. CPU seconds; the ratio is what to read. A sync that
asks the database once per subscriber for others with its address grows with the square of the
subscribers (it took 44.6 s for 20,000 before it asked only for shared addresses).
"""

from __future__ import annotations

import argparse
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from digestbot.models import Profile, Subscriber
from digestbot.store import Store


def subscribers(n: int) -> list[Subscriber]:
    return [
        Subscriber(f"s{i}", Profile(keywords=("diffusion", f"topic {i % 97}")), email=f"s{i}@example.org")
        for i in range(n)
    ]


def timed(work) -> float:
    started = time.process_time()
    work()
    return time.process_time() - started


def baseline(path: Path, subs: list[Subscriber]) -> float:
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE bare (id TEXT PRIMARY KEY, email TEXT, keywords TEXT)")
    rows = [(s.id, s.email, ",".join(s.profile.keywords)) for s in subs]
    took = timed(lambda: (conn.executemany("INSERT INTO bare VALUES (?, ?, ?)", rows), conn.commit()))
    conn.close()
    return took


def measure(n: int) -> list[tuple[str, float]]:
    subs = subscribers(n)
    with tempfile.TemporaryDirectory() as tmp:
        base = baseline(Path(tmp) / "bare.db", subs)
        with Store(Path(tmp) / "digestbot.db") as store:
            first = timed(lambda: store.sync_subscribers(subs))
            again = timed(lambda: store.sync_subscribers(subs))
            web = Subscriber("web:1", Profile(keywords=("x",)), email="S7@example.org", origin="web")
            store.save_web_subscriber(web)
            handed = timed(lambda: store.sync_subscribers(subs))
    return [("insert (baseline)", base), ("first sync", first), ("second sync", again), ("hand-over", handed)]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", type=int, nargs="+", default=[2_000, 20_000, 50_000])
    args = parser.parse_args()
    print(f"{'subscribers':>11} {'what':18} {'CPU s':>7} {'/baseline':>9}")
    print("-" * 48)
    for n in args.sizes:
        rows = measure(n)
        base = rows[0][1] or 1e-9
        for what, seconds in rows:
            print(f"{n:>11,} {what:18} {seconds:7.2f} {seconds / base:9.1f}")


if __name__ == "__main__":
    main()
