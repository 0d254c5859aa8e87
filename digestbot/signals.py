"""SIGTERM/SIGINT mean "finish the work in flight, then exit 0"; SIGHUP means "re-read the config".

The `digestbot` command catches these signals before it imports anything else (`catch_early`),
and `digestbot run` installs its handlers before it loads the config, so a signal that arrives
while it is still starting is not the default kill. The handlers only set events (a handler that does
more can deadlock on a lock the interrupted code holds) and log the first signal only, however
many follow. At the very end `ignore()` makes further stop signals no-ops: the interpreter puts
back the default (killing) disposition for Python handlers when it shuts down, and a signal in
that window would turn the clean exit 0 into -15.

Changing a disposition races the signal itself: one that lands after Python's last check but
before the change is found, a moment later, with no Python handler to run, and the interpreter
prints "OSError: Signal 15 ignored due to race condition" and drops it. `deliver_raced` (installed
with the first handlers) gives such a signal the disposition now in place instead: ignored when
ignored, the default action when default.
"""

from __future__ import annotations

import logging
import re
import signal
import sys
import threading
import time
from collections.abc import Callable

log = logging.getLogger("digestbot.daemon")
STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)
STOP_POLL = 0.25  # seconds: how often a wait asks whether the worker is stopping


def wait_unless_stopped(
    until: float, should_stop: Callable[[], bool], clock=time.monotonic, sleep=time.sleep
) -> bool:
    """Sleep until `until` (by `clock`), asking `should_stop` every STOP_POLL seconds: False when
    a stop came first (a Retry-After or a rate slot must not hold a stopping worker past
    systemd's TimeoutStopSec)."""
    while (left := until - clock()) > 0:
        if should_stop():
            return False
        sleep(min(left, STOP_POLL))
    return True


_RACED = re.compile(r"Signal (\d+) ignored due to race condition")


def deliver_raced() -> None:
    """Route a signal that raced a handler change (see the module docstring) to the disposition
    now in place, instead of the interpreter's "ignored due to race condition" on stderr."""
    previous = sys.unraisablehook
    if getattr(previous, "delivers_raced", False):
        return

    def hook(unraisable) -> None:
        found = isinstance(unraisable.exc_value, OSError) and _RACED.fullmatch(str(unraisable.exc_value))
        now = signal.getsignal(int(found[1])) if found else None
        if now is signal.SIG_IGN:
            return  # ignoring it is what the code that just set SIG_IGN asked for
        if now is signal.SIG_DFL:
            signal.raise_signal(int(found[1]))  # what it would have done a moment later
            return
        previous(unraisable)

    hook.delivers_raced = True
    sys.unraisablehook = hook


_caught_early: list[int] = []  # signals that came before a command took them over, in order


def catch_early() -> None:
    """Hold SIGTERM/SIGINT/SIGHUP from the first line of the `digestbot` command (the imports
    take half a second) until the command installs its handlers (`Signals.install` acts on
    them) or, if it installs none, `release_early` delivers them as they would have been."""
    deliver_raced()
    for sig in (*STOP_SIGNALS, signal.SIGHUP):
        if signal.getsignal(sig) is not signal.SIG_IGN:  # nohup, or a shell's background job
            signal.signal(sig, _hold)


def _hold(signum: int, _frame: object) -> None:
    _caught_early.append(signum)


def release_early() -> None:
    """A signal held meanwhile delivered now, to the command's own handlers (`serve`'s), or
    with the usual dispositions where it has none (SIGTERM kills, SIGINT is Ctrl-C)."""
    held = _take_early()
    for sig in (*STOP_SIGNALS, signal.SIGHUP):
        if signal.getsignal(sig) is _hold:
            signal.signal(sig, _usual(sig))
    for sig in held:
        signal.raise_signal(sig)


def _usual(sig: int):
    """Python's own disposition of a signal: Ctrl-C raises KeyboardInterrupt, the others kill."""
    return signal.default_int_handler if sig == signal.SIGINT else signal.SIG_DFL


def _take_early() -> list[int]:
    held = list(dict.fromkeys(_caught_early))
    _caught_early.clear()
    return held


class Signals:
    """The process's signal handlers and the events they set."""

    def __init__(self) -> None:
        self.stop = threading.Event()
        self.reload = threading.Event()
        self.installed = False
        self.stopped_by: int | None = None  # the first stop signal (SIGINT: Ctrl-C)
        self._previous: dict[int, object] = {}

    def install(self) -> Signals:
        """Handle SIGTERM/SIGINT (stop) and SIGHUP (reload) from now on. Main thread only."""
        deliver_raced()
        for sig in (*STOP_SIGNALS, signal.SIGHUP):
            self._previous[sig] = signal.getsignal(sig)
        for sig in STOP_SIGNALS:
            signal.signal(sig, self._on_stop)
        signal.signal(signal.SIGHUP, self._on_reload)
        # A `run --processes` member starts with SIGHUP blocked (group._start): one sent
        # meanwhile comes now, to the handler.
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGHUP})
        self.installed = True
        for sig in _take_early():  # came while the command was still importing
            (self._on_reload if sig == signal.SIGHUP else self._on_stop)(sig, None)
        return self

    def restore(self) -> None:
        """Put back the handlers that were there before `install` (a command run in-process)."""
        for sig, handler in self._previous.items():
            signal.signal(sig, _usual(sig) if handler is _hold else handler)
        self.installed = False

    def ignore(self) -> None:
        """Ignore stop signals from now on (the work is done; the exit code is decided)."""
        ignore_stop_signals()

    def _on_stop(self, signum: int, _frame: object) -> None:
        if self.stop.is_set():
            return
        self.stopped_by = signum
        self.stop.set()
        log.info("received %s: finishing the work in flight, then stopping", signal.Signals(signum).name)

    def _on_reload(self, _signum: int, _frame: object) -> None:
        self.reload.set()
        log.info("received SIGHUP: re-reading the config")


def ignore_stop_signals() -> None:
    """SIGTERM and SIGINT are ignored from now on: a storm of them cannot cut a shutdown short."""
    for sig in STOP_SIGNALS:
        signal.signal(sig, signal.SIG_IGN)
