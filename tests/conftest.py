"""Shared fixtures: a real SMTP server on loopback, and an isolated working folder.

`smtp_server` is an aiosmtpd server in a thread. Tests check what *arrived* there (envelope and
parsed message), and can make it refuse the next N messages with a temporary 451 error.
`slow_smtp_server` is the same server taking its time to confirm each message (for crash and
concurrency tests).

`workdir` is a fresh folder the test runs in (chdir), with its own outbox and database, a
`subscriptions.yaml` the test writes, and no SMTP URL leaking in from the real environment.

`slack_api` is a local HTTP server standing in for the Slack Web API (point
DIGESTBOT_SLACK_API_URL at `slack_api.url`): it records every request and answers `ok`, or
what the test scripted (an error, HTTP 429 with Retry-After).
"""

from __future__ import annotations

import asyncio
import contextlib
import email
import email.policy
import http.server
import json
import os
import socket
import textwrap
import threading
import time
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from pgserver import PgProcess, pg_bin, start_postgres

DEFAULT_FROM = "Paper digest <digest@example.org>"


# --- SMTP ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class ReceivedMail:
    """One message the server accepted: its envelope and the parsed message."""

    mail_from: str
    rcpt_tos: tuple[str, ...]
    message: EmailMessage
    raw: bytes
    peer: tuple | None


@dataclass
class RecordingHandler:
    """aiosmtpd handler that keeps every accepted message and can refuse the next N with 451."""

    messages: list[ReceivedMail] = field(default_factory=list)
    refused: int = 0  # messages turned away so far
    ehlo_count: int = 0  # one EHLO per client connection (smtplib greets once per connection)
    peers: list = field(default_factory=list)  # the peer address of each EHLO
    pipelining: bool = False  # advertise PIPELINING (RFC 2920), as Postfix and Exim do
    refuse_rcpt: set = field(default_factory=set)  # recipients to turn away with rcpt_reply
    rcpt_reply: str = "550 5.1.1 no such user here"
    rcpt_refused: int = 0  # recipients turned away so far
    _refuse: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_EHLO(self, server, session, envelope, hostname, responses):
        session.host_name = hostname  # what aiosmtpd does itself when no hook is set
        with self._lock:
            self.ehlo_count += 1
            self.peers.append(session.peer)
        if self.pipelining:
            responses.insert(-1, "250-PIPELINING")
        return responses

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address in self.refuse_rcpt:
            self.rcpt_refused += 1
            return self.rcpt_reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        with self._lock:
            if self._refuse > 0:
                self._refuse -= 1
                self.refused += 1
                return "451 4.3.0 try again later"
        raw = envelope.original_content or envelope.content
        if isinstance(raw, str):
            raw = raw.encode("utf-8")
        parsed = email.message_from_bytes(raw, policy=email.policy.default)
        with self._lock:
            self.messages.append(
                ReceivedMail(envelope.mail_from, tuple(envelope.rcpt_tos), parsed, raw, session.peer)
            )
        return "250 Message accepted for delivery"

    def refuse_next(self, n: int) -> None:
        with self._lock:
            self._refuse = n


@dataclass
class SmtpServer:
    """What `smtp_server` yields: where the server listens and what it received."""

    host: str
    port: int
    handler: RecordingHandler

    @property
    def url(self) -> str:
        return f"smtp://{self.host}:{self.port}"

    @property
    def messages(self) -> list[ReceivedMail]:
        return self.handler.messages

    @property
    def connections(self) -> int:
        """Client connections that greeted the server (EHLO), which is one per SMTP session."""
        return self.handler.ehlo_count

    @property
    def refused(self) -> int:
        return self.handler.refused

    def refuse_next(self, n: int) -> None:
        """Answer the next `n` messages' DATA with `451 4.3.0 try again later`."""
        self.handler.refuse_next(n)

    def to(self, address: str) -> list[ReceivedMail]:
        """The messages whose envelope recipients include `address`."""
        return [m for m in self.messages if address in m.rcpt_tos]


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port nobody listens on right now (Controller 1.4 has no port=0 support)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def serving(handler: RecordingHandler, **server_kwargs) -> Iterator[SmtpServer]:
    """A real aiosmtpd server on loopback with `handler` (and aiosmtpd's SMTP options, such as
    `timeout`), stopped afterwards."""
    host = "127.0.0.1"
    controller = Controller(handler, hostname=host, port=free_port(host), ready_timeout=10, **server_kwargs)
    controller.start()
    try:
        yield SmtpServer(host, controller.port, handler)
    finally:
        controller.stop()


