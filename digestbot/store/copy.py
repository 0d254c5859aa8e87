"""`digestbot migrate --to postgresql://...`: a SQLite database copied into PostgreSQL.

The source is read as of one moment (a read transaction: workers may go on writing to it), and
the target written in one transaction that is checked before it commits: an interrupted copy,
or one that does not check out, leaves the target as it was. A rerun copies again: rows already
there are refreshed from the source, by primary key, and rows the source has deleted since
(a rating cleared, a sign-up confirmed, a paper dropped from a digest not sent yet) go, so it is
safe to rerun, for instance to take the last changes just before switching over. A target that
holds papers, sources, subscribers or digests the source never had (rows digestbot never
deletes) is in use already (workers, a fetch or the web app run against it): it is refused rather than mixed with another
database; so is one whose ledger changed since the last copy (workers ran on it after the
switch-over: copying again would undo what they recorded, and send it again); the target keeps
the fingerprint of the ledger it was given in `digestbot_copied`. The check: row counts of every
table, and the ledger row by row (each digest's subscriber, status and Message-ID, each digest's
papers, each subscriber's watermark).
"""

from __future__ import annotations

import hashlib
import itertools
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from .base import Store, StoreError, storable

# Parents before children (foreign keys), each with its primary key and what one row is called.
TABLES = (
    ("papers", ("seq",), "paper"),
    ("sources", ("name",), "source"),
    ("subscribers", ("id",), "subscriber"),
    ("digests", ("id",), "digest"),
    ("digest_items", ("digest_id", "rank"), "paper of a digest"),
    ("feedback", ("subscriber_id", "paper_seq"), "rating"),
    ("web_signups", ("nonce",), "sign-up"),
    ("paper_keys", ("old",), "former key of a paper"),
)  # not rate_events (the web pages' recent requests: they start afresh), leases, rate_slots
# Rows digestbot never deletes, by what makes one the same row (a paper: its seq and its key):
# a target row of these the source lacks was written by someone else.
# (Subscribers too: the source only deletes one renamed from a number-like YAML id; a target's
# own is a reader who signed up on a web app already running on it, and must not be deleted.)
_KEPT = {"papers": ("seq", "key"), "sources": ("name",), "subscribers": ("id",), "digests": ("id",)}
_IDENTITY = (("papers", "seq"), ("digests", "id"))  # columns whose sequence follows the copy
# Tables keyed by numbers, which both databases order alike: read in key order a page at a
# time (they grow to millions of rows: a ledger held whole in memory took gigabytes).
_BY_NUMBER = {"papers": ("seq",), "digests": ("id",), "digest_items": ("digest_id", "rank")}
_LEDGER = (
    ("digests", ("id", "subscriber_id", "status", "message_id", "seq_to")),
    ("digest_items", ("digest_id", "subscriber_id", "paper_seq", "rank")),
)
_WATERMARKS = "SELECT id, last_seq, last_run_at FROM subscribers"
BATCH = 2000
_COPIED = "digestbot_copied"  # in the target: the ledger's fingerprint as the last copy left it


@dataclass(frozen=True)
class CopyReport:
    counts: dict[str, int]  # table -> rows, the same in source and target
    ledger_digest: str  # a fingerprint of the ledger, the same in both


def copy_database(
    source: Store, target: Store, progress: Callable[[str, int, int], None] = lambda t, n, total: None
) -> CopyReport:
    """Copy every table of `source` into `target` and check the copy; StoreError if it differs
    (then nothing is written)."""
    if source.backend != "sqlite" or target.backend != "postgresql":
        raise StoreError("migrate copies a SQLite database into PostgreSQL")
    with source.snapshot():
        _refuse_foreign_rows(source, target)
        _refuse_moved_on(target)
        with target.transaction():
            # Rows the source deleted since the last copy, children first: a unique key they
            # hold, such as a sign-up's address, is then free for the row that replaced them.
            for table, key, _ in reversed(TABLES):
                if table not in _KEPT:
                    _delete_missing(source, target, table, key)
            for table, key, _ in TABLES:
                _copy_table(source, target, table, key, progress)
            for table, column in _IDENTITY:
                target._exec(
                    f"SELECT setval(pg_get_serial_sequence('{table}', '{column}'),"
                    f" COALESCE((SELECT MAX({column}) FROM {table}), 0) + 1, false)"
                )
            report = check_copy(source, target)  # inside the transaction: a copy that differs is undone
            target._exec(f"CREATE TABLE IF NOT EXISTS {_COPIED} (ledger TEXT NOT NULL)")
            target._exec(f"DELETE FROM {_COPIED}")
            target._exec(f"INSERT INTO {_COPIED} (ledger) VALUES (?)", (report.ledger_digest,))
            return report


def _refuse_moved_on(target: Store) -> None:
    if _COPIED not in target._table_names():
        return  # never copied into (or by a digestbot that did not keep the fingerprint)
    row = target._exec(f"SELECT ledger FROM {_COPIED}").fetchone()
    if row is not None and row[0] != _fingerprint(target):
        raise StoreError(
            f"{target.path} changed since the last migrate (workers ran on it: digests recorded or sent,"
            " watermarks moved on): copying again would undo that, and send it again. It is in use now,"
            " and was left as it is; to start over, migrate into an empty database."
        )


