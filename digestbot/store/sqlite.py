"""The SQLite backend (the embedded default): connecting, migrations, transactions, errors.

The database runs in WAL mode with a busy timeout so the runner, `status` and the web app can
share it. Transactions are BEGIN IMMEDIATE: one writer at a time, readers alongside. The schema
version is SQLite's `user_version`.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

from .base import (
    _ADDED_COLUMNS,
    _AFTER_COLUMNS,
    _SCHEMA,
    SCHEMA_VERSION,
    Store,
    StoreDamaged,
    StoreError,
    StoreOutdated,
    StoreWriteError,
    storable,
)


def _greatest(*values):
    """GREATEST(a, b, ...) as PostgreSQL has it (NULLs ignored), so both backends share SQL."""
    present = [v for v in values if v is not None]
    return max(present) if present else None


OPEN_PATIENCE = 30.0  # seconds: as long as the busy timeout a statement waits
OPEN_SLICE = 0.25  # seconds: each of the opening's waits for a lock, between two looks at a stop


class SqliteStore(Store):
    """The store in one SQLite file."""

    backend = "sqlite"

    def __init__(self, path: str | Path, should_stop: Callable[[], bool] | None = None, upgrade: bool = True):
        if should_stop is not None:  # asked while the open waits for another process's lock
            self.should_stop = should_stop
        self.path = self.target = Path(path)
        self.upgrade = upgrade
        try:
            if upgrade and self.path.parent and not self.path.parent.exists():
                self.path.parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(
                # A short busy wait until _open sets the full one: _open_patiently waits out a
                # lock in Python, where a stop signal is heard (in SQLite's own wait it is not).
                str(self.path) if upgrade else f"{self.path.resolve().as_uri()}?mode=ro",
                timeout=OPEN_SLICE,
                isolation_level=None,
                check_same_thread=False,
                uri=not upgrade,
            )
        except (OSError, sqlite3.Error) as e:
            raise StoreError(f"cannot open the database {self.path}: {_reason(e)}") from None
        conn.create_function("GREATEST", -1, _greatest, deterministic=True)
        self.conn = conn
        try:
            self._open_patiently()
        except StoreError:
            conn.close()
            raise
        except sqlite3.Error as e:
            conn.close()
            # a full disk or a lock held elsewhere passes (exit 1, the worker waits); the rest is for a person
            passing = getattr(e, "sqlite_errorname", "").startswith(_PASSING) or _is_locked(e)
            kind = StoreWriteError if passing else StoreDamaged if _is_damaged(e) else StoreError
            raise kind(_open_problem(self.path, e)) from None

    def _open_patiently(self) -> None:
        """`_open`, tried again while another connection holds the lock it needs. SQLite returns
        "database is locked" at once, busy timeout or not, where waiting could deadlock (a
        journal-mode change, the last connection's checkpoint on close); every step of `_open`
        can simply be run again."""
        deadline = time.monotonic() + OPEN_PATIENCE
        while True:
            try:
                return self._open()
            except sqlite3.OperationalError as e:
                busy = getattr(e, "sqlite_errorname", "").startswith(("SQLITE_BUSY", "SQLITE_LOCKED"))
                if not (busy or "locked" in str(e)) or time.monotonic() > deadline:
                    raise
                if self.should_stop():  # a stopping worker does not wait out the lock
                    raise StoreWriteError(
                        f"cannot open the database {self.path}: not waited for, stopping"
                    ) from None
                time.sleep(0.02)

    def _open(self) -> None:
        version = self.schema_version()
        self._refuse_newer(version)
        self._refuse_foreign_tables(version)  # another application's file, numbered or not
        self._refuse_outdated(version)
        self.conn.execute(f"PRAGMA busy_timeout={int(OPEN_PATIENCE * 1000)}")
        if not self.upgrade:
            return  # read only: a file at this schema is in WAL mode already
        self.conn.execute("PRAGMA journal_mode=WAL")  # written in the file: only into digestbot's
        self.conn.execute("PRAGMA synchronous=NORMAL")
        self._migrate(version)  # before foreign keys are on: a migration may rebuild a table
        self.conn.execute("PRAGMA foreign_keys=ON")

    def schema_version(self) -> int:
        return self.conn.execute("PRAGMA user_version").fetchone()[0]

    def _table_names(self) -> set[str]:
        return {r[0] for r in self.conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}

    def _migrate(self, version: int) -> None:
        # user_version says the schema is current: the web app opens a Store per request, and
        # this keeps that to one PRAGMA instead of re-running the schema every time.
        if version == SCHEMA_VERSION:
            return
        with self.transaction():
            for statement in _SCHEMA.split(";"):
                if statement.strip():
                    self.conn.execute(statement)
            for table, column, definition in _ADDED_COLUMNS:
                have = {row[1] for row in self.conn.execute(f"PRAGMA table_info({table})")}
                if column not in have:
                    self.conn.execute(f"ALTER TABLE {table} ADD COLUMN {column} {definition}")
            for statement in _AFTER_COLUMNS:
                self.conn.execute(statement)
            self._widen_digest_states()
            self._rekey_papers()
            self._key_addresses()
            self.conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")

    def _widen_digest_states(self) -> None:
        """Schema 3 added digest states; SQLite cannot alter a CHECK, so the table is rebuilt
        (inside the migration's transaction, with the same rows, ids and indexes; foreign keys
        are off then, so digest_items keep pointing at the same ids)."""
        sql = self.conn.execute("SELECT sql FROM sqlite_master WHERE name = 'digests'").fetchone()[0]
        if "'cancelled'" in sql:
            return
        columns = [row[1] for row in self.conn.execute("PRAGMA table_info(digests)")]
        create = _SCHEMA[_SCHEMA.index("CREATE TABLE IF NOT EXISTS digests") :]
        create = create[: create.index(";")].replace("IF NOT EXISTS digests", "digests_new")
        self.conn.execute(create)
        cols = ", ".join(columns)
        self.conn.execute(f"INSERT INTO digests_new ({cols}) SELECT {cols} FROM digests")
        self.conn.execute("DROP TABLE digests")
        self.conn.execute("ALTER TABLE digests_new RENAME TO digests")
        self.conn.execute("CREATE INDEX IF NOT EXISTS digests_status ON digests (status, next_attempt_at)")
        self.conn.execute("CREATE INDEX IF NOT EXISTS digests_subscriber ON digests (subscriber_id, id)")

    @contextmanager
    def transaction(self, serial: bool = True) -> Iterator[sqlite3.Connection]:
        """BEGIN IMMEDIATE ... COMMIT, or ROLLBACK on any exception: all or nothing. A write the
        database refuses (disk full, read-only, I/O error, locked too long) is a StoreWriteError.
        SQLite has one writer at a time whatever `serial` says."""
        if self.conn.in_transaction:
            yield self.conn
            return
        try:
            self.conn.execute("BEGIN IMMEDIATE")
            try:
                yield self.conn
            except BaseException:
                if self.conn.in_transaction:  # SQLite may have rolled back by itself (SQLITE_FULL)
                    self.conn.execute("ROLLBACK")
                raise
            self.conn.execute("COMMIT")
        except sqlite3.DatabaseError as e:
            mapped = _mapped(self.path, e)
            if mapped is None:
                raise
            if self.conn.in_transaction:
                with suppress(sqlite3.Error):  # a damaged file may refuse even that
                    self.conn.execute("ROLLBACK")
            raise mapped from None

    @contextmanager
    def snapshot(self) -> Iterator[sqlite3.Connection]:
        """A read transaction (BEGIN DEFERRED): in WAL mode its reads see the database as of
        its first one, and writers are not held up."""
        if self.conn.in_transaction:
            yield self.conn
            return
        self.conn.execute("BEGIN DEFERRED")
        try:
            self.conn.execute("SELECT COUNT(*) FROM sqlite_master").fetchone()  # the moment is now
            yield self.conn
        finally:
            if self.conn.in_transaction:
                self.conn.execute("ROLLBACK")  # nothing was written: ending it is all it takes

    @property
    def in_transaction(self) -> bool:
        return self.conn.in_transaction

    def _exec(self, sql: str, params: Iterable = ()) -> sqlite3.Cursor:
        with self._mapping():
            return self.conn.execute(sql, storable(params))

    def _exec_many(self, sql: str, rows: Iterable[Iterable]) -> None:
        with self._mapping():
            self.conn.executemany(sql, map(storable, rows))

    def _rows(self, sql: str, params: Iterable = ()) -> list[dict]:
        with self._mapping():
            cur = self.conn.execute(sql, storable(params))
            names = [d[0] for d in cur.description]
            return [dict(zip(names, row, strict=True)) for row in cur]

    @contextmanager
    def _mapping(self) -> Iterator[None]:
        """A statement outside a transaction that the database cannot carry out (a damaged
        page, a disk that fails, a lock held too long) is a StoreError naming the file, as
        inside one (`transaction` maps those); a mistake in a statement stays what it is."""
        try:
            yield
        except sqlite3.DatabaseError as e:
            mapped = None if self.conn.in_transaction else _mapped(self.path, e)
            if mapped is None:  # in a transaction, transaction() maps it after the rollback
                raise
            raise mapped from None


def probe(path: str | Path) -> None:
    """Raise the StoreError opening the SQLite file at `path` would (made by a newer digestbot,
    another application's, not SQLite, damaged anywhere), reading it only: an older one is left
    for the first command that uses it to upgrade."""
    try:
        store = SqliteStore(path, upgrade=False)
    except StoreOutdated:
        return
    try:
        if store.conn.execute("PRAGMA quick_check(1)").fetchone()[0] != "ok":
            raise StoreDamaged(_corrupt(store.path, "database disk image is malformed"))
    except sqlite3.DatabaseError as e:
        if _is_damaged(e):
            raise StoreDamaged(_open_problem(store.path, e)) from None
    finally:
        store.close()


# SQLite result codes of a write the database refused, rather than of a bug in a statement.
_WRITE_FAILURES = (
    "SQLITE_FULL",
    "SQLITE_READONLY",
    "SQLITE_IOERR",
    "SQLITE_BUSY",
    "SQLITE_LOCKED",
    "SQLITE_CANTOPEN",
)


def _mapped(path: Path, e: sqlite3.DatabaseError) -> StoreError | None:
    """What a statement's error means for the user: a damaged file (StoreDamaged, exit 2: restore
    a backup), a write the database refused (StoreWriteError: the worker backs off), or None
    for an error of the statement itself (a bug, shown as such)."""
    if _is_damaged(e):
        return StoreDamaged(_open_problem(path, e))
    if getattr(e, "sqlite_errorname", "").startswith(_WRITE_FAILURES):
        return StoreWriteError(f"cannot write to the database {path}: {e}{_hint(e)}")
    return None


_PASSING = ("SQLITE_FULL", "SQLITE_IOERR", "SQLITE_BUSY", "SQLITE_LOCKED")


def _is_damaged(e: sqlite3.Error) -> bool:
    name = getattr(e, "sqlite_errorname", "")
    return name.startswith(("SQLITE_CORRUPT", "SQLITE_NOTADB")) or "malformed" in str(e)


def _is_locked(e: sqlite3.Error) -> bool:
    return getattr(e, "sqlite_errorname", "").startswith(("SQLITE_BUSY", "SQLITE_LOCKED")) or "locked" in str(
        e
    )


def _hint(e: sqlite3.Error) -> str:
    """What to look at when a write was refused for a reason outside digestbot."""
    if _is_locked(e):
        return (
            f" (another process kept it locked for over {OPEN_PATIENCE:g} s: a long transaction, a sqlite3"
            " shell left inside one, a copy tool? try again once it is done)"
        )
    if getattr(e, "sqlite_errorname", "").startswith("SQLITE_IOERR"):
        return " (is the disk full or failing, or a file size limit reached?)"
    return ""


def _reason(e: Exception) -> str:
    return getattr(e, "strerror", None) or str(e)


def _open_problem(path: Path, e: sqlite3.Error) -> str:
    """One line on why a database cannot be used, naming the way out."""
    name = getattr(e, "sqlite_errorname", "")
    if name == "SQLITE_NOTADB" or "not a database" in str(e):
        return f"{path} is not a digestbot database (not SQLite, or corrupt): restore a backup or choose another --db"
    if name.startswith("SQLITE_CORRUPT"):
        return _corrupt(path, e)
    if name.startswith(("SQLITE_READONLY", "SQLITE_CANTOPEN")) or "readonly" in str(e):
        return (
            f"cannot write to the database {path} ({e}): digestbot needs write access to the file "
            "and its folder (for the -wal and -shm files)"
        )
    if name.startswith("SQLITE_FULL"):
        return f"cannot use the database {path}: {e} (is the disk full?)"
    return f"cannot use the database {path}: {e}{_hint(e)}"


def _corrupt(path: Path, said: object) -> str:
    return f"the database {path} is corrupt ({said}): restore a backup (see README, Backups)"
