"""The store's one interface: the schema's tables, the shared logic and every query that both
backends run as written. Each backend (sqlite.py, postgres.py) keeps its own SQL beside it:
connecting, transactions, migrations, error mapping, and the few statements that differ.

Tables: `papers` (one row per paper: `seq` = ingestion order and identity, `rev` = the order in
which papers became what they are now: a new paper, or a merge that changed what it can match,
takes the next `rev`), `sources` (fetch state), `subscribers` (profiles, the watermark
`last_seq`, a `rev`, of what their digests have covered, and the worker lease `claimed_by`,
`claimed_until`), `digests` and `digest_items` (the delivery ledger), `feedback`, for the web
pages `web_signups` (sign-ups waiting for their address to confirm) and `rate_events` (the
pages' rate limits), and for several workers `leases` (named jobs such as a source's fetch)
and `rate_slots` (send rates shared by all workers). A paper can appear in one digest per
subscriber only: `digest_items` has a UNIQUE(subscriber_id, paper_seq) constraint, so "never
the same paper twice" holds even against a bug in the code above it.

Statements are written with `?` placeholders and GREATEST(a, b); the PostgreSQL backend binds
`?` as `%s` and SQLite gets GREATEST as a function. Every multi-row change happens in one
transaction: nothing half-written stays.
"""

from __future__ import annotations

import functools
import json
import logging
import re
import unicodedata
from collections.abc import Callable, Iterable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass, fields, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

from ..arxiv_ids import arxiv_id
from ..keys import entry_key, is_uri, short_id
from ..models import UNTITLED, Paper, Profile, Subscriber
from ..text import one_line, unicode_host

log = logging.getLogger(__name__)
T = TypeVar("T")

