"""Faults of the storage layer, each on both backends where it applies: text one database takes
and the other refuses, and what `digestbot migrate` makes of such a SQLite database."""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from helpers import digestbot, raw_rows, raw_sql, subscriber
from test_daemon import outbox_mails

from digestbot.models import Paper
from digestbot.store import SCHEMA_VERSION, Store

T0 = datetime(2024, 3, 14, 8, 0, tzinfo=UTC)
JSON_SOURCE = "- name: j\n  type: rss\n  url: https://example.org/feed.json\n"


@pytest.fixture
def store(db_target) -> Iterator[Store]:
    with Store(db_target) as s:
        yield s


# --- text no database can hold the same way -----------------------------------------------
# PostgreSQL's text refuses NUL; neither database (nor UTF-8) holds a lone surrogate, which
# JSON's "\ud800" escape makes. SQLite took the NUL, so the same fetch worked there and failed
# on PostgreSQL, and one such paper failed its whole fetch.

ODD = {"nul": "a\x00b", "surrogate": "a\ud800b"}


@pytest.mark.parametrize("odd", ODD.values(), ids=ODD.keys())
def test_a_paper_with_text_no_database_holds_is_stored_on_both(store, odd):
    papers = [
        Paper(key=f"key-{odd}", title=f"Title {odd}", abstract=f"Text {odd}", link=f"https://x.org/{odd}"),
        Paper(key="plain", title="A plain paper"),
    ]

    assert store.add_papers(papers, "feed", T0) == (2, 0)

    kept = store.paper(f"key-{odd}")  # found again under the key it came with
    assert kept is not None and kept.title == "Title a\ufffdb" and kept.link == "https://x.org/a\ufffdb"
    assert store.add_papers(papers, "feed", T0) == (0, 2)  # the same paper, not a new one
    assert store.paper("plain").title == "A plain paper"


def test_one_feed_item_with_a_nul_or_surrogate_fails_nothing(workdir, backend):
    items = [
        {
            "id": "good-1",
            "url": "https://example.org/good",
            "title": "Narwhal good",
            "content_text": "narwhal",
        },
        {
            "id": "nul\u0000id",
            "url": "https://example.org/a\u0000b",
            "title": "Narwhal NUL",
            "content_text": "x",
        },
        {
            "id": "sur\ud800id",
            "url": "https://example.org/\ud800",
            "title": "Narwhal odd",
            "content_text": "x",
        },
    ]
    feed = {"version": "https://jsonfeed.org/version/1.1", "title": "t", "items": items}
    (workdir.path / "feed.json").write_text(json.dumps(feed), encoding="utf-8")
    workdir.write_config("- name: j\n  type: rss\n  url: feed.json\n", subscriber("alice", "narwhal"))

    out = digestbot(workdir, "fetch").output
    again = digestbot(workdir, "fetch").output

    assert "3 new, 0 already known" in out and "0 new, 3 already known" in again
    sent = digestbot(workdir, "send").output
    assert "alice: sent 3 paper(s)" in sent


def test_migrate_copies_a_sqlite_database_holding_nul_characters(workdir, pg_server):
    (workdir.path / "feed.json").write_text('{"version": "https://jsonfeed.org/version/1", "items": []}')
    workdir.write_config("- name: j\n  type: rss\n  url: feed.json\n", subscriber("alice", "narwhal"))
    digestbot(workdir, "sync")
    # What an older digestbot stored on SQLite, which takes NUL: a paper and a mail server's answer.
    raw_sql(
        workdir.db,
        "INSERT INTO papers (key, title, first_seen, updated, rev) VALUES"
        " ('k' || char(0), 'Narwhal' || char(0) || 'tusks', '2024-03-14T08:00:00.000000Z',"
        " '2024-03-14T08:00:00.000000Z', 1)",
        "INSERT INTO digests (subscriber_id, status, created_at, message_id, seq_to, n_papers, n_matched,"
        " last_error) VALUES ('alice', 'failed', '2024-03-14T08:00:00.000000Z', '<m' || char(0) || '@x>', 1, 1,"
        " 1, '550 no' || char(0))",
        "INSERT INTO digest_items (digest_id, subscriber_id, paper_seq, rank, score) VALUES (1, 'alice', 1, 1, 1)",
    )
    url = pg_server.new_database()

    first = digestbot(workdir, "migrate", "--to", url).output
    again = digestbot(workdir, "migrate", "--to", url).output

    assert "Checked: the same rows in all 8 tables" in first and again == first
    (row,) = raw_rows(url, "SELECT key, title FROM papers")
    assert row == {"key": "k\ufffd", "title": "Narwhal\ufffdtusks"}


