"""Several workers on one PostgreSQL (and `run --processes N`), and their failures, on a real
PostgreSQL on loopback: claims two workers make at once, a worker killed holding its claims, the
database restarting and the network to it cut while digests go out, a backlog drained by several
workers, a schema upgraded under a running worker. What is checked is what arrived at the SMTP
server: every subscriber's papers once, except the documented in-flight window (at most one
message per killed worker, with the same Message-ID)."""

from __future__ import annotations

import contextlib
import itertools
import signal
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
from helpers import raw_sql
from test_daemon import (
    DAILY,
    FakeClock,
    address,
    as_paper,
    by_recipient,
    expected_slots,
    local_source,
    outbox_mails,
    smtp_mails,
    spawn,  # noqa: F401 - a fixture
    subscriber_yaml,
    topic_paper,
    utc,
    wait_until,
    write_listing,
)
from test_email_delivery import ids

from digestbot.models import Profile, Subscriber
from digestbot.store import SCHEMA_VERSION, Store, now_utc

LEASE = 5  # seconds: DIGESTBOT_LEASE in these tests, so a dead worker's claims free up soon


@pytest.fixture
def pg(workdir, pg_server):
    """The workdir on a fresh PostgreSQL database, with short leases."""
    workdir.db_target = pg_server.new_database()
    workdir.monkeypatch.setenv("DIGESTBOT_LEASE", str(LEASE))
    return workdir


def newsroom(workdir, n: int, papers_each: int = 1) -> dict[str, set[str]]:
    """`n` subscribers (s0000, ...), each with its own papers; returns who should get what."""
    sids = [f"s{i:04d}" for i in range(n)]
    papers = {
        sid: [topic_paper(i * papers_each + k + 1, sid) for k in range(papers_each)]
        for i, sid in enumerate(sids)
    }
    write_listing(workdir.path / "feed.xml", [p for ps in papers.values() for p in ps])
    workdir.write_config(local_source(), "".join(subscriber_yaml(sid, sid) for sid in sids))
    return {address(sid): ids(*ps) for sid, ps in papers.items()}


def check_arrivals(server, wanted: dict[str, set[str]], killed: int = 0) -> None:
    """Everyone got their papers; a paper twice only in at most `killed` repeated messages,
    each a copy (same Message-ID) of one that was in flight."""
    received = by_recipient(smtp_mails(server))
    assert set(received) == set(wanted), f"lost: {sorted(set(wanted) - set(received))[:5]}"
    repeated = {to: mails for to, mails in received.items() if len(mails) > 1}
    assert len(repeated) <= killed, f"{len(repeated)} digests repeated: {sorted(repeated)[:5]}"
    for to, mails in received.items():
        assert {frozenset(m.papers) for m in mails} == {frozenset(wanted[to])}
        assert len({m.message_id for m in mails}) == 1, f"{to}: two different digests"
        assert len(mails) <= 2


def ledger_is_done(url: str) -> None:
    with Store(url) as store:
        assert store.digests(status="pending") == [] and store.digests(status="failed") == []


# --- claims ---------------------------------------------------------------------------------


def test_workers_claiming_the_same_subscribers_at_once_never_share_one(pg_server):
    url = pg_server.new_database()
    sids = [f"s{i:03d}" for i in range(300)]
    with Store(url) as store:
        store.sync_subscribers(Subscriber(sid, Profile(keywords=("x",)), email=address(sid)) for sid in sids)
    stores = [Store(url) for _ in range(4)]
    start = threading.Barrier(len(stores))
    now, ttl = now_utc(), timedelta(seconds=60)

    def claim(i: int) -> list[str]:
        start.wait()
        got = []
        for k in range(0, len(sids), 25):  # everyone asks for everything, in the same order
            got += stores[i].claim_subscribers(sids[k : k + 25], f"w{i}", now, ttl)
        return got

    try:
        with ThreadPoolExecutor(len(stores)) as pool:
            claimed = list(pool.map(claim, range(len(stores))))
        leases = list(pool_map(stores, lambda s, i: s.claim_lease("fetch:feed", f"w{i}", now, ttl)))
        # A claim held is not taken by another worker before it expires; after, it is.
        held = next(i for i, got in enumerate(claimed) if got)
        other = (held + 1) % len(stores)
        again = stores[other].claim_subscribers(claimed[held], f"w{other}", now + ttl / 2, ttl)
        expired = stores[other].claim_subscribers(claimed[held], f"w{other}", now + ttl * 2, ttl)
    finally:
        for s in stores:
            s.close()

    flat = [sid for got in claimed for sid in got]
    assert sorted(flat) == sids, "a subscriber claimed twice, or by no one"
    assert leases.count(True) == 1, f"the fetch lease went to {leases.count(True)} workers"
    assert again == [] and expired and sorted(expired) == sorted(claimed[held])


