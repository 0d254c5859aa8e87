"""The ledger's promises under the faults that once broke them (issue 9): unreadable rows, a paper
first seen with less metadata, a disk that fills up mid-send, concurrent /digest commands, waiting
digests of subscribers who left, databases that cannot be used, and the Slack/YAML id spaces.

Each test runs the real CLI, the real web app or the real store on real files, and checks what
arrived (in the SMTP server, the outbox, the database), not what was called.
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import test_slack
from conftest import RecordingHandler, serving
from helpers import (
    SOURCES,
    FeedPaper,
    db_dump,
    digestbot,
    ledger,
    not_due_soon,
    raw_rows,
    raw_sql,
    subscriber,
    write_feed,
)
from test_slack import USER, email_sub, setup, slack_sub

from digestbot import store as store_module
from digestbot.models import Paper, Profile, Subscriber
from digestbot.store import Store

# Every test here runs on SQLite and on PostgreSQL (conftest's `backend`), except those marked
# sqlite_only.
pytestmark = pytest.mark.usefixtures("backend")

start_web = test_slack.start_web  # the fixture: a real web app on loopback

NARWHAL = FeedPaper(
    "2403.10001",
    "Narwhal navigation with sparse rewards",
    "We study narwhal navigation. Narwhals steer with sparse rewards in icy water.",
)
QUOKKA = FeedPaper("2403.10002", "Quokka grins at scale", "A quokka study. Quokkas smile at scale.")


def outbox_mails(workdir) -> list[str]:
    return sorted(p.name for p in workdir.outbox.glob("*.eml")) if workdir.outbox.exists() else []


# --- 1. a row the store cannot read never stops a run ----------------------------------------


def test_a_paper_dated_before_the_year_1000_is_stored_and_read_back(workdir):
    write_feed(workdir.path / "feed.xml", [QUOKKA])
    workdir.write_config(SOURCES, subscriber("alice", "narwhal"))
    digestbot(workdir, "fetch")
    ancient = Paper(
        key="arxiv:2403.10001",
        arxiv_id="2403.10001",
        title=NARWHAL.title,
        abstract=NARWHAL.abstract,
        published=datetime(999, 12, 31, 23, 0, tzinfo=UTC),
    )
    with Store(workdir.db) as store:
        store.add_papers([ancient], "feed")
        assert store.paper("arxiv:2403.10001").published == ancient.published

    result = digestbot(workdir, "send")
    assert "alice: sent 1 paper(s)" in result.output
    digestbot(workdir, "fetch")  # re-fetching merges into the old row without failing


def test_an_unreadable_row_is_skipped_and_logged_and_the_others_go_out(workdir):
    write_feed(workdir.path / "feed.xml", [NARWHAL, QUOKKA])
    workdir.write_config(SOURCES, subscriber("alice", "narwhal", "quokka"))
    digestbot(workdir, "fetch")
    raw_sql(
        workdir.db, "UPDATE papers SET published = '999-13-45Tgarbage' WHERE key = 'arxiv:2403.10001'"
    )  # as an older version (or a hand edit) left it

    digestbot(workdir, "preview", "alice")
    result = digestbot(workdir, "-v", "send")

    assert "alice: sent 1 paper(s)" in result.output
    assert "skipping unreadable paper row arxiv:2403.10001" in result.output
    write_feed(workdir.path / "feed.xml", [NARWHAL])
    digestbot(workdir, "fetch")  # the broken row is rewritten from the feed, not fatal
    with Store(workdir.db) as store:
        assert store.paper("arxiv:2403.10001").title == NARWHAL.title


# --- 2. a paper first seen with less metadata ------------------------------------------------


def hf_list(path: Path, items: list[FeedPaper]) -> None:
    path.write_text(
        json.dumps(
            [
                {"paper": {"id": p.aid, "title": p.title, "summary": p.abstract, "upvotes": 3, "authors": []}}
                for p in items
            ]
        ),
        encoding="utf-8",
    )


TWO_SOURCES = """
- name: hf
  type: hf_daily
  url: hf.json
- name: feed
  type: arxiv_rss
  url: feed.xml
