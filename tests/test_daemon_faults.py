"""Faults found hunting in the worker and its run loop (`digestbot run`, daemon.py, group.py).

Each test names the fault it pins down. They run the real CLI (in process, or as real
processes for signals and crashes) against real parts on loopback: a local HTTP server for
feeds, the outbox or aiosmtpd for mail, real SQLite files.
"""

from __future__ import annotations

import http.server
import re
import threading

from helpers import FeedPaper, digestbot, http_server, write_feed

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
