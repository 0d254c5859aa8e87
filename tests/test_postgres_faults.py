"""Faults of the PostgreSQL backend and of several workers on it, each on the real PostgreSQL the
test session starts: what a postgresql:// URL may say, and how the store reads it."""

from __future__ import annotations

from datetime import timedelta

import pytest
from conftest import free_port
from helpers import digestbot, raw_rows, raw_sql, subscriber
from test_daemon import spawn, wait_until  # noqa: F401 - spawn: a fixture
from test_workers import LEASE, check_arrivals, ledger_is_done, newsroom, pg, run_ok  # noqa: F401 - pg: a fixture

from digestbot.store import Store, now_utc, ts

JSON_SOURCE = "- name: j\n  type: rss\n  url: https://example.org/feed.json\n"


def feed_handler(feed, on_get):
    """An HTTP handler answering every GET with the RSS file `feed`, after `on_get(path)`."""
    from http.server import BaseHTTPRequestHandler

    class Feed(BaseHTTPRequestHandler):
        def do_GET(self):
            on_get(self.path)
            body = feed.read_bytes()
            self.send_response(200)
            self.send_header("Content-Type", "application/rss+xml")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    return Feed


# --- a URL's connection options --------------------------------------------------------------
# An option value libpq refuses (`sslmode=bogus`) was taken for a database out of reach: exit 1,
# "Stopped: cannot connect ... Nothing more is sent until the database can record it", as if
# waiting would help; it is a mistake in the setting, exit 2, like any other bad --db.


@pytest.mark.parametrize(
    "option",
    ["sslmode=bogus", "target_session_attrs=bogus", "port=abc", "channel_binding=sometimes"],
)
def test_a_connection_option_libpq_refuses_is_a_config_error(workdir, pg_server, option):
    workdir.write_config(JSON_SOURCE, subscriber("alice", "narwhal"))
    url = f"{pg_server.new_database()}?{option}"
    workdir.monkeypatch.setenv("DIGESTBOT_DB", url)
    from click.testing import CliRunner

    from digestbot.cli import cli

    synced = CliRunner().invoke(cli, ["--config", str(workdir.config), "sync"])
    workdir.monkeypatch.delenv("DIGESTBOT_DB")
    digestbot(workdir, "sync")  # a SQLite file to migrate
    migrated = digestbot(workdir, "migrate", "--to", url, expect=2).output

    name = option.partition("=")[0]
    assert synced.exit_code == 2, synced.output
    assert f"Error: DIGESTBOT_DB: invalid {name}" in synced.output or (
        name == "port" and "Error: DIGESTBOT_DB: invalid integer value" in synced.output
    )
    assert "Error: --to: invalid" in migrated and "cannot connect" not in synced.output + migrated
    assert "Traceback" not in synced.output + migrated


# --- several hosts in one URL ----------------------------------------------------------------
# libpq takes `postgresql://host1:5432,host2:5432/db` (it tries each in turn; with
# target_session_attrs=read-write, the primary of a replicated pair). The check read the hosts
# as one, `5432,host2:5432` as its port, and refused it: "the PostgreSQL URL's port is not a number".


def test_a_url_naming_several_hosts_is_taken_and_used(workdir, pg_server):
    workdir.write_config(JSON_SOURCE, subscriber("alice", "narwhal"))
    url = pg_server.new_database()
    name = url.rpartition("/")[2]
    # the first host refuses connections: libpq goes on to the second, the real server
    several = f"postgresql://digestbot@127.0.0.1:{free_port()},127.0.0.1:{pg_server.port}/{name}"

    out = digestbot(workdir, "--db", several + "?target_session_attrs=read-write", "sync").output
    bad = digestbot(workdir, "--db", f"postgresql://h1:5432,h2:x/{name}", "sync", expect=2).output

    assert "Traceback" not in out
    assert [r["id"] for r in raw_rows(url, "SELECT id FROM subscribers")] == ["alice"]
    assert "port is not a number" in bad


