"""The SQLite database: schema and every query. No SQL lives anywhere else.

Tables: `papers` (one row per paper, `seq` = ingestion order), `sources` (fetch state),
`subscribers` (profiles, and the watermark `last_seq` of what their digests have covered),
`digests` and `digest_items` (the delivery ledger). A paper can appear in one digest per
subscriber only: `digest_items` has a UNIQUE(subscriber_id, paper_seq) constraint, so "never
the same paper twice" holds even against a bug in the code above it.

The database runs in WAL mode with a busy timeout so the runner, `status` and the web app can
share it. Every multi-row change happens in one transaction: nothing half-written stays.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, fields
from datetime import UTC, datetime
from pathlib import Path

import sqlite_utils

from .models import Paper, Profile, Subscriber

SCHEMA_VERSION = 2  # 2: digests.parts_sent, sources.last_announced

_SCHEMA = """
CREATE TABLE IF NOT EXISTS papers (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    key TEXT NOT NULL UNIQUE,
    arxiv_id TEXT,
    title TEXT NOT NULL,
    abstract TEXT NOT NULL DEFAULT '',
    authors TEXT NOT NULL DEFAULT '[]',
    categories TEXT NOT NULL DEFAULT '[]',
    link TEXT NOT NULL DEFAULT '',
    pdf_url TEXT NOT NULL DEFAULT '',
    published TEXT,
    announce_type TEXT,
    upvotes INTEGER,
    sources TEXT NOT NULL DEFAULT '[]',
    first_seen TEXT NOT NULL,
    updated TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS papers_first_seen ON papers (first_seen);
CREATE TABLE IF NOT EXISTS sources (
    name TEXT PRIMARY KEY,
    type TEXT,
    location TEXT,
    etag TEXT,
    last_modified TEXT,
    last_fetch_at TEXT,
    last_ok_at TEXT,
    last_change_at TEXT,
    last_error TEXT,
    failures INTEGER NOT NULL DEFAULT 0,
    last_new INTEGER,
    last_known INTEGER,
    last_announced TEXT
);
CREATE TABLE IF NOT EXISTS subscribers (
    id TEXT PRIMARY KEY,
    origin TEXT NOT NULL DEFAULT 'yaml',
    email TEXT,
    slack TEXT,
    keywords TEXT NOT NULL DEFAULT '[]',
    exclude TEXT NOT NULL DEFAULT '[]',
    authors TEXT NOT NULL DEFAULT '[]',
    categories TEXT NOT NULL DEFAULT '[]',
    schedule TEXT NOT NULL,
    timezone TEXT NOT NULL,
    max_papers INTEGER NOT NULL,
    active INTEGER NOT NULL DEFAULT 1,
    paused INTEGER NOT NULL DEFAULT 0,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    last_run_at TEXT,
    last_seq INTEGER
);
CREATE TABLE IF NOT EXISTS digests (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    subscriber_id TEXT NOT NULL REFERENCES subscribers (id),
    status TEXT NOT NULL CHECK (status IN ('pending', 'sent', 'failed')),
    created_at TEXT NOT NULL,
    message_id TEXT NOT NULL UNIQUE,
    seq_to INTEGER NOT NULL,
    n_papers INTEGER NOT NULL,
    n_matched INTEGER NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    last_error TEXT,
    next_attempt_at TEXT,
    channel TEXT,
    destination TEXT,
    sent_at TEXT,
    parts_sent INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS digests_status ON digests (status, next_attempt_at);
CREATE INDEX IF NOT EXISTS digests_subscriber ON digests (subscriber_id, id);
CREATE TABLE IF NOT EXISTS digest_items (
    digest_id INTEGER NOT NULL REFERENCES digests (id),
    subscriber_id TEXT NOT NULL,
    paper_seq INTEGER NOT NULL REFERENCES papers (seq),
    rank INTEGER NOT NULL,
    score INTEGER NOT NULL,
    terms TEXT NOT NULL DEFAULT '[]',
    authors TEXT NOT NULL DEFAULT '[]',
    PRIMARY KEY (digest_id, rank),
    UNIQUE (subscriber_id, paper_seq)
);
"""


# Columns added after a table was first released: (table, column, definition). Databases made
# by an older version get them on open.
_ADDED_COLUMNS = [
    ("digests", "parts_sent", "INTEGER NOT NULL DEFAULT 0"),
    ("sources", "last_announced", "TEXT"),
]


def now_utc() -> datetime:
    return datetime.now(UTC)


def ts(dt: datetime | None) -> str | None:
    """A UTC timestamp as stored: fixed-width ISO 8601, so text order is time order."""
    return None if dt is None else dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_ts(text: str | None) -> datetime | None:
    return None if not text else datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)


@dataclass(frozen=True)
class SubscriberState:
    """A subscriber as stored, with its ledger position."""

    subscriber: Subscriber
    last_run_at: datetime | None
    last_seq: int | None
    created_at: datetime


@dataclass(frozen=True)
class DigestRecord:
    """A row of the ledger."""

    id: int
    subscriber_id: str
    status: str
    created_at: datetime
    message_id: str
    seq_to: int
    n_papers: int
    n_matched: int
    attempts: int
    last_error: str | None
    next_attempt_at: datetime | None
    channel: str | None
    destination: str | None
    sent_at: datetime | None
    parts_sent: int = 0


@dataclass(frozen=True)
class DigestItem:
    paper: Paper
    score: int
    terms: tuple[str, ...]
    authors: tuple[str, ...]


class Store:
    """The project's one door to SQLite."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        if self.path.parent and not self.path.parent.exists():
            self.path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(str(self.path), timeout=30, isolation_level=None, check_same_thread=False)
        self.db = sqlite_utils.Database(conn)
        self.conn = conn
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA busy_timeout=30000")
        conn.execute("PRAGMA foreign_keys=ON")
        conn.execute("PRAGMA synchronous=NORMAL")
        self._migrate()

    def close(self) -> None:
        self.conn.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _migrate(self) -> None:
        # user_version says the schema is current: the web app opens a Store per request, and
        # this keeps that to one PRAGMA instead of re-running the schema every time.
        if self.conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION:
            return
        with self.transaction():
            for statement in _SCHEMA.split(";"):
                if statement.strip():
                    self.conn.execute(statement)
            for table, column, definition in _ADDED_COLUMNS:
                have = {row[1] for row in self.conn.execute(f"PRAGMA table_info({table})")}
                if column not in have:
                    self.conn.execute(f"ALTER TABLE {table} ADD COLUMN {column} {definition}")
            self.conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """BEGIN IMMEDIATE ... COMMIT, or ROLLBACK on any exception: all or nothing."""
        if self.conn.in_transaction:
            yield self.conn
            return
        self.conn.execute("BEGIN IMMEDIATE")
        try:
            yield self.conn
        except BaseException:
            self.conn.execute("ROLLBACK")
            raise
        self.conn.execute("COMMIT")

    def ping(self) -> bool:
        return self.conn.execute("SELECT 1").fetchone() == (1,)

    # --- papers ---------------------------------------------------------------------------

    def add_papers(
        self, papers: Iterable[Paper], source: str, now: datetime | None = None
    ) -> tuple[int, int]:
        """Store papers from one fetch in one transaction; returns (new, already known).

        A paper already stored (same key) is merged: missing fields filled, categories and
        sources united, upvotes taken from the newest report that has them.
        """
        now_s = ts(now or now_utc())
        new = known = 0
        with self.transaction() as conn:
            for paper in papers:
                rows = list(self.db.query("SELECT * FROM papers WHERE key = ?", [paper.key]))
                if not rows:
                    conn.execute(
                        "INSERT INTO papers (key, arxiv_id, title, abstract, authors, categories, link,"
                        " pdf_url, published, announce_type, upvotes, sources, first_seen, updated)"
                        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                        (
                            paper.key,
                            paper.arxiv_id,
                            paper.title,
                            paper.abstract,
                            json.dumps(list(paper.authors)),
                            json.dumps(list(paper.categories)),
                            paper.link,
                            paper.pdf_url,
                            ts(paper.published),
                            paper.announce_type,
                            paper.upvotes,
                            json.dumps([source]),
                            now_s,
                            now_s,
                        ),
                    )
                    new += 1
                else:
                    self._merge(conn, _paper_from_row(rows[0]), paper, source, now_s)
                    known += 1
        return new, known

    @staticmethod
    def _merge(conn: sqlite3.Connection, old: Paper, new: Paper, source: str, now_s: str) -> None:
        categories = list(dict.fromkeys(old.categories + new.categories))
        sources = list(dict.fromkeys((*old.sources, source)))
        conn.execute(
            "UPDATE papers SET arxiv_id = ?, title = ?, abstract = ?, authors = ?, categories = ?,"
            " link = ?, pdf_url = ?, published = ?, announce_type = ?, upvotes = ?, sources = ?,"
            " updated = ? WHERE key = ?",
            (
                old.arxiv_id or new.arxiv_id,
                old.title or new.title,
                old.abstract if len(old.abstract) >= len(new.abstract) else new.abstract,
                json.dumps(list(old.authors or new.authors)),
                json.dumps(categories),
                old.link or new.link,
                old.pdf_url or new.pdf_url,
                ts(old.published or new.published),
                old.announce_type or new.announce_type,
                new.upvotes if new.upvotes is not None else old.upvotes,
                json.dumps(sources),
                now_s,
                old.key,
            ),
        )

    def paper(self, key: str) -> Paper | None:
        rows = list(self.db.query("SELECT * FROM papers WHERE key = ?", [key]))
        return _paper_from_row(rows[0]) if rows else None

    def papers_after(self, seq: int, upto: int | None = None, batch: int = 1000) -> Iterator[Paper]:
        """Papers with seq in (seq, upto], in ingestion order, read in batches."""
        upto = self.max_seq() if upto is None else upto
        while seq < upto:
            rows = list(
                self.db.query(
                    "SELECT * FROM papers WHERE seq > ? AND seq <= ? ORDER BY seq LIMIT ?", [seq, upto, batch]
                )
            )
            if not rows:
                return
            for row in rows:
                yield _paper_from_row(row)
            seq = rows[-1]["seq"]

    def max_seq(self) -> int:
        return self.conn.execute("SELECT COALESCE(MAX(seq), 0) FROM papers").fetchone()[0]

    def last_seq_before(self, when: datetime) -> int:
        """The highest seq of papers first seen before `when` (where a first digest starts)."""
        row = self.conn.execute("SELECT MAX(seq) FROM papers WHERE first_seen < ?", (ts(when),)).fetchone()
        return row[0] or 0

    def count_papers(self) -> int:
        return self.conn.execute("SELECT COUNT(*) FROM papers").fetchone()[0]

    # --- sources --------------------------------------------------------------------------

    def source_state(self, name: str) -> dict:
        rows = list(self.db.query("SELECT * FROM sources WHERE name = ?", [name]))
        return rows[0] if rows else {"name": name, "failures": 0}

    def sources(self) -> list[dict]:
        return list(self.db.query("SELECT * FROM sources ORDER BY name"))

    def record_fetch_ok(
        self,
        name: str,
        kind: str,
        location: str,
        now: datetime,
        new: int,
        known: int,
        etag: str | None,
        last_modified: str | None,
        changed: bool,
        announced: str | None = None,
    ) -> None:
        state = self.source_state(name)
        self._upsert_source(
            {
                "name": name,
                "type": kind,
                "location": location,
                "etag": etag,
                "last_modified": last_modified,
                "last_fetch_at": ts(now),
                "last_ok_at": ts(now),
                "last_change_at": ts(now) if changed else state.get("last_change_at"),
                "last_error": None,
                "failures": 0,
                "last_new": new,
                "last_known": known,
                "last_announced": max(filter(None, [announced, state.get("last_announced")]), default=None),
            }
        )

    def record_fetch_error(self, name: str, kind: str, location: str, now: datetime, error: str) -> None:
        state = self.source_state(name)
        moved = state.get("location") not in (None, location)
        self._upsert_source(
            {
                "name": name,
                "type": kind,
                "location": location,
                # Validators belong to a URL: a source that moved starts afresh.
                **({"etag": None, "last_modified": None} if moved else {}),
                "last_fetch_at": ts(now),
                "last_error": error,
                "failures": (state.get("failures") or 0) + 1,
                "last_new": 0,
                "last_known": 0,
            }
        )

    def _upsert_source(self, fields: dict) -> None:
        # Raw SQL, not sqlite-utils' upsert: that one commits on its own (`with conn:`), which
        # would end any transaction it ran inside.
        cols = ", ".join(fields)
        marks = ", ".join("?" * len(fields))
        updates = ", ".join(f"{c} = excluded.{c}" for c in fields if c != "name")
        with self.transaction() as conn:
            conn.execute(
                f"INSERT INTO sources ({cols}) VALUES ({marks}) ON CONFLICT (name) DO UPDATE SET {updates}",
                list(fields.values()),
            )

    # --- subscribers ----------------------------------------------------------------------

    def sync_subscribers(
        self, subscribers: Iterable[Subscriber], now: datetime | None = None
    ) -> dict[str, int]:
        """Make the YAML subscribers the active set, in one transaction.

        New ones are added, changed ones updated, YAML subscribers no longer listed are
        deactivated (their history kept). `paused` is the database's own state: a subscriber who
        unsubscribed stays unsubscribed whatever the YAML says.
        """
        now_s = ts(now or now_utc())
        counts = {"added": 0, "updated": 0, "unchanged": 0, "deactivated": 0}
        listed = set()
        with self.transaction() as conn:
            for sub in subscribers:
                listed.add(sub.id)
                fields = _subscriber_fields(sub)
                row = conn.execute(
                    "SELECT email, slack, keywords, exclude, authors, categories, schedule, timezone,"
                    " max_papers, active, origin FROM subscribers WHERE id = ?",
                    (sub.id,),
                ).fetchone()
                if row is None:
                    new = {**fields, "id": sub.id, "origin": "yaml", "created_at": now_s, "updated_at": now_s}
                    conn.execute(
                        f"INSERT INTO subscribers ({', '.join(new)}) VALUES ({', '.join('?' * len(new))})",
                        list(new.values()),
                    )
                    counts["added"] += 1
                elif row == (*fields.values(), 1, "yaml"):
                    counts["unchanged"] += 1
                else:
                    changes = {**fields, "active": 1, "origin": "yaml", "updated_at": now_s}
                    conn.execute(
                        f"UPDATE subscribers SET {', '.join(f'{c} = ?' for c in changes)} WHERE id = ?",
                        [*changes.values(), sub.id],
                    )
                    counts["updated"] += 1
            for (sid,) in conn.execute(
                "SELECT id FROM subscribers WHERE origin = 'yaml' AND active = 1"
            ).fetchall():
                if sid not in listed:
                    conn.execute(
                        "UPDATE subscribers SET active = 0, updated_at = ? WHERE id = ?", (now_s, sid)
                    )
                    counts["deactivated"] += 1
        return counts

    def subscribers(self, include_inactive: bool = False) -> list[SubscriberState]:
        where = "" if include_inactive else "WHERE active = 1"
        return [_state_from_row(r) for r in self.db.query(f"SELECT * FROM subscribers {where} ORDER BY id")]

    def subscriber(self, sid: str) -> SubscriberState | None:
        rows = list(self.db.query("SELECT * FROM subscribers WHERE id = ?", [sid]))
        return _state_from_row(rows[0]) if rows else None

    def find_by_slack(self, targets: list[str]) -> SubscriberState | None:
        """The active subscriber delivered to any of these Slack targets (user, channel id or #name)."""
        targets = [t for t in targets if t]
        if not targets:
            return None
        marks = ", ".join("?" * len(targets))
        rows = list(
            self.db.query(
                f"SELECT * FROM subscribers WHERE slack IN ({marks}) ORDER BY active DESC, origin = 'yaml' DESC LIMIT 1",
                targets,
            )
        )
        return _state_from_row(rows[0]) if rows else None

    def save_slack_subscriber(self, sub: Subscriber, now: datetime | None = None) -> None:
        """Create or update a subscriber managed from Slack (origin 'slack')."""
        now_s = ts(now or now_utc())
        fields = {**_subscriber_fields(sub), "active": 1, "paused": int(sub.paused), "updated_at": now_s}
        with self.transaction() as conn:
            exists = conn.execute("SELECT 1 FROM subscribers WHERE id = ?", (sub.id,)).fetchone()
            if exists:
                conn.execute(
                    f"UPDATE subscribers SET {', '.join(f'{c} = ?' for c in fields)} WHERE id = ?",
                    [*fields.values(), sub.id],
                )
            else:
                new = {**fields, "id": sub.id, "origin": "slack", "created_at": now_s}
                conn.execute(
                    f"INSERT INTO subscribers ({', '.join(new)}) VALUES ({', '.join('?' * len(new))})",
                    list(new.values()),
                )

    def set_paused(self, sid: str, paused: bool, now: datetime | None = None) -> bool:
        with self.transaction() as conn:
            cur = conn.execute(
                "UPDATE subscribers SET paused = ?, updated_at = ? WHERE id = ?",
                (int(paused), ts(now or now_utc()), sid),
            )
        return cur.rowcount == 1

    def advance(self, sid: str, seq_to: int, run_at: datetime) -> None:
        """Record a run that found nothing to send: the watermark and run time move on."""
        with self.transaction() as conn:
            conn.execute(
                "UPDATE subscribers SET last_seq = MAX(COALESCE(last_seq, 0), ?), last_run_at = ? WHERE id = ?",
                (seq_to, ts(run_at), sid),
            )

    # --- the ledger -----------------------------------------------------------------------

    def create_digest(
        self,
        sid: str,
        items: list[DigestItem],
        n_matched: int,
        seq_to: int,
        run_at: datetime,
        message_id: str,
        channel: str,
        destination: str,
    ) -> int:
        """Record a digest as pending, its papers, and the subscriber's new watermark, atomically."""
        with self.transaction() as conn:
            cur = conn.execute(
                "INSERT INTO digests (subscriber_id, status, created_at, message_id, seq_to, n_papers,"
                " n_matched, channel, destination) VALUES (?, 'pending', ?, ?, ?, ?, ?, ?, ?)",
                (sid, ts(run_at), message_id, seq_to, len(items), n_matched, channel, destination),
            )
            digest_id = cur.lastrowid
            conn.executemany(
                "INSERT INTO digest_items (digest_id, subscriber_id, paper_seq, rank, score, terms, authors)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)",
                [
                    (
                        digest_id,
                        sid,
                        it.paper.seq,
                        rank,
                        it.score,
                        json.dumps(list(it.terms)),
                        json.dumps(list(it.authors)),
                    )
                    for rank, it in enumerate(items, 1)
                ],
            )
            conn.execute(
                "UPDATE subscribers SET last_seq = MAX(COALESCE(last_seq, 0), ?), last_run_at = ? WHERE id = ?",
                (seq_to, ts(run_at), sid),
            )
        return digest_id

    def mark_sent(self, digest_id: int, now: datetime, destination: str | None = None) -> None:
        with self.transaction() as conn:
            conn.execute(
                "UPDATE digests SET status = 'sent', sent_at = ?, attempts = attempts + 1, last_error = NULL,"
                " next_attempt_at = NULL, destination = COALESCE(?, destination) WHERE id = ?",
                (ts(now), destination, digest_id),
            )

    def set_parts_sent(self, digest_id: int, parts: int) -> None:
        """Record how many messages of a multi-message digest were delivered (Slack)."""
        with self.transaction() as conn:
            conn.execute("UPDATE digests SET parts_sent = ? WHERE id = ?", (parts, digest_id))

    def mark_attempt_failed(self, digest_id: int, error: str, retry_at: datetime | None) -> None:
        """Count a failed attempt; with no retry time the digest is given up as failed."""
        status = "pending" if retry_at is not None else "failed"
        with self.transaction() as conn:
            conn.execute(
                "UPDATE digests SET status = ?, attempts = attempts + 1, last_error = ?, next_attempt_at = ?"
                " WHERE id = ?",
                (status, error, ts(retry_at), digest_id),
            )

    def digest(self, digest_id: int) -> DigestRecord | None:
        rows = list(self.db.query("SELECT * FROM digests WHERE id = ?", [digest_id]))
        return _digest_from_row(rows[0]) if rows else None

    def digests(
        self, status: str | None = None, subscriber_id: str | None = None, limit: int = 1000
    ) -> list[DigestRecord]:
        clauses, params = [], []
        if status:
            clauses.append("status = ?")
            params.append(status)
        if subscriber_id:
            clauses.append("subscriber_id = ?")
            params.append(subscriber_id)
        where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
        return [
            _digest_from_row(r)
            for r in self.db.query(f"SELECT * FROM digests {where} ORDER BY id LIMIT ?", [*params, limit])
        ]

    def retryable_digests(self, now: datetime | None) -> list[DigestRecord]:
        """Pending digests whose retry time has come (all pending ones when `now` is None)."""
        due = "" if now is None else " AND (next_attempt_at IS NULL OR next_attempt_at <= ?)"
        rows = self.db.query(
            f"SELECT * FROM digests WHERE status = 'pending'{due} ORDER BY id",
            [] if now is None else [ts(now)],
        )
        return [_digest_from_row(r) for r in rows]

    def pending_subscribers(self) -> set[str]:
        rows = self.conn.execute("SELECT DISTINCT subscriber_id FROM digests WHERE status = 'pending'")
        return {r[0] for r in rows}

    def digest_items(self, digest_id: int) -> list[DigestItem]:
        rows = self.db.query(
            "SELECT p.*, i.score AS _score, i.terms AS _terms, i.authors AS _authors FROM digest_items i"
            " JOIN papers p ON p.seq = i.paper_seq WHERE i.digest_id = ? ORDER BY i.rank",
            [digest_id],
        )
        return [
            DigestItem(
                _paper_from_row(r),
                r["_score"],
                tuple(json.loads(r["_terms"])),
                tuple(json.loads(r["_authors"])),
            )
            for r in rows
        ]

    def last_sent(self, sid: str) -> DigestRecord | None:
        rows = list(
            self.db.query(
                "SELECT * FROM digests WHERE subscriber_id = ? AND status = 'sent' ORDER BY id DESC LIMIT 1",
                [sid],
            )
        )
        return _digest_from_row(rows[0]) if rows else None

    def delivered_count(self, sid: str) -> int:
        return self.conn.execute(
            "SELECT COUNT(*) FROM digest_items i JOIN digests d ON d.id = i.digest_id"
            " WHERE i.subscriber_id = ? AND d.status = 'sent'",
            (sid,),
        ).fetchone()[0]


def _subscriber_fields(sub: Subscriber) -> dict:
    p = sub.profile
    return {
        "email": sub.email,
        "slack": sub.slack,
        "keywords": json.dumps(list(p.keywords)),
        "exclude": json.dumps(list(p.exclude)),
        "authors": json.dumps(list(p.authors)),
        "categories": json.dumps(list(p.categories)),
        "schedule": sub.schedule,
        "timezone": sub.timezone,
        "max_papers": sub.max_papers,
    }


def _state_from_row(r: dict) -> SubscriberState:
    profile = Profile(
        **{k: tuple(json.loads(r[k])) for k in ("keywords", "exclude", "authors", "categories")}
    )
    sub = Subscriber(
        id=r["id"],
        profile=profile,
        email=r["email"],
        slack=r["slack"],
        schedule=r["schedule"],
        timezone=r["timezone"],
        max_papers=r["max_papers"],
        origin=r["origin"],
        active=bool(r["active"]),
        paused=bool(r["paused"]),
    )
    return SubscriberState(sub, parse_ts(r["last_run_at"]), r["last_seq"], parse_ts(r["created_at"]))


def _paper_from_row(r: dict) -> Paper:
    return Paper(
        key=r["key"],
        title=r["title"],
        abstract=r["abstract"],
        authors=tuple(json.loads(r["authors"])),
        categories=tuple(json.loads(r["categories"])),
        link=r["link"],
        pdf_url=r["pdf_url"],
        arxiv_id=r["arxiv_id"],
        published=parse_ts(r["published"]),
        announce_type=r["announce_type"],
        upvotes=r["upvotes"],
        sources=tuple(json.loads(r["sources"])),
        seq=r["seq"],
        first_seen=parse_ts(r["first_seen"]),
    )


_DIGEST_TIMES = {"created_at", "next_attempt_at", "sent_at"}


def _digest_from_row(r: dict) -> DigestRecord:
    # DigestRecord's fields are the table's columns, by name.
    return DigestRecord(
        **{
            f.name: parse_ts(r[f.name]) if f.name in _DIGEST_TIMES else r[f.name]
            for f in fields(DigestRecord)
        }
    )