def pool_map(stores, fn):
    start = threading.Barrier(len(stores))

    def call(i):
        start.wait()
        return fn(stores[i], i)

    with ThreadPoolExecutor(len(stores)) as pool:
        return list(pool.map(call, range(len(stores))))


# --- a worker killed, the database gone --------------------------------------------------------


def test_a_worker_killed_holding_claims_is_taken_over_after_the_lease(pg, slow_smtp_server, spawn):  # noqa: F811
    wanted = newsroom(pg, 8)
    pg.use_smtp(slow_smtp_server.url)
    run_ok(spawn, "fetch")

    first = spawn("send")
    wait_until(lambda: len(slow_smtp_server.messages) >= 2, 20, "two digests at the SMTP server")
    first.kill()  # SIGKILL while it holds all eight subscribers
    killed_at = time.monotonic()
    sent_before = len(slow_smtp_server.messages)
    assert sent_before < 8, "the kill came too late to test anything"
    slow_smtp_server.handler.delay = 0.01

    early = run_ok(spawn, "send")  # within the lease: the dead worker's subscribers are not touched
    assert time.monotonic() - killed_at < LEASE, "too slow to test the lease"
    assert len(slow_smtp_server.messages) <= sent_before + 1  # at most its in-flight message landing
    assert "0 sent" in early.output
    time.sleep(max(0.0, LEASE - (time.monotonic() - killed_at)) + 0.5)
    run_ok(spawn, "send")  # the lease expired: this worker completes the claimed digests

    check_arrivals(slow_smtp_server, wanted, killed=1)
    ledger_is_done(pg.db)


# The database restarting (pg_ctl restart, a crash and start) cut the worker's connection while it
# sat idle, and the next statement on it failed: a restart while a message was with the SMTP
# server made the digest "delivered but could not be recorded", the batch stopped (exit 1) and
# the next run sent that digest again; a restart between the claim and the ledger's first write
# stopped the batch before anything was sent. The connection found dropped is replaced (the
# server waited for while it restarts) and the batch goes on: each digest once, exit 0.

RESTARTED = "connected to the database .* again after"


def test_the_database_restarting_while_a_message_is_sent_loses_nothing_and_repeats_nothing(
    pg,
    pg_server,
    slow_smtp_server,
    spawn,  # noqa: F811
):
    wanted = newsroom(pg, 8)
    pg.use_smtp(slow_smtp_server.url)
    run_ok(spawn, "fetch")
    slow_smtp_server.handler.delay = 3  # the first message waits 3 s for its 250: the restart falls in it

    sending = spawn("-v", "send")
    wait_until(lambda: len(slow_smtp_server.messages) >= 1, 20, "a digest at the SMTP server")
    pg_server.process.ctl("restart", "-m", "fast")  # every connection is cut; the server comes back
    slow_smtp_server.handler.delay = 0.01
    rc = sending.finish(60)

    assert rc == 0, sending.output
    assert "Traceback" not in sending.output and "could not be recorded" not in sending.output
    sending_log = "".join(sending.stderr)
    assert "connection to the database" in sending_log and "was lost" in sending_log
    check_arrivals(slow_smtp_server, wanted)  # none twice: no in-flight window, nobody was killed
    ledger_is_done(pg.db)


