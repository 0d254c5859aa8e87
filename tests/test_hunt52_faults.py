"""Faults found by hunt 52 (upgrades, moving data, data safety), each reproduced against real
parts: a SQLite file of another application, `check` before a restart."""

from __future__ import annotations

import sqlite3

import pytest
from helpers import SOURCES, digestbot, raw_sql, subscriber, write_feed
from test_guarantees import NARWHAL
from test_ledger_faults import damage

from digestbot.store import SCHEMA_VERSION

JSON_SOURCE = "- name: j\n  type: rss\n  url: https://example.org/feed.json\n"


def _sqlite_tables(db) -> set[str]:
    with sqlite3.connect(db) as conn:
        return {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}


def _sqlite_columns(db, table: str) -> list[str]:
    with sqlite3.connect(db) as conn:
        return [r[1] for r in conn.execute(f"PRAGMA table_info({table})")]


def _user_version(db) -> int:
    with sqlite3.connect(db) as conn:
        return conn.execute("PRAGMA user_version").fetchone()[0]


# --- another application's SQLite file, marked with its own user_version -----------------------
# Many applications number their schema in SQLite's user_version, as digestbot does. A --db that
# named such a file (a typo, the wrong file of the same folder) was taken for an older digestbot's
# database: even `status` wrote digestbot's tables into it, added eleven columns to its own
# `subscribers` table and set its user_version to digestbot's; at digestbot's own number, every
# command died with a traceback ("no such table: sources"). And a file refused as another
# application's (one without a user_version) was turned into WAL mode before it was refused.


NOTES = "CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT)"
NEWSLETTER = "CREATE TABLE subscribers (id TEXT PRIMARY KEY, email TEXT)"  # a newsletter tool's


@pytest.mark.sqlite_only  # SQLite's user_version: PostgreSQL's is a table of digestbot's own name
@pytest.mark.parametrize(
    ("tables", "version"),
    [
        pytest.param((NOTES,), 3, id="own-tables-older"),
        pytest.param((NOTES,), 12, id="own-tables-current"),
        pytest.param((NEWSLETTER,), 0, id="a-table-of-the-same-name-unnumbered"),
        pytest.param((NEWSLETTER,), 3, id="a-table-of-the-same-name-older"),
        pytest.param((NEWSLETTER,), 12, id="a-table-of-the-same-name-current"),
    ],
)
@pytest.mark.parametrize("command", ["status", "send"])
def test_another_applications_file_with_a_user_version_is_left_untouched(workdir, tables, version, command):
    other = workdir.path / "notes.db"
    raw_sql(other, *tables, f"PRAGMA user_version = {version}")
    before = other.read_bytes()
    workdir.write_config(JSON_SOURCE, subscriber("alice", "narwhal"))

    out = digestbot(workdir, "--db", str(other), command, expect=2).output

    assert f"{other} is not a digestbot database" in out, out
    assert "Traceback" not in out
    assert _user_version(other) == version and other.read_bytes() == before  # its journal mode too


# --- `check` before a restart -------------------------------------------------------------------
# `digestbot check` said `OK` for a database every other command refuses with exit 2 (one made by
# a newer digestbot, after a downgrade; a damaged file; another application's): the README has
# operators run it before a restart, and the restarted worker then stopped at once.


def _damaged(workdir) -> None:
    damage(workdir.db, "papers")


def _newer(workdir) -> None:
    raw_sql(workdir.db, f"PRAGMA user_version = {SCHEMA_VERSION + 1}")


def _not_sqlite(workdir) -> None:
    workdir.db.write_bytes(b"this is not a database at all" * 100)


def _foreign(workdir) -> None:
    workdir.db.unlink()
    raw_sql(workdir.db, "CREATE TABLE subscribers (id TEXT PRIMARY KEY, email TEXT)")


@pytest.mark.sqlite_only  # the SQLite file itself
@pytest.mark.parametrize(
    ("spoil", "said"),
    [
        (_damaged, "is corrupt (database disk image is malformed): restore a backup"),
        (_newer, f"was made by a newer digestbot (schema {SCHEMA_VERSION + 1}; this one knows up to"),
        (_not_sqlite, "is not a digestbot database (not SQLite, or corrupt)"),
        (_foreign, "is not a digestbot database: it has a table subscribers without the column origin"),
    ],
    ids=["damaged", "newer", "not-sqlite", "another-applications"],
)
def test_check_refuses_a_database_the_other_commands_refuse_and_writes_nothing(workdir, spoil, said):
    write_feed(workdir.path / "feed.xml", [NARWHAL])
    workdir.write_config(SOURCES, subscriber("alice", "narwhal"))
    digestbot(workdir, "fetch")
    spoil(workdir)
    before = workdir.db.read_bytes()

    sent = digestbot(workdir, "send", expect=2).output
    checked = digestbot(workdir, "check", expect=2).output

    assert said in sent and said in checked, checked
    assert str(workdir.db) in checked and "OK" not in checked
    assert "Traceback" not in checked
    assert workdir.db.read_bytes() == before


@pytest.mark.sqlite_only
def test_check_leaves_an_older_database_to_the_upgrade_of_the_commands_that_use_it(workdir):
    write_feed(workdir.path / "feed.xml", [NARWHAL])
    workdir.write_config(SOURCES, subscriber("alice", "narwhal"))
    digestbot(workdir, "fetch")
    raw_sql(workdir.db, f"PRAGMA user_version = {SCHEMA_VERSION - 1}")
    before = workdir.db.read_bytes()

    assert "OK (1 source(s), 1 subscriber(s))" in digestbot(workdir, "check").output
    assert workdir.db.read_bytes() == before  # `check` upgrades nothing: `send` does, below
    digestbot(workdir, "send")
    assert _user_version(workdir.db) == SCHEMA_VERSION


