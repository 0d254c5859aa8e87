"""The long-running worker (`digestbot run`): APScheduler jobs that fetch and dispatch.

- Each source is fetched on its own `every:`.
- A dispatch job runs every minute: it re-reads the YAML if it changed (or on SIGHUP), and when
  a digest is due it first fetches the sources whose last fetch is older than their interval,
  so the morning digest carries the morning's papers; then it sends what is due and retries
  what waits. Missed slots after downtime coalesce into one digest per subscriber.
- Jobs run one at a time on a single thread, so the worker never overlaps with itself. On
  SQLite other processes (`digestbot send`) are kept out by the sender lock.
- Several workers (`run` on several machines against one PostgreSQL, or `run --processes N`):
  each claims what it works on in the database. A source's fetch is a lease (`fetch:NAME`)
  taken by one worker, which fetches only if no one did during the source's interval; due
  subscribers are claimed BATCH at a time with a lease (see DigestRunner).
- A worker that finds the schema upgraded by a newer digestbot stops, saying so (exit 2).
- SIGTERM/SIGINT: no new work is started, the digest in flight is finished, exit 0, however
  many signals arrive and whenever (signals.py).
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
import os
import signal
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from apscheduler.events import EVENT_JOB_MAX_INSTANCES, JobSubmissionEvent
from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.background import BackgroundScheduler

from .collect import (
    LIKED_SOURCE,
    UNKNOWN_RECHECK,
    SourceOutcome,
    fetch_interval,
    fetch_lease,
    fetch_liked,
    fetch_one,
    fetched_at,
    pace_through,
    refresh_sources,
)
from .config import Config, ConfigError, Env, SourceConfig, files_stamp, load_config
from .digest import DigestRunner, Outcome, make_renderer
from .lock import LockHeld, NoLock, runner_lock, sender_lock
from .signals import Signals
from .sources import HttpClient
from .store import Store, StoreDamaged, StoreError, StoreWriteError, now_utc
from .text import mask_url

if TYPE_CHECKING:
    from .slack_app import SlackService

log = logging.getLogger(__name__)


def _stop_with_parent() -> None:
    """Linux: have the kernel send this process SIGTERM when its parent dies (prctl
    PR_SET_PDEATHSIG), so a `run --processes N` member stops at once when its parent is
    killed; elsewhere the worker's loop notices within a second."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)


_PR_SET_PDEATHSIG = 1
DISPATCH_EVERY = timedelta(minutes=1)
STORE_BACKOFF = timedelta(minutes=1)  # first wait after the database refused a write
STORE_BACKOFF_MAX = timedelta(minutes=30)
FETCH_SLACK = 0.1  # a fetch within 90% of the interval counts as this interval's
# The wall clock moving back this much more than the monotonic one is the system clock being set
# back (NTP, an operator): the timers, which wait for wall-clock times, are moved back with it.
CLOCK_JUMP = timedelta(seconds=30)


