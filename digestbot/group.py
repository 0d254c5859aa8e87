"""`digestbot run --processes N`: N worker processes on one machine, one core each.

The parent starts N `digestbot run --member I` processes and holds the single-runner locks for
them on SQLite (so `digestbot send` and a second `run` stay out, as with one worker). The
members share the work through claims in the database, as workers on several machines do:
each matches, renders and sends the subscribers it claimed. The parent forwards SIGTERM/SIGINT
(each member finishes the digest in flight) and SIGHUP, starts again a member that died
(after a pause; one that cannot start on a broken edit of the YAML, again until it is fixed,
while the others go on), and exits with the worst member's code.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from .config import ConfigError, load_config
from .lock import LockHeld, runner_lock, sender_lock
from .signals import Signals

log = logging.getLogger(__name__)
RESTART_PAUSE = 5.0  # seconds before a member that died is started again
RESTART_PAUSE_MAX = 300.0  # the pause doubles while it dies again soon after each start, up to this
STEADY = 60.0  # seconds a member runs before its death counts as a new one, not one in a row


def run_group(
    n: int, config_path: Path, db_target: str | Path, verbose: int, signals: Signals, poll: float = 0.5
) -> int:
    """Run N members until a stop signal; returns the exit code."""
    locks = [runner_lock(db_target), sender_lock(db_target)]
    try:
        for lock in locks:
            lock.acquire(wait=0)
    except LockHeld as e:
        for lock in locks:
            lock.release()
        log.error("not starting: %s", e)
        return 2  # a set-up to fix (as cli._other_scheduler says): restarting meets it again
    if signals.stop.is_set():  # stopped while it read its config: start nobody only to stop them
        for lock in locks:
            lock.release()
        log.info("stopped before starting")
        return 0
    members: dict[int, subprocess.Popen] = {}
    codes: dict[int, int] = {}
    started: dict[int, float] = {}
    restart_at: dict[int, float] = {}  # members that died, and when they are started again
    quick: dict[int, int] = {}  # deaths in a row soon after starting: each doubles the pause
    try:
        for i in range(n):
            members[i], started[i] = _start(i, config_path, db_target, verbose), time.monotonic()
        log.info("started %d worker processes: pids %s", n, ", ".join(str(p.pid) for p in members.values()))
        while not signals.stop.is_set():
            if signals.reload.is_set():
                signals.reload.clear()
                _signal_all(members, signal.SIGHUP)
            for i, proc in list(members.items()):
                code = proc.poll()
                if code is None:
                    continue
                if i not in restart_at:
                    broken = _config_problems(config_path) if code == 2 else None
                    if code == 2 and not broken:  # a schema problem: starting it again would not help
                        log.error(
                            "worker %d (pid %d) stopped with exit code 2; stopping the others", i, proc.pid
                        )
                        codes[i] = 2
                        signals.stop.set()
                        break
                    now = time.monotonic()
                    quick[i] = quick.get(i, 0) + 1 if now - started[i] < STEADY else 0
                    pause = min(RESTART_PAUSE * 2 ** max(quick[i] - 1, 0), RESTART_PAUSE_MAX)
                    restart_at[i] = now + pause
                    if broken:  # an edit the running members refused too; they go on without it
                        log.error(
                            "worker %d (pid %d) cannot start: %s; the other workers go on with the config"
                            " they read; trying again in %g s",
                            i,
                            proc.pid,
                            broken,
                            pause,
                        )
                    else:
                        log.error(
                            "worker %d (pid %d) died (%s); starting it again in %g s",
                            i,
                            proc.pid,
                            _how(code),
                            pause,
                        )
                if time.monotonic() >= restart_at[i]:
                    del restart_at[i]
                    members[i], started[i] = _start(i, config_path, db_target, verbose), time.monotonic()
            signals.stop.wait(poll)
    finally:
        _signal_all(members, signal.SIGTERM)
        for i, proc in members.items():
            codes[i] = max(codes.get(i, 0), _wait(proc))
        for lock in locks:
            lock.release()
    log.info("all %d worker processes stopped", n)
    return max(codes.values(), default=0)


def _config_problems(config_path: Path) -> str | None:
    """What is wrong with the YAML now, in one line (None: it loads): a member that exits 2 on
    an edit the running members refused must not bring the whole group down."""
    try:
        load_config(config_path)
    except ConfigError as e:
        return " | ".join(str(p) for p in e.problems)
    return None


def _start(i: int, config_path: Path, db_target: str | Path, verbose: int) -> subprocess.Popen:
    cmd = [sys.executable, "-m", "digestbot", "--config", str(config_path)]
    # --parent: a member stops when this process is gone (killed -9, it cannot tell them), rather
    # than run on with nobody holding the locks for it.
    cmd += ["-v"] * verbose + ["run", "--member", str(i), "--parent", str(os.getpid())]
    # The database by the environment (as --db reads it), not the command line: a PostgreSQL
    # URL's password would show in `ps`. A member's own terminal signals come from the parent.
    env = {**os.environ, "DIGESTBOT_DB": str(db_target)}
    # Started with SIGHUP blocked (the mask is inherited): a reload forwarded before the member
    # has its handlers (it is still importing) waits for them instead of killing it, SIGHUP's
    # default; Signals.install unblocks it. Blocked here too, so the parent's own waits as well.
    mask = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGHUP})
    try:
        return subprocess.Popen(cmd, env=env, start_new_session=True)
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, mask)


def _signal_all(members: dict[int, subprocess.Popen], signum: int) -> None:
    for proc in members.values():
        if proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                proc.send_signal(signum)


def _how(code: int) -> str:
    """How a member ended, from its exit status (negative: the signal that killed it)."""
    if code >= 0:
        return f"exit code {code}"
    try:
        return f"killed by {signal.Signals(-code).name}"
    except ValueError:
        return f"killed by signal {-code}"


def _wait(proc: subprocess.Popen) -> int:
    code = proc.wait()
    return 0 if code == -signal.SIGTERM else (code if code >= 0 else 1)