# In the child: the first batch's selection waits (after the claim, before anything is recorded)
# until the test has restarted the database and written the file "go".
PAUSE_AFTER_CLAIM = """
import pathlib, time, digestbot.digest as d
_select = d.DigestRunner.select
def _paused(self, *args, **kwargs):
    pathlib.Path("claimed").touch()
    while not pathlib.Path("go").exists():
        time.sleep(0.05)
    return _select(self, *args, **kwargs)
d.DigestRunner.select = _paused
"""


def test_the_database_restarting_between_the_claim_and_the_ledger_write_loses_nothing(
    pg,
    pg_server,
    smtp_server,
    spawn,  # noqa: F811
):
    wanted = newsroom(pg, 4)
    pg.use_smtp(smtp_server.url)
    run_ok(spawn, "fetch")

    sending = spawn("send", prelude=PAUSE_AFTER_CLAIM)
    wait_until(lambda: (pg.path / "claimed").exists(), 30, "the subscribers claimed")
    pg_server.process.ctl("restart", "-m", "fast")
    (pg.path / "go").touch()
    rc = sending.finish(60)

    assert rc == 0, sending.output
    check_arrivals(smtp_server, wanted)
    ledger_is_done(pg.db)


def test_a_worker_whose_database_restarted_while_it_waited_takes_an_edit_at_once(pg, pg_server, spawn):  # noqa: F811
    from test_daemon_faults import FAST_DISPATCH

    wanted = newsroom(pg, 3)
    pg.write_config(local_source(), subscriber_yaml("s0000", "s0000") + subscriber_yaml("s0001", "s0001"))
    worker = spawn("run", prelude=FAST_DISPATCH)
    worker.wait_for("digest .* to s0001: 1 papers", timeout=30)
    pg_server.process.ctl("restart", "-m", "fast")  # while the worker waits for its next dispatch
    newsroom(pg, 3)  # s0002 is added to the YAML
    worker.wait_for("digest .* to s0002: 1 papers", timeout=30)
    worker.signal(signal.SIGTERM)

    assert worker.finish(30) == 0, worker.output
    assert " ERROR " not in worker.output, worker.output  # not "stopped applying the edited config"
    received = by_recipient(outbox_mails(pg.outbox))
    assert {to: {p for m in mails for p in m.papers} for to, mails in received.items()} == wanted
    assert all(len(mails) == 1 for mails in received.values())


# A network cut to the database (connections reset, new ones refused) while digests went out:
# the statement after the cut failed, and a digest whose message was with the SMTP server was
# "delivered but could not be recorded", sent again by the next run. A cut mended within
# RECONNECT_WAIT is waited out (the ledger's idempotent writes and the reads run again on a new
# connection); one that lasts stops the batch, and the next run completes it.

SHORT_RECONNECT = "import digestbot.store.postgres as p\np.RECONNECT_WAIT = 2.0"


@contextlib.contextmanager
def sending_through_a_proxy(pg, pg_server, smtp, spawn, prelude: str = "", delay: float | None = None):  # noqa: F811
    """8 subscribers fetched, then `send` running (`prelude` first) against the database through
    a TcpProxy that the test cuts, two digests already at `smtp`: yields (proxy, the send)."""
    pg.wanted = newsroom(pg, 8)
    pg.use_smtp(smtp.url)
    with TcpProxy(pg_server.port) as proxy:
        pg.db_target = pg.db.replace(f":{pg_server.port}/", f":{proxy.port}/")
        run_ok(spawn, "fetch")
        if delay is not None:
            smtp.handler.delay = delay
        sending = spawn("send", prelude=prelude)
        wait_until(lambda: len(smtp.messages) >= 2, 20, "two digests at the SMTP server")
        yield proxy, sending


def test_a_network_cut_mended_while_sending_loses_nothing_and_repeats_nothing(
    pg,
    pg_server,
    slow_smtp_server,
    spawn,  # noqa: F811
):
    # delay: a message is with the SMTP server when the cut comes
    with sending_through_a_proxy(pg, pg_server, slow_smtp_server, spawn, delay=1) as (proxy, sending):
        proxy.cut()  # connections reset, new ones refused
        time.sleep(3)
        proxy.restore()
        slow_smtp_server.handler.delay = 0.01
        rc = sending.finish(60)
        ledger_is_done(pg.db)

    assert rc == 0, sending.output
    assert "could not be recorded" not in sending.output and "Traceback" not in sending.output
    check_arrivals(slow_smtp_server, pg.wanted)


