"""Send and request rates that hold across every worker on one database (PostgreSQL, or `run
--processes N` on SQLite): each message or request reserves the next free slot of its rate in
the database (one short write, `Store.take_rate_slot`), then waits for it."""

from __future__ import annotations

import time
from collections.abc import Callable

from .signals import wait_unless_stopped
from .store import Store


class SharedRates:
    """Send rates that hold across every worker on one database: each message reserves the next
    free slot of its rate in the database (one short write), then waits for it."""

    def __init__(self, store: Store, clock: Callable[[], float] = time.time, sleep=time.sleep):
        self.store = store
        self.clock = clock
        self.sleep = sleep

    def wait(self, name: str, per_second: float, should_stop: Callable[[], bool] | None = None) -> bool:
        return self.space(name, 1 / per_second, should_stop)

    def space(self, name: str, seconds: float, should_stop: Callable[[], bool] | None = None) -> bool:
        """Wait for the next slot of `name`, slots `seconds` apart (0: no wait). With
        `should_stop` (polled), a stop ends the wait: False, the slot unused."""
        at = self.store.take_rate_slot(name, seconds, self.clock())
        delay = at - self.clock()
        if should_stop is None:
            if delay > 0:
                self.sleep(delay)
            return True
        return wait_unless_stopped(at, should_stop, self.clock, self.sleep)