# --- one inbox, one address, whatever the database's locale --------------------------------
# Addresses were compared with SQL's lower(): SQLite's (replaced by Python's str.lower) and
# PostgreSQL's, which folds by the database's LC_CTYPE: ASCII only under the C locale many
# servers use, and otherwise not as Python does (Turkish İ, Greek final sigma).

SAME_INBOX = [
    ("Ülla@München.de", "ülla@münchen.de", True),
    ("e\u0301mile@example.org", "\u00e9mile@example.org", True),  # é decomposed, composed
    ("ΟΔΟΣ@example.gr", "οδος@example.gr", True),
    ("İlker@example.org", "ilker@example.org", False),  # dotted capital I is not the dotless one
    ("strasse@example.org", "straße@example.org", False),
    # A domain in its two spellings (the web form keeps letters; a YAML may write IDNA):
    ("ada@müller.example", "ada@xn--mller-kva.example", True),
    ("ada@XN--STRAE-OQA.example", "ada@Straße.example", True),  # IDNA 2008's ß
    ("ada@strasse.example", "ada@straße.example", False),
]


def web_then_yaml(store: Store, web_address: str, yaml_address: str) -> dict:
    from digestbot.models import Profile, Subscriber

    profile = Profile(keywords=("narwhal",))
    store.save_web_subscriber(Subscriber(id="web-1", profile=profile, email=web_address, origin="web"), T0)
    return store.sync_subscribers([Subscriber(id="yaml-1", profile=profile, email=yaml_address)], T0)


@pytest.mark.parametrize(("web", "yaml", "same"), SAME_INBOX, ids=[a for a, _, _ in SAME_INBOX])
def test_an_address_is_one_inbox_alike_on_both_backends(store, web, yaml, same):
    counts = web_then_yaml(store, web, yaml)

    assert counts.get("handed over", 0) == int(same)  # the web digest makes way for the YAML one
    assert store.yaml_has_address(web) is same
    assert (store.find_by_email(web).subscriber.id == "yaml-1") is same


@pytest.mark.parametrize("ctype", ["C", "C.UTF-8"])
def test_an_address_is_one_inbox_whatever_the_postgresql_locale(pg_server, ctype):
    name = f"ctype_{ctype.replace('.', '_').replace('-', '_').lower()}_{pg_server.count}"
    pg_server.count += 1
    with pg_server.admin() as conn:
        conn.execute(f"CREATE DATABASE {name} TEMPLATE template0 LC_CTYPE '{ctype}' LC_COLLATE '{ctype}'")
    with Store(pg_server.url(name)) as store:
        counts = web_then_yaml(store, "Ülla@München.de", "ülla@münchen.de")

        assert counts.get("handed over") == 1
        assert not store.subscriber("web-1").subscriber.active


def test_an_older_database_gets_its_address_keys_on_upgrade(db_target, backend):
    with Store(db_target) as store:
        web_then_yaml(store, "web@example.org", "Ülla@München.de")
    before = SCHEMA_VERSION - 1  # the schema before subscribers.email_key
    version = (
        f"PRAGMA user_version = {before}"
        if backend == "sqlite"
        else f"UPDATE digestbot_schema SET version = {before}"
    )
    raw_sql(
        db_target,
        "DROP INDEX subscribers_email_key",
        "ALTER TABLE subscribers DROP COLUMN email_key",  # the table as that schema had it
        version,
    )

    with Store(db_target) as store:
        assert store.schema_version() == SCHEMA_VERSION
        assert store.find_by_email("ülla@münchen.de").subscriber.id == "yaml-1"
        assert store.sync_subscribers([store.subscriber("yaml-1").subscriber], T0)["unchanged"] == 1


