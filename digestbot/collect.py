"""Collecting papers: fetch each source, store what it brought, record how it went."""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from urllib.parse import urlsplit

from .config import DEFAULT_URLS, SourceConfig
from .leases import LeaseKeeper
from .models import Paper
from .rates import SharedRates
from .sources import FetchResult, FetchStopped, HttpClient, SourceError, fetch_source
from .sources.arxiv import (
    api_params,
    catch_up_query,
    categories_of,
    id_list_params,
    missed_days,
    parse_arxiv_api,
)
from .sources.http import FetchError
from .store import CLOCK_AHEAD, Store, StoreDamaged, StoreWriteError, now_utc, parse_ts

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
    caught_up: int = 0
    warnings: tuple[str, ...] = ()  # the feed was read, but should be fixed (logged at WARNING)
    # Not fetched: the server asked (Retry-After) not to be asked before then. Keeping to that
    # is not a failure; the fetch that got the 429 or 503 was one.
    waiting_until: datetime | None = None
    stopped: bool = False  # cut short by a stop signal: nothing recorded, fetched at the next run

    @property
    def ok(self) -> bool:
        return self.error is None


def fetch_one(
    store: Store, source: SourceConfig, client: HttpClient, now: datetime | None = None
) -> SourceOutcome:
    """Fetch one source into the store. Never raises for a bad feed: the outcome says what failed."""
    if client.stopped:  # not started after a stop: a local file would be read all the same
        return _stopped(source.name)
    now = now or now_utc()
    started = time.monotonic()
    state = store.source_state(source.name)
    same_place = state.get("location") == source.location
    waiting = _waiting(store, source.name, source.location, now)
    if waiting:
        return waiting
    try:
        result: FetchResult = fetch_source(
            source,
            client,
            etag=state.get("etag") if same_place else None,
            last_modified=state.get("last_modified") if same_place else None,
        )
        new, known = store.add_papers(result.papers, source.name, now, authoritative=_authoritative(source))
        _check_window(source, state, result, new)
        _check_query(source, result)
        announced, caught_up, complete = _catch_up(store, source, client, state, result, now)
    except FetchStopped:
        return _stopped(source.name)
    except SourceError as e:
        return _failed(store, source, now, str(e), started, _retry_at(e, now))
    except (StoreWriteError, StoreDamaged):
        raise  # the database, not the source, is the problem: the caller stops and says so
    except Exception as e:  # a parser bug or input nobody foresaw must not stop the other sources
        log.debug("unexpected error in source %s", source.name, exc_info=True)
        return _failed(store, source, now, f"unexpected error: {type(e).__name__}: {e}", started)
    store.record_fetch_ok(
        source.name,
        source.type,
        source.location,
        now,
        new + caught_up,
        known,
        # After a failed catch-up, forget the validators: the next fetch must get the listing
        # again (not a 304) to notice the gap and retry.
        result.etag if complete else None,
        result.last_modified if complete else None,
        changed=bool(new or caught_up),
        announced=announced,
        warnings=_standing_warnings(state, result),
        retry_at=_retry_at(result, now),
    )
    outcome = SourceOutcome(
        source.name,
        new + caught_up,
        known,
        len(result.skipped),
        result.not_modified,
        seconds=time.monotonic() - started,
        caught_up=caught_up,
        warnings=tuple(result.warnings),
    )
    for warning in result.warnings:
        log.warning("source %s: %s", source.name, warning)
    for reason in result.skipped:
        log.debug("source %s: skipped %s", source.name, reason)
    health = source_health(source, store.source_state(source.name), now)
    if health:
        log.warning("source %s is %s", source.name, health)
    log.info(
        "fetched %s: %s (%.1fs)",
        source.name,
        "not modified"
        if result.not_modified
        else f"{new} new, {known} known, {len(result.skipped)} skipped"
        + (f", {caught_up} caught up from missed days" if caught_up else ""),
        outcome.seconds,
    )
    return outcome