# --- how long a connection may take ----------------------------------------------------------
# The store passed its own connect_timeout=10 as a keyword, and a keyword overrides the URL: a
# `?connect_timeout=30` (a server far away, one that wakes up on demand) or PGCONNECT_TIMEOUT was
# ignored, and every connection gave up after 10 s.


def test_a_connect_timeout_in_the_url_or_the_environment_is_the_one_used(pg_server, monkeypatch):

    url = pg_server.new_database()
    monkeypatch.delenv("PGCONNECT_TIMEOUT", raising=False)
    with Store(url) as default, Store(f"{url}?connect_timeout=30") as given:
        used = [s.conn.info.get_parameters()["connect_timeout"] for s in (default, given)]
    monkeypatch.setenv("PGCONNECT_TIMEOUT", "25")
    with Store(url) as from_env:
        used.append(from_env.conn.info.get_parameters()["connect_timeout"])

    assert used == ["10", "30", "25"]


# --- a claim outlasting its lease -------------------------------------------------------------
# A worker renewed its claims only between two digests. One delivery that took longer than the
# lease (a slow SMTP server, Slack's Retry-After, a long wait for a shared rate slot) let the
# claim run out while the message was still going out: another worker took the subscriber,
# found the digest pending and sent it again.


def test_a_send_slower_than_the_lease_keeps_its_claim_and_goes_out_once(pg, slow_smtp_server, spawn):  # noqa: F811
    wanted = newsroom(pg, 1)
    pg.use_smtp(slow_smtp_server.url)
    run_ok(spawn, "fetch")
    slow_smtp_server.handler.delay = LEASE + 5  # the one message outlasts the lease

    first = spawn("send")
    wait_until(lambda: len(slow_smtp_server.messages) == 1, 20, "the digest at the SMTP server")
    claimed = raw_rows(pg.db, "SELECT claimed_until FROM subscribers")[0]["claimed_until"]
    wait_until(lambda: ts(now_utc()) > claimed, LEASE + 2, "the first claim's lease to run out")
    slow_smtp_server.handler.delay = 0.01
    second = run_ok(spawn, "send")  # while the first is still waiting for its 250
    assert first.finish(60) == 0, first.output

    assert "0 sent" in second.output
    check_arrivals(slow_smtp_server, wanted)
    ledger_is_done(pg.db)


# --- a fetch lease taken with the dispatch's clock --------------------------------------------
# A dispatch fetched its stale sources one after the other, each under a lease of FETCH_LEASE
# counted from the time the dispatch began: behind a slow first source, the next one's lease was
# born run out, and another worker took it and fetched the same source at the same time.


def test_a_fetch_lease_taken_behind_a_slow_fetch_still_keeps_other_workers_out(pg):  # noqa: F811
    from helpers import http_server
    from test_daemon import FakeClock, write_listing

    from digestbot.collect import FETCH_LEASE
    from digestbot.config import Env, load_config
    from digestbot.daemon import Worker

    newsroom(pg, 1)
    clock = FakeClock(now_utc())
    others_got_it = []

    def on_get(path: str) -> None:
        if path == "/slow.xml":
            clock.advance(seconds=FETCH_LEASE.total_seconds() + 60)  # this fetch takes a while
        else:  # the second source: is it this worker's alone while it fetches it?
            with Store(pg.db) as other:
                others_got_it.append(other.claim_lease("fetch:second", "other", clock(), FETCH_LEASE))

    write_listing(pg.path / "feed.xml", [])
    with http_server(feed_handler(pg.path / "feed.xml", on_get)) as url:
        sources = f"- name: first\n  type: arxiv_rss\n  url: {url}/slow.xml\n  every: 6h\n"
        sources += f"- name: second\n  type: arxiv_rss\n  url: {url}/second.xml\n  every: 6h\n"
        pg.write_config(sources, "- id: s0000\n  email: s0000@example.org\n  keywords: [s0000]\n")
        config, env = load_config(pg.config), Env(outbox=pg.outbox)
        with Store(pg.db) as store:
            store.sync_subscribers(config.subscribers)
            Worker(config, store, env, clock=clock).dispatch()

    assert others_got_it == [False]


