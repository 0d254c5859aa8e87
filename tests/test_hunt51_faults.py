"""Fault hunt 51: collecting sources over HTTP, as an operator meets it (a url edited in the
YAML, a server asking to wait, what an error message says).

Feeds come from a real HTTP server on loopback (or `responses`); each test names the fault it
found and checks what arrived: the request the server got, the stored paper, the message.
"""

from __future__ import annotations

import http.server
import os
import time
from datetime import UTC, datetime, timedelta
from typing import ClassVar

import pytest
from apscheduler.schedulers.background import BackgroundScheduler
from helpers import http_server

from digestbot.config import Env, load_config
from digestbot.daemon import Worker
from digestbot.sources import HttpClient
from digestbot.store import Store

pytestmark = pytest.mark.filterwarnings("ignore:To avoid breaking existing software:DeprecationWarning")


def rss(title: str, link: str) -> bytes:
    return (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>t</title>'
        f"<item><title>{title}</title><link>{link}</link><description>Text.</description></item>"
        "</channel></rss>"
    ).encode()


class Blog(http.server.BaseHTTPRequestHandler):
    """/old is gone (404), /new is the feed; every path asked is kept in `asked`."""

    asked: ClassVar[list[str]] = []

    def do_GET(self):
        Blog.asked.append(self.path)
        if self.path.startswith("/old"):
            self.send_error(404)
            return
        body = rss("Narwhal tusks as sensors", "https://blog.example/narwhal")
        self.send_response(200)
        self.send_header("Content-Type", "application/rss+xml")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def blog_source(url: str) -> str:
    return f"- name: blog\n  type: rss\n  url: {url}\n  every: 12h\n"


READER = "- id: alice\n  email: alice@example.org\n  keywords: [narwhal]\n  schedule: daily 08:00\n"


# --- an edited url waited out the old one's interval ------------------------------------------
# Fault: an operator whose source failed (`HTTP 404 ... check the source's url`) fixed its url in
# the YAML; the worker re-read the YAML, but fetched the new url only `every:` (12 h here) after
# the old url's last fetch: when a source was last fetched was asked by its name alone, so the
# new url looked fetched a minute ago, and `status` went on naming the old url's error for hours.
# A source last fetched elsewhere (another url, query or date) is now due at once.


def test_a_source_whose_url_was_edited_is_fetched_at_once_not_after_its_interval(workdir):
    Blog.asked.clear()
    with http_server(Blog) as root:
        workdir.write_config(blog_source(f"{root}/old"), READER)
        config = load_config(workdir.config)
        now = [datetime.now(UTC)]
        with Store(workdir.db) as store:
            store.sync_subscribers(config.subscribers)
            client = HttpClient(sleep=lambda s: None)
            worker = Worker(config, store, Env(outbox=workdir.outbox), clock=lambda: now[0], client=client)
            scheduler = BackgroundScheduler(timezone=UTC)
            worker.on_reload = lambda c: worker._schedule_fetches(scheduler, c)
            assert "HTTP 404" in worker.fetch("blog").error

            workdir.write_config(blog_source(f"{root}/new"), READER)
            os.utime(workdir.config, ns=(time.time_ns(), time.time_ns() + 10**9))
            now[0] += timedelta(minutes=1)
            assert worker.maybe_reload()
            job = scheduler.get_job("fetch:blog")
            assert job.next_run_time <= now[0] + timedelta(seconds=1)  # due now, not in 12 h

            worker.fetch_stale(now[0])  # what a dispatch does before a digest
            state = store.source_state("blog")
            titles = [p.title for p in store.papers_after(0)]
    assert Blog.asked == ["/old", "/new"]
    assert titles == ["Narwhal tusks as sensors"]
    assert state["last_error"] is None and state["location"] == f"{root}/new"