FAILING_AFTER = 3  # failed fetches in a row before a source is reported as failing
# Working days without a new paper before a source counts as stale. arXiv and Hugging Face
# publish every working day; a generic feed (a blog, a journal) may rest for a while.
STALE_WORKING_DAYS = {"arxiv_rss": 2, "arxiv_api": 5, "hf_daily": 2, "rss": 15}


def working_days_between(start: datetime, end: datetime) -> int:
    """Monday-to-Friday days after `start`'s day, up to and including `end`'s day."""
    days, day = 0, start.date() + timedelta(days=1)
    while day <= end.date():
        days += day.weekday() < 5
        day += timedelta(days=1)
    return days


def source_health(source: SourceConfig, state: dict, now: datetime) -> str | None:
    """Why a source needs a look (keeps failing, or stopped bringing papers), or None if fine.

    Weekends and an empty feed now and then are normal: only working days count.
    """
    failures = state.get("failures") or 0
    if failures >= FAILING_AFTER:
        return f"failing: {failures} fetches in a row ({state.get('last_error')})"
    if source.name == LIKED_SOURCE:  # fetched only when a like is missing: no new papers is no news
        return None
    last_change = parse_ts(state.get("last_change_at")) or parse_ts(state.get("last_ok_at"))
    if last_change is None or state.get("last_ok_at") is None:
        return None
    idle = working_days_between(last_change, now)
    if (
        idle >= STALE_WORKING_DAYS.get(source.type, 15)
        and (now - last_change).total_seconds() > 2 * source.every
    ):
        return f"stale: no new papers for {idle} working days"
    return None


CATCH_UP_PAGE = 500
CATCH_UP_MAX_PAGES = 20


def _catch_up(
    store: Store, source: SourceConfig, client: HttpClient, state: dict, result: FetchResult, now: datetime
) -> tuple[str | None, int, bool]:
    """Fill announcement days an arXiv listing skipped while the bot was down, from the API.

    rss.arxiv.org only ever shows the latest day. When the day it shows now is more than one
    working day after the last one seen, the papers in between are fetched from the export API
    (same categories, by submission date). Returns (announcement day to record, papers added,
    whether it completed); if it failed, the old day stays recorded so the next fetch tries again.
    """
    if source.type == "hf_daily":
        return _hf_catch_up(store, source, client, state, result, now)
    announced = result.announced.isoformat() if result.announced else None
    previous = state.get("last_announced")
    if source.type != "arxiv_rss" or not source.url or not announced or not previous:
        return announced, 0, True
    gap = missed_days(date.fromisoformat(previous), result.announced)
    categories = categories_of(source.url)
    if not gap or not categories:
        return announced, 0, True
    query = catch_up_query(categories, date.fromisoformat(previous), result.announced)
    api = replace(
        source,
        type="arxiv_api",
        url=DEFAULT_URLS["arxiv_api"],
        path=None,
        query=query,
        max_results=CATCH_UP_PAGE,
    )
    if _waiting(store, source.name, api.location, now):  # the API asked, at another fetch
        return previous, 0, False
    log.info(
        "source %s: %d announcement day(s) missed (%s): catching up from the arXiv API",
        source.name,
        len(gap),
        ", ".join(map(str, gap)),
    )
    added = 0
    try:
        for page in range(CATCH_UP_MAX_PAGES):
            start = page * CATCH_UP_PAGE
            fetched = client.get(
                api.url or "", params=api_params(api, start, "ascending"), deadline=source.timeout
            )
            answer = parse_arxiv_api(api, fetched)
            new, _ = store.add_papers(
                [p_with_source(p, source.name) for p in answer.papers], source.name, now, authoritative=True
            )
            added += new
            if not _more_pages(answer, start):
                break
        else:  # more than the catch-up reads: say so, the days count as caught up all the same
            read = CATCH_UP_MAX_PAGES * CATCH_UP_PAGE
            of = f" of {answer.total}" if answer.total else ""
            result.warnings.append(
                f"catch-up read the first {read}{of} papers of the missed days (the most it reads): "
                "the newer ones were not fetched"
            )
    except (FetchError, SourceError) as e:
        log.warning(
            "source %s: catch-up from the arXiv API failed (will retry next fetch): %s", source.name, e
        )
        return previous, added, False
    log.info("source %s: caught up %d paper(s) from the missed days", source.name, added)
    return announced, added, True


