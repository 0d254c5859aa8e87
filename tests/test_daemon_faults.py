"""Faults found hunting in the worker and its run loop (`digestbot run`, daemon.py, group.py).

Each test names the fault it pins down. They run the real CLI (in process, or as real
processes for signals and crashes) against real parts on loopback: a local HTTP server for
feeds, the outbox or aiosmtpd for mail, real SQLite files.
"""

from __future__ import annotations

import http.server
import os
import re
import signal
import threading
import time
from pathlib import Path

from helpers import FeedPaper, digestbot, http_server, write_feed
from test_daemon import spawn  # noqa: F401  (a fixture)

NARWHAL = FeedPaper("2403.00001", "Narwhal tusks as sensors", "Narwhal tusks sense salinity.")


def narwhal_reader(sid: str = "alice") -> str:
    return f"- id: {sid}\n  email: {sid}@example.org\n  keywords: [narwhal]\n  schedule: daily 08:00\n"


# --- a source waiting on a Retry-After is not a failure -----------------------------------
# Fault: after a server answered 429 with Retry-After, every `run --once` (and `fetch`) until
# that time exited 1 and printed the source as FAILED, though nothing had failed: digestbot
# was only keeping to the wait the server asked for. A cron job or a CI check wrapping
# `run --once` then alarmed every run for up to a day.


class LimitedFeed(http.server.BaseHTTPRequestHandler):
    """Answers 429 with a Retry-After of an hour; counts the requests that reached it."""

    hits = 0
    lock = threading.Lock()

    def do_GET(self):
        with LimitedFeed.lock:
            LimitedFeed.hits += 1
        self.send_response(429)
        self.send_header("Retry-After", "3600")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


def test_a_source_waiting_on_its_retry_after_is_reported_as_waiting_and_exits_0(workdir):
    LimitedFeed.hits = 0
    write_feed(workdir.path / "feed.xml", [NARWHAL])
    with http_server(LimitedFeed) as url:
        sources = f"- name: feed\n  type: arxiv_rss\n  url: feed.xml\n- name: limited\n  type: rss\n  url: {url}/feed\n"
        workdir.write_config(sources, narwhal_reader())

        first = digestbot(workdir, "run", "--once", expect=1)  # the 429 itself is a failure
        assert "limited: FAILED" in first.output and "3600" in first.output

        again = digestbot(workdir, "run", "--once", expect=0)
        fetched = digestbot(workdir, "fetch", expect=0)
    assert LimitedFeed.hits == 1  # the wait was kept: no second request
    for result in (again, fetched):
        line = next(ln for ln in result.output.splitlines() if "limited:" in ln)
        assert "FAILED" not in line, result.output
        assert re.search(r"limited: waiting until \d{4}-\d\d-\d\d \d\d:\d\d UTC", line), line
        assert "the server asked" in line
    assert "0 failed, 1 waiting" in fetched.output, fetched.output


# --- the members of `run --processes N` do not outlive their parent ------------------------
# Fault: with the parent of `run --processes 2` killed (kill -9, the OOM killer, a process
# manager that signals only the pid it started), its members ran on as orphans with nobody
# holding the single-runner and sender locks for them: a second `digestbot run` started beside
# them on the same SQLite file, and nothing would ever stop them.


def alive(pid: int) -> bool:
    """Whether the process runs (a zombie waiting for its reaper does not)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def test_the_members_stop_when_the_parent_of_the_group_is_killed(workdir, spawn):  # noqa: F811
    write_feed(workdir.path / "feed.xml", [NARWHAL])
    workdir.write_config("- name: feed\n  type: arxiv_rss\n  url: feed.xml\n", narwhal_reader())
    group = spawn("run", "--processes", "2")
    line = group.wait_for(r"started 2 worker processes: pids")
    pids = [int(p) for p in re.findall(r"\d+", line.split("pids", 1)[1])]
    group.wait_for(r"digestbot running")
    try:
        group.signal(signal.SIGKILL)
        deadline = time.monotonic() + 15
        while any(alive(p) for p in pids) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not any(alive(p) for p in pids), (
            f"members still running after the parent died:\n{group.output}"
        )
    finally:
        for pid in pids:
            if alive(pid):
                os.kill(pid, signal.SIGKILL)
    group.finish(10)
    assert "parent process" in group.output and "is gone" in group.output, group.output
