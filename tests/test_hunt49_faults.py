"""Faults of PostgreSQL and of several workers on it (hunt 49), each on the real PostgreSQL the
test session starts and real `digestbot` processes."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
from helpers import raw_sql, subscriber
from pgserver import as_server_user
from test_daemon import spawn, wait_until  # noqa: F401 - spawn: a fixture
from test_workers import check_arrivals, ledger_is_done, newsroom, pg, run_ok  # noqa: F401 - pg: a fixture

JSON_SOURCE = "- name: j\n  type: rss\n  url: https://example.org/feed.json\n"


# --- a connection refused for a setting of the server's ------------------------------------------
# A role that may not log in (NOLOGIN), a database the role has no CONNECT privilege on, a server
# that asks for a password none was given for (no ~/.pgpass line, PGPASSFILE unset), or a URL
# asking for SSL (`sslmode=require`) of a server without it: `run` took each for a database out of
# reach and waited for it forever ("cannot start yet: ... trying again in 60 s"), and `send` said
# "Stopped: cannot connect", exit 1, for what no wait mends. Like a database or role that is not
# there, each is a setting to fix: exit 2 (RestartPreventExitStatus=2), saying what to change.


def _role(pg_server, name: str, *statements: str) -> str:
    with pg_server.admin() as conn:
        if not conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (name,)).fetchone():
            conn.execute(f"CREATE ROLE {name}")
        for statement in statements:
            conn.execute(statement)
    return name


def _ask_password_of(pg_server, role: str) -> None:
    """The server asks `role` (only) for a password over TCP from now on."""
    hba = pg_server.process.data / "pg_hba.conf"
    line = f"host all {role} 127.0.0.1/32 scram-sha-256\n"
    text = hba.read_text()
    if line not in text:
        hba.write_text(line + text)
        subprocess.run(
            as_server_user(
                [str(pg_server.process.bin / "pg_ctl"), "-D", str(pg_server.process.data), "reload"]
            ),
            check=True,
            capture_output=True,
        )


def _refusing_url(pg_server, case: str) -> tuple[str, list[str]]:
    """A URL the server refuses for `case`, and what the message must say."""
    base = pg_server.new_database()
    db = base.rpartition("/")[2]
    port, pid = pg_server.port, os.getpid()
    if case == "nologin":
        role = _role(pg_server, f"nologin_{pid}", f"ALTER ROLE nologin_{pid} NOLOGIN")
        return f"postgresql://{role}@127.0.0.1:{port}/{db}", [f"ALTER ROLE {role} LOGIN"]
    if case == "no connect privilege":
        role = _role(pg_server, f"noconnect_{pid}", f"ALTER ROLE noconnect_{pid} LOGIN")
        raw_sql(base, f"REVOKE CONNECT ON DATABASE {db} FROM PUBLIC")
        return f"postgresql://{role}@127.0.0.1:{port}/{db}", [f"GRANT CONNECT ON DATABASE {db} TO {role}"]
    if case == "no password given":
        role = _role(pg_server, f"pw_{pid}", f"ALTER ROLE pw_{pid} LOGIN PASSWORD 'secret'")
        _ask_password_of(pg_server, role)
        return f"postgresql://{role}@127.0.0.1:{port}/{db}", ["no password", "PGPASSWORD", ".pgpass"]
    if case == "a password file readable by others":
        role = _role(pg_server, f"pw_{pid}", f"ALTER ROLE pw_{pid} LOGIN PASSWORD 'secret'")
        _ask_password_of(pg_server, role)
        pgpass = Path(os.environ["PGPASSFILE"])
        pgpass.write_text(f"127.0.0.1:{port}:{db}:{role}:secret\n")
        pgpass.chmod(0o644)  # libpq ignores it (with a warning on stderr)
        return f"postgresql://{role}@127.0.0.1:{port}/{db}", ["no password", f"chmod 600 {pgpass}"]
    assert case == "ssl required"
    return f"{base}?sslmode=require", ["does not support SSL", "sslmode=prefer"]


@pytest.mark.parametrize(
    "case",
    [
        "nologin",
        "no connect privilege",
        "no password given",
        "a password file readable by others",
        "ssl required",
    ],
)
def test_a_connection_refused_for_a_setting_stops_the_worker_with_what_to_change(
    workdir,
    pg_server,
    spawn,  # noqa: F811
    monkeypatch,
    case,
):
    monkeypatch.delenv("PGPASSWORD", raising=False)
    monkeypatch.setenv("PGPASSFILE", str(workdir.path / "pgpass"))
    workdir.write_config(JSON_SOURCE, subscriber("alice", "narwhal"))
    workdir.db_target, told = _refusing_url(pg_server, case)

    worker = spawn("run")
    rc = worker.finish(20)
    send = spawn("send")
    send_rc = send.finish(20)

    assert rc == 2 and send_rc == 2, worker.output + send.output
    for words in told:
        assert words in worker.output and words in send.output, worker.output
    assert "cannot start yet" not in worker.output and "Traceback" not in worker.output + send.output


# --- a schema other than public -------------------------------------------------------------
# A URL that puts digestbot's tables in a schema of their own (`?options=-csearch_path=digestbot`)
# before the schema was made failed every command with "refused a statement: no schema has been
# selected to create in"; and a role that may not create tables in such a schema was told to
# `GRANT CREATE ON SCHEMA public`, which is not the schema it uses. Both now name the schema.


def test_a_search_path_naming_a_schema_not_made_yet_says_to_create_it(workdir, pg_server, spawn):  # noqa: F811
    workdir.write_config(JSON_SOURCE, subscriber("alice", "narwhal"))
    workdir.db_target = pg_server.new_database() + "?options=-csearch_path%3Ddigests"

    out = spawn("send").finish(20), spawn("run")
    worker = out[1]
    rc = worker.finish(20)

    assert out[0] == 2 and rc == 2, worker.output
    assert "CREATE SCHEMA digests AUTHORIZATION digestbot" in worker.output, worker.output
    assert "no schema has been selected" not in worker.output and "Traceback" not in worker.output


@pytest.mark.parametrize(("granted", "told"), [("", "USAGE, CREATE"), ("USAGE", "CREATE")])
def test_a_role_that_may_not_create_tables_in_its_own_schema_is_told_what_to_grant_on_it(
    workdir,
    pg_server,
    spawn,  # noqa: F811
    granted,
    told,
):
    role = _role(pg_server, f"schemaless_{os.getpid()}", f"ALTER ROLE schemaless_{os.getpid()} LOGIN")
    base = pg_server.new_database()
    raw_sql(
        base, "CREATE SCHEMA digests", *([f"GRANT {granted} ON SCHEMA digests TO {role}"] if granted else [])
    )
    workdir.write_config(JSON_SOURCE, subscriber("alice", "narwhal"))
    workdir.db_target = base.replace("digestbot@", f"{role}@") + "?options=-csearch_path%3Ddigests"

    worker = spawn("run")
    rc = worker.finish(20)

    assert rc == 2, worker.output
    assert f"GRANT {told} ON SCHEMA digests TO {role}" in worker.output, worker.output
    assert "SCHEMA public" not in worker.output and "Traceback" not in worker.output


# --- a worker whose clock is off -------------------------------------------------------------
# Claims were kept on each worker's own clock: a worker whose clock was minutes behind the others'
# wrote claims that had run out already by theirs, so another worker took its subscribers while it
# was sending to them, and sent again the digest it had in flight (and it logged that its claims
# "ran out" at every digest). Claims, leases and shared rates are now kept on the database
# server's clock, which every worker reads.

BEHIND = """
from datetime import timedelta
import digestbot.store as _s, digestbot.store.base as _b
_real = _b.now_utc
_b.now_utc = _s.now_utc = lambda: _real() - timedelta(minutes=10)  # this machine's clock, 10 min slow
"""


def test_a_worker_whose_clock_is_minutes_behind_keeps_its_claims_and_nothing_goes_twice(
    pg,  # noqa: F811
    slow_smtp_server,
    spawn,  # noqa: F811
):
    import time

    wanted = newsroom(pg, 6)
    pg.use_smtp(slow_smtp_server.url)
    run_ok(spawn, "fetch")
    slow_smtp_server.handler.delay = 1.0
    slow = spawn("-v", "send", prelude=BEHIND)
    wait_until(lambda: len(slow_smtp_server.messages) >= 1, 20, "the slow-clocked worker sending")
    time.sleep(0.5)
    other = spawn("send")  # a worker on the right time, while the first one sends

    assert other.finish(60) == 0 and slow.finish(60) == 0, slow.output + other.output
    check_arrivals(slow_smtp_server, wanted)  # each digest once
    assert "ran out" not in slow.output, slow.output
    assert "clock is 10 min" in slow.output and "behind the database server" in slow.output, slow.output
    ledger_is_done(pg.db)


# --- status with several workers -------------------------------------------------------------
# A worker killed (kill -9) in the middle of a batch left its subscribers claimed until the lease
# ran out: their digests did not go out meanwhile, and `status` showed them as active and due,
# with no word of the claims or of the worker holding them. It now lists who holds what.


def test_status_names_the_worker_holding_claims_and_when_they_free_up(pg, slow_smtp_server, spawn):  # noqa: F811
    import signal

    newsroom(pg, 6)
    pg.use_smtp(slow_smtp_server.url)
    run_ok(spawn, "fetch")
    slow_smtp_server.handler.delay = 2.0
    worker = spawn("send")
    wait_until(lambda: len(slow_smtp_server.messages) >= 1, 20, "the worker sending")
    worker.signal(signal.SIGKILL)
    worker.finish(10)

    out = run_ok(spawn, "status").output

    assert f":{worker.pid}:" in out and "holds 6 subscriber(s)" in out, out
    assert "until" in out and "Traceback" not in out


# --- a password with a character URLs reserve -------------------------------------------------
# A password holding `@` written as it is (postgresql://digestbot:p@ss@host/db) was read by libpq
# up to its first `@`: "failed to resolve host 'ss@host'", and `run` waited for that host forever;
# one holding `#`, `?` or `/` was "the PostgreSQL URL's port is not a number". Each now says to
# percent-encode the character, without showing the password (as DIGESTBOT_SMTP_URL does).


@pytest.mark.parametrize("char", ["@", "#", "?", "/"])
def test_a_password_with_an_unencoded_special_character_is_refused_saying_to_encode_it(
    workdir,
    pg_server,
    spawn,  # noqa: F811
    char,
):
    password = f"Secret{char}Pass99"
    workdir.write_config(JSON_SOURCE, subscriber("alice", "narwhal"))
    workdir.db_target = pg_server.new_database().replace("digestbot@", f"digestbot:{password}@")

    for command in ("send", "run"):
        proc = spawn(command)
        assert proc.finish(20) == 2, proc.output
        assert "percent-encode" in proc.output and "%40" in proc.output, proc.output
        assert "Secret" not in proc.output and "cannot start yet" not in proc.output, proc.output


# --- a server that closes idle sessions -------------------------------------------------------
# A server (or role) with idle_session_timeout shorter than the minute between two dispatches
# closed the worker's connection each time it sat idle: every minute the log said "the connection
# to the database ... was lost; connecting again" and "connected ... again after 0.0 s", two
# warnings that read as a network fault, forever. A connection the server closed for idling is
# now opened again quietly; the log says so once, with the setting.


def test_a_server_closing_idle_connections_is_said_once_not_warned_of_at_each_dispatch(pg_server, caplog):
    import logging
    import time

    from digestbot.store import Store

    url = pg_server.new_database()
    raw_sql(url, f"ALTER DATABASE {url.rpartition('/')[2]} SET idle_session_timeout = '1s'")
    caplog.set_level(logging.INFO, logger="digestbot")
    with Store(url) as store:
        for _ in range(3):
            time.sleep(1.6)  # idle past the server's timeout, as between two dispatches
            assert store.sources() == []

    warned = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    told = [r.getMessage() for r in caplog.records if "idle_session_timeout" in r.getMessage()]
    assert warned == [] and len(told) == 1, caplog.text