HF_CATCH_UP_DAYS = 31  # the most days of Hugging Face lists read again after downtime


def _hf_catch_up(
    store: Store, source: SourceConfig, client: HttpClient, state: dict, fetched: FetchResult, now: datetime
) -> tuple[str | None, int, bool]:
    """Read again the Hugging Face lists of the days since the last fetch, up to yesterday.

    The current list (no `date:`) is only today's: the lists of days the bot was down, and the
    votes and papers a day's list gathered after its last fetch, are read once, at the first
    fetch of each UTC day, by `?date=` (the newest HF_CATCH_UP_DAYS days at most). The day
    recorded is today's; if a list failed, the old day stays so the next fetch tries again (not
    before a Retry-After Hugging Face gave: kept in `fetched.retry_after`, as for a failed fetch).
    Returns (day to record, papers added, whether it completed), as `_catch_up`."""
    today = now.astimezone(UTC).date()
    if source.date or not source.url:  # a fixed day, or a local file: nothing else to read
        return None, 0, True
    previous = state.get("last_announced") if state.get("location") == source.location else None
    if previous is None or previous >= today.isoformat():
        return today.isoformat(), 0, True
    first = max(date.fromisoformat(previous), today - timedelta(days=HF_CATCH_UP_DAYS))
    days = [first + timedelta(days=n) for n in range((today - first).days)]
    log.info("source %s: reading the list of %s again", source.name, ", ".join(map(str, days)))
    added = 0
    for day in days:
        try:
            result = fetch_source(replace(source, date=day.isoformat()), client)
        except SourceError as e:
            log.warning("source %s: the list of %s failed (will retry next fetch): %s", source.name, day, e)
            fetched.retry_after = e.retry_after
            return day.isoformat(), added, False
        added += store.add_papers(result.papers, source.name, now)[0]
    return today.isoformat(), added, True


def _more_pages(result: FetchResult, start: int) -> bool:
    """Whether an export-API answer for results from `start` on leaves more to fetch. A page
    is full by its entries, read or not (one without an id still took a place). An empty page
    before the end the API announced (opensearch:totalResults) is an error of the API's, as it
    gives now and then under load: the catch-up fails and the next fetch tries again. (A short
    page is the end: the count is not always right.)"""
    seen = start + result.entries
    if result.total is not None and seen < result.total and result.entries == 0:
        raise SourceError(
            f"the arXiv API answered no results from {start} of the {result.total} it announced"
        )
    return result.entries >= CATCH_UP_PAGE and (result.total is None or seen < result.total)


def _check_window(source: SourceConfig, state: dict, result: FetchResult, new: int) -> None:
    """An `arxiv_api` source reads the newest `max_results` papers, and a feed shows its newest
    entries: when every one of them was new, what arrived before them since the last fetch may
    never have been read (or the feed changed its entries' ids, which makes old ones new).
    Warned (in `status`), not a failure; the first fetch is no such case."""
    if state.get("last_ok_at") is None or not result.papers or new < len(result.papers):
        return
    more = result.total is None or result.total > new  # the query has more than was read
    if source.type == "arxiv_api" and new >= source.max_results and more:
        result.warnings.append(
            f"all {new} results were new: papers between this fetch and the last may have been "
            "missed; raise the source's max_results or fetch it more often (every:)"
        )
    elif source.type == "rss" and new >= 2:
        result.warnings.append(
            f"all {new} entries were new: entries between this fetch and the last may have been missed"
            " (fetch it more often: every:), or the feed changed its entries' ids"
        )