# 2: digests.parts_sent, sources.last_announced. 3: papers.rev and .revised; digests may be
# 'cancelled' or 'unknown', and count attempts whose outcome was never recorded;
# sources.last_warning; subscribers.likes, .seed_texts, .relevance_floor; feedback.
# 4: the Hugging Face fields of papers (hf_url ... organization) and papers.listed_at (when a
# source last reported the paper's upvotes); subscribers.trending, .sources, .show_ai_summary.
# 5: web_signups (sign-ups waiting for their confirmation) and rate_events (the web's limits).
# 6: leases, rate_slots, subscribers.claimed_by and .claimed_until (several workers).
# 7: the index digest_items_paper (who received a paper, for trending and revised papers);
# papers and likes re-keyed as arxiv_ids reads them now (`_rekey_papers`).
# 8: subscribers.last_run_schedule and .last_run_timezone (what the last digest was due under).
# 9: digests.parts (the messages of a Slack digest that went out in part, for its retry).
# 10: papers under a bare guid re-keyed with their source (`_rekey_papers`); sources.retry_at
# (no fetch before then: the server's Retry-After); papers.authoritative (arXiv gave its record).
# 11: subscribers.email_key (see `address_key`), so both backends compare addresses alike.
# 12: rate_slots.taken_at (the latest clock a slot was taken by: a clock set back is noticed).
SCHEMA_VERSION = 12
# How far ahead of a worker's clock another's may be (clocks under NTP agree far better) before a
# shared rate slot it took counts as taken before this clock was set back (see take_rate_slot).
RATE_CLOCK_SKEW = 30.0  # seconds
# Digest states: pending (to send or retry), sent, failed (given up), cancelled (its subscriber
# paused, unsubscribed or was removed first), unknown (possibly delivered: attempts were made
# whose outcome could not be recorded, so it is not sent again; see `begin_attempt`).
# Every column that holds a subscriber's id, but subscribers.id itself.
_SUBSCRIBER_REFERENCES = (
    ("digests", "subscriber_id"),
    ("digest_items", "subscriber_id"),
    ("feedback", "subscriber_id"),
    ("web_signups", "subscriber"),
)
RECEIVED_BY_SUBSCRIBER = 2000  # up to this many subscribers, `received_among` reads by subscriber
MAX_UNCONFIRMED = 2  # attempts without a recorded outcome before a digest is held as unknown

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
    updated TEXT NOT NULL,
    rev INTEGER,
    revised INTEGER NOT NULL DEFAULT 0,
    hf_url TEXT NOT NULL DEFAULT '',
    github_url TEXT NOT NULL DEFAULT '',
    github_stars INTEGER,
    project_url TEXT NOT NULL DEFAULT '',
    ai_summary TEXT NOT NULL DEFAULT '',
    thumbnail_url TEXT NOT NULL DEFAULT '',
    comments INTEGER,
    organization TEXT NOT NULL DEFAULT '',
    listed_at TEXT,
    authoritative INTEGER NOT NULL DEFAULT 0
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
    last_announced TEXT,
    last_warning TEXT,
    retry_at TEXT
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
    likes TEXT NOT NULL DEFAULT '[]',
    seed_texts TEXT NOT NULL DEFAULT '[]',
    relevance_floor REAL,
    trending INTEGER,
    sources TEXT NOT NULL DEFAULT '[]',
    show_ai_summary INTEGER NOT NULL DEFAULT 0,
    schedule TEXT NOT NULL,
    timezone TEXT NOT NULL,
    max_papers INTEGER NOT NULL,
    active INTEGER NOT NULL DEFAULT 1,
    paused INTEGER NOT NULL DEFAULT 0,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    last_run_at TEXT,
    last_seq INTEGER,
    last_run_schedule TEXT,
    last_run_timezone TEXT,
    email_key TEXT
);
CREATE TABLE IF NOT EXISTS digests (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    subscriber_id TEXT NOT NULL REFERENCES subscribers (id),
    status TEXT NOT NULL CHECK (status IN ('pending', 'sent', 'failed', 'cancelled', 'unknown')),
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
    parts_sent INTEGER NOT NULL DEFAULT 0,
    unconfirmed INTEGER NOT NULL DEFAULT 0,
    attempt_started_at TEXT,
    parts TEXT
);
CREATE INDEX IF NOT EXISTS digests_status ON digests (status, next_attempt_at);
CREATE INDEX IF NOT EXISTS digests_subscriber ON digests (subscriber_id, id);
CREATE TABLE IF NOT EXISTS feedback (
    subscriber_id TEXT NOT NULL REFERENCES subscribers (id),
    paper_seq INTEGER NOT NULL REFERENCES papers (seq),
    vote INTEGER NOT NULL CHECK (vote IN (-1, 1)),
    origin TEXT NOT NULL,
    at TEXT NOT NULL,
    PRIMARY KEY (subscriber_id, paper_seq)
);
CREATE TABLE IF NOT EXISTS digest_items (
    digest_id INTEGER NOT NULL REFERENCES digests (id),
    subscriber_id TEXT NOT NULL,
    paper_seq INTEGER NOT NULL REFERENCES papers (seq),
    rank INTEGER NOT NULL,
    score INTEGER NOT NULL,
    terms TEXT NOT NULL DEFAULT '[]',
    authors TEXT NOT NULL DEFAULT '[]',
    reasons TEXT NOT NULL DEFAULT '[]',
    PRIMARY KEY (digest_id, rank),
    UNIQUE (subscriber_id, paper_seq)
);
CREATE INDEX IF NOT EXISTS digest_items_paper ON digest_items (paper_seq);
CREATE TABLE IF NOT EXISTS web_signups (
    nonce TEXT PRIMARY KEY,
    email TEXT NOT NULL UNIQUE,
    subscriber TEXT NOT NULL,
    created_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS rate_events (
    bucket TEXT NOT NULL,
    at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS rate_events_bucket ON rate_events (bucket, at);
CREATE INDEX IF NOT EXISTS rate_events_at ON rate_events (at);
CREATE TABLE IF NOT EXISTS leases (
    name TEXT PRIMARY KEY,
    holder TEXT NOT NULL,
    expires_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS rate_slots (
    name TEXT PRIMARY KEY,
    next_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS paper_keys (
    old TEXT PRIMARY KEY,
    key TEXT NOT NULL
);
"""


# Schema 4: the Hugging Face fields, when a paper's upvotes were last reported (the trending
# pool's clock), and subscribers' trending, sources and show_ai_summary.
_V4_COLUMNS = [
    ("papers", "hf_url", "TEXT NOT NULL DEFAULT ''"),
    ("papers", "github_url", "TEXT NOT NULL DEFAULT ''"),
    ("papers", "github_stars", "INTEGER"),
    ("papers", "project_url", "TEXT NOT NULL DEFAULT ''"),
    ("papers", "ai_summary", "TEXT NOT NULL DEFAULT ''"),
    ("papers", "thumbnail_url", "TEXT NOT NULL DEFAULT ''"),
    ("papers", "comments", "INTEGER"),
    ("papers", "organization", "TEXT NOT NULL DEFAULT ''"),
    ("papers", "listed_at", "TEXT"),
    ("subscribers", "trending", "INTEGER"),
    ("subscribers", "sources", "TEXT NOT NULL DEFAULT '[]'"),
    ("subscribers", "show_ai_summary", "INTEGER NOT NULL DEFAULT 0"),
]
# Columns added after a table was first released: (table, column, definition). Databases made
# by an older version get them on open.
_ADDED_COLUMNS = [
    ("digests", "parts_sent", "INTEGER NOT NULL DEFAULT 0"),
    ("sources", "last_announced", "TEXT"),
    ("sources", "last_warning", "TEXT"),
    ("subscribers", "likes", "TEXT NOT NULL DEFAULT '[]'"),
    ("digest_items", "reasons", "TEXT NOT NULL DEFAULT '[]'"),
    ("subscribers", "seed_texts", "TEXT NOT NULL DEFAULT '[]'"),
    ("subscribers", "relevance_floor", "REAL"),
    ("papers", "rev", "INTEGER"),
    ("papers", "revised", "INTEGER NOT NULL DEFAULT 0"),
    ("digests", "unconfirmed", "INTEGER NOT NULL DEFAULT 0"),
    ("digests", "attempt_started_at", "TEXT"),
    *_V4_COLUMNS,
    ("subscribers", "claimed_by", "TEXT"),
    ("subscribers", "claimed_until", "TEXT"),
    ("subscribers", "last_run_schedule", "TEXT"),
    ("subscribers", "last_run_timezone", "TEXT"),
    ("digests", "parts", "TEXT"),
    ("sources", "retry_at", "TEXT"),
    ("papers", "authoritative", "INTEGER NOT NULL DEFAULT 0"),
    ("subscribers", "email_key", "TEXT"),
    ("rate_slots", "taken_at", "REAL"),
]
_AFTER_COLUMNS = [
    "UPDATE papers SET rev = seq WHERE rev IS NULL",
    "CREATE UNIQUE INDEX IF NOT EXISTS papers_rev ON papers (rev)",
    # papers with upvotes before schema 4: listed when last updated (the trending pool's clock)
    "UPDATE papers SET listed_at = updated WHERE listed_at IS NULL AND upvotes IS NOT NULL",
    "CREATE INDEX IF NOT EXISTS papers_listed_at ON papers (listed_at)",
    # schema 10: papers an arXiv listing reported (its announce type) have arXiv's record
    "UPDATE papers SET authoritative = 1 WHERE announce_type IS NOT NULL AND authoritative = 0",
    "CREATE INDEX IF NOT EXISTS subscribers_email_key ON subscribers (email_key)",
]


# Text neither backend holds as it is: NUL (PostgreSQL's text refuses it, SQLite took it, so the
# same fetch worked on one and failed on the other, and a SQLite database holding one could not
# be migrated) and lone surrogates (not UTF-8: JSON's "\ud800" escape makes them). Every
# statement's text parameters have U+FFFD in their place, on both backends alike, so a value is
# stored, and looked up again, the same way on both.
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
_SURROGATE = re.compile("[\ud800-\udfff]")


def idempotent(method: Callable[..., T]) -> Callable[..., T]:
    """A store method whose second run leaves the rows as one run does, whether or not the
    first committed: run again on a new connection when the connection was lost under it (a
    `mark_sent` lost so made the digest "delivered but could not be recorded", sent again)."""

    @functools.wraps(method)
    def run(self: Store, *args, **kwargs):
        return self._again_if_lost(lambda: method(self, *args, **kwargs))

    return run


def storable(params: Iterable) -> tuple:
    """A statement's parameters as both backends store them (see _UNSTORABLE). Every statement
    passes here: the usual case (nothing to replace) is checked cheaply and returned as it is."""
    params = tuple(params)
    for p in params:
        if isinstance(p, str) and ("\x00" in p or (not p.isascii() and _SURROGATE.search(p))):
            return tuple(_UNSTORABLE.sub("\ufffd", q) if isinstance(q, str) else q for q in params)
    return params


def _first_columns() -> dict[str, list[str]]:
    """Each table's columns in _SCHEMA but those added later (_ADDED_COLUMNS): what a table of
    the same name has if digestbot made it."""
    added = {(t, c) for t, c, _ in _ADDED_COLUMNS}
    tables = {}
    for m in re.finditer(r"CREATE TABLE IF NOT EXISTS (\w+) \((.*?)\n\);", _SCHEMA, re.DOTALL):
        words = (line.split()[0] for line in m.group(2).splitlines() if line.strip())
        tables[m.group(1)] = [
            w for w in words if w not in ("PRIMARY", "UNIQUE") and (m.group(1), w) not in added
        ]
    return tables


_FIRST_COLUMNS = _first_columns()
# The tables of the first release: every database a digestbot numbered has them.
_FIRST_TABLES = ("papers", "sources", "subscribers", "digests", "digest_items")


# A paper's key fits PostgreSQL's index on it (about 2,700 bytes a row; SQLite's takes any
# length): one long key failed a whole fetch there. Sources make keys of at most about
# keys.MAX_ID characters; the store holds any to this bound, as `short_id` shortens them.
MAX_KEY = 600  # characters: at most 2,400 bytes of UTF-8


def stored_key(key: str) -> str:
    """A paper's key as stored: itself up to MAX_KEY characters, else its beginning and a hash
    of all of it (`keys.short_id`: the form a source gives a long id). The same key always
    gives the same."""
    return short_id(key, MAX_KEY)


class StoreError(Exception):
    """The database cannot be used (newer version, corrupt, read-only...); one line says why."""


class StoreWriteError(StoreError):
    """A write failed (disk full, I/O error, read-only): nothing more is sent until it works."""


class RatingRefused(StoreError):
    """A rating the ledger does not allow (a paper not stored, or one the subscriber never
    received): the request's fault, where any other StoreError is the database's."""


class DigestGone(RatingRefused):
    """A rating for a digest no longer sent (removed from the YAML, and no digest took its
    place): no digest would ever use it, so it is not recorded."""


class StoreUrlError(StoreError):
    """The database URL holds a connection option PostgreSQL's client library refuses
    (`sslmode=bogus`), or names a database or role the server does not have or does not let
    in (a wrong or missing password, no LOGIN or CONNECT right, SSL it does not offer): a
    mistake in the setting, which no wait mends; the message says which."""


class ClaimLost(StoreError):
    """This worker's claim on the subscriber ran out (unrenewed: another worker may hold it and
    send the digest now): nothing was written."""


class StoreOutdated(StoreError):
    """Opened with `upgrade=False`, the database is at an older schema (`version`; 0: it has
    none yet): it was left as it is, for the first command that uses it to upgrade."""

    def __init__(self, message: str, version: int):
        super().__init__(message)
        self.version = version


class StoreDamaged(StoreError):
    """The database file is damaged (a page that does not read): nothing digestbot does can
    mend it; a backup must be restored."""


# A time recorded further ahead of the clock than this was recorded before the clock was set
# back (NTP, an operator, a dead RTC battery): how long ago it was is unknown.
CLOCK_AHEAD = timedelta(seconds=30)


def now_utc() -> datetime:
    return datetime.now(UTC)


def ts(dt: datetime | None) -> str | None:
    """A UTC timestamp as stored: fixed-width ISO 8601, so text order is time order. The year is
    written with four digits by hand: strftime's `%Y` drops the leading zeros of years < 1000."""
    if dt is None:
        return None
    try:
        u = dt.astimezone(UTC) if dt.tzinfo else dt.replace(tzinfo=UTC)
    except OverflowError:  # year 1 at UTC+5, year 9999 at UTC-5: no such UTC time; unknown
        return None
    return f"{u.year:04d}-{u:%m-%dT%H:%M:%S.%f}Z"


def parse_ts(text: str | None) -> datetime | None:
    """A stored timestamp back; also reads the unpadded years older versions wrote. Raises
    ValueError on anything else (the callers skip such a row and log it)."""
    if not text:
        return None
    try:
        return datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)
    except ValueError:
        year, _, rest = text.partition("-")
        if not (year.isdigit() and len(year) < 4):
            raise
        return datetime.strptime(f"{int(year):04d}-{rest}", "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)


@dataclass(frozen=True)
class SubscriberState:
    """A subscriber as stored, with its ledger position."""

    subscriber: Subscriber
    last_run_at: datetime | None
    last_seq: int | None
    created_at: datetime
    # the schedule and timezone the last run was due under (None: before schema 8, or inherited)
    last_run_under: tuple[str, str] | None = None

    @property
    def schedule_moved(self) -> tuple[str, str] | None:
        """The schedule and timezone the last run was due under, if they changed since."""
        now_under = (self.subscriber.schedule, self.subscriber.timezone)
        return self.last_run_under if self.last_run_under not in (None, now_under) else None


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
    unconfirmed: int = 0  # attempts started whose outcome was never recorded
    attempt_started_at: datetime | None = None


@dataclass(frozen=True)
class DigestItem:
    paper: Paper
    score: int
    terms: tuple[str, ...]
    authors: tuple[str, ...]
    reasons: tuple[str, ...] = ()


def is_postgres(target: str | Path) -> bool:
    """Whether a --db / DIGESTBOT_DB / `database:` value names a PostgreSQL database."""
    return str(target).lower().startswith(("postgresql://", "postgres://"))  # a scheme is any case


class Store:
    """The project's one door to the database. `Store(target)` opens SQLite for a file path and
    PostgreSQL for a `postgresql://` URL; both offer the same methods and guarantees."""

    backend = "?"  # "sqlite" or "postgresql"
    path: Any  # the file (SQLite) or the URL with its password masked (PostgreSQL)
    conn: Any  # the DB-API connection: backends' and tests' raw access
    target: Any  # what opens this database again: the file path, or the full URL
    # Asked while the store waits for its database (a PostgreSQL connect, a reconnect): true
    # cuts the wait short, so a stopping worker is not held past systemd's TimeoutStopSec.
    should_stop: Callable[[], bool] = staticmethod(lambda: False)
    upgrade = True  # False: open to read only (`check`), neither creating nor upgrading the schema

    def __new__(cls, target: str | Path, *args, **kwargs):
        if cls is Store:
            if is_postgres(target):
                from .postgres import PostgresStore as cls  # psycopg is loaded only when used
            else:
                from .sqlite import SqliteStore as cls
        return super().__new__(cls)

    # --- what each backend provides ------------------------------------------------------

    def _exec(self, sql: str, params: Iterable = ()) -> Any:
        """Run one statement; returns its cursor (tuples; `fetchone`, `fetchall`, `rowcount`)."""
        raise NotImplementedError

    def _exec_many(self, sql: str, rows: Iterable[Iterable]) -> None:
        raise NotImplementedError

    def _rows(self, sql: str, params: Iterable = ()) -> list[dict]:
        """Run one query; its rows as dicts by column name."""
        raise NotImplementedError

    def transaction(self, serial: bool = True) -> AbstractContextManager:
        """All or nothing; a write the database refuses is a StoreWriteError. `serial` (the
        default) makes the transaction one writer at a time, as SQLite's BEGIN IMMEDIATE;
        PostgreSQL lets the ledger's row-level updates run side by side with `serial=False`."""
        raise NotImplementedError

    def snapshot(self) -> AbstractContextManager:
        """Reads of the whole database as of one moment, while writers go on alongside (what
        `migrate` copies); writes inside are not allowed."""
        raise NotImplementedError

    @property
    def in_transaction(self) -> bool:
        raise NotImplementedError

    def _again_if_lost(self, run: Callable[[], T]) -> T:
        """`run()`, and once more if the connection to the database was lost under it (see
        `idempotent`); a file (SQLite) has no connection to lose."""
        return run()

    def close(self) -> None:
        self.conn.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def ping(self) -> bool:
        return tuple(self._exec("SELECT 1").fetchone()) == (1,)

    def schema_version(self) -> int:
        """The schema the database is at now (another worker may have upgraded it)."""
        raise NotImplementedError

    def _refuse_newer(self, version: int) -> None:
        """Checked on open, before anything is written: an older digestbot must not touch it."""
        if version > SCHEMA_VERSION:
            raise StoreError(
                f"the database {self.path} was made by a newer digestbot (schema {version}; this one "
                f"knows up to {SCHEMA_VERSION}): upgrade digestbot, or point --db at another database. "
                "It was left untouched."
            )

    def _refuse_outdated(self, version: int) -> None:
        """Opened with `upgrade=False`: an older schema (or none yet) is left as it is."""
        if not self.upgrade and version < SCHEMA_VERSION:
            raise StoreOutdated(
                f"the database {self.path} is at schema {version}; the first command that uses it upgrades it"
                f" to {SCHEMA_VERSION}",
                version,
            )

    def _table_names(self) -> set[str]:
        """The tables the database has where digestbot would make its own."""
        raise NotImplementedError

    def _refuse_foreign_tables(self, version: int = 0) -> None:
        """Checked on open, before anything is written: a table of another application that has
        one of digestbot's names (`subscribers`, `sources`...) must not be taken for digestbot's
        and have its columns added to it (a table of the first release, made before the schema
        was numbered, has them all); nor a database another application numbered `version` (its
        own SQLite user_version) for an older digestbot's: every one has the first tables."""
        tables = self._table_names()
        missing = [t for t in _FIRST_TABLES if t not in tables] if version else []
        if missing:
            raise StoreError(
                f"{self.path} is not a digestbot database: it is marked as schema {version} but has no table"
                f" {missing[0]} (another application's file?). It was left untouched: point --db at a"
                " database of digestbot's own."
            )
        if version == SCHEMA_VERSION:
            return  # this digestbot's own tables
        for table in sorted(tables & _FIRST_COLUMNS.keys()):
            have = {d[0] for d in self._exec(f"SELECT * FROM {table} LIMIT 0").description}
            missing = [c for c in _FIRST_COLUMNS[table] if c not in have]
            if missing:
                raise StoreError(
                    f"{self.path} is not a digestbot database: it has a table {table} without the column"
                    f" {missing[0]} (another application's?). It was left untouched: point --db at a database"
                    " of digestbot's own (on PostgreSQL, another database or schema)."
                )

    # The claim of due subscribers (see claim_subscribers); PostgreSQL adds its row lock (SQLite
    # needs none: BEGIN IMMEDIATE keeps other writers out).
    _CLAIM_LOCK = ""
    # A subscriber's row kept locked by a statement that reads it (SQLite: one writer at a time).
    _HOLD_LOCK = ""
    # The start of an attempt, only while the claim (`held`) on the digest's subscriber holds.
    _BEGIN_ATTEMPT = (
        "WITH held AS (SELECT id FROM subscribers WHERE id = (SELECT subscriber_id FROM digests WHERE id = ?)"
        "{held}{lock}) UPDATE digests SET unconfirmed = unconfirmed + 1, attempt_started_at = ?"
        " WHERE id = ? AND subscriber_id IN (SELECT id FROM held) RETURNING id"
    )
    _CLAIM_SUBSCRIBERS = (
        "UPDATE subscribers SET claimed_by = ?, claimed_until = ? WHERE id IN ("
        "SELECT id FROM subscribers WHERE id IN ({ids}) AND (claimed_until IS NULL OR claimed_until <= ?)"
        " ORDER BY id LIMIT ?{lock}) RETURNING id"
    )

    def check_schema(self) -> None:
        """Refuse, politely, to go on with a database a newer digestbot has upgraded meanwhile."""
        version = self.schema_version()
        if version > SCHEMA_VERSION:
            raise StoreError(
                f"the database {self.path} was upgraded to schema {version} by a newer digestbot while this"
                f" one (schema {SCHEMA_VERSION}) was running: this worker stops; upgrade it and start it again"
            )

    # --- papers ---------------------------------------------------------------------------

    def add_papers(
        self,
        papers: Iterable[Paper],
        source: str,
        now: datetime | None = None,
        authoritative: bool = False,
        seed_only: bool = False,
    ) -> tuple[int, int]:
        """Store papers from one fetch in one transaction; returns (new, already known).

        A paper already stored (same key) is merged (see `merge_papers`). A new paper, or a merge
        that changes what a paper can match (title, abstract, authors, categories), takes the next
        `rev`, so digests built after it consider the paper again; a merge that changes only
        mutable fields (upvotes, comments, links, stars) keeps its `rev`. A report with upvotes
        sets `listed_at` (see `trending_pool`). `seed_only` papers (fetched because someone liked
        them) get no `rev`: they are never new to anyone until a source lists them. The first
        report of a paper by a source that some subscriber's `sources:` names is a revision too:
        to that subscriber the paper is new now, whichever source reported it first.
        """
        now_s = ts(now or now_utc())
        new = known = 0
        with self.transaction():
            next_rev = self._exec("SELECT COALESCE(MAX(rev), 0) FROM papers").fetchone()[0] + 1
            taken_alone = not seed_only and source in self._sources_named()  # seed-only: no rev anyway
            for paper in papers:
                paper = replace(paper, key=stored_key(paper.key))
                row = next(iter(self._rows("SELECT * FROM papers WHERE key = ?", [paper.key])), None)
                if row is None:
                    self._exec(
                        f"INSERT INTO papers ({_PAPER_COLUMNS}, sources, first_seen, updated, rev, listed_at,"
                        f" authoritative) VALUES ({_PAPER_MARKS}, ?, ?, ?, ?, ?, ?)",
                        (
                            *_paper_values(paper),
                            json.dumps([source]),
                            now_s,
                            now_s,
                            None if seed_only else next_rev,
                            _listed(paper, now_s),
                            int(authoritative),
                        ),
                    )
                    next_rev += not seed_only
                    new += 1
                    continue
                old = _readable_paper(row)  # None: a row an older version broke; it is rewritten
                merged = merge_papers(old, paper, authoritative, bool(row["authoritative"])) if old else paper
                changed = (
                    old is None
                    or _match_fields(merged) != _match_fields(old)
                    or (taken_alone and source not in old.sources)
                )
                bump = not seed_only and (changed or row["rev"] is None)
                sources = list(dict.fromkeys((*(old.sources if old else ()), source)))
                self._exec(
                    f"UPDATE papers SET ({_PAPER_COLUMNS}, sources, updated, rev, revised, listed_at,"
                    f" authoritative) = ({_PAPER_MARKS}, ?, ?, COALESCE(?, rev), GREATEST(revised, ?),"
                    " COALESCE(?, listed_at), GREATEST(authoritative, ?)) WHERE key = ?",
                    (
                        *_paper_values(merged),
                        json.dumps(sources),
                        now_s,
                        next_rev if bump else None,
                        int(bump),
                        _listed(paper, now_s),
                        int(authoritative),
                        paper.key,
                    ),
                )
                next_rev += bump
                known += 1
        return new, known

    def _sources_named(self) -> set[str]:
        """The sources that active subscribers' `sources:` lists name."""
        rows = self._exec("SELECT sources FROM subscribers WHERE active = 1 AND sources <> '[]'").fetchall()
        return {name for row in rows for name in json.loads(row[0])}

    def paper(self, key: str) -> Paper | None:
        """The paper with this key, or with the key it had before an upgrade re-keyed it."""
        rows = list(self._rows("SELECT * FROM papers WHERE key = ?", [stored_key(key)]))
        if not rows:
            rows = list(
                self._rows(
                    "SELECT p.* FROM paper_keys k JOIN papers p ON p.key = k.key WHERE k.old = ?", [key]
                )
            )
        return _readable_paper(rows[0]) if rows else None

    def papers_after(self, rev: int, upto: int | None = None, batch: int = 1000) -> Iterator[Paper]:
        """Papers with rev in (rev, upto], in that order, read in batches. A row that cannot be
        read is logged and skipped: one bad paper never stops a digest."""
        upto = self.max_rev() if upto is None else upto
        while rev < upto:
            rows = list(
                self._rows(
                    "SELECT * FROM papers WHERE rev > ? AND rev <= ? ORDER BY rev LIMIT ?", [rev, upto, batch]
                )
            )
            if not rows:
                return
            for row in rows:
                paper = _readable_paper(row)
                if paper is not None:
                    yield paper
            rev = rows[-1]["rev"]

    def max_rev(self) -> int:
        """The newest paper revision: where a digest built now stops (its `seq_to`)."""
        return self._exec("SELECT COALESCE(MAX(rev), 0) FROM papers").fetchone()[0]

    def last_rev_before(self, when: datetime) -> int:
        """Where a first digest starts: just before the lowest rev of the papers first seen
        since `when` (the newest rev if there are none). Not the highest rev of the papers seen
        before `when`: a paper seen long ago and revised since has a rev above them all."""
        row = self._exec("SELECT MIN(rev) FROM papers WHERE first_seen >= ?", (ts(when),)).fetchone()
        return row[0] - 1 if row[0] is not None else self.max_rev()

    def newest_arrival(self, now: datetime, sources: Iterable[str] = ()) -> datetime | None:
        """When the newest paper a source brought (not one only fetched for a like) arrived,
        up to `now`; with `sources`, one of these reported; None before any."""
        names = sorted(sources)
        # `sources` holds the names as a JSON list: each one is its JSON string in it
        reported = " OR ".join("sources LIKE ? ESCAPE '!'" for _ in names)
        row = self._exec(
            "SELECT MAX(first_seen) FROM papers WHERE rev IS NOT NULL AND first_seen <= ?"
            + (f" AND ({reported})" if names else ""),
            (ts(now), *(f"%{_like_text(json.dumps(n))}%" for n in names)),
        ).fetchone()
        return parse_ts(row[0])

    def _rekey_papers(self) -> None:
        """Part of the schema 7 upgrade (and of any later one: it changes nothing twice), in
        its transaction: papers stored under a key that `arxiv_id` now reads as an arXiv id (a
        Hugging Face paper link as a feed's guid, an old-style id with its subject class or
        capitals) take the key a new report of them gets, so that report is the same paper,
        not a new one sent again; so do papers under a bare guid (schema 10: it is qualified by
        the source that first reported it, see `keys.entry_key`). Liked ids are rewritten the
        same way. A paper stored under both keys keeps both rows, as before."""
        rows = self._rows(
            # substr, not LIKE: SQLite's LIKE ignores ASCII case, PostgreSQL's does not
            "SELECT seq, key, link, sources FROM papers WHERE substr(key, 1, 6) <> 'arxiv:' OR key LIKE 'arxiv:%/%'"
        )
        for row in rows:
            key = row["key"]
            aid = (
                arxiv_id(key.removeprefix("arxiv:"))
                if key.startswith("arxiv:")
                else arxiv_id(key, row["link"])
            )
            new = f"arxiv:{aid}" if aid else _local_key(key, row["sources"])
            if new != key and self._exec("SELECT 1 FROM papers WHERE key = ?", (new,)).fetchone() is None:
                self._exec("UPDATE papers SET key = ?, arxiv_id = ? WHERE seq = ?", (new, aid, row["seq"]))
                # Digests sent before carry the old key in their signed rating links and buttons
                # (an old key past what PostgreSQL indexes, a few kilobytes, is not kept: a copy
                # into PostgreSQL would fail on it).
                if len(key.encode("utf-8", "surrogatepass")) <= MAX_FORMER_KEY_BYTES:
                    self._exec(
                        "INSERT INTO paper_keys (old, key) VALUES (?, ?) ON CONFLICT (old) DO UPDATE SET key = ?",
                        (key, new, new),
                    )
        for row in self._rows("SELECT id, likes FROM subscribers WHERE likes LIKE '%/%'"):
            likes = json.loads(row["likes"])
            read = list(dict.fromkeys(arxiv_id(a) or a for a in likes))
            if read != likes:
                self._exec("UPDATE subscribers SET likes = ? WHERE id = ?", (json.dumps(read), row["id"]))

    def _key_addresses(self) -> None:
        """Part of the schema 11 upgrade (and of any later one), in its transaction: every
        subscriber's `email_key` from its address (also refreshing any an older worker left)."""
        rows = self._exec("SELECT id, email, email_key FROM subscribers").fetchall()
        self._exec_many(
            "UPDATE subscribers SET email_key = ? WHERE id = ?",
            [(address_key(e), sid) for sid, e, k in rows if address_key(e) != k],
        )

    def received(self, sid: str, paper_seq: int) -> bool:
        """Whether the paper is in one of the subscriber's digests already (any state)."""
        row = self._exec(
            "SELECT 1 FROM digest_items WHERE subscriber_id = ? AND paper_seq = ?", (sid, paper_seq)
        ).fetchone()
        return row is not None

    def trending_pool(self, since: datetime, upto: int) -> list[tuple[Paper, datetime]]:
        """Papers with rev at most `upto` whose upvotes a source reported at or after `since`,
        each with when that last happened; most upvoted first (then newest)."""
        rows = self._rows(
            "SELECT * FROM papers WHERE listed_at >= ? AND upvotes IS NOT NULL AND rev <= ?"
            " ORDER BY upvotes DESC, seq DESC",
            [ts(since), upto],
        )
        pool = []
        for row in rows:
            paper = _readable_paper(row)
            listed = _readable(lambda r: parse_ts(r["listed_at"]), "paper")(row)
            if paper is not None and listed is not None:
                pool.append((paper, listed))
        return pool

    def received_among(
        self,
        seqs: Iterable[int],
        subscriber_ids: Iterable[str] | None = None,
        handed_over: dict[str, list[str]] | None = None,
    ) -> dict[str, set[int]]:
        """Which subscribers (of `subscriber_ids`, or all) have which of these papers in one of
        their digests (any state), or got them at the same address or Slack target from a
        subscriber they took over from (see `handed_over`; pass its result when calling often),
        in a digest sent or possibly delivered: one inbox never gets the same paper twice. A few
        subscribers are looked up by (subscriber, paper), so a paper thousands received costs
        nothing; many, by paper (one read of its recipients)."""
        seqs, sids = list(dict.fromkeys(seqs)), None if subscriber_ids is None else set(subscriber_ids)
        out = self._received_own(seqs, sids)
        formers = self.handed_over() if handed_over is None else handed_over
        for who, who_marks in _in_chunks(sorted(formers), 250):
            for chunk, marks in _in_chunks(seqs, 250):
                rows = self._exec(
                    "SELECT i.subscriber_id, i.paper_seq FROM digest_items i"
                    " JOIN digests d ON d.id = i.digest_id AND d.status IN ('sent', 'unknown')"
                    f" WHERE i.subscriber_id IN ({who_marks}) AND i.paper_seq IN ({marks})",
                    [*who, *chunk],
                )
                for former, seq in rows:
                    for sid in formers[former]:
                        if sids is None or sid in sids:
                            out.setdefault(sid, set()).add(seq)
        return out

    def handed_over(self) -> dict[str, list[str]]:
        """Each inactive subscriber sharing an address or a Slack target with active ones (a web
        sign-up the YAML took over, a Slack user's own digest, and back), with those: what it
        delivered there counts as theirs. Usually empty; one pass over the subscribers."""
        places: dict[tuple[str, str], tuple[list[str], list[str]]] = {}  # place: (active, inactive)
        for row in self._rows(  # (a join on `slack`, which has no index, would be N x N)
            "SELECT id, active, email_key, slack FROM subscribers"
            " WHERE email_key IN (SELECT email_key FROM subscribers WHERE active = 0)"
            " OR slack IN (SELECT slack FROM subscribers WHERE active = 0)"
        ):
            for place in (("email", row["email_key"]), ("slack", row["slack"])):
                if place[1] is not None:
                    places.setdefault(place, ([], []))[0 if row["active"] else 1].append(row["id"])
        formers: dict[str, list[str]] = {}
        for active, inactive in places.values():
            for former in inactive if active else ():
                formers.setdefault(former, []).extend(active)
        return formers

    def _received_own(self, seqs: list[int], sids: set[str] | None) -> dict[str, set[int]]:
        out: dict[str, set[int]] = {}
        if sids is not None and len(sids) <= RECEIVED_BY_SUBSCRIBER:
            for who, who_marks in _in_chunks(sorted(sids), 250):
                for chunk, marks in _in_chunks(seqs, 250):
                    rows = self._exec(
                        "SELECT subscriber_id, paper_seq FROM digest_items"
                        f" WHERE subscriber_id IN ({who_marks}) AND paper_seq IN ({marks})",
                        [*who, *chunk],
                    )
                    for sid, seq in rows:
                        out.setdefault(sid, set()).add(seq)
            return out
        for chunk, marks in _in_chunks(seqs):
            rows = self._exec(
                f"SELECT subscriber_id, paper_seq FROM digest_items WHERE paper_seq IN ({marks})",
                chunk,
            )
            for sid, seq in rows:
                if sids is None or sid in sids:
                    out.setdefault(sid, set()).add(seq)
        return out

    def keys_by_link(self, link: str) -> list[str]:
        """The keys of the stored papers with this link (a post keyed by its guid is known to
        its reader by its link), oldest first."""
        return [row[0] for row in self._exec("SELECT key FROM papers WHERE link = ? ORDER BY seq", (link,))]

    def papers_by_keys(self, keys: Iterable[str]) -> list[Paper]:
        """Stored papers with these keys (those that exist), in no particular order."""
        keys = list(dict.fromkeys(map(stored_key, keys)))
        found: list[Paper] = []
        for chunk, marks in _in_chunks(keys):
            rows = self._rows(f"SELECT * FROM papers WHERE key IN ({marks})", chunk)
            found += [p for p in map(_readable_paper, rows) if p is not None]
        return found

    # --- feedback -------------------------------------------------------------------------

    def set_feedback(
        self, sid: str, paper_seq: int, vote: int | None, origin: str, now: datetime | None = None
    ) -> None:
        """Record a thumbs up (+1) or down (-1), or clear it (None). One row per subscriber and
        paper, so a thousand clicks are one rating. Only for a paper the subscriber received
        (itself, or a subscriber it took over from: see `handed_over`): anything else is
        RatingRefused. A rating for a subscriber another took over from (a link or button sent
        before the hand-over) is that one's."""
        with self.transaction():
            formers = self.handed_over()
            taken = self._taken_over(formers)
            if self.digest_gone(sid, taken):
                raise DigestGone(f"no digest goes to {sid} any more: a rating would change nothing")
            for heir in taken.get(sid) or [sid]:
                if paper_seq not in self.received_among([paper_seq], [heir], formers).get(heir, ()):
                    raise RatingRefused(
                        f"{heir} never received that paper: only papers from their digests can be rated"
                    )
                self._set_vote(heir, paper_seq, vote, origin, now)
                # The ratings of those it took over from count as its own (`feedback`): this one replaces them.
                for former in (f for f, heirs in taken.items() if heir in heirs):
                    self._exec(
                        "DELETE FROM feedback WHERE subscriber_id = ? AND paper_seq = ?", (former, paper_seq)
                    )

    def digest_gone(self, sid: str, taken: dict[str, list[str]] | None = None) -> bool:
        """Whether `sid` is a YAML digest no longer sent (removed from the YAML) that no other
        digest took over (`_taken_over`, or `taken` as it gave): its ratings would count for
        nobody. (A web digest its reader unsubscribed, or a Slack one the YAML took over, may
        come back: it keeps its ratings.)"""
        state = self.subscriber(sid)
        if state is None or state.subscriber.active or state.subscriber.origin != "yaml":
            return False
        return sid not in (self._taken_over(self.handed_over()) if taken is None else taken)

    def rated_for(self, sid: str) -> list[SubscriberState]:
        """The digests a rating made for `sid` counts for (`set_feedback`): those that took its
        place (`_taken_over`), else itself (none when it is not stored)."""
        heirs = self._taken_over(self.handed_over()).get(sid) or [sid]
        return [state for state in map(self.subscriber, heirs) if state is not None]

    def _set_vote(
        self, sid: str, paper_seq: int, vote: int | None, origin: str, now: datetime | None
    ) -> None:
        if vote is None:
            self._exec("DELETE FROM feedback WHERE subscriber_id = ? AND paper_seq = ?", (sid, paper_seq))
            return
        self._exec(
            "INSERT INTO feedback (subscriber_id, paper_seq, vote, origin, at) VALUES (?, ?, ?, ?, ?)"
            " ON CONFLICT (subscriber_id, paper_seq) DO UPDATE SET vote = excluded.vote,"
            " origin = excluded.origin, at = excluded.at",
            (sid, paper_seq, vote, origin, ts(now or now_utc())),
        )

    def rate(self, sid: str, key: str, vote: int | None, origin: str) -> Paper:
        """`set_feedback` for the paper with this key; RatingRefused for a paper that is not
        stored or that the subscriber never received. Returns the paper."""
        paper = self.paper(key)
        if paper is None or paper.seq is None:
            raise RatingRefused(f"no paper {key!r} in the database")
        self.set_feedback(sid, paper.seq, vote, origin)
        return paper

    def feedback(
        self, sids: Iterable[str], handed_over: dict[str, list[str]] | None = None
    ) -> dict[str, dict[str, int]]:
        """Each subscriber's ratings: paper key -> +1 or -1. Those of a subscriber it took over
        from (`_taken_over`; pass `handed_over`'s result when calling often) count as its own,
        the latest rating of a paper winning: a reader moved from Slack to the YAML keeps them."""
        raters = {sid: [sid] for sid in sids}
        taken = self._taken_over(self.handed_over() if handed_over is None else handed_over)
        for former, heirs in taken.items():
            for heir in heirs:
                if heir in raters:
                    raters[heir].append(former)
        votes = self._votes(sorted({r for who in raters.values() for r in who}))
        out: dict[str, dict[str, int]] = {}
        for sid, who in raters.items():
            latest: dict[str, tuple[str, int]] = {}
            for rater in who:  # its own first: it wins a tie
                for key, (at, vote) in votes.get(rater, {}).items():
                    if key not in latest or at > latest[key][0]:
                        latest[key] = (at, vote)
            out[sid] = {key: vote for key, (_, vote) in latest.items()}
        return out

    def _taken_over(self, formers: dict[str, list[str]]) -> dict[str, list[str]]:
        """Of `handed_over`'s pairs, those where a digest of another origin took the place over
        (a YAML entry superseding a Slack or web digest, or one coming back after it): ratings
        pass on there. Two digests of one origin at one place (a channel's two YAML digests,
        one since removed) are two digests, on two topics: their ratings stay apart."""
        ids = sorted({x for former, heirs in formers.items() for x in (former, *heirs)})
        origins: dict[str, str] = {}
        for chunk, marks in _in_chunks(ids):
            origins.update(self._exec(f"SELECT id, origin FROM subscribers WHERE id IN ({marks})", chunk))
        taken = {f: [h for h in heirs if origins.get(h) != origins.get(f)] for f, heirs in formers.items()}
        return {former: heirs for former, heirs in taken.items() if heirs}

    def _votes(self, sids: list[str]) -> dict[str, dict[str, tuple[str, int]]]:
        """Each subscriber's own ratings: paper key -> (when, vote)."""
        out: dict[str, dict[str, tuple[str, int]]] = {}
        for chunk, marks in _in_chunks(sids):
            rows = self._exec(
                "SELECT f.subscriber_id, p.key, f.at, f.vote FROM feedback f JOIN papers p ON p.seq = f.paper_seq"
                f" WHERE f.subscriber_id IN ({marks})",
                chunk,
            )
            for sid, key, at, vote in rows:
                out.setdefault(sid, {})[key] = (at, vote)
        return out

    def missing_likes(self, liked: Iterable[str] | None = None) -> list[str]:
        """arXiv ids liked (by active subscribers, or those given) that are not stored yet."""
        liked = (
            set(liked)
            if liked is not None
            else {a for st in self.subscribers() for a in st.subscriber.profile.likes}
        )
        have = {p.arxiv_id for p in self.papers_by_keys(f"arxiv:{a}" for a in liked)}
        return sorted(liked - have)

    def count_papers(self) -> int:
        return self._exec("SELECT COUNT(*) FROM papers").fetchone()[0]

    def count_papers_after(self, rev: int) -> int:
        """How many papers are new or changed since revision `rev` (what a digest from there reads)."""
        return self._exec("SELECT COUNT(*) FROM papers WHERE rev > ?", (rev,)).fetchone()[0]

    # --- sources --------------------------------------------------------------------------

    def source_state(self, name: str) -> dict:
        rows = list(self._rows("SELECT * FROM sources WHERE name = ?", [name]))
        return _clean_source_row(rows[0]) if rows else {"name": name, "failures": 0}

    def sources(self) -> list[dict]:
        rows = sorted(self._rows("SELECT * FROM sources"), key=lambda r: r["name"])  # see _first
        return [_clean_source_row(r) for r in rows]

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
        warnings: Iterable[str] = (),
        retry_at: datetime | None = None,
    ) -> None:
        """A fetch that worked; `warnings` (what the parser recovered from) are kept for `status`;
        `retry_at`: no fetch before then (a Retry-After its catch-up got)."""
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
                "last_warning": "; ".join(warnings)[:1000] or None,
                "retry_at": ts(retry_at),
            }
        )

    def record_fetch_error(
        self, name: str, kind: str, location: str, now: datetime, error: str, retry_at: datetime | None = None
    ) -> None:
        """A fetch that failed; `retry_at`: no fetch before then (the server's Retry-After)."""
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
                "retry_at": ts(retry_at),
            }
        )

    def clear_source_problems(self, name: str) -> None:
        """Forget the last warning and error of a source with nothing left to fetch (the
        liked papers once every id arXiv did not know is liked no more): `status` and `check`
        kept naming ids nobody likes. Writes only when there is something to forget."""
        state = self.source_state(name)
        if state.get("last_warning") or state.get("last_error") or state.get("failures"):
            with self.transaction():
                self._exec(
                    "UPDATE sources SET last_warning = NULL, last_error = NULL, failures = 0,"
                    " retry_at = NULL WHERE name = ?",
                    (name,),
                )

    def _upsert_source(self, fields: dict) -> None:
        # Raw SQL, not sqlite-utils' upsert: that one commits on its own (`with conn:`), which
        # would end any transaction it ran inside.
        cols = ", ".join(fields)
        marks = ", ".join("?" * len(fields))
        updates = ", ".join(f"{c} = excluded.{c}" for c in fields if c != "name")
        with self.transaction():
            self._exec(
                f"INSERT INTO sources ({cols}) VALUES ({marks}) ON CONFLICT (name) DO UPDATE SET {updates}",
                list(fields.values()),
            )

    # --- subscribers ----------------------------------------------------------------------

    def sync_subscribers(
        self,
        subscribers: Iterable[Subscriber],
        now: datetime | None = None,
        former_ids: Iterable[tuple[str, str]] = (),
    ) -> dict[str, int]:
        """Make the YAML subscribers the active set, in one transaction.

        New ones are added, changed ones updated, YAML subscribers no longer listed are
        deactivated (their history kept). `paused` is the database's own state: a subscriber who
        unsubscribed stays unsubscribed whatever the YAML says. `former_ids`: (id, the id an
        older digestbot read from the same YAML text) pairs, such as ("0123", "83"); a
        subscriber stored under the former id only is renamed, keeping its history.
        """
        now_s = ts(now or now_utc())
        counts = {"added": 0, "updated": 0, "unchanged": 0, "deactivated": 0}
        listed = set()
        subscribers_list = list(subscribers)
        with self.transaction():
            ids = {sub.id for sub in subscribers_list}
            for sid, former in former_ids:
                if sid in ids and former not in ids:
                    self._rename_subscriber(former, sid)
            # The addresses digests already go to, so that only a subscriber sharing one asks the
            # database: one query, not one per row.
            addresses = {
                k
                for (k,) in self._exec(
                    "SELECT DISTINCT email_key FROM subscribers WHERE email_key IS NOT NULL"
                )
            }
            for sub in subscribers_list:
                listed.add(sub.id)
                fields = _subscriber_fields(sub)
                row = self._exec(
                    f"SELECT {', '.join(fields)}, active, origin FROM subscribers WHERE id = ?", (sub.id,)
                ).fetchone()
                if row is None:
                    new = {**fields, "id": sub.id, "origin": "yaml", "created_at": now_s, "updated_at": now_s}
                    self._exec(
                        f"INSERT INTO subscribers ({', '.join(new)}) VALUES ({', '.join('?' * len(new))})",
                        list(new.values()),
                    )
                    if sub.slack:
                        self._inherit_watermark(sub.id, sub.slack)
                    if address_key(sub.email) in addresses:
                        self._inherit_address_watermark(sub.id, sub.email)
                    counts["added"] += 1
                elif row == (*fields.values(), 1, "yaml"):
                    counts["unchanged"] += 1
                else:
                    changes = {**fields, "active": 1, "origin": "yaml", "updated_at": now_s}
                    self._exec(
                        f"UPDATE subscribers SET {', '.join(f'{c} = ?' for c in changes)} WHERE id = ?",
                        [*changes.values(), sub.id],
                    )
                    if not row[len(fields)] and address_key(sub.email) in addresses:  # back in the YAML:
                        self._inherit_address_watermark(sub.id, sub.email)  # on from its address's since
                    if (row[0], row[2]) != (sub.email, sub.slack):  # a new address: see _failed in digest.py
                        self._retry_now(sub.id, now_s)
                    counts["updated"] += 1
            handed = self._hand_over_slack({s.slack for s in subscribers_list if s.slack}, now_s)
            handed += self._hand_over_web({s.email for s in subscribers_list if s.email}, now_s)
            if handed:
                counts["handed over"] = handed
            for (sid,) in self._exec(
                "SELECT id FROM subscribers WHERE origin = 'yaml' AND active = 1"
            ).fetchall():
                if sid not in listed:
                    self._exec("UPDATE subscribers SET active = 0, updated_at = ? WHERE id = ?", (now_s, sid))
                    self.cancel_pending(sid, "the subscriber was removed from the YAML")
                    counts["deactivated"] += 1
        return counts

    def _retry_now(self, sid: str, now_s: str) -> None:
        """A subscriber's waiting digest is tried at once: the address it waited on was replaced."""
        self._exec(
            "UPDATE digests SET next_attempt_at = ? WHERE subscriber_id = ? AND status = 'pending'"
            " AND next_attempt_at > ?",
            (now_s, sid, now_s),
        )

    def _hand_over_slack(self, targets: set[str], now_s: str) -> int:
        """A YAML subscriber for a Slack target supersedes the digest made with /digest there:
        that one is deactivated (history kept, waiting digests cancelled) so the target gets one
        digest, not two. It comes back, with its keywords, at the next /digest command there
        after the YAML entry is removed."""
        if not targets:
            return 0
        ids = [
            r[0]
            for chunk, marks in _in_chunks(list(targets))
            for r in self._exec(
                f"SELECT id FROM subscribers WHERE origin = 'slack' AND active = 1 AND slack IN ({marks})",
                chunk,
            ).fetchall()
        ]
        for sid in ids:
            self._exec("UPDATE subscribers SET active = 0, updated_at = ? WHERE id = ?", (now_s, sid))
            self.cancel_pending(sid, "subscriptions.yaml now has a subscriber for this Slack target")
            log.info("subscriber %s handed over to subscriptions.yaml (same Slack target)", sid)
        return len(ids)

    def subscribers(
        self, include_inactive: bool = False, ids: Iterable[str] | None = None
    ) -> list[SubscriberState]:
        """Subscribers by id (active ones unless `include_inactive`; only `ids` when given)."""
        where = [] if include_inactive else ["active = 1"]
        if ids is None:
            rows = self._rows(f"SELECT * FROM subscribers {_where(where)}")
        else:
            ids, rows = list(ids), []
            for chunk, marks in _in_chunks(ids):
                clauses = [*where, f"id IN ({marks})"]
                rows += self._rows(f"SELECT * FROM subscribers {_where(clauses)}", chunk)
        rows.sort(key=lambda r: r["id"])  # in Python: see _first
        return [state for state in map(_readable_state, rows) if state is not None]

    def as_synced(self, subscribers: Iterable[Subscriber]) -> list[SubscriberState]:
        """The active subscribers `sync_subscribers(subscribers)` would leave, by id, written
        nowhere (a dry run's and a preview's): the YAML's as it lists them, at their ledger
        position (a new one at none) and paused as stored, then the web and Slack ones. Renames
        and hand-overs are the real sync's."""
        stored = {s.subscriber.id: s for s in self.subscribers(include_inactive=True)}
        out = {}
        for sub in subscribers:
            had = stored.get(sub.id)
            paused = had is not None and had.subscriber.paused  # the database's own, as in sync
            listed = replace(sub, origin="yaml", active=True, paused=paused)
            out[sub.id] = (
                replace(had, subscriber=listed) if had else SubscriberState(listed, None, None, now_utc())
            )
        for sid, had in stored.items():
            if sid not in out and had.subscriber.active and had.subscriber.origin != "yaml":
                out[sid] = had
        return [out[sid] for sid in sorted(out)]

    def subscriber(self, sid: str) -> SubscriberState | None:
        rows = list(self._rows("SELECT * FROM subscribers WHERE id = ?", [sid]))
        return _readable_state(rows[0]) if rows else None

    def find_by_slack(self, targets: list[str]) -> SubscriberState | None:
        """The subscriber delivered to these Slack targets (user, channel id or #name): an active
        one first, then the earliest target in the list, then the YAML's."""
        return next(iter(self.all_by_slack(targets)), None)

    def all_by_slack(self, targets: list[str]) -> list[SubscriberState]:
        """Every subscriber delivered to these Slack targets (a channel may get several
        digests), in `find_by_slack`'s order."""
        targets = list(dict.fromkeys(t for t in targets if t))
        if not targets:
            return []
        marks = ", ".join("?" * len(targets))
        rows = list(self._rows(f"SELECT * FROM subscribers WHERE slack IN ({marks})", targets))
        rows.sort(key=lambda r: (not r["active"], targets.index(r["slack"]), r["origin"] != "yaml", r["id"]))
        return [state for state in map(_readable_state, rows) if state is not None]

    def save_slack_subscriber(self, sub: Subscriber, now: datetime | None = None) -> None:
        """Create, update or reactivate a subscriber managed from Slack (origin 'slack').

        Only rows of origin 'slack' are ever written here: a YAML subscriber cannot be taken
        over from Slack. A digest reactivated after a YAML subscriber for the same target was
        removed carries on from that one's watermark, so nothing it already got comes again.
        """
        now_s = ts(now or now_utc())
        fields = {**_subscriber_fields(sub), "active": 1, "paused": int(sub.paused), "updated_at": now_s}
        with self.transaction():
            row = self._save_managed(sub.id, "slack", "from Slack", fields, now_s)
            if row is None or not row[1]:
                self._inherit_watermark(sub.id, sub.slack)
            if sub.paused:
                self.cancel_pending(sub.id, "the subscriber paused")

    def _save_managed(self, sid: str, origin: str, where: str, fields: dict, now_s: str) -> tuple | None:
        """Insert or update the row `sid` managed from `origin` (inside a transaction); a row of
        another origin is refused. Returns the row's (origin, active) before, None if it is new."""
        row = self._exec("SELECT origin, active FROM subscribers WHERE id = ?", (sid,)).fetchone()
        if row is not None and row[0] != origin:
            raise StoreError(f"subscriber {sid!r} is managed in {row[0]}, not {where}")
        if row is None:
            new = {**fields, "id": sid, "origin": origin, "created_at": now_s}
            self._exec(
                f"INSERT INTO subscribers ({', '.join(new)}) VALUES ({', '.join('?' * len(new))})",
                list(new.values()),
            )
        else:
            self._exec(
                f"UPDATE subscribers SET {', '.join(f'{c} = ?' for c in fields)} WHERE id = ?",
                [*fields.values(), sid],
            )
        return row

    def _inherit_watermark(self, sid: str, slack: str | None) -> None:
        """Carry the furthest watermark of other digests to the same Slack target over to `sid`."""
        self._inherit(sid, "{t}slack = ?", slack)

    def _rename_subscriber(self, former: str, sid: str) -> None:
        """Subscriber `former` (from the YAML) becomes `sid` with all its history, unless `sid`
        is stored already. The row is copied, not updated: digests and feedback reference it."""
        if self._exec("SELECT 1 FROM subscribers WHERE id = ?", (sid,)).fetchone() is not None:
            return
        found = self._rows("SELECT * FROM subscribers WHERE id = ? AND origin = 'yaml'", (former,))
        if not found:
            return  # none, or a Slack or web subscriber: that one keeps its id
        rest = ", ".join(c for c in found[0] if c != "id")
        self._exec(
            f"INSERT INTO subscribers (id, {rest}) SELECT ?, {rest} FROM subscribers WHERE id = ?",
            (sid, former),
        )
        for table, column in _SUBSCRIBER_REFERENCES:
            self._exec(f"UPDATE {table} SET {column} = ? WHERE {column} = ?", (sid, former))
        self._exec("DELETE FROM subscribers WHERE id = ?", (former,))
        log.warning(
            "subscriber %s is now %s: the YAML's id is read as written (quote ids that look like numbers)",
            former,
            sid,
        )

    def _inherit_address_watermark(self, sid: str, email: str | None) -> None:
        """Carry the furthest watermark of the other digests to the same address over to `sid`
        (a YAML subscriber taking over from a web one, or a web one coming back): one inbox
        never gets a paper twice."""
        if email:
            self._inherit(sid, "{t}email_key = ?", address_key(email))

    # The watermark another digest to the same place passes on: its own, or, when it has a
    # digest waiting for a retry (cancelled by the hand-over that follows), what it had before
    # that digest, so the papers it held are the new owner's to send, not lost.
    _PASSED_ON = (
        "CASE WHEN s.id != ? AND EXISTS"
        " (SELECT 1 FROM digests d WHERE d.subscriber_id = s.id AND d.status = 'pending')"
        " THEN (SELECT MAX(d.seq_to) FROM digests d WHERE d.subscriber_id = s.id AND d.id <"
        " (SELECT MIN(p.id) FROM digests p WHERE p.subscriber_id = s.id AND p.status = 'pending'))"
        " ELSE s.last_seq END"
    )

    def _inherit(self, sid: str, same: str, value: str | None) -> None:
        """`same`: the condition (`{t}` for a table prefix) naming the digests to the same place.
        `sid` carries on from the latest digest there (its own or another's), with the schedule
        and timezone that one was due under: a schedule or zone of its own then counts it as a
        move does (schedule.next_due), sending no second digest that day."""
        latest = (
            f"(SELECT COALESCE(last_run_{{0}}, {{0}}) FROM subscribers WHERE {same.format(t='')}"
            " AND last_run_at IS NOT NULL ORDER BY last_run_at DESC, id LIMIT 1)"
        )
        self._exec(
            f"UPDATE subscribers SET last_seq = (SELECT MAX({self._PASSED_ON}) FROM subscribers s"
            f" WHERE {same.format(t='s.')}),"
            f" last_run_schedule = COALESCE({latest.format('schedule')}, last_run_schedule),"
            f" last_run_timezone = COALESCE({latest.format('timezone')}, last_run_timezone),"
            f" last_run_at = COALESCE((SELECT MAX(last_run_at) FROM subscribers WHERE {same.format(t='')}),"
            " last_run_at) WHERE id = ?",
            (sid, value, value, value, value, sid),
        )

    def set_paused(self, sid: str, paused: bool, now: datetime | None = None) -> bool:
        """Pause (unsubscribe) or resume; pausing cancels the digests still waiting to go out."""
        with self.transaction():
            cur = self._exec(
                "UPDATE subscribers SET paused = ?, updated_at = ? WHERE id = ?",
                (int(paused), ts(now or now_utc()), sid),
            )
            if paused:
                self.cancel_pending(sid, "the subscriber paused or unsubscribed")
        return cur.rowcount == 1

    @idempotent
    def advance(self, sid: str, seq_to: int, run_at: datetime) -> None:
        """Record a run that found nothing to send: the watermark and run time move on."""
        with self.transaction(serial=False):  # row-level: claims keep workers apart
            self._exec(
                "UPDATE subscribers SET last_seq = GREATEST(COALESCE(last_seq, 0), ?), last_run_at = ?,"
                " last_run_schedule = schedule, last_run_timezone = timezone WHERE id = ?",
                (seq_to, ts(run_at), sid),
            )

    def pull_back_run(self, sid: str, recorded: datetime, now: datetime) -> None:
        """A last run recorded ahead of the clock by more than a period counts as run `now`
        (under the schedule it has now), unless another worker recorded a run since."""
        with self.transaction(serial=False):
            self._exec(
                "UPDATE subscribers SET last_run_at = ?, last_run_schedule = schedule,"
                " last_run_timezone = timezone WHERE id = ? AND last_run_at = ?",
                (ts(now), sid, ts(recorded)),
            )

    # --- several workers: claims, leases, shared rates ----------------------------------

    def claim_subscribers(self, ids: Iterable[str], holder: str, now: datetime, ttl: timedelta) -> list[str]:
        """Claim, for `ttl`, those of these subscribers no other worker holds; returns them.

        A claimed subscriber's due digest and retries are this worker's alone until it releases
        them or the lease expires (a worker that died: another takes over then). Claims are kept
        on the shared clock (`_shared_clock`: PostgreSQL's), whatever the worker's own says."""
        ids, claimed, now = list(ids), [], self._shared_clock(now, fresh=True)
        with self.transaction(serial=False):
            for chunk, marks in _in_chunks(ids):
                sql = self._CLAIM_SUBSCRIBERS.format(ids=marks, lock=self._CLAIM_LOCK)
                claimed += [
                    r[0] for r in self._exec(sql, (holder, ts(now + ttl), *chunk, ts(now), len(chunk)))
                ]
        return sorted(claimed)

    @idempotent
    def renew_claims(self, holder: str, now: datetime, ttl: timedelta) -> int:
        """Extend every lease `holder` has (a long batch keeps its subscribers)."""
        now = self._shared_clock(now, fresh=True)
        with self.transaction(serial=False):
            return self._exec(
                "UPDATE subscribers SET claimed_until = ? WHERE claimed_by = ?", (ts(now + ttl), holder)
            ).rowcount

    @idempotent
    def release_subscribers(self, ids: Iterable[str], holder: str) -> None:
        """Give claimed subscribers back (only those `holder` still holds)."""
        ids = list(ids)
        with self.transaction(serial=False):
            for chunk, marks in _in_chunks(ids):
                self._exec(
                    "UPDATE subscribers SET claimed_by = NULL, claimed_until = NULL"
                    f" WHERE claimed_by = ? AND id IN ({marks})",
                    (holder, *chunk),
                )

    def _held(self, holder: str | None, now: datetime | None) -> tuple[str, tuple]:
        """The condition (and its parameters) on a subscribers row that `holder`'s claim on it
        holds at `now`; none without a holder."""
        if holder is None:
            return "", ()
        return " AND claimed_by = ? AND claimed_until > ?", (holder, ts(self._shared_clock(now or now_utc())))

    def _shared_clock(self, now: datetime, fresh: bool = False) -> datetime:
        """`now` on the clock that claims, leases and shared rates are kept on, which every
        worker must read alike. `fresh`: the clocks compared again (claims, renewals)."""
        return now + timedelta(seconds=self._clock_offset(fresh))

    def _clock_offset(self, fresh: bool = False) -> float:
        """Seconds from this machine's clock to the shared one: none on SQLite, whose workers
        share one machine's clock (see PostgresStore: the database server's)."""
        return 0.0

    def claim_lease(self, name: str, holder: str, now: datetime, ttl: timedelta) -> bool:
        """Take the named lease (a job such as `fetch:SOURCE`) for `ttl`, if it is free, expired
        or already `holder`'s. One statement: two workers asking at once cannot both get it."""
        now = self._shared_clock(now, fresh=True)
        with self.transaction(serial=False):
            row = self._exec(
                "INSERT INTO leases (name, holder, expires_at) VALUES (?, ?, ?) ON CONFLICT (name) DO UPDATE"
                " SET holder = excluded.holder, expires_at = excluded.expires_at"
                " WHERE leases.expires_at <= ? OR leases.holder = excluded.holder RETURNING name",
                (name, holder, ts(now + ttl), ts(now)),
            ).fetchone()
        return row is not None

    @idempotent
    def release_lease(self, name: str, holder: str) -> None:
        with self.transaction(serial=False):
            self._exec("DELETE FROM leases WHERE name = ? AND holder = ?", (name, holder))

    def take_rate_slot(self, name: str, interval: float, now: float) -> float:
        """The time (epoch seconds) at which the caller may send its next message under the rate
        `name` (one message per `interval` seconds across every worker), the slot reserved.

        A slot last taken by a clock more than RATE_CLOCK_SKEW ahead of `now` means the clock was
        set back: the rate starts again from `now` (the slots kept the old time, and every message
        waited for the clock to come round to it: an hour set back, an hour of nothing sent)."""
        shift = self._clock_offset()
        now += shift
        ahead = now + RATE_CLOCK_SKEW
        with self.transaction(serial=False):
            row = self._exec(
                "INSERT INTO rate_slots (name, next_at, taken_at) VALUES (?, ?, ?) ON CONFLICT (name) DO UPDATE"
                " SET next_at = CASE WHEN rate_slots.taken_at > ? THEN ?"
                " ELSE GREATEST(rate_slots.next_at, ?) END + ?,"
                " taken_at = CASE WHEN rate_slots.taken_at > ? THEN ? ELSE GREATEST(rate_slots.taken_at, ?) END"
                " RETURNING next_at",
                (name, now + interval, now, ahead, now, now, interval, ahead, now, now),
            ).fetchone()
        return row[0] - interval - shift

    # --- the web pages: sign-ups, web subscribers, rate limits --------------------------------
    # (kept together, and plain SQL, so another backend ports them in one place)

    def _hand_over_web(self, emails: set[str], now_s: str) -> int:
        """A YAML subscriber for an address supersedes the one its reader made on the web (as
        with Slack targets): that one is deactivated, so the address gets one digest, not two."""
        handed = 0
        web = {
            k for (k,) in self._exec("SELECT email_key FROM subscribers WHERE origin = 'web' AND active = 1")
        }
        for key in {address_key(e) for e in emails} & web:  # one query per shared address only
            for (sid,) in self._exec(
                "SELECT id FROM subscribers WHERE origin = 'web' AND active = 1 AND email_key = ?", (key,)
            ).fetchall():
                self._exec("UPDATE subscribers SET active = 0, updated_at = ? WHERE id = ?", (now_s, sid))
                self.cancel_pending(sid, "subscriptions.yaml now has a subscriber for this address")
                log.info("subscriber %s handed over to subscriptions.yaml (same email address)", sid)
                handed += 1
        return handed

    def hit(self, bucket: str, limit: int, period_s: float, now: datetime | None = None) -> bool:
        """Count one event in `bucket` if fewer than `limit` happened in the last `period_s`
        seconds; False (nothing counted) when the limit is reached. Kept in the database, so a
        limit holds across threads, processes and restarts. Events older than a day are purged,
        and so are those ahead of the clock (counted before it was set back: when is unknown)."""
        now = now or now_utc()
        with self.transaction():
            self._exec(
                "DELETE FROM rate_events WHERE at < ? OR at > ?",
                (ts(now - timedelta(days=1)), ts(now + CLOCK_AHEAD)),
            )
            since = ts(now - timedelta(seconds=period_s))
            (count,) = self._exec(
                "SELECT COUNT(*) FROM rate_events WHERE bucket = ? AND at > ?", (bucket, since)
            ).fetchone()
            if count >= limit:
                return False
            self._exec("INSERT INTO rate_events (bucket, at) VALUES (?, ?)", (bucket, ts(now)))
        return True

    def unhit(self, bucket: str, at: datetime) -> None:
        """Take back the event `hit` counted in `bucket` at `at` (what it allowed did not happen:
        the mail it let through was turned away), so that it does not count against the limit."""
        with self.transaction():
            self._exec("DELETE FROM rate_events WHERE bucket = ? AND at = ?", (bucket, ts(at)))

    def save_signup(self, nonce: str, sub: Subscriber, now: datetime | None = None) -> None:
        """Keep a sign-up until its address confirms it: the newest one per address wins.
        Sign-ups older than two days (their links have expired) are purged."""
        now = now or now_utc()
        with self.transaction():
            self._exec("DELETE FROM web_signups WHERE created_at < ?", (ts(now - timedelta(days=2)),))
            for older, _, _ in self._signups_of(sub.email, now):
                self._exec("DELETE FROM web_signups WHERE nonce = ?", (older,))
            self._exec(
                "INSERT INTO web_signups (nonce, email, subscriber, created_at) VALUES (?, ?, ?, ?)",
                (nonce, sub.email, json.dumps({**_subscriber_fields(sub), "id": sub.id}), ts(now)),
            )

    def _signups_of(self, address: str, now: datetime) -> list[tuple[str, str, dict]]:
        """(nonce, address as typed, sign-up) of the sign-ups of the last two days (those whose
        links still work) for `address`, however it was spelt: a few rows, read in Python, as
        `address_key` folds what SQL cannot."""
        rows = self._exec(
            "SELECT nonce, email, subscriber FROM web_signups WHERE created_at >= ?",
            (ts(now - timedelta(days=2)),),
        ).fetchall()
        key = address_key(address)
        return [(n, e, json.loads(j)) for n, e, j in rows if address_key(e) == key]

    def signup_address(self, nonce: str) -> str | None:
        """The address of the sign-up `nonce` waiting for its confirmation; None when there is
        none (replaced, purged, or confirmed already)."""
        row = self._exec("SELECT email, subscriber FROM web_signups WHERE nonce = ?", (nonce,)).fetchone()
        return row[0] if row and _CONFIRMED not in json.loads(row[1]) else None

    def signup_kept(self, nonce: str) -> bool:
        """Whether the sign-up `nonce` is kept, waiting or confirmed: False once a newer sign-up
        of its address replaced it (or it was purged), so that its link can confirm nothing."""
        return self._exec("SELECT 1 FROM web_signups WHERE nonce = ?", (nonce,)).fetchone() is not None

    def revise_signup(self, sub: Subscriber, now: datetime | None = None) -> bool:
        """Give the sign-up waiting for `sub`'s address (not confirmed, of the last two days)
        `sub`'s profile and schedule, under its nonce and address: the link mailed already
        confirms what the reader typed last. False when none is waiting."""
        with self.transaction():
            waiting = self._signups_of(sub.email, now or now_utc())
            for nonce, email, signup in waiting:
                if _CONFIRMED not in signup:
                    revised = {**_subscriber_fields(replace(sub, email=email)), "id": signup["id"]}
                    self._exec(
                        "UPDATE web_signups SET subscriber = ? WHERE nonce = ?", (json.dumps(revised), nonce)
                    )
        return any(_CONFIRMED not in signup for _, _, signup in waiting)

    def confirm_signup(self, nonce: str, now: datetime | None = None) -> Subscriber | None:
        """Turn the sign-up `nonce` into an active web subscriber (an earlier web subscriber of
        that address gets the new profile, and is resumed); None when there is no such sign-up
        (replaced by a newer one, or expired). Confirming twice is confirming once: a sign-up
        confirmed already (a double click, the mail's link opened again) gives its subscriber
        as it is now, changing nothing; its row stays, marked, until it is purged with the rest."""
        with self.transaction():
            row = self._exec("SELECT subscriber FROM web_signups WHERE nonce = ?", (nonce,)).fetchone()
            if row is None:
                return None
            signup = json.loads(row[0])
            if _CONFIRMED in signup:
                state = self.subscriber(signup[_CONFIRMED])
                return state.subscriber if state else None
            wanted = _state_from_row(
                {
                    **signup,
                    "origin": "web",
                    "active": 1,
                    "paused": 0,
                    "last_run_at": None,
                    "last_seq": None,
                    "created_at": None,
                }
            ).subscriber
            known = self.find_by_email(wanted.email or "", origin="web", include_inactive=True)
            sub = replace(wanted, id=known.subscriber.id) if known else wanted
            self.save_web_subscriber(sub, now)
            marked = json.dumps({_CONFIRMED: sub.id})
            self._exec("UPDATE web_signups SET subscriber = ? WHERE nonce = ?", (marked, nonce))
        return sub

    def find_by_email(
        self, email: str, origin: str | None = None, include_inactive: bool = False
    ) -> SubscriberState | None:
        """The subscriber getting digests at this address (case-insensitive): an active one
        first, a YAML one before a web one."""
        clauses = ["email_key = ?"]
        params: list = [address_key(email)]
        if origin:
            clauses.append("origin = ?")
            params.append(origin)
        if not include_inactive:
            clauses.append("active = 1")
        return _first(self._rows(f"SELECT * FROM subscribers WHERE {' AND '.join(clauses)}", params))

    def yaml_has_address(self, email: str | None) -> bool:
        """Whether an active YAML subscriber gets digests at this address (case-insensitive)."""
        return bool(email) and (
            self._exec(
                "SELECT 1 FROM subscribers WHERE origin = 'yaml' AND active = 1 AND email_key = ?",
                (address_key(email),),
            ).fetchone()
            is not None
        )

    def save_web_subscriber(self, sub: Subscriber, now: datetime | None = None) -> None:
        """Create or update a subscriber managed on the web (origin 'web'), with its paused and
        active state. Only rows of origin 'web' are written: a YAML or Slack subscriber cannot
        be taken over from the web. While an active YAML subscriber has the address, the web
        one stays inactive (one digest per inbox, even before the next sync)."""
        now_s = ts(now or now_utc())
        fields = {
            **_subscriber_fields(sub),
            "active": int(sub.active),
            "paused": int(sub.paused),
            "updated_at": now_s,
        }
        with self.transaction():
            if sub.active and self.yaml_has_address(sub.email):  # the YAML one has the address
                fields["active"] = 0
                sub = replace(sub, active=False)
            before = self._save_managed(sub.id, "web", "on the web", fields, now_s)
            if sub.active and (before is None or not before[1]):
                self._inherit_address_watermark(sub.id, sub.email)
            if sub.paused or not sub.active:
                self.cancel_pending(sub.id, "the subscriber paused or unsubscribed")

    def recent_digests(self, sid: str, limit: int = 10) -> list[DigestRecord]:
        """The subscriber's latest digests, newest first."""
        rows = self._rows(
            "SELECT * FROM digests WHERE subscriber_id = ? ORDER BY id DESC LIMIT ?", [sid, limit]
        )
        return [d for d in map(_readable_digest, rows) if d is not None]

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
        holder: str | None = None,
        now: datetime | None = None,
    ) -> int:
        """Record a digest as pending, its papers, and the subscriber's new watermark, atomically.
        With `holder` (several workers), only while that worker's claim on the subscriber holds
        at `now` (else ClaimLost)."""
        held, params = self._held(holder, now)
        with self.transaction(serial=False):  # row-level: claims keep workers apart
            # First, so the row stays locked to the end: no worker claims it meanwhile.
            moved = self._exec(
                "UPDATE subscribers SET last_seq = GREATEST(COALESCE(last_seq, 0), ?), last_run_at = ?,"
                f" last_run_schedule = schedule, last_run_timezone = timezone WHERE id = ?{held} RETURNING id",
                (seq_to, ts(run_at), sid, *params),
            ).fetchall()
            if holder is not None and not moved:
                raise ClaimLost("this worker's claim on the subscriber ran out")
            cur = self._exec(
                "INSERT INTO digests (subscriber_id, status, created_at, message_id, seq_to, n_papers,"
                " n_matched, channel, destination) VALUES (?, 'pending', ?, ?, ?, ?, ?, ?, ?) RETURNING id",
                (sid, ts(run_at), message_id, seq_to, len(items), n_matched, channel, destination),
            )
            digest_id = cur.fetchone()[0]
            self._exec_many(
                "INSERT INTO digest_items (digest_id, subscriber_id, paper_seq, rank, score, terms, authors,"
                " reasons) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    (
                        digest_id,
                        sid,
                        it.paper.seq,
                        rank,
                        it.score,
                        json.dumps(list(it.terms)),
                        json.dumps(list(it.authors)),
                        json.dumps(list(it.reasons)),
                    )
                    for rank, it in enumerate(items, 1)
                ],
            )
        return digest_id

    def begin_attempt(self, digest_id: int, now: datetime, holder: str | None = None) -> None:
        """Record that a send is about to start. Written before the transport is touched: if
        this fails (disk full), nothing is sent; if the outcome is never recorded (a crash, or
        the disk filled up meanwhile), the digest counts as possibly delivered. With `holder`,
        only while that worker's claim on the digest's subscriber holds (else ClaimLost)."""
        held, params = self._held(holder, now)
        # One statement (a transaction of its own): the claim checked, the subscriber's row
        # locked while the digest's is written, so no worker claims it meanwhile.
        row = self._exec(
            self._BEGIN_ATTEMPT.format(held=held, lock=self._HOLD_LOCK),
            (digest_id, *params, ts(now), digest_id),
        ).fetchall()
        if not row and holder is not None:
            raise ClaimLost("this worker's claim on the subscriber ran out")

    @idempotent
    def mark_sent(self, digest_id: int, now: datetime, destination: str | None = None) -> None:
        with self.transaction(serial=False):  # row-level: claims keep workers apart
            self._exec(
                "UPDATE digests SET status = 'sent', sent_at = ?, attempts = attempts + 1, last_error = NULL,"
                " next_attempt_at = NULL, unconfirmed = 0, destination = COALESCE(?, destination), parts = NULL"
                " WHERE id = ? AND status <> 'sent'",  # once: its second run (see idempotent) changes nothing
                (ts(now), destination, digest_id),
            )

    def drop_digest_items(self, digest_id: int, seqs: list[int]) -> None:
        """Take papers out of a digest not sent yet whose email turned out to be cut for size
        (they were never shown, so never received); `n_papers` follows."""
        with self.transaction(serial=False):  # row-level: claims keep workers apart
            self._exec_many(
                "DELETE FROM digest_items WHERE digest_id = ? AND paper_seq = ?",
                [(digest_id, s) for s in seqs],
            )
            self._exec(
                "UPDATE digests SET n_papers = (SELECT COUNT(*) FROM digest_items WHERE digest_id = ?) WHERE id = ?",
                (digest_id, digest_id),
            )

    @idempotent
    def set_parts_sent(self, digest_id: int, parts: int, messages: list[dict] | None = None) -> None:
        """Record how many messages of a multi-message digest were delivered (Slack), and with
        the first, all its `messages`: a retry posts the rest of these very messages, as a new
        rendering (of papers changed since) may split them elsewhere. Kept until it is sent.
        A part recorded settles what earlier attempts left unknown (they reached no further than
        this): only the attempt in flight is without an outcome now (see hold_unconfirmed)."""
        with self.transaction(serial=False):  # row-level: claims keep workers apart
            if messages is None:
                self._exec(
                    "UPDATE digests SET parts_sent = ?, unconfirmed = 1 WHERE id = ?", (parts, digest_id)
                )
            else:
                self._exec(
                    "UPDATE digests SET parts_sent = ?, parts = ?, unconfirmed = 1 WHERE id = ?",
                    (parts, json.dumps(messages, ensure_ascii=False), digest_id),
                )

    def posted_parts(self, digest_id: int) -> list[dict] | None:
        """The messages of a digest that went out in part (`set_parts_sent`), else None."""
        row = self._exec("SELECT parts FROM digests WHERE id = ?", (digest_id,)).fetchone()
        try:
            messages = json.loads(row[0]) if row and row[0] else None
        except ValueError:
            return None
        return messages if isinstance(messages, list) and all(isinstance(m, dict) for m in messages) else None

    def mark_attempt_failed(
        self, digest_id: int, error: str, retry_at: datetime | None, unconfirmed: bool = False
    ) -> None:
        """Count a failed attempt; with no retry time the digest is given up as failed. A digest
        cancelled meanwhile stays cancelled. `unconfirmed`: the message may have arrived (the
        answer was lost after the server had all of it), so this attempt stays counted among
        those without a known outcome (see hold_unconfirmed); otherwise it leaves that count."""
        status = "pending" if retry_at is not None else "failed"
        left = "unconfirmed" if unconfirmed else "GREATEST(unconfirmed - 1, 0)"
        with self.transaction(serial=False):  # row-level: claims keep workers apart
            self._exec(
                "UPDATE digests SET status = ?, attempts = attempts + 1, last_error = ?, next_attempt_at = ?,"
                f" unconfirmed = {left}, parts = {'parts' if retry_at is not None else 'NULL'}"
                " WHERE id = ? AND status = 'pending'",
                (status, error, ts(retry_at), digest_id),
            )

    def hold_unconfirmed(self, now: datetime | None = None) -> list[int]:
        """Set aside, as 'unknown', pending digests with MAX_UNCONFIRMED attempts whose outcome
        was never recorded: they may have arrived, so they are not sent again (`status` shows
        them). Returns their ids. A digest whose subscriber a worker has claimed is left to that
        worker: its attempt may be in flight, and may yet be refused (then it is sent later)."""
        query = (
            "SELECT d.id FROM digests d JOIN subscribers s ON s.id = d.subscriber_id WHERE d.status = 'pending'"
            " AND d.unconfirmed >= ? AND (s.claimed_until IS NULL OR s.claimed_until <= ?)"
        )
        params = (MAX_UNCONFIRMED, ts(self._shared_clock(now or now_utc())))
        if self._exec(query, params).fetchone() is None:
            return []  # the usual case: no write, no lock
        with self.transaction():
            ids = [r[0] for r in self._exec(query, params)]
            self._exec_many(
                "UPDATE digests SET status = 'unknown', next_attempt_at = NULL, parts = NULL, last_error ="
                " 'possibly delivered: ' || unconfirmed || ' attempts whose outcome could not be recorded;"
                " not sent again' WHERE id = ?",
                [(i,) for i in ids],
            )
        return ids

    def cancel_pending(self, sid: str, reason: str) -> int:
        """Cancel a subscriber's undelivered digests (kept in the ledger as cancelled). When none
        of them can have arrived (no attempt in flight or of unknown outcome, no part posted),
        their papers are theirs again: the watermark goes back to before the first of them and
        their items are released, so a reader who resumes or comes back gets those papers, as
        they get the ones that came while they were away."""
        with self.transaction():
            rows = self._exec(
                "SELECT id, unconfirmed, parts_sent FROM digests WHERE subscriber_id = ? AND status = 'pending'",
                (sid,),
            ).fetchall()
            cancelled = self._exec(
                "UPDATE digests SET status = 'cancelled', last_error = ?, next_attempt_at = NULL, parts = NULL"
                " WHERE subscriber_id = ? AND status = 'pending'",
                (f"cancelled: {reason}", sid),
            ).rowcount
            if rows and all(not unconfirmed and not parts for _, unconfirmed, parts in rows):
                self._release([r[0] for r in rows], sid)
            return cancelled

    def _release(self, digest_ids: list[int], sid: str) -> None:
        """The papers of these never-delivered digests of `sid` are new to it again: its
        watermark is the one of its digests before them that holds papers, or (a first digest)
        just before the earliest paper they held."""
        marks = ", ".join("?" * len(digest_ids))
        self._exec(
            "UPDATE subscribers SET last_seq = COALESCE((SELECT MAX(d.seq_to) FROM digests d"
            " WHERE d.subscriber_id = ? AND d.id < ? AND EXISTS"
            " (SELECT 1 FROM digest_items i WHERE i.digest_id = d.id)),"
            " (SELECT MIN(p.rev) - 1 FROM digest_items i JOIN papers p ON p.seq = i.paper_seq"
            f" WHERE i.digest_id IN ({marks})), last_seq) WHERE id = ?",
            (sid, min(digest_ids), *digest_ids, sid),
        )
        self._exec(f"DELETE FROM digest_items WHERE digest_id IN ({marks})", digest_ids)

    def digest(self, digest_id: int) -> DigestRecord | None:
        rows = list(self._rows("SELECT * FROM digests WHERE id = ?", [digest_id]))
        return _readable_digest(rows[0]) if rows else None

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
        rows = self._rows(f"SELECT * FROM digests {where} ORDER BY id LIMIT ?", [*params, limit])
        return [d for d in map(_readable_digest, rows) if d is not None]

    def retryable_digests(
        self, now: datetime | None, subscriber_ids: Iterable[str] | None = None
    ) -> list[DigestRecord]:
        """Pending digests whose retry time has come (all pending ones when `now` is None), of
        these subscribers only when `subscriber_ids` is given. A wait counted from an attempt
        recorded ahead of `now` (the clock was set back since) is over: its length is unknown."""
        due = (
            "" if now is None else f" AND (next_attempt_at IS NULL OR next_attempt_at <= ? OR {_TRIED_AHEAD})"
        )
        params = [] if now is None else [ts(now), ts(now + CLOCK_AHEAD)]
        if subscriber_ids is None:
            rows = self._rows(f"SELECT * FROM digests WHERE status = 'pending'{due} ORDER BY id", params)
        else:
            ids, rows = list(subscriber_ids), []
            for chunk, marks in _in_chunks(ids):
                rows += self._rows(
                    f"SELECT * FROM digests WHERE status = 'pending'{due} AND subscriber_id IN ({marks})",
                    [*params, *chunk],
                )
            rows.sort(key=lambda r: r["id"])
        return [d for d in map(_readable_digest, rows) if d is not None]

    def pending_subscribers(self) -> set[str]:
        rows = self._exec("SELECT DISTINCT subscriber_id FROM digests WHERE status = 'pending'")
        return {r[0] for r in rows}

    def retry_times(self, sid: str | None = None, now: datetime | None = None) -> dict[str, datetime]:
        """When each subscriber's digest waiting for a retry is tried next (the earliest of
        several; the epoch for one tried at the next run, as `retryable_digests` has it at
        `now`): no digest of theirs is built before (see pending_subscribers). With `sid`, that
        subscriber's only."""
        rows = self._exec(
            f"SELECT subscriber_id, CASE WHEN {_TRIED_AHEAD} THEN NULL ELSE next_attempt_at END"
            " FROM digests WHERE status = 'pending'" + (" AND subscriber_id = ?" if sid is not None else ""),
            (ts((now or now_utc()) + CLOCK_AHEAD), *(() if sid is None else (sid,))),
        )
        out: dict[str, datetime] = {}
        for who, at in rows:
            when = parse_ts(at) if at else datetime.min.replace(tzinfo=UTC)
            out[who] = min(out.get(who, when), when)
        return out

    def digest_items(self, digest_id: int, limit: int | None = None) -> list[DigestItem]:
        """A digest's papers in the order shown; the first `limit` only, if given."""
        rows = self._rows(
            "SELECT p.*, i.score AS _score, i.terms AS _terms, i.authors AS _authors, i.reasons AS _reasons"
            " FROM digest_items i"
            " JOIN papers p ON p.seq = i.paper_seq WHERE i.digest_id = ? ORDER BY i.rank"
            + (" LIMIT ?" if limit is not None else ""),
            [digest_id] + ([limit] if limit is not None else []),
        )
        items = (_readable_item(r) for r in rows)
        return [it for it in items if it is not None]

    def last_sent(self, sid: str) -> DigestRecord | None:
        rows = list(
            self._rows(
                "SELECT * FROM digests WHERE subscriber_id = ? AND status = 'sent' ORDER BY id DESC LIMIT 1",
                [sid],
            )
        )
        return _readable_digest(rows[0]) if rows else None

    def delivery_summary(self) -> dict[str, tuple[datetime | None, int]]:
        """Per subscriber with a digest sent: when its last one was sent, and how many papers it
        was sent in all. Two grouped queries, however many subscribers (`status` reads them all)."""
        last = {
            sid: parse_ts(sent)
            for sid, sent in self._exec(
                "SELECT subscriber_id, sent_at FROM digests WHERE id IN"
                " (SELECT MAX(id) FROM digests WHERE status = 'sent' GROUP BY subscriber_id)"
            )
        }
        counts = dict(
            self._exec(
                "SELECT i.subscriber_id, COUNT(*) FROM digest_items i JOIN digests d ON d.id = i.digest_id"
                " WHERE d.status = 'sent' GROUP BY i.subscriber_id"
            ).fetchall()
        )
        return {sid: (last.get(sid), counts.get(sid, 0)) for sid in last.keys() | counts.keys()}

    def held(self, now: datetime) -> list[tuple[str, str, datetime | None]]:
        """What workers hold at `now`, for `status`: (holder, what, until on this machine's
        clock), what being "N subscriber(s)" for a worker's claims, or a named lease."""
        now_s, back = ts(self._shared_clock(now)), timedelta(seconds=self._clock_offset())
        rows = self._exec(
            "SELECT claimed_by, COUNT(*), MAX(claimed_until) FROM subscribers WHERE claimed_by IS NOT NULL"
            " AND claimed_until > ? GROUP BY claimed_by ORDER BY claimed_by",
            (now_s,),
        ).fetchall()
        held = [(holder, f"{n} subscriber(s)", until) for holder, n, until in rows]
        held += self._exec(
            "SELECT holder, name, expires_at FROM leases WHERE expires_at > ? ORDER BY holder, name", (now_s,)
        ).fetchall()
        return [(holder, what, _back(parse_ts(until), back)) for holder, what, until in held]

    def delivered_count(self, sid: str) -> int:
        return self._exec(
            "SELECT COUNT(*) FROM digest_items i JOIN digests d ON d.id = i.digest_id"
            " WHERE i.subscriber_id = ? AND d.status = 'sent'",
            (sid,),
        ).fetchone()[0]


