"""Fetching feed bytes: requests with timeouts, a User-Agent, conditional GET, a size cap,
a per-host pace (arXiv asks for one request every 3 seconds), and local files."""

from __future__ import annotations

import contextlib
import re
import socket
import threading
import time
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import requests
import requests.adapters
import urllib3
import urllib3.connection

from .. import __version__
from ..text import is_number, retry_seconds

USER_AGENT = f"digestbot/{__version__} (+https://github.com/digestbot/digestbot; self-hosted paper digests)"
CONNECT_TIMEOUT = 10.0
READ_TIMEOUT = 30.0
FETCH_DEADLINE = 60.0  # seconds for a whole fetch: connect, redirects, headers and every read
CHUNK = 16384  # read at most this much at a time, so the deadline is checked often
WATCH_INTERVAL = 0.2  # how often a stalled read looks at the deadline and the stop signal
MAX_BYTES = 20 * 1024 * 1024
MAX_REDIRECTS = 5
# Hosts that ask clients to space their requests (seconds between two requests).
HOST_INTERVALS = {"export.arxiv.org": 3.0, "rss.arxiv.org": 3.0, "arxiv.org": 3.0}


class FetchError(Exception):
    """The bytes could not be had; the message says why, in a form fit for a log line.
    `retry_after`: the seconds the server asked to wait before the next request, if it did."""

    def __init__(self, message: str, retry_after: int | None = None):
        super().__init__(message)
        self.retry_after = retry_after


class FetchStopped(FetchError):
    """The fetch was cut short because the process is stopping: no failure of the source."""


@dataclass(frozen=True)
class Fetched:
    """What came back: `content` is None when the server said 304 Not Modified."""

    content: bytes | None
    status: int
    etag: str | None = None
    last_modified: str | None = None
    content_type: str = ""
    url: str | None = None  # where the bytes came from, after redirects; None for a local file
    moved: tuple[str, int] | None = None  # (new url, status) when the url redirects permanently

    @property
    def not_modified(self) -> bool:
        return self.content is None


_inflight = threading.local()  # the sockets the current thread's fetch has sent a request on


class _Registered:
    """A connection that tells the fetch in flight which socket it waits on, so that the
    watchdog can shut it: a blocked connect or read wakes, whether it waits for the host's
    answer to connect, for headers or for the body."""

    def _new_conn(self) -> socket.socket:
        """urllib3's, the socket handed to the fetch before it connects (`_connect`)."""
        sockets = getattr(_inflight, "sockets", None)
        if sockets is None:
            return super()._new_conn()
        try:
            return _connect(
                (self._dns_host, self.port), self.timeout, self.source_address, self.socket_options, sockets
            )
        except socket.gaierror as e:
            raise urllib3.exceptions.NameResolutionError(self.host, self, e) from e
        except TimeoutError as e:
            raise urllib3.exceptions.ConnectTimeoutError(
                self, f"Connection to {self.host} timed out. (connect timeout={self.timeout})"
            ) from e
        except OSError as e:
            raise urllib3.exceptions.NewConnectionError(
                self, f"Failed to establish a new connection: {e}"
            ) from e

    def getresponse(self, *args, **kwargs):
        sockets = getattr(_inflight, "sockets", None)
        if sockets is not None and self.sock is not None:
            sockets.append(self.sock)
        return super().getresponse(*args, **kwargs)


def _connect(address: tuple[str, int], timeout, source_address, options, sockets: list) -> socket.socket:
    """urllib3's create_connection, each socket put in `sockets` before it connects: a host that
    never answers held a stop (or the deadline) for the whole connect timeout, 10 s an address,
    while a shutdown from the watchdog wakes the connect at once."""
    host, port = address
    error: OSError = OSError(f"no address for {host}")
    family = urllib3.util.connection.allowed_gai_family()
    for af, kind, proto, _, where in socket.getaddrinfo(host.strip("[]"), port, family, socket.SOCK_STREAM):
        sock = socket.socket(af, kind, proto)
        sockets.append(sock)
        try:
            for option in options or ():
                sock.setsockopt(*option)
            if isinstance(timeout, int | float):
                sock.settimeout(timeout)
            if source_address:
                sock.bind(source_address)
            sock.connect(where)
            return sock
        except OSError as e:
            error = e
            sock.close()
    raise error


