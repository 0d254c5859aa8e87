"""The store on both backends (a SQLite file, a real PostgreSQL): papers and merging, subscribers, the ledger."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from helpers import raw_sql

from digestbot.config import SourceConfig
from digestbot.models import Paper, Profile, Subscriber
from digestbot.sources import PARSERS
from digestbot.sources.http import Fetched
from digestbot.store import DigestItem, Store, StoreError
from digestbot.store import base as store_module

FIXTURES = Path(__file__).parent / "fixtures"
T0 = datetime(2024, 3, 14, 8, 0, tzinfo=UTC)

# (source name, source type, fixture): the three reports of arXiv 2403.20001.
RSS = ("arxiv-cs-lg", "arxiv_rss", "arxiv_rss_cs_lg.xml")
API = ("arxiv-api", "arxiv_api", "arxiv_api.atom")
HF = ("hf-daily", "hf_daily", "hf_daily.json")


# --- helpers ------------------------------------------------------------------------------


@pytest.fixture
def store(db_target) -> Iterator[Store]:
    """A fresh store on each backend in turn (SQLite, then PostgreSQL)."""
    with Store(db_target) as s:
        yield s


def parsed(name: str, kind: str, fixture: str) -> list[Paper]:
    """The papers a real parser makes of a fixture, as if fetched with HTTP 200."""
    src = SourceConfig(name=name, type=kind, url="https://example.org/feed", path=None, every=3600)
    return PARSERS[kind](src, Fetched((FIXTURES / fixture).read_bytes(), 200)).papers


def paper(n: int, **kwargs) -> Paper:
    return Paper(key=f"test:{n}", title=f"Paper {n}", **kwargs)


def add_numbered(store: Store, numbers: range, source: str = "test") -> None:
    store.add_papers([paper(n) for n in numbers], source, T0)


def sub(sid: str, keywords: tuple[str, ...] = ("diffusion",), **kwargs) -> Subscriber:
    kwargs.setdefault("email", f"{sid}@example.org")
    return Subscriber(id=sid, profile=Profile(keywords=keywords), **kwargs)


def subscriber_rows(store: Store) -> list[tuple]:
    return [tuple(r.values()) for r in store._rows("SELECT * FROM subscribers ORDER BY id")]


def refused(store: Store) -> type[Exception]:
    """What a statement the database refuses raises: SQLite's own error; StoreError on PostgreSQL."""
    return sqlite3.IntegrityError if store.backend == "sqlite" else StoreError


def count(store: Store, table: str) -> int:
    return store._exec(f"SELECT COUNT(*) FROM {table}").fetchone()[0]


# --- papers: one paper, one row -----------------------------------------------------------


@pytest.mark.parametrize(
    "order",
    [(RSS, API, HF), (HF, RSS, API), (API, HF, RSS)],
    ids=["rss-api-hf", "hf-rss-api", "api-hf-rss"],
)
def test_same_paper_from_three_sources_is_one_merged_row(store, order):
    reports = {name: parsed(name, kind, fixture) for name, kind, fixture in order}
    counts = {}
    first_seq = None
    for i, (name, _, _) in enumerate(order):
        counts[name] = store.add_papers(reports[name], name, T0 + timedelta(hours=i))
        if first_seq is None:
            first_seq = store.paper("arxiv:2403.20001").seq
        assert store.paper("arxiv:2403.20001").seq == first_seq  # merges never move it

    # The first source brings all its papers; each later one knows exactly 2403.20001.
    first, *later = (name for name, _, _ in order)
    assert counts[first] == (len(reports[first]), 0)
    for name in later:
        assert counts[name] == (len(reports[name]) - 1, 1)
    assert store.count_papers() == 4 + 4 + 4 - 2

    rows = store.conn.execute("SELECT COUNT(*) FROM papers WHERE arxiv_id = '2403.20001'").fetchone()[0]
    assert rows == 1
    merged = store.paper("arxiv:2403.20001")
    assert merged.sources == tuple(name for name, _, _ in order)
    assert merged.upvotes == 42  # from HF, whether it came first or last
    assert merged.announce_type == "new"  # only the RSS listing knows it
    all_categories = {
        c for papers in reports.values() for p in papers if p.key == merged.key for c in p.categories
    }
    assert set(merged.categories) == all_categories == {"cs.LG", "cs.AI", "cs.RO"}
    assert len(merged.categories) == len(set(merged.categories))
    assert merged.authors == ("Lukas Schr\u00f6der", "Zo\u00eb M\u00fcller", "Jos\u00e9 N\u00fa\u00f1ez")
    assert merged.link == "https://arxiv.org/abs/2403.20001"
    assert merged.first_seen == T0