MAX_FORMER_KEY_BYTES = 2000  # a former key kept in paper_keys: within PostgreSQL's index limit


_TRIED_AHEAD = (
    "attempt_started_at > ?"  # a digest's last attempt recorded ahead of the clock (its ?: now + CLOCK_AHEAD)
)


def _back(when: datetime | None, offset: timedelta) -> datetime | None:
    return when - offset if when is not None else None


def _like_text(text: str) -> str:
    """`text` as a LIKE pattern (ESCAPE '!') that matches it literally."""
    return text.replace("!", "!!").replace("%", "!%").replace("_", "!_")


def _local_key(key: str, sources: str) -> str:
    """A key stored before guids were qualified by their feed: as its first source keys it now
    (`keys.entry_key`, which a new report of it goes through)."""
    if is_uri(one_line(key)):
        return entry_key("", key)  # a URI is its own key, whatever the source
    first = next(iter(json.loads(sources or "[]")), None)
    return entry_key(first, key) if isinstance(first, str) else key


def _first(rows: list[dict]) -> SubscriberState | None:
    """Of the subscribers for one address or Slack target (a few rows), the one that gets the
    digest: an active one first, a YAML one before another, then by id. Chosen here, not with
    ORDER BY: PostgreSQL orders text by the database's collation (linguistic on most servers,
    "alice" before "Bob"), SQLite by code point, so a tie went another way on each."""
    rows = sorted(rows, key=lambda r: (not r["active"], r["origin"] != "yaml", r["id"]))
    return _readable_state(rows[0]) if rows else None