# --- migrating a big ledger -------------------------------------------------------------------
# migrate held every ledger row in memory at once, several times over: each side's digests and
# their papers sorted whole for the check's fingerprint, and on a rerun every key of
# digest_items of both sides in sets. About 300 bytes a row: a year of a department's digests
# (10 million papers sent) needed gigabytes, and the copy was killed for memory.


def big_ledger(db, subscribers: int, papers: int, per_digest: int = 25) -> int:
    """A SQLite database whose every subscriber got every paper, `per_digest` a digest; returns
    how many papers were sent in all."""
    import contextlib
    import sqlite3

    Store(db).close()
    at = "2024-01-01T00:00:00.000000Z"
    digests, items = [], []
    for s in range(subscribers):
        for d in range(papers // per_digest):
            n = len(digests) + 1
            digests.append(
                (n, f"s{s}", "sent", at, f"<{n}@example.org>", (d + 1) * per_digest, per_digest, 1)
            )
            items += [(n, f"s{s}", d * per_digest + r, r, 1) for r in range(1, per_digest + 1)]
    with contextlib.closing(sqlite3.connect(db)) as conn, conn:
        conn.executemany(
            "INSERT INTO papers (seq, key, title, first_seen, updated, rev) VALUES (?, ?, ?, ?, ?, ?)",
            [(i, f"arxiv:2401.{i:05d}", f"Paper {i}", at, at, i) for i in range(1, papers + 1)],
        )
        conn.executemany(
            "INSERT INTO subscribers (id, email, schedule, timezone, max_papers, created_at, updated_at,"
            " last_seq) VALUES (?, ?, 'daily 08:00', 'UTC', 25, ?, ?, ?)",
            [(f"s{s}", f"s{s}@example.org", at, at, papers) for s in range(subscribers)],
        )
        conn.executemany(
            "INSERT INTO digests (id, subscriber_id, status, created_at, message_id, seq_to, n_papers,"
            " n_matched) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            digests,
        )
        conn.executemany(
            "INSERT INTO digest_items (digest_id, subscriber_id, paper_seq, rank, score) VALUES (?, ?, ?, ?, ?)",
            items,
        )
    return len(items)


def test_migrating_a_big_ledger_holds_a_page_of_it_in_memory_not_all_of_it(tmp_path, pg_server):
    import tracemalloc

    from digestbot.store.copy import copy_database

    sent = big_ledger(tmp_path / "db.sqlite", subscribers=20, papers=1000)  # 20,000 papers sent
    url = pg_server.new_database()
    with Store(tmp_path / "db.sqlite") as source, Store(url) as target:
        tracemalloc.start()
        try:
            first = copy_database(source, target)
            raw_sql(source.path, "DELETE FROM digest_items WHERE digest_id = 7 AND rank = 25")  # cut for size
            again = copy_database(source, target)
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()

    assert (first.counts["digest_items"], again.counts["digest_items"]) == (sent, sent - 1)
    assert raw_rows(url, "SELECT COUNT(*) AS n FROM digest_items WHERE digest_id = 7")[0]["n"] == 24
    assert peak < 4 * 2**20, f"{peak / 2**20:.0f} MB at the peak"


# --- a PostgreSQL database written in another client's notation ---------------------------------
# libpq's key=value string (`host=db dbname=digestbot user=digestbot`, what psql and psycopg take)
# was no URL to the check, so digestbot made a SQLite file of that name in the current folder:
# `sync` said "3 added", and workers on several machines each had a database of their own, every
# digest sent once per machine. SQLAlchemy's `postgresql+psycopg://` was refused as "not a
# database digestbot can use". Both are refused (exit 2) with the postgresql:// URL to write.


def _cli_with(workdir, args: list[str], env: str | None = None):
    from click.testing import CliRunner

    from digestbot.cli import cli

    if env is not None:
        workdir.monkeypatch.setenv("DIGESTBOT_DB", env)
    try:
        return CliRunner().invoke(cli, ["--config", str(workdir.config), *args])
    finally:
        workdir.monkeypatch.delenv("DIGESTBOT_DB", raising=False)


@pytest.mark.parametrize(
    "given",
    [
        "host=127.0.0.1 port=5432 dbname=digestbot user=digestbot",
        "dbname = digestbot host=127.0.0.1 port=5432  user='digestbot'",
        "postgresql+psycopg://digestbot@127.0.0.1:5432/digestbot",
        "postgres+psycopg2://digestbot@127.0.0.1:5432/digestbot",
    ],
)
def test_a_database_in_libpq_or_sqlalchemy_notation_is_refused_with_the_url_to_write(workdir, given):
    workdir.write_config(JSON_SOURCE, subscriber("alice", "narwhal"))
    results = [
        _cli_with(workdir, ["--db", given, "sync"]),
        _cli_with(workdir, ["sync"], env=given),
        _cli_with(workdir, ["--db", str(workdir.path / "x.db"), "migrate", "--to", given]),
    ]
    workdir.write_config(JSON_SOURCE, subscriber("alice", "narwhal"), extra_yaml=f'database: "{given}"')
    results.append(_cli_with(workdir, ["check"]))

    for result in results:
        assert result.exit_code == 2, result.output
        assert "postgresql://digestbot@127.0.0.1:5432/digestbot" in result.output, result.output
        assert "Traceback" not in result.output
    assert sorted(p.name for p in workdir.path.iterdir()) == ["subscriptions.yaml"]  # no file made


# --- a stop while a message waits for its turn under the shared rate ---------------------------
# A message's wait for its slot of DIGESTBOT_SMTP_RATE came after its attempt was recorded, and
# ignored a stop: a worker told to stop (systemd's SIGTERM) went on waiting (a relay's 2,000 a
# day shared by two workers: a minute and a half), past TimeoutStopSec, and was killed. The
# message had never left, yet the digest counted an attempt without an outcome; two such and it
# was set aside as possibly delivered, never to be sent.


def test_a_stop_while_waiting_for_a_shared_rate_slot_leaves_the_digest_untried(pg, smtp_server, spawn):  # noqa: F811
    import signal
    import time

    from helpers import ledger

    wanted = newsroom(pg, 1)
    pg.use_smtp(smtp_server.url)
    pg.monkeypatch.setenv("DIGESTBOT_SMTP_RATE", "0.002")  # one message every 500 s
    run_ok(spawn, "fetch")
    with Store(pg.db) as store:
        store.take_rate_slot("smtp", 500, time.time())  # another worker's message has just gone

    worker = spawn("run")
    wait_until(lambda: len(raw_rows(pg.db, "SELECT id FROM digests")) == 1, 30, "the digest recorded")
    worker.signal(signal.SIGTERM)
    code = worker.finish(60)  # its turn was 500 s away

    [record] = ledger(pg.db)
    assert code == 0 and smtp_server.messages == [], worker.output
    assert (record.status, record.attempts, record.unconfirmed) == ("pending", 0, 0)
    raw_sql(pg.db, "DELETE FROM rate_slots")  # its turn has come
    run_ok(spawn, "send")
    check_arrivals(smtp_server, wanted)
    ledger_is_done(pg.db)


# --- a role that may not create or upgrade digestbot's tables ------------------------------------
# `createdb digestbot` run as postgres (as the README's setup has it) leaves the database to
# postgres, and since PostgreSQL 15 only a database's owner may create tables in its public
# schema: digestbot's role failed every command with the server's words and a piece of SQL,
# "refused a statement: permission denied for schema public LINE 1: CREATE TABLE IF NOT EXISTS
# digestbot_schema (version INTEGER... ^". So did a role given the tables' rows but not their
# ownership, at the next upgrade. Now the message says what the role lacks and how to give it.


@pytest.fixture
def other_role(pg_server) -> str:
    import os

    name = f"worker_{os.getpid()}"
    with pg_server.admin() as conn:
        if not conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (name,)).fetchone():
            conn.execute(f"CREATE ROLE {name} LOGIN")
    return name