def test_merge_unites_categories_and_fills_gaps(store):
    store.add_papers([paper(1, categories=("cs.LG",), upvotes=5)], "a", T0)
    store.add_papers(
        [paper(1, categories=("cs.RO", "cs.LG"), abstract="A longer abstract.", pdf_url="https://x/1.pdf")],
        "b",
        T0,
    )
    store.add_papers([paper(1, upvotes=7, abstract="Short.")], "c", T0)
    merged = store.paper("test:1")
    assert merged.categories == ("cs.LG", "cs.RO")
    assert merged.abstract == "A longer abstract."  # the fuller text wins
    assert merged.pdf_url == "https://x/1.pdf"  # a missing field is filled
    assert merged.upvotes == 7  # the newest report with upvotes
    assert merged.sources == ("a", "b", "c")


def test_same_source_twice_is_known_not_duplicated(store):
    papers = parsed(*RSS)
    assert store.add_papers(papers, "arxiv-cs-lg", T0) == (4, 0)
    assert store.add_papers(papers, "arxiv-cs-lg", T0) == (0, 4)
    assert store.count_papers() == 4
    assert store.paper("arxiv:2403.20001").sources == ("arxiv-cs-lg",)


# --- papers: ingestion order --------------------------------------------------------------


def test_seq_increases_in_ingestion_order(store):
    add_numbered(store, range(1, 4))
    add_numbered(store, range(4, 8))
    add_numbered(store, range(2, 5))  # known papers keep their place
    seqs = [store.paper(f"test:{n}").seq for n in range(1, 8)]
    assert seqs == sorted(seqs) and len(set(seqs)) == 7
    assert store.max_rev() == seqs[-1]


def test_papers_after_reads_in_order_across_batches(store):
    add_numbered(store, range(1, 8))
    seq = {n: store.paper(f"test:{n}").seq for n in range(1, 8)}

    everything = list(store.papers_after(0, batch=2))
    assert [p.key for p in everything] == [f"test:{n}" for n in range(1, 8)]
    assert [p.seq for p in everything] == sorted(p.seq for p in everything)

    window = list(store.papers_after(seq[2], upto=seq[6], batch=2))
    assert [p.key for p in window] == ["test:3", "test:4", "test:5", "test:6"]
    assert list(store.papers_after(seq[7], batch=2)) == []
    assert list(store.papers_after(seq[3], upto=seq[3], batch=2)) == []


def test_papers_after_stops_at_upto_even_when_more_arrive(store):
    add_numbered(store, range(1, 4))
    upto = store.max_rev()
    add_numbered(store, range(4, 6))
    assert [p.key for p in store.papers_after(0, upto, batch=2)] == ["test:1", "test:2", "test:3"]


# --- subscribers --------------------------------------------------------------------------


def test_sync_adds_updates_and_reports_unchanged(store):
    assert store.sync_subscribers([sub("alice"), sub("bob")], T0) == {
        "added": 2,
        "updated": 0,
        "unchanged": 0,
        "deactivated": 0,
    }
    later = T0 + timedelta(days=1)
    counts = store.sync_subscribers([sub("alice"), sub("bob", keywords=("robot*",), max_papers=5)], later)
    assert counts == {"added": 0, "updated": 1, "unchanged": 1, "deactivated": 0}
    bob = store.subscriber("bob")
    assert bob.subscriber.profile.keywords == ("robot*",)
    assert bob.subscriber.max_papers == 5
    assert bob.created_at == T0