# --- a password in a PostgreSQL URL never shows -----------------------------------------------
# libpq takes the password in the user info or as ?password=; only the first was masked, and
# libpq's own messages repeat what it could not read (a bad %-escape: the password itself).


def test_a_password_given_as_a_query_parameter_never_shows(workdir, pg_server):
    workdir.write_config(JSON_SOURCE, subscriber("alice", "narwhal"))
    url = pg_server.new_database() + "?password=s3cret&connect_timeout=5"  # trust auth ignores it

    out = digestbot(workdir, "--db", url, "status").output + digestbot(workdir, "--db", url, "sync").output
    down = url.replace(f":{pg_server.port}/", ":1/")
    refused = digestbot(workdir, "--db", down, "status", expect=1).output

    assert "s3cret" not in out + refused
    assert "?password=***&connect_timeout=5" in out and "cannot connect" in refused


def test_a_password_the_driver_repeats_in_its_message_never_shows(workdir, pg_server):
    workdir.write_config(JSON_SOURCE, subscriber("alice", "narwhal"))
    bad_escape = pg_server.url("x").replace("digestbot@", "digestbot:pa%zzword@")
    as_query = pg_server.url("x") + "?password=pa%zzword"

    out = digestbot(workdir, "--db", bad_escape, "status", expect=2).output
    out += digestbot(workdir, "--db", as_query, "status", expect=2).output

    assert "percent-encoded" in out and "Traceback" not in out
    assert "pa%zz" not in out and "zzword" not in out


def test_the_yaml_may_not_hold_a_password_as_a_query_parameter_either(workdir):
    workdir.write_config(
        JSON_SOURCE,
        subscriber("alice", "narwhal"),
        extra_yaml="database: postgresql://u@db.x/d?password=s3cret",
    )

    out = digestbot(workdir, "check", expect=2).output

    assert "a password does not belong in the YAML" in out and "s3cret" not in out


# --- migrate: all or nothing, checked before it commits, on a consistent copy of the source ----


P = "https://example.org/p"  # the feed's ids: URIs, so the papers' keys


def ledger_in_sqlite(workdir) -> None:
    """A SQLite database in the workdir with papers, a subscriber and their sent digest."""
    feed = {
        "version": "https://jsonfeed.org/version/1.1",
        "items": [
            {"id": f"{P}{n}", "url": f"https://example.org/{n}", "title": f"Narwhal {n}", "content_text": "x"}
            for n in (1, 2)
        ],
    }
    (workdir.path / "feed.json").write_text(json.dumps(feed), encoding="utf-8")
    workdir.write_config("- name: j\n  type: rss\n  url: feed.json\n", subscriber("alice", "narwhal"))
    digestbot(workdir, "run", "--once")


def test_migrate_into_a_database_already_fetched_into_refuses_and_writes_nothing(workdir, pg_server):
    from helpers import db_dump

    ledger_in_sqlite(workdir)
    url = pg_server.new_database()
    with Store(url) as target:  # `digestbot fetch` run against the new database before migrating
        target.add_papers([Paper(key=f"other-{n}", title=f"Other {n}") for n in range(3)], "j", T0)
    before = db_dump(url)

    out = digestbot(workdir, "migrate", "--to", url, expect=2).output

    assert "already holds 3 paper(s) that" in out and "Migrate into an empty database" in out
    assert db_dump(url) == before