def test_a_role_that_may_not_create_the_tables_is_told_how_to_give_it_the_right(
    workdir, pg_server, other_role
):
    workdir.write_config(JSON_SOURCE, subscriber("alice", "narwhal"))
    name = f"bare_{pg_server.count}_{other_role}"
    pg_server.count += 1
    with pg_server.admin() as conn:
        conn.execute(f"CREATE DATABASE {name}")  # owned by the server's superuser, not the role
    url = f"postgresql://{other_role}@127.0.0.1:{pg_server.port}/{name}"

    refused = digestbot(workdir, "--db", url, "sync", expect=2).output
    raw_sql(pg_server.url(name), f"ALTER DATABASE {name} OWNER TO {other_role}")  # as it says
    digestbot(workdir, "--db", url, "sync")

    assert f"ALTER DATABASE {name} OWNER TO {other_role}" in refused, refused
    assert f"GRANT CREATE ON SCHEMA public TO {other_role}" in refused
    assert "LINE 1" not in refused and "CREATE TABLE" not in refused
    assert [r["id"] for r in raw_rows(url, "SELECT id FROM subscribers")] == ["alice"]


def test_a_role_that_may_not_upgrade_the_tables_is_told_which_role_may(workdir, pg_server, other_role):
    from digestbot.store import SCHEMA_VERSION

    workdir.write_config(JSON_SOURCE, subscriber("alice", "narwhal"))
    owner_url = pg_server.new_database()
    raw_sql(
        owner_url,
        f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {other_role}",
        f"GRANT USAGE ON ALL SEQUENCES IN SCHEMA public TO {other_role}",
        f"UPDATE digestbot_schema SET version = {SCHEMA_VERSION - 1}",  # made by the version before
    )
    url = owner_url.replace("postgresql://digestbot@", f"postgresql://{other_role}@")

    refused = digestbot(workdir, "--db", url, "sync", expect=2).output
    digestbot(workdir, "--db", owner_url, "sync")  # as it says: once as the tables' owner
    digestbot(workdir, "--db", url, "sync")

    assert f"schema {SCHEMA_VERSION - 1}" in refused and "digestbot" in refused, refused
    assert "once as the role that owns its tables (digestbot)" in refused
    assert "LINE 1" not in refused


