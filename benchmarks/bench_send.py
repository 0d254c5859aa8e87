"""End to end: `digestbot send` for many subscribers, select + match + render + deliver + record.

    python benchmarks/bench_send.py                      # 10,000 subscribers, 2,000 papers
    python benchmarks/bench_send.py --subscribers 2000 --profile

Runs the same DigestRunner that `digestbot send` runs, on a fresh SQLite database, twice: with
digests delivered to a local SMTP sink (aiosmtpd on loopback, one connection reused for the whole
run: install the test extra) and to the outbox folder. Prints digests per second for each and,
with --profile, where the time goes (top functions by cumulative time, SMTP run).
"""

from __future__ import annotations

import argparse
import cProfile
import io
import multiprocessing as mp
import pstats
import socket
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.corpus import make_papers, make_profiles
from digestbot.config import Config, Env
from digestbot.digest import DigestRunner
from digestbot.models import Subscriber
from digestbot.store import Store


def _serve_sink(port: int, received, connections, ready, stop) -> None:
    from aiosmtpd.controller import Controller

    class Handler:
        async def handle_EHLO(self, server, session, envelope, hostname, responses):
            with connections.get_lock():
                connections.value += 1
            session.host_name = hostname
            return responses

        async def handle_DATA(self, server, session, envelope):
            with received.get_lock():
                received.value += 1
            return "250 OK"

    controller = Controller(Handler(), hostname="127.0.0.1", port=port)
    controller.start()
    ready.set()
    stop.wait()
    controller.stop()


class Sink:
    """An SMTP server that accepts and counts messages: aiosmtpd in its own process, as a real
    mail server would be (in-process it would compete with the sender for the GIL)."""

    def __init__(self) -> None:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        ctx = mp.get_context("fork")
        self._received, self._connections = ctx.Value("i", 0), ctx.Value("i", 0)
        ready, self._stop = ctx.Event(), ctx.Event()
        self.proc = ctx.Process(
            target=_serve_sink,
            args=(self.port, self._received, self._connections, ready, self._stop),
            daemon=True,
        )
        self.proc.start()
        ready.wait(10)

    @property
    def received(self) -> int:
        return self._received.value

    @property
    def connections(self) -> int:
        return self._connections.value

    def stop(self) -> None:
        self._stop.set()
        self.proc.join(10)


def setup(folder: Path, n_papers: int, n_subs: int) -> tuple[Store, Config]:
    store = Store(folder / "bench.db")
    profiles = make_profiles(n_subs)
    subscribers = [
        Subscriber(id=sid, profile=profile, email=f"{sid}@example.org", schedule="daily 08:00")
        for sid, profile in profiles.items()
    ]
    store.sync_subscribers(subscribers)
    store.add_papers(make_papers(n_papers), "bench")
    return store, Config(path=folder / "subscriptions.yaml", email_from="Digest <digest@example.org>")


def run_once(n_papers: int, n_subs: int, smtp: bool, profile: bool) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        store, config = setup(folder, n_papers, n_subs)
        sink = Sink() if smtp else None
        env = Env(smtp_url=f"smtp://127.0.0.1:{sink.port}" if sink else None, outbox=folder / "outbox")
        runner = DigestRunner(store, config, env)
        profiler = cProfile.Profile() if profile else None
        started = time.perf_counter()
        if profiler:
            profiler.enable()
        outcomes = runner.run()
        if profiler:
            profiler.disable()
        seconds = time.perf_counter() - started
        sent = sum(o.status == "sent" for o in outcomes)
        result = {
            "seconds": seconds,
            "sent": sent,
            "empty": sum(o.status == "empty" for o in outcomes),
            "failed": sum(o.failed for o in outcomes),
            "received": sink.received if sink else sent,
            "connections": sink.connections if sink else 0,
        }
        if sink:
            sink.stop()
        if profiler:
            out = io.StringIO()
            pstats.Stats(profiler, stream=out).sort_stats("cumulative").print_stats(25)
            result["profile"] = out.getvalue()
        store.close()
        return result


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--subscribers", type=int, default=10_000)
    parser.add_argument("--papers", type=int, default=2_000)
    parser.add_argument("--profile", action="store_true", help="also print where the time goes (SMTP run)")
    args = parser.parse_args()
    print(
        f"{'transport':<10} {'subscribers':>11} {'papers':>7} {'digests':>8} {'seconds':>8} {'digests/s':>10}  notes"
    )
    for smtp in (True, False):
        r = run_once(args.papers, args.subscribers, smtp, profile=False)
        note = f"{r['empty']} with nothing new, {r['failed']} failed"
        if smtp:
            note += f"; server received {r['received']} over {r['connections']} connection(s)"
        print(
            f"{'smtp' if smtp else 'outbox':<10} {args.subscribers:>11} {args.papers:>7} {r['sent']:>8} "
            f"{r['seconds']:>8.1f} {r['sent'] / r['seconds']:>10.0f}  {note}",
            flush=True,
        )
    if args.profile:
        r = run_once(args.papers, args.subscribers, True, profile=True)
        print("\nWhere the time goes (SMTP run, cProfile, by cumulative time):")
        print(r["profile"])


if __name__ == "__main__":
    main()
