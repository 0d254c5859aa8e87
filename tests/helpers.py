"""Helpers the end-to-end test files share: running the real CLI and reading the database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from click.testing import CliRunner, Result

from digestbot.cli import cli
from digestbot.store import DigestRecord, Store


def not_due_soon() -> str:
    """A daily schedule 12 hours away: after a first digest, nobody is due again during a test."""
    return f"daily {datetime.now(UTC) + timedelta(hours=12):%H:%M}"


def digestbot(workdir, *args: str, expect: int = 0) -> Result:
    """Run the real CLI on the workdir's config and database; check the exit code."""
    result = CliRunner().invoke(cli, ["--config", str(workdir.config), "--db", str(workdir.db), *args])
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception  # a crash, not an exit code: show its traceback
    assert result.exit_code == expect, f"exit code {result.exit_code}, wanted {expect}:\n{result.output}"
    return result


def ledger(db: Path, status: str | None = None) -> list[DigestRecord]:
    """The digests recorded in a database, oldest first."""
    with Store(db) as store:
        return store.digests(status=status)


def db_dump(db: Path) -> list[str]:
    """The database as SQL: compare two to show nothing changed."""
    with Store(db) as store:
        return list(store.conn.iterdump())