@pytest.fixture
def smtp_server():
    with serving(RecordingHandler()) as server:
        yield server


@dataclass
class SlowHandler(RecordingHandler):
    """A RecordingHandler that keeps each message, then waits `delay` seconds before it answers 250.

    A client that dies in that window leaves a message the server kept but never confirmed: the
    one case where a digest may legitimately arrive twice (with the same Message-ID).
    """

    delay: float = 0.3

    async def handle_DATA(self, server, session, envelope):
        reply = await super().handle_DATA(server, session, envelope)
        if reply.startswith("250"):
            await asyncio.sleep(self.delay)
        return reply


@pytest.fixture
def slow_smtp_server():
    """Like `smtp_server`, but every accepted message takes `handler.delay` (0.3 s) to confirm."""
    with serving(SlowHandler()) as server:
        yield server


@pytest.fixture
def closed_smtp_url() -> str:
    """An smtp:// URL on loopback where nothing listens: connecting is refused."""
    return f"smtp://127.0.0.1:{free_port()}"


# --- working folder -----------------------------------------------------------------------


def write_config(
    path: Path,
    sources_yaml: str,
    subscribers_yaml: str,
    *,
    email_from: str = DEFAULT_FROM,
    email_yaml: str = "",
    extra_yaml: str = "",
) -> Path:
    """Write a subscriptions.yaml from YAML snippets (each dedented, then indented under its key).

    `email_yaml` adds keys under `email:` (besides `from`), `extra_yaml` adds top-level keys.
    """

    def block(snippet: str) -> str:
        return textwrap.indent(textwrap.dedent(snippet).strip("\n"), "  ")

    text = (
        "timezone: UTC\n"
        f"{textwrap.dedent(extra_yaml).strip()}\n"
        "email:\n"
        f'  from: "{email_from}"\n'
        f"{block(email_yaml)}\n"
        "sources:\n"
        f"{block(sources_yaml)}\n"
        "subscribers:\n"
        f"{block(subscribers_yaml)}\n"
    )
    path.write_text(text, encoding="utf-8")
    return path


@dataclass
class Workdir:
    """A test's own folder: config, database and outbox paths, and a way to set the SMTP URL."""

    path: Path
    outbox: Path
    monkeypatch: pytest.MonkeyPatch
    db_target: Path | str | None = None  # a postgresql:// URL, for tests run on both backends

    @property
    def config(self) -> Path:
        return self.path / "subscriptions.yaml"

    @property
    def db(self) -> Path | str:
        return self.db_target or self.path / "digestbot.db"

    def write_config(self, sources_yaml: str, subscribers_yaml: str, **kwargs) -> Path:
        return write_config(self.config, sources_yaml, subscribers_yaml, **kwargs)

    def use_smtp(self, url: str | None) -> None:
        """Point DIGESTBOT_SMTP_URL at `url` (None: unset, so mail goes to the outbox)."""
        if url is None:
            self.monkeypatch.delenv("DIGESTBOT_SMTP_URL", raising=False)
        else:
            self.monkeypatch.setenv("DIGESTBOT_SMTP_URL", url)


_LEAKY_ENV = (
    "DIGESTBOT_SMTP_URL",
    "DIGESTBOT_CONFIG",
    "DIGESTBOT_DB",
    "DIGESTBOT_BASE_URL",
    "DIGESTBOT_SECRET",
    "SLACK_BOT_TOKEN",
    "SLACK_SIGNING_SECRET",
    "SLACK_APP_TOKEN",
    "DIGESTBOT_SLACK_API_URL",
)


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, request) -> Workdir:
    """A test's own folder; for a test that takes `backend` (or a module with
    `pytestmark = pytest.mark.usefixtures("backend")`), its database is on that backend."""
    db_target = None
    if "backend" in request.fixturenames and request.getfixturevalue("backend") == "postgresql":
        db_target = request.getfixturevalue("pg_server").new_database()
    root = tmp_path / "work"
    root.mkdir()
    outbox = tmp_path / "outbox"
    for name in _LEAKY_ENV:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("DIGESTBOT_OUTBOX", str(outbox))
    monkeypatch.chdir(root)
    return Workdir(root, outbox, monkeypatch, db_target)


# --- a stand-in for the Slack Web API -------------------------------------------------------


@dataclass(frozen=True)
class SlackCall:
    """One request that reached the stand-in: `method` is the last path segment
    (`chat.postMessage`), `body` the JSON or form body merged over the query string."""

    method: str
    path: str
    headers: dict[str, str]  # lower-case names
    body: dict
    raw: bytes
    at: float  # time.monotonic() on arrival


