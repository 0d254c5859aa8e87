"""PostgreSQL only: `digestbot migrate`, and what a database on the network adds (a server that
restarts or cannot be reached, a schema upgraded under a running worker). Several workers on one
database are in test_workers.py. Every test here runs on the real PostgreSQL the session starts."""

from __future__ import annotations

from conftest import free_port
from helpers import SOURCES, FeedPaper, digestbot, ledger, raw_sql, subscriber, write_feed

from digestbot.store import Store

NARWHAL = FeedPaper("2403.10001", "Narwhal tusks as antennas", "We study the narwhal and its tusk.")
QUOKKA = FeedPaper("2403.10002", "Quokka grins at scale", "A quokka study. Quokkas smile at scale.")
OKAPI = FeedPaper("2403.10003", "Okapi stripes", "The okapi and its stripes, by narwhal standards.")


def sqlite_with_a_ledger(workdir) -> None:
    """A SQLite database in the workdir with papers, two subscribers and their sent digests."""
    write_feed(workdir.path / "feed.xml", [NARWHAL, QUOKKA])
    workdir.write_config(SOURCES, subscriber("alice", "narwhal") + subscriber("bob", "quokka", "narwhal"))
    digestbot(workdir, "run", "--once")


def test_migrate_copies_everything_checks_it_and_is_safe_to_rerun(workdir, pg_server):
    sqlite_with_a_ledger(workdir)
    url = pg_server.new_database()

    first = digestbot(workdir, "migrate", "--to", url).output
    again = digestbot(workdir, "migrate", "--to", url).output

    assert "papers: 2 row(s)" in first and "digests: 2 row(s)" in first
    assert "Checked: the same rows in all 8 tables, and the same ledger (2 digests, 3 papers" in first
    assert again == first  # a rerun refreshes, never doubles
    copied = {(d.subscriber_id, d.status, d.message_id) for d in ledger(url)}
    assert copied == {(d.subscriber_id, d.status, d.message_id) for d in ledger(workdir.db)}
    # The copy carries the ledger on: a new paper goes out once, the old ones never again.
    write_feed(workdir.path / "feed.xml", [NARWHAL, QUOKKA, OKAPI])
    workdir.monkeypatch.setenv("DIGESTBOT_DB", url)
    from click.testing import CliRunner

    from digestbot.cli import cli

    fetched = CliRunner().invoke(cli, ["--config", str(workdir.config), "fetch"])
    assert fetched.exit_code == 0, fetched.output
    result = CliRunner().invoke(cli, ["--config", str(workdir.config), "send", "--force"])
    assert result.exit_code == 0, result.output
    assert "alice: sent 1 paper(s)" in result.output and "bob: sent 1 paper(s)" in result.output
    with Store(url) as store:
        assert store.count_papers() == 3
        ids = [store._exec("SELECT MAX(id) FROM digests").fetchone()[0]]
        assert ids == [4]  # the identity sequence follows the copied ids


def test_migrate_refuses_a_target_already_in_use_and_changes_nothing(workdir, pg_server):
    sqlite_with_a_ledger(workdir)
    url = pg_server.new_database()
    digestbot(workdir, "migrate", "--to", url)
    raw_sql(
        url,
        "INSERT INTO digests (id, subscriber_id, status, created_at, message_id, seq_to, n_papers, n_matched)"
        " VALUES (99, 'alice', 'sent', '2024-01-01T00:00:00.000000Z', '<elsewhere@x>', 1, 1, 1)",
    )

    result = digestbot(workdir, "migrate", "--to", url, expect=2)

    assert "already holds 1 digest(s)" in result.output and "Traceback" not in result.output
    assert len(ledger(url)) == 3


def test_migrate_says_clearly_what_is_wrong(workdir, pg_server):
    sqlite_with_a_ledger(workdir)
    not_pg = digestbot(workdir, "migrate", "--to", "other.db", expect=2).output
    refused = digestbot(
        workdir, "migrate", "--to", f"postgresql://x@127.0.0.1:{free_port()}/db", expect=1
    ).output
    help_text = digestbot(workdir, "migrate", "--help").output

    assert "--to must be a postgresql:// URL" in not_pg
    assert "cannot connect to the database" in refused and "Traceback" not in refused
    assert "Safe to rerun" in help_text


def test_a_password_in_the_url_never_shows(workdir, pg_server):
    sqlite_with_a_ledger(workdir)
    url = pg_server.new_database().replace("digestbot@", "digestbot:s3cret@")  # trust auth ignores it

    out = digestbot(workdir, "migrate", "--to", url).output

    assert "s3cret" not in out and "digestbot:***@" in out