def test_sync_deactivates_missing_subscribers_and_keeps_their_history(store):
    store.sync_subscribers([sub("alice"), sub("bob")], T0)
    store.advance("bob", 17, T0)
    counts = store.sync_subscribers([sub("alice")], T0)
    assert counts["deactivated"] == 1
    assert [s.subscriber.id for s in store.subscribers()] == ["alice"]
    bob = store.subscriber("bob")
    assert bob is not None and not bob.subscriber.active
    assert bob.last_seq == 17  # the watermark survives
    assert store.conn.execute("SELECT active FROM subscribers WHERE id = 'bob'").fetchone() == (0,)
    # Listed again: back, with the same history.
    assert store.sync_subscribers([sub("alice"), sub("bob")], T0)["updated"] == 1
    assert store.subscriber("bob").subscriber.active
    assert store.subscriber("bob").last_seq == 17


def test_sync_never_resets_paused(store):
    store.sync_subscribers([sub("alice")], T0)
    assert store.set_paused("alice", True, T0)
    assert store.sync_subscribers([sub("alice")], T0)["unchanged"] == 1
    assert store.subscriber("alice").subscriber.paused
    assert store.sync_subscribers([sub("alice", keywords=("rlhf",))], T0)["updated"] == 1
    assert store.subscriber("alice").subscriber.paused


def _listing_that_breaks() -> Iterator[Subscriber]:
    yield sub("alice", keywords=("changed",))
    yield sub("carol")
    raise RuntimeError("YAML reader crashed")


def _listing_with_a_bad_row() -> Iterator[Subscriber]:
    yield sub("alice", keywords=("changed",))
    yield sub("carol", max_papers=None)  # NOT NULL: the INSERT fails in the database


@pytest.mark.parametrize(
    ("listing", "error"),
    [(_listing_that_breaks, RuntimeError), (_listing_with_a_bad_row, "refused")],
    ids=["iterator-raises", "insert-fails"],
)
def test_sync_is_all_or_nothing(store, listing, error):
    if error == "refused":  # a statement the database refuses: SQLite's own error, or StoreError
        error = refused(store)
    store.sync_subscribers([sub("alice"), sub("bob")], T0)
    before = subscriber_rows(store)
    with pytest.raises(error):
        store.sync_subscribers(listing(), T0 + timedelta(days=1))
    assert subscriber_rows(store) == before  # alice not changed, carol not added, bob still active
    assert not store.in_transaction


# --- the ledger ---------------------------------------------------------------------------


@pytest.fixture
def ledger(store: Store) -> Store:
    """A store with five papers and two subscribers."""
    add_numbered(store, range(1, 6))
    store.sync_subscribers([sub("alice"), sub("bob")], T0)
    return store


def items_for(store: Store, *numbers: int) -> list[DigestItem]:
    return [DigestItem(store.paper(f"test:{n}"), 10 - n, (f"term{n}",), ()) for n in numbers]


def new_digest(store: Store, sid: str, numbers: tuple[int, ...], msg: str, run_at: datetime = T0) -> int:
    return store.create_digest(
        sid,
        items_for(store, *numbers),
        n_matched=len(numbers) + 1,
        seq_to=store.max_rev(),
        run_at=run_at,
        message_id=f"<{msg}@digestbot>",
        channel="email",
        destination=f"{sid}@example.org",
    )


def test_create_digest_records_digest_items_and_watermark(ledger):
    digest_id = new_digest(ledger, "alice", (2, 1), "d1")
    record = ledger.digest(digest_id)
    assert record.status == "pending"
    assert (record.n_papers, record.n_matched, record.attempts) == (2, 3, 0)
    assert record.seq_to == ledger.max_rev()
    assert record.created_at == T0
    assert record.message_id == "<d1@digestbot>"
    items = ledger.digest_items(digest_id)
    assert [(i.paper.key, i.score, i.terms) for i in items] == [
        ("test:2", 8, ("term2",)),
        ("test:1", 9, ("term1",)),
    ]
    alice = ledger.subscriber("alice")
    assert (alice.last_seq, alice.last_run_at) == (ledger.max_rev(), T0)
    assert ledger.subscriber("bob").last_seq is None
    assert ledger.pending_subscribers() == {"alice"}