class _Connection(_Registered, urllib3.connection.HTTPConnection):
    pass


class _TLSConnection(_Registered, urllib3.connection.HTTPSConnection):
    pass


class _Pool(urllib3.HTTPConnectionPool):
    ConnectionCls = _Connection


class _TLSPool(urllib3.HTTPSConnectionPool):
    ConnectionCls = _TLSConnection


class _Adapter(requests.adapters.HTTPAdapter):
    def init_poolmanager(self, *args, **kwargs) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {"http": _Pool, "https": _TLSPool}


class HttpClient:
    """One session for a run: connection reuse, pacing per host, limits on time and size."""

    def __init__(
        self,
        session: requests.Session | None = None,
        timeout: tuple[float, float] = (CONNECT_TIMEOUT, READ_TIMEOUT),
        max_bytes: int = MAX_BYTES,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        cancel: threading.Event | None = None,
        deadline: float = FETCH_DEADLINE,
    ):
        self.session = session or requests.Session()
        self.session.max_redirects = MAX_REDIRECTS
        self.session.headers["User-Agent"] = USER_AGENT
        for scheme in ("http://", "https://"):
            self.session.mount(scheme, _Adapter())
        self.timeout = timeout
        self.max_bytes = max_bytes
        self.clock = clock
        self.sleep = sleep
        self.cancel = cancel  # set: every fetch in flight stops within about a second
        self.deadline = deadline
        self._last_request: dict[str, float] = {}
        # Set by the worker (`collect.pace_through`): the pace of HOST_INTERVALS kept with every
        # other worker on its database, f(host, seconds) waiting for this request's turn.
        self.shared_pace: Callable[[str, float], object] | None = None

    def get(
        self,
        url: str,
        params: dict | None = None,
        etag: str | None = None,
        last_modified: str | None = None,
        accept: str = "application/rss+xml, application/atom+xml, application/feed+json, application/xml,"
        " text/xml;q=0.9, */*;q=0.5",
        deadline: float | None = None,
    ) -> Fetched:
        """GET `url`; 304 gives `content=None`. Raises FetchError on network errors, HTTP >= 400
        (except 400 with a body, which arXiv uses to explain a bad query: the caller reads it),
        when the whole fetch takes longer than `deadline` seconds (default: the client's), and
        ("stopped") when the client's `cancel` event is set."""
        headers = {"Accept": accept}
        if etag:
            headers["If-None-Match"] = etag
        if last_modified:
            headers["If-Modified-Since"] = last_modified
        self._pace(url)
        limit = deadline or self.deadline
        ends = self.clock() + limit
        self._check(ends, limit)
        connect, read = self.timeout
        # No single wait may outlast the deadline (connect and each read of headers and body).
        timeout = (min(connect, limit), min(read, limit))
        try:
            with self._watch(ends):
                return self._get(url, params, headers, timeout, ends, limit)
        except (requests.RequestException, urllib3.exceptions.HTTPError, ValueError) as e:
            raise self._why(ends, limit) or failure(url, e) from None

    def _get(self, url: str, params, headers: dict, timeout: tuple, ends: float, limit: float) -> Fetched:
        with self.session.get(url, params=params, headers=headers, timeout=timeout, stream=True) as r:
            if r.status_code == 304:
                return Fetched(
                    None,
                    304,
                    r.headers.get("ETag") or headers.get("If-None-Match"),
                    r.headers.get("Last-Modified") or headers.get("If-Modified-Since"),
                    moved=_moved(r),
                )
            content = gunzip_undeclared(self._read(r, ends, limit), self.max_bytes)
            if r.status_code >= 400 and not (r.status_code == 400 and content):
                wait = retry_seconds(r.headers.get("Retry-After")) if r.status_code in (429, 503) else None
                raise FetchError(http_error(r.status_code, r.reason, wait), retry_after=wait)
            return Fetched(
                content,
                r.status_code,
                r.headers.get("ETag"),
                r.headers.get("Last-Modified"),
                r.headers.get("Content-Type", ""),
                without_userinfo(r.url),  # relative links resolve against it: none may carry a password
                _moved(r),
            )

    @property
    def stopped(self) -> bool:
        """Whether the client was cancelled (a stop signal): no fetch should start."""
        return self.cancel is not None and self.cancel.is_set()

    def _why(self, ends: float, limit: float) -> FetchError | None:
        """Why a fetch must stop now (the client was cancelled, or the deadline passed), if so."""
        if self.stopped:
            return FetchStopped("stopped")
        if self.clock() >= ends:
            return FetchError(
                f"deadline: no whole response within {limit:g} s (a slow server; "
                "raise the source's `timeout:` if it is only slow)"
            )
        return None

    def _check(self, ends: float, limit: float) -> None:
        error = self._why(ends, limit)
        if error:
            raise error

    def _read(self, r: requests.Response, ends: float, limit: float) -> bytes:
        declared = r.headers.get("Content-Length")
        if declared and is_number(declared) and int(declared) > self.max_bytes:
            raise FetchError(f"response too large ({int(declared)} bytes; the limit is {self.max_bytes})")
        chunks, size = [], 0
        while True:
            # read1: whatever has arrived (decoded), without waiting for a full chunk.
            chunk = r.raw.read1(CHUNK, decode_content=True)
            self._check(ends, limit)  # also when the watchdog cut a read short (an early EOF)
            if not chunk:
                break
            size += len(chunk)
            if size > self.max_bytes:
                raise FetchError(f"response too large (over {self.max_bytes} bytes)")
            chunks.append(chunk)
        return b"".join(chunks)

    @contextlib.contextmanager
    def _watch(self, ends: float) -> Iterator[None]:
        """While a fetch runs, a watchdog shuts its sockets when the deadline passes or the
        client is cancelled: a read blocked on a server that sends nothing wakes at once."""
        done, sockets = threading.Event(), []
        _inflight.sockets = sockets

        def watch() -> None:
            while not done.wait(WATCH_INTERVAL):
                if (self.cancel is not None and self.cancel.is_set()) or self.clock() >= ends:
                    for sock in list(sockets):
                        with contextlib.suppress(OSError):  # already closed
                            sock.shutdown(socket.SHUT_RDWR)
                    return

        watchdog = threading.Thread(target=watch, name="fetch-watchdog", daemon=True)
        watchdog.start()
        try:
            yield
        finally:
            _inflight.sockets = None
            done.set()
            watchdog.join()

    def _pace(self, url: str) -> None:
        host = urlsplit(url).hostname or ""
        interval = HOST_INTERVALS.get(host, 0.0)
        if interval and self.shared_pace is not None:
            self.shared_pace(host, interval)  # a stop ends the wait, and _check stops the fetch
            return
        last = self._last_request.get(host)
        if interval and last is not None:
            wait = last + interval - self.clock()
            if wait > 0:
                self.sleep(wait)
        self._last_request[host] = self.clock()