def _standing_warnings(state: dict, result: FetchResult) -> list[str]:
    """The warnings to keep for `status`: a 304 read nothing, so what the last read found wrong
    with the document (undefined entities, a wrong encoding) still holds, with what this fetch
    found itself (a move) added; any other fetch's own."""
    previous = state.get("last_warning")
    if not result.not_modified or not previous:
        return result.warnings
    return [previous, *(w for w in result.warnings if w not in previous)]


def _check_query(source: SourceConfig, result: FetchResult) -> None:
    """An `arxiv_api` query that matches no paper in all of arXiv (totalResults 0) is a typo
    (`cat:cs.LGG`, `au:`), not a quiet day: warned (in `status`), so it does not pass as ok for a
    week until the source is found stale."""
    if source.type == "arxiv_api" and result.total == 0 and not result.entries:
        result.warnings.append(
            f"arXiv has no paper at all for the query {source.query!r} (totalResults 0): check the"
            " source's query: (field prefixes such as cat:cs.LG, au:, ti:, abs:, and AND/OR/ANDNOT)"
        )


def p_with_source(paper: Paper, name: str) -> Paper:
    return replace(paper, sources=(name,))


MAX_RETRY_AFTER = timedelta(days=1)  # the longest wait a server's Retry-After imposes on a source


def _retry_at(e: FetchError | SourceError | FetchResult, now: datetime) -> datetime | None:
    """When the server that failed this fetch (or its catch-up) lets the next one go (its
    Retry-After), if it said."""
    if not e.retry_after:
        return None
    return now + timedelta(seconds=min(e.retry_after, MAX_RETRY_AFTER.total_seconds()))


def _waiting(store: Store, name: str, location: str, now: datetime) -> SourceOutcome | None:
    """The outcome of a fetch not made because the server asked to wait past `now`, if it did."""
    retry_at = waiting_until(store, name, location, now)
    if retry_at is None:
        return None
    log.info(
        "source %s: waiting until %s, as %s asked",
        name,
        f"{retry_at:%Y-%m-%d %H:%M} UTC",
        location_host(location) or "the server",
    )
    return SourceOutcome(name, waiting_until=retry_at)


def waiting_until(store: Store, name: str, location: str, now: datetime) -> datetime | None:
    """Until when no request may go to source `name` at `location`, as a server asked
    (Retry-After), if past `now`: at a fetch of this source, or of any source on the same host
    (a 429 or 503 is the server's answer to this machine: arXiv's, to every query and listing)."""
    state = store.source_state(name)
    own = parse_ts(state.get("retry_at")) if state.get("location") == location else None
    host = location_host(location)
    asked = [own] + [
        parse_ts(s.get("retry_at"))
        for s in store.sources()
        if host and location_host(s.get("location")) == host
    ]
    # Further off than any server may ask: set before the clock was set back; it has passed.
    pending = [t for t in asked if t is not None and now < t and t - now <= MAX_RETRY_AFTER + CLOCK_AHEAD]
    return max(pending, default=None)


def location_host(location: str | None) -> str | None:
    """The host a source's location (`Source.location`: a url, maybe then what is asked) is on;
    None for a local file."""
    where = (location or "").split(" ", 1)[0]
    return urlsplit(where).hostname if "://" in where else None


def _stopped(name: str) -> SourceOutcome:
    """A fetch a stop signal cut short: not the source's failure, and not a fetch either (the
    next run fetches it), so nothing is recorded."""
    log.info("source %s: not fetched: stopping", name)
    return SourceOutcome(name, stopped=True)


def _failed(
    store: Store,
    source: SourceConfig,
    now: datetime,
    error: str,
    started: float,
    retry_at: datetime | None = None,
) -> SourceOutcome:
    store.record_fetch_error(source.name, source.type, source.location, now, error, retry_at)
    log.warning("source %s failed: %s", source.name, error)
    health = source_health(source, store.source_state(source.name), now)
    if health:
        log.error("source %s is %s", source.name, health)
    return SourceOutcome(source.name, error=error, seconds=time.monotonic() - started)