def _where(clauses: list[str]) -> str:
    return f"WHERE {' AND '.join(clauses)}" if clauses else ""


def _in_chunks(values: list, size: int = 500) -> Iterator[tuple[list, str]]:
    """`values` 500 at a time (within every SQLite build's bound-parameter limit), each chunk
    with its `?, ?, ...` placeholders for an IN list."""
    for i in range(0, len(values), size):
        chunk = values[i : i + size]
        yield chunk, ", ".join("?" * len(chunk))


def _subscriber_fields(sub: Subscriber) -> dict:
    p = sub.profile
    return {
        "email": sub.email,
        "email_key": address_key(sub.email),
        "slack": sub.slack,
        "keywords": json.dumps(list(p.keywords)),
        "exclude": json.dumps(list(p.exclude)),
        "authors": json.dumps(list(p.authors)),
        "categories": json.dumps(list(p.categories)),
        "likes": json.dumps(list(p.likes)),
        "seed_texts": json.dumps(list(p.seed_texts)),
        "relevance_floor": p.relevance_floor,
        "trending": p.trending,
        "sources": json.dumps(list(p.sources)),
        "schedule": sub.schedule,
        "timezone": sub.timezone,
        "max_papers": sub.max_papers,
        "show_ai_summary": int(sub.show_ai_summary),
    }