def test_same_paper_twice_for_one_subscriber_is_refused_whole(ledger):
    new_digest(ledger, "alice", (1, 2), "d1")
    add_numbered(ledger, range(6, 8))
    watermark = ledger.subscriber("alice")
    digests, items = count(ledger, "digests"), count(ledger, "digest_items")

    later = T0 + timedelta(days=1)
    with pytest.raises(refused(ledger), match=r"(?i)unique"):
        new_digest(ledger, "alice", (6, 2), "d2", run_at=later)  # test:2 was already sent

    assert (count(ledger, "digests"), count(ledger, "digest_items")) == (digests, items)
    assert ledger.subscriber("alice") == watermark  # last_seq and last_run_at did not move
    assert not ledger.in_transaction
    # Another subscriber may get the same paper.
    assert ledger.digest_items(new_digest(ledger, "bob", (2,), "d3"))[0].paper.key == "test:2"


def test_mark_sent(ledger):
    digest_id = new_digest(ledger, "alice", (1,), "d1")
    sent_at = T0 + timedelta(minutes=1)
    ledger.mark_sent(digest_id, sent_at)
    record = ledger.digest(digest_id)
    assert (record.status, record.sent_at, record.attempts) == ("sent", sent_at, 1)
    assert ledger.last_sent("alice").id == digest_id
    assert ledger.delivered_count("alice") == 1
    assert ledger.retryable_digests(None) == []
    new_digest(ledger, "bob", (2, 3), "d2")  # pending: not sent yet
    later = sent_at + timedelta(hours=1)
    ledger.mark_sent(new_digest(ledger, "alice", (4, 5), "d3"), later)
    assert ledger.delivery_summary() == {"alice": (later, 3)}


def test_failed_attempt_with_retry_stays_pending(ledger):
    digest_id = new_digest(ledger, "alice", (1,), "d1")
    retry_at = T0 + timedelta(minutes=10)
    ledger.mark_attempt_failed(digest_id, "451 try again later", retry_at)
    record = ledger.digest(digest_id)
    assert record.status == "pending"
    assert record.next_attempt_at == retry_at
    assert (record.attempts, record.last_error) == (1, "451 try again later")

    assert ledger.retryable_digests(T0 + timedelta(minutes=5)) == []
    assert [d.id for d in ledger.retryable_digests(retry_at)] == [digest_id]
    assert [d.id for d in ledger.retryable_digests(retry_at + timedelta(hours=1))] == [digest_id]
    assert [d.id for d in ledger.retryable_digests(None)] == [digest_id]


def test_failed_attempt_without_retry_gives_up(ledger):
    digest_id = new_digest(ledger, "alice", (1,), "d1")
    ledger.mark_attempt_failed(digest_id, "550 no such user", None)
    record = ledger.digest(digest_id)
    assert (record.status, record.next_attempt_at, record.last_error) == ("failed", None, "550 no such user")
    assert ledger.retryable_digests(None) == []
    assert ledger.pending_subscribers() == set()
    assert [d.id for d in ledger.digests(status="failed")] == [digest_id]


def test_retryable_digests_respects_next_attempt_at(ledger):
    fresh = new_digest(ledger, "alice", (1,), "d1")  # never tried: due at once
    waiting = new_digest(ledger, "bob", (1,), "d2")
    ledger.mark_attempt_failed(waiting, "timeout", T0 + timedelta(hours=1))
    given_up = new_digest(ledger, "bob", (2,), "d3")
    ledger.mark_attempt_failed(given_up, "refused", None)

    assert [d.id for d in ledger.retryable_digests(T0)] == [fresh]
    assert [d.id for d in ledger.retryable_digests(T0 + timedelta(hours=2))] == [fresh, waiting]
    assert [d.id for d in ledger.retryable_digests(None)] == [fresh, waiting]


