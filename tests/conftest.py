"""Shared fixtures: a real SMTP server on loopback, and an isolated working folder.

`smtp_server` is an aiosmtpd server in a thread. Tests check what *arrived* there (envelope and
parsed message), and can make it refuse the next N messages with a temporary 451 error.

`workdir` is a fresh folder the test runs in (chdir), with its own outbox and database, a
`subscriptions.yaml` the test writes, and no SMTP URL leaking in from the real environment.
"""

from __future__ import annotations

import email
import email.policy
import socket
import textwrap
import threading
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller

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
    _refuse: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_EHLO(self, server, session, envelope, hostname, responses):
        session.host_name = hostname  # what aiosmtpd does itself when no hook is set
        with self._lock:
            self.ehlo_count += 1
            self.peers.append(session.peer)
        return responses

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


@pytest.fixture
def smtp_server():
    host = "127.0.0.1"
    handler = RecordingHandler()
    controller = Controller(handler, hostname=host, port=free_port(host), ready_timeout=10)
    controller.start()
    try:
        yield SmtpServer(host, controller.port, handler)
    finally:
        controller.stop()


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

    @property
    def config(self) -> Path:
        return self.path / "subscriptions.yaml"

    @property
    def db(self) -> Path:
        return self.path / "digestbot.db"

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
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Workdir:
    root = tmp_path / "work"
    root.mkdir()
    outbox = tmp_path / "outbox"
    for name in _LEAKY_ENV:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("DIGESTBOT_OUTBOX", str(outbox))
    monkeypatch.chdir(root)
    return Workdir(root, outbox, monkeypatch)