def _state_from_row(r: dict) -> SubscriberState:
    lists = ("keywords", "exclude", "authors", "categories", "likes", "seed_texts", "sources")
    profile = Profile(
        **{k: tuple(json.loads(r[k])) for k in lists},
        relevance_floor=r["relevance_floor"],
        trending=r["trending"],
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
        show_ai_summary=bool(r["show_ai_summary"]),
    )
    under = (r["last_run_schedule"], r["last_run_timezone"]) if r.get("last_run_schedule") else None
    return SubscriberState(sub, parse_ts(r["last_run_at"]), r["last_seq"], parse_ts(r["created_at"]), under)


def _paper_from_row(r: dict) -> Paper:
    return Paper(
        key=r["key"],
        title=_titled(r["title"]),
        abstract=r["abstract"],
        authors=tuple(json.loads(r["authors"])),
        categories=tuple(json.loads(r["categories"])),
        link=r["link"],
        pdf_url=r["pdf_url"],
        arxiv_id=r["arxiv_id"],
        published=parse_ts(r["published"]),
        announce_type=r["announce_type"],
        upvotes=r["upvotes"],
        **{f: r[f] for f in _MUTABLE_FIELDS if f != "upvotes"},
        sources=tuple(json.loads(r["sources"])),
        seq=r["seq"],
        first_seen=parse_ts(r["first_seen"]),
        rev=r["rev"],
        revised=bool(r["revised"]),
    )