def _schema(db) -> int:

    if str(db).startswith("postgresql"):
        import psycopg

        with psycopg.connect(str(db)) as conn:
            return conn.execute("SELECT MAX(version) FROM digestbot_schema").fetchone()[0]
    return _user_version(db)


def test_check_with_liked_papers_does_not_upgrade_an_older_database(workdir, backend):
    """`check` read the liked papers' state through the usual opening, which upgrades an older
    database: after `pip install -U`, a `check` before the restart upgraded it, and every older
    worker still running on it (on every machine, on PostgreSQL) stopped with exit 2, which
    systemd's RestartPreventExitStatus=2 leaves stopped."""
    write_feed(workdir.path / "feed.xml", [NARWHAL])
    liked = "- id: alice\n  email: alice@example.org\n  keywords: [narwhal]\n  like: [2403.00001]\n"
    workdir.write_config(SOURCES, liked)
    digestbot(workdir, "sync")  # (not fetch: that asks arXiv for the liked paper)
    older = SCHEMA_VERSION - 1
    if backend == "postgresql":
        raw_sql(workdir.db, f"UPDATE digestbot_schema SET version = {older}")
    else:
        raw_sql(workdir.db, f"PRAGMA user_version = {older}")

    assert "OK (1 source(s), 1 subscriber(s))" in digestbot(workdir, "check").output

    assert _schema(workdir.db) == older  # left to the first command that uses it
    digestbot(workdir, "sync")
    assert _schema(workdir.db) == SCHEMA_VERSION
    assert "liked paper(s) not in the database yet" in digestbot(workdir, "check").output  # read when current


# --- a path in the environment written with ~ ---------------------------------------------------
# `database: ~/digestbot.db` in the YAML is the home folder's file; the same in DIGESTBOT_DB (a
# systemd EnvironmentFile, a .env file, a Procfile's environment: none of them expands ~) made a
# folder named `~` in the working directory and a new, empty database in it, so the worker sent
# everyone a first digest again from a second ledger, beside the real one the shell's commands
# used; DIGESTBOT_OUTBOX=~/outbox likewise wrote the mail under `./~`.


def _service(workdir, home, *args: str, **env: str):
    """`python -m digestbot` as a service runs it: the environment as its file gives it."""
    import os
    import subprocess
    import sys

    return subprocess.run(
        [sys.executable, "-m", "digestbot", *args],
        capture_output=True,
        text=True,
        cwd=workdir.path,
        env={**os.environ, "HOME": str(home), "DIGESTBOT_CONFIG": str(workdir.config), **env},
        timeout=60,
    )


def test_a_database_and_outbox_in_the_environment_written_with_a_tilde_are_in_the_home_folder(
    workdir, tmp_path
):
    home = tmp_path / "home"
    home.mkdir()
    write_feed(workdir.path / "feed.xml", [NARWHAL])
    workdir.write_config(SOURCES, subscriber("alice", "narwhal"))

    done = _service(
        workdir, home, "run", "--once", DIGESTBOT_DB="~/digestbot.db", DIGESTBOT_OUTBOX="~/outbox"
    )

    assert done.returncode == 0, done.stderr
    assert not (workdir.path / "~").exists()
    assert (home / "digestbot.db").is_file()
    assert [p.suffix for p in (home / "outbox").iterdir()] == [".eml"]
    again = _service(workdir, home, "--db", "~/digestbot.db", "run", "--once", DIGESTBOT_OUTBOX="~/outbox")
    assert again.returncode == 0 and "feed: 0 new, 1 already known" in again.stdout, again.stdout
    assert len(list((home / "outbox").iterdir())) == 1  # the same ledger: nothing sent twice


@pytest.mark.parametrize("name", ["DIGESTBOT_DB", "DIGESTBOT_OUTBOX"])
def test_a_path_in_the_environment_naming_a_variable_is_refused_not_made(workdir, tmp_path, name):
    """An EnvironmentFile expands no variable either: `$HOME/digestbot.db` was a folder `$HOME`."""
    home = tmp_path / "home"
    home.mkdir()
    write_feed(workdir.path / "feed.xml", [NARWHAL])
    workdir.write_config(SOURCES, subscriber("alice", "narwhal"))

    done = _service(workdir, home, "run", "--once", **{name: "$HOME/digestbot-things"})

    assert done.returncode == 2, done.stderr
    assert name in done.stderr and "environment variables such as $HOME are not expanded" in done.stderr
    assert "Traceback" not in done.stderr
    assert not (workdir.path / "$HOME").exists()


# --- status on a PostgreSQL database without digestbot's tables ----------------------------------
# `status` on a SQLite file that is not there creates nothing ("No database at PATH yet"); on a
# PostgreSQL database without digestbot's tables (the URL of another database: `postgres`, one
# made for something else) it created all of digestbot's tables there and showed them empty.


def test_status_on_a_postgresql_database_without_digestbots_tables_creates_nothing(workdir, pg_server):
    import os

    import psycopg

    pg_server.count += 1
    name = f"other_{os.getpid()}_{pg_server.count}"
    with pg_server.admin() as conn:
        conn.execute(f"CREATE DATABASE {name}")
    url = pg_server.url(name)
    write_feed(workdir.path / "feed.xml", [NARWHAL])
    workdir.write_config(SOURCES, subscriber("alice", "narwhal"))

    out = digestbot(workdir, "--db", url, "status").output

    assert f"No database at {url} yet" in out, out
    with psycopg.connect(url) as conn:
        assert conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'").fetchall() == []