def test_connection_refused_while_sending_stops_the_batch_and_the_next_run_completes(
    pg,
    pg_server,
    slow_smtp_server,
    spawn,  # noqa: F811
):
    with sending_through_a_proxy(pg, pg_server, slow_smtp_server, spawn, SHORT_RECONNECT) as (proxy, sending):
        proxy.cut()  # connections reset, new ones refused, for longer than the worker waits
        rc = sending.finish()
        out = sending.output
        slow_smtp_server.handler.delay = 0.01
        refused = spawn("send")
        assert refused.finish() == 1 and "cannot connect to the database" in refused.output

        proxy.restore()
        time.sleep(LEASE + 0.5)
        run_ok(spawn, "send")
        ledger_is_done(pg.db)

    assert (
        rc == 1 and "Nothing more is sent until the database can record it" in out and "Traceback" not in out
    )
    check_arrivals(slow_smtp_server, pg.wanted, killed=1)


# A worker started while its PostgreSQL was unreachable (the machine booted before the database,
# the server restarting) exited 1 at once: systemd's Restart=on-failure tried again five times in
# half a second and gave up ("start request repeated too quickly"), honcho stopped every other
# worker with it, and no digest went out until someone came. It waits for the database now,
# saying so, and starts once it answers; a stop meanwhile ends the wait (exit 0).

FAST_START_WAIT = "import digestbot.cli as c\nc.START_WAIT = 0.5"


def test_a_worker_started_before_its_database_waits_for_it_then_sends(pg, pg_server, smtp_server, spawn):  # noqa: F811
    wanted = newsroom(pg, 3)
    pg.use_smtp(smtp_server.url)
    proxy = TcpProxy(pg_server.port)  # not listening yet: connections are refused
    pg.db_target = pg.db.replace(f":{pg_server.port}/", f":{proxy.port}/")
    try:
        worker = spawn("run", prelude=FAST_START_WAIT)
        waiting = worker.wait_for("cannot start yet", timeout=30)
        proxy.restore()
        worker.wait_for("digestbot running", timeout=30)
        wait_until(lambda: len(smtp_server.messages) == 3, 30, "the three digests")
        worker.signal(signal.SIGTERM)
        assert worker.finish(30) == 0, worker.output
        ledger_is_done(pg.db)
    finally:
        proxy.cut()

    assert "cannot connect to the database" in waiting and "trying again in" in waiting, waiting
    assert "Traceback" not in worker.output
    check_arrivals(smtp_server, wanted)


def test_a_worker_waiting_for_its_database_stops_at_once_when_told(pg, spawn):  # noqa: F811
    newsroom(pg, 1)
    pg.db_target = f"postgresql://digestbot@127.0.0.1:{_free_port()}/nowhere"
    once = spawn("run", "--once")
    worker = spawn("run")
    worker.wait_for("cannot start yet", timeout=30)
    worker.signal(signal.SIGTERM)

    assert worker.finish(10) == 0, worker.output
    assert "stopped before starting" in worker.output and "Traceback" not in worker.output
    assert once.finish(30) == 1 and "cannot connect to the database" in once.output  # one run: it says so
    assert "connections?." not in once.output


# --- many workers, one backlog ------------------------------------------------------------------


def test_a_backlog_drains_with_several_workers_each_digest_once(pg, smtp_server, spawn):  # noqa: F811
    wanted = newsroom(pg, 600)
    pg.use_smtp(smtp_server.url)
    run_ok(spawn, "fetch")

    workers = [spawn("send") for _ in range(3)]
    codes = [w.finish(60) for w in workers]

    assert codes == [0, 0, 0], "\n".join(w.output for w in workers)
    check_arrivals(smtp_server, wanted)
    assert smtp_server.handler.ehlo_count == 3, "not every worker took a share"
    ledger_is_done(pg.db)