def _readable(read: Callable[[dict], T], what: str) -> Callable[[dict], T | None]:
    """`read`, but a row it cannot read (bad JSON, a timestamp no version could parse, a wrong
    type) is logged and becomes None, so the caller skips it instead of failing a whole run."""

    def safe(row: dict) -> T | None:
        try:
            return read(row)
        except (ValueError, TypeError, KeyError) as e:
            log.warning("skipping unreadable %s row %s: %s", what, row.get("key") or row.get("id"), e)
            return None

    return safe


_readable_paper = _readable(_paper_from_row, "paper")
_readable_state = _readable(_state_from_row, "subscriber")


_PAPER_FIELDS = (
    "arxiv_id",
    "title",
    "abstract",
    "authors",
    "categories",
    "link",
    "pdf_url",
    "published",
    "announce_type",
    "upvotes",
    "hf_url",
    "github_url",
    "github_stars",
    "project_url",
    "ai_summary",
    "thumbnail_url",
    "comments",
    "organization",
)
# What a re-fetch may change without making the paper new (its rev stays): the newest report
# that has a value wins (see merge_papers).
_MUTABLE_FIELDS = _PAPER_FIELDS[_PAPER_FIELDS.index("upvotes") :]
_PAPER_COLUMNS = "key, " + ", ".join(_PAPER_FIELDS)
_PAPER_MARKS = ", ".join("?" * (len(_PAPER_FIELDS) + 1))


