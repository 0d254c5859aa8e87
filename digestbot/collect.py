"""Collecting papers: fetch each source, store what it brought, record how it went."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime

from .config import SourceConfig
from .sources import FetchResult, HttpClient, SourceError, fetch_source
from .store import Store, now_utc

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SourceOutcome:
    """How one source's fetch went."""

    name: str
    new: int = 0
    known: int = 0
    skipped: int = 0
    not_modified: bool = False
    error: str | None = None
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return self.error is None


def fetch_one(
    store: Store, source: SourceConfig, client: HttpClient, now: datetime | None = None
) -> SourceOutcome:
    """Fetch one source into the store. Never raises for a bad feed: the outcome says what failed."""
    now = now or now_utc()
    started = time.monotonic()
    state = store.source_state(source.name)
    same_place = state.get("location") == source.location
    try:
        result: FetchResult = fetch_source(
            source,
            client,
            etag=state.get("etag") if same_place else None,
            last_modified=state.get("last_modified") if same_place else None,
        )
        new, known = store.add_papers(result.papers, source.name, now)
    except SourceError as e:
        return _failed(store, source, now, str(e), started)
    except Exception as e:  # a parser bug or input nobody foresaw must not stop the other sources
        log.debug("unexpected error in source %s", source.name, exc_info=True)
        return _failed(store, source, now, f"unexpected error: {type(e).__name__}: {e}", started)
    store.record_fetch_ok(
        source.name, source.type, source.location, now, new, known,
        result.etag, result.last_modified, changed=bool(new),
    )  # fmt: skip
    outcome = SourceOutcome(
        source.name, new, known, len(result.skipped), result.not_modified, None, time.monotonic() - started
    )
    for reason in result.skipped:
        log.debug("source %s: skipped %s", source.name, reason)
    log.info(
        "fetched %s: %s (%.1fs)",
        source.name,
        "not modified" if result.not_modified else f"{new} new, {known} known, {len(result.skipped)} skipped",
        outcome.seconds,
    )
    return outcome


def _failed(store: Store, source: SourceConfig, now: datetime, error: str, started: float) -> SourceOutcome:
    store.record_fetch_error(source.name, source.type, source.location, now, error)
    log.warning("source %s failed: %s", source.name, error)
    return SourceOutcome(source.name, error=error, seconds=time.monotonic() - started)


def fetch_all(
    store: Store,
    sources: Iterable[SourceConfig],
    client: HttpClient,
    now: datetime | None = None,
    on_done: Callable[[SourceOutcome], None] | None = None,
) -> list[SourceOutcome]:
    """Fetch every source in turn; one failing never stops the others."""
    outcomes = []
    for source in sources:
        outcome = fetch_one(store, source, client, now)
        outcomes.append(outcome)
        if on_done:
            on_done(outcome)
    return outcomes