def test_run_processes_shares_the_work_on_one_machine(workdir, backend, slow_smtp_server, spawn):  # noqa: F811
    wanted = newsroom(workdir, 300)
    slow_smtp_server.handler.delay = 0.005
    workdir.use_smtp(slow_smtp_server.url)

    group = spawn("run", "--processes", "2")
    wait_until(lambda: len(slow_smtp_server.messages) >= 300, 60, "300 digests")
    group.signal(signal.SIGTERM)

    assert group.finish(30) == 0, group.output
    check_arrivals(slow_smtp_server, wanted)
    assert slow_smtp_server.handler.ehlo_count == 2, "both processes should have sent a share"
    assert "started 2 worker processes" in group.output


def test_an_old_worker_stops_politely_when_a_newer_digestbot_upgrades_the_schema(pg, spawn):  # noqa: F811
    newsroom(pg, 2)
    worker = spawn("run")
    worker.wait_for("digestbot running")
    raw_sql(pg.db, f"UPDATE digestbot_schema SET version = {SCHEMA_VERSION + 1}")

    assert worker.finish(30) == 2
    assert f"upgraded to schema {SCHEMA_VERSION + 1} by a newer digestbot" in worker.output
    assert "this worker stops" in worker.output and "Traceback" not in worker.output
    later = spawn("send")
    assert later.finish() == 2 and "made by a newer digestbot" in later.output


# --- helpers --------------------------------------------------------------------------------------


def run_ok(spawn, *args: str):  # noqa: F811
    proc = spawn(*args)
    rc = proc.finish(60)
    assert rc == 0, f"digestbot {' '.join(args)}: exit {rc}:\n{proc.output}"
    return proc


class TcpProxy:
    """A loopback TCP proxy to PostgreSQL that can cut the network: `cut()` resets every
    connection and refuses new ones (nothing listens), `restore()` listens again, same port."""

    def __init__(self, target_port: int):
        self.target = ("127.0.0.1", target_port)
        self.port = _free_port()
        self._conns: list[socket.socket] = []
        self._lock = threading.Lock()
        self._listener: socket.socket | None = None

    def __enter__(self) -> TcpProxy:
        self.restore()
        return self

    def __exit__(self, *exc) -> None:
        self.cut()

    def restore(self) -> None:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(64)
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def cut(self) -> None:
        if self._listener is not None:
            with contextlib.suppress(OSError):
                self._listener.shutdown(socket.SHUT_RDWR)
            self._listener.close()
            self._listener = None
        with self._lock:
            conns, self._conns = self._conns, []
        for conn in conns:
            with contextlib.suppress(OSError):
                conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
                conn.close()  # linger 0: a reset, as a cut network gives

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            upstream = socket.create_connection(self.target)
            with self._lock:
                self._conns += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=_pump, args=(a, b), daemon=True).start()


def _pump(src: socket.socket, dst: socket.socket) -> None:
    try:
        while data := src.recv(65536):
            dst.sendall(data)
    except OSError:
        pass
    finally:
        for s in (src, dst):
            with contextlib.suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_the_smtp_rate_holds_across_workers(pg, smtp_server, spawn):  # noqa: F811
    wanted = newsroom(pg, 24)
    pg.use_smtp(smtp_server.url)
    pg.monkeypatch.setenv("DIGESTBOT_SMTP_RATE", "10")  # messages a second, for all workers together
    run_ok(spawn, "fetch")
    arrivals: list[float] = []
    done = threading.Event()

    def watch() -> None:  # when each message arrived
        while not done.is_set():
            while len(arrivals) < len(smtp_server.messages):
                arrivals.append(time.monotonic())
            time.sleep(0.002)

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    with_smaller_batches = "import digestbot.digest as d; d.CLAIM_BATCH = 6"  # both workers get a share
    workers = [spawn("send", prelude=with_smaller_batches) for _ in range(2)]
    codes = [w.finish(60) for w in workers]
    time.sleep(0.1)
    done.set()
    watcher.join()

    assert codes == [0, 0], "\n".join(w.output for w in workers)
    check_arrivals(smtp_server, wanted)
    assert smtp_server.handler.ehlo_count == 2, "both workers should have sent"
    gaps = [b - a for a, b in itertools.pairwise(arrivals)]
    # 24 messages at 10 a second: at least 2.3 s from the first to the last, whichever worker sent
    assert arrivals[-1] - arrivals[0] >= 2.2, f"sent too fast: {arrivals[-1] - arrivals[0]:.2f} s"
    # A message held up on its way (a late arrival, then the next two close behind) is the
    # network's jitter, not the limit breaking: what must hold is the count in any second.
    assert sum(g < 0.05 for g in gaps) <= 4, f"messages bunched together: {[round(g, 3) for g in gaps]}"
    busiest = max(sum(1 for t in arrivals if start <= t < start + 1.0) for start in arrivals)
    assert busiest <= 10 + 2, f"{busiest} messages within one second at 10 a second"