def test_migrate_while_a_worker_writes_copies_one_moment_and_a_rerun_the_rest(workdir, pg_server):
    from digestbot.store.copy import copy_database

    ledger_in_sqlite(workdir)
    url = pg_server.new_database()

    def worker_meanwhile(table: str, done: int, total: int) -> None:
        if table == "digests" and done == total:  # a worker records a digest while the copy runs
            with Store(workdir.db) as worker:
                worker.add_papers([Paper(key="p3", title="Narwhal 3")], "j", T0)
                (seq,) = worker._exec("SELECT seq FROM papers WHERE key = 'p3'").fetchone()
                item = worker.digest_items(1)[0]
                item = type(item)(worker.paper("p3"), 1, (), ())
                worker.create_digest("alice", [item], 1, seq, T0, "<late@x>", "email", "alice@example.org")

    with Store(workdir.db) as source, Store(url) as target:
        first = copy_database(source, target, worker_meanwhile)
        assert (first.counts["digests"], first.counts["papers"]) == (1, 2)  # the moment it began
        again = copy_database(source, target)
    assert (again.counts["digests"], again.counts["digest_items"], again.counts["papers"]) == (2, 3, 3)


def test_a_rerun_takes_what_the_source_deleted_since(workdir, pg_server):
    from digestbot.models import Profile, Subscriber

    ledger_in_sqlite(workdir)
    url = pg_server.new_database()
    reader = Subscriber(id="web:bea", profile=Profile(keywords=("x",)), email="bea@example.org", origin="web")
    with Store(workdir.db) as source:
        source.set_feedback("alice", source.paper(f"{P}1").seq, 1, "email")
        source.save_signup("nonce-1", reader)
    digestbot(workdir, "migrate", "--to", url)
    with Store(workdir.db) as source:
        source.set_feedback("alice", source.paper(f"{P}1").seq, None, "email")  # the rating cleared
        source.save_signup("nonce-2", reader)  # a newer sign-up of the same address replaced the first

    out = digestbot(workdir, "migrate", "--to", url).output

    assert "feedback: 0 row(s)" in out and "Checked: the same rows in all 8 tables" in out
    assert [r["nonce"] for r in raw_rows(url, "SELECT nonce FROM web_signups")] == ["nonce-2"]


def test_a_copy_that_does_not_check_out_leaves_the_target_as_it_was(workdir, pg_server):
    from helpers import db_dump

    ledger_in_sqlite(workdir)
    # Two sources the target cannot tell apart (its text holds no NUL: both are "x\ufffd" there).
    raw_sql(
        workdir.db,
        "INSERT INTO sources (name) VALUES ('x' || char(0))",
        "INSERT INTO sources (name) VALUES ('x' || char(65533))",
    )
    url = pg_server.new_database()
    before = db_dump(url)

    out = digestbot(workdir, "migrate", "--to", url, expect=2).output

    assert "the copy differs: sources has 2 rows in the target, 3 in the source" in out
    assert db_dump(url) == before


# --- a database of another application is left alone ------------------------------------------


@pytest.fixture
def empty_db(backend, tmp_path, request) -> str:
    """A database of the test's backend with nothing in it (not digestbot's migrated template)."""
    if backend == "sqlite":
        return str(tmp_path / "other.db")
    pg = request.getfixturevalue("pg_server")
    pg.count += 1
    name = f"empty_{os.getpid()}_{pg.count}"
    with pg.admin() as conn:
        conn.execute(f"CREATE DATABASE {name}")
    return pg.url(name)


def test_another_applications_table_of_the_same_name_is_never_taken_for_ours(workdir, empty_db):
    raw_sql(
        empty_db,
        "CREATE TABLE subscribers (id TEXT PRIMARY KEY, email TEXT)",  # a newsletter tool's, say
        "INSERT INTO subscribers VALUES ('n1', 'reader@example.org')",
    )
    workdir.write_config(JSON_SOURCE, subscriber("alice", "narwhal"))

    out = digestbot(workdir, "--db", empty_db, "status", expect=2).output

    assert "is not a digestbot database: it has a table subscribers without the column origin" in out
    assert "Traceback" not in out
    assert raw_columns(empty_db, "subscribers") == ["id", "email"]  # none of digestbot's added to it
    assert raw_tables(empty_db) == {"subscribers"}  # and no table of digestbot's made beside it