def _refuse_foreign_rows(source: Store, target: Store) -> None:
    for table, _, noun in TABLES:
        if table in _KEPT:
            extra = len(_missing(source, target, table, _KEPT[table]))
            if extra:
                raise StoreError(
                    f"{target.path} already holds {extra} {noun}(s) that {source.path} does not have:"
                    " it is in use (by workers, or a fetch or the web app run against it), and copying would mix two"
                    " databases. Migrate into an empty database."
                )


def _keys(store: Store, table: str, key: tuple[str, ...]) -> set[tuple]:
    """A table's keys, as the target stores them (see `storable`)."""
    return {storable(r) for r in store._exec(f"SELECT {', '.join(key)} FROM {table}")}


def _missing(source: Store, target: Store, table: str, key: tuple[str, ...]) -> list[tuple]:
    """The target's keys the source does not have, sorted (the source is not read for an empty
    target). Tables keyed by numbers are compared a page at a time, in key order."""
    if table in _BY_NUMBER:
        order = _BY_NUMBER[table]
        return list(_not_in(_paged(target, table, key, order), _paged(source, table, key, order)))
    have = _keys(target, table, key)
    return sorted(have - _keys(source, table, key)) if have else []


def _not_in(mine: Iterator[tuple], theirs: Iterator[tuple]) -> Iterator[tuple]:
    """The rows of `mine` that `theirs` lacks, both sorted."""
    other = next(theirs, None)
    for row in mine:
        while other is not None and other < row:
            other = next(theirs, None)
        if other != row:
            yield row


def _paged(store: Store, table: str, columns: tuple[str, ...], order: tuple[str, ...]) -> Iterator[tuple]:
    """`columns` (among them the numeric key `order`) of a table's rows in key order, so sorted
    as tuples too (the key is unique), as the target stores them; BATCH rows a query (keyset
    paging: no OFFSET scans)."""
    by, at = ", ".join(order), [columns.index(k) for k in order]
    after, params = "", ()
    while True:
        rows = store._exec(
            f"SELECT {', '.join(columns)} FROM {table}{after} ORDER BY {by} LIMIT {BATCH}", params
        ).fetchall()
        yield from (storable(row) for row in rows)
        if len(rows) < BATCH:
            return
        params = tuple(rows[-1][i] for i in at)
        after = f" WHERE ({by}) > ({', '.join('?' * len(order))})"


def _delete_missing(source: Store, target: Store, table: str, key: tuple[str, ...]) -> None:
    gone = _missing(source, target, table, key)
    where = " AND ".join(f"{k} = ?" for k in key)
    target._exec_many(f"DELETE FROM {table} WHERE {where}", gone)


def _copy_table(source: Store, target: Store, table: str, key: tuple[str, ...], progress) -> None:
    have = set(_columns(target, table))  # read once, not once per source column
    columns = [c for c in _columns(source, table) if c in have]
    total = _count(source, table)
    cols = ", ".join(columns)
    updates = ", ".join(f"{c} = excluded.{c}" for c in columns if c not in key) or None
    conflict = f"DO UPDATE SET {updates}" if updates else "DO NOTHING"
    insert = (
        f"INSERT INTO {table} ({cols}) VALUES ({', '.join('?' * len(columns))})"
        f" ON CONFLICT ({', '.join(key)}) {conflict}"
    )
    done = 0
    progress(table, 0, total)
    for rows in _batches(source, table, columns):
        target._exec_many(insert, rows)
        done += len(rows)
        progress(table, done, total)


def check_copy(source: Store, target: Store) -> CopyReport:
    """The same rows in every table, and the same ledger; StoreError naming what differs."""
    counts = {}
    for table, _, _ in TABLES:
        have, want = _count(target, table), _count(source, table)
        if have != want:
            raise StoreError(f"the copy differs: {table} has {have} rows in the target, {want} in the source")
        counts[table] = want
    want, have = _fingerprint(source), _fingerprint(target)
    if want != have:
        raise StoreError("the copy differs: the ledgers (digests, their papers, watermarks) are not the same")
    return CopyReport(counts, want)


def _columns(store: Store, table: str) -> list[str]:
    return [d[0] for d in store._exec(f"SELECT * FROM {table} LIMIT 0").description]


def _count(store: Store, table: str) -> int:
    return store._exec(f"SELECT COUNT(*) FROM {table}").fetchone()[0]


def _batches(source: Store, table: str, columns: list[str]):
    """The source's rows in rowid order, BATCH at a time (keyset paging: no OFFSET scans). By
    rowid, not the primary key: a text key the target stores otherwise (see `storable`) would
    be a bound that skips rows."""
    cols = ", ".join(columns)
    last = 0
    while True:
        rows = source._exec(
            f"SELECT rowid, {cols} FROM {table} WHERE rowid > ? ORDER BY rowid LIMIT {BATCH}", (last,)
        ).fetchall()
        if not rows:
            return
        yield [row[1:] for row in rows]
        last = rows[-1][0]


def _fingerprint(store: Store) -> str:
    """The ledger as one hash, of its rows as the target stores them (see `storable`) in the
    order Python sorts them (not the databases' differing collations): the digests and their
    papers read a page at a time, each digest's papers sorted here."""
    h = hashlib.sha256()
    digests, items = (_paged(store, table, columns, _BY_NUMBER[table]) for table, columns in _LEDGER)
    rows = itertools.chain(
        digests,
        itertools.chain.from_iterable(sorted(g) for _, g in itertools.groupby(items, key=lambda r: r[0])),
        sorted(storable(r) for r in store._exec(_WATERMARKS)),  # one row per subscriber
    )
    for row in rows:
        h.update(repr(row).encode())
    return h.hexdigest()