GZIP_MAGIC = b"\x1f\x8b"


def gunzip_undeclared(content: bytes, max_bytes: int) -> bytes:
    """A body gzip-compressed though nothing said so (a `feed.xml.gz` served as a file, or read
    from disk), decompressed under the same size cap; any other body as it is (no feed starts
    with gzip's two magic bytes)."""
    if not content.startswith(GZIP_MAGIC):
        return content
    inflate = zlib.decompressobj(16 + zlib.MAX_WBITS)
    try:
        data = inflate.decompress(content, max_bytes + 1)
    except zlib.error as e:
        raise FetchError(f"the body starts as gzip does but does not decompress ({e})") from None
    if len(data) > max_bytes:
        raise FetchError(f"response too large (over {max_bytes} bytes once decompressed)")
    return data


def read_file(path: Path, max_bytes: int = MAX_BYTES) -> Fetched:
    """A local feed file, under the same size limit as a download."""
    try:
        size = path.stat().st_size
        if size > max_bytes:
            raise FetchError(f"file too large ({size} bytes; the limit is {max_bytes})")
        return Fetched(gunzip_undeclared(path.read_bytes(), max_bytes), 200)
    except OSError as e:
        raise FetchError(f"cannot read {path}: {e.strerror or e}") from None


def _moved(r: requests.Response) -> tuple[str, int] | None:
    """Where the requested url moved for good: the url after the redirects at its start that
    are permanent (301, 308), and the last such status; None when the first is not."""
    moved = None
    if not r.history:
        return None
    targets = [hop.url for hop in r.history[1:]] + [r.url]
    for hop, target in zip(r.history, targets, strict=True):
        if hop.status_code not in (301, 308):
            break
        moved = (masked_url(target), hop.status_code)
    return moved


