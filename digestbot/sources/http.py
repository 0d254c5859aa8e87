"""Fetching feed bytes: requests with timeouts, a User-Agent, conditional GET, a size cap,
a per-host pace (arXiv asks for one request every 3 seconds), and local files."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import requests

from .. import __version__

USER_AGENT = f"digestbot/{__version__} (+https://github.com/digestbot/digestbot; self-hosted paper digests)"
CONNECT_TIMEOUT = 10.0
READ_TIMEOUT = 30.0
MAX_BYTES = 20 * 1024 * 1024
MAX_REDIRECTS = 5
# Hosts that ask clients to space their requests (seconds between two requests).
HOST_INTERVALS = {"export.arxiv.org": 3.0, "rss.arxiv.org": 3.0, "arxiv.org": 3.0}


class FetchError(Exception):
    """The bytes could not be had; the message says why, in a form fit for a log line."""


@dataclass(frozen=True)
class Fetched:
    """What came back: `content` is None when the server said 304 Not Modified."""

    content: bytes | None
    status: int
    etag: str | None = None
    last_modified: str | None = None
    content_type: str = ""
    url: str | None = None  # where the bytes came from, after redirects; None for a local file

    @property
    def not_modified(self) -> bool:
        return self.content is None


class HttpClient:
    """One session for a run: connection reuse, pacing per host, limits on time and size."""

    def __init__(
        self,
        session: requests.Session | None = None,
        timeout: tuple[float, float] = (CONNECT_TIMEOUT, READ_TIMEOUT),
        max_bytes: int = MAX_BYTES,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ):
        self.session = session or requests.Session()
        self.session.max_redirects = MAX_REDIRECTS
        self.session.headers["User-Agent"] = USER_AGENT
        self.timeout = timeout
        self.max_bytes = max_bytes
        self.clock = clock
        self.sleep = sleep
        self._last_request: dict[str, float] = {}

    def get(
        self,
        url: str,
        params: dict | None = None,
        etag: str | None = None,
        last_modified: str | None = None,
        accept: str = "application/rss+xml, application/atom+xml, application/xml, text/xml;q=0.9, */*;q=0.5",
    ) -> Fetched:
        """GET `url`; 304 gives `content=None`. Raises FetchError on network errors and HTTP >= 400
        (except 400 with a body, which arXiv uses to explain a bad query: the caller reads it)."""
        headers = {"Accept": accept}
        if etag:
            headers["If-None-Match"] = etag
        if last_modified:
            headers["If-Modified-Since"] = last_modified
        self._pace(url)
        try:
            with self.session.get(
                url, params=params, headers=headers, timeout=self.timeout, stream=True
            ) as r:
                if r.status_code == 304:
                    return Fetched(
                        None,
                        304,
                        r.headers.get("ETag") or etag,
                        r.headers.get("Last-Modified") or last_modified,
                    )
                content = self._read(r)
                if r.status_code >= 400 and not (r.status_code == 400 and content):
                    raise FetchError(f"HTTP {r.status_code} {r.reason or ''}".strip())
                return Fetched(
                    content,
                    r.status_code,
                    r.headers.get("ETag"),
                    r.headers.get("Last-Modified"),
                    r.headers.get("Content-Type", ""),
                    r.url,
                )
        except requests.Timeout as e:
            raise FetchError(f"timed out ({_short(e)})") from None
        except requests.TooManyRedirects:
            raise FetchError(f"more than {MAX_REDIRECTS} redirects") from None
        except requests.ConnectionError as e:
            raise FetchError(f"connection failed ({_short(e)})") from None
        except requests.RequestException as e:
            raise FetchError(f"request failed ({_short(e)})") from None

    def _read(self, r: requests.Response) -> bytes:
        declared = r.headers.get("Content-Length")
        if declared and declared.isdigit() and int(declared) > self.max_bytes:
            raise FetchError(f"response too large ({int(declared)} bytes; the limit is {self.max_bytes})")
        chunks, size = [], 0
        for chunk in r.iter_content(chunk_size=65536):
            size += len(chunk)
            if size > self.max_bytes:
                raise FetchError(f"response too large (over {self.max_bytes} bytes)")
            chunks.append(chunk)
        return b"".join(chunks)

    def _pace(self, url: str) -> None:
        host = urlsplit(url).hostname or ""
        interval = HOST_INTERVALS.get(host, 0.0)
        last = self._last_request.get(host)
        if interval and last is not None:
            wait = last + interval - self.clock()
            if wait > 0:
                self.sleep(wait)
        self._last_request[host] = self.clock()


def read_file(path: Path, max_bytes: int = MAX_BYTES) -> Fetched:
    """A local feed file, under the same size limit as a download."""
    try:
        size = path.stat().st_size
        if size > max_bytes:
            raise FetchError(f"file too large ({size} bytes; the limit is {max_bytes})")
        return Fetched(path.read_bytes(), 200)
    except OSError as e:
        raise FetchError(f"cannot read {path}: {e.strerror or e}") from None


def _short(e: Exception) -> str:
    """The useful part of a requests/urllib3 error, which wraps the real reason several deep."""
    text = str(e)
    m = re.search(r"Failed to resolve '([^']+)'", text)
    if m:
        return f"cannot resolve host {m.group(1)}"
    m = re.search(r"\[Errno -?\d+\] ([^')\]]+)", text)
    if m:
        return m.group(1).strip()
    m = re.search(r"(Read timed out|Connection refused|Connection reset by peer)", text)
    return m.group(1) if m else text[:200]