# --- the database file --------------------------------------------------------------------


@pytest.mark.sqlite_only
def test_database_uses_wal(store, tmp_path):
    assert store.conn.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    other = sqlite3.connect(tmp_path / "db.sqlite")  # WAL is a property of the file
    try:
        assert other.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    finally:
        other.close()


def test_reopening_keeps_data(tmp_path):
    with Store(tmp_path / "db.sqlite") as s:
        s.add_papers(parsed(*HF), "hf-daily", T0)
    with Store(tmp_path / "db.sqlite") as s:
        assert s.count_papers() == 4
        assert s.paper("arxiv:2403.20201").upvotes == 87


# --- schema 4: the Hugging Face fields, trending and sources ----------------------------------


def test_hf_fields_are_stored_and_read_back(store):
    store.add_papers(parsed(*HF), "hf-daily", T0)
    p = store.paper("arxiv:2403.20201")
    assert (p.upvotes, p.github_url, p.github_stars, p.project_url, p.comments, p.organization) == (
        87,
        "https://github.com/example-lab/policy-distill",
        1234,
        "https://example-lab.github.io/policy-distill/",
        5,
        "Example Robotics Lab",
    )
    assert p.hf_url == "https://huggingface.co/papers/2403.20201"
    assert p.thumbnail_url.startswith("https://cdn-thumbnails.huggingface.co/")
    assert p.ai_summary.startswith("A distilled diffusion policy")


def test_a_re_fetch_updates_mutable_fields_without_a_new_rev(store):
    store.add_papers(parsed(*HF), "hf-daily", T0)
    before = store.paper("arxiv:2403.20201")
    later = [
        replace(p, upvotes=200, comments=9, github_stars=2000, project_url="https://example.org/new")
        for p in parsed(*HF)
        if p.key == before.key
    ]
    store.add_papers(later, "hf-daily", T0 + timedelta(hours=6))
    after = store.paper(before.key)
    assert (after.upvotes, after.comments, after.github_stars, after.project_url) == (
        200,
        9,
        2000,
        "https://example.org/new",
    )
    assert (after.rev, after.revised, after.seq) == (before.rev, False, before.seq)
    assert store.max_rev() == 4  # four papers, nothing made new


def test_a_report_without_hf_fields_keeps_them(store):
    store.add_papers(parsed(*HF), "hf-daily", T0)
    store.add_papers(parsed(*API), "arxiv-api", T0 + timedelta(hours=1), authoritative=True)
    store.add_papers(parsed(*RSS), "arxiv-cs-lg", T0 + timedelta(hours=2), authoritative=True)
    p = store.paper("arxiv:2403.20001")
    assert (p.upvotes, p.comments, p.hf_url) == (42, 3, "https://huggingface.co/papers/2403.20001")
    assert p.sources == ("hf-daily", "arxiv-api", "arxiv-cs-lg")


def test_trending_pool_is_listed_lately_most_upvoted_first_and_knows_who_has_what(store):
    store.add_papers(parsed(*HF), "hf-daily", T0)
    store.add_papers(parsed(*RSS), "arxiv-cs-lg", T0, authoritative=True)  # no upvotes: not listed
    store.sync_subscribers([Subscriber("t", Profile(trending=2), email="t@example.org")])
    pool = store.trending_pool(T0 - timedelta(hours=1), store.max_rev())
    assert {when for _, when in pool} == {T0}
    assert [(p.arxiv_id, p.upvotes) for p, _ in pool] == [
        ("2403.20201", 87),
        ("2403.20001", 42),
        ("2403.20202", 23),
        ("2403.20203", 9),
    ]
    top = store.paper("arxiv:2403.20201")
    store.create_digest("t", [DigestItem(top, 0, (), ())], 4, store.max_rev(), T0, "<m@x>", "email", "t")
    assert store.received_among(p.seq for p, _ in pool) == {"t": {top.seq}}
    assert store.trending_pool(T0 + timedelta(minutes=1), store.max_rev()) == []  # listed before
    # up to a rev: 2403.20201 is rev 2 (2403.20001 took rev 5 when arXiv's listing changed it)
    assert [p.rev for p, _ in store.trending_pool(T0 - timedelta(hours=1), 2)] == [2]