# --- arXiv's pace across workers ------------------------------------------------------------------
# arXiv asks for one request every 3 seconds; each worker kept that pace in its own memory. Workers
# fetching different arXiv sources at once (cs.LG on one, cs.RO on another, all started together)
# each sent its request at once: N workers, N requests in the same moment, from one address.


def test_requests_to_a_paced_host_are_spaced_across_workers(pg, monkeypatch):  # noqa: F811
    import time

    from helpers import http_server
    from test_daemon import write_listing

    from digestbot.config import Env, load_config
    from digestbot.daemon import Worker
    from digestbot.sources import http

    arrived: list[float] = []

    write_listing(pg.path / "feed.xml", [])
    monkeypatch.setitem(http.HOST_INTERVALS, "127.0.0.1", 3.0)  # this server stands for arXiv
    with http_server(feed_handler(pg.path / "feed.xml", lambda path: arrived.append(time.time()))) as url:
        sources = "".join(f"- name: {n}\n  type: arxiv_rss\n  url: {url}/{n}.xml\n" for n in ("lg", "ro"))
        pg.write_config(sources, "- id: s0000\n  email: s0000@example.org\n  keywords: [s0000]\n")
        config, env = load_config(pg.config), Env(outbox=pg.outbox)
        with Store(pg.db) as one, Store(pg.db) as other:
            Worker(config, one, env).fetch("lg")
            Worker(config, other, env).fetch("ro")  # another worker, another source, the same host

    assert len(arrived) == 2 and arrived[1] - arrived[0] >= 2.9, arrived


