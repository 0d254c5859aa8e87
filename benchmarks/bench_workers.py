"""Several workers on one PostgreSQL: digests per second with 1, 2 and 4 worker processes, and a
run with one worker killed (kill -9) mid-batch.

    python benchmarks/bench_workers.py                          # 50,000 subscribers x 2,000 papers
    python benchmarks/bench_workers.py --subscribers 5000       # quicker
    python benchmarks/bench_workers.py --backlog 100000         # the 100,000 due digests case

Starts its own PostgreSQL (tests/pgserver.py: initdb + pg_ctl into a temporary folder), builds
one database with the subscribers and papers, and for each run clones it (CREATE DATABASE ...
TEMPLATE), so every run starts from the same state. Each worker is a separate process running
the DigestRunner that `digestbot send`/`run` run, claiming subscribers from the database
(DIGESTBOT_LEASE short, 5 s, so the killed worker's claims free up soon). Digests go over SMTP
to the bare sink of bench_send.py, which logs each message's Message-ID: duplicates are
Message-IDs received twice, lost ones are digests the ledger says were sent (or still waits
to send) that never arrived. Ratios are against the one-worker run of the same invocation.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import signal
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from pgserver import pg_bin, start_postgres  # noqa: E402

from benchmarks.bench_send import Sink  # noqa: E402
from benchmarks.corpus import make_papers, make_profiles, size_parser  # noqa: E402
from digestbot.config import Config, Env  # noqa: E402
from digestbot.digest import DigestRunner  # noqa: E402
from digestbot.models import Subscriber  # noqa: E402
from digestbot.store import Store  # noqa: E402

LEASE = 5.0


def seed(url: str, n_subs: int, n_papers: int) -> None:
    with Store(url) as store:
        profiles = make_profiles(n_subs)
        store.sync_subscribers(
            Subscriber(id=sid, profile=profile, email=f"{sid}@example.org", schedule="daily 08:00")
            for sid, profile in profiles.items()
        )
        store.add_papers(make_papers(n_papers), "bench")


def worker(url: str, smtp_url: str, folder: str, started) -> None:
    started.wait()
    with Store(url) as store:
        config = Config(path=Path(folder) / "subscriptions.yaml", email_from="Digest <digest@example.org>")
        env = Env(smtp_url=smtp_url, outbox=Path(folder) / "outbox", lease=LEASE)
        DigestRunner(store, config, env, shared=True).run()


def one_run(server, template: str, n: int, kill_at: int, folder: Path, label: str) -> dict:
    """`n` workers on a copy of `template`; with `kill_at`, the first is killed (SIGKILL) once the
    sink has received that many digests (or when it finishes first), and one more worker runs
    after the lease to complete its claims."""
    name = f"run_{label}"
    admin = Store(server.url("postgres")).conn  # an admin connection is all this needs
    admin.execute(f"DROP DATABASE IF EXISTS {name}")
    admin.execute(f"CREATE DATABASE {name} TEMPLATE {template}")
    admin.close()
    url = server.url(name)
    log = folder / f"ids-{label}"
    log.mkdir()
    sink = Sink("plain", log=log)
    ctx = mp.get_context("fork")
    started = ctx.Event()
    procs = [
        ctx.Process(target=worker, args=(url, f"smtp://127.0.0.1:{sink.port}", str(folder), started))
        for _ in range(n)
    ]
    for p in procs:
        p.start()
    t0 = time.perf_counter()
    started.set()
    killed = 0
    if kill_at:
        while sink.received < kill_at and procs[0].is_alive():
            time.sleep(0.01)
        if procs[0].is_alive():  # else it finished first: nothing was killed
            os.kill(procs[0].pid, signal.SIGKILL)
            killed = 1
    for p in procs:
        p.join()
    seconds = time.perf_counter() - t0
    if kill_at:  # the killed worker's claimed digests: another worker after the lease
        time.sleep(LEASE + 0.5)
        rest = ctx.Process(target=worker, args=(url, f"smtp://127.0.0.1:{sink.port}", str(folder), started))
        rest.start()
        rest.join()
        seconds = time.perf_counter() - t0
    sink.stop()
    received = Counter(line for f in log.glob("*.ids") for line in f.read_bytes().decode().split())
    with Store(url) as store:
        recorded = {r[0] for r in store._exec("SELECT message_id FROM digests")}
        pending = store._exec("SELECT COUNT(*) FROM digests WHERE status <> 'sent'").fetchone()[0]
    return {
        "workers": n,
        "killed": killed,
        "digests": len(recorded),
        "seconds": seconds,
        "duplicates": sum(c - 1 for c in received.values() if c > 1),
        "lost": len(recorded - set(received)) + pending,
    }


def main() -> None:
    parser = size_parser(__doc__, subscribers=50_000)
    parser.add_argument("--workers", default="1,2,4", help="worker counts to run, comma-separated")
    parser.add_argument("--backlog", type=int, help="instead: this many subscribers, all due (e.g. 100000)")
    args = parser.parse_args()
    n_subs = args.backlog or args.subscribers
    folder = pg_bin()
    if folder is None:
        sys.exit("PostgreSQL is not installed (initdb, pg_ctl): apt-get install postgresql")
    server = start_postgres(folder)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            admin = Store(server.url("postgres")).conn
            admin.execute("CREATE DATABASE bench_seed")
            admin.close()
            t0 = time.perf_counter()
            seed(server.url("bench_seed"), n_subs, args.papers)
            print(
                f"seeded {n_subs:,} subscribers x {args.papers:,} papers in {time.perf_counter() - t0:.0f} s"
            )
            print(
                f"{'workers':>7} {'killed':>6} {'digests':>8} {'seconds':>8} {'digests/s':>10} {'vs 1':>6}"
                f" {'duplicates':>10} {'lost':>5}"
            )
            base = None
            runs = [(int(n), False) for n in args.workers.split(",")] + [(2, True)]
            for i, (n, kill) in enumerate(runs):
                # Killed mid-batch: once a tenth of the digests (at most 2,000) have arrived.
                kill_at = max(1, min(2000, base["digests"] // 10)) if kill and base else 0
                # a run's own folder, by its place too: `--workers 1,1` repeats a count
                r = one_run(server, "bench_seed", n, kill_at, Path(tmp), f"{i}_{n}{'k' if kill else ''}")
                rate = r["digests"] / r["seconds"]
                base = base or {"rate": rate, "digests": r["digests"]}
                ratio = f"{rate / base['rate']:>5.2f}x" if base["rate"] else f"{'-':>6}"
                print(
                    f"{r['workers']:>7} {r['killed']:>6} {r['digests']:>8} {r['seconds']:>8.1f} {rate:>10.0f}"
                    f" {ratio} {r['duplicates']:>10} {r['lost']:>5}",
                    flush=True,
                )
    finally:
        server.stop()


if __name__ == "__main__":
    main()
