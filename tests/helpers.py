"""Helpers the end-to-end test files share: running the real CLI and reading the database."""

from __future__ import annotations

import contextlib
import html
import sqlite3
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from xml.sax.saxutils import escape as xml_escape

from click.testing import CliRunner, Result

from digestbot.cli import cli
from digestbot.store import DigestRecord, Store, is_postgres


@dataclass(frozen=True)
class FeedPaper:
    """A paper as a test feed lists it."""

    aid: str
    title: str
    abstract: str
    authors: str = "Ada Lovelace, Alan Turing"


def not_due_soon() -> str:
    """A daily schedule 12 hours away: after a first digest, nobody is due again during a test."""
    return f"daily {datetime.now(UTC) + timedelta(hours=12):%H:%M}"


SOURCES = """
- name: feed
  type: arxiv_rss
  url: feed.xml
"""  # the one local-file source the end-to-end tests write with write_feed


def subscriber(sid: str, *keywords: str) -> str:
    """A YAML email subscriber `sid@example.org`, not due again during the test."""
    return (
        f"- id: {sid}\n"
        f"  email: {sid}@example.org\n"
        f"  keywords: [{', '.join(keywords)}]\n"
        f"  schedule: {not_due_soon()}\n"
    )


def digestbot(workdir, *args: str, expect: int = 0) -> Result:
    """Run the real CLI on the workdir's config and database; check the exit code."""
    result = CliRunner().invoke(cli, ["--config", str(workdir.config), "--db", str(workdir.db), *args])
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception  # a crash, not an exit code: show its traceback
    assert result.exit_code == expect, f"exit code {result.exit_code}, wanted {expect}:\n{result.output}"
    return result


def ledger(db: Path, status: str | None = None) -> list[DigestRecord]:
    """The digests recorded in a database, oldest first."""
    with Store(db) as store:
        return store.digests(status=status)


_TABLES = (
    "papers",
    "sources",
    "subscribers",
    "digests",
    "digest_items",
    "feedback",
    "leases",
    "rate_slots",
    "paper_keys",
)


def db_dump(db: Path | str) -> list[str]:
    """The database as text: compare two to show nothing changed (SQL on SQLite, every row of
    every table on PostgreSQL)."""
    with Store(db) as store:
        if store.backend == "sqlite":
            return list(store.conn.iterdump())
        return [f"{t}: {row}" for t in _TABLES for row in store._rows(f"SELECT * FROM {t} ORDER BY 1, 2")]


def arxiv_listing(papers, day: date = date(2024, 3, 14)) -> str:
    """An rss.arxiv.org listing (the format of fixtures/arxiv_rss_cs_lg.xml) for announcement
    `day`, from objects with `aid`, `title`, `abstract` and `authors`. feedparser reads the
    description as HTML, so the abstract is HTML-escaped, then XML-escaped, to arrive as written."""
    stamp = f"{day:%a, %d %b %Y} 00:00:00 -0400"
    items = "".join(
        f"""    <item>
      <title>{xml_escape(p.title)}</title>
      <link>https://arxiv.org/abs/{p.aid}</link>
      <description>{xml_escape(f"arXiv:{p.aid}v1 Announce Type: new{chr(10)}Abstract: {html.escape(p.abstract)}")}</description>
      <guid isPermaLink="false">oai:arXiv.org:{p.aid}v1</guid>
      <category>cs.LG</category>
      <pubDate>{stamp}</pubDate>
      <arxiv:announce_type>new</arxiv:announce_type>
      <dc:creator>{xml_escape(p.authors)}</dc:creator>
    </item>
"""
        for p in papers
    )
    return f"""<?xml version='1.0' encoding='UTF-8'?>
<rss xmlns:arxiv="http://arxiv.org/schemas/atom" xmlns:dc="http://purl.org/dc/elements/1.1/" version="2.0">
  <channel>
    <title>cs.LG updates on arXiv.org</title>
    <link>http://rss.arxiv.org/rss/cs.LG</link>
    <description>cs.LG updates on the arXiv.org e-print archive.</description>
    <pubDate>{stamp}</pubDate>
    <skipDays><day>Sunday</day><day>Saturday</day></skipDays>
{items}  </channel>
</rss>
"""


def write_feed(path: Path, papers) -> Path:
    """Write an arXiv listing of `papers` to `path`."""
    path.write_text(arxiv_listing(papers), encoding="utf-8")
    return path


class QuietHandler(BaseHTTPRequestHandler):
    """A request handler that logs nothing, with a way to answer a body whole."""

    def send_body(self, body: bytes, content_type: str = "application/rss+xml") -> None:
        self.send_response(200)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@contextlib.contextmanager
def http_server(handler: type[BaseHTTPRequestHandler]) -> Iterator[str]:
    """A real HTTP server on loopback, in a thread, answering with `handler`; yields its root URL."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def raw_sql(db: Path | str, *statements: str) -> None:
    """Statements run straight on the database, as an older version or a hand edit would, on
    SQLite or PostgreSQL."""
    if is_postgres(db):
        import psycopg

        with psycopg.connect(str(db), autocommit=True) as conn:
            for statement in statements:
                conn.execute(statement)
        return
    with contextlib.closing(sqlite3.connect(db)) as conn, conn:
        for statement in statements:
            conn.execute(statement)


def raw_rows(db: Path | str, query: str) -> list[dict]:
    """A query's rows, as dicts by column name, read straight from the database."""
    with Store(db) as store:
        return store._rows(query)