FIRST_RELEASE = Path(__file__).parent / "fixtures" / "first_release.sql"


@pytest.mark.sqlite_only  # PostgreSQL came later: it never had a database without a version
def test_a_first_release_database_is_upgraded_and_keeps_its_ledger(workdir):
    """The first release's file (its schema verbatim, not derived from today's) opens, is
    upgraded, and still knows what it sent: the paper alice had is not sent again."""
    sqlite3.connect(workdir.db).executescript(FIRST_RELEASE.read_text())
    feed = {
        "version": "https://jsonfeed.org/version/1.1",
        "title": "t",
        "items": [
            {
                "id": f"https://arxiv.org/abs/{n}v2",
                "url": f"https://arxiv.org/abs/{n}v2",
                "title": t,
                "content_text": "narwhal",
            }
            for n, t in (("2403.00001", "Narwhal tusks as sensors"), ("2403.00002", "Narwhal songs"))
        ],
    }
    (workdir.path / "feed.json").write_text(json.dumps(feed), encoding="utf-8")
    workdir.write_config("- name: j\n  type: rss\n  url: feed.json\n", subscriber("alice", "narwhal"))

    assert "1 new, 1 already known" in digestbot(workdir, "fetch").output
    assert "alice: sent 1 paper(s)" in digestbot(workdir, "send", "--force").output
    (mail,) = outbox_mails(workdir.outbox)
    assert "Narwhal songs" in mail.text and "Narwhal tusks" not in mail.text

    with Store(workdir.db) as store:
        assert store.schema_version() == SCHEMA_VERSION
        sent = [d for d in store.digests() if d.status == "sent"]
    assert len(sent) == 2 and sent[0].message_id == "<first@digestbot>"
    assert "email_key" in raw_columns(workdir.db, "subscribers")


def raw_columns(db, table: str) -> list[str]:
    from digestbot.store import is_postgres

    if is_postgres(db):
        import psycopg

        with psycopg.connect(str(db)) as conn:
            return [d.name for d in conn.execute(f"SELECT * FROM {table} LIMIT 0").description]
    import sqlite3

    with sqlite3.connect(db) as conn:
        return [d[0] for d in conn.execute(f"SELECT * FROM {table} LIMIT 0").description]