def test_trending_and_sources_of_a_subscriber_round_trip(store):
    profile = Profile(keywords=("agents",), trending=10, sources=("hf-daily",))
    sub = Subscriber("t", profile, email="t@x.org", show_ai_summary=True)
    store.sync_subscribers([sub])
    assert store.subscriber("t").subscriber == sub
    assert store.sync_subscribers([sub])["unchanged"] == 1


def test_a_schema_3_database_is_upgraded_keeping_its_rows(tmp_path):
    db = tmp_path / "v3.db"
    with Store(db) as store:
        store.add_papers(parsed(*HF), "hf-daily", T0)
        store.sync_subscribers([Subscriber("alice", Profile(("policy",)), email="a@example.org")])
        revs = {p.key: p.rev for p in store.papers_after(0)}
    with sqlite3.connect(db) as conn:  # what schema 3 looked like
        conn.execute("DROP INDEX papers_listed_at")
        for table, column, _ in store_module._V4_COLUMNS:
            conn.execute(f"ALTER TABLE {table} DROP COLUMN {column}")
        conn.execute("PRAGMA user_version = 3")
    with Store(db) as store:
        assert store.conn.execute("PRAGMA user_version").fetchone()[0] == store_module.SCHEMA_VERSION
        p = store.paper("arxiv:2403.20201")
        assert (p.upvotes, p.github_url, p.comments, p.rev) == (87, "", None, revs[p.key])
        assert store.subscriber("alice").subscriber.profile.trending is None
        # papers with upvotes count as listed when they were last updated: trending sees them
        pool = store.trending_pool(T0 - timedelta(minutes=1), store.max_rev())
        assert [q.arxiv_id for q, _ in pool] == ["2403.20201", "2403.20001", "2403.20202", "2403.20203"]
        store.add_papers(parsed(*HF), "hf-daily", T0 + timedelta(hours=1))  # a re-fetch fills them in
        assert store.paper("arxiv:2403.20201").github_stars == 1234
        assert {q.key: q.rev for q in store.papers_after(0)} == revs


def test_a_yaml_subscriber_for_a_slack_target_carries_on_from_what_was_delivered_there(store):
    """The /digest subscriber of a channel hands over to a new YAML one for the same channel:
    the YAML one starts from the watermark of what was delivered there, not of a digest that
    was waiting for a retry (the hand-over cancels it), so its papers are sent, once."""
    add_numbered(store, range(1, 5))
    slack = Subscriber("slack:C1", Profile(keywords=("diffusion",)), slack="C1", origin="slack")
    store.save_slack_subscriber(slack, T0)
    first = new_digest(store, "slack:C1", (1, 2), "s1")
    store.mark_sent(first, T0)
    delivered = store.subscriber("slack:C1").last_seq
    add_numbered(store, range(5, 7))
    new_digest(store, "slack:C1", (5, 6), "s2")  # pending: its send failed, a retry is due
    assert store.subscriber("slack:C1").last_seq > delivered

    store.sync_subscribers([replace(sub("channel"), email=None, slack="C1")], T0)

    assert store.subscriber("channel").last_seq == delivered
    assert not store.subscriber("slack:C1").subscriber.active
    assert [d.status for d in store.digests(subscriber_id="slack:C1")] == ["sent", "cancelled"]


