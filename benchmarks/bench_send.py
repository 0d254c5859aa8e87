"""End to end: `digestbot send` for many subscribers, select + match + render + deliver + record.

    python benchmarks/bench_send.py                      # 10,000 subscribers, 2,000 papers
    python benchmarks/bench_send.py --subscribers 2000 --profile

Runs the same DigestRunner that `digestbot send` runs, on a fresh SQLite database, three times:
digests delivered over one reused SMTP connection to a bare local sink (in the spirit of
Postfix's smtp-sink: it answers at once), to aiosmtpd (the test suite's server: install the
test extra; it tops out near 240 messages a second here, so that row measures it as much as
digestbot), and to the outbox folder. Prints digests per second for each and, with --profile,
where the time goes (top functions by cumulative time, bare-sink run).
"""

from __future__ import annotations

import contextlib
import cProfile
import io
import multiprocessing as mp
import pstats
import re
import socket
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.corpus import make_papers, make_profiles, size_parser
from digestbot.config import Config, Env
from digestbot.digest import DigestRunner
from digestbot.models import Subscriber
from digestbot.store import Store


def _serve_aiosmtpd(port: int, received, connections, ready, stop) -> None:
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


def _serve_plain(port: int, received, connections, ready, stop, log: str | None = None) -> None:
    """A bare SMTP sink in the spirit of Postfix's smtp-sink: it answers every command at once,
    reads DATA to the final dot, counts, and keeps nothing (with `log`, a folder: each message's
    Message-ID, one file per connection, so duplicates can be counted)."""
    server = socket.create_server(("127.0.0.1", port))
    server.settimeout(0.2)
    ready.set()
    while not stop.is_set():
        try:
            conn, _ = server.accept()
        except TimeoutError:
            continue
        with connections.get_lock():
            connections.value += 1
            n = connections.value
        ids = open(Path(log) / f"{n}.ids", "ab", buffering=0) if log else None  # noqa: SIM115
        threading.Thread(target=_plain_session, args=(conn, received, ids), daemon=True).start()
    server.close()


def _plain_session(conn: socket.socket, received, ids=None) -> None:
    """One client's session; a client killed part way (bench_workers' kill -9) just ends it."""
    with contextlib.suppress(ConnectionResetError, BrokenPipeError):
        _converse(conn, received, ids)


def _converse(conn: socket.socket, received, ids=None) -> None:
    # Replies to pipelined commands go out together in one write, as real servers do: sent one
    # by one, Nagle's algorithm and delayed ACKs would hold each back ~40 ms.
    conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    buffer, in_data = b"", False
    conn.sendall(b"220 sink ESMTP\r\n")
    with conn:
        while chunk := conn.recv(262144):
            buffer += chunk
            replies = []
            while True:
                if in_data:
                    end = buffer.find(b"\r\n.\r\n")
                    if end < 0:
                        break
                    if ids is not None:
                        found = _MESSAGE_ID.search(buffer[:end])
                        ids.write((found.group(1) if found else b"?") + b"\n")
                    buffer, in_data = buffer[end + 5 :], False
                    with received.get_lock():
                        received.value += 1
                    replies.append(b"250 2.0.0 Ok: queued\r\n")
                    continue
                line, sep, rest = buffer.partition(b"\r\n")
                if not sep:
                    break
                buffer, verb = rest, line[:4].upper()
                if verb in (b"EHLO", b"HELO"):
                    replies.append(b"250-sink\r\n250-PIPELINING\r\n250-8BITMIME\r\n250 SIZE 52428800\r\n")
                elif verb == b"DATA":
                    in_data = True
                    replies.append(b"354 End data with <CR><LF>.<CR><LF>\r\n")
                elif verb == b"QUIT":
                    conn.sendall(b"".join(replies) + b"221 Bye\r\n")
                    return
                else:
                    replies.append(b"250 Ok\r\n")
            if replies:
                conn.sendall(b"".join(replies))


_MESSAGE_ID = re.compile(rb"(?im)^Message-ID:\s*(<[^>\r\n]+>)")


class Sink:
    """An SMTP server in its own process (as a real mail server would be: in-process it would
    compete with the sender for the GIL) that accepts and counts messages."""

    def __init__(self, kind: str = "plain", log: Path | None = None) -> None:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        ctx = mp.get_context("fork")
        self._received, self._connections = ctx.Value("i", 0), ctx.Value("i", 0)
        ready, self._stop = ctx.Event(), ctx.Event()
        target = _serve_aiosmtpd if kind == "aiosmtpd" else _serve_plain
        args = (self.port, self._received, self._connections, ready, self._stop)
        if log is not None:
            args += (str(log),)
        self.proc = ctx.Process(target=target, args=args, daemon=True)
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


def run_once(n_papers: int, n_subs: int, sink_kind: str | None, profile: bool) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        store, config = setup(folder, n_papers, n_subs)
        sink = Sink(sink_kind) if sink_kind else None
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
    parser = size_parser(__doc__, subscribers=10_000)
    parser.add_argument("--profile", action="store_true", help="also print where the time goes (SMTP run)")
    args = parser.parse_args()
    print(
        f"{'transport':<14} {'subscribers':>11} {'papers':>7} {'digests':>8} {'seconds':>8} {'digests/s':>10}  notes"
    )
    for label, sink_kind in (("smtp sink", "plain"), ("smtp aiosmtpd", "aiosmtpd"), ("outbox", None)):
        r = run_once(args.papers, args.subscribers, sink_kind, profile=False)
        note = f"{r['empty']} with nothing new, {r['failed']} failed"
        if sink_kind:
            note += f"; server received {r['received']} over {r['connections']} connection(s)"
        print(
            f"{label:<14} {args.subscribers:>11} {args.papers:>7} {r['sent']:>8} "
            f"{r['seconds']:>8.1f} {r['sent'] / r['seconds']:>10.0f}  {note}",
            flush=True,
        )
    if args.profile:
        r = run_once(args.papers, args.subscribers, "plain", profile=True)
        print("\nWhere the time goes (bare-sink SMTP run, cProfile, by cumulative time):")
        print(r["profile"])


if __name__ == "__main__":
    main()