def test_each_source_is_fetched_once_per_interval_whichever_worker_asks(pg):
    from digestbot.config import Env, load_config
    from digestbot.daemon import Worker

    newsroom(pg, 3)
    config, env = load_config(pg.config), Env(outbox=pg.outbox)
    later = now_utc() + timedelta(hours=7)  # past the source's `every: 6h`
    with Store(pg.db) as a, Store(pg.db) as b, Store(pg.db) as c:
        first = Worker(config, a, env).fetch("feed")
        second = Worker(config, b, env).fetch("feed")  # the same interval: another worker did it
        third = Worker(config, c, env, clock=lambda: later).fetch("feed")  # the next interval

    assert first is not None and first.new == 3
    assert second is None
    assert third is not None and third.known == 3


def test_workers_refreshing_a_source_for_trending_digests_at_once_fetch_it_once(pg):
    from digestbot.config import Env, load_config
    from digestbot.daemon import Worker

    newsroom(pg, 3)
    config, env = load_config(pg.config), Env(outbox=pg.outbox)
    with Store(pg.db) as a, Store(pg.db) as b, Store(pg.db) as c:
        holder, waiting = Worker(config, a, env), Worker(config, b, env)
        assert a.claim_lease("fetch:feed", holder.runner.worker_id, now_utc(), timedelta(minutes=1))
        assert waiting.refresh(["feed"]) == []  # the holder is fetching it: no second fetch
        assert b.source_state("feed").get("last_fetch_at") is None
        a.release_lease("fetch:feed", holder.runner.worker_id)
        first = waiting.refresh(["feed"])
        again = Worker(config, c, env).refresh(["feed"])  # fetched a moment ago: current enough

    assert [o.new for o in first] == [3]
    assert again == []


def test_send_leaves_the_refresh_before_trending_digests_to_the_worker_fetching_the_list(pg):
    """`digestbot send` on the workers' database re-fetches the upvote list under the same fetch
    lease as they do: while a worker holds it, send uses the last counts instead of a second fetch."""
    import json

    from helpers import digestbot as invoke
    from test_daemon import outbox_mails

    papers = [topic_paper(n, "quokka") for n in (1, 2, 3)]
    items = [
        {"paper": {"id": p.aid, "title": p.title, "summary": p.abstract, "upvotes": v, "authors": []}}
        for p, v in zip(papers, (30, 20, 10), strict=True)
    ]
    (pg.path / "hf.json").write_text(json.dumps(items), encoding="utf-8")
    write_listing(pg.path / "feed.xml", [])
    hf = "- name: hf\n  type: hf_daily\n  url: hf.json\n  every: 6h\n"
    pg.write_config(local_source() + hf, "- id: top\n  email: top@example.org\n  trending: 2\n")
    invoke(pg, "fetch")
    long_ago = "2020-01-01T00:00:00.000000Z"  # long enough ago for send to want a fresh list
    raw_sql(pg.db, f"UPDATE sources SET last_fetch_at = '{long_ago}' WHERE name = 'hf'")
    with Store(pg.db) as store:
        assert store.claim_lease("fetch:hf", "another-worker", now_utc(), timedelta(minutes=5))

    invoke(pg, "send", "--subscriber", "top")

    with Store(pg.db) as store:
        assert store.source_state("hf")["last_fetch_at"] == long_ago  # not fetched a second time
    [mail] = outbox_mails(pg.outbox)
    assert len(mail.papers) == 2