def without_userinfo(url: str) -> str:
    """`url` without the user name and password before its host."""
    parts = urlsplit(url)
    return urlunsplit(parts._replace(netloc=parts.netloc.rpartition("@")[2]))


def masked_url(url: str) -> str:
    """`url` with the password before its host (if any) as `***`, to be shown (a log, `status`).
    Not text.mask_url, which takes the last `@` for the host's (a database URL's password may
    hold one unencoded): a feed url's query may hold an `@`, and requests encodes the user info."""
    parts = urlsplit(url)
    userinfo, at, host = parts.netloc.rpartition("@")
    if not at:
        return url
    user, colon, _ = userinfo.partition(":")
    return urlunsplit(parts._replace(netloc=f"{user}{':***' if colon else ''}@{host}"))


PROXY_LOGIN = "the proxy asks for a login: put its user and password in HTTPS_PROXY and HTTP_PROXY (http://user:pass@proxy:3128)"


def failure(url: str, e: Exception) -> FetchError:
    """What a requests or urllib3 error (or urllib.parse's ValueError on a redirect's Location)
    means for a fetch of `url`, in one line: the reason, never the url's query."""
    if isinstance(e, requests.Timeout | urllib3.exceptions.TimeoutError):
        return FetchError(f"timed out ({_short(e)})")
    if isinstance(e, requests.TooManyRedirects):
        return FetchError(f"more than {MAX_REDIRECTS} redirects")
    if isinstance(e, requests.exceptions.SSLError):
        return FetchError(tls_error(e))
    if isinstance(e, requests.exceptions.ContentDecodingError | urllib3.exceptions.DecodeError):
        m = re.search(r"content-encoding: ([\w-]+)", str(e), re.IGNORECASE)
        return FetchError(
            f"the server says the body is {m.group(1) if m else 'compressed'}-compressed (Content-Encoding),"
            " but it is not: the server is misconfigured"
        )
    if isinstance(e, requests.exceptions.ProxyError):
        return FetchError(proxy_error(url, e))
    if isinstance(e, requests.exceptions.InvalidSchema):  # a source's own url is http(s): a redirect
        m = re.search(r"for '([A-Za-z][\w+.-]*):", str(e))
        return FetchError(
            f"redirected away from http(s), to {m.group(1) if m else 'another scheme'}: (not fetched):"
            " open the url in a browser"
        )
    if isinstance(e, requests.ConnectionError | urllib3.exceptions.ProtocolError):
        return FetchError(f"connection failed ({_short(e)})")
    if isinstance(e, requests.RequestException | urllib3.exceptions.HTTPError):
        return FetchError(f"request failed ({_short(e)})")
    # urllib.parse's, on a redirect: the source's own url was checked
    return FetchError("redirected to a malformed url (Location): open the url in a browser")


# What an HTTP error means for a feed, and what to do about it.
_HTTP_ADVICE = {
    401: "the server refuses digestbot (a login wall, or a block on bots): open the url in a browser",
    403: "the server refuses digestbot (a login wall, or a block on bots): open the url in a browser",
    404: "no feed at this url: check the source's url",
    407: PROXY_LOGIN,
    410: "the feed was removed for good: give the source its new url, or remove it",
}