# --- a server that refuses for reasons of its own ------------------------------------------------
# A read-only server (a standby that libpq reached first, default_transaction_read_only) and a
# statement_timeout too short for digestbot's statements gave "cannot write to the database
# ...: canceling statement due to statement timeout", for a read too (`status`), with nothing on
# what to change; the worker's log added "(free disk space, check permissions)".


@pytest.mark.parametrize(
    ("setting", "command", "told"),
    [
        ("statement_timeout=1", "status", "ALTER ROLE digestbot SET statement_timeout"),
        ("default_transaction_read_only=on", "sync", "target_session_attrs=read-write"),
    ],
)
def test_a_server_setting_that_refuses_digestbot_is_named_with_what_to_change(
    workdir, pg_server, setting, command, told
):
    from urllib.parse import quote

    workdir.write_config(JSON_SOURCE, subscriber("alice", "narwhal"))
    url = pg_server.new_database()
    digestbot(workdir, "--db", url, "sync")
    if command == "status":  # enough rows that reading them takes longer than a millisecond
        raw_sql(
            url,
            "INSERT INTO papers (key, title, first_seen, updated, rev) SELECT 'k' || i, 't', '', '', i"
            " FROM generate_series(1, 300000) AS i",
        )
    slowed = f"{url}?options={quote(f'-c {setting}')}"
    workdir.write_config(
        JSON_SOURCE, subscriber("alice", "narwhal") + subscriber("bob", "walrus")
    )  # to write

    out = digestbot(workdir, "--db", slowed, command, expect=1).output

    assert told in out, out
    assert command != "status" or "cannot write" not in out  # it was a read
    assert "Traceback" not in out


# --- a fetch outlasting its lease ------------------------------------------------------------------
# The fetch lease (10 minutes) was taken once, never renewed: a source whose `timeout:` allows
# 10 minutes, or the fetch of a big library's liked papers from arXiv's API (a hundred ids a
# request, 3 s apart, each answer slow), outlasted it, and another worker took the lease and
# fetched the same source, or the same ids, at the same time. The lease is renewed while it runs.


def test_a_fetch_slower_than_its_lease_keeps_other_workers_out(pg, monkeypatch):  # noqa: F811
    import time

    from helpers import http_server
    from test_daemon import write_listing

    from digestbot import collect
    from digestbot.config import Env, load_config
    from digestbot.daemon import Worker

    lease = 6.0
    monkeypatch.setattr(collect, "FETCH_LEASE", timedelta(seconds=lease))
    others_got_it = []

    def slow(path: str) -> None:
        time.sleep(lease * 1.5)  # the server takes its time: the lease taken before ran out
        with Store(pg.db) as other:
            others_got_it.append(other.claim_lease("fetch:slow", "other", now_utc(), timedelta(minutes=1)))

    write_listing(pg.path / "feed.xml", [])
    with http_server(feed_handler(pg.path / "feed.xml", slow)) as url:
        pg.write_config(f"- name: slow\n  type: arxiv_rss\n  url: {url}/feed.xml\n", subscriber("s0000", "x"))
        with Store(pg.db) as store:
            outcome = Worker(load_config(pg.config), store, Env(outbox=pg.outbox)).fetch("slow")

    assert outcome is not None and outcome.ok, outcome
    assert others_got_it == [False]


# --- a server out of connections ------------------------------------------------------------------
# The README sized max_connections as one per worker; a worker holds a second one while a long
# batch renews its claims (and a fetch its lease), so a server sized so ran out in the middle of
# batches, the renewals failed and the claims ran out under digests in flight. And the refusal
# reached the user as the server's "too many clients already", nothing on what to raise.