class Worker:
    """The worker's state and its two jobs; `dispatch` and `fetch` can be called directly (tests)."""

    def __init__(
        self,
        config: Config,
        store: Store,
        env: Env,
        clock: Callable[[], datetime] = now_utc,
        client: HttpClient | None = None,
        signals: Signals | None = None,
        member: int | None = None,
        parent: int | None = None,
    ):
        self.config = config
        # `member`: this worker's number in a `run --processes N` group (the parent holds the
        # locks); such a worker, or any on PostgreSQL, shares the work through claims.
        self.member = member
        self.parent = parent  # the group's pid: without it, this member has no locks and no supervisor
        self.refused: str | None = None  # why this worker stopped itself (a newer schema)
        self.store = store
        self.env = env
        self.clock = clock
        self.signals = signals or Signals()
        self.stopping = self.signals.stop
        store.should_stop = self.stopping.is_set  # a wait for the database ends with a stop
        self.reload_requested = self.signals.reload
        self.client = client or pace_through(store, HttpClient(cancel=self.stopping))
        shared = member is not None or store.backend == "postgresql"
        self.runner = DigestRunner(store, config, env, clock=clock, refresh=self.refresh, shared=shared)
        self._config_mtime = files_stamp(config)
        self._template_problems: list[str] = []
        self.on_reload: Callable[[Config], None] | None = None
        self.slack_service: SlackService | None = None  # answering /digest over Socket Mode
        self._store_retry_at: datetime | None = None  # set while the database refuses writes
        self._store_backoff: timedelta | None = None
        self._dispatching = self._woken = False  # see _reload_soon

    # --- jobs -----------------------------------------------------------------------------

    @property
    def shared(self) -> bool:
        """Whether this worker shares the database with others (the runner's claims say so)."""
        return self.runner.shared

    def fetch(self, name: str) -> SourceOutcome | None:
        source = self.config.source(name)
        if source is None or self.stopping.is_set() or self._store_waiting(self.clock()):
            return None
        if not self._schema_ok():
            return None
        try:
            outcome = self._fetch_once(source, self.clock())
        except StoreWriteError as e:
            self._store_failed(e, f"fetching {name}")
            return None
        except StoreDamaged as e:  # nothing this worker does can help
            self._unusable(e)
            return None
        self._store_ok()
        return outcome

    def refresh(self, names: list[str]) -> list[SourceOutcome]:
        """Re-fetch these sources before trending digests (unless fetched a moment ago); with
        several workers, each under its fetch lease, so workers due at once fetch it once."""
        sources = [s for s in self.config.sources if s.name in names]
        return refresh_sources(
            self.store, sources, self.client, self.clock(), holder=self.runner.lease_holder
        )

    def fetch_stale(self, now: datetime) -> list[SourceOutcome]:
        """Fetch the sources whose last fetch is older than their interval; each one at the
        clock's time when its turn comes (its lease counted from then, not from `now`: behind a
        slow fetch, a lease counted from `now` was born run out, and another worker took it)."""
        outcomes = (self._fetch_once(s, self.clock()) for s in self.config.sources if self._stale(s, now))
        return [o for o in outcomes if o is not None]

    def _fetch_once(self, source: SourceConfig, now: datetime) -> SourceOutcome | None:
        """Fetch a source; with several workers, only under its lease and only if no worker
        fetched it during its interval (None: someone else has it)."""
        with fetch_lease(self.store, source.name, self.runner.lease_holder, now) as mine:
            if not mine:
                log.debug("%s: another worker is fetching it", source.name)
                return None
            if self.shared and not self._stale(source, now, slack=FETCH_SLACK):
                log.debug("%s: fetched by another worker during this interval", source.name)
                return None
            return fetch_one(self.store, source, self.client, now)

    def _stale(self, source: SourceConfig, now: datetime, slack: float = 0.0) -> bool:
        """Whether the last fetch is older than the interval (`fetch_interval`: shorter after a
        failure; less `slack` of it: timers of several workers never fire at quite the same
        moment). A fetch recorded ahead of the clock, by more than clocks drift, means the clock
        was set back: its age is unknown."""
        last = fetched_at(self.store, source.name, now, source.location)
        if last is None:
            return True
        interval = fetch_interval(source, self.store.source_state(source.name))
        return (now - last).total_seconds() >= interval * (1 - slack)

    def dispatch(self) -> list[Outcome]:
        """Send what is due now (fetching stale sources first); skip if another sender runs."""
        self._dispatching, self._woken = True, False
        try:
            return self._dispatch()
        finally:
            self._dispatching = False

    def _dispatch(self) -> list[Outcome]:
        if self.stopping.is_set():
            return []
        try:
            if not self._store_waiting(self.clock()):
                self.maybe_reload()
        except StoreWriteError as e:  # the edit stays to be applied once the database takes it
            self._store_failed(e, "applying the edited config")
            return []
        if not self._schema_ok():
            return []
        lock = NoLock() if self.member is not None else sender_lock(self.store.path)
        try:
            lock.acquire(wait=0)
        except LockHeld as e:
            log.info("dispatch skipped this time: %s", e)
            return []
        try:
            now = self.clock()
            if self._store_waiting(now) or not self.runner.has_work(now) or not self._templates_ok():
                return []
            self.fetch_stale(now)
            self._fetch_liked(self.clock())  # after the fetches: the time now (see fetch_stale)
            outcomes = self.runner.run(should_stop=self.stopping.is_set)
        except StoreWriteError as e:
            self._store_failed(e, "sending digests")
            return []
        except StoreDamaged as e:  # nothing this worker does can help
            self._unusable(e)
            return []
        finally:
            lock.release()
        self._store_ok()
        return outcomes

    def _fetch_liked(self, now: datetime) -> None:
        # Named as the liked papers show in `status`: no source can have that name (a space).
        with fetch_lease(self.store, LIKED_SOURCE, self.runner.lease_holder, now) as mine:
            if mine:
                fetch_liked(self.store, self.client, now, recheck=UNKNOWN_RECHECK)  # not at every dispatch

    def _schema_ok(self) -> bool:
        """A newer digestbot may have upgraded the database meanwhile (another worker, or a newer
        `send` or `status` on this SQLite file): then this worker stops (exit 2), politely,
        instead of writing rows it does not understand."""
        try:
            self.store.check_schema()
        except StoreWriteError:
            return True  # unreachable now: the dispatch backs off as for any failed write
        except StoreError as e:
            self._unusable(e)
            return False
        return True

    def _unusable(self, error: StoreError) -> None:
        """The database cannot be used at all (a newer schema, a damaged file): say why once
        and stop (exit 2), instead of failing the same way every minute."""
        self.refused = str(error)
        said = str(error)
        log.error("%s%s", said, "" if "this worker stops" in said else "; this worker stops")
        self.stopping.set()

    # --- a database that cannot be written ------------------------------------------------

    def _store_waiting(self, now: datetime) -> bool:
        return self._store_retry_at is not None and now < self._store_retry_at

    def _store_failed(self, error: StoreWriteError, doing: str) -> None:
        """Back off (1 min, doubling to 30 min) while the database refuses writes, and say why."""
        if self.stopping.is_set():  # the wait for the database was cut short by the stop
            log.info("stopped %s while waiting for the database: %s", doing, error)
            return
        self._store_backoff = (
            min(self._store_backoff * 2, STORE_BACKOFF_MAX) if self._store_backoff else STORE_BACKOFF
        )
        self._store_retry_at = self.clock() + self._store_backoff
        log.error(
            "stopped %s: %s; nothing more is sent until the database can record it (free disk space,"
            " check permissions); trying again at %s",
            doing,
            error,
            f"{self._store_retry_at:%H:%M:%S} UTC",
        )

    def _store_ok(self) -> None:
        if self._store_retry_at is not None:
            log.info("the database accepts writes again")
        self._store_retry_at, self._store_backoff = None, None

    def _templates_ok(self) -> bool:
        """Whether the templates render (an operator may edit one while the worker runs); a
        broken one holds every digest back, unrecorded, until it is fixed. Logged once."""
        problems = self.runner.renderer.problems()
        if problems and problems != self._template_problems:
            log.error(
                "not sending: %s; fix the template (digestbot check lists it), digests wait until then",
                " | ".join(problems),
            )
        self._template_problems = problems
        return not problems

    # --- configuration --------------------------------------------------------------------

    def maybe_reload(self) -> bool:
        """Re-read the YAML if it or a library file it names changed, or SIGHUP asked; a broken
        edit keeps the old config."""
        mtime, files = files_stamp(self.config), tuple(self.config.files)
        asked = self.reload_requested.is_set()
        if not asked and mtime == self._config_mtime:
            return False
        self.reload_requested.clear()
        try:
            config = load_config(self.config.path)
        except ConfigError as e:
            self._config_mtime = mtime
            log.error(
                "%s changed but has problems; still running the previous config: %s",
                self.config.path,
                " | ".join(str(p) for p in e.problems),  # one line: a log line never holds a break
            )
            return False
        try:
            self.apply(config)
        except StoreWriteError:  # not applied: the next dispatch tries again
            if asked:
                self.reload_requested.set()
            raise
        # Watch the files the new config names (a library: file added or dropped).
        self._config_mtime = mtime if tuple(config.files) == files else files_stamp(config)
        return True

    def apply(self, config: Config) -> None:
        counts = self.store.sync_subscribers(config.subscribers, former_ids=config.former_ids)
        if config.database != self.config.database:  # the store is open: moving it takes a restart
            log.warning(
                "%s: database: changed to %s; this worker goes on with %s until it is restarted",
                config.path,
                mask_url(str(config.database)) if config.database else "the default (./digestbot.db)",
                self.store.path,
            )
        self.config = config
        self.runner.config = config
        self.runner.renderer = make_renderer(config.templates)
        self.runner.deliverer.config = config
        self.runner.deliverer.renderer = self.runner.renderer
        if self.slack_service is not None:  # /digest over Socket Mode: its commands follow it too
            self.slack_service.config = config
        log.info(
            "reloaded %s: %d source(s), subscribers %s",
            config.path,
            len(config.sources),
            ", ".join(f"{n} {k}" for k, n in counts.items()),
        )
        if self.on_reload:
            self.on_reload(config)

    # --- running --------------------------------------------------------------------------

    def run_forever(self) -> int:
        """Run until SIGTERM/SIGINT; returns the exit code (0 after a clean stop).

        Installs the signal handlers unless the caller already did (`digestbot run` does, first).
        """
        if not self.signals.installed:
            self.signals.install()
        if self.stopping.is_set():
            log.info("stopped before starting")
            return 0
        if self.member is not None:
            if self.parent is None:  # started without --parent: its parent now is the group's
                self.parent = os.getppid()
            _stop_with_parent()
        try:
            holder = NoLock() if self.member is not None else runner_lock(self.store.path)
            holder.acquire(wait=0)
        except LockHeld as e:
            log.error("not starting: %s", e)
            return 2  # a set-up to fix (as cli._other_scheduler says): restarting meets it again
        executor = ThreadPoolExecutor(1)  # one job at a time: no overlap, one SQLite user
        scheduler = BackgroundScheduler(executors={"default": executor}, timezone="UTC")
        scheduler.add_listener(_still_running, EVENT_JOB_MAX_INSTANCES)
        apscheduler_log = logging.getLogger("apscheduler.scheduler")
        apscheduler_log.addFilter(_STILL_RUNNING)
        self._schedule_fetches(scheduler, self.config)
        self.on_reload = lambda config: self._schedule_fetches(scheduler, config)
        scheduler.add_job(
            _guarded(self.dispatch, "sending digests"),
            "interval",
            seconds=DISPATCH_EVERY.total_seconds(),
            id="dispatch",
            name="sending digests",
            next_run_time=self.clock() + timedelta(seconds=2),
            coalesce=True,
            max_instances=1,
            misfire_grace_time=None,
        )
        self._start_socket_mode()
        log.info(
            "digestbot running: %d source(s), %d subscriber(s), database %s",
            len(self.config.sources),
            len(self.store.subscribers()),
            self.store.path,
        )
        scheduler.start()
        watch = ClockWatch(self.clock)
        try:
            # The signal handlers only set `stopping`; the scheduler is stopped here, outside any
            # handler (a handler that stops it can deadlock on a lock the interrupted code holds).
            while not self.stopping.wait(timeout=1.0):
                if (jump := watch.jump()) <= -CLOCK_JUMP:
                    self._clock_went_back(scheduler, jump)
                self._reload_soon(scheduler)
                self._check_parent()
        finally:
            scheduler.shutdown(wait=True)  # no new jobs; the one in flight finishes
            apscheduler_log.removeFilter(_STILL_RUNNING)
            holder.release()
        if self.refused:
            return 2
        log.info("stopped")
        return 0

    def _reload_soon(self, scheduler: BackgroundScheduler) -> None:
        """A SIGHUP brings the dispatch (which re-reads the config) forward to now, instead of
        leaving it to the next minute; once one that runs now is done (moving a running job
        would skip its next turn)."""
        if self.reload_requested.is_set() and not self._dispatching and not self._woken:
            self._woken = True  # until that dispatch starts
            scheduler.modify_job("dispatch", next_run_time=self.clock())

    def _check_parent(self) -> None:
        """A member whose group parent died (kill -9) stops: nobody holds the locks for it any
        more, and nobody would stop it or start it again."""
        if self.parent is not None and os.getppid() != self.parent:
            log.error(
                "worker %s: the parent process (pid %d) of the group is gone; finishing the work in flight,"
                " then stopping",
                self.member,
                self.parent,
            )
            self.stopping.set()

    def _clock_went_back(self, scheduler: BackgroundScheduler, jump: timedelta) -> None:
        """Move every timer back with the clock, so each fires at the moment it would have
        (APScheduler would wait for its wall-clock time: an hour back, no dispatch for an hour).
        A jump forward needs nothing: the jobs that look overdue run at once, coalesced."""
        log.warning("the system clock went back by %s; the timers move back with it", -jump)
        for job in scheduler.get_jobs():
            if job.next_run_time is not None:
                job.modify(next_run_time=job.next_run_time + jump)

    def _schedule_fetches(self, scheduler: BackgroundScheduler, config: Config) -> None:
        for job in scheduler.get_jobs():
            if job.id.startswith("fetch:"):
                job.remove()
        start = self.clock()
        for source in config.sources:
            last = fetched_at(self.store, source.name, start, source.location)
            first = start if last is None else max(start, last + timedelta(seconds=source.every))
            scheduler.add_job(
                _guarded(self.fetch, f"fetching {source.name}"),
                "interval",
                seconds=source.every,
                args=(source.name,),
                id=f"fetch:{source.name}",
                name=f"fetching {source.name}",
                next_run_time=first,
                coalesce=True,
                max_instances=1,
                misfire_grace_time=None,
            )

    def _start_socket_mode(self) -> None:
        if not self.env.slack_app_token or (self.member or 0) > 0:
            return  # in a group, worker 0 answers /digest commands
        from .slack_app import SlackService, connect_socket_mode, socket_mode_client

        self.slack_service = SlackService(self.config, self.env, self.store.target)
        client = socket_mode_client(self.slack_service, self.env)
        if connect_socket_mode(client, self.stopping):
            log.info("connected to Slack over Socket Mode: /digest commands are answered by this worker")