def fetch_all(
    store: Store,
    sources: Iterable[SourceConfig],
    client: HttpClient,
    now: datetime | None = None,
    on_done: Callable[[SourceOutcome], None] | None = None,
) -> list[SourceOutcome]:
    """Fetch every source in turn (one failing never stops the others), then any liked paper
    not stored yet."""
    outcomes = []
    for source in sources:
        outcome = fetch_one(store, source, client, now)
        outcomes.append(outcome)
        if on_done:
            on_done(outcome)
    liked = fetch_liked(store, client, now)
    if liked is not None:
        outcomes.append(liked)
        if on_done:
            on_done(liked)
    return outcomes


REFRESH_FRESH = timedelta(minutes=5)  # a source fetched this recently is current enough
FETCH_LEASE = timedelta(minutes=10)  # longer than any fetch (timeouts): a dead fetcher frees it


def pace_through(store: Store, client: HttpClient) -> HttpClient:
    """The client, keeping the pace hosts ask for (arXiv: a request every 3 s) with every worker
    on this database (each kept it in its own memory: N workers, N requests at once), through
    the shared rate slots; a stop of the client ends a wait."""
    rates = SharedRates(store)
    stop = client.cancel.is_set if client.cancel is not None else None
    client.shared_pace = lambda host, seconds: rates.space(f"host:{host}", seconds, should_stop=stop)
    return client


@contextmanager
def fetch_lease(store: Store, name: str, holder: str | None, now: datetime) -> Iterator[bool]:
    """Hold the fetch lease `fetch:NAME` for `holder` (one worker of several on one database)
    while the block runs: yields whether this worker has it. No holder (one worker): always."""
    if holder is None:
        yield True
        return
    lease, ttl, started = f"fetch:{name}", FETCH_LEASE, time.monotonic()
    if not store.claim_lease(lease, holder, now, ttl):
        yield False
        return

    def renew(s: Store) -> None:  # on `now`'s clock, as it was taken
        s.claim_lease(lease, holder, now + timedelta(seconds=time.monotonic() - started), ttl)

    try:
        with LeaseKeeper(store.target, renew, ttl, f"the lease {lease}"):
            yield True
    finally:
        store.release_lease(lease, holder)


def fetched_at(store: Store, name: str, now: datetime, location: str | None = None) -> datetime | None:
    """When source `name` was last fetched; None when never, when that time is ahead of `now`
    by more than clocks drift (the clock was set back: the fetch's age is unknown), or when it
    was fetched somewhere other than `location` (its url or query was edited since: the new
    one is due at once, not an interval after the old one's last fetch)."""
    state = store.source_state(name)
    last = parse_ts(state.get("last_fetch_at"))
    if location is not None and state.get("location") != location:
        return None
    return None if last is None or last - now > CLOCK_AHEAD else last


FAILED_RETRY = timedelta(minutes=5)  # a failed source is due again after this, then twice as long...


def fetch_interval(source: SourceConfig, state: dict) -> float:
    """Seconds after its last fetch a source is due again: its `every:`, or after failed fetches
    in a row 5 min, 10, 20... (at most `every:`), so a network blip before a digest does not keep
    the source out of it for a whole interval. A Retry-After is `fetch_one`'s to keep."""
    failures = state.get("failures") or 0
    if not failures or state.get("location") != source.location:
        return source.every
    return min(source.every, FAILED_RETRY.total_seconds() * 2 ** min(failures - 1, 16))


