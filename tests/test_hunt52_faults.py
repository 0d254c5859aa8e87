"""Faults found by hunt 52 (upgrades, moving data, data safety), each reproduced against real
parts: a SQLite file of another application, `check` before a restart."""

from __future__ import annotations

import sqlite3

import pytest
from helpers import digestbot, raw_sql, subscriber

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