def http_error(status: int, reason: str | None, wait: int | None = None) -> str:
    """An HTTP error status as a log line: what it means for a feed and what to do (`wait`:
    the seconds the server's Retry-After asked for)."""
    head = f"HTTP {status} {reason or ''}".strip()
    asked = f" (it asks to wait {wait} s: no fetch before then)" if wait is not None else ""
    if status == 429:
        return f"{head}: the server limits how often it is fetched{asked}; if it recurs, raise the source's every:"
    if status >= 500:
        return f"{head}: the server failed{asked}; the next fetch tries again"
    advice = _HTTP_ADVICE.get(status)
    return f"{head}: {advice}" if advice else head


def proxy_error(url: str, e: Exception) -> str:
    """A failure of the proxy the environment names for `url` (HTTPS_PROXY, HTTP_PROXY, ALL_PROXY),
    said as the proxy's, by its host and port only (its url may hold a password)."""
    proxy = requests.utils.select_proxy(url, requests.utils.get_environ_proxies(url)) or ""
    parts = urlsplit(proxy if "://" in proxy else f"http://{proxy}")
    where = f"{parts.hostname}:{parts.port}" if parts.port else parts.hostname or "(unknown)"
    reason = _short(e)
    advice = (
        PROXY_LOGIN
        if reason.startswith("407")
        else "check HTTPS_PROXY and HTTP_PROXY, or name the feed's host in NO_PROXY"
    )
    return f"the proxy {where} failed ({reason}): {advice}"


def tls_error(e: Exception) -> str:
    """A TLS failure in one line, with what to do: requests wraps the reason several deep."""
    text = str(e)
    if m := re.search(r"certificate verify failed: ([^(')\]]+)", text):
        return (
            f"TLS failed: certificate verify failed: {m.group(1).strip()} (the server's certificate is not"
            " trusted: fix it on the server, or for a private CA point REQUESTS_CA_BUNDLE at its certificate)"
        )
    if "WRONG_VERSION_NUMBER" in text or "record layer failure" in text:
        return "TLS failed: the server does not speak TLS on this port (should the url be http://?)"
    m = re.search(r"\[SSL: [A-Z_]+\] ([^(')\]]+)", text)
    return f"TLS failed: {m.group(1).strip() if m else _short(e)}"


def unicode_host(host: str) -> str:
    """A host name as its owner writes it (`bücher.example`), not as DNS is asked it
    (`xn--bcher-kva.example`)."""
    try:
        return host.encode("ascii").decode("idna")
    except UnicodeError:
        return host


def _short(e: Exception) -> str:
    """The useful part of a requests/urllib3 error, which wraps the real reason several deep;
    never the url's query (a feed's token may be there)."""
    text = str(e)
    m = re.search(r"Failed to resolve '([^']+)'", text)
    if m:
        return f"cannot resolve host {unicode_host(m.group(1))}"
    m = re.search(r"Tunnel connection failed: ([^'\")\]]+)", text)  # a proxy's answer to CONNECT
    if m:
        return m.group(1).strip()
    m = re.search(r"IncompleteRead\((\d+) bytes read(?:, (\d+) more expected)?\)", text)
    if m and m.group(2):
        got, short = int(m.group(1)), int(m.group(2))
        return f"the server closed the connection {short} bytes short of the {got + short} it announced"
    if m:
        return "the server closed the connection in the middle of its answer"
    if "BadStatusLine" in text:
        return "the server's answer is not HTTP (the wrong port?)"
    m = re.search(r"\[Errno -?\d+\] ([^'\")\]]+)", text)
    if m:
        return m.group(1).strip()
    m = re.search(r"(Read timed out|Connection refused|Connection reset by peer)", text)
    return m.group(1) if m else re.sub(r"\?[^\s'\")]*", "?…", text)[:200]
