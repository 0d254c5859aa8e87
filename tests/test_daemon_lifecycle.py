"""The worker as an operator runs it: the `digestbot` command itself (console script and
`python -m digestbot`), signals from its very first line, and what it logs and exits with."""

from __future__ import annotations

import http.server
import os
import signal
import socket
import subprocess
import sys
import threading
import time

import pytest
from helpers import FeedPaper, http_server, subscriber, write_feed

from digestbot.collect import fetched_at
from digestbot.store import Store, now_utc

# Run in the child before the `digestbot` command: importing click (the command line's first
# heavy import) says so and takes a second, so a signal lands in the start-up imports for sure.
SLOW_IMPORTS = """
import importlib.abc, sys, time
class _Slow(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name == "click":
            sys.meta_path.remove(self)
            print("importing click", file=sys.stderr, flush=True)
            time.sleep(1.0)
        return None
sys.meta_path.insert(0, _Slow())
"""
ENTRIES = {
    # what the installed `digestbot` script does: load its console_scripts entry point, call it
    "console script": "from importlib.metadata import entry_points\n"
    "entry_points(group='console_scripts')['digestbot'].load()()",
    "python -m digestbot": "import runpy\nrunpy.run_module('digestbot', run_name='__main__')",
}


class Command:
    """The `digestbot` command in a child process, started through `entry`; its output (stdout
    and stderr, in one stream) read aside."""

    def __init__(self, workdir, entry: str, *args: str, db: str | None = None):
        argv = ["digestbot", "--config", str(workdir.config), "--db", db or str(workdir.db), *args]
        code = f"{SLOW_IMPORTS}\nsys.argv = {argv!r}\n{ENTRIES[entry]}"
        self.popen = subprocess.Popen(
            [sys.executable, "-c", code],
            cwd=workdir.path,
            env=dict(os.environ),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        for line in self.popen.stdout:
            self.lines.append(line)

    @property
    def output(self) -> str:
        return "".join(self.lines)

    def wait_for(self, text: str, timeout: float = 20) -> None:
        deadline = time.monotonic() + timeout
        while text not in self.output:
            assert self.popen.poll() is None or self._reader.is_alive(), (
                f"exited without {text!r}:\n{self.output}"
            )
            assert time.monotonic() < deadline, f"never logged {text!r}:\n{self.output}"
            time.sleep(0.01)

    def finish(self, timeout: float = 20) -> int:
        try:
            rc = self.popen.wait(timeout)
        finally:
            if self.popen.poll() is None:
                self.popen.kill()
                self.popen.wait()
        self._reader.join(5)
        return rc


@pytest.fixture
def worker_dir(workdir):
    write_feed(
        workdir.path / "feed.xml", [FeedPaper("2501.00001", "Imitation learning", "Imitation learning.")]
    )
    workdir.write_config(
        "- name: feed\n  type: arxiv_rss\n  url: feed.xml\n", subscriber("alice", "imitation")
    )
    return workdir


@pytest.mark.parametrize("entry", ENTRIES)
def test_sigterm_during_the_start_up_imports_stops_run_cleanly(worker_dir, entry):
    cmd = Command(worker_dir, entry, "run")
    cmd.wait_for("importing click")
    cmd.popen.send_signal(signal.SIGTERM)
    rc = cmd.finish()
    assert rc == 0, cmd.output  # was -15: killed by the default disposition, no line logged
    assert "received SIGTERM" in cmd.output
    assert "stopped before starting" in cmd.output
    assert "Traceback" not in cmd.output


@pytest.mark.parametrize("entry", ENTRIES)
def test_sighup_during_the_start_up_imports_does_not_kill_run(worker_dir, entry):
    cmd = Command(worker_dir, entry, "run")
    cmd.wait_for("importing click")
    cmd.popen.send_signal(signal.SIGHUP)
    cmd.wait_for("digestbot running")  # was: killed by SIGHUP (exit -1) before it ever ran
    assert "received SIGHUP" in cmd.output
    cmd.popen.send_signal(signal.SIGTERM)
    assert cmd.finish() == 0, cmd.output
    assert "Traceback" not in cmd.output


def test_a_command_without_handlers_still_dies_of_a_sigterm_held_at_start_up(worker_dir):
    """`status` has no stop handlers: the SIGTERM held during its imports is its usual end, not
    swallowed (it would otherwise run on as if nothing was asked)."""
    cmd = Command(worker_dir, "console script", "status")
    cmd.wait_for("importing click")
    cmd.popen.send_signal(signal.SIGTERM)
    assert cmd.finish() == -signal.SIGTERM, cmd.output


# --- a stop while the worker waits for its PostgreSQL ---------------------------------------


@pytest.fixture
def silent_server():
    """A TCP port that takes connections and never says a word: a database host that hangs."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(16)
        yield f"postgresql://digestbot@127.0.0.1:{listener.getsockname()[1]}/digestbot"


def stop_takes(cmd: Command, sig: int) -> tuple[int, float]:
    """Send `sig`; the exit code and the seconds it took to come."""
    started = time.monotonic()
    cmd.popen.send_signal(sig)
    rc = cmd.finish(40)
    return rc, time.monotonic() - started


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_a_stop_while_run_waits_for_a_silent_database_at_start_up_is_prompt(worker_dir, silent_server, sig):
    cmd = Command(worker_dir, "python -m digestbot", "run", db=silent_server)
    time.sleep(2.0)  # in its first connect, which the silent server holds for connect_timeout (10 s)
    rc, took = stop_takes(cmd, sig)
    assert rc == 0, cmd.output
    assert took < 3, f"{took:.1f} s after the signal:\n{cmd.output}"  # was 8-10 s: connect_timeout
    assert "stopped before starting" in cmd.output
    assert "cannot start yet" not in cmd.output  # no "trying again in 5 s" from a worker stopping


def test_a_stop_while_the_worker_reconnects_to_postgresql_is_prompt(worker_dir, pg_server):
    url = pg_server.new_database()
    name = url.rpartition("/")[2]
    cmd = Command(worker_dir, "python -m digestbot", "run", db=url)
    cmd.wait_for("digestbot running")
    with pg_server.admin() as admin:  # the database goes away under the worker (a restart)
        admin.execute(f"ALTER DATABASE {name} ALLOW_CONNECTIONS false")
        admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s", (name,))
        try:
            cmd.wait_for("was lost; connecting again")  # the next job finds it gone, waits up to 30 s
            time.sleep(1.0)
            rc, took = stop_takes(cmd, signal.SIGTERM)
        finally:
            admin.execute(f"ALTER DATABASE {name} ALLOW_CONNECTIONS true")
    assert rc == 0, cmd.output
    assert took < 3, f"{took:.1f} s after SIGTERM:\n{cmd.output}"  # was the rest of the 30 s
    assert "received SIGTERM" in cmd.output and "stopped" in cmd.output.splitlines()[-1]
    assert "ERROR" not in cmd.output, cmd.output  # no "nothing more is sent until ..." from a stop


# --- Ctrl-C in a one-shot command ------------------------------------------------------------


class Stalls(http.server.BaseHTTPRequestHandler):
    """Answers 200, then a byte every 0.2 s forever (no read timeout fires); `asked` is set."""

    asked = threading.Event()

    def do_GET(self):
        Stalls.asked.set()
        self.send_response(200)
        self.send_header("Content-Type", "application/rss+xml")
        self.end_headers()
        try:
            while True:
                self.wfile.write(b" ")
                self.wfile.flush()
                time.sleep(0.2)
        except OSError:
            return

    def log_message(self, *args):
        pass


def test_ctrl_c_during_fetch_cuts_it_short_stores_nothing_and_exits_130(workdir):
    write_feed(
        workdir.path / "feed.xml", [FeedPaper("2501.00001", "Imitation learning", "Imitation learning.")]
    )
    Stalls.asked.clear()
    with http_server(Stalls) as url:
        workdir.write_config(
            f"- name: stalls\n  type: rss\n  url: {url}/feed\n- name: local\n  type: arxiv_rss\n  url: feed.xml\n",
            subscriber("alice", "imitation"),
        )
        cmd = Command(workdir, "console script", "fetch")
        assert Stalls.asked.wait(20), cmd.output
        time.sleep(0.3)
        rc, took = stop_takes(cmd, signal.SIGINT)
    assert rc == 130, cmd.output  # was 1 ("Aborted!"), the code of a fetch that failed
    assert took < 3, cmd.output
    assert "Aborted!" not in cmd.output and "Traceback" not in cmd.output
    with Store(workdir.db) as store:
        assert store.conn.execute("SELECT COUNT(*) FROM papers").fetchone()[0] == 0
        assert fetched_at(store, "stalls", now_utc()) is None  # fetched at the next run
        assert fetched_at(store, "local", now_utc()) is None


@pytest.mark.parametrize(("stop", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 0)])
def test_ctrl_c_cutting_run_once_short_exits_130_as_fetch_and_send_do(workdir, stop, code):
    # `run --once` is the one-shot round cron starts: cut short by Ctrl-C it exited 0, "done",
    # where `fetch` and `send` exit 130. A SIGTERM (a service manager's stop) is still 0.
    Stalls.asked.clear()
    with http_server(Stalls) as url:
        workdir.write_config(
            f"- name: stalls\n  type: rss\n  url: {url}/feed\n", subscriber("alice", "imitation")
        )
        cmd = Command(workdir, "console script", "run", "--once")
        assert Stalls.asked.wait(20), cmd.output
        time.sleep(0.3)
        rc, took = stop_takes(cmd, stop)
    assert rc == code, cmd.output
    assert took < 3 and "Traceback" not in cmd.output, cmd.output


def test_ctrl_c_in_any_command_is_one_line_and_exit_130(worker_dir):
    cmd = Command(worker_dir, "console script", "status")
    cmd.wait_for("importing click")
    cmd.popen.send_signal(signal.SIGINT)
    assert cmd.finish() == 130, cmd.output  # was 1, after a KeyboardInterrupt traceback
    assert "Traceback" not in cmd.output and "Aborted!" not in cmd.output
    assert cmd.output.strip().splitlines()[-1] == "Interrupted: stopped before it finished."


# --- SIGHUP -----------------------------------------------------------------------------------


def test_sighup_reloads_the_config_within_seconds_not_at_the_next_minute(worker_dir):
    """`systemctl reload digestbot` (SIGHUP) re-reads the YAML now: it waited for the next
    minute's dispatch, so a `status` right after still showed the old subscribers."""
    cmd = Command(worker_dir, "python -m digestbot", "run")
    cmd.wait_for("digestbot running")
    time.sleep(3)  # past the first dispatch (2 s after the start): the next is a minute away
    worker_dir.write_config(
        "- name: feed\n  type: arxiv_rss\n  url: feed.xml\n",
        subscriber("alice", "imitation") + subscriber("bob", "imitation"),
    )
    broken = worker_dir.config.read_text().replace("keywords: [imitation]", "keywords: [imitation", 1)
    sent = time.monotonic()
    cmd.popen.send_signal(signal.SIGHUP)
    cmd.wait_for("reloaded", timeout=10)
    assert time.monotonic() - sent < 5, cmd.output  # was up to 60 s
    assert "1 added" in cmd.output
    with Store(worker_dir.db) as store:
        assert sorted(s.subscriber.id for s in store.subscribers()) == ["alice", "bob"]
    worker_dir.config.write_text(broken)  # a broken edit: the previous config runs on, file:line said
    cmd.popen.send_signal(signal.SIGHUP)
    cmd.wait_for("still running the previous config", timeout=10)
    assert f"{worker_dir.config.name}:" in cmd.output.split("still running the previous config")[-1]
    cmd.popen.send_signal(signal.SIGTERM)
    assert cmd.finish() == 0, cmd.output


def test_sigterm_while_serve_starts_is_a_clean_stop(worker_dir):
    """`serve` stops on SIGTERM with exit 0 (README); one in its first second (imports, the
    config, the sync) killed it with no line instead."""
    from conftest import free_port

    cmd = Command(worker_dir, "console script", "serve", "--port", str(free_port()))
    cmd.wait_for("importing click")
    cmd.popen.send_signal(signal.SIGTERM)
    assert cmd.finish() == 0, cmd.output  # was -15
    assert cmd.output.strip().splitlines()[-1].endswith("stopped"), cmd.output
    assert "Traceback" not in cmd.output


def test_a_stop_while_run_waits_for_a_locked_sqlite_file_at_start_up_is_prompt(worker_dir):
    """Another process holds the SQLite file locked (a long `sqlite3` session, a backup): `run`
    tries its open again for up to 30 s; a SIGTERM meanwhile waited all of that out."""
    import sqlite3

    from digestbot.store import Store as Opened

    Opened(worker_dir.db).close()  # the schema exists: the worker only has to open it
    holder = sqlite3.connect(worker_dir.db, isolation_level=None)
    holder.execute("PRAGMA journal_mode=DELETE")  # so an exclusive lock keeps readers out too
    holder.execute("BEGIN EXCLUSIVE")
    try:
        cmd = Command(worker_dir, "python -m digestbot", "run")
        cmd.wait_for("importing click")
        time.sleep(2.5)  # past the imports and the config: trying to open the locked file
        rc, took = stop_takes(cmd, signal.SIGTERM)
    finally:
        holder.rollback()
        holder.close()
    assert rc == 0, cmd.output
    assert took < 3, f"{took:.1f} s after SIGTERM:\n{cmd.output}"
    assert "stopped before starting" in cmd.output, cmd.output


# --- a signal that races a change of its handler ------------------------------------------------
# Both signals pending at once (blocked, sent, unblocked): the interpreter runs the SIGINT handler
# first, which changes SIGTERM's disposition, then finds SIGTERM tripped with no Python handler
# left: the very race a SIGTERM storm hits at shutdown, made certain.
RACE = """
import os, signal, sys
from digestbot.signals import deliver_raced
deliver_raced()
then = {then}
signal.signal(signal.SIGINT, lambda *a: signal.signal(signal.SIGTERM, then))
signal.signal(signal.SIGTERM, lambda *a: print("the old handler ran"))
both = {{signal.SIGINT, signal.SIGTERM}}
signal.pthread_sigmask(signal.SIG_BLOCK, both)
os.kill(os.getpid(), signal.SIGTERM)
os.kill(os.getpid(), signal.SIGINT)
signal.pthread_sigmask(signal.SIG_UNBLOCK, both)
print("alive")
"""


def race(then: str) -> subprocess.CompletedProcess:
    code = RACE.format(then=then)
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=30)


def test_a_stop_signal_that_races_ignore_is_ignored_without_a_word():
    done = race("signal.SIG_IGN")
    assert (done.returncode, done.stdout, done.stderr) == (0, "alive\n", "")


def test_a_stop_signal_that_races_a_reset_to_default_has_the_default_effect():
    done = race("signal.SIG_DFL")
    assert done.returncode == -signal.SIGTERM, done.stderr
    assert "race condition" not in done.stderr


def test_other_unraisable_errors_are_still_reported_once_the_race_hook_is_in():
    code = (
        "from digestbot.signals import deliver_raced\ndeliver_raced(); deliver_raced()\n"
        "class Leaky:\n    def __del__(self):\n        raise ValueError('from __del__')\n"
        "Leaky()\nprint('alive')"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=30)
    assert done.returncode == 0 and done.stdout == "alive\n"
    assert done.stderr.count("ValueError: from __del__") == 1, done.stderr