def _paper_values(p: Paper) -> tuple:
    return (
        p.key,
        p.arxiv_id,
        p.title,
        p.abstract,
        json.dumps(list(p.authors)),
        json.dumps(list(p.categories)),
        p.link,
        p.pdf_url,
        ts(p.published),
        p.announce_type,
        *(getattr(p, f) for f in _MUTABLE_FIELDS),
    )


def _listed(p: Paper, now_s: str) -> str | None:
    """When a report puts a paper on an upvote list: now, if it carries upvotes."""
    return now_s if p.upvotes is not None else None


def _match_fields(p: Paper) -> tuple:
    """What matching reads of a paper: a merge that changes it makes the paper new again."""
    return (p.title, p.abstract, p.authors, p.categories)


def merge_papers(old: Paper, new: Paper, authoritative: bool, old_authoritative: bool = False) -> Paper:
    """One paper from two reports of it.

    An `authoritative` report (the paper's own metadata: arXiv's listing or API) wins for title,
    authors and abstract whenever it has them (an empty title is none); any other
    report only fills what is missing (of two such, the longer abstract wins; once an
    authoritative report gave the abstract, `old_authoritative`, it is kept). Categories are united; the paper's own links and dates are kept from
    the first report that had them; the mutable fields (upvotes, comments, the Hugging Face
    links, stars, summary, thumbnail, organization) come from the newest report that has them.
    """

    def pick(mine, theirs):
        return (theirs or mine) if authoritative else (mine or theirs)

    if authoritative and new.abstract:
        abstract = new.abstract
    elif old_authoritative:
        abstract = old.abstract or new.abstract
    else:
        abstract = old.abstract if len(old.abstract) >= len(new.abstract) else new.abstract
    return Paper(
        key=old.key,
        arxiv_id=old.arxiv_id or new.arxiv_id,
        title=pick(_titled(old.title), _titled(new.title)),
        abstract=abstract,
        authors=pick(old.authors, new.authors),
        categories=tuple(dict.fromkeys(old.categories + new.categories)),
        link=old.link or new.link,
        pdf_url=old.pdf_url or new.pdf_url,
        published=old.published or new.published,
        announce_type=old.announce_type or new.announce_type,
        sources=old.sources,
        **{f: _newest(getattr(old, f), getattr(new, f)) for f in _MUTABLE_FIELDS},
    )