def _guarded(job: Callable, doing: str) -> Callable:
    """The job, with an error nobody foresaw as one log line (the traceback at -vv) instead of
    APScheduler's traceback; the worker goes on, and the job runs again at its next time."""

    def run(*args):
        try:
            return job(*args)
        except Exception as e:
            log.debug("%s failed", doing, exc_info=True)
            log.error(
                "%s failed: %s: %s; trying again at its next run (-vv shows where)",
                doing,
                type(e).__name__,
                e,
            )
            return None

    return run


class _StillRunningFilter(logging.Filter):
    """Drops APScheduler's warning that a job's time came while the job still ran ("skipped:
    maximum number of running instances reached"): that is how a dispatch longer than the
    minute between two looks (a slow relay, a long list), or a fetch queued behind it, and the
    next one simply waits for it. `_still_running` says so at debug level instead."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not (record.levelno == logging.WARNING and "maximum number of running instances" in record.msg)


_STILL_RUNNING = _StillRunningFilter()


def _still_running(event: JobSubmissionEvent) -> None:
    log.debug("%s: still running (or waiting for the job before it); its next run comes after", event.job_id)


class ClockWatch:
    """Notices the wall clock being set: how far it moved, since the last look, beyond the time
    that passed (measured on the monotonic clock, which nobody sets)."""

    def __init__(self, wall: Callable[[], datetime], monotonic: Callable[[], float] = time.monotonic):
        self.wall, self.monotonic = wall, monotonic
        self._last = (wall(), monotonic())

    def jump(self) -> timedelta:
        wall, mono = self.wall(), self.monotonic()
        last_wall, last_mono = self._last
        self._last = (wall, mono)
        return (wall - last_wall) - timedelta(seconds=mono - last_mono)


def run_forever(
    config: Config,
    store: Store,
    env: Env,
    signals: Signals | None = None,
    member: int | None = None,
    parent: int | None = None,
) -> int:
    return Worker(config, store, env, signals=signals, member=member, parent=parent).run_forever()