def refresh_sources(
    store: Store,
    sources: Iterable[SourceConfig],
    client: HttpClient,
    now: datetime | None = None,
    fresh: timedelta = REFRESH_FRESH,
    holder: str | None = None,
) -> list[SourceOutcome]:
    """Fetch these sources again unless one was fetched within `fresh` (before a trending digest,
    so it ranks by current upvotes; several such digests in a run cost one fetch). With `holder`
    (several workers on one database), each only under its fetch lease: a source another holds
    is left to it, and trending digests use its last counts."""
    now = now or now_utc()
    outcomes = []
    for source in sources:
        with fetch_lease(store, source.name, holder, now) as mine:
            if not mine:
                log.info(
                    "%s: another worker is fetching it; trending digests use the last counts", source.name
                )
                continue
            # checked under the lease: a worker may have fetched it just now
            last = fetched_at(store, source.name, now, source.location)
            if last is None or now - last >= fresh:
                outcomes.append(fetch_one(store, source, client, now))
    return outcomes


LIKED_SOURCE = "liked papers"  # how fetching liked papers by id shows in `fetch` and `status`
LIKED_BATCH = 100  # ids per export-API request
NOT_ON_ARXIV = "not on arXiv: "  # the warning of a fetch of liked papers, then ids
# The fetch of liked papers as a source: digestbot's own, in no YAML, shown in `status` with its health.
LIKED_API = SourceConfig(LIKED_SOURCE, "arxiv_api", DEFAULT_URLS["arxiv_api"], None, 0, query="id_list")


SHOWN_UNKNOWN = 20  # the ids a warning of liked ids arXiv does not know names, at most
_UNKNOWN_PREFIX = "ids:"  # the liked papers' validator: every id the last fetch found unknown


def _ids_validator(ids: Iterable[str]) -> str:
    """The fetch of liked papers' validator: the ids arXiv did not know, all of them, sorted
    (its warning names only the first SHOWN_UNKNOWN). Equal for the same ids: a worker asks
    arXiv again only when another id is missing, or an hour on."""
    return _UNKNOWN_PREFIX + " ".join(sorted(set(ids)))


def _not_on_arxiv_listed(store: Store) -> list[str]:
    """The ids the last fetch of liked papers found arXiv does not know, sorted: from its
    validator, or (a database from before it held them) the ids its warning names."""
    state = store.source_state(LIKED_SOURCE)
    validator = state.get("etag") or ""
    ids = validator.removeprefix(_UNKNOWN_PREFIX)
    if ids != validator and not re.fullmatch(r"[0-9a-f]{32}", ids):  # not the hash it was before
        return ids.split()
    _, _, listed = (state.get("last_warning") or "").partition(NOT_ON_ARXIV)
    return sorted({part.strip(" …") for part in listed.split(";", 1)[0].split(",") if part.strip(" …")})


def not_on_arxiv(store: Store) -> set[str]:
    """The liked ids the last fetch of liked papers found arXiv does not know."""
    return set(_not_on_arxiv_listed(store))


def not_on_arxiv_warning(store: Store, liked: set[str]) -> str | None:
    """The warning of liked ids arXiv did not know at the last fetch, naming only those still in
    `liked` (a typo since fixed is no news); None when none is."""
    still = [a for a in _not_on_arxiv_listed(store) if a in liked]
    return _unknown_warning(still) if still else None


def _unknown_warning(ids: list[str]) -> str:
    shown = ", ".join(ids[:SHOWN_UNKNOWN])
    return f"{NOT_ON_ARXIV}{shown}" + (f" … ({len(ids)} in all)" if len(ids) > SHOWN_UNKNOWN else "")


UNKNOWN_RECHECK = timedelta(hours=1)  # how often a worker asks arXiv again about ids it did not know