@dataclass(frozen=True)
class SlackAnswer:
    status: int = 200
    body: dict | None = None  # None: the default answer for the method
    headers: dict[str, str] = field(default_factory=dict)
    when: dict | None = None  # only for a request whose body holds these items

    def applies(self, body: dict) -> bool:
        return not self.when or all(body.get(k) == v for k, v in self.when.items())


@dataclass
class SlackGate:
    """Holds the answers to one method until `release()` (or `timeout` seconds, then `expired`)."""

    timeout: float
    event: threading.Event = field(default_factory=threading.Event)
    expired: bool = False

    def release(self) -> None:
        self.event.set()

    def wait(self) -> None:
        if not self.event.wait(self.timeout):
            self.expired = True


class SlackApi:
    """What `slack_api` yields: a local HTTP server answering like the Slack Web API.

    Every request is recorded. By default a method answers `{"ok": true, ...}` (conversations.open
    with the DM channel `D123`, chat.postMessage with a `ts`); `answer`, `fail` and `rate_limit`
    queue scripted answers, used in order, one per request to that method, and `hold` keeps a
    method's callers waiting (recorded, unanswered) until the test releases them. Any path
    answers, so the same server can also stand in for a slash command's response_url.
    """

    DM_CHANNEL = "D123"

    def __init__(self, server: http.server.ThreadingHTTPServer):
        self._server = server
        self.calls: list[SlackCall] = []
        self._scripts: dict[str, list[SlackAnswer]] = {}
        self._gates: dict[str, SlackGate] = {}
        self._lock = threading.Lock()

    @property
    def root(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    @property
    def url(self) -> str:
        """The Web API base URL (what DIGESTBOT_SLACK_API_URL points at)."""
        return f"{self.root}/api/"

    def answer(
        self,
        method: str,
        *,
        status: int = 200,
        body: dict | None = None,
        headers: dict[str, str] | None = None,
        times: int = 1,
        when: dict | None = None,
    ) -> None:
        """Queue an answer for the next `times` requests to `method` (those whose body holds the
        items in `when`, if given); `body=None` is the method's default answer."""
        with self._lock:
            self._scripts.setdefault(method, []).extend(
                [SlackAnswer(status, body, headers or {}, when)] * times
            )

    def fail(self, method: str, error: str, times: int = 1, when: dict | None = None) -> None:
        """Answer `{"ok": false, "error": error}` (HTTP 200, as Slack does)."""
        self.answer(method, body={"ok": False, "error": error}, times=times, when=when)

    def rate_limit(self, method: str, retry_after: int = 1, times: int = 1) -> None:
        """Answer HTTP 429 with a Retry-After header."""
        self.answer(
            method,
            status=429,
            body={"ok": False, "error": "ratelimited"},
            headers={"Retry-After": str(retry_after)},
            times=times,
        )

    def hold(self, method: str, timeout: float = 5.0) -> SlackGate:
        """Record requests to `method` at once but answer them only after `gate.release()`."""
        gate = self._gates[method] = SlackGate(timeout)
        return gate

    def calls_to(self, method: str) -> list[SlackCall]:
        return [c for c in self.calls if c.method == method]

    @property
    def posts(self) -> list[SlackCall]:
        """The chat.postMessage requests, in arrival order."""
        return self.calls_to("chat.postMessage")

    def _next(self, method: str, body: dict) -> SlackAnswer:
        with self._lock:
            queue = self._scripts.get(method, [])
            i = next((i for i, a in enumerate(queue) if a.applies(body)), None)
            scripted = queue.pop(i) if i is not None else SlackAnswer()
        if scripted.body is not None:
            return scripted
        if method == "conversations.open":
            default = {"ok": True, "channel": {"id": self.DM_CHANNEL}}
        elif method == "chat.postMessage":
            default = {"ok": True, "channel": body.get("channel"), "ts": f"{len(self.calls)}.000100"}
        else:
            default = {"ok": True}
        return SlackAnswer(scripted.status, default, scripted.headers)

    def _handle(self, handler: http.server.BaseHTTPRequestHandler) -> None:
        split = urllib.parse.urlsplit(handler.path)
        raw = handler.rfile.read(int(handler.headers.get("Content-Length") or 0))
        body: dict = {k: v[0] for k, v in urllib.parse.parse_qs(split.query).items()}
        ctype = handler.headers.get("Content-Type", "")
        if "json" in ctype:
            body.update(json.loads(raw or b"{}"))
        elif raw:
            body.update({k: v[0] for k, v in urllib.parse.parse_qs(raw.decode("utf-8")).items()})
        method = split.path.rstrip("/").rpartition("/")[2]
        headers = {k.lower(): v for k, v in handler.headers.items()}
        call = SlackCall(method, split.path, headers, body, raw, time.monotonic())
        with self._lock:
            self.calls.append(call)
            gate = self._gates.get(method)
        if gate is not None:
            gate.wait()
        reply = self._next(method, body)
        data = json.dumps(reply.body).encode()
        handler.send_response(reply.status)
        for name, value in reply.headers.items():
            handler.send_header(name, value)
        handler.send_header("Content-Type", "application/json; charset=utf-8")
        handler.send_header("Content-Length", str(len(data)))
        handler.end_headers()
        handler.wfile.write(data)


class _SlackApiHandler(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        self.server.api._handle(self)

    do_GET = do_POST

    def log_message(self, *args):
        pass


@pytest.fixture
def slack_api():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _SlackApiHandler)
    server.daemon_threads = True
    server.api = api = SlackApi(server)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield api
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


# --- a real PostgreSQL for the test run ---------------------------------------------------
#
# One server for the whole session (initdb + pg_ctl into a temporary folder, on a free loopback
# port, as the `postgres` user when the tests run as root); every test that asks gets a fresh
# database cloned from a migrated template (CREATE DATABASE ... TEMPLATE, a few milliseconds).
# Tests that take the `backend` fixture run once per backend (see pytest_generate_tests); mark
# a test `sqlite_only` for checks of the SQLite file itself. Without PostgreSQL installed the
# PostgreSQL half is skipped, and the summary says so; in CI (CI=true) that is a failure.

BACKENDS = ("sqlite", "postgresql")
_PG_MISSING: list[str] = []


def pytest_configure(config):
    config.addinivalue_line("markers", "sqlite_only: checks the SQLite file itself; not run on PostgreSQL")


def pytest_generate_tests(metafunc):
    if "backend" in metafunc.fixturenames:
        only = metafunc.definition.get_closest_marker("sqlite_only")
        metafunc.parametrize("backend", ["sqlite"] if only else list(BACKENDS), indirect=True)


def pytest_terminal_summary(terminalreporter):
    if _PG_MISSING:
        terminalreporter.write_sep("!", "PostgreSQL NOT TESTED", red=True, bold=True)
        terminalreporter.write_line(_PG_MISSING[0], red=True)


@dataclass
class PgServer:
    """The session's PostgreSQL; `new_database()` returns the URL of a fresh, migrated one."""

    process: PgProcess
    count: int = 0

    @property
    def port(self) -> int:
        return self.process.port

    def url(self, dbname: str) -> str:
        return self.process.url(dbname)

    def admin(self):
        import psycopg

        return psycopg.connect(self.url("postgres"), autocommit=True)

    def new_database(self) -> str:
        self.count += 1
        name = f"t{os.getpid()}_{self.count}"
        with self.admin() as conn:
            conn.execute(f"CREATE DATABASE {name} TEMPLATE digestbot_template")
        return self.url(name)


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PgServer]:
    import subprocess

    folder = pg_bin()
    if folder is None:
        why = (
            "PostgreSQL is not installed (no initdb/pg_ctl on PATH or in /usr/lib/postgresql/*/bin):"
            " the PostgreSQL half of the store and end-to-end tests did not run."
            " Install it (apt-get install postgresql) to run them."
        )
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"CI needs PostgreSQL: {why}")
        _PG_MISSING.append(why)
        pytest.skip(why)
    try:
        process = start_postgres(folder)
    except subprocess.CalledProcessError as e:
        pytest.fail(f"could not start PostgreSQL from {folder}: {e.stderr or e.stdout}")
    server = PgServer(process)
    try:
        with server.admin() as conn:
            conn.execute("CREATE DATABASE digestbot_template")
        from digestbot.store import Store

        Store(server.url("digestbot_template")).close()  # the schema, migrated once
        yield server
    finally:
        process.stop()


@pytest.fixture
def backend(request) -> str:
    """'sqlite' or 'postgresql': the test runs once with each (pytest_generate_tests)."""
    return request.param


@pytest.fixture
def db_target(backend, tmp_path, request) -> Path | str:
    """A fresh database of the test's backend: a file path or a postgresql:// URL."""
    if backend == "postgresql":
        return request.getfixturevalue("pg_server").new_database()
    return tmp_path / "db.sqlite"
