"""The ledger's promises (never the same paper twice, nothing lost) under crashes and resource
failures, as a real process, disk and database show them: `kill -9` of a real `digestbot`
process at chosen points (inside the fetch's commit, after the relay accepted a message and
before the ledger recorded it, between the parts of a Slack digest, while an outbox file is
written), a database file damaged in its middle, and outbox names already taken.

The kills are exact: a few lines run in the child before digestbot starts (`prelude`) make it
SIGKILL itself at that point, with no cleanup, as the kernel would. Every test checks what
arrived (the SMTP sink and its Message-IDs, the outbox files, the Slack stand-in's posts, the
ledger rows), not what was called.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sqlite3
import subprocess
import sys

import pytest
from helpers import FeedPaper, digestbot, ledger, subscriber, write_feed
from test_daemon import spawn  # noqa: F401 - a fixture

NARWHAL = FeedPaper(
    "2403.10001",
    "Narwhal navigation with sparse rewards",
    "We study narwhal navigation. Narwhals steer with sparse rewards in icy water.",
)
FEED = """
- name: feed
  type: arxiv_rss
  url: feed.xml
"""


def cli(workdir, *args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    """`python -m digestbot` as a user types it, on the workdir's config and database."""
    return subprocess.run(
        [sys.executable, "-m", "digestbot", "--config", str(workdir.config), "--db", str(workdir.db), *args],
        capture_output=True,
        text=True,
        cwd=workdir.path,
        env={**os.environ, **(env or {})},
        timeout=60,
    )


# --- a database file damaged in its middle ----------------------------------------------------


def damage(db, table: str = "papers") -> None:
    """Overwrite the root page of one table of a SQLite file with garbage: the header and the
    schema still read (it opens), that table does not (a bad sector, a torn copy)."""
    with contextlib.closing(sqlite3.connect(db)) as conn:
        page = conn.execute("PRAGMA page_size").fetchone()[0]
        root = conn.execute("SELECT rootpage FROM sqlite_master WHERE name = ?", (table,)).fetchone()[0]
    with open(db, "r+b") as f:
        f.seek((root - 1) * page)
        f.write(b"\xa5" * page)


@pytest.mark.parametrize(
    ("command", "table"),
    [(["send"], "papers"), (["run", "--once"], "papers"), (["fetch"], "papers"), (["status"], "subscribers")],
)
def test_a_database_damaged_in_its_middle_gets_one_line_naming_it_not_a_traceback(workdir, command, table):
    write_feed(workdir.path / "feed.xml", [NARWHAL])
    workdir.write_config(FEED, subscriber("alice", "narwhal"))
    digestbot(workdir, "fetch")
    damage(workdir.db, table)

    proc = cli(workdir, *command)

    assert "Traceback" not in proc.stderr, proc.stderr
    assert proc.returncode == 2, proc.stderr
    assert str(workdir.db) in proc.stderr and "corrupt" in proc.stderr
    assert "restore a backup" in proc.stderr
    assert not list(workdir.outbox.glob("*")) if workdir.outbox.exists() else True


def test_a_worker_whose_database_turns_out_damaged_stops_with_exit_2_saying_so(workdir, spawn):  # noqa: F811
    write_feed(workdir.path / "feed.xml", [NARWHAL])
    workdir.write_config(FEED, subscriber("alice", "narwhal"))
    digestbot(workdir, "fetch")
    damage(workdir.db)

    worker = spawn("run")

    assert worker.finish(30) == 2, worker.output
    assert "Traceback" not in worker.output
    assert "corrupt" in worker.output and "restore a backup" in worker.output
    assert "this worker stops" in worker.output