def test_a_server_out_of_connections_says_which_limit_to_raise(workdir, pg_server, other_role):
    import psycopg

    workdir.write_config(JSON_SOURCE, subscriber("alice", "narwhal"))
    owner_url = pg_server.new_database()
    raw_sql(owner_url, f"ALTER ROLE {other_role} CONNECTION LIMIT 1")
    url = owner_url.replace("postgresql://digestbot@", f"postgresql://{other_role}@")
    try:
        with psycopg.connect(url):  # the one connection the role may have
            out = digestbot(workdir, "--db", url, "status", expect=1).output
    finally:
        raw_sql(owner_url, f"ALTER ROLE {other_role} CONNECTION LIMIT -1")

    assert "CONNECTION LIMIT" in out and "two per worker" in out, out


# --- a database, role or password that is not there -----------------------------------------------
# A typo in the database's or role's name, or a wrong password, was taken for a database out of
# reach: exit 1, "Nothing more is sent until the database can record it", and systemd started the
# worker again and again (Restart=on-failure) for what waiting never mends. Like any other bad
# --db it is exit 2 (RestartPreventExitStatus=2 leaves it stopped), with what to do.


@pytest.mark.parametrize(
    ("url", "told"),
    [
        ("postgresql://digestbot@127.0.0.1:{port}/no_such_db", "createdb -O digestbot no_such_db"),
        ("postgresql://no_such_role@127.0.0.1:{port}/digestbot_template", "createuser"),
    ],
)
def test_a_database_or_role_that_does_not_exist_is_a_setting_to_fix(workdir, pg_server, url, told):
    workdir.write_config(JSON_SOURCE, subscriber("alice", "narwhal"))

    out = digestbot(workdir, "--db", url.format(port=pg_server.port), "run", expect=2).output

    assert "does not exist" in out and told in out, out
    assert "Nothing more is sent" not in out


# --- a worker whose claims ran out under it ------------------------------------------------------
# A worker that could not renew its claims (its second connection refused: a role or server out of
# connections, sized at one per worker) went on with its batch after the lease ran out, from the
# states it had read before, while another worker had claimed those subscribers and was sending
# their digests: it stopped on the ledger's unique key ("Error: ... refused a statement: duplicate
# key value violates unique constraint", exit 1), or began a retry the other held. A digest is
# now recorded, and its send begun, only while the worker still holds the subscriber's claim; the
# rest of a batch whose claims ran out is left to the new holder, and the run ends well.


def test_a_worker_whose_claims_ran_out_leaves_the_rest_of_its_batch_to_the_new_holder(
    pg,  # noqa: F811
    slow_smtp_server,
    spawn,  # noqa: F811
    other_role,
):
    import time

    wanted = newsroom(pg, 8)
    pg.use_smtp(slow_smtp_server.url)
    run_ok(spawn, "fetch")
    raw_sql(
        pg.db,
        f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {other_role}",
        f"GRANT USAGE ON ALL SEQUENCES IN SCHEMA public TO {other_role}",
        f"ALTER ROLE {other_role} CONNECTION LIMIT 1",  # the worker's one connection: no renewals
    )
    slow_smtp_server.handler.delay = 1.5  # 8 digests take 12 s: past the lease of LEASE s
    owner_url = pg.db
    try:
        pg.db_target = owner_url.replace("postgresql://digestbot@", f"postgresql://{other_role}@")
        first = spawn("-v", "send")
        wait_until(lambda: len(slow_smtp_server.messages) >= 1, 20, "the first worker sending")
        time.sleep(LEASE + 1)  # its claims run out, unrenewed
        pg.db_target = owner_url
        second = spawn("send")  # another worker (another role) takes the subscribers over
        second_rc = second.finish(60)
        first_rc = first.finish(60)
    finally:
        raw_sql(owner_url, f"ALTER ROLE {other_role} CONNECTION LIMIT -1")

    assert second_rc == 0 and first_rc == 0, first.output + second.output
    assert "claim on the subscriber ran out" in first.output, first.output
    assert "Error" not in first.output and "Traceback" not in first.output, first.output
    check_arrivals(slow_smtp_server, wanted, killed=1)  # at most the one in flight, sent again
    ledger_is_done(owner_url)
