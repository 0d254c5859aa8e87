"""Leases kept while the work they cover runs: a worker's claims on subscribers during a batch,
a fetch lease during a fetch. Renewed from a thread and a connection of their own, every third
of the lease: a piece of work can outlast it (a slow SMTP server, Slack's Retry-After, a source
that takes its `timeout:`, a big library's liked papers fetched 100 ids a request), and a lease
run out meanwhile let another worker do the same work at the same time. A worker that dies
takes the thread with it, so its leases still run out."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import timedelta

from .store import Store, StoreError

log = logging.getLogger(__name__)


class LeaseKeeper:
    """`renew(store)` every third of `lease` while the block runs (`with keeper:`), on a
    connection to `target` opened at the first renewal (most work ends before it)."""

    def __init__(self, target, renew: Callable[[Store], object], lease: timedelta, what: str):
        self.target, self.renew, self.lease, self.what = target, renew, lease, what
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def __enter__(self) -> LeaseKeeper:
        self._stop.clear()
        self._thread = threading.Thread(target=self._keep, name="lease-keeper", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()

    def _keep(self) -> None:
        store = None
        try:
            while not self._stop.wait(self.lease.total_seconds() / 3):
                try:
                    store = store or Store(self.target)
                    self.renew(store)
                except StoreError as e:  # the work meets the same database and stops
                    log.warning("could not renew %s: %s", self.what, e)
        finally:
            if store is not None:
                store.close()
