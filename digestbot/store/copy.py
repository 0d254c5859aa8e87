"""`digestbot migrate --to postgresql://...`: a SQLite database copied into PostgreSQL.

One transaction on the target: an interrupted copy leaves nothing behind, and a rerun copies
again (rows already there are refreshed from the source, by primary key), so it is safe to
rerun, for instance to take the last changes just before switching over. A target that holds
digests the source does not have is in use already: it is refused rather than mixed with
another ledger. After the copy, the target is checked against the source: row counts of every
table, and the ledger row by row (each digest's subscriber, status and Message-ID, each
digest's papers, each subscriber's watermark).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass

from .base import Store, StoreError

# Parents before children (foreign keys), each with its primary key.
TABLES = (
    ("papers", ("seq",)),
    ("sources", ("name",)),
    ("subscribers", ("id",)),
    ("digests", ("id",)),
    ("digest_items", ("digest_id", "rank")),
    ("feedback", ("subscriber_id", "paper_seq")),
    ("web_signups", ("nonce",)),
    ("paper_keys", ("old",)),
)  # not rate_events (the web pages' recent requests: they start afresh), leases, rate_slots
_IDENTITY = (("papers", "seq"), ("digests", "id"))  # columns whose sequence follows the copy
_LEDGER = (
    "SELECT id, subscriber_id, status, message_id, seq_to FROM digests",
    "SELECT digest_id, subscriber_id, paper_seq, rank FROM digest_items",
    "SELECT id, last_seq, last_run_at FROM subscribers",
)
BATCH = 2000


@dataclass(frozen=True)
class CopyReport:
    counts: dict[str, int]  # table -> rows, the same in source and target
    ledger_digest: str  # a fingerprint of the ledger, the same in both


def copy_database(
    source: Store, target: Store, progress: Callable[[str, int, int], None] = lambda t, n, total: None
) -> CopyReport:
    """Copy every table of `source` into `target` and check the copy; StoreError if it differs."""
    if source.backend != "sqlite" or target.backend != "postgresql":
        raise StoreError("migrate copies a SQLite database into PostgreSQL")
    extra = _extra_digests(source, target)
    if extra:
        raise StoreError(
            f"{target.path} already holds {extra} digest(s) that {source.path} does not have: it is in use"
            " by workers already, and copying would mix two ledgers. Migrate into an empty database."
        )
    with target.transaction():
        for table, key in TABLES:
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
            for rows in _batches(source, table, columns, key):
                target._exec_many(insert, rows)
                done += len(rows)
                progress(table, done, total)
        for table, column in _IDENTITY:
            target._exec(
                f"SELECT setval(pg_get_serial_sequence('{table}', '{column}'),"
                f" COALESCE((SELECT MAX({column}) FROM {table}), 0) + 1, false)"
            )
    return check_copy(source, target)


def check_copy(source: Store, target: Store) -> CopyReport:
    """The same rows in every table, and the same ledger; StoreError naming what differs."""
    counts = {}
    for table, _ in TABLES:
        have, want = _count(target, table), _count(source, table)
        if have != want:
            raise StoreError(f"the copy differs: {table} has {have} rows in the target, {want} in the source")
        counts[table] = want
    want, have = _fingerprint(source), _fingerprint(target)
    if want != have:
        raise StoreError("the copy differs: the ledgers (digests, their papers, watermarks) are not the same")
    return CopyReport(counts, want)


def _extra_digests(source: Store, target: Store) -> int:
    ids = {r[0] for r in source._exec("SELECT id FROM digests")}
    return sum(1 for (i,) in target._exec("SELECT id FROM digests") if i not in ids)


def _columns(store: Store, table: str) -> list[str]:
    return [d[0] for d in store._exec(f"SELECT * FROM {table} LIMIT 0").description]


def _count(store: Store, table: str) -> int:
    return store._exec(f"SELECT COUNT(*) FROM {table}").fetchone()[0]


def _batches(source: Store, table: str, columns: list[str], key: tuple[str, ...]):
    """The source's rows in key order, BATCH at a time (keyset paging: no OFFSET scans)."""
    cols = ", ".join(columns)
    order = ", ".join(key)
    last = None
    while True:
        after = "" if last is None else f"WHERE ({order}) > ({', '.join('?' * len(key))})"
        rows = source._exec(
            f"SELECT {cols} FROM {table} {after} ORDER BY {order} LIMIT {BATCH}", () if last is None else last
        ).fetchall()
        if not rows:
            return
        yield rows
        last = tuple(rows[-1][columns.index(k)] for k in key)


def _fingerprint(store: Store) -> str:
    """The ledger as one hash; rows sorted here, not by the databases' differing collations."""
    h = hashlib.sha256()
    for query in _LEDGER:
        for row in sorted(tuple(r) for r in store._exec(query)):
            h.update(repr(row).encode())
    return h.hexdigest()
