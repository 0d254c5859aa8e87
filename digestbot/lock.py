"""One sender at a time: an advisory file lock beside the database.

`fcntl.flock` locks belong to the open file: the kernel drops them when the process dies, even
by kill -9, so a crash never leaves a stale lock behind. The holder writes its pid into the file
so that the next one can say who holds it.

The lock file is named after the database file's real path (symlinks and `..` resolved), so
every spelling of one database (a symlink, `./x/../db`, relative or absolute) shares one lock.
Hard links and bind mounts of the same file under another real path are not covered: that
would need a lock on the database file itself, and opening and closing the database file in
the process that also holds SQLite's POSIX locks on it would silently drop those.
"""

from __future__ import annotations

import fcntl
import os
import time
from collections.abc import Callable
from pathlib import Path

from .store import StoreError, is_postgres


def _never() -> bool:
    return False


class LockHeld(Exception):
    """Another process holds the lock; the message names it."""


class LockUnusable(StoreError):
    """The lock file beside the database cannot be opened: the database cannot be used safely
    (a usage error, exit 2, as for any database digestbot cannot use)."""


class LockWaitStopped(LockHeld):
    """The wait for the lock was given up: the process was asked to stop meanwhile."""


class FileLock:
    def __init__(self, path: Path, what: str):
        self.path = Path(path)
        self.what = what
        self._fd: int | None = None

    def acquire(self, wait: float = 0.0, poll: float = 0.1, stop: Callable[[], bool] = _never) -> None:
        """Take the lock, waiting up to `wait` seconds; raises LockHeld if it stays taken, and
        LockWaitStopped as soon as `stop()` says the process is stopping (a SIGTERM)."""
        try:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as e:
            raise LockUnusable(
                f"cannot open the lock file {self.path}: {e.strerror or e} (made by another user, such"
                " as root? remove it, or give it to the user digestbot runs as)"
            ) from None
        deadline = time.monotonic() + wait
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if stop():
                    os.close(fd)
                    raise LockWaitStopped(f"stopped while waiting for another process {self.what}") from None
                if time.monotonic() >= deadline:
                    holder = _read_pid(fd)
                    os.close(fd)
                    who = f" (pid {holder})" if holder else ""
                    raise LockHeld(
                        f"another digestbot process{who} is {self.what} with this database"
                    ) from None
                time.sleep(poll)
        try:  # the pid only helps the next one say who holds it: a full disk must not stop us
            os.ftruncate(fd, 0)
            os.write(fd, str(os.getpid()).encode())
        except OSError:
            pass
        self._fd = fd

    def release(self) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> FileLock:
        self.acquire()
        return self

    def __exit__(self, *exc) -> None:
        self.release()


def _read_pid(fd: int) -> str:
    try:
        return os.pread(fd, 32, 0).decode().strip()
    except OSError:
        return ""


def lock_path(db_path: str | Path, suffix: str) -> Path:
    """The lock file beside the database file its path really names, whatever the spelling."""
    return Path(f"{os.path.realpath(db_path)}{suffix}")


class NoLock:
    """The lock of a database served over the network (PostgreSQL): several workers, on this
    machine or others, are allowed; claims in the database keep them from doing a job twice."""

    def acquire(self, wait: float = 0.0, poll: float = 0.1, stop: Callable[[], bool] = _never) -> None:
        pass

    def release(self) -> None:
        pass

    def __enter__(self) -> NoLock:
        return self

    def __exit__(self, *exc) -> None:
        pass


def sender_lock(db_path: str | Path) -> FileLock | NoLock:
    """Held while digests are being sent: by `send`, `run --once`, and each dispatch of `run`."""
    return NoLock() if is_postgres(db_path) else FileLock(lock_path(db_path, ".send.lock"), "sending digests")


def runner_lock(db_path: str | Path) -> FileLock | NoLock:
    """Held for its whole life by `digestbot run`: one scheduler per SQLite database."""
    return (
        NoLock()
        if is_postgres(db_path)
        else FileLock(lock_path(db_path, ".run.lock"), "running the scheduler")
    )