def test_papers_dropped_from_a_pending_digest_are_not_received(ledger):
    """What an email cut for size never showed leaves its digest (count too), and may come in a
    later digest: the unique (subscriber, paper) constraint no longer holds it."""
    digest_id = new_digest(ledger, "alice", (1, 2, 3), "d1")
    ledger.drop_digest_items(digest_id, [ledger.paper("test:2").seq, ledger.paper("test:3").seq])

    assert [it.paper.key for it in ledger.digest_items(digest_id)] == ["test:1"]
    assert ledger.digest(digest_id).n_papers == 1
    assert not ledger.received("alice", ledger.paper("test:2").seq)
    later = new_digest(ledger, "alice", (2,), "d2")
    assert [it.paper.key for it in ledger.digest_items(later)] == ["test:2"]


def test_opening_while_sqlite_answers_locked_at_once_waits_instead_of_failing(tmp_path, monkeypatch):
    """SQLite answers "database is locked" without waiting where waiting could deadlock (a
    journal-mode change racing the last connection's checkpoint): seen once in CI as a /digest
    command that "could not be answered". Opening tries again; any other error still fails."""
    from digestbot.store import sqlite as sqlite_store

    Store(tmp_path / "d.db").close()
    real, refusals = sqlite_store.SqliteStore._open, iter(range(3))

    def contended(self):
        if next(refusals, None) is not None:
            raise sqlite3.OperationalError("database is locked")
        return real(self)

    monkeypatch.setattr(sqlite_store.SqliteStore, "_open", contended)
    with Store(tmp_path / "d.db") as store:
        assert store.count_papers() == 0

    def broken(self):
        raise sqlite3.OperationalError("no such table: papers")

    monkeypatch.setattr(sqlite_store.SqliteStore, "_open", broken)
    with pytest.raises(StoreError, match="no such table"):
        Store(tmp_path / "d.db")


def test_a_schema_6_database_gains_the_index_that_finds_who_received_a_paper(tmp_path):
    """Trending digests and new versions of papers ask who received a paper: by paper_seq, which
    the (subscriber_id, paper_seq) key cannot answer without reading every digest item."""
    db = tmp_path / "v6.db"
    with Store(db):
        pass
    with sqlite3.connect(db) as conn:  # what schema 6 looked like
        conn.execute("DROP INDEX digest_items_paper")
        conn.execute("PRAGMA user_version = 6")
    with Store(db) as store:
        assert store.conn.execute("PRAGMA user_version").fetchone()[0] == store_module.SCHEMA_VERSION
        plan = store.conn.execute(
            "EXPLAIN QUERY PLAN SELECT subscriber_id, paper_seq FROM digest_items WHERE paper_seq IN (?, ?)",
            (1, 2),
        ).fetchall()
    assert any("digest_items_paper" in row[-1] for row in plan), plan


@pytest.mark.parametrize("by_subscriber", [True, False], ids=["few-subscribers", "many-subscribers"])
def test_who_received_which_papers_among_some_subscribers_either_way(store, monkeypatch, by_subscriber):
    """A revised paper or a trending pool asks about the subscribers of one batch: read by
    (subscriber, paper) for a few of them, by paper for many; the answer is the same."""
    monkeypatch.setattr(store_module, "RECEIVED_BY_SUBSCRIBER", 10 if by_subscriber else 0)
    store.add_papers(parsed(*HF), "hf-daily", T0)
    papers = list(store.papers_after(0))
    subs = [Subscriber(s, Profile(("x",)), email=f"{s}@example.org") for s in ("a", "b", "c")]
    store.sync_subscribers(subs)
    for sid, mine in (("a", papers[:2]), ("b", papers[1:3]), ("c", papers[:3])):
        items = [DigestItem(p, r, (), ()) for r, p in enumerate(mine)]
        store.create_digest(sid, items, len(mine), store.max_rev(), T0, f"<{sid}@x>", "email", sid)
    seqs = [p.seq for p in papers[:2]]
    assert store.received_among(seqs, ["a", "b"]) == {"a": set(seqs), "b": {papers[1].seq}}
    assert store.received_among(seqs, []) == {}
    assert store.received_among(seqs) == {"a": set(seqs), "b": {papers[1].seq}, "c": set(seqs)}