def fetch_liked(
    store: Store, client: HttpClient, now: datetime | None = None, recheck: timedelta | None = None
) -> SourceOutcome | None:
    """Fetch the liked papers that are not stored yet from the arXiv export API, by id, in
    batches (arXiv's 3-second pace holds: the client spaces requests to its hosts). They are
    kept as seeds only, never new to anyone. An id arXiv does not know is a warning; a failure
    is recorded like a source's and retried at the next fetch. None when nothing is missing,
    or (with `recheck`) when all that is missing arXiv did not know within that time."""
    missing = store.missing_likes()
    if not missing:
        store.clear_source_problems(LIKED_SOURCE)  # what it said of ids liked no more
        return None
    now = now or now_utc()
    state = store.source_state(LIKED_SOURCE)
    if recheck is not None:
        last_ok = parse_ts(state.get("last_ok_at"))
        if last_ok is not None and now - last_ok < recheck and state.get("etag") == _ids_validator(missing):
            return None
    started = time.monotonic()
    waiting = _waiting(store, LIKED_SOURCE, LIKED_API.location, now)
    if waiting:
        return waiting
    api = LIKED_API
    found: set[str] = set()
    try:
        for i in range(0, len(missing), LIKED_BATCH):
            papers = _fetch_ids(client, api, missing[i : i + LIKED_BATCH])
            store.add_papers(papers, LIKED_SOURCE, now, authoritative=True, seed_only=True)
            found.update(p.arxiv_id for p in papers if p.arxiv_id)
    except FetchStopped:
        return _stopped(LIKED_SOURCE)
    except (FetchError, SourceError) as e:
        return _failed(store, api, now, str(e), started, _retry_at(e, now))
    except (StoreWriteError, StoreDamaged):  # the database's, not the fetch's: as in fetch_one
        raise
    except Exception as e:  # as in fetch_one: a parser bug must not hold every digest back
        log.debug("unexpected error fetching liked papers", exc_info=True)
        return _failed(store, api, now, f"unexpected error: {type(e).__name__}: {e}", started)
    unknown = [a for a in missing if a not in found]
    warnings = (_unknown_warning(unknown),) if unknown else ()
    store.record_fetch_ok(
        LIKED_SOURCE,
        "arxiv_api",
        api.location,
        now,
        len(found),
        0,
        _ids_validator(unknown),  # the fetch's validator: which ids arXiv did not know, all of them
        None,
        bool(found),
        warnings=warnings,
    )
    for warning in warnings:
        log.warning("liked papers: %s", warning)
    log.info("fetched %d liked paper(s) by id", len(found))
    return SourceOutcome(LIKED_SOURCE, len(found), warnings=warnings, seconds=time.monotonic() - started)


_REFUSED_ID_RE = re.compile(r"incorrect id format for (\S+)")  # arXiv's error for one id of an id_list


EMPTY_ANSWER_RETRIES = 1  # an id_list answered with an empty feed is asked again this many times


def _fetch_ids(client: HttpClient, api: SourceConfig, ids: list[str]) -> list[Paper]:
    """These papers from the export API. An id arXiv refuses fails the whole request, naming
    it: it is left out (then reported as not on arXiv) and the rest asked again, so one id
    never keeps the others of its batch out for good. An answer without a single entry is
    asked again: arXiv's API returns an empty feed at times for ids it does know, and taken as
    it is, every id of the batch was "not on arXiv"."""
    ids, empty = list(ids), 0
    while ids:
        try:
            result = parse_arxiv_api(api, client.get(api.url or "", params=id_list_params(ids)))
        except SourceError as e:
            refused = _REFUSED_ID_RE.search(str(e))
            if refused is None or refused.group(1) not in ids:
                raise
            log.warning("liked papers: arXiv refuses the id %s", refused.group(1))
            ids.remove(refused.group(1))
            continue
        if result.entries + result.blank == 0 and empty < EMPTY_ANSWER_RETRIES:
            empty += 1
            log.warning("liked papers: arXiv answered an empty feed for %d ids; asking again", len(ids))
            continue
        return result.papers
    return []


def _authoritative(source: SourceConfig) -> bool:
    """arXiv's own listings carry a paper's record of truth: on a merge, their title, authors and
    abstract win over what another source (Hugging Face, a blog) reported first."""
    return source.type in ("arxiv_rss", "arxiv_api")