def _titled(title: str) -> str:
    """A stored title, "" for none (rows written by earlier versions hold the placeholder UNTITLED)."""
    return "" if title == UNTITLED else title


def _newest(old, new):
    """A mutable field after a re-fetch: the new report's value when it has one."""
    return old if new is None or new == "" else new


_DIGEST_TIMES = {"created_at", "next_attempt_at", "sent_at", "attempt_started_at"}


def _digest_from_row(r: dict) -> DigestRecord:
    # DigestRecord's fields are the table's columns, by name.
    return DigestRecord(
        **{
            f.name: parse_ts(r[f.name]) if f.name in _DIGEST_TIMES else r[f.name]
            for f in fields(DigestRecord)
        }
    )


_readable_digest = _readable(_digest_from_row, "digest")


def _item_from_row(r: dict) -> DigestItem:
    paper = _paper_from_row(r)
    return DigestItem(
        paper,
        r["_score"],
        tuple(json.loads(r["_terms"])),
        tuple(json.loads(r["_authors"])),
        tuple(json.loads(r["_reasons"])),
    )


_readable_item = _readable(_item_from_row, "digest item")


_SOURCE_TIMES = ("last_fetch_at", "last_ok_at", "last_change_at", "retry_at")


def _clean_source_row(row: dict) -> dict:
    """A source's state with any timestamp that cannot be read as unknown (logged): a fetch
    then simply counts as never made, rather than failing the worker."""
    for name in _SOURCE_TIMES:
        try:
            parse_ts(row.get(name))
        except ValueError:
            log.warning("source %s: unreadable %s %r, treated as unknown", row.get("name"), name, row[name])
            row[name] = None
    return row


_CONFIRMED = "confirmed_as"  # a confirmed sign-up's row holds only its subscriber's id


def address_key(email: str | None) -> str | None:
    """What two spellings of one inbox's address have alike: Unicode NFC (é composed or not),
    then lower case, by Python's rules, never by a database's locale (PostgreSQL's lower()
    folds only ASCII under the C locale, and otherwise differs from Python on İ and final Σ).
    Not casefold: "straße" and "strasse" are different addresses. The domain in one spelling,
    its IDNA labels as letters: `ada@xn--mller-kva.example` is `ada@müller.example` (a YAML may
    write the one, the web form keeps the other)."""
    if not email:
        return None
    local, at, domain = unicodedata.normalize("NFC", email).rpartition("@")
    return unicodedata.normalize("NFC", f"{local.lower()}{at}{unicode_host(domain)}")
