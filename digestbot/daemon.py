"""The long-running worker: APScheduler jobs that fetch sources and dispatch due digests."""

from __future__ import annotations

import logging
import signal
from datetime import timedelta

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.blocking import BlockingScheduler

from .collect import fetch_one
from .config import Config, Env
from .digest import DigestRunner
from .sources import HttpClient
from .store import Store, now_utc

log = logging.getLogger(__name__)
DISPATCH_EVERY = timedelta(minutes=1)


def run_forever(config: Config, store: Store, env: Env) -> int:
    """Run until SIGTERM/SIGINT; returns the exit code (0 after a clean stop)."""
    # One worker thread: jobs never overlap, so the SQLite connection is never shared at once.
    scheduler = BlockingScheduler(executors={"default": ThreadPoolExecutor(1)}, timezone="UTC")
    client = HttpClient()
    runner = DigestRunner(store, config, env)
    start = now_utc()
    for source in config.sources:
        scheduler.add_job(
            fetch_one,
            "interval",
            seconds=source.every,
            args=(store, source, client),
            id=f"fetch:{source.name}",
            next_run_time=start,
            coalesce=True,
            max_instances=1,
            misfire_grace_time=None,
        )
    scheduler.add_job(
        runner.run,
        "interval",
        seconds=DISPATCH_EVERY.total_seconds(),
        id="dispatch",
        next_run_time=start + timedelta(seconds=5),
        coalesce=True,
        max_instances=1,
        misfire_grace_time=None,
    )

    def stop(signum, _frame) -> None:
        log.info("received %s: finishing the job in flight, then stopping", signal.Signals(signum).name)
        scheduler.shutdown(wait=False)

    if env.slack_app_token:
        from .slack_app import SlackService, socket_mode_client

        socket_mode_client(SlackService(config, env, store.path), env).connect()
        log.info("connected to Slack over Socket Mode: /digest commands are answered by this worker")

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    log.info(
        "digestbot running: %d source(s), %d subscriber(s)", len(config.sources), len(config.subscribers)
    )
    scheduler.start()
    log.info("stopped")
    return 0