def test_the_schema_7_upgrade_keys_stored_papers_and_likes_as_arxiv_ids_read_now(db_target):
    """Ids are read more widely now (a Hugging Face paper link as a feed's guid) and old-style
    ids one way (math.GT/0309136 is math/0309136): a paper stored under its old key would come
    back under the new one as a new paper, and be sent again."""
    hf_link = "https://huggingface.co/papers/2401.12345"
    with Store(db_target) as store:
        store.add_papers(
            [
                Paper(key=hf_link, title="Quokka policies", link=hf_link),
                Paper(key="arxiv:math.GT/0309136", arxiv_id="math.GT/0309136", title="Knots"),
                Paper(key="https://blog.example/post", title="A blog post", link="https://blog.example/post"),
            ],
            "feed",
            T0,
        )
        store.sync_subscribers([Subscriber("kim", Profile(likes=("2401.00001",)), email="kim@example.org")])
        seqs = {p.key: p.seq for p in store.papers_after(0)}
    raw_sql(  # as schema 6 stored them: the likes as Slack's /digest like wrote them then
        db_target,
        """UPDATE subscribers SET likes = '["math.GT/0309136", "MATH/0309136", "2401.00001"]' WHERE id = 'kim'""",
        *(
            ["UPDATE digestbot_schema SET version = 6"]
            if str(db_target).startswith("postgresql")
            else ["PRAGMA user_version = 6"]
        ),
    )
    with Store(db_target) as store:
        assert {p.key: p.seq for p in store.papers_after(0)} == {
            "arxiv:2401.12345": seqs[hf_link],
            "arxiv:math/0309136": seqs["arxiv:math.GT/0309136"],
            "https://blog.example/post": seqs["https://blog.example/post"],
        }
        assert store.paper("arxiv:2401.12345").arxiv_id == "2401.12345"
        assert store.subscriber("kim").subscriber.profile.likes == ("math/0309136", "2401.00001")
        again = Paper(key="arxiv:2401.12345", arxiv_id="2401.12345", title="Quokka policies")
        assert store.add_papers([again], "arxiv", T0 + timedelta(hours=1)) == (0, 1)  # known, not new


def test_a_former_id_is_renamed_with_its_ledger_and_feedback_on_both_backends(store):
    store.add_papers([paper(1)], "test", T0)
    [p] = store.papers_after(0)
    store.sync_subscribers([sub("83")])
    digest = store.create_digest(
        "83", [DigestItem(p, 0, ("diffusion",), ())], 1, p.rev, T0, "<m@x>", "email", "a"
    )
    store.mark_sent(digest, T0)  # received (a digest still waiting would be given back by the pause)
    store.rate("83", p.key, 1, "cli")
    store.set_paused("83", True)

    counts = store.sync_subscribers([sub("0123")], former_ids=[("0123", "83")])

    assert counts["added"] == 0 and counts["deactivated"] == 0
    assert store.subscriber("83") is None and store.subscriber("0123").subscriber.paused
    assert [d.subscriber_id for d in store.digests(subscriber_id="0123")] == ["0123"]
    assert store.received("0123", p.seq) and store.feedback({"0123": 0})["0123"] == {p.key: 1}
    # a former id that is itself listed, or that nobody has, changes nothing
    assert store.sync_subscribers([sub("0123"), sub("9")], former_ids=[("9", "0123")])["added"] == 1
    assert store.subscriber("0123") is not None


def test_shared_rates_space_messages_and_a_spacing_of_zero_never_waits(store):
    """`SharedRates.space`: slots `seconds` apart across every worker on the database; a
    spacing of 0 (no limit) never waits (it was 1 / (1 / interval): a division by zero)."""
    from digestbot.digest import SharedRates

    now, waits = [1000.0], []
    rates = SharedRates(store, clock=lambda: now[0], sleep=waits.append)
    for _ in range(3):
        rates.space("slack:C1", 0.0)
    assert waits == []
    for _ in range(3):
        rates.space("slack:C2", 1.0)
    rates.wait("smtp", 4.0)  # four a second: a quarter of a second apart
    rates.wait("smtp", 4.0)
    assert waits == [1.0, 2.0, 0.25]