"""


def test_a_paper_first_seen_on_hugging_face_is_matched_again_when_arxiv_brings_its_full_record(workdir):
    early = FeedPaper(NARWHAL.aid, "narwhal nav (HF title)", "Short summary.")  # no categories
    hf_list(workdir.path / "hf.json", [early])
    write_feed(workdir.path / "feed.xml", [])
    workdir.write_config(
        TWO_SOURCES,
        subscriber("early", "narwhal")  # matches the HF title: gets it at once
        + subscriber("fullabstract", "icy water")  # only in arXiv's full abstract
        + f"- id: bycategory\n  email: c@example.org\n  categories: [cs.LG]\n  schedule: {not_due_soon()}\n",
    )
    first = digestbot(workdir, "run", "--once", expect=0)
    assert "early: sent 1 paper(s)" in first.output
    assert "fullabstract" not in first.output.split("Sending digests:")[1].replace("nothing new", "")

    write_feed(workdir.path / "feed.xml", [NARWHAL])  # arXiv announces it, with cs.LG
    second = digestbot(workdir, "run", "--once")
    digestbot(workdir, "send", "--force")

    with Store(workdir.db) as store:
        paper = store.paper(f"arxiv:{NARWHAL.aid}")
        assert paper.title == NARWHAL.title  # arXiv's record wins over the first report
        assert paper.categories == ("cs.LG",)
        got = {
            sid: [
                it.paper.arxiv_id for d in store.digests(subscriber_id=sid) for it in store.digest_items(d.id)
            ]
            for sid in ("early", "fullabstract", "bycategory")
        }
    assert got == {"early": [NARWHAL.aid], "fullabstract": [NARWHAL.aid], "bycategory": [NARWHAL.aid]}
    assert "early" not in second.output.split("Sending digests:")[1].replace("nothing new", "")


def test_a_re_fetch_that_changes_only_upvotes_makes_nothing_new(workdir):
    hf_list(workdir.path / "hf.json", [QUOKKA])
    write_feed(workdir.path / "feed.xml", [])
    workdir.write_config(TWO_SOURCES, subscriber("alice", "quokka"))
    digestbot(workdir, "run", "--once")
    before = raw_rows(workdir.db, "SELECT * FROM papers")
    (workdir.path / "hf.json").write_text(
        (workdir.path / "hf.json").read_text().replace('"upvotes": 3', '"upvotes": 90')
    )
    digestbot(workdir, "fetch")
    result = digestbot(workdir, "send", "--force")
    with Store(workdir.db) as store:
        assert store.paper(f"arxiv:{QUOKKA.aid}").upvotes == 90
    after = raw_rows(workdir.db, "SELECT * FROM papers")
    changed = {name for name, value in before[0].items() if after[0][name] != value}
    # listed_at: when a source last reported its upvotes (the trending pool's clock)
    assert changed == {"upvotes", "updated", "listed_at"}
    assert "0 sent" in result.output


# --- 4. a disk that fills up after the server accepted the message ---------------------------


@contextlib.contextmanager
def small_disk(where: Path, size: str = "4m"):
    """A tmpfs of `size` mounted at `where` (root only; skipped elsewhere)."""
    where.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(where)], capture_output=True
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here: {done.stderr.decode().strip()}")
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], check=False)


def fill(where: Path) -> Path:
    """Fill the file system holding `where` to the last byte (unbuffered writes, then bytes)."""
    filler = where / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    try:
        for size in (1 << 20, 65536, 4096, 1):
            with contextlib.suppress(OSError):
                while True:
                    os.write(fd, b"\0" * size)
    finally:
        os.close(fd)
    return filler


class FillingHandler(RecordingHandler):
    """Accepts each message, and fills the disk the moment the first one arrives."""

    disk: Path | None = None

    async def handle_DATA(self, server, session, envelope):
        reply = await super().handle_DATA(server, session, envelope)
        if self.disk is not None and len(self.messages) == 1:
            fill(self.disk)
        return reply


@pytest.mark.sqlite_only  # the SQLite file itself
@pytest.mark.skipif(os.geteuid() != 0, reason="mounting a small file system needs root")
def test_a_full_disk_after_the_server_accepted_sends_the_digest_at_most_twice(workdir, tmp_path):
    with small_disk(tmp_path / "disk") as disk:
        write_feed(workdir.path / "feed.xml", [NARWHAL])
        workdir.write_config(SOURCES, subscriber("alice", "narwhal"))
        db = ["--db", str(disk / "digestbot.db")]
        digestbot(workdir, *db, "fetch")
        handler = FillingHandler()
        handler.disk = disk
        with serving(handler) as server:
            workdir.use_smtp(server.url)
            first = digestbot(workdir, *db, "send", expect=1)
            assert "Stopped" in first.output and "full" in first.output
            for _ in range(5):  # the disk stays full (closing freed the -wal file: fill it again)
                fill(disk)
                digestbot(workdir, *db, "send", "--force", expect=1)
            assert len(server.messages) == 1
            (disk / "filler").unlink()
            digestbot(workdir, *db, "send", "--force")  # state unknown: sent once more, same id
            for _ in range(3):
                digestbot(workdir, *db, "send", "--force")
        ids = {m.message["Message-ID"] for m in server.messages}
        assert len(server.messages) == 2 and len(ids) == 1
        with Store(disk / "digestbot.db") as store:
            assert [d.status for d in store.digests()] == ["sent"]


def test_a_digest_with_two_attempts_and_no_recorded_outcome_is_held_as_possibly_delivered(
    workdir, smtp_server
):
    write_feed(workdir.path / "feed.xml", [NARWHAL])
    workdir.write_config(SOURCES, subscriber("alice", "narwhal"))
    workdir.use_smtp(smtp_server.url)
    digestbot(workdir, "fetch")
    raw_sql(
        workdir.db, "UPDATE subscribers SET last_seq = 0"
    )  # two crashes after the message went, as it were
    with Store(workdir.db) as store:
        now = datetime.now(UTC)
        digest_id = store.create_digest("alice", [], 1, store.max_rev(), now, "<m@x>", "email", "a")
        store.begin_attempt(digest_id, now)
        store.begin_attempt(digest_id, now)

    digestbot(workdir, "send", "--force")
    status = digestbot(workdir, "status").output

    assert smtp_server.messages == []
    assert [d.status for d in ledger(workdir.db)] == ["unknown"]
    assert "possibly delivered" in status


# --- 5. concurrent /digest commands ---------------------------------------------------------


def test_twenty_parallel_subscribe_commands_from_one_user_keep_all_twenty(workdir, start_web):
    setup(workdir, [NARWHAL], email_sub("alice"))
    web = start_web()
    words = [f"topic{n:02d}" for n in range(20)]

    with ThreadPoolExecutor(20) as pool:
        replies = list(pool.map(lambda w: web.command(f"subscribe {w}"), words))

    assert all(r.startswith("Added") for r in replies)
    with Store(workdir.db) as store:
        assert sorted(store.subscriber(f"slack:{USER}").subscriber.profile.keywords) == words


def test_channel_members_subscribing_at_once_keep_each_others_keywords(workdir, start_web):
    setup(workdir, [NARWHAL], email_sub("alice"))
    web = start_web()
    members = [f"U{n:04d}MEMBER" for n in range(20)]

    def subscribe(user: str) -> str:
        return web.command(
            f"channel subscribe {user.lower()}", user=user, channel="C0CHAN1", channel_name="ml"
        )

    with ThreadPoolExecutor(20) as pool:
        list(pool.map(subscribe, members))

    with Store(workdir.db) as store:
        assert len(store.subscriber("slack:C0CHAN1").subscriber.profile.keywords) == 20


# --- 6. waiting digests of subscribers who left ----------------------------------------------


@pytest.mark.parametrize("how", ["unsubscribed", "removed-from-yaml"])
def test_a_pending_retry_of_a_subscriber_who_left_is_cancelled_not_delivered(
    workdir, closed_smtp_url, smtp_server, how
):
    setup(workdir, [NARWHAL], email_sub("alice", "narwhal"), email_sub("bob", "narwhal"))
    digestbot(workdir, "fetch")
    workdir.use_smtp(closed_smtp_url)
    digestbot(workdir, "send", expect=1)  # refused: both digests wait for a retry
    assert {d.status for d in ledger(workdir.db)} == {"pending"}

    if how == "unsubscribed":  # what the one-click link and /digest pause do
        with Store(workdir.db) as store:
            store.set_paused("alice", True)
    else:
        setup(workdir, [NARWHAL], email_sub("bob", "narwhal"))

    workdir.use_smtp(smtp_server.url)
    result = digestbot(workdir, "send", "--force")

    assert [m.rcpt_tos for m in smtp_server.messages] == [("bob@example.org",)]
    states = {d.subscriber_id: d.status for d in ledger(workdir.db)}
    assert states == {"alice": "cancelled", "bob": "sent"}
    assert "alice" not in result.output or "cancelled" in result.output


# --- 8. databases digestbot cannot use ------------------------------------------------------


@pytest.mark.sqlite_only  # the SQLite file itself
def test_a_database_from_a_newer_version_is_refused_and_left_untouched(workdir):
    write_feed(workdir.path / "feed.xml", [NARWHAL])
    workdir.write_config(SOURCES, subscriber("alice", "narwhal"))
    digestbot(workdir, "fetch")
    raw_sql(
        workdir.db,
        f"PRAGMA user_version = {store_module.SCHEMA_VERSION + 1}",
        "CREATE TABLE from_the_future (x)",
    )
    before = workdir.db.read_bytes()

    for command in (["send"], ["status"], ["fetch"], ["run", "--once"]):
        result = digestbot(workdir, *command, expect=2)
        assert "newer digestbot" in result.output and "Traceback" not in result.output
        assert len(result.output.strip().splitlines()) == 1
    assert workdir.db.read_bytes() == before


@pytest.mark.sqlite_only  # the SQLite file itself
@pytest.mark.parametrize("kind", ["garbage", "truncated", "read-only file system"])
def test_a_broken_or_read_only_database_gets_one_line_not_a_traceback(workdir, tmp_path, kind):
    write_feed(workdir.path / "feed.xml", [NARWHAL])
    workdir.write_config(SOURCES, subscriber("alice", "narwhal"))
    with contextlib.ExitStack() as stack:
        db = workdir.db
        if kind == "garbage":
            db.write_bytes(b"this is not a database at all" * 100)
        elif kind == "truncated":
            digestbot(workdir, "fetch")
            data = db.read_bytes()
            db.write_bytes(data[:100])
        else:
            if os.geteuid() != 0:
                pytest.skip("mounting a file system needs root")
            disk = stack.enter_context(small_disk(tmp_path / "ro"))
            db = disk / "digestbot.db"
            digestbot(workdir, "--db", str(db), "fetch")
            subprocess.run(["mount", "-o", "remount,ro", str(disk)], check=True)
        proc = subprocess.run(
            [sys.executable, "-m", "digestbot", "--db", str(db), "send"],
            capture_output=True,
            text=True,
            cwd=workdir.path,
            env={**os.environ, "DIGESTBOT_OUTBOX": str(workdir.outbox)},
            timeout=60,
        )
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1, proc.stderr
    assert str(db) in proc.stderr


@pytest.mark.sqlite_only  # the SQLite file itself
def test_a_version_2_database_is_migrated_with_its_ledger(tmp_path):
    db = tmp_path / "old.db"
    now = datetime.now(UTC)
    with Store(db) as store:
        store.add_papers([Paper(key="https://example.org/k1", title="t")], "s")
        store.sync_subscribers([Subscriber("alice", Profile(("t",)), email="a@example.org")])
        item = store_module.DigestItem(store.paper("https://example.org/k1"), 30, ("t",), ())
        digest_id = store.create_digest("alice", [item], 1, store.max_rev(), now, "<m@x>", "email", "a")
    old_digests = (  # the schema 2 table: three states only
        "CREATE TABLE digests_v2 (id INTEGER PRIMARY KEY AUTOINCREMENT, subscriber_id TEXT NOT NULL"
        " REFERENCES subscribers (id), status TEXT NOT NULL CHECK (status IN ('pending', 'sent', 'failed')),"
        " created_at TEXT NOT NULL, message_id TEXT NOT NULL UNIQUE, seq_to INTEGER NOT NULL,"
        " n_papers INTEGER NOT NULL, n_matched INTEGER NOT NULL, attempts INTEGER NOT NULL DEFAULT 0,"
        " last_error TEXT, next_attempt_at TEXT, channel TEXT, destination TEXT, sent_at TEXT,"
        " parts_sent INTEGER NOT NULL DEFAULT 0)"
    )
    columns = (
        "id, subscriber_id, status, created_at, message_id, seq_to, n_papers, n_matched, attempts,"
        " last_error, next_attempt_at, channel, destination, sent_at, parts_sent"
    )
    with sqlite3.connect(db) as conn:  # turn it back into what schema 2 looked like
        conn.executescript(
            "PRAGMA user_version = 2;"
            f"{old_digests}; INSERT INTO digests_v2 ({columns}) SELECT {columns} FROM digests;"
            "DROP TABLE digests; ALTER TABLE digests_v2 RENAME TO digests;"
            "ALTER TABLE sources DROP COLUMN last_warning; ALTER TABLE digest_items DROP COLUMN reasons;"
            "DROP INDEX papers_rev; ALTER TABLE papers DROP COLUMN rev; ALTER TABLE papers DROP COLUMN revised;"
        )
        sql = conn.execute("SELECT sql FROM sqlite_master WHERE name = 'digests'").fetchone()[0]
        assert "'cancelled'" not in sql
    with Store(db) as store:
        assert store.conn.execute("PRAGMA user_version").fetchone()[0] == store_module.SCHEMA_VERSION
        assert store.paper("https://example.org/k1").rev == store.paper("https://example.org/k1").seq
        sql = store.conn.execute("SELECT sql FROM sqlite_master WHERE name = 'digests'").fetchone()[0]
        assert "'cancelled'" in sql
        [record] = store.digests()
        assert (record.id, record.status, record.message_id) == (digest_id, "pending", "<m@x>")
        assert [it.paper.key for it in store.digest_items(digest_id)] == ["https://example.org/k1"]
        store.begin_attempt(digest_id, now)  # may have arrived: cancelling keeps its items
        assert store.cancel_pending("alice", "test") == 1  # the widened CHECK takes the new state
        assert store.conn.execute("PRAGMA foreign_key_check").fetchall() == []
    dump = db_dump(db)
    assert any(line.startswith('INSERT INTO "digest_items"') for line in dump), dump[:5]  # the ledger reads


# --- 10. Slack-made digests and YAML subscribers keep to their own ids ------------------------


def test_a_yaml_id_that_looks_like_a_slack_one_is_refused(workdir):
    write_feed(workdir.path / "feed.xml", [])
    workdir.write_config(SOURCES, subscriber(f"slack:{USER}", "narwhal"))
    result = digestbot(workdir, "check", expect=2)
    assert "reserved" in result.output and ".id" in result.output


ADA = "U0ADA4242"


def test_a_yaml_subscriber_for_a_slack_user_takes_over_and_hands_back_with_keywords(workdir, start_web):
    setup(workdir, [NARWHAL], email_sub("alice"))
    web = start_web()
    assert web.command("subscribe narwhal, quokka", user=ADA).startswith("Added")

    setup(workdir, [NARWHAL], email_sub("alice"), slack_sub("ada-in-yaml", ADA, "narwhal"))
    digestbot(workdir, "sync")
    with Store(workdir.db) as store:
        active = {s.subscriber.id for s in store.subscribers()}
    assert active == {"alice", "ada-in-yaml"}  # one digest for that user, not two
    assert "subscriptions.yaml" in web.command("subscribe more", user=ADA)

    setup(workdir, [NARWHAL], email_sub("alice"))
    digestbot(workdir, "sync")
    reply = web.command("subscribe octopus", user=ADA)
    assert reply.startswith("Added")
    with Store(workdir.db) as store:
        sub = store.subscriber(f"slack:{ADA}").subscriber
    assert sub.active and sub.origin == "slack"
    assert sub.profile.keywords == ("narwhal", "quokka", "octopus")


@pytest.mark.sqlite_only  # the SQLite file itself
def test_a_slack_command_never_rewrites_a_yaml_subscriber(tmp_path):
    with Store(tmp_path / "d.db") as store:
        store.sync_subscribers([])
        store.conn.execute(
            "INSERT INTO subscribers (id, origin, email, schedule, timezone, max_papers, created_at,"
            " updated_at, paused) VALUES ('slack:U9', 'yaml', 'x@example.org', 'daily 08:00', 'UTC', 5,"
            " '2026-01-01T00:00:00.000000Z', '2026-01-01T00:00:00.000000Z', 1)"
        )
        with pytest.raises(getattr(store_module, "StoreError", ())):
            store.save_slack_subscriber(Subscriber("slack:U9", Profile(("x",)), slack="U9", origin="slack"))
        row = store.subscriber("slack:U9").subscriber
        assert (row.email, row.paused, row.origin) == ("x@example.org", True, "yaml")


def test_an_unreadable_source_timestamp_counts_as_never_fetched(workdir):
    write_feed(workdir.path / "feed.xml", [NARWHAL])
    workdir.write_config(SOURCES, subscriber("alice", "narwhal"))
    digestbot(workdir, "fetch")
    raw_sql(workdir.db, "UPDATE sources SET last_fetch_at = '99-1-1', last_ok_at = 'yesterday'")

    assert "feed" in digestbot(workdir, "status").output
    digestbot(workdir, "run", "--once")


@pytest.mark.sqlite_only  # the SQLite file itself
@pytest.mark.skipif(os.geteuid() != 0, reason="mounting a small file system needs root")
def test_the_worker_backs_off_while_the_disk_is_full_and_says_why(workdir, tmp_path, smtp_server, caplog):
    from digestbot.config import Env, load_config
    from digestbot.daemon import Worker
    from digestbot.sources import HttpClient

    with small_disk(tmp_path / "disk") as disk:
        write_feed(workdir.path / "feed.xml", [NARWHAL])
        workdir.write_config(SOURCES, subscriber("alice", "narwhal"))
        config = load_config(workdir.config)
        now = [datetime.now(UTC)]
        with Store(disk / "digestbot.db") as store:
            store.sync_subscribers(config.subscribers)
            worker = Worker(
                config,
                store,
                Env(smtp_url=smtp_server.url),
                clock=lambda: now[0],
                client=HttpClient(sleep=lambda s: None),
            )
            fill(disk)
            assert worker.dispatch() == []
            assert "stopped sending digests" in caplog.text and "disk is full" in caplog.text
            assert "trying again at" in caplog.text
            assert worker.dispatch() == [] and smtp_server.connections == 0  # waiting, not retrying
            (disk / "filler").unlink()
            now[0] += timedelta(minutes=2)
            outcomes = worker.dispatch()
        assert [o.status for o in outcomes] == ["sent"]
        assert [m.rcpt_tos for m in smtp_server.messages] == [("alice@example.org",)]


@pytest.mark.sqlite_only  # the SQLite file itself
def test_the_web_app_answers_503_in_one_line_when_the_database_cannot_be_used(workdir, start_web, caplog):
    from digestbot.links import make_token

    setup(workdir, [NARWHAL], email_sub("alice"))
    Store(workdir.db).close()
    web = start_web()
    raw_sql(workdir.db, f"PRAGMA user_version = {store_module.SCHEMA_VERSION + 1}")
    token = make_token("alice", test_slack.UNSUB_SECRET)

    response = web.request("POST", "/unsubscribe", data={"t": token})

    assert response.status_code == 503 and "unavailable" in response.text
    assert "Traceback" not in caplog.text and "newer digestbot" in caplog.text


def test_a_source_url_that_does_not_parse_is_a_config_error(workdir):
    workdir.write_config('- name: odd\n  type: rss\n  url: "http://["\n', subscriber("alice", "narwhal"))
    out = digestbot(workdir, "check", expect=2).output
    assert "sources[0].url" in out and "Traceback" not in out


def test_a_stored_schedule_or_timezone_that_no_longer_reads_skips_that_subscriber_only(workdir):
    write_feed(workdir.path / "feed.xml", [NARWHAL])
    workdir.write_config(SOURCES, subscriber("alice", "narwhal") + subscriber("bob", "narwhal"))
    digestbot(workdir, "fetch")
    raw_sql(
        workdir.db, "UPDATE subscribers SET timezone = 'America/Argentina' WHERE id = 'alice'"
    )  # as an old version or a hand edit could leave it
    with Store(workdir.db) as store:
        from digestbot.config import Env, load_config
        from digestbot.digest import DigestRunner

        outcomes = DigestRunner(store, load_config(workdir.config), Env(outbox=workdir.outbox)).run()
    assert [(o.subscriber_id, o.status) for o in outcomes] == [("bob", "sent")]


def test_an_address_matches_whatever_the_case_of_its_letters_on_both_backends(db_target):
    """SQLite's own lower() folds only A-Z; PostgreSQL's folds every letter. One inbox must be
    one inbox on both: the web sign-up and the YAML hand-over look addresses up this way."""
    with Store(db_target) as store:
        store.sync_subscribers([Subscriber("zoe", Profile(("t",)), email="Zoë.Ünal@Example.org")])
        assert store.yaml_has_address("zoË.üNAL@example.ORG")
        assert store.find_by_email("ZOË.ÜNAL@EXAMPLE.ORG").subscriber.id == "zoe"
        assert not store.yaml_has_address("zoe.unal@example.org")  # folded, not stripped of accents