def raw_tables(db) -> set[str]:
    from digestbot.store import is_postgres

    if is_postgres(db):
        import psycopg

        with psycopg.connect(str(db)) as conn:
            return {r[0] for r in conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")}
    import sqlite3

    with sqlite3.connect(db) as conn:
        return {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}


# --- very long text in an indexed column ---------------------------------------------------------
# PostgreSQL's indexes take at most about 2,700 bytes a row (SQLite's any length): a feed's guid
# of 9,000 characters failed the whole fetch there, and as "cannot write to the database", an
# outage, so the worker stopped sending until it was "back".

# (not repetitive: PostgreSQL compresses an index row that is)
LONG_KEY = "https://example.org/" + "/".join(hashlib.sha256(bytes([n])).hexdigest() for n in range(150))


def test_a_paper_with_a_very_long_key_is_stored_on_both(store):
    papers = [Paper(key=LONG_KEY, title="Long guid"), Paper(key="plain", title="A plain paper")]

    assert store.add_papers(papers, "feed", T0) == (2, 0)
    assert store.add_papers(papers, "feed", T0) == (0, 2)  # known again: the same paper
    assert store.paper(LONG_KEY).title == "Long guid"
    assert [p.title for p in store.papers_by_keys([LONG_KEY])] == ["Long guid"]


def test_a_statement_too_big_for_postgresql_is_refused_not_an_outage(pg_server):
    from digestbot.models import Profile, Subscriber
    from digestbot.store import StoreError, StoreWriteError

    with Store(pg_server.new_database()) as store:
        with pytest.raises(StoreError, match="refused a statement: index row") as refused:
            store.sync_subscribers([Subscriber(id=LONG_KEY, profile=Profile(keywords=("a",)))], T0)
        assert not isinstance(refused.value, StoreWriteError)


@pytest.mark.sqlite_only  # SQLite took keys of any length from older versions
def test_a_long_key_stored_before_is_known_again_after_the_upgrade(db_target):
    with Store(db_target) as store:
        store.add_papers([Paper(key="plain", title="Plain")], "feed", T0)
    raw_sql(db_target, f"UPDATE papers SET key = '{LONG_KEY}'", f"PRAGMA user_version = {SCHEMA_VERSION - 1}")

    with Store(db_target) as store:
        assert store.add_papers([Paper(key=LONG_KEY, title="Plain")], "feed", T0) == (0, 1)
        assert store.count_papers() == 1


# --- text order: the same on both backends, whatever the database's collation --------------------
# SQLite orders text by code point; PostgreSQL by the database's collation, linguistic on most
# installations (en_US.UTF-8, ICU): "alice" before "Bob" there, after it here. Lists came out in
# another order, and a tie broken by id picked another subscriber.


@pytest.fixture(params=["sqlite", "postgresql-icu"])
def any_collation(request, tmp_path) -> Iterator[Store]:
    if request.param == "sqlite":
        target = str(tmp_path / "db.sqlite")
    else:
        pg = request.getfixturevalue("pg_server")
        pg.count += 1
        name = f"icu_{os.getpid()}_{pg.count}"
        with pg.admin() as conn:
            conn.execute(
                f"CREATE DATABASE {name} TEMPLATE template0 LOCALE_PROVIDER icu ICU_LOCALE 'en-US' LOCALE 'C.UTF-8'"
            )
        target = pg.url(name)
    with Store(target) as store:
        yield store


IDS = ["alice", "Bob", "a-c", "ab", "Zoe", "émile"]


def test_lists_come_in_code_point_order_on_both(any_collation):
    from digestbot.models import Profile, Subscriber

    store = any_collation
    store.sync_subscribers(
        [Subscriber(id=i, profile=Profile(keywords=("x",)), email=f"{i}@x.org") for i in IDS], T0
    )
    for name in IDS:
        store.record_fetch_error(name, "rss", "https://example.org/feed", T0, "down")

    assert [s.subscriber.id for s in store.subscribers()] == sorted(IDS)
    assert [s["name"] for s in store.sources()] == sorted(IDS)


def test_a_tie_between_subscribers_is_broken_alike_on_both(any_collation):
    from digestbot.models import Profile, Subscriber

    store = any_collation
    profile = Profile(keywords=("x",))
    store.sync_subscribers(
        [Subscriber(id=i, profile=profile, email="shared@x.org", slack="#ml") for i in ("alice", "Bob")], T0
    )

    assert store.find_by_email("shared@x.org").subscriber.id == "Bob"  # "B" (66) before "a" (97)
    assert store.find_by_slack(["#ml"]).subscriber.id == "Bob"


def test_a_snapshot_reads_one_moment_while_another_connection_writes(db_target):
    with Store(db_target) as reader, Store(db_target) as writer:
        reader.add_papers([Paper(key="p1", title="One")], "feed", T0)
        with reader.snapshot():
            assert reader.count_papers() == 1
            writer.add_papers([Paper(key="p2", title="Two")], "feed", T0)  # not held up by the reader
            assert reader.count_papers() == 1
        assert reader.count_papers() == 2


def test_the_upgrade_rekeys_the_same_papers_on_both(db_target, backend):
    """SQLite's LIKE ignores ASCII case, PostgreSQL's does not: `key NOT LIKE 'arxiv:%'` left a
    paper stored as "arXiv:2403.10001" alone on SQLite, so its next report was a new paper."""
    with Store(db_target) as store:
        store.add_papers([Paper(key="plain", title="Narwhal")], "feed", T0)
    version = "PRAGMA user_version = 6" if backend == "sqlite" else "UPDATE digestbot_schema SET version = 6"
    raw_sql(db_target, "UPDATE papers SET key = 'arXiv:2403.10001'", version)

    with Store(db_target) as store:
        assert store.add_papers([Paper(key="arxiv:2403.10001", title="Narwhal")], "feed", T0) == (0, 1)


# --- what a --db value names: one rule, everywhere ------------------------------------------------
# The check read the scheme as urlsplit does (any case), the store's dispatch only as lower case:
# `PostgreSQL://...` passed the check and was opened as a SQLite file in a new folder
# `PostgreSQL:/`, as was `postgresql:/host/db` (one slash). Workers on several machines given
# such a URL each had a database of their own: every digest sent once per machine.


def test_a_postgresql_url_in_capitals_is_postgresql(workdir, pg_server):
    workdir.write_config(JSON_SOURCE, subscriber("alice", "narwhal"))
    url = pg_server.new_database()
    workdir.monkeypatch.setenv("DIGESTBOT_DB", url.replace("postgresql://", "PostgreSQL://"))
    from click.testing import CliRunner

    from digestbot.cli import cli

    result = CliRunner().invoke(cli, ["--config", str(workdir.config), "sync"])

    assert result.exit_code == 0, result.output
    assert [r["id"] for r in raw_rows(url, "SELECT id FROM subscribers")] == ["alice"]
    assert list(workdir.path.iterdir()) == [workdir.config]  # no SQLite file, no folder made


@pytest.mark.parametrize("given", ["postgresql:/digestbot@127.0.0.1/x", "Postgres:/db.example.org/x"])
def test_a_postgresql_url_with_one_slash_is_an_error_not_a_file(workdir, given):
    workdir.write_config(JSON_SOURCE, subscriber("alice", "narwhal"))

    out = digestbot(workdir, "--db", given, "sync", expect=2).output

    assert "postgresql://" in out and "two slashes" in out
    assert list(workdir.path.iterdir()) == [workdir.config]


def test_a_rerun_after_workers_ran_on_the_target_is_refused_and_undoes_nothing(workdir, pg_server):
    from helpers import db_dump

    ledger_in_sqlite(workdir)
    url = pg_server.new_database()
    digestbot(workdir, "migrate", "--to", url)
    with Store(url) as target:  # switched over: a worker on PostgreSQL moved a watermark on
        target.advance("alice", target.max_rev() + 5, datetime.now(UTC))
    before = db_dump(url)

    out = digestbot(workdir, "migrate", "--to", url, expect=2).output

    assert "changed since the last migrate" in out and "Traceback" not in out
    assert db_dump(url) == before  # the worker's progress is not undone


# --- a PostgreSQL database that does not speak UTF-8 ----------------------------------------------
# A cluster made under LANG=C (a Docker image, say) has SQL_ASCII databases: psycopg then hands
# text back as bytes, so every paper was "unreadable" and skipped, and digests came out empty.
# LATIN1 cannot hold a Greek title: the fetch failed with a UnicodeEncodeError.


@pytest.mark.parametrize("encoding", ["SQL_ASCII", "LATIN1"])
def test_a_database_not_in_utf8_is_refused_on_open_untouched(pg_server, encoding):
    from digestbot.store import StoreError

    pg_server.count += 1
    name = f"enc_{encoding.lower()}_{os.getpid()}_{pg_server.count}"
    with pg_server.admin() as conn:
        conn.execute(
            f"CREATE DATABASE {name} TEMPLATE template0 ENCODING '{encoding}' LC_COLLATE 'C' LC_CTYPE 'C'"
        )

    with pytest.raises(StoreError, match=f"encoding {encoding}.*ENCODING 'UTF8'"):
        Store(pg_server.url(name))
    assert raw_tables(pg_server.url(name)) == set()


def test_the_client_encoding_of_the_environment_does_not_matter(pg_server, monkeypatch):
    monkeypatch.setenv("PGCLIENTENCODING", "LATIN1")  # libpq reads it; the text is Unicode all the same
    with Store(pg_server.new_database()) as store:
        store.add_papers([Paper(key="k1", title="Ελληνικά — 中文")], "feed", T0)
        assert store.paper("k1").title == "Ελληνικά — 中文"


def test_a_subscriber_made_on_the_target_is_never_deleted_by_the_copy(workdir, pg_server):
    from digestbot.models import Profile, Subscriber

    ledger_in_sqlite(workdir)
    url = pg_server.new_database()
    with Store(url) as target:  # the web app already runs on PostgreSQL: a reader signs up there
        reader = Subscriber(id="web:bea", profile=Profile(keywords=("x",)), email="bea@x.org", origin="web")
        target.save_web_subscriber(reader, T0)

    out = digestbot(workdir, "migrate", "--to", url, expect=2).output

    assert "already holds 1 subscriber(s) that" in out
    assert [r["id"] for r in raw_rows(url, "SELECT id FROM subscribers")] == ["web:bea"]  # nothing copied


def test_a_former_key_too_long_for_postgresqls_index_is_not_kept_as_an_alias(tmp_path):
    """SQLite held keys of any length before keys were bounded; the upgrade re-keys them, and
    keeps as a former key (for links sent before) only what PostgreSQL can index, so that a
    migrate of the upgraded file cannot fail on it."""
    db = tmp_path / "old.db"
    huge, fair = "tag:blog.example,2024:" + "x" * 9000, "tag:blog.example,2024:" + "y" * 900
    with Store(db) as store:
        store.add_papers([Paper(key="a", title="A"), Paper(key="b", title="B")], "feed", T0)
    raw_sql(
        db,
        f"UPDATE papers SET key = '{huge}' WHERE key = 'a'",
        f"UPDATE papers SET key = '{fair}' WHERE key = 'b'",
        f"PRAGMA user_version = {SCHEMA_VERSION - 2}",
    )
    with Store(db) as store:
        former = {old for (old,) in store._exec("SELECT old FROM paper_keys")}
        assert store.paper(fair) is not None
        assert store.count_papers() == 2
    assert former == {fair}


# --- a clock set back, and the send rates shared in the database --------------------------------
# A message's slot of a shared rate (DIGESTBOT_SMTP_RATE, Slack's per channel) is the later of the
# last slot and now, plus the interval. With the clock set back (NTP stepping a clock that ran
# fast, an operator), the last slot stayed at the old time: every message waited until the clock
# came round to it again, an hour set back, an hour of nothing sent, and each one pushed it on.


def test_a_clock_set_back_does_not_leave_the_shared_rates_waiting_for_the_old_time(store):
    from digestbot.rates import SharedRates

    clock, waits = [1_800_000_000.0], []
    rates = SharedRates(store, clock=lambda: clock[0], sleep=waits.append)
    for _ in range(3):
        rates.wait("smtp", 2)  # one at once, then half a second apart
    clock[0] -= 3600  # the clock is set back an hour
    for _ in range(3):
        rates.wait("smtp", 2)
    SharedRates(store, clock=lambda: clock[0] - 1, sleep=waits.append).wait(
        "smtp", 2
    )  # a clock a second behind

    assert waits == pytest.approx([0.5, 1.0, 0.5, 1.0, 2.5])  # which still keeps to the shared rate


# --- migrate needs the database, not the YAML -----------------------------------------------------
# migrate opened the SQLite file through the config, so a copy of digestbot.db taken to another
# machine (or a YAML in the middle of an edit) was refused as "subscriptions.yaml: not found",
# after it had printed "Copying ... into ...:" and made digestbot's tables in the target, then
# said "nothing was changed".


def test_migrate_copies_a_database_named_by_db_without_the_yaml(workdir, pg_server):
    ledger_in_sqlite(workdir)
    workdir.config.unlink()
    url = pg_server.new_database()

    out = digestbot(workdir, "migrate", "--to", url).output

    assert "Checked: the same rows" in out, out
    assert [r["id"] for r in raw_rows(url, "SELECT id FROM subscribers")] == ["alice"]