def test_a_fetch_lease_is_held_only_by_one_worker_and_freed_whatever_the_fetch_does(tmp_path):
    from digestbot.collect import fetch_lease

    now = now_utc()
    with Store(tmp_path / "leases.db") as store:
        with fetch_lease(store, "feed", "w1", now) as first:
            with fetch_lease(store, "feed", "w2", now) as second:
                assert (first, second) == (True, False)
            assert not store.claim_lease("fetch:feed", "w3", now, timedelta(minutes=1))  # w2 freed nothing
        with pytest.raises(RuntimeError), fetch_lease(store, "feed", "w2", now) as mine:
            assert mine
            raise RuntimeError("the fetch failed")
        with fetch_lease(store, "feed", None, now) as alone:  # one worker: no lease needed
            assert alone
        assert store.claim_lease("fetch:feed", "w3", now, timedelta(minutes=1))  # freed after the failure


# --- schedules across workers on the nights the clocks change --------------------------------

CLOCK_NIGHTS = {
    "new-york-spring-forward": ("America/New_York", "02:30", "2026-03-07 12:00"),  # 02:30 skipped
    "new-york-fall-back": ("America/New_York", "01:30", "2026-10-31 12:00"),  # 01:30 twice
    "berlin-fall-back": ("Europe/Berlin", "02:30", "2026-10-24 12:00"),
    "lord-howe-spring-forward": ("Australia/Lord_Howe", "02:15", "2026-10-02 12:00"),  # 30 minutes
    "lord-howe-fall-back": ("Australia/Lord_Howe", "01:45", "2026-04-03 12:00"),
}


@pytest.mark.parametrize("tz, at, start", CLOCK_NIGHTS.values(), ids=CLOCK_NIGHTS.keys())
def test_a_schedule_fires_once_per_day_across_workers_on_the_nights_the_clocks_change(pg, tz, at, start):
    from digestbot.config import Env, load_config
    from digestbot.daemon import Worker
    from digestbot.sources import HttpClient

    sids = [f"night{i}" for i in range(4)]
    write_listing(pg.path / "feed.xml", [])
    pg.write_config(
        local_source(every="1d"),
        "".join(subscriber_yaml(sid, "quokka", schedule=f"daily {at}", timezone=tz) for sid in sids),
    )
    config, env = load_config(pg.config), Env(outbox=pg.outbox)
    base = FakeClock(utc(start))
    skews = [timedelta(0), timedelta(seconds=20), timedelta(seconds=-20)]  # NTP keeps them close
    stores = [Store(pg.db) for _ in skews]
    try:
        stores[0].sync_subscribers(config.subscribers, now=base())
        workers = [
            Worker(
                config, store, env, clock=lambda s=skew: base() + s, client=HttpClient(sleep=lambda s: None)
            )
            for store, skew in zip(stores, skews, strict=True)
        ]
        end, n, sent = utc(start) + timedelta(days=2), 0, {sid: [] for sid in sids}
        fresh = True
        while base() <= end:
            if fresh:
                n += 1
                stores[0].add_papers([as_paper(topic_paper(n, "quokka"))], "feed", base())
            fresh = False
            for worker in itertools.chain(workers[1:], workers[:1]) if n % 2 else workers:
                for o in worker.dispatch():
                    assert o.status == "sent", o
                    sent[o.subscriber_id].append(base())
                    fresh = True
            base.advance(minutes=15)
    finally:
        for store in stores:
            store.close()

    slots = expected_slots(DAILY, at, tz, utc(start), end)
    assert len(slots) == 2  # one per local day, on the night the clocks change too
    for sid in sids:
        assert sent[sid] == [utc(start), *slots], sid
    arrived = by_recipient(outbox_mails(pg.outbox))
    assert {to: len(mails) for to, mails in arrived.items()} == {address(sid): 3 for sid in sids}
