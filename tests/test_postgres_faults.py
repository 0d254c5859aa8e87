"""Faults of the PostgreSQL backend and of several workers on it, each on the real PostgreSQL the
test session starts: what a postgresql:// URL may say, and how the store reads it."""

from __future__ import annotations

import pytest
from conftest import free_port
from helpers import digestbot, raw_rows, subscriber

JSON_SOURCE = "- name: j\n  type: rss\n  url: https://example.org/feed.json\n"


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
    from digestbot.store import Store

    url = pg_server.new_database()
    monkeypatch.delenv("PGCONNECT_TIMEOUT", raising=False)
    with Store(url) as default, Store(f"{url}?connect_timeout=30") as given:
        used = [s.conn.info.get_parameters()["connect_timeout"] for s in (default, given)]
    monkeypatch.setenv("PGCONNECT_TIMEOUT", "25")
    with Store(url) as from_env:
        used.append(from_env.conn.info.get_parameters()["connect_timeout"])

    assert used == ["10", "30", "25"]
